package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/task"
)

// newSickScheduler is a scheduler with workers names, one slot each.
func newSickScheduler(t *testing.T, names ...string) *Scheduler {
	s := NewScheduler(time.Minute, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Shutdown)
	for _, n := range names {
		s.WorkerUp(workerSlot{Name: n, Slots: 1})
	}
	return s
}

// submitMap queues map attempt (index, attempt) of job and returns where its error arrives.
// It returns once the attempt is queued, so that what a poll sees next is deterministic.
func submitMap(t *testing.T, s *Scheduler, job string, index, attempt int) <-chan error {
	t.Helper()
	q0, _ := s.Counts()
	done := make(chan error, 1)
	go func() {
		_, err := s.Map(context.Background(), testSpec, task.Map{Job: job, Index: index, Attempt: attempt})
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if q, _ := s.Counts(); q > q0 {
			return done
		}
		select {
		case err := <-done:
			done <- err // failed before a poll: the caller reads it
			return done
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("map %s/%d-%d never queued", job, index, attempt)
		}
		time.Sleep(time.Millisecond) // waiting for a condition, not for time
	}
}

// pollNone asserts that worker w gets no attempt now.
func pollNone(t *testing.T, s *Scheduler, w string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one pass over the queue, no wait
	if as := s.Poll(ctx, w, 1); len(as) != 0 {
		t.Fatalf("worker %s got %s, want nothing", w, as[0].ID)
	}
}

// failOn polls attempt want for worker w and reports it failed with f.
func failOn(t *testing.T, s *Scheduler, w, want string, f *task.Failure, done <-chan error) error {
	t.Helper()
	a := pollOne(t, s, w)
	if a.ID != want {
		t.Fatalf("worker %s got %s, want %s", w, a.ID, want)
	}
	if err := s.Complete(w, a.ID, nil, nil, f); err != nil {
		t.Fatal(err)
	}
	return <-done
}

var enospc = &task.Failure{Message: "write /data/maps/m-0.spill: no space left on device", LostMap: -1}

