package coordinator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/socrata"
)

// StatusSourceUnavailable is the status of a run that ended because a source's API stayed
// unavailable for its retry_for: nothing was committed, the watermark holds at the last
// stored page, and the next run catches up. It is a clean end, not a failure.
const StatusSourceUnavailable = "source unavailable"

// errSourceUnavailable ends a run with StatusSourceUnavailable.
var errSourceUnavailable = errors.New(StatusSourceUnavailable)

// Pull is what a run's pull of one source did, as the result reports it.
type Pull struct {
	Source    string  `json:"source"`
	Status    string  `json:"status"` // caught up, source unavailable, failed
	Records   int64   `json:"records"`
	Batches   int     `json:"batches"`
	Retries   int     `json:"retries"`
	Seconds   float64 `json:"seconds"`
	Watermark string  `json:"watermark"` // the watermark the pull ended at
}

// pullSources pulls every source of the job (DESIGN: each page is stored as a raw batch
// before its watermark advances), so that the run's inputs — the batches no run has consumed
// yet — include everything the sources have updated since the last run.
func (d *driver) pullSources(ctx context.Context) error {
	if len(d.spec.Sources) == 0 {
		return nil
	}
	var unavailable []string
	d.enter("pull")
	db, err := sql.Open("postgres", d.spec.Output.Postgres)
	if err != nil {
		return redact(err, d.spec.Output.Postgres)
	}
	defer db.Close()
	cfg := pgsink.DefaultConfig()
	if d.pubCfg != nil {
		cfg = *d.pubCfg
	}
	cfg.Log = d.log
	sink, err := pgsink.New(db, cfg)
	if err != nil {
		return err
	}
	if err := sink.Migrate(ctx); err != nil {
		return fmt.Errorf("watermarks: %w", redact(err, d.spec.Output.Postgres))
	}
	wm := socrata.NewPGWatermarks(db)
	for _, name := range slices.Sorted(maps.Keys(d.spec.Sources)) {
		ss := d.spec.Sources[name]
		src := socrata.DefaultSource()
		src.Name, src.Endpoint, src.AppToken, src.Schema, src.Start, src.Raw = name, ss.Endpoint, ss.AppToken, ss.Schema, ss.Start, ss.Raw
		if ss.PageSize > 0 {
			src.PageSize = ss.PageSize
		}
		if ss.RetryFor > 0 {
			src.RetryFor = ss.RetryFor
		}
		if d.sourceTuning != nil {
			d.sourceTuning(&src)
		}
		src.Logger = d.log.With("source", name)
		res, err := socrata.Pull(ctx, src, wm, d.store)
		d.res.Pulls = append(d.res.Pulls, Pull{
			Source: name, Status: res.Status.String(), Records: res.Records, Batches: len(res.Batches),
			Retries: res.Retries, Seconds: res.Elapsed.Seconds(), Watermark: res.To.String(),
		})
		d.log.Info("pulled", "source", name, "status", res.Status, "records", res.Records, "batches", len(res.Batches), "err", redact(err, d.spec.Output.Postgres))
		if errors.Is(err, socrata.ErrSourceUnavailable) {
			// One city's API being down must not hold back the others: go on, and run with
			// what every source has stored (the pages this one stored before it went down
			// included); it catches up next time.
			unavailable = append(unavailable, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if err != nil {
			return fmt.Errorf("source %s: %w", name, redact(err, d.spec.Output.Postgres))
		}
	}
	switch {
	case len(unavailable) == len(d.spec.Sources):
		return fmt.Errorf("%w: %s", errSourceUnavailable, strings.Join(unavailable, "; "))
	case len(unavailable) > 0:
		d.res.Warnings = append(d.res.Warnings, StatusSourceUnavailable+": "+strings.Join(unavailable, "; ")+"; the next run catches up")
	}
	return nil
}

// redact removes the password of the database URL dsn from err's message: drivers quote
// the URL in some errors, and errors end up in results, logs and the job history.
func redact(err error, dsn string) error {
	if err == nil || dsn == "" {
		return err
	}
	msg := err.Error()
	pw := ""
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		pw, _ = u.User.Password()
	} else if i := strings.Index(dsn, "://"); i >= 0 {
		// An unparsable URL: the password is between the user's ':' and the '@'.
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				pw = dsn[i+3+c+1 : at]
			}
		}
	} else if j := strings.Index(dsn, "password="); j >= 0 {
		pw = strings.Fields(dsn[j+len("password="):] + " ")[0]
	}
	if pw == "" || !strings.Contains(msg, pw) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(msg, pw, "xxxxx"), err: err}
}

// redactedError is an error whose message hides a secret; errors.Is still sees the cause.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// consumeBatches moves the source batches the committed run read to their source's
// consumed/ folder, so the next run reads only newer ones. A crash before this only makes
// the next run read them again, which merging makes harmless.
func (d *driver) consumeBatches(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	for _, m := range d.plan.Maps {
		in := d.spec.Inputs[m.Input]
		if in.Source == "" {
			continue
		}
		dst := d.spec.Sources[in.Source].ConsumedDir() + "/" + path.Base(m.File)
		if err := d.store.Rename(ctx, m.File, dst); err != nil {
			return fmt.Errorf("consume batch: %w", err)
		}
	}
	return nil
}
