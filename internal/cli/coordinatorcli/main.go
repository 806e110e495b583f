package coordinatorcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/localcluster"
	"github.com/ireports/ireports/internal/logflags"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
)

const usage = `usage: coordinator <command> [flags]

commands:
  run FILE.job      run a job on this machine (a coordinator and workers in one process)
  plan FILE.job     dry run: what a run would read, how it would normalize it, what would stop it
  serve             run the coordinator daemon of a cluster
  submit FILE.job   send a job to a running coordinator and follow it
  status [JOB]      list the jobs, or show one
  cancel JOB        cancel a running job
  publish FILE.job  load the summaries of the job's last committed run into Postgres
  lake PATH         show what a lake holds (its run, groups, summaries), or --head rows of a group
  migrate           create or upgrade the Postgres summary tables
  gen               write a synthetic multi-city corpus
  schema [NAME]     list the built-in city schemas, or print one (to copy into a job file)
  schema infer FILE print a schema for a new city's export, inferred from its header and first records
  version           print the version and wire protocol (also --version)

Run "coordinator <command> -h" for a command's flags. Exit codes: 0 success, 1 failure,
2 usage error, 3 lake committed but summaries not published.
`

// Main is the coordinator command line. It returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "plan":
		return cmdPlan(ctx, args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args[1:], stderr)
	case "submit":
		err = cmdSubmit(ctx, args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(ctx, args[1:], stdout, stderr)
	case "cancel":
		err = cmdCancel(ctx, args[1:], stdout, stderr)
	case "publish":
		err = cmdPublish(ctx, args[1:], stdout, stderr)
	case "lake":
		err = cmdLake(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr)
	case "gen":
		err = cmdGen(ctx, args[1:], stdout, stderr)
	case "schema":
		err = cmdSchema(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String("coordinator"))
		return 0
	default:
		fmt.Fprintf(stderr, "coordinator: unknown command %q\n\n%s", args[0], usage)
		return ExitUsage
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h: the usage is printed, nothing went wrong
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintf(stderr, "coordinator %s: %s\n", args[0], terminalSafe(err.Error()))
		}
		switch {
		case errors.Is(err, errUsage):
			return ExitUsage
		case errors.Is(err, coordinator.ErrUnpublished):
			return ExitUnpublished
		}
		return ExitFailure
	}
	return 0
}

// ExitUnpublished is the exit code of a job that committed its lake but could not publish
// its summaries to Postgres (coordinator.ErrUnpublished).
const ExitUnpublished = 3

// errReported is returned by a command that has already told the user what went wrong.
var errReported = errors.New("reported")

// jobFileArg parses a command's flags and its one positional argument, a job file.
func jobFileArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usageError(fs, "want one job file, got %d arguments", len(pos))
	}
	return pos[0], nil
}

