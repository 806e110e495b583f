package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/lake"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"1GB", 1e9, false},
		{"20GB", 20e9, false},
		{"1GiB", 1 << 30, false},
		{"256MiB", 256 << 20, false},
		{"500 MB", 500e6, false},
		{"1.5GB", 1.5e9, false},
		{"4096", 4096, false},
		{"", 0, true},
		{"GB", 0, true},
		{"1PB", 0, true},
		{"-1GB", 0, true},
		{"0GB", 0, true},
		{"1..5GB", 0, true},
		{"99999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.err {
			if !errors.Is(err, errBadSize) {
				t.Errorf("parseSize(%q) = %d, %v; want errBadSize", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestMedianAndSpread(t *testing.T) {
	tests := []struct {
		xs             []float64
		median, spread float64
	}{
		{nil, 0, 0},
		{[]float64{3}, 3, 0},
		{[]float64{5, 1, 3}, 3, 4},
		{[]float64{4, 1, 3, 2}, 2.5, 3},
		{[]float64{10, 11.5}, 10.75, 0.15},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.median {
			t.Errorf("median(%v) = %g, want %g", tt.xs, got, tt.median)
		}
		if got := spread(tt.xs); math.Abs(got-tt.spread) > 1e-12 {
			t.Errorf("spread(%v) = %g, want %g", tt.xs, got, tt.spread)
		}
	}
	if got := spread([]float64{0, 1}); !math.IsInf(got, 1) {
		t.Errorf("spread with a zero = %g, want +Inf", got)
	}
	xs := []float64{3, 1, 2}
	median(xs)
	if xs[0] != 3 || xs[1] != 1 {
		t.Errorf("median reordered its argument: %v", xs)
	}
}

func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"x": 10, "a/y": 100, "a/b/z": 1000} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "a", "b", "z"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if got := dirSize(dir); got != 1110 {
		t.Errorf("dirSize = %d, want 1110 (regular files only)", got)
	}
	if got := countFiles(dir); got != 3 {
		t.Errorf("countFiles = %d, want 3", got)
	}
	if got := dirSize(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("dirSize of a missing dir = %d, want 0", got)
	}
}

// TestRunMeasured runs a child that writes a file into the sampled directory and prints: the
// sample after the child ends sees the file whatever the interval, and the child's stdout,
// time and rusage come back.
func TestRunMeasured(t *testing.T) {
	dir := t.TempDir()
	m, err := runMeasured(context.Background(), dir, time.Hour, []string{"BENCHRUN_TEST=hello"}, "/bin/sh", "-c",
		`head -c 5000 /dev/zero > "$0/f" && echo "$BENCHRUN_TEST"`, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(m.Stdout)); got != "hello" {
		t.Errorf("stdout %q, want hello (the env entry)", got)
	}
	if m.PeakDisk != 5000 {
		t.Errorf("PeakDisk = %d, want 5000", m.PeakDisk)
	}
	if m.MaxRSS <= 0 || m.Wall <= 0 {
		t.Errorf("MaxRSS %d, Wall %v: want both positive", m.MaxRSS, m.Wall)
	}
	if _, err := runMeasured(context.Background(), "", 0, nil, "/bin/sh", "-c", "exit 3"); err == nil {
		t.Error("a child exiting 3: no error")
	}
}

// TestEnsureCorpus generates a small corpus once, writes the job over it, and reuses it.
func TestEnsureCorpus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	template := filepath.Join("..", "corpus.job.in")
	info, err := ensureCorpus(context.Background(), dir, template, 2<<20, 1, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes < 2<<20*99/100 || info.Records == 0 || info.ByCity["nyc"] == 0 || info.Files == 0 {
		t.Errorf("corpus info %+v", info)
	}
	job, err := os.ReadFile(filepath.Join(dir, "bench.job"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(job), "@CORPUS@") || !strings.Contains(string(job), `path   = "data/nyc/portal-*.csv"`) {
		t.Errorf("bench.job does not point at data/:\n%.600s", job)
	}
	// The second call finds .done and generates nothing: a file added to the corpus stays.
	marker := filepath.Join(dir, "data", "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := ensureCorpus(context.Background(), dir, template, 2<<20, 1, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the cached corpus was regenerated: %v", err)
	}
	if again.Records != info.Records || again.Bytes != info.Bytes {
		t.Errorf("cached corpus info %+v, want %+v", again, info)
	}
}

func TestScaleReport(t *testing.T) {
	row := func(label string, gb, seconds, cpu float64) scaleResult {
		return scaleResult{Label: label, Bytes: int64(gb * 1e9), Seconds: seconds, CPUSeconds: cpu, Cores: 2, Workers: 2,
			RecordsIn: int64(gb * 2e6), Phases: map[string]float64{"map": 1, "reduce": 2, "commit": 3}}
	}
	tests := []struct {
		name string
		rs   []scaleResult
		want []string
	}{
		{"flat", []scaleResult{row("1GB", 1, 10, 18), row("4GB", 4, 42, 76), row("20GB", 20, 210, 380)}, []string{
			"job time per GB: 5 % apart from the cheapest to the dearest size: flat within 15 %",
			"CPU time per GB: 6 % apart from the cheapest to the dearest size: flat within 15 %",
			"from 4GB to 20GB: 10.5 s and 19.0 CPU-s per GB more",
		}},
		{"superlinear", []scaleResult{row("1GB", 1, 10, 20), row("20GB", 20, 300, 400)}, []string{
			"job time per GB: 50 % apart from the cheapest to the dearest size: NOT flat within 15 %",
			"CPU time per GB: 0 % apart from the cheapest to the dearest size: flat within 15 %",
			"from 1GB to 20GB: 15.3 s and 20.0 CPU-s per GB more (the averages: 10.0 → 15.0 s, 20.0 → 20.0 CPU-s per GB)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			writeScaleReport(&b, tt.rs)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestDuckReport(t *testing.T) {
	ours := &side{name: "ireports", wall: []float64{10, 30, 12}, cpu: []float64{18, 20, 19}, rss: []float64{200, 210, 190}}
	duck := &side{name: "DuckDB v1.5.6", wall: []float64{20, 25, 24}, cpu: []float64{38, 40, 39}, rss: []float64{800, 800, 800}}
	var b strings.Builder
	writeDuckReport(&b, duckReport{Bytes: 1e9, Runs: 3, Cores: 2, Ours: ours, Duck: duck})
	for _, w := range []string{
		"ours/DuckDB: wall time 0.50×, CPU time 0.49×, peak RSS 0.25× (medians)",
		"10.0–30.0 s", // the range shows the outlier the median hides
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, b.String())
		}
	}
}

// TestMedianRun: a size run several times is reported by its run with the median CPU time,
// every run's CPU time kept in the order they ran, and the report lists them per GB.
func TestMedianRun(t *testing.T) {
	rs := []scaleResult{
		{Label: "1GB", Bytes: 1e9, CPUSeconds: 8.1, Seconds: 5},
		{Label: "1GB", Bytes: 1e9, CPUSeconds: 6.3, Seconds: 3},
		{Label: "1GB", Bytes: 1e9, CPUSeconds: 7.0, Seconds: 4},
	}
	m := medianRun(rs)
	if m.CPUSeconds != 7.0 || m.Seconds != 4 {
		t.Errorf("median run: %v CPU-s, %v s; want the 7.0 CPU-s run's", m.CPUSeconds, m.Seconds)
	}
	if want := []float64{8.1, 6.3, 7.0}; !slices.Equal(m.CPURuns, want) {
		t.Errorf("CPURuns = %v, want %v", m.CPURuns, want)
	}
	if got := runsPerGB(m); got != "8.1 6.3 7.0" {
		t.Errorf("runsPerGB = %q", got)
	}
	if m := medianRun(rs[:2]); m.CPUSeconds != 6.3 {
		t.Errorf("median of two: %v CPU-s, want the lower middle (6.3)", m.CPUSeconds)
	}
	if got := runsPerGB(scaleResult{Bytes: 2e9, CPUSeconds: 14}); got != "7.0" {
		t.Errorf("runsPerGB of a result without runs = %q", got)
	}
}

// TestBinaryRev: a result is labelled with the version the coordinator binary says it was
// stamped with, and with the tree's revision when the binary says none or cannot say.
func TestBinaryRev(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	if got := binaryRev(ctx, script("stamped", `echo "coordinator abc1234 (protocol 1, go1.26, linux/amd64)"`)); got != "abc1234" {
		t.Errorf("stamped binary: %q, want abc1234", got)
	}
	for _, body := range []string{`echo "coordinator devel (protocol 1)"`, `exit 2`, `echo something else`} {
		if got := binaryRev(ctx, script("other", body)); got != gitRev() {
			t.Errorf("%s: %q, want the tree's revision %q", body, got, gitRev())
		}
	}
}

// TestScalePublishReport: runs that published get a section of their own, with the rows,
// the rate and the publish's share of the job with it; runs that did not, none.
func TestScalePublishReport(t *testing.T) {
	r := scaleResult{Label: "4GB", Bytes: 4e9, Seconds: 25, CPUSeconds: 40, Cores: 2, Workers: 2, RecordsIn: 8e6,
		Phases: map[string]float64{"map": 12, "reduce": 12, "commit": 1}}
	var b strings.Builder
	writeScaleReport(&b, []scaleResult{r})
	if strings.Contains(b.String(), "publish") {
		t.Errorf("a report without a publish mentions one:\n%s", b.String())
	}
	r.PublishSeconds, r.SummaryRows = 5, 2_500_000
	b.Reset()
	writeScaleReport(&b, []scaleResult{r})
	for _, w := range []string{"summary rows", "2.50 M", "5.0 s", "500 k/s", "30.0 s", "16.7 %"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, b.String())
		}
	}
}

// TestFreshDatabase: --db's database is created empty for each run, whatever the last run
// left in it, and its summary rows are counted in all four tables.
func TestFreshDatabase(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := context.Background()
	if _, err := freshDatabase(ctx, "mysql://x@127.0.0.1/y"); err == nil {
		t.Error("freshDatabase accepted a URL that is not postgres://")
	}
	dsn, err := freshDatabase(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dsn, "/"+scaleDB+"?") {
		t.Fatalf("URL %q does not name %s", dsn, scaleDB)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, tb := range lake.SummaryTables {
		if _, err := db.Exec("CREATE TABLE " + tb + " (x int)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO %s SELECT generate_series(1, %d)", tb, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := countSummaryRows(ctx, dsn); err != nil || n != 1+2+3+4 {
		t.Errorf("countSummaryRows = %d, %v; want 10", n, err)
	}
	db.Close() // an open session must not keep the next run from dropping the database
	db, err = sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	if _, err := freshDatabase(ctx, pg.URL); err != nil {
		t.Fatalf("again, with a session open on it: %v", err)
	}
	db.Close()
	if _, err := countSummaryRows(ctx, dsn); err == nil {
		t.Error("the database kept its tables across freshDatabase")
	}
}
