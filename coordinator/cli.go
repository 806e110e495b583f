package coordinator

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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/worker"
)

const usage = `usage: coordinator <command> [flags]

commands:
  run FILE.job      run a job on this machine and commit its output
  gen               write a synthetic multi-city corpus
  schema [NAME]     list the built-in city schemas, or print one (to copy into a job file)

Run "coordinator <command> -h" for a command's flags.
`

// Main is the coordinator command line. It returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "gen":
		err = cmdGen(ctx, args[1:], stdout, stderr)
	case "schema":
		err = cmdSchema(args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "coordinator: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintf(stderr, "coordinator %s: %v\n", args[0], err)
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	return 0
}

// errReported is returned by a command that has already told the user what went wrong.
var errReported = errors.New("reported")

// parseInterspersed parses flags that may come before or after positional arguments
// ("run normalize.job --json" and "run --json normalize.job" both work).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
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
	parallel := fs.Int("parallel", 0, "tasks to run at once (0: one per core)")
	dataDir := fs.String("data-dir", "", "directory for map outputs (default: a temporary directory)")
	verbose := fs.Bool("v", false, "log every phase and retry")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator run FILE.job [--json] [--parallel N] [--data-dir DIR]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("want one job file, got %d arguments", len(pos))
	}
	spec, err := jobs.ParseFile(pos[0])
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ireports-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	progress := &worker.Progress{}
	exec := NewLocalExecutor(spec, dir, *parallel, progress)
	job := NewJobID(spec.Name, time.Now())
	stopProgress := startProgress(stderr, progress)
	res, runErr := RunJob(ctx, spec, exec, job, log)
	stopProgress()
	res.PeakRSSBytes = peakRSS()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printResult(stdout, res)
	}
	if runErr != nil {
		if *asJSON {
			return errReported
		}
		return runErr
	}
	return nil
}

func printResult(w io.Writer, r *Result) {
	fmt.Fprintf(w, "job %s (%s): %s in %.1fs\n", r.Name, r.Job, r.Status, r.Seconds)
	fmt.Fprintf(w, "  input      %d files, %s, %d map tasks, %d reduce tasks\n", r.Files, units.FormatBytes(r.Bytes), r.MapTasks, r.ReduceTasks)
	fmt.Fprintf(w, "  records    %d in, %d out, %d rejected, %d duplicates removed\n", r.RecordsIn, r.RecordsOut, r.Rejected, r.DuplicatesRemoved)
	if len(r.RejectsByReason) > 0 {
		fmt.Fprintf(w, "  rejects    %s → %s\n", formatReasons(r.RejectsByReason), r.Outputs.Rejects)
	}
	fmt.Fprintf(w, "  groups     %d (city, month) → %s\n", r.Groups, r.Outputs.Parquet)
	if r.Respeculated > 0 || r.Retries > 0 {
		fmt.Fprintf(w, "  recovered  %d mis-speculated splits, %d retried attempts\n", r.Respeculated, r.Retries)
	}
	if r.Seconds > 0 {
		fmt.Fprintf(w, "  throughput %.1f MB/s, %.0f records/s\n", float64(r.Bytes)/1e6/r.Seconds, float64(r.RecordsIn)/r.Seconds)
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "  memory     %s peak RSS\n", units.FormatBytes(r.PeakRSSBytes))
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning    %s\n", warn)
	}
}

// startProgress reports progress on w until the returned function is called: a line
// rewritten in place on a terminal, a plain line every 10 seconds otherwise.
func startProgress(w io.Writer, p *worker.Progress) (stop func()) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	every := 10 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				secs := time.Since(start).Seconds()
				line := fmt.Sprintf("read %s, %d records · %.1f MB/s · %.0f records/s",
					units.FormatBytes(p.Bytes.Load()), p.Records.Load(),
					float64(p.Bytes.Load())/1e6/secs, float64(p.Records.Load())/secs)
				if tty {
					fmt.Fprintf(w, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory (required)")
	size := fs.String("size", "1GiB", "approximate corpus size (B, KiB, MiB, GiB)")
	seed := fs.Int64("seed", 1, "random seed: the same seed and size give the same files")
	cities := fs.String("cities", "", "comma-separated cities (default: all built-in)")
	badRate := fs.Float64("bad-rate", 0, "share of deliberately bad rows (0: the generator's default)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("--out is required")
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

func cmdSchema(args []string, stdout io.Writer) error {
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
	_, err := stdout.Write(src)
	return err
}
