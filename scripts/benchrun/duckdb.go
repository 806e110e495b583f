package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// jobResult is what benchrun reads of `coordinator run --json`.
type jobResult struct {
	Status      string             `json:"status"`
	Bytes       int64              `json:"bytes"`
	RecordsIn   int64              `json:"records_in"`
	RecordsOut  int64              `json:"records_out"`
	Rejected    int64              `json:"rejected"`
	Groups      int                `json:"groups"`
	MapTasks    int                `json:"map_tasks"`
	ReduceTasks int                `json:"reduce_tasks"`
	Seconds     float64            `json:"seconds"`
	PeakRSS     int64              `json:"peak_rss_bytes"`
	Phases      map[string]float64 `json:"phase_seconds"`
	Published   string             `json:"published"`
}

// duckResult is what benchrun reads of scripts/duckdb's output.
type duckResult struct {
	Seconds  float64 `json:"seconds"`
	Rows     int64   `json:"rows"`
	Rejected int64   `json:"rejected"`
	Groups   int64   `json:"groups"`
	Version  string  `json:"duckdb_version"`
}

// side is one engine's runs in a comparison.
type side struct {
	name        string
	wall, cpu   []float64 // seconds
	rss         []float64 // MiB
	rows, grps  int64
	description string
}

func (s *side) add(m measured) {
	s.wall = append(s.wall, m.Wall.Seconds())
	s.cpu = append(s.cpu, m.CPU.Seconds())
	s.rss = append(s.rss, float64(m.MaxRSS)/(1<<20))
}

func duckdbMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("duckdb", flag.ExitOnError)
	coord := fs.String("coordinator", "bin/coordinator", "the coordinator binary")
	duckBin := fs.String("duckdb", "bin/bench/duckdb", "the DuckDB runner (go build -o … ./scripts/duckdb)")
	sqlPath := fs.String("sql", "scripts/duckdb/normalize.sql", "DuckDB's job")
	template := fs.String("job", "scripts/corpus.job.in", "our job's template (@CORPUS@: the corpus directory)")
	cache := fs.String("cache", ".cache", "where corpora are generated and kept")
	sizeFlag := fs.String("size", "1GiB", "corpus size")
	seed := fs.Int64("seed", 1, "corpus seed")
	runs := fs.Int("runs", 5, "runs of each, alternated")
	workers := fs.Int("workers", 2, "our in-process workers (1 slot each)")
	threads := fs.Int("threads", runtime.NumCPU(), "DuckDB's threads")
	report := fs.String("report", "", "also write the report to this file")
	_ = fs.Parse(args)
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("--runs %d: want at least 1", *runs)
	}
	// make bench's corpus directory, so the two share one corpus.
	dir := filepath.Join(*cache, fmt.Sprintf("bench-v2-%s-seed%d", *sizeFlag, *seed))
	info, err := ensureCorpus(ctx, dir, *template, size, *seed, 0)
	if err != nil {
		return err
	}
	ours := &side{name: "ireports", description: fmt.Sprintf("coordinator run, %d workers × 1 slot", *workers)}
	duck := &side{name: "DuckDB", description: fmt.Sprintf("scripts/duckdb/normalize.sql, %d threads", *threads)}
	runOurs := func() error {
		if err := os.RemoveAll(filepath.Join(dir, "out")); err != nil {
			return err
		}
		m, err := runMeasured(ctx, "", 0, []string{"DATABASE_URL="}, *coord, "run", filepath.Join(dir, "bench.job"),
			"--workers", fmt.Sprint(*workers), "--slots", "1", "--json")
		if err != nil {
			return err
		}
		var r jobResult
		if err := json.Unmarshal(m.Stdout, &r); err != nil || r.Status != "succeeded" {
			return fmt.Errorf("coordinator run: status %q: %v: %.200s", r.Status, err, m.Stdout)
		}
		ours.add(m)
		ours.rows, ours.grps = r.RecordsOut, int64(r.Groups)
		fmt.Fprintf(os.Stderr, "   ireports  %6.1f s wall, %6.1f s CPU, %5.0f MiB peak RSS\n", m.Wall.Seconds(), m.CPU.Seconds(), float64(m.MaxRSS)/(1<<20))
		return nil
	}
	runDuck := func() error {
		m, err := runMeasured(ctx, "", 0, nil, *duckBin, "--sql", *sqlPath, "--data", filepath.Join(dir, "data"),
			"--out", filepath.Join(dir, "duckdb-out"), "--threads", fmt.Sprint(*threads))
		if err != nil {
			return err
		}
		var r duckResult
		if err := json.Unmarshal(m.Stdout, &r); err != nil {
			return fmt.Errorf("duckdb: %v: %.200s", err, m.Stdout)
		}
		duck.add(m)
		duck.rows, duck.grps = r.Rows, r.Groups
		duck.name = "DuckDB " + r.Version
		fmt.Fprintf(os.Stderr, "   duckdb    %6.1f s wall, %6.1f s CPU, %5.0f MiB peak RSS\n", m.Wall.Seconds(), m.CPU.Seconds(), float64(m.MaxRSS)/(1<<20))
		return nil
	}
	for i := range *runs {
		fmt.Fprintf(os.Stderr, "== run %d of %d\n", i+1, *runs)
		// Alternate which goes first, so that a drift in the machine's load hits both alike.
		order := []func() error{runOurs, runDuck}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, f := range order {
			if err := f(); err != nil {
				return err
			}
		}
		// The report so far, after every pair of runs: a long comparison on a shared machine
		// that is stopped early still leaves its figures.
		var b strings.Builder
		writeDuckReport(&b, duckReport{
			When: time.Now().UTC(), Corpus: dir, Bytes: info.Bytes, Runs: i + 1, Cores: runtime.NumCPU(),
			Ours: ours, Duck: duck,
		})
		if i+1 == *runs {
			fmt.Print(b.String())
		}
		if *report != "" {
			if err := os.MkdirAll(filepath.Dir(*report), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(*report, []byte(b.String()), 0o644); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{filepath.Join(dir, "out"), filepath.Join(dir, "duckdb-out")} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

type duckReport struct {
	When        time.Time
	Corpus      string
	Bytes       int64
	Runs, Cores int
	Ours, Duck  *side
}

// writeDuckReport prints the runs side by side and the ratios of the medians, ours/DuckDB's:
// below 1 means ours is faster or smaller.
func writeDuckReport(w io.Writer, r duckReport) {
	fmt.Fprintf(w, "== bench-duckdb %s: %s corpus (%s), %d runs each, alternated, %d cores\n",
		r.When.Format("2006-01-02 15:04 UTC"), fmtBytes(r.Bytes), r.Corpus, r.Runs, r.Cores)
	var rows [][]string
	for _, s := range []*side{r.Ours, r.Duck} {
		rows = append(rows, []string{s.name, s.description,
			fmt.Sprintf("%.1f s", median(s.wall)), fmt.Sprintf("%.1f–%.1f s", slices.Min(s.wall), slices.Max(s.wall)),
			fmt.Sprintf("%.1f s", median(s.cpu)), fmt.Sprintf("%.0f MiB", median(s.rss)),
			fmt.Sprintf("%.0f MB/s", float64(r.Bytes)/1e6/median(s.wall)),
			fmt.Sprint(s.rows), fmt.Sprint(s.grps)})
	}
	table(w, []string{"engine", "how", "wall (median)", "wall (range)", "CPU (median)", "peak RSS (median)", "throughput", "rows", "groups"}, rows)
	fmt.Fprintf(w, "ours/DuckDB: wall time %.2f×, CPU time %.2f×, peak RSS %.2f× (medians)\n",
		ratio(median(r.Ours.wall), median(r.Duck.wall)), ratio(median(r.Ours.cpu), median(r.Duck.cpu)),
		ratio(median(r.Ours.rss), median(r.Duck.rss)))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
