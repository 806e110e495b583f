package coordinator

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/task"
)

// TestWorkerOfAnotherProtocolIsRefused joins a worker that advertises another wire protocol
// — here a release from before protocols were numbered, which advertises none — to a real
// coordinator. The coordinator logs why it refuses it, lists it as refused (API and status
// page), counts none of its slots, answers its polls with 409 and the reason, and never
// gives it an attempt, while a worker of the same protocol gets one.
func TestWorkerOfAnotherProtocolIsRefused(t *testing.T) {
	var logs syncBuffer
	cfg := LocalServerConfig()
	cfg.DataDir, cfg.Insecure, cfg.Token = t.TempDir(), true, "secret"
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())

	old, err := cluster.Join(cluster.Config{
		Name: "old-worker", Bind: "127.0.0.1:0", Insecure: true, Fast: true, Logger: slog.New(slog.DiscardHandler),
		Meta: cluster.Meta{Role: cluster.RoleWorker, API: "127.0.0.1:1", Shuffle: "127.0.0.1:1", Slots: 4, Version: "v0.9.0"},
	}, []string{s.GossipAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Shutdown()

	// Gossip delivers the join on its own schedule: wait for the coordinator to list it.
	waitUntil(t, "the coordinator lists the worker", func() bool { return len(s.Scheduler().Workers()) == 1 })
	w := s.Scheduler().Workers()[0]
	for _, want := range []string{"protocol 0 (version v0.9.0)", "this coordinator protocol 1", "install the coordinator's release"} {
		if !strings.Contains(w.Refused, want) {
			t.Errorf("refusal %q does not say %q", w.Refused, want)
		}
	}
	if !strings.Contains(logs.String(), `msg="worker refused" worker=old-worker`) {
		t.Errorf("no log line refusing the worker:\n%s", logs.String())
	}
	if n := s.Scheduler().Slots(); n != 1 { // 1 is the floor: none of the refused worker's 4
		t.Errorf("Slots() = %d with only a refused worker, want 1", n)
	}

	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+s.APIAddr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := call("POST", task.PathPoll, `{"worker":"old-worker","free":4}`); code != http.StatusConflict || !strings.Contains(body, "protocol 0") {
		t.Errorf("poll from the refused worker: %d %s, want 409 with the reason", code, body)
	}
	if code, body := call("GET", task.PathWorkers, ""); code != 200 || !strings.Contains(body, `"refused":"worker speaks protocol 0`) {
		t.Errorf("%s: %d %s, want the worker listed as refused", task.PathWorkers, code, body)
	}
	if code, body := call("GET", "/", ""); code != 200 || !strings.Contains(body, "refused: worker speaks protocol 0") ||
		!strings.Contains(body, "(protocol 1)") {
		t.Errorf("status page: %d, want the refused worker and this coordinator's protocol:\n%s", code, body)
	}

	// An attempt waits in the queue: the refused worker's poll (with a context already
	// ended, so that Poll returns at once rather than waiting) gets nothing; a worker of
	// this protocol gets it.
	sched := s.Scheduler()
	sched.WorkerUp(workerSlot{Name: "new-worker", Slots: 1, Protocol: version.Protocol})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sched.Map(ctx, []byte(`{}`), task.Map{Job: "j", Index: 0, Attempt: 1})
	waitUntil(t, "an attempt is queued", func() bool { q, _ := sched.Counts(); return q == 1 })
	ended, stop := context.WithCancel(context.Background())
	stop()
	if as := sched.Poll(ended, "old-worker", 4); len(as) != 0 {
		t.Errorf("the refused worker was given %d attempts", len(as))
	}
	if as := sched.Poll(ended, "new-worker", 1); len(as) != 1 {
		t.Errorf("a worker of this protocol was given %d attempts, want the queued one", len(as))
	}
}

// waitUntil polls cond until it holds, failing the test after a generous minute: what it
// waits for is driven by other goroutines (gossip, a driver), not by time.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
