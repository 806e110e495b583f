package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// scaleResult is one size's run of make bench-scale; the results file holds one per size.
type scaleResult struct {
	Label        string             `json:"label"` // the --sizes entry, e.g. "20GB"
	When         time.Time          `json:"when"`
	Rev          string             `json:"rev"` // git describe of the tree that ran
	Cores        int                `json:"cores"`
	Workers      int                `json:"workers"`
	NYCShare     float64            `json:"nyc_share"`
	Bytes        int64              `json:"bytes"` // input read by the job
	Files        int                `json:"files"` // input files
	RecordsIn    int64              `json:"records_in"`
	RecordsOut   int64              `json:"records_out"`
	Groups       int                `json:"groups"`
	MapTasks     int                `json:"map_tasks"`
	ReduceTasks  int                `json:"reduce_tasks"`
	Seconds      float64            `json:"seconds"`      // the job's own time (plan to commit), without the publish
	WallSeconds  float64            `json:"wall_seconds"` // the process: with cluster start and stop
	CPUSeconds   float64            `json:"cpu_seconds"`  // user + system of the process
	Phases       map[string]float64 `json:"phase_seconds"`
	PeakRSS      int64              `json:"peak_rss_bytes"`  // wait4's ru_maxrss of the process
	PeakDisk     int64              `json:"peak_disk_bytes"` // largest sampled size of the cluster's data dir
	LakeBytes    int64              `json:"lake_bytes"`
	LakeFiles    int                `json:"lake_files"`
	SummaryBytes int64              `json:"summary_bytes"`
	// PageCache is "cold" when the kernel's page cache was dropped before the run (every
	// size reads its corpus from disk, as a job reading from S3 does), "as-is" otherwise.
	PageCache string `json:"page_cache,omitempty"`
	// CPURuns holds the CPU seconds of each run of this size (--runs); the other fields are
	// the run with the median CPU time's.
	CPURuns []float64 `json:"cpu_seconds_runs,omitempty"`
	// With --db, the job also published its summaries into a fresh database: PublishSeconds
	// is that phase (not in Seconds; its client's CPU is in CPUSeconds, the server's is not),
	// SummaryRows the rows the tables hold afterwards.
	PublishSeconds float64 `json:"publish_seconds,omitempty"`
	SummaryRows    int64   `json:"summary_rows,omitempty"`
}

// medianRun returns the run of rs with the median CPU time (the lower of the two middle
// ones for an even count), with every run's CPU time in CPURuns, in the order they ran.
func medianRun(rs []scaleResult) scaleResult {
	cpu := make([]float64, len(rs))
	for i, r := range rs {
		cpu[i] = r.CPUSeconds
	}
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b scaleResult) int { return cmp.Compare(a.CPUSeconds, b.CPUSeconds) })
	m := sorted[(len(sorted)-1)/2]
	m.CPURuns = cpu
	return m
}

// runsPerGB lists the CPU seconds per GB of each run of r's size.
func runsPerGB(r scaleResult) string {
	if len(r.CPURuns) == 0 {
		return fmt.Sprintf("%.1f", r.perGB(r.CPUSeconds))
	}
	parts := make([]string, len(r.CPURuns))
	for i, c := range r.CPURuns {
		parts[i] = fmt.Sprintf("%.1f", r.perGB(c))
	}
	return strings.Join(parts, " ")
}

// perGB returns seconds per GB of input.
func (r scaleResult) perGB(seconds float64) float64 { return seconds / (float64(r.Bytes) / 1e9) }

func scaleMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	coord := fs.String("coordinator", "bin/coordinator", "the coordinator binary")
	template := fs.String("job", "scripts/corpus.job.in", "the job's template (@CORPUS@: the corpus directory)")
	cache := fs.String("cache", ".cache", "where corpora are generated")
	sizes := fs.String("sizes", "1GB,4GB,20GB", "comma-separated corpus sizes, run in this order")
	seed := fs.Int64("seed", 1, "corpus seed")
	nycShare := fs.Float64("nyc-share", 0.6, "NYC's share of each corpus (gen.Options.NYCShare)")
	workers := fs.Int("workers", 2, "in-process workers (1 slot each)")
	keep := fs.Bool("keep", false, "keep each corpus in the cache after its run (default: delete it)")
	results := fs.String("results", "artifacts/bench/scale.json", "results file: this run's sizes replace their earlier entries, others stay")
	report := fs.String("report", "artifacts/bench/scale.txt", "the report, written from every entry of the results file")
	sample := fs.Duration("sample", 2*time.Second, "how often the data dir's size is sampled")
	reportOnly := fs.Bool("report-only", false, "run nothing: write the report from the results file")
	generateOnly := fs.Bool("generate-only", false, "generate the corpora that are not in the cache yet, run nothing and keep them")
	runs := fs.Int("runs", 1, "runs of each size, in rounds of every size in order; the report takes each size's run with the median CPU time (single runs of a small size here vary by ±10 %)")
	cold := fs.Bool("cold", true, "drop the kernel's page cache before each run (needs root), so that no size reads a corpus the previous run left in memory")
	profile := fs.String("profile", "", "write each size's CPU profile of the job (coordinator run --cpuprofile) to DIR/cpu-SIZE.pprof")
	dbURL := fs.String("db", "", "a PostgreSQL URL: each run also publishes its summaries into a database "+scaleDB+" created afresh on that server (\"\": no publish)")
	_ = fs.Parse(args)
	if *reportOnly {
		all, err := readResults(*results)
		if err != nil {
			return err
		}
		var b strings.Builder
		writeScaleReport(&b, all)
		fmt.Print(b.String())
		return os.WriteFile(*report, []byte(b.String()), 0o644)
	}

	var labels []string
	var bytes []int64
	for _, l := range strings.Split(*sizes, ",") {
		n, err := parseSize(l)
		if err != nil {
			return err
		}
		labels, bytes = append(labels, strings.TrimSpace(l)), append(bytes, n)
	}
	all, err := readResults(*results)
	if err != nil {
		return err
	}
	// Outputs of runs are moved here and deleted once every size has run: on ext4 without a
	// journal (this project's benchmark machine) a new inode is found by stepping past every
	// inode freed in the last few minutes, so deleting one run's lake (~13k files and
	// directories) just before the next run made the next run's creates cost up to 25× more
	// kernel CPU (artifacts/bench/reduce-fixed.txt): a size measured after a deletion paid for it.
	trash := &trashDir{dir: filepath.Join(*cache, "scale-trash")}
	defer trash.empty()
	corpusDir := func(label string) string {
		return filepath.Join(*cache, fmt.Sprintf("scale-%s-seed%d-nyc%g", label, *seed, *nycShare))
	}
	if *generateOnly {
		for i, label := range labels {
			if _, err := ensureCorpus(ctx, corpusDir(label), *template, bytes[i], *seed, *nycShare); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
		}
		return nil
	}
	if *runs < 1 {
		return fmt.Errorf("--runs %d: want at least 1", *runs)
	}
	ran := map[string][]scaleResult{}
	for round := range *runs {
		for i, label := range labels {
			dir := corpusDir(label)
			var cpuProfile string
			if *profile != "" {
				if err := os.MkdirAll(*profile, 0o755); err != nil {
					return err
				}
				cpuProfile = filepath.Join(*profile, "cpu-"+label+".pprof")
			}
			r, err := runScale(ctx, dir, *coord, *template, bytes[i], *seed, *nycShare, *workers, *sample, cpuProfile, *cold, *dbURL, trash)
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			r.Label = label
			if !*keep && round == *runs-1 {
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
			}
			ran[label] = append(ran[label], r)
			all = slices.DeleteFunc(all, func(o scaleResult) bool { return o.Label == label })
			all = append(all, medianRun(ran[label]))
			slices.SortFunc(all, func(a, b scaleResult) int { return int(a.Bytes - b.Bytes) })
			if err := writeResults(*results, all); err != nil {
				return err
			}
			var b strings.Builder
			writeScaleReport(&b, all)
			fmt.Print(b.String())
			if err := os.WriteFile(*report, []byte(b.String()), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// runScale generates the corpus in dir if needed, runs the job on it once and measures it.
// The job's output and the cluster's data dir go to trash afterwards (and any left by an
// earlier run, before). A cpuProfile path other than "" gets the job's CPU profile. With a
// dbURL other than "" the job publishes its summaries into a fresh database on that server.
func runScale(ctx context.Context, dir, coord, template string, size, seed int64, nycShare float64, workers int, sample time.Duration, cpuProfile string, cold bool, dbURL string, trash *trashDir) (scaleResult, error) {
	info, err := ensureCorpus(ctx, dir, template, size, seed, nycShare)
	if err != nil {
		return scaleResult{}, err
	}
	out, data := filepath.Join(dir, "out"), filepath.Join(dir, "cluster")
	for _, d := range []string{out, data} {
		if err := trash.put(d); err != nil {
			return scaleResult{}, err
		}
	}
	pageCache := "as-is"
	if cold {
		// Reading a corpus from the page cache costs a fraction of the CPU of reading it from
		// disk (here: 1 GB read warm took 7.0 CPU-s per GB, cold 8.2), and which sizes are
		// cached depends on what ran before (a 20 GB corpus does not fit beside its outputs).
		if err := dropPageCache(); err != nil {
			return scaleResult{}, err
		}
		pageCache = "cold"
	}
	fmt.Fprintf(os.Stderr, "== coordinator run over %s (%d records), %d workers, page cache %s\n", fmtBytes(info.Bytes), info.Records, workers, pageCache)
	args := []string{"run", filepath.Join(dir, "bench.job"), "--workers", fmt.Sprint(workers), "--slots", "1", "--json", "--data-dir", data}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	publishTo := "" // the job's DATABASE_URL (corpus.job.in publishes when it is set)
	if dbURL != "" {
		if publishTo, err = freshDatabase(ctx, dbURL); err != nil {
			return scaleResult{}, err
		}
	}
	m, err := runMeasured(ctx, data, sample, []string{"DATABASE_URL=" + publishTo}, coord, args...)
	if err != nil {
		return scaleResult{}, err
	}
	var jr jobResult
	if err := json.Unmarshal(m.Stdout, &jr); err != nil || jr.Status != "succeeded" {
		return scaleResult{}, fmt.Errorf("coordinator run: status %q: %v: %.200s", jr.Status, err, m.Stdout)
	}
	var summaryRows int64
	if publishTo != "" {
		if jr.Published != "published" {
			return scaleResult{}, fmt.Errorf("coordinator run: the summaries are %q, not published", jr.Published)
		}
		if summaryRows, err = countSummaryRows(ctx, publishTo); err != nil {
			return scaleResult{}, err
		}
	}
	r := scaleResult{
		When: time.Now().UTC(), Rev: binaryRev(ctx, coord), Cores: runtime.NumCPU(), Workers: workers, NYCShare: nycShare,
		Bytes: jr.Bytes, Files: info.Files, RecordsIn: jr.RecordsIn, RecordsOut: jr.RecordsOut, Groups: jr.Groups,
		MapTasks: jr.MapTasks, ReduceTasks: jr.ReduceTasks, Seconds: jr.Seconds - jr.Phases["publish"],
		WallSeconds: m.Wall.Seconds(), CPUSeconds: m.CPU.Seconds(), Phases: jr.Phases,
		PeakRSS: m.MaxRSS, PeakDisk: m.PeakDisk,
		LakeBytes: dirSize(filepath.Join(out, "requests")), LakeFiles: countFiles(filepath.Join(out, "requests")),
		SummaryBytes: dirSize(filepath.Join(out, "summaries")), PageCache: pageCache,
		PublishSeconds: jr.Phases["publish"], SummaryRows: summaryRows,
	}
	for _, d := range []string{out, data} {
		if err := trash.put(d); err != nil {
			return r, err
		}
	}
	return r, nil
}

// dropPageCache writes dirty pages out and drops the kernel's clean page cache.
func dropPageCache() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1\n"), 0); err != nil {
		return fmt.Errorf("drop the page cache (needs root; --cold=false runs with the cache as it is): %w", err)
	}
	return nil
}

// trashDir holds directories to delete later, moved in by rename (no inode is freed).
type trashDir struct {
	dir string
	n   int
}

// put moves path, if it exists, into the trash. path must be on the trash's file system.
func (t *trashDir) put(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	t.n++
	to := filepath.Join(t.dir, fmt.Sprintf("%d-%d-%s", os.Getpid(), t.n, filepath.Base(path)))
	if err := os.Rename(path, to); err != nil {
		return fmt.Errorf("move %s aside: %w", path, err)
	}
	return nil
}

// empty deletes the trash and everything in it, an earlier run's leftovers included.
func (t *trashDir) empty() {
	if err := os.RemoveAll(t.dir); err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
	}
}

