package coordinator

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/socrata"
	"github.com/ireports/ireports/socrata/sodatest"
	"github.com/ireports/ireports/viz"
)

// incJob writes the daily job of issue 7 against a fake SODA server, with its lake under dir.
func incJob(t *testing.T, dir, endpoint, db string) *jobs.Spec {
	t.Helper()
	src := fmt.Sprintf(`
source "nyc_api" {
  kind      = "socrata"
  endpoint  = %q
  schema    = "nyc"
  page_size = 40
  start     = "2000-01-01T00:00:00"
  raw       = "raw/nyc"
  retry_for = "2s"
}
job "nyc_daily" {
  reducers = 3
  input "nyc" { source = "nyc_api" }
  schedule = "daily 02:00 America/New_York"
  output {
    parquet  = "lake/requests"
    postgres = %q
  }
}
`, endpoint, db)
	p := filepath.Join(dir, "nyc_daily.job")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// fastSources makes outages end in seconds, not minutes.
func fastSources(s *socrata.Source) {
	s.BackoffBase, s.BackoffMax, s.RequestTimeout = 20*time.Millisecond, 200*time.Millisecond, 5*time.Second
}

// TestIncremental is issue 7's daily pull end to end: an outage mid-pull ends the run
// cleanly and the next run catches up to exactly what one uninterrupted pull gives; a
// run with nothing new changes nothing; requests closed later change exactly their groups;
// records created today show up in agency_daily.
func TestIncremental(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and a fake SODA server: skipped under -short")
	}
	fixture := filepath.Join(testenv.RealData(t), "nyc", "soda_erm2-nwe9_page.json")
	pg := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	newServer := func() *sodatest.Server {
		s, err := sodatest.New(sodatest.Config{Fixture: fixture, Generate: 300, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	run := func(spec *jobs.Spec) *Result {
		t.Helper()
		res, err := runJob(t, ctx, spec, LocalConfig{Workers: 2, SourceTuning: fastSources})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		checkAccounting(t, res)
		return res
	}

	// The reference: one uninterrupted pull into its own database and lake.
	refDB := pg.CreateDatabase(t, "reference")
	ref := run(incJob(t, t.TempDir(), newServer().Endpoint, refDB))
	if ref.Status != Succeeded || ref.RecordsIn == 0 || ref.Published != Published {
		t.Fatalf("reference run: %s, %d records, %q", ref.Status, ref.RecordsIn, ref.Published)
	}

	// The same dataset behind an API that goes down after three pages.
	api := newServer()
	db := pg.CreateDatabase(t, "daily")
	dir := t.TempDir()
	spec := incJob(t, dir, api.Endpoint, db)
	api.FailAfter(3, sodatest.Fault{Status: 503}, 1<<30)
	down := run(spec)
	if down.Status != SourceUnavailable || len(down.Pulls) != 1 || down.Pulls[0].Batches != 3 {
		t.Fatalf("run during the outage: status %q, pulls %+v; want %q after 3 stored batches", down.Status, down.Pulls, SourceUnavailable)
	}
	if _, err := os.Stat(filepath.Join(spec.Output.Parquet, "_SUCCESS")); err == nil {
		t.Error("a run that ended with the source unavailable committed a lake")
	}
	api.Recover()
	caught := run(spec)
	if caught.Status != Succeeded || caught.RecordsIn != ref.RecordsIn {
		t.Fatalf("catch-up run: %s with %d records; the uninterrupted pull read %d", caught.Status, caught.RecordsIn, ref.RecordsIn)
	}
	if got, want := digestOf(t, db), digestOf(t, refDB); got != want {
		t.Errorf("after the outage and the catch-up, the summaries differ from one uninterrupted pull:\n got %s\nwant %s", got, want)
	}

	// Nothing new: nothing changes.
	before := jobtest.GroupDigests(t, db)
	idle := run(spec)
	if idle.Status != Succeeded || idle.RecordsIn != 0 || idle.Groups != 0 {
		t.Errorf("run with nothing new: %s, %d records, %d groups", idle.Status, idle.RecordsIn, idle.Groups)
	}

	// Requests closed later change their groups, and only theirs.
	keys := api.Add(5, time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC))
	run(spec)
	before = jobtest.GroupDigests(t, db)
	closedAt := time.Date(2024, 7, 3, 9, 0, 0, 0, time.UTC)
	for _, k := range keys[:2] {
		if err := api.CloseRequest(k, closedAt); err != nil {
			t.Fatal(err)
		}
	}
	upd := run(spec)
	if upd.RecordsIn != 2 || upd.RecordsCarried == 0 {
		t.Errorf("update run: %d records in, %d carried; want the 2 closed requests merged into their groups", upd.RecordsIn, upd.RecordsCarried)
	}
	after := jobtest.GroupDigests(t, db)
	changed := 0
	for g, d := range before {
		if after[g] != d {
			changed++
		}
	}
	if changed == 0 || changed > upd.Groups || len(after) != len(before) {
		t.Errorf("update run rewrote %d groups; %d groups' summaries changed of %d (now %d)", upd.Groups, changed, len(before), len(after))
	}
	sdb, _ := sql.Open("postgres", db)
	defer sdb.Close()
	var closed int64
	if err := sdb.QueryRow(`SELECT coalesce(sum(closed), 0) FROM agency_daily WHERE city = 'nyc' AND closed > 0 AND day >= '2024-04-01'`).Scan(&closed); err != nil || closed < 2 {
		t.Errorf("agency_daily counts %d closed requests among the generated ones (err %v), want at least 2", closed, err)
	}

	// Records opened today appear in the agency daily review's table.
	today := time.Now().UTC()
	ny := mustZone(t, "America/New_York")
	for _, k := range api.Add(3, today) {
		// Generated records were opened up to 90 days before `at`; these were opened now.
		if err := api.Update(k, today, map[string]string{"created_date": today.In(ny).Format(sodatest.FloatingLayout)}); err != nil {
			t.Fatal(err)
		}
	}
	run(spec)
	var n int64
	day := today.In(ny).Format("2006-01-02")
	if err := sdb.QueryRow(`SELECT coalesce(sum(opened), 0) FROM agency_daily WHERE city = 'nyc' AND day = $1`, day).Scan(&n); err != nil || n < 1 {
		t.Errorf("agency_daily has %d requests opened on %s (err %v), want the new ones", n, day, err)
	}
	checkReviewShowsDay(t, db, day)
}

// checkReviewShowsDay asks the viz server's agency daily review for NYC (its default
// window ends with the city's latest month) and checks that day's requests are plotted.
func checkReviewShowsDay(t *testing.T, db, day string) {
	t.Helper()
	// The API is what is checked, not the page: any file stands in for plotly.js.
	stub := filepath.Join(t.TempDir(), "plotly.min.js")
	if err := os.WriteFile(stub, []byte("/* stub */"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := viz.DefaultConfig()
	cfg.DB, cfg.Log, cfg.PlotlyJS = db, slog.New(slog.DiscardHandler), stub
	s, err := viz.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/review?city=nyc")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var review struct {
		Daily struct {
			Recent struct {
				Days   []string `json:"days"`
				Opened []*int64 `json:"opened"`
			} `json:"recent"`
		} `json:"daily"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/review?city=nyc: %s, %v", resp.Status, err)
	}
	r := review.Daily.Recent
	i := slices.Index(r.Days, day)
	if i < 0 || i >= len(r.Opened) || r.Opened[i] == nil || *r.Opened[i] < 1 {
		t.Errorf("the agency daily review's recent days %v do not plot requests on %s", r.Days, day)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