// parseInterspersed parses flags that may come before or after positional arguments
// ("run normalize.job --json" and "run --json normalize.job" both work).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, parseError(err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	workers := fs.Int("workers", 0, "in-process workers (0: one per core)")
	slots := fs.Int("slots", 1, "task slots per worker")
	dataDir := fs.String("data-dir", "", "directory for the coordinator's and workers' data (default: a temporary directory)")
	verbose := fs.Bool("v", false, "log the cluster's events (--log-level info)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	var allow allowpath.Flag
	fs.Var(&allow, "allow-path", "a directory or s3://bucket/prefix the job may read and write besides the job file's directory (repeatable)")
	profiling := obs.Flags(fs)
	logOpts := logflags.Register(fs, slog.LevelError)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator run FILE.job [--workers N] [--slots N] [--json] [--data-dir DIR] [--allow-path DIR]... [-v]")
		fmt.Fprintln(stderr, "Runs the job on a cluster of in-process workers on loopback (the real protocol), and commits its output.")
		fmt.Fprintln(stderr, "The job may read and write under its file's directory and the --allow-path roots; its env() calls read this process's environment.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	file, err := jobFileArg(fs, args)
	if err != nil {
		return err
	}
	// From here a job that cannot start is a failed run: --json prints it as one, so that a
	// script reading stdout gets an object with the error whatever went wrong.
	notRun := func(name string, err error) error {
		if !*asJSON {
			return err
		}
		return finish(stdout, stderr, "run", &coordinator.Result{Name: name, Status: coordinator.Failed, Error: err.Error(), Version: version.Version()}, err, true)
	}
	// The user runs their own job file here: env() reads their whole environment.
	spec, err := jobs.ParseFileWith(file, jobs.ParseOptions{Env: jobs.EnvPolicy{AllowAll: true}})
	if err != nil {
		return notRun("", err)
	}
	allowed, err := checkLocalRoots(file, allow, spec)
	if err != nil {
		return notRun(spec.Name, err)
	}
	if *verbose {
		logOpts.SetDefaultLevel(slog.LevelInfo)
	}
	log := logOpts.Logger(stderr)
	// One profiler for the whole process: the coordinator and its in-process workers.
	stopProfiler, err := startProfiler(ctx, profiling, *cpuProfile, "run", log)
	if err != nil {
		return notRun(spec.Name, err)
	}
	defer stopProfiler()
	bar := newProgressPrinter(stderr)
	res, runErr := localcluster.Run(ctx, spec, coordinator.LocalConfig{Workers: *workers, Slots: *slots, Dir: *dataDir, Log: log, Progress: bar.update, AllowPaths: allowed})
	bar.done()
	res.PeakRSSBytes = peakRSS()
	return finish(stdout, stderr, "run", res, runErr, *asJSON)
}

// startProfiler starts a command's CPU profiler, the process's one: pushing to Pyroscope as
// role when --pyroscope-url (or its variable) gives a server, else writing a pprof file to
// cpuProfile when it is not "". stop flushes and ends it; it does nothing when neither is set.
func startProfiler(ctx context.Context, profiling func() (obs.ProfilingConfig, error), cpuProfile, role string, log *slog.Logger) (stop func(), err error) {
	pc, err := profiling()
	if err != nil {
		return nil, err
	}
	switch {
	case pc.Enabled() && cpuProfile != "":
		return nil, errors.New("--cpuprofile and --pyroscope-url both need the CPU profiler: give one")
	case pc.Enabled():
		pc.Role, pc.Log = role, log
		prof, err := obs.StartProfiling(pc)
		if err != nil {
			return nil, err
		}
		return func() { prof.Stop(context.WithoutCancel(ctx)) }, nil
	case cpuProfile != "":
		f, err := os.Create(cpuProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile %s: %w", cpuProfile, err)
		}
		return func() { pprof.StopCPUProfile(); f.Close() }, nil
	}
	return func() {}, nil
}

// finish prints a job's result and returns the command's error. The result goes to stdout:
// --json's one object, which carries the error of a failed run, or the printed summary,
// which a failed run's error, on stderr, precedes, so that the reason is what the user
// reads first.
func finish(stdout, stderr io.Writer, cmd string, res *coordinator.Result, runErr error, asJSON bool) error {
	if runErr != nil && !asJSON {
		fmt.Fprintf(stderr, "coordinator %s: %s\n", cmd, terminalSafe(runErr.Error()))
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printResult(stdout, res)
	}
	if runErr != nil {
		return fmt.Errorf("%w: %w", errReported, runErr) // still runErr to the exit code
	}
	if res.Published == coordinator.Unpublished {
		return coordinator.ErrUnpublished
	}
	return nil
}

// endedBeforeTasks reports whether r is a run that failed or was cancelled before it had any
// task: while pulling, claiming its outputs or planning. It read no records and wrote no
// output (lake, summaries or rejects), and its summary shows none of their lines.
func endedBeforeTasks(r *coordinator.Result) bool {
	return (r.Status == coordinator.Failed || r.Status == coordinator.Cancelled) && r.MapTasks == 0
}

// committed reports whether r's lake was committed, so that its groups are there to read.
func committed(r *coordinator.Result) bool {
	return r.Status == coordinator.Succeeded || r.Outputs.Manifest != ""
}

func printResult(w io.Writer, r *coordinator.Result) {
	fmt.Fprintf(w, "job %s (%s): %s", r.Name, r.Job, r.Status)
	before := endedBeforeTasks(r)
	if before {
		switch _, planned := r.PhaseSeconds[coordinator.Planning.String()]; {
		case planned:
			fmt.Fprint(w, " while planning")
		case r.Pulls != nil:
			fmt.Fprint(w, " while pulling")
		}
	}
	fmt.Fprintf(w, " in %.1fs", r.Seconds)
	if before {
		fmt.Fprint(w, ", before any task: no output written")
	}
	if r.Version != "" {
		fmt.Fprintf(w, " · ireports %s", r.Version)
	}
	fmt.Fprintln(w)
	for _, p := range r.Pulls {
		fmt.Fprintf(w, "  pull       %s: %s, %d records in %d batches, %d retries, watermark %s\n", p.Source, p.Status, p.Records, p.Batches, p.Retries, p.Watermark)
	}
	if before {
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "  warning    %s\n", terminalSafe(warn))
		}
		return
	}
	fmt.Fprintf(w, "  input      %d files, %s, %d map tasks, %d reduce tasks\n", r.Files, units.FormatBytes(r.Bytes), r.MapTasks, r.ReduceTasks)
	fmt.Fprintf(w, "  records    %d in, %d out, %d rejected, %d duplicates removed\n", r.RecordsIn, r.RecordsOut, r.Rejected, r.DuplicatesRemoved)
	if r.RecordsCarried > 0 {
		fmt.Fprintf(w, "  merged     %d rows of the lake kept in the %d groups rewritten\n", r.RecordsCarried, r.Groups)
	}
	// A run that did not commit has no groups to point at, and its rejects are in place only
	// when it failed over their budget, which its error says, naming where.
	if len(r.RejectsByReason) > 0 {
		fmt.Fprintf(w, "  rejects    %s", coordinator.FormatReasons(r.RejectsByReason))
		if committed(r) {
			fmt.Fprintf(w, " → %s", r.Outputs.Rejects)
		}
		fmt.Fprintln(w)
	}
	if committed(r) {
		fmt.Fprintf(w, "  groups     %d (city, month) → %s\n", r.Groups, r.Outputs.Parquet)
	}
	if r.Respeculated > 0 || r.Retries > 0 {
		fmt.Fprintf(w, "  recovered  %d mis-speculated splits, %d retried attempts\n", r.Respeculated, r.Retries)
	}
	if secs, what := workSeconds(r); secs > 0 && (r.Bytes > 0 || r.RecordsIn > 0) {
		fmt.Fprintf(w, "  throughput %.1f MB/s, %.0f records/s (%s: %.1fs)\n", float64(r.Bytes)/1e6/secs, float64(r.RecordsIn)/secs, what, secs)
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "  memory     %s peak RSS\n", units.FormatBytes(r.PeakRSSBytes))
	}
	if r.Published != "" {
		fmt.Fprintf(w, "  postgres   summaries %s", r.Published)
		if s, ok := r.PhaseSeconds[coordinator.Publishing.String()]; ok {
			fmt.Fprintf(w, " (publish: %.1fs, not in the throughput)", s)
		}
		fmt.Fprintln(w)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning    %s\n", terminalSafe(warn))
	}
}

