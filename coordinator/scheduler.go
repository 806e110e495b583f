package coordinator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/task"
)

// Scheduler is the cluster's executor: the driver's attempts wait in its queue until a
// worker pulls them (long poll); a running attempt holds a lease that the worker's heartbeats
// renew. An attempt is lost — and the driver retries it — when its worker is declared dead,
// leaves, or lets the lease lapse (hung, stopped, partitioned). A result that arrives for an
// attempt no longer running (lost, or withdrawn because another attempt won) is ignored.
//
// Scheduler is safe for concurrent use. Poll blocks up to its context; the others do not
// block.
type Scheduler struct {
	lease time.Duration
	log   *slog.Logger

	mu      sync.Mutex             // guards the fields below
	queue   []*attempt             // waiting for a worker, oldest first
	running map[string]*attempt    // by attempt id
	workers map[string]*workerSlot // live workers, by name
	cancels map[string][]string    // worker → withdrawn attempt ids to tell it about
	// draining are withdrawn attempts whose workers may still be running them, by id, until
	// the worker reports, stops listing them in heartbeats, dies, or the deadline passes.
	draining map[string]drain
	// accepted are attempts whose results were taken, by id → worker, so that a worker that
	// lost the reply and reports again is told yes, not refused (a refused worker deletes
	// the attempt's output, which the job is about to commit). Pruned by Quiesce.
	accepted map[string]string
	wake     chan struct{} // closed when the queue grows, then replaced
	closed   bool
	// pollsStopped makes every poll return at once with nothing (StopPolls).
	pollsStopped bool

	done    chan struct{} // closed by Shutdown; stops the lease reaper
	wg      sync.WaitGroup
	untrack func() // stops the metrics reading stats
}