// The case: a failed attempt's retry went back to the worker it failed on while
// two healthy workers idled. Before the change the queue was strictly first come first
// served, and w1's poll took its own retry back.
func TestSchedulerRetryAvoidsWorkerThatFailedIt(t *testing.T) {
	s := newSickScheduler(t, "w1", "w2")
	boom := &task.Failure{Message: "parse error", LostMap: -1}
	if err := failOn(t, s, "w1", "j/m-0-1", boom, submitMap(t, s, "j", 0, 1)); err == nil {
		t.Fatal("failed attempt returned no error")
	}
	done := submitMap(t, s, "j", 0, 2)
	pollNone(t, s, "w1") // another worker has not failed task 0: the retry waits for it
	if err := failOn(t, s, "w2", "j/m-0-2", boom, done); err == nil {
		t.Fatal("failed attempt returned no error")
	}
	// Every worker has failed it now: any may take the next attempt.
	done = submitMap(t, s, "j", 0, 3)
	a := pollOne(t, s, "w1")
	if a.ID != "j/m-0-3" {
		t.Fatalf("w1 got %s", a.ID)
	}
	s.Complete("w1", a.ID, &task.MapResult{}, nil, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Input errors exclude nobody.
	if ex := s.Excluded("j"); len(ex) != 0 {
		t.Errorf("excluded after input errors: %+v", ex)
	}
}

// A worker that fails two tasks of a job with worker-local errors is excluded from that job
// (not from others), the job's status says why, and the job's attempts fail only when no
// worker is left that is not excluded.
func TestSchedulerExcludesSickWorker(t *testing.T) {
	s := newSickScheduler(t, "w1", "w2", "w3")
	local := &task.Failure{Message: "open /data/x: input/output error", Local: true, LostMap: -1}
	failOn(t, s, "w1", "j/m-0-1", enospc, submitMap(t, s, "j", 0, 1))
	if ex := s.Excluded("j"); len(ex) != 0 {
		t.Fatalf("excluded after one task: %+v", ex)
	}
	failOn(t, s, "w1", "j/m-1-1", local, submitMap(t, s, "j", 1, 1))
	ex := s.Excluded("j")
	if len(ex) != 1 || ex[0].Worker != "w1" || !strings.Contains(ex[0].Reason, "input/output error") {
		t.Fatalf("Excluded = %+v, want w1 with its last error", ex)
	}

	// A new task of the job goes to a healthy worker, never to w1 ...
	done := submitMap(t, s, "j", 2, 1)
	pollNone(t, s, "w1")
	a := pollOne(t, s, "w2")
	s.Complete("w2", a.ID, &task.MapResult{}, nil, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// ... while another job still runs on w1.
	done = submitMap(t, s, "k", 0, 1)
	if a := pollOne(t, s, "w1"); a.ID != "k/m-0-1" {
		t.Fatalf("w1 got %s for job k", a.ID)
	} else {
		s.Complete("w1", a.ID, &task.MapResult{}, nil, nil)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The healthy workers go: with only the excluded one left, the job's waiting attempt
	// fails as fatal, naming the exclusion.
	done = submitMap(t, s, "j", 3, 1)
	s.WorkerDown("w2", "declared dead")
	s.WorkerDown("w3", "declared dead")
	err := <-done
	if !errors.Is(err, task.ErrFatal) || !strings.Contains(err.Error(), "no healthy worker") || !strings.Contains(err.Error(), "w1") {
		t.Fatalf("err = %v, want a fatal 'no healthy worker left' naming w1", err)
	}
	// A job submitted now fails at once rather than waiting forever.
	if err := <-submitMap(t, s, "j", 4, 1); !errors.Is(err, task.ErrFatal) {
		t.Fatalf("err = %v, want fatal", err)
	}
}

// The exclusion runs out: the worker gets the job's attempts again, and it takes as many
// new failures to exclude it again.
func TestSchedulerExclusionExpires(t *testing.T) {
	s := newSickScheduler(t, "w1", "w2")
	s.excludeFor = 0 // ends at once
	failOn(t, s, "w1", "j/m-0-1", enospc, submitMap(t, s, "j", 0, 1))
	failOn(t, s, "w1", "j/m-1-1", enospc, submitMap(t, s, "j", 1, 1))
	if len(s.Excluded("j")) != 1 {
		t.Fatal("w1 not excluded")
	}
	done := submitMap(t, s, "j", 2, 1)
	if a := pollOne(t, s, "w1"); a.ID != "j/m-2-1" {
		t.Fatalf("w1 got %s", a.ID)
	} else {
		s.Complete("w1", a.ID, &task.MapResult{}, nil, nil)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A fatal failure or a reducer's lost map output is not the worker's disk, whatever its
// message says.
func TestSchedulerLocalFailureClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    *task.Failure
		want bool
	}{
		{"enospc message", enospc, true},
		{"flagged", &task.Failure{Message: "x", Local: true, LostMap: -1}, true},
		{"input error", &task.Failure{Message: "line 3: bad date", LostMap: -1}, false},
		{"fatal", &task.Failure{Message: "no space left on device", Fatal: true, LostMap: -1}, false},
		{"lost map output", &task.Failure{Message: "fetch: input/output error", LostMap: 2}, false},
		{"nil", nil, false},
	} {
		if got := tc.f.IsLocal(); got != tc.want {
			t.Errorf("%s: IsLocal = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A worker declared down is listed to the others' heartbeats (so that reducers drop their
// fetches from it at once) until it comes back.
func TestSchedulerLostPeers(t *testing.T) {
	s := newSickScheduler(t)
	s.WorkerUp(workerSlot{Name: "w1", Shuffle: "10.0.0.1:7070", Slots: 1})
	s.WorkerUp(workerSlot{Name: "w2", Shuffle: "10.0.0.2:7070", Slots: 1})
	if lost := s.LostPeers(); len(lost) != 0 {
		t.Fatalf("LostPeers = %v before any loss", lost)
	}
	s.WorkerDown("w1", "declared dead")
	if lost := s.LostPeers(); len(lost) != 1 || lost[0] != "10.0.0.1:7070" {
		t.Fatalf("LostPeers = %v, want [10.0.0.1:7070]", lost)
	}
	s.WorkerUp(workerSlot{Name: "w1", Shuffle: "10.0.0.1:7070", Slots: 1})
	if lost := s.LostPeers(); len(lost) != 0 {
		t.Fatalf("LostPeers = %v after w1 came back", lost)
	}
}