// workPhases are the phases whose time the throughput counts: the work on the input bytes.
// Pulling from a source waits on the network and publishing on Postgres; the result states
// their times apart.
var workPhases = []coordinator.State{coordinator.Planning, coordinator.Mapping, coordinator.Reducing, coordinator.Committing}

// workSeconds returns the time the throughput divides by and what it covers: the work
// phases' time, or the whole run's when the result has no phase times.
func workSeconds(r *coordinator.Result) (float64, string) {
	var secs float64
	for _, p := range workPhases {
		secs += r.PhaseSeconds[p.String()]
	}
	if secs == 0 {
		return r.Seconds, "the whole run"
	}
	return secs, "plan, map, reduce and commit"
}

// checkLocalRoots checks that a job run by its own user (coordinator run, plan) reads and
// writes only under its file's directory and the --allow-path roots, and returns those.
func checkLocalRoots(file string, allow []string, spec *jobs.Spec) ([]string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	allowed := append([]string{filepath.Dir(abs)}, allow...)
	roots, err := allowpath.New(allowed)
	if err != nil {
		return nil, err
	}
	if err := roots.CheckSpec(spec); err != nil {
		return nil, coordinator.CleanError(spec, fmt.Errorf("%w\n(coordinator run and plan let a job use its file's directory; give --allow-path DIR or s3://bucket/prefix for each other place it reads or writes)", err))
	}
	return allowed, nil
}

// progressPrinter shows a running job's progress: one line rewritten in place on a
// terminal, a plain line every 10 seconds otherwise.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	last  time.Time
	shown bool
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progressPrinter) update(j coordinator.JobStatus) {
	if !p.tty && time.Since(p.last) < 10*time.Second {
		return
	}
	p.last = time.Now()
	line := progressLine(j.Progress)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progressPrinter) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// note prints msg on a line of its own, under which the progress goes on.
