// Command viz serves the ireports charts over the Postgres summary tables:
//
//	bin/viz --db-file /etc/ireports/viz-db-url --listen :8080
//
// The database URL comes from --db-file (a file holding it), else $IREPORTS_VIZ_DB, else
// $DATABASE_URL; --db URL is for local use, as a password in it shows in ps. It stops
// gracefully on SIGINT or SIGTERM. See package viz.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/viz"
)

func main() {
	fs := flag.NewFlagSet("viz", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: viz [--db-file PATH] [--listen ADDR] [flags]\n\nServes the ireports charts over the Postgres summary tables.\nThe database URL comes from --db-file, else $"+viz.EnvDB+", else $DATABASE_URL.\n\nFlags:")
		fs.PrintDefaults()
	}
	cmd := viz.CommandFlags(fs)
	cfg, profiling := cmd.Config, cmd.Profiling
	fs.Parse(os.Args[1:])
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	cfg.Log = log
	cfg.UseEnv(os.Getenv)
	cfg.Middleware = obs.RouteMetrics("viz")
	pc, err := profiling()
	if err != nil {
		log.Error("viz: " + err.Error())
		os.Exit(2)
	}
	pc.Role, pc.Log = "viz", log
	prof, err := obs.StartProfiling(pc)
	if err != nil {
		log.Error("viz: " + err.Error())
		os.Exit(2)
	}
	defer prof.Stop(context.Background())

	s, err := viz.New(*cfg)
	if err != nil {
		log.Error("viz: " + err.Error())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, nil); err != nil {
		log.Error("viz: " + err.Error())
		os.Exit(1)
	}
}
