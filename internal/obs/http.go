package obs

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HTTPMetrics wraps h, a ServeMux, so that every request it serves is observed in
// ireports_http_request_duration_seconds with the labels server (the caller's name for this
// listener: "coordinator", "worker", "viz"), route, method and code. The route is the
// pattern of the innermost ServeMux that served the request (without its method), read
// after h returns: ServeMux records it in the *http.Request it was handed, so handlers in
// between must pass that request on, not a copy. Unmatched requests are "unmatched".
func HTTPMetrics(server string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		observe(server, routeLabel(r.Pattern), r.Method, rec.code, start)
	})
}

// RouteMetrics is HTTPMetrics for a server that wraps each route's handler as it registers
// it (viz.Config.Middleware): the returned middleware observes the requests of the route
// registered with pattern. Requests that match no route are not observed.
func RouteMetrics(server string) func(pattern string, h http.Handler) http.Handler {
	return func(pattern string, h http.Handler) http.Handler {
		route := routeLabel(pattern)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &recorder{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			observe(server, route, r.Method, rec.code, start)
		})
	}
}

func observe(server, route, method string, code int, start time.Time) {
	if code == 0 {
		code = http.StatusOK // nothing written: net/http answers 200
	}
	httpDuration.WithLabelValues(server, route, methodLabel(method), strconv.Itoa(code)).Observe(time.Since(start).Seconds())
}

func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	// "GET /api/v1/jobs/{id}" → "/api/v1/jobs/{id}"; a host-qualified pattern keeps its host.
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	return pattern
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// recorder notes a response's status and body size. It keeps the writer's io.ReaderFrom
// (so that a file served through it still goes out by sendfile) and http.Flusher, and
// unwraps for http.ResponseController.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(r.ResponseWriter, src)
	}
	r.bytes += n
	return n, err
}

func (r *recorder) Flush() {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// CountShuffleServed wraps a shuffle server's handler so that the segment bytes it sends (in 2xx
// answers) count in ireports_shuffle_served_bytes_total.
func CountShuffleServed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.code/100 == 2 {
			shuffleServed.Add(float64(rec.bytes))
		}
	})
}

// ShuffleFetches counts a reducer's shuffle fetches: each fetch in
// ireports_shuffle_fetches_total, the bytes read from them in
// ireports_shuffle_fetched_bytes_total, and the fetches that failed in
// ireports_shuffle_fetch_failures_total by reason ("fetch", "corrupt", "unauthorized",
// "other"). It is a shuffle.FetchObserver: shuffle.Observe(f, obs.ShuffleFetches{}) wraps a
// Fetcher with it. The shuffle classifies its own errors and adapts to obs, not the other way
// round, so that obs imports no engine package (and viz, which uses obs, links no shuffle).
type ShuffleFetches struct{}

// FetchStarted counts one fetch.
func (ShuffleFetches) FetchStarted() { shuffleFetches.Inc() }

// FetchedBytes counts n bytes read from a fetched segment.
func (ShuffleFetches) FetchedBytes(n int) { shuffleFetched.Add(float64(n)) }

// FetchFailed counts one failed fetch with reason (shuffle.FailureReason); a reason outside
// the known set counts as "other", so the label stays bounded.
func (ShuffleFetches) FetchFailed(reason string) {
	if !slices.Contains(fetchFailureReasons, reason) {
		reason = "other"
	}
	shuffleFailures.WithLabelValues(reason).Inc()
}

// fetchFailureReasons are the values of ireports_shuffle_fetch_failures_total's reason label
// (shuffle.FailFetch, FailCorrupt, FailUnauthorized, FailOther).
var fetchFailureReasons = []string{"fetch", "corrupt", "unauthorized", "other"}
