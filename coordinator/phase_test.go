package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ireports/ireports/task"
)

func testPhase(slots int, attempt func(ctx context.Context, i int) (func(), error)) *phase {
	return &phase{name: "test", slots: func() int { return slots }, attempt: attempt, log: slog.New(slog.DiscardHandler), minBackupAge: 50 * time.Millisecond}
}

func TestPhaseRunsEveryTaskOnce(t *testing.T) {
	var mu sync.Mutex
	accepted := map[int]int{}
	var inflight, peak atomic.Int32
	p := testPhase(3, func(ctx context.Context, i int) (func(), error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		return func() { mu.Lock(); accepted[i]++; mu.Unlock() }, nil
	})
	if err := p.run(context.Background(), allIndexes(20)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if accepted[i] != 1 {
			t.Errorf("task %d accepted %d times", i, accepted[i])
		}
	}
	if peak.Load() > 3 {
		t.Errorf("%d attempts in flight, slots are 3", peak.Load())
	}
}

func TestPhaseRetriesLostAttempts(t *testing.T) {
	var tries atomic.Int32
	p := testPhase(2, func(ctx context.Context, i int) (func(), error) {
		if i == 1 && tries.Add(1) < 3 {
			return nil, errors.New("worker died")
		}
		return func() {}, nil
	})
	if err := p.run(context.Background(), allIndexes(3)); err != nil {
		t.Fatal(err)
	}
	if tries.Load() != 3 {
		t.Errorf("task 1 ran %d times, want 3", tries.Load())
	}
}

func TestPhaseGivesUpAfterMaxAttempts(t *testing.T) {
	var tries atomic.Int32
	p := testPhase(2, func(ctx context.Context, i int) (func(), error) {
		if i == 0 {
			tries.Add(1)
			return nil, errors.New("disk on fire")
		}
		return func() {}, nil
	})
	err := p.run(context.Background(), allIndexes(2))
	if err == nil || tries.Load() != MaxAttempts {
		t.Fatalf("err = %v after %d tries; want failure after %d", err, tries.Load(), MaxAttempts)
	}
}

func TestPhaseFatalStopsAtOnce(t *testing.T) {
	var started atomic.Int32
	p := testPhase(1, func(ctx context.Context, i int) (func(), error) {
		started.Add(1)
		if i == 0 {
			return nil, task.Fatal(errors.New("schema names no column"))
		}
		return func() {}, nil
	})
	err := p.run(context.Background(), allIndexes(5))
	if !errors.Is(err, task.ErrFatal) {
		t.Fatalf("err = %v, want fatal", err)
	}
	if started.Load() != 1 {
		t.Errorf("%d attempts started after a fatal error, want 1", started.Load())
	}
}

func TestPhaseBackupAttemptBeatsStraggler(t *testing.T) {
	var attempts atomic.Int32
	var cancelled atomic.Bool
	p := testPhase(2, func(ctx context.Context, i int) (func(), error) {
		if i == 3 && attempts.Add(1) == 1 {
			<-ctx.Done() // the straggler: hangs until the backup wins and it is cancelled
			cancelled.Store(true)
			return nil, ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
		return func() {}, nil
	})
	done := make(chan error, 1)
	go func() { done <- p.run(context.Background(), allIndexes(4)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("phase did not finish: no backup attempt for the straggler")
	}
	if attempts.Load() != 2 || !cancelled.Load() {
		t.Errorf("straggler attempts %d, cancelled %v; want a backup and the original cancelled", attempts.Load(), cancelled.Load())
	}
}

func TestPhaseCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := testPhase(2, func(ctx context.Context, i int) (func(), error) {
		// Both slots are taken by tasks that run until cancelled; the second to start
		// cancels the job, and every task must return.
		if i == 1 {
			cancel()
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	if err := p.run(ctx, allIndexes(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
