package worker_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/httpserve/httpservetest"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// tinyJob writes a job file over 120 hand-written records cut into 1 KiB splits (a few map
// tasks) with two reducers, and returns it as a submission.
func tinyJob(t *testing.T) task.JobSource {
	t.Helper()
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("id,created,status,type\n")
	for i := 1; i <= 120; i++ {
		fmt.Fprintf(&rows, "%d,2024-01-05 10:%02d:00,open,pothole\n", i, i%60)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), []byte(rows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`schema "tiny" {
  city         = "tiny"
  timezone     = "UTC"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id"   { columns = ["id"] }
  field "created_at"   { columns = ["created"] }
  field "request_type" { columns = ["type"] }
  field "status" {
    columns = ["status"]
    open    = ["open"]
  }
}
job "tiny" {
  split_size = "1KiB"
  reducers = 2
  max_reject_ratio = 0
  input "tiny" {
    path   = %q
    schema = "tiny"
  }
  output {
    parquet = %q
    rejects = %q
  }
}
`, filepath.Join(dir, "a.csv"), filepath.Join(dir, "requests"), filepath.Join(dir, "rejects"))
	path := filepath.Join(dir, "tiny.job")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return task.JobSource{Path: path, Source: []byte(src)}
}

// testCluster starts a coordinator (whose log goes to coordLog) and one worker per config
// that tune returns for it, and waits until the coordinator has seen them all.
func testCluster(t *testing.T, coordLog *slog.Logger, tune ...func(*worker.Config)) *coordinator.Server {
	t.Helper()
	srv, _ := startTestCluster(t, coordLog, tune...)
	return srv
}

// startTestCluster is testCluster that also returns the workers, in the order of tune.
func startTestCluster(t *testing.T, coordLog *slog.Logger, tune ...func(*worker.Config)) (*coordinator.Server, []*worker.Daemon) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	dir := t.TempDir()
	sc := coordinator.LocalServerConfig()
	sc.DataDir, sc.Key, sc.Token, sc.Log, sc.Name = filepath.Join(dir, "coordinator"), key, clusterToken, coordLog, "coordinator"
	srv, err := coordinator.NewServer(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	var workers []*worker.Daemon
	for i, f := range tune {
		wc := worker.LocalConfig()
		wc.Name = fmt.Sprintf("worker-%d", i+1)
		wc.Join, wc.DataDir = []string{srv.GossipAddr()}, filepath.Join(dir, wc.Name)
		wc.Slots, wc.Key, wc.Token, wc.Log = 1, key, clusterToken, slog.New(slog.DiscardHandler)
		f(&wc)
		w, err := worker.Start(wc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Shutdown(context.Background()) })
		workers = append(workers, w)
	}
	// A worker joins before it advertises its shuffle address: wait for that too.
	advertised := func() int {
		n := 0
		for _, w := range srv.Scheduler().Workers() {
			if w.Shuffle != "" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); advertised() < len(tune); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d workers registered within 30s", len(srv.Scheduler().Workers()), len(tune))
		}
	}
	return srv, workers
}

// waitJob waits for job id to end and returns its final state.
func waitJob(t *testing.T, srv *coordinator.Server, id string) coordinator.JobStatus {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		j, ok := srv.Job(id)
		if !ok {
			t.Fatalf("job %s vanished", id)
		}
		if j.State.Terminal() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 2 minutes", id)
		}
	}
}

