package auth

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const token = "s3cret-token"

// TestRequireToken covers the rules of the package comment, each with the request a browser
// or a misconfigured node would send. The Basic-auth POST and the text/plain POST are the
// CSRF attacks: before, both reached the handler.
func TestRequireToken(t *testing.T) {
	for _, tc := range []struct {
		name        string
		method      string
		auth        func(r *http.Request)
		contentType string
		want        int
		wantMsg     string
	}{
		{"GET with bearer", http.MethodGet, bearer(token), "", http.StatusOK, ""},
		{"GET with basic (a browser on the status page)", http.MethodGet, basic(token), "", http.StatusOK, ""},
		{"HEAD with basic", http.MethodHead, basic(token), "", http.StatusOK, ""},
		{"GET without token", http.MethodGet, nil, "", http.StatusUnauthorized, "missing or wrong"},
		{"GET with wrong bearer", http.MethodGet, bearer("x" + token), "", http.StatusUnauthorized, "missing or wrong"},
		{"GET with wrong basic", http.MethodGet, basic(token[1:]), "", http.StatusUnauthorized, "missing or wrong"},
		{"POST json with bearer", http.MethodPost, bearer(token), "application/json", http.StatusOK, ""},
		{"POST json with charset", http.MethodPost, bearer(token), "application/json; charset=utf-8", http.StatusOK, ""},
		{"POST with basic auth (CSRF from a browser)", http.MethodPost, basic(token), "application/json", http.StatusUnauthorized, "bearer token"},
		{"POST form with basic auth (CSRF)", http.MethodPost, basic(token), "application/x-www-form-urlencoded", http.StatusUnauthorized, "bearer token"},
		{"POST text/plain with bearer", http.MethodPost, bearer(token), "text/plain", http.StatusUnsupportedMediaType, "application/json"},
		{"POST without content type", http.MethodPost, bearer(token), "", http.StatusUnsupportedMediaType, "application/json"},
		{"POST without token", http.MethodPost, nil, "application/json", http.StatusUnauthorized, "missing or wrong"},
		{"DELETE with basic", http.MethodDelete, basic(token), "application/json", http.StatusUnauthorized, "bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			h := RequireToken(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
			r := httptest.NewRequest(tc.method, "/api/v1/jobs", strings.NewReader("{}"))
			if tc.auth != nil {
				tc.auth(r)
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
			}
			if reached != (tc.want == http.StatusOK) {
				t.Errorf("handler reached: %v, want %v", reached, tc.want == http.StatusOK)
			}
			if !strings.Contains(w.Body.String(), tc.wantMsg) {
				t.Errorf("body %q lacks %q", w.Body, tc.wantMsg)
			}
			if strings.Contains(w.Body.String(), token) {
				t.Errorf("the answer shows the token: %s", w.Body)
			}
		})
	}
}

// TestGuardLogsRefusals: a refused token is logged once per client host and minute, with
// the path and client, and never with the token presented.
func TestGuardLogsRefusals(t *testing.T) {
	var buf bytes.Buffer
	g := &Guard{Token: token, Log: slog.New(slog.NewTextHandler(&buf, nil))}
	h := g.Handler(http.NotFoundHandler())
	for range 3 {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/worker/poll", strings.NewReader("{}"))
		r.RemoteAddr = "10.0.0.7:41234"
		r.Header.Set("Content-Type", "application/json")
		bearer("old-" + token)(r)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	log := buf.String()
	if n := strings.Count(log, "refused a request"); n != 1 {
		t.Errorf("%d log lines for 3 refusals from one host in a minute, want 1:\n%s", n, log)
	}
	for _, want := range []string{"/api/v1/worker/poll", "10.0.0.7", "--token-file"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, token) {
		t.Errorf("log shows the presented token:\n%s", log)
	}
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func basic(pw string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth("", pw) }
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	os.WriteFile(good, []byte("  abc\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if tok, err := LoadToken(good); err != nil || tok != "abc" {
		t.Errorf("LoadToken(good) = %q, %v", tok, err)
	}
	if _, err := LoadToken(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("LoadToken(empty) = %v, want an error saying empty", err)
	}
	t.Setenv(EnvToken, "from-env")
	if tok, err := LoadToken(""); err != nil || tok != "from-env" {
		t.Errorf("LoadToken(\"\") = %q, %v", tok, err)
	}
}
