package pgsink

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// realFiles are the CSV fixtures the test lake is built from, with their schemas.
var realFiles = []struct{ file, schema string }{
	{"nyc/portal_2011_subset.csv", "nyc"},
	{"nyc/soda_erm2-nwe9_page.csv", "nyc"},
	{"la/myla311_2017_subset.csv", "la"},
	{"sf/sf311_cases_sample_10000.csv", "sf"},
	{"boston/boston311_2025_cases.csv", "boston"},
	{"baltimore/baltimore311_sample_10000.csv", "baltimore"},
}

// realLake builds summary datasets under a temporary directory holding the summary files of
// every group of the real fixtures, computed and written as the reducers do, and returns
// their root and groups (sorted).
func realLake(t testing.TB) (string, []record.Key) {
	t.Helper()
	data := testenv.RealData(t)
	groups := map[record.Key]map[string]record.Request{}
	locs := map[string]*time.Location{}
	for _, rf := range realFiles {
		s, ok := jobs.Builtin(rf.schema)
		if !ok {
			t.Fatalf("no built-in schema %q", rf.schema)
		}
		locs[s.City] = s.Location
		readCSV(t, filepath.Join(data, rf.file), s, func(r *record.Request) {
			k := record.Key{City: r.City, Year: r.Year, Month: r.Month}
			if groups[k] == nil {
				groups[k] = map[string]record.Request{}
			}
			groups[k][r.RequestID] = *r // the later version wins, as in the reducer
		})
	}
	sums, root := t.TempDir(), ""
	var keys []record.Key
	for k, byID := range groups {
		reqs := make([]record.Request, 0, len(byID))
		for _, r := range byID {
			reqs = append(reqs, r)
		}
		root = writeSummaries(t, sums, k, summary.Compute(k, locs[k.City], reqs))
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b record.Key) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	return root, keys
}

// readCSV calls fn with every record of a CSV file that s normalizes; rejects are skipped
// (the jobs package tests them).
func readCSV(t testing.TB, path string, s *jobs.Schema, fn func(*record.Request)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	n, err := s.Bind(header)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var r record.Request
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fields := make([][]byte, len(rec))
		for i, v := range rec {
			fields[i] = []byte(v)
		}
		if n.Normalize(fields, &r) == nil {
			fn(&r)
		}
	}
}

// writeSummaries writes group k's tables as the reducers and the commit do, into a stage of
// the summaries root root that it then commits, and returns root.
func writeSummaries(t testing.TB, root string, k record.Key, tab summary.Tables) string {
	t.Helper()
	commitSummaries(t, t.TempDir(), root, k, tab)
	return root
}

