package viz

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The checks of how the charts read at 1440 px (the browser's width): the toolbar's place,
// tick labels, the CSV links, the map's outline and the city a page opens on.

// box is an element's bounding box in the viewport, in CSS pixels.
type box struct{ L, T, R, B float64 }

func (a box) overlaps(b box) bool {
	return a.L < b.R-0.5 && b.L < a.R-0.5 && a.T < b.B-0.5 && b.T < a.B-0.5
}

// chartPartsJS scrolls chart %q into view and returns where its parts are: the mode bar,
// whether its buttons show or are hidden, the plot areas, and what must stay clear of the
// mode bar besides them (legend, colour bars, title).
const chartPartsJS = `((id) => {
  const d = document.getElementById(id);
  const r = (el) => { const b = el.getBoundingClientRect(); return { L: b.left, T: b.top, R: b.right, B: b.bottom }; };
  const all = (sel) => [...d.querySelectorAll(sel)].filter((el) => el.getBoundingClientRect().width > 0).map(r);
  const groups = [...d.querySelectorAll('.modebar-group')];
  const mb = d.querySelector('.modebar');
  return {
    chart: r(d),
    modebar: mb ? r(mb) : null,
    shown: groups.length > 0 && groups.every((g) => getComputedStyle(g).opacity === '1'),
    hidden: groups.length > 0 && groups.every((g) => getComputedStyle(g).opacity === '0'),
    plots: all('.draglayer .nsewdrag'),
    others: [...all('g.legend'), ...all('g.colorbar'), ...all('.infolayer .gtitle')],
  };
})(%q)`

type chartParts struct {
	Chart   box
	Modebar *box
	Shown   bool
	Hidden  bool
	Plots   []box
	Others  []box
}

// mouse moves the mouse to (x, y) of the viewport, as a user's hand does.
func (b *browser) mouse(x, y float64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.MouseEvent(chromedp.MouseMoved, x, y)); err != nil {
		b.t.Fatalf("move the mouse to %.0f, %.0f: %v", x, y, err)
	}
}

