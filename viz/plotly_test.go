package viz

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
)

// testPlotly returns the Config.PlotlyJS for a test server and whether it is the real
// plotly.js: "" when this test binary embeds it (go test after make build), else the
// repository's npm copy (make deps), else a stub file — the handler tests need a file, not
// plotly itself, and the browser tests skip.
func testPlotly(t *testing.T) (path string, real bool) {
	t.Helper()
	if PlotlyEmbedded() {
		return "", true
	}
	if root, err := testenv.RepoRoot(); err == nil {
		p := filepath.Join(root, filepath.FromSlash(PlotlyPackagePath))
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, true
		}
	}
	p := filepath.Join(t.TempDir(), "plotly.min.js")
	if err := os.WriteFile(p, []byte("/* plotly.js not installed */\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, false
}

// TestPlotlyEmbedded serves plotly.js from the binary with no --plotly and nothing on disk:
// what a release's viz does. It needs the file `make build` copies into viz/plotly/.
func TestPlotlyEmbedded(t *testing.T) {
	if !PlotlyEmbedded() {
		msg := "plotly.js is not embedded in this test binary: run `make build` (it copies " + PlotlyPackagePath + " into viz/plotly/) first"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg) // make test builds first
		}
		t.Skip(msg)
	}
	cfg := DefaultConfig()
	cfg.DB = "postgres://nobody@127.0.0.1:1/x?sslmode=disable"
	cfg.Log = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.plotlyFrom != "embedded" {
		t.Errorf("plotly.js from %q, want the embedded copy", s.plotlyFrom)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/assets/plotly.min.js", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !bytes.Equal(body, embeddedPlotly) {
		t.Fatalf("GET /assets/plotly.min.js: %d, %d bytes, want the %d embedded bytes", rec.Code, len(body), len(embeddedPlotly))
	}
	if !bytes.Contains(body[:min(len(body), 512)], []byte("plotly.js")) {
		t.Errorf("the embedded file does not look like plotly.js: %q", body[:min(len(body), 120)])
	}
	// The page links it with its version, so a new build busts caches.
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(rec.Body.String(), `src="/assets/plotly.min.js?v=`+s.assets.version) {
		t.Errorf("the page does not load /assets/plotly.min.js?v=%s:\n%s", s.assets.version, rec.Body)
	}
}

// TestPlotlyMissing builds a server as a plain `go build` binary would be: no plotly.js
// inside. It must refuse to start and say how to get the charts, not serve a page whose
// charts never draw; --plotly still works.
func TestPlotlyMissing(t *testing.T) {
	saved := embeddedPlotly
	embeddedPlotly = nil
	t.Cleanup(func() { embeddedPlotly = saved })

	cfg := DefaultConfig()
	cfg.DB = "postgres://nobody@127.0.0.1:1/x?sslmode=disable"
	cfg.Log = slog.New(slog.DiscardHandler)
	_, err := New(cfg)
	if !errors.Is(err, ErrNoPlotly) {
		t.Fatalf("New without plotly.js: %v, want ErrNoPlotly", err)
	}
	for _, want := range []string{"built without plotly.js", "make build", "--plotly PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// The whole command: exit 1 with that message, before listening.
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--db", cfg.DB, "--listen", "127.0.0.1:0", "--admin", ""}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "make build") {
		t.Errorf("viz without plotly.js: exit %d, stderr %q; want 1 and how to get the charts", code, stderr.String())
	}

	// --plotly names a file: that one is served.
	p := filepath.Join(t.TempDir(), "plotly.min.js")
	if err := os.WriteFile(p, []byte("/* a plotly build */"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.PlotlyJS = p
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/assets/plotly.min.js", nil))
	if rec.Body.String() != "/* a plotly build */" {
		t.Errorf("--plotly %s: served %q", p, rec.Body.String())
	}
}
