package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/httpserve/httpservetest"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// shortLimits are API limits that the attacks of httpservetest outlast at once.
var shortLimits = httpserve.Limits{
	ReadHeaderTimeout: 50 * time.Millisecond,
	ReadTimeout:       100 * time.Millisecond,
	WriteTimeout:      100 * time.Millisecond,
	IdleTimeout:       100 * time.Millisecond,
	MaxHeaderBytes:    4 << 10,
}

// newTestServer starts a coordinator without workers whose config tune adjusts.
func newTestServer(t *testing.T, tune func(*ServerConfig)) *Server {
	t.Helper()
	cfg := LocalServerConfig()
	cfg.DataDir, cfg.Insecure, cfg.Token, cfg.Log = t.TempDir(), true, "secret", slog.New(slog.DiscardHandler)
	if tune != nil {
		tune(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// TestAPIServerLimits runs the slow-client attacks against the coordinator's API: before,
// its server had only a header timeout, so a client that sent a header and then nothing,
// or kept a connection idle, held it for ever, and a 1 MiB header got through.
func TestAPIServerLimits(t *testing.T) {
	s := newTestServer(t, func(c *ServerConfig) { c.HTTP = shortLimits })
	httpservetest.Check(t, httpservetest.Target{
		Addr: s.APIAddr(), Path: "/healthz", BodyPath: task.PathJobs,
		Header:         http.Header{"Authorization": {"Bearer secret"}},
		MaxHeaderBytes: shortLimits.MaxHeaderBytes,
	})
}

// TestLongPollOutlastsLimits: a worker's poll that waits longer than the API's read and
// write timeouts still gets its (empty) answer.
func TestLongPollOutlastsLimits(t *testing.T) {
	s := newTestServer(t, func(c *ServerConfig) {
		c.HTTP = shortLimits
		c.PollWait = 4 * shortLimits.WriteTimeout
	})
	code, body := apiCall(t, s, http.MethodPost, task.PathPoll, "Bearer secret", "application/json", `{"worker":"w","free":1}`)
	if code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Fatalf("long poll: %d %s, want 200 []", code, body)
	}
}

// TestAPIAuthMethods: the requests that change something take the bearer token and JSON
// only; the status page takes Basic auth and tells browsers not to frame or sniff it.
// Before, the Basic-auth and text/plain submits below created jobs (CSRF from a browser
// that has the status page's credentials).
func TestAPIAuthMethods(t *testing.T) {
	s := newTestServer(t, nil)
	basic := "Basic " + basicCreds("", "secret")
	job := mustJSON(t, task.JobSource{Path: "/nonexistent/x.job", Source: []byte("job \"x\" {}")})
	for _, tc := range []struct {
		name, method, path, auth, contentType, body string
		want                                        int
	}{
		{"submit with basic auth", http.MethodPost, task.PathJobs, basic, "application/json", job, http.StatusUnauthorized},
		{"submit as a form with basic auth", http.MethodPost, task.PathJobs, basic, "application/x-www-form-urlencoded", job, http.StatusUnauthorized},
		{"submit as text/plain", http.MethodPost, task.PathJobs, "Bearer secret", "text/plain", job, http.StatusUnsupportedMediaType},
		{"cancel with basic auth", http.MethodPost, task.PathJobs + "/x/cancel", basic, "application/json", "", http.StatusUnauthorized},
		{"cancel without content type", http.MethodPost, task.PathJobs + "/x/cancel", "Bearer secret", "", "", http.StatusUnsupportedMediaType},
		{"poll with basic auth", http.MethodPost, task.PathPoll, basic, "application/json", `{"worker":"w","free":1}`, http.StatusUnauthorized},
		{"heartbeat as text/plain", http.MethodPost, task.PathHeartbeat, "Bearer secret", "text/plain", `{"worker":"w"}`, http.StatusUnsupportedMediaType},
		{"job list with basic auth", http.MethodGet, task.PathJobs, basic, "", "", http.StatusOK},
		{"status page with basic auth", http.MethodGet, "/", basic, "", "", http.StatusOK},
		// The submit passes the gate and fails on the job file: the gate is what refused above.
		{"submit with bearer and json", http.MethodPost, task.PathJobs, "Bearer secret", "application/json", job, http.StatusBadRequest},
		// A job nobody ran is not found, whether asked about or cancelled.
		{"status of no job", http.MethodGet, task.PathJobs + "/x", "Bearer secret", "", "", http.StatusNotFound},
		{"cancel of no job", http.MethodPost, task.PathJobs + "/x/cancel", "Bearer secret", "application/json", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := apiCall(t, s, tc.method, tc.path, tc.auth, tc.contentType, tc.body)
			if code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.want)
			}
		})
	}
	if jobs := s.Jobs(); len(jobs) != 0 {
		t.Errorf("%d jobs after the refused submits, want 0", len(jobs))
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+s.APIAddr()+"/", nil)
	req.Header.Set("Authorization", basic)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for name, want := range map[string]string{
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": httpserve.StrictCSP,
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("status page %s: %q, want %q", name, got, want)
		}
	}
}

