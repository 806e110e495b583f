package viz

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where the browser test writes its screenshots: $IREPORTS_ARTIFACTS/viz,
// else artifacts/viz in the repository (git-ignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IREPORTS_ARTIFACTS")
	if dir == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "artifacts")
	}
	dir = filepath.Join(dir, "viz")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium tab with the console messages it has seen.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots

	mu      sync.Mutex // guards console
	console []string   // errors and exceptions, "type: text (url)"
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf // CI installs both (make deps): a missing one is a broken build
	}
	if _, err := exec.LookPath(chromiumPath); err != nil {
		skip("browser test: %s not found (apt-get install chromium, or make deps): %v", chromiumPath, err)
	}
	if _, err := FindPlotly(); err != nil {
		skip("browser test: %v (npm ci, or make deps)", err)
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		// This machine reaches no network but loopback: keep Chromium from trying.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000), // the width the pages are laid out for
		// A loaded 2-core machine can take more than the default 20 s to start Chromium.
		chromedp.WSURLReadTimeout(90*time.Second),
		// Headless Chromium reports a device that cannot hover, where Plotly shows its
		// toolbar all the time; give it a desk's mouse, so the screenshots show what an
		// analyst sees (hover type 2: hover; pointer type 4: fine).
		chromedp.Flag("blink-settings", "primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base, dir: artifactsDir(t)}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	// The first action starts the browser: no timeout on it (it would bound the browser's life).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			msg = fmt.Sprintf("console.%s: %s", e.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		msg += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber)
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			msg = fmt.Sprintf("log %s error: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL)
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.console = append(b.console, msg)
		b.mu.Unlock()
	}
}

// takeConsole returns the console errors seen since the last call.
func (b *browser) takeConsole() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.console
	b.console = nil
	return c
}

// chartState is what the page shows in one chart element.
type chartState struct {
	ID     string `json:"id"`
	State  string `json:"state"` // ready, empty, error
	Rev    int    `json:"rev"`
	Text   string `json:"text"`   // the message of an empty chart
	Traces int    `json:"traces"` // traces with at least one data point
	Sig    string `json:"sig"`    // a digest of every trace's data, to tell a change
}

// chartsJS reads every .chart element: its state and a digest of the data Plotly drew.
const chartsJS = `[...document.querySelectorAll('.chart')].map((d) => {
  const arr = (a) => (Array.isArray(a) ? a.flat(2) : []);
  const traces = (d.data || []).filter((t) => arr(t.x).length + arr(t.y).length + arr(t.z).length > 0);
  const sig = traces.map((t) => [t.name || '', arr(t.x).length, arr(t.y).slice(0, 2000).join(','), arr(t.z).join(',')].join('|')).join('#');
  return { id: d.id, state: d.dataset.state || '', rev: +(d.dataset.rev || 0), text: d.dataset.state === 'ready' ? '' : d.textContent, traces: traces.length, sig };
})`

// settled is true once the page's scripts have drawn every chart and nothing is loading.
const settled = `document.body.dataset.busy === '0' && [...document.querySelectorAll('.chart')].every((d) => d.dataset.state)`

// open loads path and waits until every chart is drawn.
func (b *browser) open(path string) []chartState { return b.openAt(b.base, path) }

// openAt is open on another server, at base.
func (b *browser) openAt(base, path string) []chartState {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+path)); err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return b.wait(ctx, path)
}

// eval evaluates a JavaScript expression in the page and decodes its value into T.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%.80s: %v", js, err)
	}
	return v
}

func (b *browser) wait(ctx context.Context, what string) []chartState {
	b.t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](settled, chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		b.t.Fatalf("%s: the charts were not all drawn: %v; console: %v", what, err, b.takeConsole())
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartState](chartsJS))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if len(charts) == 0 {
		b.t.Fatalf("%s: no charts on the page", what)
	}
	return charts
}

// change sets a control's value and fires its change event, as a user's pick does, then
// waits until the charts are drawn again.
func (b *browser) change(id, value string) []chartState {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	js := fmt.Sprintf(`(() => { const el = document.getElementById(%q); el.value = %q;
		if (el.value !== %q) return false; el.dispatchEvent(new Event('change')); return true; })()`, id, value, value)
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil || !ok {
		b.t.Fatalf("set #%s to %q: ok %v, %v", id, value, ok, err)
	}
	return b.wait(ctx, "after #"+id+" = "+value)
}

// options returns the values of a select's options.
func (b *browser) options(id string) []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.getElementById(%q).options].map((o) => o.value)`, id)))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

func (b *browser) text(id string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById(%q).textContent`, id)))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// screenshot writes the whole page as name.png in the artifacts folder.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	// Generous: a full-page screenshot of a loaded 2-core machine can take half a minute.
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

