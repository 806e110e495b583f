package coordinatorcli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/auth"
	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/logflags"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/task"
)

// EnvCoordinator names the coordinator's API URL for the client commands.
const EnvCoordinator = "IREPORTS_COORDINATOR"

// ServeFlags registers `coordinator serve`'s flags on fs and returns a function that builds
// the ServerConfig from them. Terraform's user-data is checked against this flag set.
func ServeFlags(fs *flag.FlagSet) func() (coordinator.ServerConfig, error) {
	def := coordinator.DefaultServerConfig()
	bind := fs.String("bind", def.Bind, "gossip address host:port (TCP and UDP)")
	api := fs.String("api", def.API, "HTTP API and status page address host:port")
	dataDir := fs.String("data-dir", "/var/lib/ireports/coordinator", "directory for the job history")
	maxHistory := fs.Int("max-history", coordinator.DefaultMaxHistory, "finished jobs the history keeps; the oldest go first")
	state := fs.String("state", "", "where running jobs' journals live, to resume them after a restart: a directory or s3://bucket/prefix (default <data-dir>/state)")
	keyFile := fs.String("gossip-key-file", "", "file holding the 32-byte gossip encryption key (raw, hex or base64)")
	tokenFile := fs.String("token-file", "", "file holding the cluster token (default: $"+auth.EnvToken+")")
	insecure := fs.Bool("insecure", false, "allow unencrypted gossip when no key is given (never on a shared network)")
	lease := fs.Duration("lease", def.Lease, "how long a task attempt lives without a heartbeat")
	name := fs.String("name", "", "gossip node name (default: host name and port)")
	profiling := obs.Flags(fs)
	var schedules scheduleFlag
	fs.Var(&schedules, "schedule", "a job file to run on its schedule attribute (repeatable); a run missed while the coordinator was down runs at start-up")
	ui := fs.String("pyroscope-ui-url", "", "Pyroscope UI address the status page links jobs to, as the people reading it reach it (default: --pyroscope-url)")
	logOpts := logflags.Register(fs, slog.LevelInfo)
	var tlsFlags httpserve.TLSFlags
	tlsFlags.RegisterServer(fs, "the API and status page")
	var allow allowpath.Flag
	fs.Var(&allow, "allow-path", "a directory or s3://bucket/prefix that jobs may read and write (repeatable); a job with a path outside every root is refused. Required unless --allow-any-path")
	anyPath := fs.Bool("allow-any-path", false, "let jobs read and write anywhere this process can, instead of --allow-path (only where every token holder may act as this host's user)")
	var jobEnv envFlag
	fs.Var(&jobEnv, "job-env", "environment variables that job files may read with env(): NAME,... (repeatable); names starting with "+jobs.DefaultEnvPrefix+" always may, all others are refused")
	return func() (coordinator.ServerConfig, error) {
		cfg := def
		cfg.Log = logOpts.Logger(fs.Output()) // where the flag set reports: the command's stderr
		cfg.Bind, cfg.API, cfg.DataDir, cfg.Insecure, cfg.Lease, cfg.Name = *bind, *api, *dataDir, *insecure, *lease, *name
		cfg.State = *state
		if *maxHistory < 1 {
			return cfg, argError("--max-history must be at least 1")
		}
		cfg.MaxHistory = *maxHistory
		cfg.PyroscopeUI = *ui
		cfg.Schedules = schedules
		if len(allow) > 0 && *anyPath {
			return cfg, argError("give --allow-path or --allow-any-path, not both")
		}
		cfg.AllowPaths, cfg.AnyPath, cfg.JobEnv = allow, *anyPath, jobEnv
		var err error
		if cfg.Profiling, err = profiling(); err != nil {
			return cfg, err
		}
		if *keyFile != "" {
			if cfg.Key, err = cluster.LoadKey(*keyFile); err != nil {
				return cfg, err
			}
		}
		if cfg.TLS, _, err = tlsFlags.Load(); err != nil {
			return cfg, err
		}
		cfg.Token, err = auth.LoadToken(*tokenFile)
		return cfg, err
	}
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, "serve [flags]", "Runs the coordinator daemon of a cluster: gossip membership, the task scheduler, the HTTP API and status page.")
	build := ServeFlags(fs)
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := build()
	if err != nil {
		return err
	}
	if len(cfg.AllowPaths) == 0 && !cfg.AnyPath {
		return asUsage(allowpath.ErrNoRoots) // a required flag is missing
	}
	if cfg.AnyPath {
		cfg.Log.Warn("--allow-any-path: jobs may read and write anywhere this process can; anyone with the cluster token can read its files and replace its directories")
	}
	srv, err := coordinator.NewServer(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	cfg.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// scheduleFlag collects repeated --schedule FILE flags.
type scheduleFlag []string

func (f *scheduleFlag) String() string { return fmt.Sprint(*f) }
func (f *scheduleFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// envFlag collects --job-env NAME,... flags.
type envFlag []string

func (f *envFlag) String() string { return strings.Join(*f, ",") }

func (f *envFlag) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if !coordinator.ValidEnvName(name) {
			return fmt.Errorf("%q is not an environment variable name (letters, digits and _, not starting with a digit)", name)
		}
		*f = append(*f, name)
	}
	return nil
}