// TestWrongShuffleTokenFailsAtOnce: in a cluster where one worker's shuffle has another
// token, the first reducer that fetches across the two fails the job at once, with a
// failure classified fatal that names the worker and the fix, and no attempt is retried.
// Before, the 401 counted as a lost map output: the coordinator re-ran the map tasks of
// that worker and retried the reducer up to four times, then failed with "failed 4 times".
//
// Each worker has one slot, so each takes one of the two reducers (a worker polls only with
// a free slot), and whichever worker ran the map tasks, one reducer fetches from the other.
func TestWrongShuffleTokenFailsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and runs a job")
	}
	srv := testCluster(t, slog.New(slog.DiscardHandler),
		func(*worker.Config) {},
		func(c *worker.Config) { worker.SetShuffleToken(c, "another-token") })
	id, err := srv.Submit(tinyJob(t))
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, srv, id)
	if j.State != coordinator.Failed || j.Result == nil {
		t.Fatalf("job %s: %s (%+v), want failed", id, j.State, j.Result)
	}
	const want = "refused the cluster token (401): check --token-file on every node"
	if !strings.Contains(j.Result.Error, want) {
		t.Errorf("job error %q lacks %q", j.Result.Error, want)
	}
	if strings.Contains(j.Result.Error, "times") || j.Result.Retries != 0 {
		t.Errorf("the refused fetch was retried: %d retries, error %q", j.Result.Retries, j.Result.Error)
	}
}

// TestRefusedWorkerTokenIsLogged: a worker whose token the coordinator refuses says so in
// its log as an error, and so does the coordinator, instead of retrying its polls silently.
func TestRefusedWorkerTokenIsLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	coordLog, workerLog := newLogWatch(), newLogWatch()
	testCluster(t, slog.New(coordLog), func(c *worker.Config) {
		c.Token = "stale-token"
		c.Log = slog.New(workerLog)
	})
	workerLog.wait(t, slog.LevelError, "the coordinator refused this worker's cluster token (401): check --token-file on every node")
	coordLog.wait(t, slog.LevelWarn, "refused a request: missing or wrong cluster token; if a worker sent it, check --token-file on every node")
	for _, l := range []*logWatch{coordLog, workerLog} {
		if l.saw("stale-token") || l.saw("cluster-token") {
			t.Errorf("a log shows a token")
		}
	}
}

// logWatch is a slog.Handler that keeps every record's text, so a test can wait for one.
type logWatch struct {
	records chan slog.Record // every record, for wait; never blocks the logger
	all     chan string      // every record's text with its attributes, for saw
}

func newLogWatch() *logWatch {
	return &logWatch{records: make(chan slog.Record, 4096), all: make(chan string, 4096)}
}

func (l *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logWatch) WithGroup(string) slog.Handler            { return l }
func (l *logWatch) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	select {
	case l.records <- r.Clone():
	default:
	}
	select {
	case l.all <- b.String():
	default:
	}
	return nil
}

// wait returns when a record of level whose message is msg arrives, or fails t after a
// minute.
func (l *logWatch) wait(t *testing.T, level slog.Level, msg string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case r := <-l.records:
			if r.Level == level && r.Message == msg {
				return
			}
		case <-timeout:
			t.Fatalf("no %v log %q within a minute", level, msg)
		}
	}
}

// saw reports whether any record so far contains s.
func (l *logWatch) saw(s string) bool {
	found := false
	for {
		select {
		case line := <-l.all:
			found = found || strings.Contains(line, s)
		default:
			return found
		}
	}
}

// TestListenerLimits runs the slow-client attacks against a worker's listener (shuffle,
// metrics, profiles): before, its server had only a header timeout, so an idle keep-alive
// connection stayed open for ever and a 1 MiB header got through.
func TestListenerLimits(t *testing.T) {
	limits := httpserve.Limits{
		ReadHeaderTimeout: 50 * time.Millisecond,
		ReadTimeout:       100 * time.Millisecond,
		WriteTimeout:      100 * time.Millisecond,
		IdleTimeout:       100 * time.Millisecond,
		MaxHeaderBytes:    4 << 10,
	}
	srv := testCluster(t, slog.New(slog.DiscardHandler), func(c *worker.Config) { c.HTTP = limits })
	httpservetest.Check(t, httpservetest.Target{
		Addr: srv.Scheduler().Workers()[0].Shuffle, Path: "/healthz", MaxHeaderBytes: limits.MaxHeaderBytes,
	})
}
