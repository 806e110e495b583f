package objstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/ireports/ireports/internal/obs"
)

// objstoreRetries reads ireports_objstore_retries_total{store="s3"} from the process's
// metrics.
func objstoreRetries(t *testing.T) float64 {
	t.Helper()
	mfs, err := obs.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ireports_objstore_retries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "store" && l.GetValue() == "s3" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// An S3 outage is not silent: every retry of the SDK is counted in /metrics (and logged at
// warn, rate-limited). The service fails its first three requests with 503, then recovers;
// the read succeeds after retries, and the counter grew by as many.
func TestS3RetriesCounted(t *testing.T) {
	m := fakeS3(t)
	target, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var failures atomic.Int32
	failures.Store(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failures.Add(-1) >= 0 {
			http.Error(w, "outage", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	r, err := New(testOptions(srv.URL, m.AccessKey, m.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	before := objstoreRetries(t)
	_, err = r.List(context.Background(), "s3://"+m.Bucket+"/none/*")
	if err != nil {
		t.Fatalf("List after a short outage: %v", err)
	}
	if got := objstoreRetries(t) - before; got != 3 {
		t.Errorf("retries counted = %v, want 3 (one per failed request)", got)
	}
}