// clientFlags are the flags every client command shares.
func clientFlags(fs *flag.FlagSet) func() (*coordinator.Client, error) {
	url := fs.String("coordinator", "", "coordinator API URL, https://… when it serves TLS (default: $"+EnvCoordinator+" or http://127.0.0.1:8080)")
	tokenFile := fs.String("token-file", "", "file holding the cluster token (default: $"+auth.EnvToken+")")
	var tlsFlags httpserve.TLSFlags
	tlsFlags.RegisterClient(fs)
	return func() (*coordinator.Client, error) {
		base := *url
		if base == "" {
			base = os.Getenv(EnvCoordinator)
		}
		if base == "" {
			base = "http://127.0.0.1:8080"
		}
		tok, err := auth.LoadToken(*tokenFile)
		if err != nil {
			return nil, err
		}
		_, tlsConfig, err := tlsFlags.Load()
		if err != nil {
			return nil, err
		}
		return &coordinator.Client{Base: base, Token: tok, HTTP: &http.Client{Transport: httpserve.ClientTransport(tlsConfig)}}, nil
	}
}

func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	detach := fs.Bool("detach", false, "print the job id and return without waiting")
	followFor := fs.Duration("follow-timeout", 15*time.Minute, "how long to keep following the job while the coordinator is unreachable or restarting (it resumes the job under the same id); 0: give up at once")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator submit FILE.job [--coordinator URL] [--token-file F] [--json] [--detach] [--follow-timeout D]")
		fmt.Fprintln(stderr, "Sends the job file to a running coordinator and follows the job: progress, then the result.")
		fmt.Fprintln(stderr, "A restart of the coordinator (an upgrade, a crash, a replacement host) does not end the job:")
		fmt.Fprintln(stderr, "the coordinator resumes it, and submit follows it across the gap for up to --follow-timeout.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	file, err := jobFileArg(fs, args)
	if err != nil {
		return err
	}
	if *followFor < 0 {
		return usageError(fs, "--follow-timeout %s: want 0 or more", *followFor)
	}
	c, err := client()
	if err != nil {
		return err
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	id, err := c.Submit(ctx, task.JobSource{Path: path, Source: src})
	if err != nil {
		return err
	}
	if *detach {
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"job": id})
		}
		fmt.Fprintln(stdout, id)
		return nil
	}
	fmt.Fprintf(stderr, "submitted %s\n", id)
	bar := newProgressPrinter(stderr)
	res, runErr := coordinator.WaitJob(ctx, id, coordinator.Follow{
		Poll: 500 * time.Millisecond, Interval: 500 * time.Millisecond, Get: c.Job, Cancel: c.Cancel, Progress: bar.update,
		Gap: *followFor, Notify: bar.note,
	})
	bar.done()
	return finish(stdout, stderr, "submit", res, runErr, *asJSON)
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, "status [JOB] [--coordinator URL] [--token-file F] [--json]", "Lists the jobs, or shows one job's progress and result.")
	client := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError(fs, "want at most one job id, got %d arguments", len(pos))
	}
	c, err := client()
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		j, err := c.Job(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(j)
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", j.ID, j.Name, j.State.Status())
		if j.Resumed > 0 {
			fmt.Fprintf(stdout, "resumed %d× after its coordinator stopped; %s lost\n", j.Resumed, j.Lost.Round(time.Second))
		}
		if j.State == coordinator.Interrupted {
			fmt.Fprintln(stdout, "interrupted: the coordinator is shutting down; one started on the same state resumes the job")
		}
		if !j.State.Terminal() {
			fmt.Fprintln(stdout, progressLine(j.Progress))
		}
		if j.Result != nil {
			if j.Result.Error != "" {
				// Why it failed (or was cancelled) first, as run and submit say it.
				fmt.Fprintf(stdout, "error: %s\n", terminalSafe(j.Result.Error))
			}
			printResult(stdout, j.Result)
		}
		return nil
	}
	js, err := c.Jobs(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(js)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tPHASE\tSUBMITTED\tRECORDS OUT\tREJECTED")
	for _, j := range js {
		var out, rej int64
		if j.Result != nil {
			out, rej = j.Result.RecordsOut, j.Result.Rejected
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", j.ID, j.State.Status(), j.Progress.Phase.PhaseName(), j.Submitted.Format(time.RFC3339), out, rej)
	}
	return tw.Flush()
}

func cmdCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, "cancel JOB [--coordinator URL] [--token-file F]", "Cancels a running job; its partial output is removed. For a job that could not be resumed from its journal, acknowledges the failure: the journal is removed, the job stays failed in the history.")
	client := clientFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "want one job id, got %d arguments", len(pos))
	}
	c, err := client()
	if err != nil {
		return err
	}
	if err := c.Cancel(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cancelling %s\n", pos[0])
	return nil
}
