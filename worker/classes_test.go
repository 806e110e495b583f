package worker_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/worker"
)

// TestFailureClasses follows each class of failure from a reduce attempt's input — the
// boundary of worker and shuffle, where the first fetch of the job meets the fault — through
// the worker's report and the coordinator's scheduler to the job's outcome (package shuffle's
// doc and package task's):
//
//   - fatal: the cluster is misconfigured (a peer refuses the token, speaks another shuffle
//     protocol, shows a certificate this worker does not trust) or the plan names a segment
//     that cannot exist. The job fails at once, saying what to fix; nothing is retried.
//   - lost output: a map output cannot be read (its worker is unreachable, it is missing,
//     corrupt, or of another format version). The map tasks whose outputs were on that
//     worker are re-run, the reducer is retried, and the job succeeds.
//   - lost attempt: the reducer's own worker fails it (out of file descriptors). The attempt
//     is retried, no map task is, and the job succeeds.
//   - lost worker: the reducer's worker leaves. The attempt is retried elsewhere (with the
//     map tasks whose outputs left with the worker, if any), and the job succeeds.
//   - cancelled: the job is cancelled while the reducer waits. The job ends cancelled, with
//     nothing retried.
//   - interrupted: the coordinator shuts down while the reducer waits. The job stops at once
//     without an outcome (a restart on the same state resumes it), with nothing retried.
//
// Before, an unsafe job id or a reducer outside the map output counted as lost outputs (their
// map tasks re-run and the reducer retried, to meet the same plan again); a shutdown of the
// coordinator waited up to PollWait for the workers' polls before it stopped the job; and it
// cancelled the job, which a restart then did not resume.
//
// A case counts retries by the coordinator's log, not by Result.Retries, which a backup
// attempt of a slow task (a loaded machine) would raise.
func TestFailureClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster per case and runs a job")
	}
	// Peers the faults redirect a fetch to.
	peer := func(h http.Handler) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}
	handler := func(token string) http.Handler {
		h, err := shuffle.NewHandler(t.TempDir(), token) // holds no map output
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	otherProtocol := peer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(shuffle.HeaderProtocol, "99")
		http.Error(w, "speaks protocol 99", http.StatusBadRequest)
	}))
	tlsPeer := httptest.NewUnstartedServer(handler(clusterToken))
	tlsPeer.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake this worker refuses
	tlsPeer.StartTLS()
	t.Cleanup(tlsPeer.Close)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := gone.Addr().String()
	gone.Close() // nothing listens there any more: connection refused

	const (
		fatal       = "fatal"
		lostOutput  = "lost output"
		lostAttempt = "lost attempt"
		lostWorker  = "lost worker"
		cancelled   = "cancelled"
		interrupted = "interrupted"
	)
	for _, c := range []struct {
		name  string
		fault fault
		// act, if set, runs once the fault has blocked a fetch of worker `blocked`.
		act   func(t *testing.T, c *classCluster, id string, blocked int)
		class string
		want  string // in the job's error
	}{
		{name: "peer refuses the token", fault: redirect(peer(handler("another-token"))), class: fatal,
			want: "refused the cluster token (401): check --token-file on every node"},
		{name: "peer speaks another shuffle protocol", fault: redirect(otherProtocol), class: fatal,
			want: "speaks another shuffle protocol: run one release on every worker"},
		{name: "peer's certificate untrusted", fault: redirect(tlsPeer.URL), class: fatal,
			want: "does not trust the TLS certificate of worker 127.0.0.1"},
		{name: "unsafe job id in the plan", fault: rename("../escape"), class: fatal,
			want: "the job's plan names a segment that cannot exist"},
		{name: "reducer outside the map output", fault: otherReducer(100), class: fatal,
			want: "the job's plan names a segment that cannot exist"},
		{name: "peer unreachable", fault: redirect(goneAddr), class: lostOutput},
		{name: "map output missing on its peer", fault: redirect(peer(handler(clusterToken))), class: lostOutput},
		{name: "segment fails its checksum", fault: corruptSegment, class: lostOutput},
		{name: "map output of another format version", fault: otherFormatVersion(t), class: lostOutput},
		{name: "reducer out of file descriptors", fault: failWith(&os.PathError{Op: "open", Path: "map-000000.shuffle", Err: syscall.EMFILE}), class: lostAttempt},
		{name: "reducer's worker leaves", fault: block, class: lostWorker,
			act: func(t *testing.T, c *classCluster, _ string, blocked int) {
				if err := c.workers[blocked].Shutdown(context.Background()); err != nil {
					t.Errorf("worker shutdown: %v", err)
				}
			}},
		{name: "job cancelled", fault: block, class: cancelled, want: "context canceled",
			act: func(t *testing.T, c *classCluster, id string, _ int) {
				if err := c.srv.Cancel(id); err != nil {
					t.Errorf("cancel: %v", err)
				}
			}},
		{name: "coordinator shuts down", fault: block, class: interrupted, want: "job interrupted: the coordinator is shutting down",
			act: func(t *testing.T, c *classCluster, _ string, _ int) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := c.srv.Shutdown(ctx); err != nil {
					t.Errorf("coordinator shutdown: %v", err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := &faultPlan{fault: c.fault, blocked: make(chan int, 1)}
			cl := startClassCluster(t, plan)
			id, err := cl.srv.Submit(tinyJob(t))
			if err != nil {
				t.Fatal(err)
			}
			if c.act != nil {
				select {
				case w := <-plan.blocked:
					c.act(t, cl, id, w)
				case <-time.After(2 * time.Minute):
					t.Fatal("no reduce attempt fetched its input within 2 minutes")
				}
			}
			if c.class == interrupted {
				// Shutdown has returned, so the run has stopped: no outcome, no retry.
				j, _ := cl.srv.Job(id)
				if j.State != coordinator.Interrupted || j.Result != nil || !cl.log.has(c.want) {
					t.Errorf("job %s after the shutdown: state %s, result %+v; want interrupted, no result, a log saying %q", id, j.State, j.Result, c.want)
				}
				if cl.log.has("attempt lost; retrying") || cl.log.has("map output lost; re-running the map tasks") {
					t.Errorf("the interrupted job retried an attempt")
				}
				return
			}
			j := waitJob(t, cl.srv, id)
			if !plan.fired.Load() {
				t.Fatalf("the fault was never met: job %s %+v", j.State, j.Result)
			}
			if j.Result == nil {
				t.Fatalf("job %s: %s without a result", id, j.State)
			}
			res := j.Result
			retried := cl.log.has("attempt lost; retrying")
			rerunMaps := cl.log.has("map output lost; re-running the map tasks")
			wantState, wantRetry, wantRerun := coordinator.Succeeded, true, false
			switch c.class {
			case fatal:
				wantState, wantRetry = coordinator.Failed, false
			case lostOutput:
				wantRerun = true
			case cancelled:
				wantState, wantRetry = coordinator.Cancelled, false
			}
			if j.State != wantState || res.Status != wantState {
				t.Errorf("job %s: state %s, result %s (%q), want %s", id, j.State, res.Status, res.Error, wantState)
			}
			if c.class == lostWorker {
				rerunMaps = wantRerun // whether any map output left with the worker is not the point
			}
			if retried != wantRetry || rerunMaps != wantRerun {
				t.Errorf("%s: reduce retried %v, map tasks re-run %v; want %v and %v (error %q)", c.class, retried, rerunMaps, wantRetry, wantRerun, res.Error)
			}
			if c.class == fatal && strings.Contains(res.Error, " times") {
				t.Errorf("a fatal failure was retried: %q", res.Error)
			}
			if !strings.Contains(res.Error, c.want) {
				t.Errorf("job error %q lacks %q", res.Error, c.want)
			}
			if wantState == coordinator.Succeeded && (res.RecordsOut != 120 || res.Rejected != 0) {
				t.Errorf("%d records out, %d rejected; want the 120 records of the job", res.RecordsOut, res.Rejected)
			}
		})
	}
}