// TestTLSCluster runs a job on a cluster whose API and shuffle serve TLS with certificates
// of a CA made for the test: the workers advertise https, the job succeeds, and a client
// that does not trust the CA is refused with an error that says what to do.
func TestTLSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and runs a job")
	}
	files := httpservetest.NewTLSFiles(t)
	serverTLS, err := httpserve.ServerTLS(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := httpserve.ClientTLS(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	sc := LocalServerConfig()
	sc.DataDir, sc.Key, sc.Token, sc.Log, sc.Name, sc.TLS = filepath.Join(dir, "coordinator"), key, "secret", quiet, "coordinator", serverTLS
	srv, err := NewServer(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for i := range 2 {
		wc := worker.LocalConfig()
		wc.Name = fmt.Sprintf("worker-%d", i+1)
		wc.Join, wc.DataDir = []string{srv.GossipAddr()}, filepath.Join(dir, wc.Name)
		wc.Slots, wc.Key, wc.Token, wc.Log, wc.TLS, wc.ClientTLS = 1, key, "secret", quiet, serverTLS, clientTLS
		w, err := worker.Start(wc)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Shutdown(context.Background())
	}
	// A worker joins before it advertises its shuffle address: wait for both.
	for deadline := time.Now().Add(30 * time.Second); advertised(srv) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("workers did not register within 30s")
		}
	}
	for _, w := range srv.Scheduler().Workers() {
		if !strings.HasPrefix(w.Shuffle, "https://") {
			t.Errorf("worker %s advertises shuffle %q, want https://", w.Name, w.Shuffle)
		}
	}

	jobDir := t.TempDir()
	in := filepath.Join(jobDir, "in")
	os.MkdirAll(in, 0o755)
	var rows strings.Builder
	rows.WriteString(tinyHeader)
	for i := range 120 {
		rows.WriteString(tinyRow(i + 1))
	}
	os.WriteFile(filepath.Join(in, "a.csv"), []byte(rows.String()), 0o644)
	spec := writeSpec(t, jobDir, jobDef{schemas: tinySchema, ratio: 1, reducers: 2, split: "1KiB",
		inputs: []inputDef{{"tiny", in, "tiny", ""}}, parquet: filepath.Join(jobDir, "requests"), rejects: filepath.Join(jobDir, "rejects")})
	src, err := os.ReadFile(spec.File)
	if err != nil {
		t.Fatal(err)
	}

	base := "https://" + srv.APIAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stranger := &Client{Base: base, Token: "secret"} // trusts the system's CAs only
	if _, err := stranger.Submit(ctx, task.JobSource{Path: spec.File, Source: src}); !errors.Is(err, httpserve.ErrUntrusted) || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("submit by a client without the CA: %v; want ErrUntrusted saying --tls-ca", err)
	}
	if n := len(srv.Jobs()); n != 0 {
		t.Fatalf("%d jobs after the untrusting client's submit, want 0", n)
	}

	c := &Client{Base: base, Token: "secret", HTTP: &http.Client{Transport: httpserve.ClientTransport(clientTLS)}}
	id, err := c.Submit(ctx, task.JobSource{Path: spec.File, Source: src})
	if err != nil {
		t.Fatalf("submit over TLS: %v", err)
	}
	res, err := WaitJob(ctx, id, Follow{Poll: 50 * time.Millisecond, Interval: time.Hour, Get: c.Job, Cancel: c.Cancel})
	if err != nil {
		t.Fatalf("job over TLS: %v", err)
	}
	if res.RecordsIn != 120 || res.RecordsOut != 120 {
		t.Errorf("job read %d and wrote %d records, want 120 and 120", res.RecordsIn, res.RecordsOut)
	}

	// The command line: status over TLS fails without --tls-ca, saying so, and works with it.
	tokenFile := filepath.Join(jobDir, "token")
	os.WriteFile(tokenFile, []byte("secret\n"), 0o600)
	var stdout, stderr bytes.Buffer
	if code := runCLI([]string{"status", "--coordinator", base, "--token-file", tokenFile}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "--tls-ca") {
		t.Errorf("status without --tls-ca: exit %d, stderr %q; want non-zero naming --tls-ca", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := runCLI([]string{"status", "--coordinator", base, "--token-file", tokenFile, "--tls-ca", files.CA}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), id) {
		t.Errorf("status with --tls-ca: exit %d, stdout %q, stderr %q; want 0 listing %s", code, stdout.String(), stderr.String(), id)
	}
}

// advertised counts the workers that s knows with their shuffle address.
func advertised(s *Server) int {
	n := 0
	for _, w := range s.Scheduler().Workers() {
		if w.Shuffle != "" {
			n++
		}
	}
	return n
}

// apiCall sends one request to s's API and returns the status and body.
func apiCall(t *testing.T, s *Server, method, path, auth, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.APIAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func basicCreds(user, pw string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestClientTellsAnotherServer: an answer from a server that is not a coordinator (viz on the
// default port 8080, a proxy's error page) says so and how to point the client elsewhere;
// the coordinator's own refusals, 401 included, do not.
func TestClientTellsAnotherServer(t *testing.T) {
	ctx := context.Background()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"no such endpoint: `+r.URL.Path+`"}`, http.StatusNotFound)
	}))
	defer other.Close()
	_, err := (&Client{Base: other.URL, Token: "secret"}).Jobs(ctx)
	if err == nil || !strings.Contains(err.Error(), other.URL+" does not answer as an ireports coordinator") {
		t.Errorf("jobs from another server: %v", err)
	}
	withPassword := strings.Replace(other.URL, "http://", "http://ops:hunter2@", 1)
	if _, err := (&Client{Base: withPassword, Token: "secret"}).Jobs(ctx); err == nil || strings.Contains(err.Error(), "hunter2") ||
		!strings.Contains(err.Error(), "does not answer") {
		t.Errorf("jobs from another server, a password in the URL: %v", err)
	}

	s := newTestServer(t, nil)
	for _, c := range []*Client{{Base: s.APIAddr(), Token: "secret"}, {Base: s.APIAddr(), Token: "wrong"}} {
		_, err := c.Job(ctx, "no-such-run")
		var api *APIError
		if !errors.As(err, &api) || api.Foreign || strings.Contains(err.Error(), "does not answer") {
			t.Errorf("the coordinator's own refusal (token %s): %v", c.Token, err)
		}
	}
}
