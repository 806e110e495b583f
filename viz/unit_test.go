package viz

// Tests that need no database: parameters, periods, statistics, HTTP plumbing, and the
// server's behaviour when PostgreSQL is down. They run under -short.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/pgsink"
)

func TestParseMonth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"2012-01", "2012-01"},
		{"2199-12", "2199-12"},
		{"1900-01", "1900-01"},
		{"1899-12", ""},
		{"2200-01", ""},
		{"2012-00", ""},
		{"2012-13", ""},
		{"2012-1", ""},
		{"2012/01", ""},
		{"+012-01", ""},
		{"2012-+1", ""},
		{"2012-01-01", ""},
		{"", ""},
		{"２０１２-01", ""},
	} {
		m, err := parseMonth("from", tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseMonth(%q) = %s, want an error", tc.in, m)
		case tc.want != "" && (err != nil || m.String() != tc.want):
			t.Errorf("parseMonth(%q) = %s, %v; want %s", tc.in, m, err, tc.want)
		}
	}
	m := monthOf(2024, 2)
	if m.firstDay().Format(time.DateOnly) != "2024-02-01" || m.lastDay().Format(time.DateOnly) != "2024-02-29" || m.label() != "Feb 2024" {
		t.Errorf("Feb 2024: %v %v %q", m.firstDay(), m.lastDay(), m.label())
	}
}

func TestPeriodLabel(t *testing.T) {
	for _, tc := range []struct {
		from, to       string
		label, display string
	}{
		{"2012-01", "2012-12", "in 2012", "2012"},
		{"2012-03", "2012-03", "in Mar 2012", "Mar 2012"},
		{"2012-01", "2014-12", "in 2012–2014", "2012–2014"},
		{"2008-07", "2016-01", "between Jul 2008 and Jan 2016", "Jul 2008 – Jan 2016"},
		{"2012-01", "2012-11", "between Jan 2012 and Nov 2012", "Jan 2012 – Nov 2012"},
	} {
		f, _ := parseMonth("", tc.from)
		to, _ := parseMonth("", tc.to)
		pd := period{from: f, to: to}
		if pd.label() != tc.label || pd.display() != tc.display {
			t.Errorf("%s..%s: %q / %q, want %q / %q", tc.from, tc.to, pd.label(), pd.display(), tc.label, tc.display)
		}
	}
	if all := (period{all: true}); all.label() != "" || all.display() != "all time" {
		t.Errorf("all time: %q / %q", all.label(), all.display())
	}
	if got := noData("data", "Boston", period{from: monthOf(2012, 1), to: monthOf(2012, 12)}); got != "no data for Boston in 2012" {
		t.Errorf("noData: %q", got)
	}
}

func TestParams(t *testing.T) {
	md := &metadata{byID: map[string]*cityMeta{}}
	for _, id := range []string{"boston", "sf"} {
		c := &cityMeta{ID: id, Name: cityName(id), First: monthOf(2010, 1), Last: monthOf(2012, 6)}
		c.Agencies, c.agencySet = entries(map[string]int64{"": 3, "DPW": 10, "Mayor's Office": 1}, "(no agency)")
		c.Types, c.typeSet = entries(map[string]int64{"Pothole": 5}, "(no type)")
		md.cities = append(md.cities, c)
		md.byID[id] = c
	}
	req := func(q string) *http.Request { return httptest.NewRequest("GET", "/api/x?"+q, nil) }

	p, err := parseParams(req("city=sf&agency=Mayor%27s+Office&from=2011-02"), "city", "agency", "from", "to")
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.city(md)
	if err != nil || c.ID != "sf" {
		t.Fatalf("city: %v %v", c, err)
	}
	if key, all, err := p.agency(c); key != "Mayor's Office" || all || err != nil {
		t.Errorf("agency: %q %v %v", key, all, err)
	}
	pd, err := p.period(period{from: c.First, to: c.Last})
	if err != nil || pd.from.String() != "2011-02" || pd.to.String() != "2012-06" {
		t.Errorf("period: %+v %v", pd, err)
	}
	p, _ = parseParams(req("city=boston&agency=(none)"), "city", "agency")
	if key, all, err := p.agency(md.byID["boston"]); key != "" || all || err != nil {
		t.Errorf("agency (none): %q %v %v", key, all, err)
	}
	p, _ = parseParams(req("city=boston"), "city", "agency")
	if key, all, err := p.agency(md.byID["boston"]); key != "" || !all || err != nil {
		t.Errorf("no agency: %q %v %v", key, all, err)
	}
	p, _ = parseParams(req(""), "cities")
	if cs, err := p.cities(md, 3, true); err != nil || len(cs) != 2 {
		t.Errorf("cities default: %v %v", cs, err)
	}
	p, _ = parseParams(req("cities=sf,boston"), "cities")
	if cs, err := p.cities(md, 3, false); err != nil || len(cs) != 2 || cs[0].ID != "sf" {
		t.Errorf("cities: %v %v", cs, err)
	}
	p, _ = parseParams(req(""), "from", "to")
	if pd, err := p.period(period{all: true}); err != nil || !pd.all {
		t.Errorf("period all: %+v %v", pd, err)
	}
	p, _ = parseParams(req("from=2011-01"), "from", "to")
	if pd, err := p.period(period{all: true}); err != nil || pd.all || pd.to.String() != "2199-12" {
		t.Errorf("period from only: %+v %v", pd, err)
	}

	for _, q := range []string{
		"city=sf&city=sf", "citty=sf", "city=%zz", "city=a;b", "city=" + strings.Repeat("x", 300), "city=sf%09",
	} {
		if _, err := parseParams(req(q), "city"); err == nil {
			t.Errorf("parseParams(%q): no error", q)
		} else if !errors.As(err, new(*badRequest)) {
			t.Errorf("parseParams(%q): %v is not a bad request", q, err)
		}
	}
	for _, q := range []string{"city=la", "city=", "city=SF", "city=sf%27--"} {
		p, err := parseParams(req(q), "city")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.city(md); err == nil {
			t.Errorf("city(%q): no error", q)
		}
	}
}