// clusterToken is the cluster token of testCluster and startClassCluster.
const clusterToken = "cluster-token"

// A fault is what the first fetch of a job's reduce input meets instead of its map output.
// next is the worker's own fetcher; worker is the index of the worker fetching; plan is the
// fault's plan.
type fault func(ctx context.Context, next shuffle.Fetcher, plan *faultPlan, worker int, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error)

// faultPlan springs its fault on the first fetch of any worker of a cluster; every other
// fetch goes to the worker's own fetcher.
type faultPlan struct {
	fault   fault
	fired   atomic.Bool
	blocked chan int // the worker whose fetch block holds
}

// faultFetcher is a worker's fetcher with the plan in front of it.
type faultFetcher struct {
	next   shuffle.Fetcher
	plan   *faultPlan
	worker int
}

func (f *faultFetcher) Fetch(ctx context.Context, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
	if f.plan.fired.CompareAndSwap(false, true) {
		return f.plan.fault(ctx, f.next, f.plan, f.worker, loc, reducer)
	}
	return f.next.Fetch(ctx, loc, reducer)
}

// redirect fetches the segment from the peer at addr instead of the map output's worker,
// through the worker's own (HTTP) fetcher.
func redirect(addr string) fault {
	return func(ctx context.Context, next shuffle.Fetcher, _ *faultPlan, _ int, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
		loc.Worker = addr
		return next.Fetch(ctx, loc, reducer)
	}
}

