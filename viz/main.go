package viz

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/version"
)

const usage = `usage: viz [--db-file PATH] [--listen ADDR] [flags]

Serves the ireports charts over the Postgres summary tables. plotly.js is built into the
binary (--plotly PATH serves another copy). The database URL comes from --db-file, else
$` + EnvDB + `, else $DATABASE_URL. Stops gracefully on SIGINT or SIGTERM.

Flags:
`

// Main is the viz command line; it returns the process exit code: 0 after a clean
// shutdown (or -h, --version), 2 for a usage error (an unknown flag, a bad value, no
// database), 1 when the server cannot start or fails.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("viz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	cmd := CommandFlags(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "viz: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("viz"))
		return 0
	}
	cfg := *cmd.Config
	log := cmd.Log.Logger(stderr)
	cfg.Log = log
	cfg.UseEnv(os.Getenv)
	cfg.Middleware = obs.RouteMetrics("viz")
	pc, err := cmd.Profiling()
	if err != nil {
		fmt.Fprintf(stderr, "viz: %v\n", err)
		return 2
	}
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "viz: %v\n", err)
		if errors.Is(err, ErrConfig) {
			return 2
		}
		return 1
	}
	pc.Role, pc.Log = "viz", log
	prof, err := obs.StartProfiling(pc)
	if err != nil {
		s.Close()
		fmt.Fprintf(stderr, "viz: %v\n", err)
		return 1
	}
	defer prof.Stop(context.Background())
	log.Info("viz starting", "version", version.Version())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, nil); err != nil {
		log.Error("viz: " + err.Error())
		return 1
	}
	return 0
}