// poll waits until the expression is true; Plotly fades its toolbar in and out.
func (b *browser) poll(what, js string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// checkModeBars hovers every drawn chart of the open page: its toolbar is hidden until the
// mouse is over the chart, and then covers neither the plot (bars, heat-map cells, the
// map's squares) nor the legend, a colour bar or the title.
func checkModeBars(t *testing.T, b *browser, charts []chartState) {
	t.Helper()
	for _, c := range charts {
		if c.State != "ready" {
			continue
		}
		eval[bool](b, fmt.Sprintf(`(document.getElementById(%q).scrollIntoView({ block: 'center' }), true)`, c.ID))
		b.mouse(2, 2) // the page's margin, over no chart
		b.poll(c.ID+": the toolbar is hidden while the mouse is elsewhere", fmt.Sprintf("(%s).hidden", fmt.Sprintf(chartPartsJS, c.ID)))
		p := eval[chartParts](b, fmt.Sprintf(chartPartsJS, c.ID))
		if p.Modebar == nil || len(p.Plots) == 0 {
			t.Errorf("%s: no toolbar (%v) or no plot area (%d)", c.ID, p.Modebar, len(p.Plots))
			continue
		}
		plot := p.Plots[0]
		b.mouse((plot.L+plot.R)/2, (plot.T+plot.B)/2)
		b.poll(c.ID+": the toolbar shows while the mouse is over the chart", fmt.Sprintf("(%s).shown", fmt.Sprintf(chartPartsJS, c.ID)))
		p = eval[chartParts](b, fmt.Sprintf(chartPartsJS, c.ID))
		mb := *p.Modebar
		if mb.L < p.Chart.L-0.5 || mb.R > p.Chart.R+0.5 || mb.T < p.Chart.T-0.5 {
			t.Errorf("%s: the toolbar %+v sticks out of its chart %+v", c.ID, mb, p.Chart)
		}
		for _, o := range append(p.Plots, p.Others...) {
			if mb.overlaps(o) {
				t.Errorf("%s: the toolbar %+v covers part of the chart at %+v", c.ID, mb, o)
			}
		}
	}
	b.mouse(2, 2)
}

// tick is one category label of a horizontal bar chart as the page shows it.
type tick struct {
	Text  string // its lines, joined by a space
	Box   box
	Value string // the category, the full name
}

// ticksJS returns the y tick labels of chart %q and its plot area.
const ticksJS = `((id) => {
  const d = document.getElementById(id);
  const r = (el) => { const b = el.getBoundingClientRect(); return { L: b.left, T: b.top, R: b.right, B: b.bottom }; };
  const ax = d._fullLayout.yaxis;
  const ticks = [...d.querySelectorAll('.yaxislayer-above .ytick text')].map((el) => {
    const lines = [...el.querySelectorAll('tspan.line')];
    // d3 binds each label to its tick; on a category axis the tick's x is the category's index.
    return { text: lines.length ? lines.map((l) => l.textContent).join(' ') : el.textContent, box: r(el),
      value: String(ax._categories[Math.round(el.__data__.x)]) };
  });
  return { chart: r(d), plot: r(d.querySelector('.draglayer .nsewdrag')), ticks,
    names: (d.data[0].customdata || []).map((c) => c[0]) };
})(%q)`

type tickLabels struct {
	Chart, Plot box
	Ticks       []tick
	Names       []string // the full names, from the bars' tooltips
}

// checkLabels checks the category labels of chart id: each the full name (or, when cut
// is set for it, a beginning of it ending in "…"), inside the chart, left of the bars, and
// clear of each other. The browser lays the page out 1400 px wide.
func checkLabels(t *testing.T, b *browser, id string, cut func(name string) bool) tickLabels {
	t.Helper()
	l := eval[tickLabels](b, fmt.Sprintf(ticksJS, id))
	if len(l.Ticks) == 0 {
		t.Fatalf("%s: no tick labels", id)
	}
	for i, tk := range l.Ticks {
		switch {
		case cut != nil && cut(tk.Value):
			shown := strings.TrimSuffix(tk.Text, "…")
			if shown == tk.Text || len(shown) < 20 || !strings.HasPrefix(tk.Value, shown) {
				t.Errorf("%s: %q is shown as %q, want its beginning and …", id, tk.Value, tk.Text)
			}
		case strings.Join(strings.Fields(tk.Text), "") != strings.Join(strings.Fields(tk.Value), ""):
			// Lines are joined by a space: one broken inside a word shows one more.
			t.Errorf("%s: %q is shown as %q", id, tk.Value, tk.Text)
		}
		if tk.Box.L < l.Chart.L-0.5 || tk.Box.R > l.Plot.L+0.5 {
			t.Errorf("%s: the label %q (%+v) is cut off or reaches into the bars (chart %+v, plot %+v)", id, tk.Text, tk.Box, l.Chart, l.Plot)
		}
		for _, o := range l.Ticks[i+1:] {
			if tk.Box.overlaps(o.Box) {
				t.Errorf("%s: the labels %q and %q overlap", id, tk.Text, o.Text)
			}
		}
	}
	return l
}

// csvLink is a chart's "CSV" link as the page shows it.
type csvLink struct {
	Chart, Href string
	Hidden      bool
}

const csvLinksJS = `[...document.querySelectorAll('a.csv')].map((a) => ({ chart: a.dataset.chart, href: a.href, hidden: a.hidden }))`

// checkCSVLinks checks that every chart of the open page has a CSV link, shown when the
// chart is drawn, that downloads a CSV of its data; it returns the links.
func checkCSVLinks(t *testing.T, b *browser, charts []chartState) map[string]csvLink {
	t.Helper()
	links := map[string]csvLink{}
	for _, l := range eval[[]csvLink](b, csvLinksJS) {
		links[l.Chart] = l
	}
	for _, c := range charts {
		l, ok := links[c.ID]
		switch {
		case !ok:
			t.Errorf("%s: no CSV link", c.ID)
		case c.State == "ready" && (l.Hidden || !strings.Contains(l.Href, "format=csv")):
			t.Errorf("%s: CSV link %+v", c.ID, l)
		case c.State != "ready" && !l.Hidden:
			t.Errorf("%s: the CSV link of an empty chart shows", c.ID)
		case c.State == "ready":
			f := getCSV(t, "", l.Href)
			if len(f.rows) == 0 {
				t.Errorf("%s: the CSV %s has no rows", c.ID, f.name)
			}
		}
	}
	return links
}

// testChartsRead runs the checks on the real data (e) and the made-up cities (e.syn).
func testChartsRead(t *testing.T, b *browser, e *env, md *metadata) {
	busiest := slices.Clone(md.cities)
	slices.SortStableFunc(busiest, func(x, y *cityMeta) int {
		if x.Requests != y.Requests {
			return int(y.Requests - x.Requests)
		}
		return strings.Compare(x.ID, y.ID)
	})

	t.Run("the busiest city first", func(t *testing.T) {
		b.t = t
		for _, tc := range []struct{ base, path, want string }{
			{e.ts.URL, "/", busiest[0].ID},
			{e.ts.URL, "/review", busiest[0].ID},
			// "aaa" comes first by name, "zzz" has the most requests.
			{e.syn.URL, "/", "zzz"},
			{e.syn.URL, "/review", "zzz"},
			{e.syn.URL, "/?city=aaa", "aaa"},
			{e.syn.URL, "/review?city=aaa", "aaa"},
		} {
			b.openAt(tc.base, tc.path)
			if got := eval[string](b, `document.getElementById('city').value`); got != tc.want {
				t.Errorf("%s opens on %q, want %q", tc.path, got, tc.want)
			}
		}
		b.noConsoleErrors("busiest city")
	})

	t.Run("toolbar", func(t *testing.T) {
		b.t = t
		for _, path := range []string{"/?city=boston", "/review?city=boston"} {
			checkModeBars(t, b, b.open(path))
		}
		b.noConsoleErrors("toolbar")
	})

	t.Run("CSV links", func(t *testing.T) {
		b.t = t
		charts := b.open("/?city=sf")
		links := checkCSVLinks(t, b, charts)
		if u, err := url.Parse(links["chart-map"].Href); err != nil || u.Query().Get("city") != "sf" {
			t.Errorf("the map's CSV link %q is not San Francisco's", links["chart-map"].Href)
		}
		// The links follow the controls.
		b.change("city", "boston")
		for _, id := range []string{"chart-map", "chart-top", "chart-resolution"} {
			l := eval[[]csvLink](b, csvLinksJS)
			i := slices.IndexFunc(l, func(x csvLink) bool { return x.Chart == id })
			if u, err := url.Parse(l[i].Href); err != nil || u.Query().Get("city") != "boston" {
				t.Errorf("%s: after choosing Boston the CSV link is %q", id, l[i].Href)
			}
		}
		review := b.open("/review?city=boston")
		for id, l := range checkCSVLinks(t, b, review) {
			if u, err := url.Parse(l.Href); err != nil || u.Query().Get("chart") == "" {
				t.Errorf("%s: the review's CSV link %q names no chart", id, l.Href)
			}
		}
		empty := b.open("/?city=boston&from=2012-01&to=2012-12")
		checkCSVLinks(t, b, empty)
		b.noConsoleErrors("CSV links")
	})

	t.Run("map outline", func(t *testing.T) {
		b.t = t
		for _, c := range md.cities {
			b.open("/?city=" + c.ID)
			var m mapResp
			e.getOK(t, "/api/map?city="+c.ID, &m)
			type trace struct {
				Name, Mode, Fill string
				X, Y             []float64
			}
			tr := eval[[]trace](b, `document.getElementById('chart-map').data.map((t) => ({ name: t.name || '', mode: t.mode, fill: t.fill || '', x: t.x, y: t.y }))`)
			i := slices.IndexFunc(tr, func(x trace) bool { return x.Name == "outline" })
			if i < 0 || len(tr) != 2 || tr[1-i].Mode != "markers" {
				t.Errorf("%s: the map's traces %v: want the outline and the squares", c.ID, tr)
				continue
			}
			o := tr[i]
			n := len(o.X)
			if n < 4 || n != len(o.Y) || o.X[0] != o.X[n-1] || o.Y[0] != o.Y[n-1] || o.Fill != "toself" {
				t.Errorf("%s: the outline is no closed ring: %+v", c.ID, o)
			}
			// It outlines most of the squares: all but the strays.
			var in, all int64
			for j := range m.Lat {
				all += m.Requests[j]
				if inRing(o.X, o.Y, m.Lon[j], m.Lat[j]) {
					in += m.Requests[j]
				}
			}
			if float64(in) < outlineShare*float64(all) {
				t.Errorf("%s: the outline holds %d of %d requests", c.ID, in, all)
			}
		}
		b.noConsoleErrors("map outline")
	})

	t.Run("log axes", func(t *testing.T) {
		b.t = t
		b.open("/")
		type tickVal struct {
			X    float64
			Text string
		}
		ticks := eval[[]tickVal](b, `document.getElementById('chart-monthly')._fullLayout.yaxis._vals.map((v) => ({ x: v.x, text: v.text }))`)
		thousands := 0
		for _, tk := range ticks {
			v := math.Round(math.Pow(10, tk.X))
			if v >= 1000 {
				thousands++
				if want := fmt.Sprintf("%gk", v/1000); tk.Text != want {
					t.Errorf("the monthly chart labels %g as %q, want %q", v, tk.Text, want)
				}
			}
		}
		if thousands == 0 {
			t.Errorf("no tick of the monthly chart at 1,000 or more: %+v", ticks)
		}
	})

	t.Run("long names", func(t *testing.T) {
		b.t = t
		for _, c := range []string{"sf", "boston"} {
			b.open("/?city=" + c)
			l := checkLabels(t, b, "chart-resolution", nil)
			checkLabels(t, b, "chart-top", nil)
			if c == "boston" && !slices.ContainsFunc(l.Ticks, func(tk tick) bool { return strings.Contains(tk.Text, "Boston Transportation Department (BTD)") }) {
				t.Errorf("boston: the longest agency name is not shown whole: %+v", l.Ticks)
			}
			b.screenshot("labels-" + c)
		}
		// Names from the data are text, never markup; one too long is cut, and its bar's
		// tooltip has it whole.
		b.openAt(e.syn.URL, "/?city=zzz")
		l := checkLabels(t, b, "chart-resolution", func(name string) bool { return name == longAgency })
		if !slices.ContainsFunc(l.Ticks, func(tk tick) bool { return tk.Text == "<b>bold</b> & co" }) {
			t.Errorf("a name with markup is not shown as written: %+v", l.Ticks)
		}
		if !slices.Contains(l.Names, longAgency) {
			t.Errorf("the tooltips lack the long name: %q", l.Names)
		}
		b.screenshot("labels-hostile")
		b.noConsoleErrors("long names")
	})

	t.Run("a type with a line break", func(t *testing.T) {
		// The select's value goes to the API and into the page's URL as it is: the map
		// draws the type's rows, and the URL opens on the type again.
		b.t = t
		b.openAt(e.syn.URL, "/?city=zzz")
		const typ = "two\nlines"
		if m := byID(b.change("type", typ))["chart-map"]; m.State != "ready" || m.Traces == 0 {
			t.Errorf("map of type %q: %+v", typ, m)
		}
		b.openAt("", eval[string](b, `location.href`))
		if got := eval[string](b, `document.getElementById('type').value`); got != typ {
			t.Errorf("the page's URL reopens on type %q, want %q", got, typ)
		}
		b.noConsoleErrors("a type with a line break")
	})
}

// inRing reports whether (x, y) lies in the closed convex ring xs, ys (either orientation).
func inRing(xs, ys []float64, x, y float64) bool {
	sign := 0.0
	for i := 0; i+1 < len(xs); i++ {
		c := (xs[i+1]-xs[i])*(y-ys[i]) - (ys[i+1]-ys[i])*(x-xs[i])
		if math.Abs(c) < 1e-12 {
			continue
		}
		if sign == 0 {
			sign = math.Copysign(1, c)
		} else if math.Copysign(1, c) != sign {
			return false
		}
	}
	return true
}
