package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/obs"
)

// syncBuffer is a log destination the daemon's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWorkerRefusesCoordinatorOfAnotherProtocol starts a real worker in a cluster whose
// coordinator advertises no protocol (a release from before protocols were numbered,
// which would not refuse this worker itself). The worker says why it takes no task, and
// never calls that coordinator's API.
func TestWorkerRefusesCoordinatorOfAnotherProtocol(t *testing.T) {
	var calls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write([]byte("[]"))
	}))
	defer api.Close()
	coord, err := cluster.Join(cluster.Config{
		Name: "old-coordinator", Bind: "127.0.0.1:0", Insecure: true, Fast: true, Logger: slog.New(slog.DiscardHandler),
		Meta: cluster.Meta{Role: cluster.RoleCoordinator, API: strings.TrimPrefix(api.URL, "http://"), Version: "v0.9.0"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Shutdown()

	var logs syncBuffer
	cfg := LocalConfig()
	cfg.Join, cfg.Insecure, cfg.Token, cfg.DataDir, cfg.Slots = []string{coord.Addr()}, true, "secret", t.TempDir(), 1
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	d, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())

	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logs.String(), "no tasks for this worker") {
		if time.Now().After(deadline) {
			t.Fatalf("the worker never said why it takes no task:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{"protocol mismatch", "old-coordinator runs version v0.9.0, protocol 0", "run the same release on every node"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the worker called the coordinator of another protocol %d times", n)
	}
}

// TestPollFailed: a refusal is an error logged once per distinct message; a coordinator
// that cannot be reached is a warning, rate-limited (not one line per poll), and counted.
func TestPollFailed(t *testing.T) {
	var logs syncBuffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	refused := &statusError{code: 409, msg: `{"error":"worker speaks protocol 1, this coordinator protocol 2"}`}
	before := counter(t, "ireports_coordinator_unreachable_total")
	d.pollFailed(refused)
	d.pollFailed(refused)
	d.pollFailed(errors.New("connection refused"))
	d.pollFailed(errors.New("connection refused"))
	d.pollFailed(refused)
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one refusal repeated, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "level=WARN msg=\"cannot reach the coordinator"); n != 1 {
		t.Errorf("%d warnings for two unreachable polls in a row, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "this coordinator protocol 2") {
		t.Errorf("log lacks the refusal's reason:\n%s", out)
	}
	if got := counter(t, "ireports_coordinator_unreachable_total") - before; got != 2 {
		t.Errorf("unreachable polls counted %v, want 2", got)
	}
}

// counter reads the unlabelled counter name from the process's metrics.
func counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := obs.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