// noConsoleErrors fails the test for any console error since the last check.
func (b *browser) noConsoleErrors(what string) {
	b.t.Helper()
	for _, m := range b.takeConsole() {
		b.t.Errorf("%s: %s", what, m)
	}
}

// allDrawn checks that every chart is drawn with data.
func allDrawn(t *testing.T, what string, charts []chartState) {
	t.Helper()
	for _, c := range charts {
		if c.State != "ready" || c.Traces == 0 {
			t.Errorf("%s: chart %s is %q with %d traces with data: %q", what, c.ID, c.State, c.Traces, c.Text)
		}
	}
}

// drawnOrExplained checks that every chart is drawn with data or says why it is empty.
func drawnOrExplained(t *testing.T, what string, charts []chartState) {
	t.Helper()
	for _, c := range charts {
		switch {
		case c.State == "ready" && c.Traces > 0:
		case c.State == "empty" && strings.HasPrefix(c.Text, "no "):
		default:
			t.Errorf("%s: chart %s is %q with %d traces with data: %q", what, c.ID, c.State, c.Traces, c.Text)
		}
	}
}

func byID(charts []chartState) map[string]chartState {
	m := map[string]chartState{}
	for _, c := range charts {
		m[c.ID] = c
	}
	return m
}

func testBrowser(t *testing.T, e *env) {
	b := newBrowser(t, e.ts.URL)
	start := time.Now()
	md, err := e.srv.meta.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("overview", func(t *testing.T) {
		b.t = t
		charts := b.open("/")
		allDrawn(t, "overview", charts)
		b.noConsoleErrors("overview")
		b.screenshot("overview")

		// The request type filter redraws the map with that type's bins only.
		types := b.options("type")
		if len(types) < 3 {
			t.Fatalf("type filter offers %v", types)
		}
		after := byID(b.change("type", types[1]))
		if m := after["chart-map"]; m.State != "ready" || m.Sig == byID(charts)["chart-map"].Sig {
			t.Errorf("choosing type %q did not redraw the map with other data: %+v", types[1], m)
		}
		b.noConsoleErrors("overview, type filter")
		b.screenshot("overview-type-filter")
	})

	t.Run("overview of every city", func(t *testing.T) {
		b.t = t
		for _, c := range md.cities {
			charts := b.open("/?city=" + c.ID)
			drawnOrExplained(t, c.ID, charts)
			if m := byID(charts); m["chart-map"].State != "ready" || m["chart-top"].State != "ready" {
				t.Errorf("%s: map or top types not drawn: %+v %+v", c.ID, m["chart-map"], m["chart-top"])
			}
			b.noConsoleErrors("overview of " + c.ID)
			b.screenshot("overview-" + c.ID)
		}
	})

	t.Run("empty state", func(t *testing.T) {
		b.t = t
		charts := byID(b.open("/?city=boston&from=2012-01&to=2012-12"))
		for _, id := range []string{"chart-map", "chart-top", "chart-resolution"} {
			if c := charts[id]; c.State != "empty" || !strings.Contains(c.Text, "for Boston in 2012") {
				t.Errorf("%s for Boston in 2012: %q %q, want a message saying there is no data for Boston in 2012", id, c.State, c.Text)
			}
		}
		b.noConsoleErrors("empty state")
		b.screenshot("overview-empty-boston-2012")
	})

	t.Run("agency daily review", func(t *testing.T) {
		b.t = t
		charts := b.open("/review")
		allDrawn(t, "review", charts)
		if kpi := b.text("kpi-recent"); kpi == "" || kpi == "–" {
			t.Errorf("recent average not shown: %q", kpi)
		}
		b.noConsoleErrors("review")
		b.screenshot("review")

		// Selecting an agency re-renders every panel with that agency's data.
		agencies := b.options("agency")
		if len(agencies) < 3 || agencies[0] != "" {
			t.Fatalf("agency filter offers %v", agencies)
		}
		before := byID(charts)
		after := b.change("agency", agencies[1])
		allDrawn(t, "review of "+agencies[1], after)
		for _, c := range after {
			if c.Rev <= before[c.ID].Rev {
				t.Errorf("chart %s not redrawn after choosing agency %q", c.ID, agencies[1])
			}
			if c.Sig == before[c.ID].Sig {
				t.Errorf("chart %s shows the same data for agency %q as for all agencies", c.ID, agencies[1])
			}
		}
		b.noConsoleErrors("review, agency filter")
		b.screenshot("review-agency")
	})

	t.Run("review of every city", func(t *testing.T) {
		b.t = t
		for _, c := range md.cities {
			drawnOrExplained(t, c.ID, b.open("/review?city="+c.ID))
			b.noConsoleErrors("review of " + c.ID)
			b.screenshot("review-" + c.ID)
		}
	})
	testChartsRead(t, b, e, md)
	t.Logf("browser: %.1fs", time.Since(start).Seconds())
}
