package obs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// value reads the current value of the series name{labels} (counter, gauge, or a
// histogram's count) from the registry; absent series read as 0.
func value(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if !matches(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.Label {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// delta runs fn and returns how much name{labels} moved.
func delta(t *testing.T, name string, labels map[string]string, fn func()) float64 {
	t.Helper()
	before := value(t, name, labels)
	fn()
	return value(t, name, labels) - before
}

// settle waits until name{labels} has moved by want since before, or 5 s have passed, and
// returns how much it moved. A server observes a request when its handler returns, which
// can be after the client has read the whole answer.
func settle(t *testing.T, name string, labels map[string]string, before, want float64) float64 {
	t.Helper()
	var moved float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if moved = value(t, name, labels) - before; moved >= want {
			break
		}
	}
	return moved
}

func TestDoObservesTasks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		result string
	}{
		{"succeeded", nil, "succeeded"},
		{"failed", errors.New("disk full"), "failed"},
		{"cancelled", fmt.Errorf("reading split: %w", context.Canceled), "cancelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := delta(t, "ireports_task_duration_seconds", map[string]string{"kind": KindPublish, "result": tc.result}, func() {
				err := Do(context.Background(), "job-1", KindPublish, func(ctx context.Context) error {
					if got := value(t, "ireports_tasks_in_progress", map[string]string{"kind": KindPublish}); got != 1 {
						t.Errorf("tasks in progress while running: %v, want 1", got)
					}
					return tc.err
				})
				if err != tc.err {
					t.Errorf("Do returned %v, want fn's %v", err, tc.err)
				}
			})
			if d != 1 {
				t.Errorf("task_duration_seconds{result=%q} count moved by %v, want 1", tc.result, d)
			}
			if got := value(t, "ireports_tasks_in_progress", map[string]string{"kind": KindPublish}); got != 0 {
				t.Errorf("tasks in progress after: %v, want 0", got)
			}
		})
	}
}

func TestCountResults(t *testing.T) {
	read := delta(t, "ireports_records_read_total", map[string]string{"kind": KindMap}, func() {
		CountMap(MapCounts{Bytes: 1000, RecordsIn: 10, RecordsOut: 7,
			RejectsByReason: map[string]int64{"bad_timestamp": 2, "Not A Code!": 1}})
	})
	if read != 10 {
		t.Errorf("records read moved by %v, want 10", read)
	}
	if v := value(t, "ireports_records_rejected_total", map[string]string{"reason": "bad_timestamp"}); v < 2 {
		t.Errorf("rejects{bad_timestamp} = %v, want ≥ 2", v)
	}
	if v := value(t, "ireports_records_rejected_total", map[string]string{"reason": "other"}); v < 1 {
		t.Errorf("a reason that is no code must count as other: %v", v)
	}
	dup := delta(t, "ireports_records_duplicate_total", nil, func() {
		CountReduce(ReduceCounts{RecordsIn: 7, RecordsOut: 6, Duplicates: 1})
	})
	if dup != 1 {
		t.Errorf("duplicates moved by %v, want 1", dup)
	}
}

func TestHTTPMetricsRoutes(t *testing.T) {
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, r.PathValue("id")) })
	outer := http.NewServeMux()
	outer.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	outer.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inner.ServeHTTP(w, r) })) // like auth.RequireToken
	srv := httptest.NewServer(HTTPMetrics("test", outer))
	defer srv.Close()

	for _, tc := range []struct {
		path, route, code string
	}{
		{"/api/items/7", "/api/items/{id}", "200"},
		{"/api/items/8", "/api/items/{id}", "200"},
		{"/healthz", "/healthz", "200"},
		{"/nowhere", "unmatched", "404"},
	} {
		labels := map[string]string{"server": "test", "route": tc.route, "method": "GET", "code": tc.code}
		before := value(t, "ireports_http_request_duration_seconds", labels)
		res, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if d := settle(t, "ireports_http_request_duration_seconds", labels, before, 1); d != 1 {
			t.Errorf("GET %s: http_request_duration_seconds%v moved by %v, want 1", tc.path, labels, d)
		}
	}
}

func TestRouteMetrics(t *testing.T) {
	mw := RouteMetrics("viz-test")
	mux := http.NewServeMux()
	mux.Handle("GET /api/map", mw("GET /api/map", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such city", http.StatusBadRequest)
	})))
	labels := map[string]string{"server": "viz-test", "route": "/api/map", "method": "GET", "code": "400"}
	d := delta(t, "ireports_http_request_duration_seconds", labels, func() {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/map?city=atlantis", nil))
	})
	if d != 1 {
		t.Errorf("http_request_duration_seconds%v moved by %v, want 1", labels, d)
	}
}

// label is a metric label as the Stringer AttemptFinished takes.
type label string

func (l label) String() string { return string(l) }