// rename asks a peer for the map output under another job id.
func rename(job string) fault {
	return func(ctx context.Context, next shuffle.Fetcher, _ *faultPlan, _ int, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
		loc.Job, loc.Worker = job, "127.0.0.1:9" // refused before any connection
		return next.Fetch(ctx, loc, reducer)
	}
}

// otherReducer reads segment reducer+d of the map output from its file.
func otherReducer(d int) fault {
	return func(ctx context.Context, next shuffle.Fetcher, _ *faultPlan, _ int, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
		loc.Worker = "" // on this machine: the whole cluster is one process
		return next.Fetch(ctx, loc, reducer+d)
	}
}

// corruptSegment hands over the segment with a checksum its bytes do not have.
func corruptSegment(ctx context.Context, next shuffle.Fetcher, _ *faultPlan, _ int, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
	rc, seg, err := next.Fetch(ctx, loc, reducer)
	seg.CRC ^= 1
	return rc, seg, err
}

// otherFormatVersion reads the map output from a copy whose header and trailer say format
// version 2, as a file left by another release would.
func otherFormatVersion(t *testing.T) fault {
	dir := t.TempDir()
	return func(ctx context.Context, _ shuffle.Fetcher, _ *faultPlan, _ int, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
		b, err := os.ReadFile(loc.Path) // on this machine: the whole cluster is one process
		if err != nil {
			return nil, shuffle.Segment{}, err
		}
		const magicLen = 8 // "IRSHUF" and a big-endian uint16 version
		b[magicLen-1], b[len(b)-1] = 2, 2
		loc.Path, loc.Worker = filepath.Join(dir, filepath.Base(loc.Path)), ""
		if err := os.WriteFile(loc.Path, b, 0o644); err != nil {
			return nil, shuffle.Segment{}, err
		}
		return shuffle.LocalFetcher{}.Fetch(ctx, loc, reducer)
	}
}

// failWith fails the fetch with err, as the worker's own resources fail it.
func failWith(err error) fault {
	return func(context.Context, shuffle.Fetcher, *faultPlan, int, shuffle.Location, int) (io.ReadCloser, shuffle.Segment, error) {
		return nil, shuffle.Segment{}, err
	}
}

// block holds the fetch until the attempt is cancelled, saying which worker it holds.
func block(ctx context.Context, _ shuffle.Fetcher, plan *faultPlan, worker int, _ shuffle.Location, _ int) (io.ReadCloser, shuffle.Segment, error) {
	plan.blocked <- worker
	<-ctx.Done()
	return nil, shuffle.Segment{}, ctx.Err()
}

// classCluster is a coordinator whose log is kept and two workers (one slot each, so each
// runs one of the two reducers) whose input passes a fault plan.
type classCluster struct {
	srv     *coordinator.Server
	workers []*worker.Daemon
	log     *logLines
}

func startClassCluster(t *testing.T, plan *faultPlan) *classCluster {
	t.Helper()
	c := &classCluster{log: &logLines{}}
	tune := func(i int) func(*worker.Config) {
		return func(cfg *worker.Config) {
			worker.WrapFetcher(cfg, func(next shuffle.Fetcher) shuffle.Fetcher {
				return &faultFetcher{next: next, plan: plan, worker: i}
			})
		}
	}
	c.srv, c.workers = startTestCluster(t, slog.New(c.log), tune(0), tune(1))
	return c
}

// logLines is a slog.Handler that keeps every record's message and attributes.
type logLines struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

// has reports whether a record so far contains s.
func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}