// countFiles counts the regular files under dir.
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// binaryRev returns the version the coordinator binary was stamped with ("coordinator
// <version> (…)"), which is what ran, or the working tree's git revision when it says none.
func binaryRev(ctx context.Context, coord string) string {
	out, err := exec.CommandContext(ctx, coord, "version").Output()
	if f := strings.Fields(string(out)); err == nil && len(f) >= 2 && f[0] == "coordinator" && f[1] != "devel" {
		return f[1]
	}
	return gitRev()
}

func gitRev() string {
	b, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readResults(path string) ([]scaleResult, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rs []scaleResult
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

func writeResults(path string, rs []scaleResult) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// flatWithin is the bound on how much the cost per GB may vary from the smallest
// corpus to the largest.
const flatWithin = 0.15

// writeScaleReport prints one row per size and whether the cost per GB (wall time and CPU
// time per GB of input) stays within flatWithin of itself across the sizes.
func writeScaleReport(w io.Writer, rs []scaleResult) {
	fmt.Fprintln(w, "== bench-scale: the normalize job (scripts/corpus.job.in) on ten-city corpora, NYC the largest")
	var rows [][]string
	var wallPerGB, cpuPerGB []float64
	for _, r := range rs {
		wallPerGB = append(wallPerGB, r.perGB(r.Seconds))
		cpuPerGB = append(cpuPerGB, r.perGB(r.CPUSeconds))
		mbs := float64(r.Bytes) / 1e6 / r.Seconds
		rows = append(rows, []string{
			r.Label, fmtBytes(r.Bytes), fmt.Sprintf("%.1f M", float64(r.RecordsIn)/1e6), fmt.Sprint(r.Groups),
			fmt.Sprintf("%d/%d", r.MapTasks, r.ReduceTasks),
			fmt.Sprintf("%.0f s", r.Seconds),
			fmt.Sprintf("%.0f/%.0f/%.0f", r.Phases["map"], r.Phases["reduce"], r.Phases["commit"]),
			fmt.Sprintf("%.0f k/s", float64(r.RecordsIn)/r.Seconds/1e3),
			fmt.Sprintf("%.1f", mbs/float64(r.Cores)),
			fmt.Sprintf("%.0f s", r.CPUSeconds), fmt.Sprintf("%.1f", float64(r.Bytes)/1e6/r.CPUSeconds),
			mib(r.PeakRSS), mib(r.PeakDisk), fmt.Sprintf("%s / %d", mib(r.LakeBytes), r.LakeFiles),
			fmt.Sprintf("%.1f s", r.perGB(r.Seconds)), fmt.Sprintf("%.1f s", r.perGB(r.CPUSeconds)),
			cmp.Or(r.PageCache, "as-is"), runsPerGB(r),
		})
	}
	table(w, []string{"size", "input", "records", "groups", "map/reduce tasks", "job time", "map/reduce/commit s",
		"records/s", "MB/s per core", "CPU", "MB per CPU-s", "peak RSS", "peak map-output disk", "lake / files", "s per GB", "CPU s per GB", "page cache", "runs: CPU s per GB"}, rows)
	if len(rs) > 0 {
		r := rs[len(rs)-1]
		fmt.Fprintf(w, "machine: %d cores, %d workers × 1 slot; NYC share %g; last run %s at %s\n",
			r.Cores, r.Workers, r.NYCShare, r.When.Format("2006-01-02 15:04 UTC"), r.Rev)
	}
	for _, c := range []struct {
		what string
		xs   []float64
	}{{"job time per GB", wallPerGB}, {"CPU time per GB", cpuPerGB}} {
		s := spread(c.xs)
		verdict := "flat"
		if s > flatWithin {
			verdict = "NOT flat"
		}
		fmt.Fprintf(w, "%s: %.0f %% apart from the cheapest to the dearest size: %s within %.0f %%\n", c.what, 100*s, verdict, 100*flatWithin)
	}
	writePublishReport(w, rs)
	// The marginal cost of each step up in size: what a GB more costs, without the costs that
	// do not grow with the input (the groups' files, starting the cluster). A superlinear step
	// shows here as a marginal cost above the smaller size's average.
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		gb := float64(b.Bytes-a.Bytes) / 1e9
		if gb <= 0 {
			continue
		}
		fmt.Fprintf(w, "from %s to %s: %.1f s and %.1f CPU-s per GB more (the averages: %.1f → %.1f s, %.1f → %.1f CPU-s per GB)\n",
			a.Label, b.Label, (b.Seconds-a.Seconds)/gb, (b.CPUSeconds-a.CPUSeconds)/gb,
			a.perGB(a.Seconds), b.perGB(b.Seconds), a.perGB(a.CPUSeconds), b.perGB(b.CPUSeconds))
	}
}

// writePublishReport prints, for the runs that published (--db), the summary rows, the
// publish's time and rate, and its share of the job with it: publish / (job + publish).
func writePublishReport(w io.Writer, rs []scaleResult) {
	var rows [][]string
	for _, r := range rs {
		if r.SummaryRows == 0 {
			continue
		}
		rows = append(rows, []string{
			r.Label, fmt.Sprintf("%.2f M", float64(r.SummaryRows)/1e6),
			fmt.Sprintf("%.1f s", r.PublishSeconds),
			fmt.Sprintf("%.0f k/s", float64(r.SummaryRows)/r.PublishSeconds/1e3),
			fmt.Sprintf("%.1f s", r.Seconds+r.PublishSeconds),
			fmt.Sprintf("%.1f %%", 100*r.PublishSeconds/(r.Seconds+r.PublishSeconds)),
		})
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "publish: each run's summaries COPYed into a fresh PostgreSQL database after the commit (not in the job time above)")
	table(w, []string{"size", "summary rows", "publish", "rows/s", "job with publish", "publish share"}, rows)
}