func TestWeightedMedian(t *testing.T) {
	w := func(pairs ...float64) []weighted {
		var xs []weighted
		for i := 0; i < len(pairs); i += 2 {
			xs = append(xs, weighted{pairs[i], pairs[i+1]})
		}
		return xs
	}
	for _, tc := range []struct {
		name string
		xs   []weighted
		want float64
	}{
		{"one", w(7, 3), 7},
		{"odd equal weights", w(3, 1, 1, 1, 2, 1), 2},
		{"even equal weights", w(1, 1, 2, 1, 3, 1, 4, 1), 2.5},
		{"heavy value wins", w(1, 1, 100, 10, 2, 1), 100},
		{"half exactly", w(1, 5, 9, 5), 5},
	} {
		got := weightedMedian(tc.xs)
		if got == nil || *got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if weightedMedian(nil) != nil {
		t.Errorf("empty: not nil")
	}
}

func TestETagAndGzip(t *testing.T) {
	for _, tc := range []struct {
		header, etag string
		want         bool
	}{
		{`"abc"`, `"abc"`, true},
		{`W/"abc"`, `"abc"`, true},
		{`"x", "abc"`, `"abc"`, true},
		{`*`, `"abc"`, true},
		{`"abcd"`, `"abc"`, false},
		{``, `"abc"`, false},
	} {
		if got := matchesETag(tc.header, tc.etag); got != tc.want {
			t.Errorf("matchesETag(%q, %q) = %v", tc.header, tc.etag, got)
		}
	}
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"gzip", true}, {"gzip, deflate, br", true}, {"br;q=1.0, gzip;q=0.5", true}, {"gzip;q=0", false}, {"", false}, {"identity", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", tc.header)
		if got := acceptsGzip(r); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v", tc.header, got)
		}
	}
}

func TestConfig(t *testing.T) {
	fs := flag.NewFlagSet("viz", flag.ContinueOnError)
	cfg := Flags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:9999", "--query-timeout", "3s", "--plotly", "/x/plotly.min.js"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.QueryTimeout != 3*time.Second || cfg.PlotlyJS != "/x/plotly.min.js" || cfg.MetaTTL != DefaultConfig().MetaTTL {
		t.Errorf("flags gave %+v", cfg)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no database", func(c *Config) { c.DB = "" }, "pass --db-file PATH or set IREPORTS_VIZ_DB or DATABASE_URL"},
		{"zero timeout", func(c *Config) { c.QueryTimeout = 0 }, "QueryTimeout"},
		{"zero TTL", func(c *Config) { c.MetaTTL = 0 }, "MetaTTL"},
		{"no connections", func(c *Config) { c.MaxOpenConns = 0 }, "MaxOpenConns"},
		{"negative max-age", func(c *Config) { c.CacheMaxAge = -time.Second }, "CacheMaxAge"},
	} {
		c := DefaultConfig()
		c.DB = "postgres://localhost/x"
		tc.edit(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrConfig about %s", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig()
	c.DB = "postgres://localhost/x"
	c.PlotlyJS = filepath.Join(t.TempDir(), "missing.js")
	if _, err := New(c); !errors.Is(err, ErrNoPlotly) || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("missing plotly: %v", err)
	}
}

// TestDatabaseDown starts a server whose database does not answer: it still serves its
// pages, /healthz says 503, the API answers 503 with a JSON message, and Serve stops
// cleanly when its context ends.
func TestDatabaseDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now

	plotly := filepath.Join(t.TempDir(), "plotly.min.js")
	os.WriteFile(plotly, []byte("/* stub */"), 0o644)
	cfg := DefaultConfig()
	cfg.DB = "postgres://nobody@" + dead + "/x?sslmode=disable&connect_timeout=2"
	cfg.Listen = "127.0.0.1:0"
	cfg.PlotlyJS = plotly
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, func(a net.Addr) { addr <- a.String() }) }()
	base := "http://" + <-addr

	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") {
		t.Errorf("healthz: %d %q", code, body)
	}
	code, body := get("/api/cities")
	var v struct{ Error string }
	if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &v) != nil || !strings.Contains(v.Error, "unavailable") {
		t.Errorf("api/cities: %d %q", code, body)
	}
	if code, _ := get("/"); code != http.StatusOK {
		t.Errorf("page: %d", code)
	}
	// Validation needs no database.
	if code, body := get("/api/map?citty=x"); code != http.StatusBadRequest {
		t.Errorf("bad parameter: %d %q", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

// TestPublishLockKey: viz looks in pg_locks for the advisory lock pgsink's publish holds.
func TestPublishLockKey(t *testing.T) {
	if publishLockKey != pgsink.PublishLockKey {
		t.Errorf("viz's publishLockKey %#x is not pgsink.PublishLockKey %#x", publishLockKey, pgsink.PublishLockKey)
	}
}
