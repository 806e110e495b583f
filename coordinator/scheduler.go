package coordinator

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
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
// It also tells the drivers what they need of the workers beyond their attempts: which were
// declared down (workersDown), whose map outputs they re-run, and which map outputs each
// reported holding (Inventory, MapOutputsHeld), which a resumed job re-adopts.
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
	// health is, by job run id, which workers failed which of its tasks and which are
	// excluded from it; failures are pruned by Quiesce, exclusions kept for the job's
	// status (the last maxExclusionJobs jobs with any).
	health       map[string]*jobHealth
	excludedJobs []string      // jobs with exclusions, oldest first
	excludeAfter int           // worker-local failures of this many tasks exclude a worker
	excludeFor   time.Duration // for this long
	// lostPeers are the shuffle addresses of workers declared down, with when, for
	// lostPeerMemory (see LostPeers); a worker that comes back at its address leaves it.
	lostPeers map[string]time.Time
	// downs are the workers declared down lately, oldest first, numbered by downSeq: the
	// running jobs' drivers re-run the map outputs they held (workersDown). downWake is
	// closed when one is added, then replaced.
	downs    []workerDown
	downSeq  uint64
	downWake chan struct{}
	// inventories are the map outputs each worker reported holding (task.Inventory), by
	// worker name, since this coordinator started or last declared it down: what a resumed
	// job re-adopts (MapOutputsHeld). heard is closed when one arrives, then replaced.
	inventories map[string]*task.Inventory
	heard       chan struct{}

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

// ExcludeAfter and ExcludeFor are the scheduler's exclusion policy (as Spark's
// excludeOnFailure): a worker whose attempts of ExcludeAfter different tasks of a job failed
// with worker-local errors (task.Failure.IsLocal: a full disk, I/O errors of its data dir)
// gets no more of that job's attempts for ExcludeFor. A flaky disk thus costs a job two
// attempts, not every retry of every task; a job fails for it only when no worker is left
// that is not excluded.
const (
	ExcludeAfter = 2
	ExcludeFor   = 5 * time.Minute
)

// maxExclusionJobs bounds the jobs whose exclusions the scheduler remembers for status.
const maxExclusionJobs = 64

// Exclusion is a worker excluded from a job's attempts, for the job's status.
type Exclusion struct {
	Worker string    `json:"worker"`
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
}

// jobHealth is what the scheduler knows of a job's failed attempts.
type jobHealth struct {
	failed   map[string]map[string]bool // task ("m-3") → workers on which an attempt of it failed
	local    map[string]map[string]bool // worker → tasks it failed with worker-local errors
	excluded map[string]Exclusion       // by worker
}

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
		lease:     lease,
		log:       log,
		running:   map[string]*attempt{},
		workers:   map[string]*workerSlot{},
		cancels:   map[string][]string{},
		draining:  map[string]drain{},
		accepted:  map[string]string{},
		health:    map[string]*jobHealth{},
		lostPeers: map[string]time.Time{},
		wake:      make(chan struct{}),
		done:      make(chan struct{}),
		downWake:  make(chan struct{}),

		inventories: map[string]*task.Inventory{},
		heard:       make(chan struct{}),
	}
	s.excludeAfter, s.excludeFor = ExcludeAfter, ExcludeFor
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
		a.done <- attemptResult{err: ErrShuttingDown}
		obs.AttemptFinished(a.Kind, task.StateCancelled)
	}
	s.queue = nil
	for id, a := range s.running {
		a.done <- attemptResult{err: ErrShuttingDown}
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
		return attemptResult{}, ErrShuttingDown
	}
	s.queue = append(s.queue, a)
	close(s.wake)
	s.wake = make(chan struct{})
	s.failUnschedulable(time.Now())
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
			now := time.Now()
			w.LastSeen = now
			for i := 0; i < len(s.queue) && len(out) < free; {
				a := s.queue[i]
				if !s.eligible(name, a, now) {
					i++
					continue
				}
				s.queue = slices.Delete(s.queue, i, i+1)
				a.worker, a.lease = name, now.Add(s.lease)
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
	if f != nil && !f.Fatal {
		s.failedOn(a, name, f, time.Now())
	}
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
	if inv := s.inventories[w.Name]; inv != nil && w.Shuffle != "" && inv.Shuffle != w.Shuffle {
		// Another process under the name, at another address: its word is not the old one's.
		delete(s.inventories, w.Name)
	}
	w.LastSeen = time.Now()
	s.workers[w.Name] = &w
	delete(s.lostPeers, w.Shuffle)
	close(s.wake) // its slots may let the driver start more attempts
	s.wake = make(chan struct{})
	s.hear()
}

// WorkerDown removes a worker that died or left; its running attempts are lost, and the
// running jobs' drivers hear of it (workersDown) and re-run the map outputs it held.

