package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ireports/ireports/task"
)

// phase runs a set of tasks to completion on an executor's slots:
//   - at most slots() attempts are in flight;
//   - a lost attempt is retried, up to MaxAttempts failures per task; a fatal one fails the
//     phase at once, cancelling the rest;
//   - once every task has started and slots sit idle, a task running much longer than the
//     phase's median gets a backup attempt (MapReduce §3.6): the first attempt to succeed is
//     accepted, the other is cancelled.
//
// All bookkeeping happens on the goroutine that calls run; attempts run on their own
// goroutines and report back on a channel, so nothing here needs a lock.
type phase struct {
	name  string
	slots func() int
	// attempt runs one attempt of task i. On success it returns accept, which run calls — on
	// its own goroutine — only for the first successful attempt of the task.
	attempt func(ctx context.Context, i int) (accept func(), err error)
	log     *slog.Logger
	// minBackupAge is the least time an attempt must have run before it gets a backup.
	minBackupAge time.Duration
}

type inflight struct {
	task   int
	start  time.Time
	cancel context.CancelFunc
}

type outcome struct {
	a      *inflight
	accept func()
	err    error
}

func (p *phase) run(ctx context.Context, idx []int) error {
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	var (
		pending   = slices.Clone(idx)
		running   = map[*inflight]bool{}
		byTask    = map[int][]*inflight{}
		finished  = map[int]bool{}
		failures  = map[int]int{}
		backedUp  = map[int]bool{}
		durations []time.Duration
		results   = make(chan outcome)
		firstErr  error
	)
	start := func(i int) {
		actx, cancel := context.WithCancel(ctx)
		a := &inflight{task: i, start: time.Now(), cancel: cancel}
		running[a] = true
		byTask[i] = append(byTask[i], a)
		go func() {
			accept, err := p.attempt(actx, i)
			results <- outcome{a, accept, err}
		}()
	}
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			cancelAll()
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if firstErr == nil {
			if len(finished) == len(idx) {
				// Cancel the losing backup attempts and wait for them, so that none
				// outlives the phase (and none blocks forever on results).
				cancelAll()
				for range len(running) {
					<-results
				}
				return nil
			}
			for len(pending) > 0 && len(running) < max(p.slots(), 1) {
				start(pending[0])
				pending = pending[1:]
			}
			if len(pending) == 0 {
				for _, i := range p.stragglers(byTask, finished, backedUp, durations, p.slots()-len(running)) {
					backedUp[i] = true
					p.log.Info("starting backup attempt", "phase", p.name, "task", i)
					start(i)
				}
			}
		} else if len(running) == 0 {
			return firstErr
		}
		var o outcome
		select {
		case o = <-results:
		case <-tick.C:
			continue
		case <-ctx.Done():
			fail(ctx.Err())
			o = <-results // every attempt sees the cancellation and reports
		}
		a, i := o.a, o.a.task
		a.cancel()
		delete(running, a)
		byTask[i] = slices.DeleteFunc(byTask[i], func(b *inflight) bool { return b == a })
		switch {
		case finished[i]:
			// The losing attempt of a task that already succeeded.
		case o.err == nil:
			finished[i] = true
			o.accept()
			durations = append(durations, time.Since(a.start))
			for _, b := range byTask[i] {
				b.cancel()
			}
		case firstErr != nil:
		case ctx.Err() != nil:
			fail(ctx.Err())
		case errors.Is(o.err, task.ErrFatal):
			fail(o.err)
		case len(byTask[i]) > 0:
			// Another attempt of this task is still running; let it decide.
		default:
			failures[i]++
			if failures[i] >= MaxAttempts {
				fail(fmt.Errorf("%s task %d failed %d times; last error: %w", p.name, i, failures[i], o.err))
				continue
			}
			p.log.Warn("attempt lost; retrying", "phase", p.name, "task", i, "err", o.err)
			pending = append(pending, i)
		}
	}
}

// stragglers picks up to free tasks that deserve a backup attempt: unfinished, with a single
// attempt in flight that has run more than twice the median successful attempt and at least
// minBackupAge; the longest-running first.
func (p *phase) stragglers(byTask map[int][]*inflight, finished, backedUp map[int]bool, durations []time.Duration, free int) []int {
	if free <= 0 || len(durations) == 0 {
		return nil
	}
	sorted := slices.Sorted(slices.Values(durations))
	threshold := max(2*sorted[len(sorted)/2], p.minBackupAge)
	var cands []*inflight
	for i, as := range byTask {
		if !finished[i] && !backedUp[i] && len(as) == 1 && time.Since(as[0].start) > threshold {
			cands = append(cands, as[0])
		}
	}
	slices.SortFunc(cands, func(a, b *inflight) int { return a.start.Compare(b.start) })
	var out []int
	for _, a := range cands[:min(free, len(cands))] {
		out = append(out, a.task)
	}
	return out
}