// commitSummaries commits group k's tables to the lake at lakeRoot (with no group: the
// commit's manifest goes there) and the summaries root root as the reducers and the commit do:
// its summary files, and its publish file where pgcopy.Marshal makes one. It returns the
// commit's manifest.
func commitSummaries(t testing.TB, lakeRoot, root string, k record.Key, tab summary.Tables) *lake.Manifest {
	t.Helper()
	ctx := context.Background()
	st, err := lake.NewStage(testStore(t), root, "test", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	lst, err := lake.NewStage(testStore(t), lakeRoot, "test", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.StageSummaries(ctx, st, k, tab); err != nil {
		t.Fatal(err)
	}
	if data, err := pgcopy.Marshal(k, &tab); err == nil {
		if _, err := lake.StagePublishFile(ctx, st, k, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(st.Finish(ctx), lst.Finish(ctx)); err != nil {
		t.Fatal(err)
	}
	g := lake.CommitGroup{Key: k, AttemptDir: lst.Dir(), SummaryDir: st.Dir()}
	m, err := lake.Commit(ctx, testStore(t), lake.Roots{Lake: lakeRoot, Summaries: root}, "test", "test", lake.RunStats{}, []lake.CommitGroup{g}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// summariesManifest is the manifest of a lake whose summary datasets are at root.
func summariesManifest(root string) *lake.Manifest {
	return &lake.Manifest{Job: "test", Summaries: &lake.SummaryManifest{Root: root, Tables: lake.SummaryTables}}
}

// tableRows renders every row of tab as one line, tagged with its table, sorted: two Tables
// hold the same rows exactly when their tableRows are equal. Floats print in their shortest
// exact form, so a value that changed in its last bit shows.
func tableRows(tab summary.Tables) []string {
	f := func(p *float64) string {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprint(*p)
	}
	var rows []string
	for _, r := range tab.Monthly {
		rows = append(rows, fmt.Sprintf("monthly %q %d %d %q %q %d %d %d %s %s", r.City, r.Year, r.Month,
			r.RequestType, r.Agency, r.Requests, r.Closed, r.Open, f(r.MedianResolutionHours), f(r.P90ResolutionHours)))
	}
	for _, r := range tab.AgencyDaily {
		rows = append(rows, fmt.Sprintf("daily %q %q %d %d %d %s", r.City, r.Agency, r.Day, r.Opened, r.Closed,
			f(r.MedianResolutionHours)))
	}
	for _, r := range tab.Heat {
		rows = append(rows, fmt.Sprintf("heat %q %q %d %d %d %d %d", r.City, r.Agency, r.Year, r.Month, r.Weekday,
			r.Hour, r.Requests))
	}
	for _, r := range tab.Geo {
		rows = append(rows, fmt.Sprintf("geo %q %d %d %q %v %v %d", r.City, r.Year, r.Month, r.RequestType,
			r.LatBin, r.LonBin, r.Requests))
	}
	slices.Sort(rows)
	return rows
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

// diffRows describes how got differs from want, briefly.
func diffRows(got, want []string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, r := range got {
		g[r] = true
	}
	for _, r := range want {
		w[r] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, want %d", len(got), len(want))
	n := 0
	for _, r := range got {
		if !w[r] && n < 5 {
			fmt.Fprintf(&b, "\n  unexpected: %s", r)
			n++
		}
	}
	for _, r := range want {
		if !g[r] && n < 10 {
			fmt.Fprintf(&b, "\n  missing:    %s", r)
			n++
		}
	}
	return b.String()
}

// expected loads every group's summaries from the lake with load.
func expected(t testing.TB, groups []record.Key, load LoadFunc) []string {
	t.Helper()
	var all summary.Tables
	for _, k := range groups {
		tab, err := load(k)
		if err != nil {
			t.Fatal(err)
		}
		all.Monthly = append(all.Monthly, tab.Monthly...)
		all.AgencyDaily = append(all.AgencyDaily, tab.AgencyDaily...)
		all.Heat = append(all.Heat, tab.Heat...)
		all.Geo = append(all.Geo, tab.Geo...)
	}
	return tableRows(all)
}

// migrateBefore applies the embedded migrations older than version to db, as a binary of
// that time left it.
func migrateBefore(t testing.TB, db *sql.DB, version int) {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.version == version })
	if i < 0 {
		t.Fatalf("no migration %d", version)
	}
	for _, m := range ms[:i] {
		if err := apply(context.Background(), db, m, len(ms)); err != nil {
			t.Fatal(err)
		}
	}
}

// insertRows writes the rows load returns for groups into the summary tables as they were
// before migration 0004, one row per cell, as a publisher of then did.
func insertRows(t testing.TB, db *sql.DB, groups []record.Key, load LoadFunc) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	copyIn := func(table string, cols []string, rows func(add func(...any))) {
		stmt, err := tx.Prepare(pq.CopyIn(table, cols...))
		if err != nil {
			t.Fatal(err)
		}
		rows(func(v ...any) {
			if _, err := stmt.Exec(v...); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		})
		if _, err := stmt.Exec(); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		stmt.Close()
	}
	for _, k := range groups {
		tab, err := load(k)
		if err != nil {
			t.Fatal(err)
		}
		copyIn(summary.TableMonthly, pgcopy.Tables[0].Columns, func(add func(...any)) {
			for _, r := range tab.Monthly {
				add(r.City, r.Year, r.Month, r.RequestType, r.Agency, r.Requests, r.Closed, r.Open, r.MedianResolutionHours, r.P90ResolutionHours)
			}
		})
		copyIn(summary.TableAgencyDaily, []string{"city", "agency", "day", "year", "month", "opened", "closed", "median_resolution_hours"},
			func(add func(...any)) {
				for _, r := range tab.AgencyDaily {
					d := pgcopy.DayDate(r.Day)
					add(r.City, r.Agency, d, d.Year(), int(d.Month()), r.Opened, r.Closed, r.MedianResolutionHours)
				}
			})
		copyIn(summary.TableHeat, []string{"city", "agency", "year", "month", "weekday", "hour", "requests"}, func(add func(...any)) {
			for _, r := range tab.Heat {
				add(r.City, r.Agency, r.Year, r.Month, r.Weekday, r.Hour, r.Requests)
			}
		})
		copyIn(summary.TableGeo, []string{"city", "year", "month", "request_type", "lat_bin", "lon_bin", "requests"}, func(add func(...any)) {
			for _, r := range tab.Geo {
				add(r.City, r.Year, r.Month, r.RequestType, r.LatBin, r.LonBin, r.Requests)
			}
		})
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// dump reads every row of the four summary tables.
func dump(t testing.TB, db *sql.DB) []string {
	t.Helper()
	var tab summary.Tables
	query(t, db, "SELECT city, year, month, request_type, agency, requests, closed, open, median_resolution_hours, p90_resolution_hours FROM request_monthly",
		func(rows *sql.Rows) error {
			var r summary.Monthly
			err := rows.Scan(&r.City, &r.Year, &r.Month, &r.RequestType, &r.Agency, &r.Requests, &r.Closed, &r.Open,
				&r.MedianResolutionHours, &r.P90ResolutionHours)
			tab.Monthly = append(tab.Monthly, r)
			return err
		})
	query(t, db, "SELECT city, agency, day, year, month, opened, closed, median_resolution_hours FROM agency_daily",
		func(rows *sql.Rows) error {
			var r summary.AgencyDaily
			var day time.Time
			var year, month int
			err := rows.Scan(&r.City, &r.Agency, &day, &year, &month, &r.Opened, &r.Closed, &r.MedianResolutionHours)
			r.Day = int32(day.Unix() / 86400)
			if y, m, _ := day.Date(); y != year || int(m) != month {
				return fmt.Errorf("agency_daily row %v: year, month = %d, %d", day, year, month)
			}
			tab.AgencyDaily = append(tab.AgencyDaily, r)
			return err
		})
	query(t, db, "SELECT city, agency, year, month, weekday, hour, requests FROM request_heat",
		func(rows *sql.Rows) error {
			var r summary.Heat
			err := rows.Scan(&r.City, &r.Agency, &r.Year, &r.Month, &r.Weekday, &r.Hour, &r.Requests)
			tab.Heat = append(tab.Heat, r)
			return err
		})
	query(t, db, "SELECT city, year, month, request_type, lat_bin, lon_bin, requests FROM request_geo",
		func(rows *sql.Rows) error {
			var r summary.Geo
			err := rows.Scan(&r.City, &r.Year, &r.Month, &r.RequestType, &r.LatBin, &r.LonBin, &r.Requests)
			tab.Geo = append(tab.Geo, r)
			return err
		})
	return tableRows(tab)
}

func query(t testing.TB, db *sql.DB, q string, scan func(*sql.Rows) error) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// freshDB creates a new database on pg, opens it and closes it when the test ends.
func freshDB(t testing.TB, pg *testenv.PostgresServer, name string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", pg.CreateDatabase(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newSink returns a Sink on db with short retries, for tests that expect Postgres back soon
// or never.
func newSink(t testing.TB, db *sql.DB, deadline time.Duration) *Sink {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RetryDeadline = deadline
	cfg.BackoffInitial = 20 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.AttemptTimeout = time.Minute
	cfg.BatchRows = 1000 // several batches per publish of the real lake
	cfg.Log = quiet
	s, err := New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// quiet discards the retry warnings tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

func testStore(t testing.TB) objstore.Store {
	s, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