func (s *Scheduler) WorkerDown(name, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.workers[name]; w != nil && w.Shuffle != "" {
		now := time.Now()
		s.lostPeers[w.Shuffle] = now
		s.log.Warn("worker down; reducers are told to give up its map outputs", "worker", name, "shuffle", w.Shuffle, "why", why)
		s.downSeq++
		s.downs = append(s.downs, workerDown{seq: s.downSeq, name: name, shuffle: w.Shuffle, at: now})
		s.downs = slices.DeleteFunc(s.downs, func(d workerDown) bool { return now.Sub(d.at) > lostPeerMemory })
		close(s.downWake)
		s.downWake = make(chan struct{})
	}
	delete(s.inventories, name)
	s.hear()
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
	s.failUnschedulable(time.Now())
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
		if h := s.health[job]; h != nil {
			h.failed, h.local = nil, nil // the exclusions stay, for the job's status
			if len(h.excluded) == 0 {
				delete(s.health, job)
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
					s.failedOn(a, a.worker, nil, now)
					s.log.Warn("lease lapsed; attempt lost", "attempt", id, "worker", a.worker)
					obs.AttemptFinished(a.Kind, task.StateLost)
					a.done <- attemptResult{err: fmt.Errorf("attempt %s lost: no heartbeat from worker %s for %s", id, a.worker, s.lease)}
				}
			}
			s.failUnschedulable(now)
			s.mu.Unlock()
		}
	}
}

// jobTask names a's job run and its task ("m-3", "r-0"), the same for every attempt of it.
func jobTask(a *attempt) (job, key string) {
	switch {
	case a.Map != nil:
		return a.Map.Job, fmt.Sprintf("m-%d", a.Map.Index)
	case a.Reduce != nil:
		return a.Reduce.Job, fmt.Sprintf("r-%d", a.Reduce.Index)
	}
	return "", a.ID
}

// excludedFrom reports whether worker is excluded from job h at now; an exclusion that has
// run out is dropped, with the failures that led to it, so that it takes as many again.
// s.mu must be held.
func (s *Scheduler) excludedFrom(h *jobHealth, worker string, now time.Time) bool {
	if h == nil {
		return false
	}
	e, ok := h.excluded[worker]
	if ok && !now.Before(e.Until) {
		delete(h.excluded, worker)
		delete(h.local, worker)
		return false
	}
	return ok
}

// eligible reports whether worker name may take attempt a: not if it is excluded from a's
// job, nor if an attempt of a's task failed on it while another usable worker has not
// failed that task (the retry waits for that one's poll rather than going back to a worker
// that may be sick). s.mu must be held.
func (s *Scheduler) eligible(name string, a *attempt, now time.Time) bool {
	job, key := jobTask(a)
	h := s.health[job]
	if h == nil {
		return true
	}
	if s.excludedFrom(h, name, now) {
		return false
	}
	if !h.failed[key][name] {
		return true
	}
	for other, w := range s.workers {
		if other != name && w.Refused == "" && !h.failed[key][other] && !s.excludedFrom(h, other, now) {
			return false
		}
	}
	return true
}

// failedOn records that attempt a failed on worker (f nil: its lease lapsed), and
// excludes the worker from a's job once it has failed excludeAfter of the job's tasks with
// worker-local errors. s.mu must be held.
func (s *Scheduler) failedOn(a *attempt, worker string, f *task.Failure, now time.Time) {
	job, key := jobTask(a)
	h := s.health[job]
	if h == nil {
		h = &jobHealth{excluded: map[string]Exclusion{}}
		s.health[job] = h
	}
	if h.failed == nil {
		h.failed, h.local = map[string]map[string]bool{}, map[string]map[string]bool{}
	}
	if h.failed[key] == nil {
		h.failed[key] = map[string]bool{}
	}
	h.failed[key][worker] = true
	if !f.IsLocal() || s.excludedFrom(h, worker, now) {
		return
	}
	if h.local[worker] == nil {
		h.local[worker] = map[string]bool{}
	}
	h.local[worker][key] = true
	if len(h.local[worker]) < s.excludeAfter {
		return
	}
	e := Exclusion{
		Worker: worker,
		Reason: fmt.Sprintf("%d tasks failed with worker-local errors; last: %s", len(h.local[worker]), f.Message),
		Until:  now.Add(s.excludeFor),
	}
	h.excluded[worker] = e
	if !slices.Contains(s.excludedJobs, job) {
		s.excludedJobs = append(s.excludedJobs, job)
		if len(s.excludedJobs) > maxExclusionJobs {
			if old := s.health[s.excludedJobs[0]]; old != nil && old.failed == nil {
				delete(s.health, s.excludedJobs[0])
			}
			s.excludedJobs = s.excludedJobs[1:]
		}
	}
	obs.WorkerExcluded()
	s.log.Warn("worker excluded from job", "job", job, "worker", worker, "until", e.Until.Format(time.RFC3339), "reason", e.Reason)
	s.failUnschedulable(now)
}

