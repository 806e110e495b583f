// Package workercli is the worker binary's command line: its flags (Flags, which
// terraform's boot scripts are checked against) and Main. The worker itself is package
// worker.
package workercli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/auth"
	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/logflags"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/worker"
)

// Flags registers the worker command's flags on fs and returns a function that builds the
// Config from them. Terraform's user-data is checked against this flag set.
func Flags(fs *flag.FlagSet) func() (worker.Config, error) {
	def := worker.DefaultConfig()
	join := fs.String("join", "", "gossip address(es) HOST:PORT of the coordinator (comma-separated)")
	bind := fs.String("bind", def.Bind, "gossip address host:port (TCP and UDP)")
	listen := fs.String("listen", def.Listen, "HTTP address serving map outputs, /healthz, /metrics and /debug/pprof")
	slots := fs.Int("slots", 0, "tasks to run at once (0: one per core)")
	dataDir := fs.String("data-dir", "/var/lib/ireports/worker", "directory for map outputs")
	keyFile := fs.String("gossip-key-file", "", "file holding the 32-byte gossip encryption key (raw, hex or base64)")
	tokenFile := fs.String("token-file", "", "file holding the cluster token (default: $"+auth.EnvToken+")")
	insecure := fs.Bool("insecure", false, "allow unencrypted gossip when no key is given (never on a shared network)")
	name := fs.String("name", "", "gossip node name (default: host name and port)")
	var allow allowpath.Flag
	fs.Var(&allow, "allow-path", "a directory or s3://bucket/prefix that tasks may read and write (repeatable); a task outside every root is refused. Required unless --allow-any-path")
	anyPath := fs.Bool("allow-any-path", false, "let tasks read and write anywhere this process can, instead of --allow-path")
	fetchStall := fs.Duration("fetch-stall", def.FetchStall, "fail a read from a peer or the coordinator that receives no byte for this long (a hung peer); longer than the coordinator's poll wait")
	memLimit := fs.String("memory-limit", "0", "soft memory limit of the worker (e.g. 512MiB; the runtime collects more often near it); 0: 64 MiB + 96 MiB per slot; off: none; GOMEMLIMIT wins")
	mapSpill := fs.String("map-spill", "0", "memory a map task may hold for its output before it spills sorted runs to --data-dir; 0: 48 MiB")
	profiling := obs.Flags(fs)
	logOpts := logflags.Register(fs, slog.LevelInfo)
	var tlsFlags httpserve.TLSFlags
	tlsFlags.RegisterServer(fs, "map outputs, /metrics and /debug/pprof")
	tlsFlags.RegisterClient(fs)
	return func() (worker.Config, error) {
		cfg := def
		var err error
		cfg.Log = logOpts.Logger(fs.Output()) // where the flag set reports: the command's stderr
		cfg.Bind, cfg.Listen, cfg.Slots, cfg.DataDir, cfg.Insecure, cfg.Name = *bind, *listen, *slots, *dataDir, *insecure, *name
		if len(allow) > 0 && *anyPath {
			return cfg, fmt.Errorf("%w: give --allow-path or --allow-any-path, not both", errUsage)
		}
		cfg.AllowPaths, cfg.AnyPath = allow, *anyPath
		if *fetchStall <= 0 {
			return cfg, fmt.Errorf("%w: --fetch-stall %v: must be positive", errUsage, *fetchStall)
		}
		cfg.FetchStall = *fetchStall
		if *memLimit == "off" {
			cfg.MemoryLimit = -1
		} else if cfg.MemoryLimit, err = units.ParseBytes(*memLimit); err != nil {
			return cfg, fmt.Errorf("%w: --memory-limit: %v", errUsage, err)
		}
		if cfg.MapSpillBytes, err = units.ParseBytes(*mapSpill); err != nil {
			return cfg, fmt.Errorf("%w: --map-spill: %v", errUsage, err)
		}
		for _, j := range strings.Split(*join, ",") {
			if j = strings.TrimSpace(j); j != "" {
				cfg.Join = append(cfg.Join, j)
			}
		}
		if cfg.Profiling, err = profiling(); err != nil {
			return cfg, err
		}
		if *keyFile != "" {
			if cfg.Key, err = cluster.LoadKey(*keyFile); err != nil {
				return cfg, err
			}
		}
		if cfg.TLS, cfg.ClientTLS, err = tlsFlags.Load(); err != nil {
			return cfg, err
		}
		cfg.Token, err = auth.LoadToken(*tokenFile)
		return cfg, err
	}
}

// errUsage marks an error of Flags' builder that is a mistake in the flags: Main exits 2.
var errUsage = errors.New("usage error")

// Main is the worker command line; it returns the process exit code: 0 after a clean
// shutdown (or -h, --version), 2 for a usage error (an unknown flag, a bad value, an
// argument, no --join), 1 when the worker cannot start or fails.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: worker --join HOST:PORT [--bind ADDR:PORT] [--listen ADDR:PORT] [--slots N] --data-dir DIR --gossip-key-file F --token-file F --allow-path ROOT... [flags]")
		fmt.Fprintln(stderr, "Joins an ireports cluster through the coordinator's gossip address and runs its tasks.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	build := Flags(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("worker"))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "worker: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if fs.Lookup("join").Value.String() == "" {
		fmt.Fprintln(stderr, "worker: nothing to join: give --join HOST:PORT (the coordinator's gossip address)")
		fs.Usage()
		return 2
	}
	cfg, err := build()
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	if len(cfg.AllowPaths) == 0 && !cfg.AnyPath {
		fmt.Fprintf(stderr, "worker: %v\n", allowpath.ErrNoRoots) // a required flag is missing
		fs.Usage()
		return 2
	}
	if cfg.AnyPath {
		cfg.Log.Warn("--allow-any-path: tasks may read and write anywhere this process can")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := worker.Start(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return 1
	}
	<-ctx.Done()
	cfg.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "worker: shutdown: %v\n", err)
		return 1
	}
	return 0
}
