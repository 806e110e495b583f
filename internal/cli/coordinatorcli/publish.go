package coordinatorcli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/logflags"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
)

// cmdPublish publishes the summaries of the run that last committed a job's lake.
func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db", "", "Postgres URL (default: the job's output.postgres, else $DATABASE_URL)")
	verbose := fs.Bool("v", false, "log the publish's steps and their times (--log-level info)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the publish to this file")
	profiling := obs.Flags(fs)
	logOpts := logflags.Register(fs, slog.LevelWarn)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator publish FILE.job [--db URL] [-v]")
		fmt.Fprintln(stderr, "Loads the summaries of the run that last committed the job's lake (its _SUCCESS manifest)")
		fmt.Fprintln(stderr, "from the summary datasets it wrote (output.summaries) into Postgres, replacing those (city,")
		fmt.Fprintln(stderr, "month) groups. Idempotent. Lakes of the old layout (summaries in <parquet>/_summary/) work too.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	file, err := jobFileArg(fs, args)
	if err != nil {
		return err
	}
	spec, err := jobs.ParseFileWith(file, jobs.ParseOptions{Env: jobs.EnvPolicy{AllowAll: true}})
	if err != nil {
		return err
	}
	spec.Output.Postgres = cmp.Or(*dbURL, spec.Output.Postgres, os.Getenv("DATABASE_URL"))
	if spec.Output.Postgres == "" {
		return fmt.Errorf("no database: give --db, output { postgres = ... } or DATABASE_URL")
	}
	store, err := objstore.New(objstore.Options{Endpoint: spec.Endpoint})
	if err != nil {
		return err
	}
	m, err := lake.LoadManifest(ctx, store, spec.Output.Parquet)
	if err != nil {
		return fmt.Errorf("the lake %s has no committed run to publish: %w", spec.Output.Parquet, err)
	}
	run := pgsink.JobRun{
		ID: m.Job, Name: m.Name, Status: coordinator.Succeeded.String(), Started: cmp.Or(m.Run.Started, m.Committed), Finished: m.Committed,
		RecordsIn: m.Run.RecordsIn, RecordsOut: m.Rows, RecordsRejected: m.Run.Rejected,
		Duplicates: m.Run.Duplicates, Groups: len(m.Groups),
	}
	if *verbose {
		logOpts.SetDefaultLevel(slog.LevelInfo)
	}
	log := logOpts.Logger(stderr)
	stopProfiler, err := startProfiler(ctx, profiling, *cpuProfile, "publish", log)
	if err != nil {
		return err
	}
	defer stopProfiler()
	cfg := pgsink.DefaultConfig()
	cfg.Log = log
	cfg.Readers = pgsink.LakeReaders(spec.Output.Parquet)
	// The publish's progress on stderr, as `coordinator run` shows it; the last report is
	// the successful attempt's (a retried attempt starts again from zero).
	prog := newProgressPrinter(stderr)
	var loaded pgsink.PublishProgress
	cfg.Progress = func(p pgsink.PublishProgress) {
		loaded = p
		st := coordinator.JobStatus{Progress: coordinator.Progress{Phase: coordinator.Publishing}}
		st.Progress.SetPublish(p)
		prog.update(st)
	}
	db, sink, err := coordinator.OpenSink(ctx, spec.Output.Postgres, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	err = obs.Do(ctx, m.Job, obs.KindPublish, func(ctx context.Context) error {
		return sink.PublishEncoded(ctx, run, pgsink.ManifestGroups(m),
			pgsink.LakeEncoded(ctx, store, spec.Output.Parquet, m), pgsink.LakeLoader(ctx, store, spec.Output.Parquet, m))
	})
	prog.done()
	if err != nil {
		return coordinator.RedactDSN(err, spec.Output.Postgres)
	}
	fmt.Fprintf(stdout, "published job %s (%s): %d groups of %s requests, %s summary rows in %.1f s\n",
		m.Job, m.Name, len(m.Groups), thousands(m.Rows), thousands(loaded.Rows), time.Since(start).Seconds())
	return nil
}

// cmdMigrate applies the schema migrations embedded in this binary.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db", os.Getenv("DATABASE_URL"), "Postgres URL (default $DATABASE_URL)")
	readonly := fs.String("readonly-role", "", "also create or update this read-only role for the viz server (password from $IREPORTS_VIZ_PASSWORD)")
	logOpts := logflags.Register(fs, slog.LevelWarn)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator migrate [--db URL] [--readonly-role NAME]")
		fmt.Fprintln(stderr, "Creates or upgrades the summary tables. Jobs with a postgres output do this themselves.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *dbURL == "" {
		return usageError(fs, "no database: give --db or DATABASE_URL")
	}
	cfg := pgsink.DefaultConfig()
	cfg.Log = logOpts.Logger(stderr) // its retries, as warnings
	db, _, err := coordinator.OpenSink(ctx, *dbURL, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "database schema is up to date")
	if *readonly != "" {
		pw := os.Getenv("IREPORTS_VIZ_PASSWORD")
		if pw == "" {
			return fmt.Errorf("--readonly-role needs the role's password in IREPORTS_VIZ_PASSWORD")
		}
		if err := pgsink.EnsureReadOnlyRole(ctx, db, *readonly, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "read-only role %s can read the summary tables\n", *readonly)
	}
	return nil
}