// workerSlot is what the scheduler knows of a live worker.
type workerSlot struct {
	Name     string `json:"name"`
	API      string `json:"api"`
	Shuffle  string `json:"shuffle"`
	Slots    int    `json:"slots"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	// Refused says why this worker gets no task (another protocol); "" for a worker in use.
	Refused  string    `json:"refused,omitempty"`
	Running  int       `json:"running"`
	LastSeen time.Time `json:"last_seen"`
}

var _ Executor = (*Scheduler)(nil)

// attempt is one queued or running execution of a task.
type attempt struct {
	task.Assignment
	worker string
	lease  time.Time
	done   chan attemptResult // buffered: the sender never waits
}

type attemptResult struct {
	m   task.MapResult
	r   task.ReduceResult
	err error
}

// NewScheduler returns a scheduler whose leases last lease (renewed by heartbeats).
func NewScheduler(lease time.Duration, log *slog.Logger) *Scheduler {
	s := &Scheduler{
		lease:    lease,
		log:      log,
		running:  map[string]*attempt{},
		workers:  map[string]*workerSlot{},
		cancels:  map[string][]string{},
		draining: map[string]drain{},
		accepted: map[string]string{},
		wake:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.untrack = obs.TrackScheduler(s.stats)
	s.wg.Add(1)
	go s.reap()
	return s
}

// stats is the scheduler's state for the metrics, read at each scrape.
func (s *Scheduler) stats() obs.SchedulerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := obs.SchedulerStats{Pending: map[string]int{}, Running: map[string]int{}}
	for _, a := range s.queue {
		st.Pending[a.Kind.String()]++
	}
	for _, a := range s.running {
		st.Running[a.Kind.String()]++
	}
	for _, w := range s.workers {
		if w.Refused == "" { // a refused worker is no part of the cluster's capacity
			st.Workers++
			st.Slots += w.Slots
		}
	}
	return st
}

// Shutdown stops the lease reaper and fails every queued and running attempt. Idempotent.
func (s *Scheduler) Shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	for _, a := range s.queue {
		a.done <- attemptResult{err: errors.New("coordinator shutting down")}
		obs.AttemptFinished(a.Kind, task.StateCancelled)
	}
	s.queue = nil
	for id, a := range s.running {
		a.done <- attemptResult{err: errors.New("coordinator shutting down")}
		obs.AttemptFinished(a.Kind, task.StateCancelled)
		delete(s.running, id)
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.untrack()
}

// StopPolls answers the polls waiting now, and every later one, at once with no attempt:
// the coordinator is stopping, and a poll left waiting would hold its API's shutdown for up
// to the poll's wait. Queued and running attempts are left as they are: running ones keep
// their leases, so their workers can still report. Idempotent.
func (s *Scheduler) StopPolls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pollsStopped {
		s.pollsStopped = true
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

// Slots is the number of task slots of the live workers; at least 1, so that a job waits
// in the queue for workers rather than stalling the driver.
func (s *Scheduler) Slots() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, w := range s.workers {
		if w.Refused == "" {
			n += w.Slots
		}
	}
	return max(n, 1)
}

// Map runs map attempt t of the job whose wire spec is spec (see Executor) on some worker.
func (s *Scheduler) Map(ctx context.Context, spec json.RawMessage, t task.Map) (task.MapResult, error) {
	r, err := s.run(ctx, task.Assignment{ID: fmt.Sprintf("%s/m-%d-%d", t.Job, t.Index, t.Attempt), Kind: task.KindMap, Map: &t, Spec: spec})
	return r.m, err
}

// Reduce runs reduce attempt t of the job whose wire spec is spec (see Executor) on some
// worker.
func (s *Scheduler) Reduce(ctx context.Context, spec json.RawMessage, t task.Reduce) (task.ReduceResult, error) {
	r, err := s.run(ctx, task.Assignment{ID: fmt.Sprintf("%s/r-%d-%d", t.Job, t.Index, t.Attempt), Kind: task.KindReduce, Reduce: &t, Spec: spec})
	return r.r, err
}

func (s *Scheduler) run(ctx context.Context, as task.Assignment) (attemptResult, error) {
	if len(as.Spec) == 0 {
		// A worker cannot run a task without its job: refuse here, not on every worker.
		return attemptResult{}, task.Fatal(fmt.Errorf("internal error: attempt %s has no job spec", as.ID))
	}
	a := &attempt{Assignment: as, done: make(chan attemptResult, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return attemptResult{}, errors.New("coordinator shutting down")
	}
	s.queue = append(s.queue, a)
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
	select {
	case r := <-a.done:
		return r, r.err
	case <-ctx.Done():
		s.withdraw(a)
		return attemptResult{}, ctx.Err()
	}
}

// withdraw removes a from the queue, or tells its worker to cancel it.
func (s *Scheduler) withdraw(a *attempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	queued := len(s.queue)
	s.queue = slices.DeleteFunc(s.queue, func(b *attempt) bool { return b == a })
	if len(s.queue) < queued {
		obs.AttemptFinished(a.Kind, task.StateCancelled)
	}
	if s.running[a.ID] == a {
		obs.AttemptFinished(a.Kind, task.StateCancelled)
		delete(s.running, a.ID)
		s.cancels[a.worker] = append(s.cancels[a.worker], a.ID)
		s.draining[a.ID] = drain{worker: a.worker, deadline: time.Now().Add(s.lease)}
		if w := s.workers[a.worker]; w != nil {
			w.Running--
		}
	}
}

// Poll hands worker name up to free attempts, waiting until some are queued or ctx ends;
// after StopPolls or Shutdown it returns nil at once.
func (s *Scheduler) Poll(ctx context.Context, name string, free int) []task.Assignment {
	for {
		s.mu.Lock()
		if s.pollsStopped || s.closed {
			s.mu.Unlock()
			return nil
		}
		w := s.workers[name]
		var out []task.Assignment
		if w != nil && w.Refused == "" {
			w.LastSeen = time.Now()
			for len(s.queue) > 0 && len(out) < free {
				a := s.queue[0]
				s.queue = s.queue[1:]
				a.worker, a.lease = name, time.Now().Add(s.lease)
				s.running[a.ID] = a
				w.Running++
				out = append(out, a.Assignment)
			}
		}
		wake := s.wake
		s.mu.Unlock()
		if len(out) > 0 {
			for _, a := range out {
				s.log.Debug("assigned", "attempt", a.ID, "worker", name)
			}
			return out
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		}
	}
}

// Heartbeat renews the leases of the attempts worker name says it runs, and returns the
// ones it should cancel: withdrawn, or no longer its own.
func (s *Scheduler) Heartbeat(name string, ids []string) (cancel []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.workers[name]; w != nil {
		w.LastSeen = time.Now()
	}
	cancel = s.cancels[name]
	delete(s.cancels, name)
	for id, d := range s.draining {
		if d.worker == name && !slices.Contains(ids, id) {
			delete(s.draining, id) // the worker has stopped it
		}
	}
	for _, id := range ids {
		if a := s.running[id]; a != nil && a.worker == name {
			a.lease = time.Now().Add(s.lease)
		} else if !slices.Contains(cancel, id) {
			cancel = append(cancel, id)
		}
	}
	return cancel
}

// Complete records the outcome of attempt id from worker name. Exactly one of the results
// or failure is set.
func (s *Scheduler) Complete(name, id string, m *task.MapResult, r *task.ReduceResult, f *task.Failure) error {
	s.mu.Lock()
	a := s.running[id]
	if a == nil && s.accepted[id] == name {
		s.mu.Unlock()
		return nil // a repeated report of a result already taken
	}
	if a == nil || a.worker != name {
		if d, ok := s.draining[id]; ok && d.worker == name {
			delete(s.draining, id) // a withdrawn attempt has ended
		}
		s.mu.Unlock()
		s.log.Info("ignoring late result", "attempt", id, "worker", name)
		return ErrStale
	}
	delete(s.running, id)
	if w := s.workers[name]; w != nil {
		w.Running--
	}
	s.accepted[id] = name
	s.mu.Unlock()
	var res attemptResult
	state := task.StateSucceeded
	switch {
	case f != nil:
		res.err = f.Err(name)
		state = task.StateLost
		if f.Fatal {
			state = task.StateFailed
		}
	case m != nil:
		res.m = *m
	case r != nil:
		res.r = *r
	default:
		res.err = fmt.Errorf("worker %s reported attempt %s with neither result nor failure", name, id)
		state = task.StateLost
	}
	obs.AttemptFinished(a.Kind, state)
	a.done <- res
	return nil
}

// WorkerUp registers or updates a live worker.
func (s *Scheduler) WorkerUp(w workerSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.workers[w.Name]; old != nil {
		w.Running = old.Running
	}
	w.LastSeen = time.Now()
	s.workers[w.Name] = &w
	close(s.wake) // its slots may let the driver start more attempts
	s.wake = make(chan struct{})
}

// WorkerDown removes a worker that died or left; its running attempts are lost.
func (s *Scheduler) WorkerDown(name, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.workers, name)
	delete(s.cancels, name)
	for id, d := range s.draining {
		if d.worker == name {
			delete(s.draining, id)
		}
	}
	for id, a := range s.running {
		if a.worker == name {
			delete(s.running, id)
			obs.AttemptFinished(a.Kind, task.StateLost)
			a.done <- attemptResult{err: fmt.Errorf("attempt %s lost: worker %s %s", id, name, why)}
		}
	}
}

// drain is a withdrawn attempt that may still be running on its worker.
type drain struct {
	worker   string
	deadline time.Time
}

// Quiesce waits until no attempt of job run job is queued, running, or withdrawn but still
// running on its worker (at most a lease after it was withdrawn), or until ctx ends. The
// driver calls it before it cleans up a job's outputs, so that no attempt of the job writes
// after the clean-up.
func (s *Scheduler) Quiesce(ctx context.Context, job string) {
	prefix := job + "/"
	for {
		s.mu.Lock()
		now, busy := time.Now(), false
		for id := range s.accepted {
			if strings.HasPrefix(id, prefix) {
				delete(s.accepted, id)
			}
		}
		for id, d := range s.draining {
			if now.After(d.deadline) {
				delete(s.draining, id)
			} else if strings.HasPrefix(id, prefix) {
				busy = true
			}
		}
		for id := range s.running {
			busy = busy || strings.HasPrefix(id, prefix)
		}
		s.mu.Unlock()
		if !busy {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Workers returns the live workers, by name.
func (s *Scheduler) Workers() []workerSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []workerSlot
	for _, w := range s.workers {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b workerSlot) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Queued and Running count attempts, for the status page and metrics.
func (s *Scheduler) Counts() (queued, running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue), len(s.running)
}

// reap fails running attempts whose lease lapsed.
func (s *Scheduler) reap() {
	defer s.wg.Done()
	t := time.NewTicker(max(s.lease/5, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.mu.Lock()
			for id, a := range s.running {
				if now.After(a.lease) {
					delete(s.running, id)
					s.cancels[a.worker] = append(s.cancels[a.worker], id)
					s.draining[id] = drain{worker: a.worker, deadline: now.Add(s.lease)}
					if w := s.workers[a.worker]; w != nil {
						w.Running--
					}
					s.log.Warn("lease lapsed; attempt lost", "attempt", id, "worker", a.worker)
					obs.AttemptFinished(a.Kind, task.StateLost)
					a.done <- attemptResult{err: fmt.Errorf("attempt %s lost: no heartbeat from worker %s for %s", id, a.worker, s.lease)}
				}
			}
			s.mu.Unlock()
		}
	}
}
