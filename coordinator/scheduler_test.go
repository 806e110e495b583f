package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/task"
)

func newTestScheduler(t *testing.T, lease time.Duration) (*Scheduler, context.Context) {
	s := NewScheduler(lease, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Shutdown)
	s.WorkerUp(workerSlot{Name: "w1", Slots: 2})
	return s, context.Background()
}

// testSpec is the wire spec the scheduler tests' attempts carry.
var testSpec = json.RawMessage(`{"name":"test"}`)

// pollOne pulls one assignment for worker w.
func pollOne(t *testing.T, s *Scheduler, w string) task.Assignment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	as := s.Poll(ctx, w, 1)
	if len(as) != 1 {
		t.Fatalf("poll for %s got %d assignments", w, len(as))
	}
	return as[0]
}

func TestSchedulerRunsAndCompletes(t *testing.T) {
	s, ctx := newTestScheduler(t, time.Minute)
	done := make(chan error, 1)
	go func() {
		res, err := s.Map(ctx, testSpec, task.Map{Job: "j", Index: 4, Attempt: 1})
		if err == nil && res.RecordsIn != 7 {
			err = errors.New("wrong result")
		}
		done <- err
	}()
	a := pollOne(t, s, "w1")
	if a.ID != "j/m-4-1" || a.Kind != task.KindMap {
		t.Fatalf("assignment = %+v", a)
	}
	if err := s.Complete("w1", a.ID, &task.MapResult{RecordsIn: 7}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A second report of the same attempt from its worker (the reply to the first was
	// lost) is acknowledged; from another worker it is stale.
	if err := s.Complete("w1", a.ID, &task.MapResult{}, nil, nil); err != nil {
		t.Errorf("second completion: %v, want nil", err)
	}
	if err := s.Complete("w2", a.ID, &task.MapResult{}, nil, nil); !errors.Is(err, ErrStale) {
		t.Errorf("completion by another worker: %v, want ErrStale", err)
	}
}

func TestSchedulerLeaseLapses(t *testing.T) {
	s, ctx := newTestScheduler(t, 200*time.Millisecond)
	done := make(chan error, 1)
	go func() { _, err := s.Map(ctx, testSpec, task.Map{Job: "j", Index: 0, Attempt: 1}); done <- err }()
	a := pollOne(t, s, "w1")
	select {
	case err := <-done:
		if err == nil || errors.Is(err, task.ErrFatal) {
			t.Fatalf("err = %v, want a retryable loss", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lease never lapsed")
	}
	// The hung worker wakes up: its heartbeat is told to cancel, its result is ignored.
	if cancel := s.Heartbeat("w1", []string{a.ID}); !slices.Contains(cancel, a.ID) {
		t.Errorf("heartbeat cancel = %v, want %s", cancel, a.ID)
	}
	if err := s.Complete("w1", a.ID, &task.MapResult{}, nil, nil); !errors.Is(err, ErrStale) {
		t.Errorf("late result: %v, want ErrStale", err)
	}
}

func TestSchedulerHeartbeatKeepsLease(t *testing.T) {
	s, ctx := newTestScheduler(t, time.Second) // renewed every 100 ms: ample slack under load
	done := make(chan error, 1)
	go func() { _, err := s.Map(ctx, testSpec, task.Map{Job: "j", Attempt: 1}); done <- err }()
	a := pollOne(t, s, "w1")
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		if c := s.Heartbeat("w1", []string{a.ID}); len(c) != 0 {
			t.Fatalf("heartbeat asked to cancel %v", c)
		}
	}
	if err := s.Complete("w1", a.ID, &task.MapResult{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSchedulerWorkerDown(t *testing.T) {
	s, ctx := newTestScheduler(t, time.Minute)
	done := make(chan error, 1)
	go func() { _, err := s.Reduce(ctx, testSpec, task.Reduce{Job: "j", Index: 2, Attempt: 1}); done <- err }()
	pollOne(t, s, "w1")
	s.WorkerDown("w1", "was declared dead")
	if err := <-done; err == nil {
		t.Fatal("attempt on a dead worker did not fail")
	}
	if n := s.Slots(); n != 1 {
		t.Errorf("slots after the only worker died = %d, want the floor of 1", n)
	}
}

func TestSchedulerWithdrawOnCancel(t *testing.T) {
	s, base := newTestScheduler(t, time.Minute)
	ctx, cancel := context.WithCancel(base)
	done := make(chan error, 1)
	go func() { _, err := s.Map(ctx, testSpec, task.Map{Job: "j", Attempt: 1}); done <- err }()
	a := pollOne(t, s, "w1")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if c := s.Heartbeat("w1", []string{a.ID}); !slices.Contains(c, a.ID) {
		t.Errorf("withdrawn attempt not cancelled on the worker: %v", c)
	}
}

func TestFailureRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"fatal", task.Fatal(errors.New("bad schema")), func(e error) bool { return errors.Is(e, task.ErrFatal) }},
		{"lost map", &task.LostError{Map: 3, Err: errors.New("refused")}, func(e error) bool {
			var l *task.LostError
			return errors.As(e, &l) && l.Map == 3 && errors.Is(e, task.ErrMapOutputLost)
		}},
		{"plain", errors.New("disk full"), func(e error) bool { return !errors.Is(e, task.ErrFatal) && !errors.Is(e, task.ErrMapOutputLost) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := task.FailureOf(tc.err).Err("w1"); !tc.check(got) {
				t.Errorf("round trip of %v gave %v", tc.err, got)
			}
		})
	}
}

func TestNested(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"/lake/requests", "/lake/requests", true},
		{"/lake/requests/", "/lake/requests/city=nyc", true},
		{"s3://b/lake", "s3://b/lake/requests", true},
		{"/lake/requests", "/lake/requests_rejects", false},
		{"s3://b/lake", "s3://b/lake2", false},
		{"", "/x", false},
	} {
		if got := nested(c.a, c.b); got != c.want {
			t.Errorf("nested(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestQuiesceWaitsForWithdrawnAttempts: a withdrawn attempt counts until its worker stops
// listing it in heartbeats.
func TestQuiesceWaitsForWithdrawnAttempts(t *testing.T) {
	s := NewScheduler(time.Minute, slog.New(slog.DiscardHandler))
	defer s.Shutdown()
	s.mu.Lock()
	s.draining["job-1/r-0-1"] = drain{worker: "w1", deadline: time.Now().Add(time.Minute)}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.Quiesce(context.Background(), "job-1"); close(done) }()
	select {
	case <-done:
		t.Fatal("Quiesce returned while a withdrawn attempt may still run")
	case <-time.After(100 * time.Millisecond):
	}
	s.Heartbeat("w1", []string{"job-1/r-0-1"}) // still running
	select {
	case <-done:
		t.Fatal("Quiesce returned while the worker still runs the attempt")
	case <-time.After(100 * time.Millisecond):
	}
	s.Heartbeat("w1", nil) // stopped
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Quiesce did not return after the worker stopped the attempt")
	}
	s.Quiesce(context.Background(), "job-2") // nothing of job-2: at once
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ dsn, msg string }{
		{"postgres://u:s3cret@db:5432/x", `dial postgres://u:s3cret@db:5432/x: refused`},
		{"postgres://u:s3cr%et@localhost:1/db", `parse "postgres://u:s3cr%et@localhost:1/db": invalid URL escape "%et"`},
		{"host=db user=u password=hunter2 dbname=x", `connect host=db user=u password=hunter2: refused`},
	} {
		cause := errors.New(c.msg)
		err := RedactDSN(cause, c.dsn)
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "s3cr%et") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("RedactDSN(%q) = %q: the password is still there", c.msg, err)
		}
		if !errors.Is(err, cause) {
			t.Errorf("RedactDSN(%q) lost the cause", c.msg)
		}
	}
	if err := RedactDSN(nil, "postgres://u:p@h/d"); err != nil {
		t.Errorf("RedactDSN(nil) = %v", err)
	}
}

// TestSchedulerShipsSpec: the spec the driver passes with an attempt, as an argument, is the
// one its assignment carries to the worker; an attempt without a spec is refused as fatal
// before any worker sees it.
func TestSchedulerShipsSpec(t *testing.T) {
	s, ctx := newTestScheduler(t, time.Minute)
	done := make(chan error, 1)
	go func() { _, err := s.Reduce(ctx, testSpec, task.Reduce{Job: "j", Index: 1, Attempt: 1}); done <- err }()
	a := pollOne(t, s, "w1")
	if string(a.Spec) != string(testSpec) {
		t.Errorf("assignment %s carries spec %s, want %s", a.ID, a.Spec, testSpec)
	}
	if err := s.Complete("w1", a.ID, nil, &task.ReduceResult{Index: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Map(ctx, nil, task.Map{Job: "j", Attempt: 1}); !errors.Is(err, task.ErrFatal) || !strings.Contains(err.Error(), "no job spec") {
		t.Errorf("an attempt without a spec: %v, want a fatal error saying so", err)
	}
	if q, r := s.Counts(); q != 0 || r != 0 {
		t.Errorf("after the refused attempt: %d queued, %d running; want none", q, r)
	}
}
