package pgsink

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// transient reports whether err means "Postgres is unreachable or asked us to try again",
// where the same operation, retried later, can succeed. Everything else (a constraint
// violation, a missing table, a load error) would fail the same way again.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if pqErr := pq.As(err); pqErr != nil {
		switch pqErr.Code.Class() {
		case pqerror.ClassConnectionException, // 08: cannot connect, connection lost
			pqerror.ClassTransactionRollback,   // 40: serialization failure, deadlock
			pqerror.ClassInsufficientResources: // 53: too many connections, disk full
			return true
		}
		switch pqErr.Code {
		case pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow: // 57P01-3
			return true
		}
		return false
	}
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// The server went away mid-conversation (lib/pq and database/sql report a closed
		// socket so).
		return true
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		// An inner timeout (connect, attempt): worth another try. When the caller's own
		// context ran out, retry stops instead.
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) // any other dial or socket failure
}

// retry runs op until it succeeds, fails with a non-transient error, or the retry deadline
// passes; then it returns an error wrapping ErrUnavailable and the last failure. Between
// attempts it sleeps with exponential backoff and jitter, so processes that lost the same
// server do not all come back at once. what names the operation in errors.
func (c Config) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	deadline := time.Now().Add(c.RetryDeadline)
	backoff := c.BackoffInitial
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.AttemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.AttemptTimeout)
		}
		err := op(actx)
		// An attempt that ran out of its own time is retried like a lost connection: the
		// server may be hung, not the caller's context done.
		timedOut := actx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			return nil
		}
		if !transient(err) && !timedOut {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w: %w (attempt %d, last error: %v)", what, ErrUnavailable, ctx.Err(), attempt, err)
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		if time.Now().Add(sleep).After(deadline) {
			return fmt.Errorf("%s: %w: gave up after %d attempts in %v: %w", what, ErrUnavailable, attempt, c.RetryDeadline, err)
		}
		c.Log.Warn("postgres unavailable; retrying", "op", what, "attempt", attempt, "in", sleep, "err", err)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w: %w (attempt %d, last error: %v)", what, ErrUnavailable, ctx.Err(), attempt, err)
		case <-t.C:
		}
		backoff = min(2*backoff, c.BackoffMax)
	}
}