func (p *progressPrinter) note(msg string) {
	p.done()
	fmt.Fprintln(p.w, msg)
}

// progressLine renders progress as "map [#####-----] 12/40 · reduce 0/8 · 85.2 MB/s · 310.5k/s · ETA 14s".
//
// While the summaries are published the map and reduce bar is full and says nothing, so the
// line shows the publish instead: "publish [######--------------] 120/576 groups · 48,210 rows",
// and once every row is in, that Postgres is building the indexes.
func progressLine(pr coordinator.Progress) string {
	if pr.Phase == coordinator.Publishing {
		line := fmt.Sprintf("%-6s %s %d/%d groups · %s rows loaded into Postgres", pr.Phase.PhaseName(),
			bar(pr.PublishGroups, pr.PublishGroupsTotal, 20), pr.PublishGroups, pr.PublishGroupsTotal, thousands(pr.PublishRows))
		if pr.PublishFinishing {
			line += " · building indexes"
		}
		return line
	}
	secs := time.Since(pr.Started).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %s map %d/%d · reduce %d/%d", pr.Phase.PhaseName(), bar(pr.MapsDone+pr.ReducesDone, pr.MapsTotal+pr.ReducesTotal, 20),
		pr.MapsDone, pr.MapsTotal, pr.ReducesDone, pr.ReducesTotal)
	if secs > 0 && !pr.Started.IsZero() {
		rate := float64(pr.BytesDone) / secs
		fmt.Fprintf(&b, " · %.1f MB/s · %s records", rate/1e6, units.FormatRate(float64(pr.RecordsDone)/secs))
		if pr.Phase == coordinator.Mapping && pr.BytesDone > 0 && pr.BytesTotal > pr.BytesDone {
			fmt.Fprintf(&b, " · map ETA %s", (time.Duration(float64(pr.BytesTotal-pr.BytesDone)/rate) * time.Second).Round(time.Second))
		}
	}
	return b.String()
}

// thousands writes n with commas: 48,210.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func bar(done, total, width int) string {
	n := 0
	if total > 0 {
		n = done * width / total
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}

func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, "gen --out DIR [--size SIZE] [--seed N] [--cities a,b]",
		"Writes a synthetic corpus in each city's native format: the same seed and size give the same files.")
	out := fs.String("out", "", "output directory (required)")
	size := fs.String("size", "1GiB", "approximate corpus size (B, KiB, MiB, GiB; KB, MB, GB are powers of 1000)")
	seed := fs.Int64("seed", 1, "random seed: the same seed and size give the same files")
	cities := fs.String("cities", "", "comma-separated cities (default: all built-in)")
	badRate := fs.Float64("bad-rate", 0, "share of deliberately bad rows (0: the generator's default)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError(fs, "unexpected argument %q", pos[0])
	}
	if *out == "" {
		return usageError(fs, "--out is required")
	}
	n, err := units.ParseBytes(*size)
	if err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	opt := gen.Options{Dir: *out, Size: n, Seed: *seed, BadRate: *badRate}
	if *cities != "" {
		opt.Cities = strings.Split(*cities, ",")
	}
	start := time.Now()
	st, err := gen.Generate(ctx, opt)
	if err != nil {
		return err
	}
	var total int64
	cs := make([]string, 0, len(st.Records))
	for c, n := range st.Records {
		total += n
		cs = append(cs, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(cs)
	fmt.Fprintf(stdout, "wrote %d files, %s, %d records (%s) to %s in %.1fs\n",
		len(st.Files), units.FormatBytes(st.Bytes), total, strings.Join(cs, ", "), filepath.Clean(*out), time.Since(start).Seconds())
	return nil
}

func cmdSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "infer" {
		return cmdSchemaInfer(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, "schema [NAME] | schema infer FILE [flags]", "Lists the built-in city schemas, or prints one in the job-file language, to copy into a job file and adapt;",
		"schema infer prints one inferred from a file (coordinator schema infer -h).")
	args, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usageError(fs, "want at most one schema name, got %d", len(args))
	}
	if len(args) == 0 {
		for _, n := range jobs.BuiltinNames() {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	src := jobs.BuiltinSource(args[0])
	if src == nil {
		return fmt.Errorf("no built-in schema %q (have: %s)", args[0], strings.Join(jobs.BuiltinNames(), ", "))
	}
	_, err = stdout.Write(src)
	return err
}
