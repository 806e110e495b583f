package testenv

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MinIO server")
	}
	m := MinIO(t)
	out, err := m.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &m.Bucket})
	if err != nil {
		t.Fatalf("list the new bucket: %v", err)
	}
	if len(out.Contents) != 0 {
		t.Fatalf("new bucket holds %d objects", len(out.Contents))
	}
	if got := m.URL("a/b.csv"); got != "s3://"+m.Bucket+"/a/b.csv" {
		t.Errorf("URL = %q", got)
	}
}

// backend answers every request with a fixed 1000-byte body.
func backend(t *testing.T) *httptest.Server {
	body := strings.Repeat("x", 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// outcome is what a client saw of one request.
type outcome struct {
	status int // 0: the connection failed
	body   int // bytes read before EOF or the failure
	err    bool
}

func do(t *testing.T, c *http.Client, method, url string) outcome {
	req, _ := http.NewRequest(method, url, strings.NewReader("payload"))
	resp, err := c.Do(req)
	if err != nil {
		return outcome{err: true}
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return outcome{status: resp.StatusCode, body: int(n), err: err != nil}
}

func TestFaultProxy(t *testing.T) {
	cases := []struct {
		name   string
		method string
		fault  Fault
		want   outcome
	}{
		{"slowdown", "PUT", SlowDown, outcome{status: 503, body: -1}},
		{"internal_error", "GET", InternalError, outcome{status: 500, body: -1}},
		{"reset", "GET", Reset, outcome{err: true}},
		{"truncate_get", "GET", Truncate, outcome{status: 200, body: 500, err: true}},
		{"truncate_put_resets", "PUT", Truncate, outcome{err: true}},
		{"stall", "GET", Stall, outcome{err: true}},
	}
	srv := backend(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := FaultProxy(t, srv.URL, FaultPlan{Every: 2, Kinds: []Fault{c.fault}, Stall: 10 * time.Millisecond})
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			for i := 1; i <= 4; i++ {
				got := do(t, client, c.method, p.URL+"/bucket/key")
				if i%2 == 1 {
					if got != (outcome{status: 200, body: 1000}) {
						t.Fatalf("request %d (not faulted): %+v", i, got)
					}
					continue
				}
				if c.want.body < 0 { // an S3 error document
					if got.status != c.want.status || got.err {
						t.Fatalf("request %d: %+v; want status %d", i, got, c.want.status)
					}
					continue
				}
				if got != c.want {
					t.Fatalf("request %d: %+v; want %+v", i, got, c.want)
				}
			}
			if n := p.Requests(); n != 4 {
				t.Errorf("Requests = %d, want 4", n)
			}
			if f := p.Faults(); f[c.fault] != 2 {
				t.Errorf("Faults = %v, want 2 of %v", f, c.fault)
			}
		})
	}
}

// TestFaultPlanRate checks that a seeded plan faults the same requests on every run.
func TestFaultPlanRate(t *testing.T) {
	srv := backend(t)
	pattern := func() string {
		p := FaultProxy(t, srv.URL, FaultPlan{Rate: 0.3, Seed: 42, Kinds: []Fault{SlowDown}})
		var b strings.Builder
		for range 40 {
			if do(t, http.DefaultClient, "GET", p.URL).status == 503 {
				b.WriteByte('F')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "F"); n < 4 || n > 24 {
		t.Fatalf("%d of 40 requests faulted at rate 0.3: %s", n, a)
	}
}