// failUnschedulable fails, as fatal, every queued attempt of a job from which every live
// worker is excluded: no healthy worker is left to run it. With no live worker at all the
// attempts wait, as always, for one to join. s.mu must be held.
func (s *Scheduler) failUnschedulable(now time.Time) {
	s.queue = slices.DeleteFunc(s.queue, func(a *attempt) bool {
		job, _ := jobTask(a)
		h := s.health[job]
		if h == nil || len(h.excluded) == 0 {
			return false
		}
		var reasons []string
		for name, w := range s.workers {
			if w.Refused != "" {
				continue
			}
			if !s.excludedFrom(h, name, now) {
				return false
			}
			reasons = append(reasons, name+": "+h.excluded[name].Reason)
		}
		if len(reasons) == 0 {
			return false
		}
		slices.Sort(reasons)
		obs.AttemptFinished(a.Kind, task.StateFailed)
		a.done <- attemptResult{err: task.Fatal(fmt.Errorf("attempt %s: no healthy worker left; excluded from job %s: %s", a.ID, job, strings.Join(reasons, "; ")))}
		return true
	})
}

// Excluded returns the workers excluded from job run job (those whose exclusion ran out
// included, for the record), by worker name.
func (s *Scheduler) Excluded(job string) []Exclusion {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.health[job]
	if h == nil {
		return nil
	}
	out := slices.Collect(maps.Values(h.excluded))
	slices.SortFunc(out, func(a, b Exclusion) int { return cmp.Compare(a.Worker, b.Worker) })
	return out
}

// lostPeerMemory is how long LostPeers lists a worker declared down: long enough for every
// running reducer to hear of it at its next heartbeats.
const lostPeerMemory = 2 * time.Minute

// LostPeers returns the shuffle addresses of workers declared down in the last
// lostPeerMemory, for the workers' heartbeats (task.HeartbeatResponse.LostPeers).
func (s *Scheduler) LostPeers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for addr, at := range s.lostPeers {
		if time.Since(at) > lostPeerMemory {
			delete(s.lostPeers, addr)
			continue
		}
		out = append(out, addr)
	}
	slices.Sort(out)
	return out
}

// workerDown is a worker declared down: its name, its shuffle address, when.
type workerDown struct {
	seq     uint64
	name    string
	shuffle string
	at      time.Time
}

// workersDown returns the workers declared down after the one numbered after (0: all
// remembered, which go back lostPeerMemory), with the number of the last, to pass as after
// next time, and a channel closed when another is declared down. A driver that starts
// watching takes the number of workersDown(math.MaxUint64), so that it hears only of
// later ones.
func (s *Scheduler) workersDown(after uint64) (downs []workerDown, last uint64, more <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.downs {
		if d.seq > after {
			downs = append(downs, d)
		}
	}
	return downs, s.downSeq, s.downWake
}

// Inventory records the inventory of map outputs that worker name sent with a heartbeat
// (nil: it sent none), and returns what the coordinator asks of the worker in its answer:
// reportHeld, for its inventory, while none is recorded since this coordinator started or
// last declared it down; rejoin, for it to join gossip again, while gossip has not
// registered it (see task.HeartbeatResponse).
func (s *Scheduler) Inventory(name string, inv *task.Inventory) (reportHeld, rejoin bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv != nil {
		if inv.Version != task.InventoryVersion {
			// Read as holding nothing: its outputs are re-run (see task.InventoryVersion).
			s.log.Warn("worker's inventory of map outputs is of an unknown version; its outputs are not re-adopted",
				"worker", name, "version", inv.Version, "known", task.InventoryVersion)
			inv = &task.Inventory{Version: task.InventoryVersion, Shuffle: inv.Shuffle}
		}
		s.inventories[name] = inv
		s.hear()
	}
	return s.inventories[name] == nil, s.workers[name] == nil
}

// hear wakes MapOutputsHeld's waiters. s.mu must be held.
func (s *Scheduler) hear() {
	close(s.heard)
	s.heard = make(chan struct{})
}

// MapOutputsHeld waits until a worker at each of the shuffle addresses holders has
// reported its inventory, or until ctx ends, and returns the map outputs of job run job
// that the inventories list, by shuffle address, and the holders that have not reported.
// A worker that gossip lists at another address than its inventory names is not believed.
func (s *Scheduler) MapOutputsHeld(ctx context.Context, job string, holders []string) (held map[string][]task.HeldOutput, missing []string) {
	for {
		s.mu.Lock()
		held, missing = map[string][]task.HeldOutput{}, nil
		reported := map[string]bool{}
		for name, inv := range s.inventories {
			if w := s.workers[name]; w != nil && w.Shuffle != "" && w.Shuffle != inv.Shuffle {
				continue
			}
			reported[inv.Shuffle] = true
			for _, o := range inv.Outputs {
				if o.Job == job {
					held[inv.Shuffle] = append(held[inv.Shuffle], o)
				}
			}
		}
		for _, h := range holders {
			if !reported[h] {
				missing = append(missing, h)
			}
		}
		heard := s.heard
		s.mu.Unlock()
		if len(missing) == 0 || ctx.Err() != nil {
			return held, missing
		}
		select {
		case <-heard:
		case <-ctx.Done():
		}
	}
}
