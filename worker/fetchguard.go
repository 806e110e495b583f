package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/shuffle"
)

// errPeerLost is the cause with which a fetch from a worker the coordinator declared dead
// is cancelled.
var errPeerLost = errors.New("the coordinator declared the worker dead")

// fetchWaitWarnEvery rate-limits the warning that a reducer waits on a fetch.
const fetchWaitWarnEvery = 10 * time.Second

// fetchGuard wraps the reducers' fetcher so that no fetch waits silently or in vain:
//   - a fetch from a peer the coordinator declared dead (peerLost, fed by the heartbeats'
//     LostPeers) fails at once with shuffle.ErrFetch, so that its map output is re-run,
//     instead of waiting for the read deadline of a stopped peer's connection;
//   - a fetch that receives nothing for waitWarn is counted (obs.ShuffleFetchWait) and
//     logged at warn level, at most every fetchWaitWarnEvery.
//
// It is safe for concurrent use.
type fetchGuard struct {
	next     shuffle.Fetcher
	waitWarn time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	open   map[string]map[*guardedFetch]bool // peer address → its open fetches
	lost   map[string]bool                   // peers declared dead, until they come back
	warned time.Time                         // when a wait was last logged
}

func newFetchGuard(next shuffle.Fetcher, waitWarn time.Duration, log *slog.Logger) *fetchGuard {
	return &fetchGuard{next: next, waitWarn: waitWarn, log: log, open: map[string]map[*guardedFetch]bool{}, lost: map[string]bool{}}
}

var _ shuffle.Fetcher = (*fetchGuard)(nil)

// guardedFetch is one open fetch: its cancel, and the timer of its wait warning.
type guardedFetch struct {
	g      *fetchGuard
	loc    shuffle.Location
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	rc     io.ReadCloser
}

// Fetch implements shuffle.Fetcher.
func (g *fetchGuard) Fetch(ctx context.Context, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
	if loc.Worker == "" {
		return g.next.Fetch(ctx, loc, reducer)
	}
	fctx, cancel := context.WithCancelCause(ctx)
	f := &guardedFetch{g: g, loc: loc, ctx: fctx, cancel: cancel}
	g.mu.Lock()
	if g.lost[loc.Worker] {
		g.mu.Unlock()
		cancel(nil)
		return nil, shuffle.Segment{}, f.lostErr()
	}
	if g.open[loc.Worker] == nil {
		g.open[loc.Worker] = map[*guardedFetch]bool{}
	}
	g.open[loc.Worker][f] = true
	g.mu.Unlock()
	f.timer = time.AfterFunc(g.waitWarn, f.waiting)
	rc, seg, err := g.next.Fetch(fctx, loc, reducer)
	if err != nil {
		f.Close()
		return nil, seg, f.translate(err)
	}
	f.rc = rc
	return f, seg, nil
}

// PeersLost marks addrs as dead peers and fails their open fetches; a peer missing from
// addrs (it came back, or was forgotten) may be fetched from again.
func (g *fetchGuard) PeersLost(addrs []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.lost)
	for _, a := range addrs {
		g.lost[a] = true
		for f := range g.open[a] {
			f.cancel(errPeerLost)
		}
	}
}

func (f *guardedFetch) lostErr() error {
	return fmt.Errorf("%w: %s: %w", shuffle.ErrFetch, f.loc, errPeerLost)
}

// translate turns the cancellation by PeersLost into the lost map output it means.
func (f *guardedFetch) translate(err error) error {
	if err != nil && errors.Is(context.Cause(f.ctx), errPeerLost) {
		return f.lostErr()
	}
	return err
}

// waiting runs when the fetch has received nothing for waitWarn.
func (f *guardedFetch) waiting() {
	obs.ShuffleFetchWait()
	g := f.g
	g.mu.Lock()
	due := time.Since(g.warned) >= fetchWaitWarnEvery
	if due {
		g.warned = time.Now()
	}
	g.mu.Unlock()
	if due {
		g.log.Warn("reducer waiting on a map output fetch: nothing received", "from", f.loc.String(), "for", g.waitWarn.String())
	}
}

func (f *guardedFetch) Read(p []byte) (int, error) {
	n, err := f.rc.Read(p)
	if n > 0 {
		f.timer.Reset(f.g.waitWarn)
	}
	if err != nil && err != io.EOF {
		err = f.translate(err)
	}
	return n, err
}

func (f *guardedFetch) Close() error {
	f.timer.Stop()
	f.g.mu.Lock()
	delete(f.g.open[f.loc.Worker], f)
	if len(f.g.open[f.loc.Worker]) == 0 {
		delete(f.g.open, f.loc.Worker)
	}
	f.g.mu.Unlock()
	f.cancel(nil)
	if f.rc != nil {
		return f.rc.Close()
	}
	return nil
}