// TestShuffleFetches: the observer shuffle.Observe reports to moves the fetch metrics; a
// reason outside the bounded set counts as "other". (shuffle's TestObserve checks what the
// wrapper reports for each kind of fetch.)
func TestShuffleFetches(t *testing.T) {
	var o ShuffleFetches
	if d := delta(t, "ireports_shuffle_fetches_total", nil, func() { o.FetchStarted(); o.FetchStarted() }); d != 2 {
		t.Errorf("fetches moved by %v, want 2", d)
	}
	if d := delta(t, "ireports_shuffle_fetched_bytes_total", nil, func() { o.FetchedBytes(3); o.FetchedBytes(7) }); d != 10 {
		t.Errorf("fetched bytes moved by %v, want 10", d)
	}
	for _, tc := range []struct{ reason, label string }{
		{"fetch", "fetch"}, {"corrupt", "corrupt"}, {"unauthorized", "unauthorized"}, {"other", "other"},
		{"/etc/passwd", "other"}, {"", "other"},
	} {
		if d := delta(t, "ireports_shuffle_fetch_failures_total", map[string]string{"reason": tc.label}, func() { o.FetchFailed(tc.reason) }); d != 1 {
			t.Errorf("FetchFailed(%q) moved failures{reason=%q} by %v, want 1", tc.reason, tc.label, d)
		}
	}
}

// TestImportsNoEnginePackage: obs is used by every binary, viz included; importing an
// engine package (shuffle, task, …) would link it into all of them. The engine adapts to obs.
func TestImportsNoEnginePackage(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/ireports/ireports/") {
			t.Errorf("obs imports %s", imp)
		}
	}
}

// TestShuffleServedKeepsSendfile serves a file through both wrappers, as a worker does, and
// checks that the bytes count and that the writer's ReadFrom is still reached.
func TestShuffleServedKeepsSendfile(t *testing.T) {
	payload := strings.Repeat("segment-bytes;", 1000)
	var sawReaderFrom bool
	h := CountShuffleServed(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawReaderFrom = w.(io.ReaderFrom)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(payload))
	}))
	mux := http.NewServeMux()
	mux.Handle("/shuffle/", h)
	srv := httptest.NewServer(HTTPMetrics("worker-test", mux))
	defer srv.Close()
	before := value(t, "ireports_shuffle_served_bytes_total", nil)
	res, err := http.Get(srv.URL + "/shuffle/j/0/0")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != payload {
		t.Errorf("body of %d bytes, want %d", len(b), len(payload))
	}
	if served := settle(t, "ireports_shuffle_served_bytes_total", nil, before, float64(len(payload))); served != float64(len(payload)) {
		t.Errorf("served bytes moved by %v, want %d", served, len(payload))
	}
	if !sawReaderFrom {
		t.Error("the wrapped ResponseWriter lost io.ReaderFrom (sendfile)")
	}
}

func TestTrackScheduler(t *testing.T) {
	untrack1 := TrackScheduler(func() SchedulerStats {
		return SchedulerStats{Pending: map[string]int{"map": 3}, Running: map[string]int{"map": 2}, Workers: 2, Slots: 8}
	})
	untrack2 := TrackScheduler(func() SchedulerStats {
		return SchedulerStats{Running: map[string]int{"reduce": 1}, Workers: 1, Slots: 4}
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ireports_tasks", map[string]string{"kind": "map", "state": "pending"}, 3},
		{"ireports_tasks", map[string]string{"kind": "map", "state": "running"}, 2},
		{"ireports_tasks", map[string]string{"kind": "reduce", "state": "running"}, 1},
		{"ireports_tasks", map[string]string{"kind": "reduce", "state": "pending"}, 0},
		{"ireports_workers_live", nil, 3},
		{"ireports_worker_slots", nil, 12},
	} {
		if got := value(t, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	untrack1()
	untrack2()
	if got := value(t, "ireports_workers_live", nil); got != 0 {
		t.Errorf("workers live after untracking = %v, want 0", got)
	}
}

func TestHandlerExposesMetrics(t *testing.T) {
	AttemptFinished(label(KindMap), label("lost"))
	JobStarted()
	JobFinished("succeeded", 3*time.Second)
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, name := range []string{
		"ireports_tasks", "ireports_workers_live", "ireports_worker_slots", "ireports_task_attempts_total",
		"ireports_task_duration_seconds", "ireports_tasks_in_progress",
		"ireports_records_read_total", "ireports_records_written_total", "ireports_records_rejected_total",
		"ireports_records_duplicate_total", "ireports_input_bytes_total",
		"ireports_shuffle_served_bytes_total", "ireports_shuffle_fetched_bytes_total",
		"ireports_shuffle_fetches_total", "ireports_shuffle_fetch_failures_total",
		"ireports_jobs_running", "ireports_jobs_finished_total", "ireports_job_duration_seconds",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !bytes.Contains(body, []byte("\n# TYPE "+name+" ")) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !bytes.Contains(body, []byte(`ireports_task_attempts_total{kind="map",state="lost"}`)) {
		t.Error(`/metrics lacks ireports_task_attempts_total{kind="map",state="lost"}`)
	}
}

// TestPprofHandlerHidesCmdline: the daemons' pprof listener serves profiles but not the
// process's command line, however the path is spelled.
func TestPprofHandlerHidesCmdline(t *testing.T) {
	h := PprofHandler()
	for _, p := range []string{"/debug/pprof/cmdline", "/debug/pprof/cmdline/", "/debug/pprof/cmdline?x=1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "obs.test") {
			t.Errorf("GET %s = %d %q, want 404 without the command line", p, rec.Code, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /debug/pprof/ = %d, want 200", rec.Code)
	}
}
