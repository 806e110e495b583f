// Command viz serves the ireports charts over the Postgres summary tables:
//
//	bin/viz --db postgres://ireports_viz@host/ireports --listen :8080
//
// With --db unset it reads $DATABASE_URL. It stops gracefully on SIGINT or SIGTERM. See
// package viz.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/viz"
)

func main() {
	fs := flag.NewFlagSet("viz", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: viz [--db URL] [--listen ADDR] [flags]\n\nServes the ireports charts over the Postgres summary tables.\n\nFlags:")
		fs.PrintDefaults()
	}
	cmd := viz.CommandFlags(fs)
	cfg, profiling, admin := cmd.Config, cmd.Profiling, cmd.Admin
	fs.Parse(os.Args[1:])
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	cfg.Log = log
	if cfg.DB == "" {
		cfg.DB = os.Getenv("DATABASE_URL")
	}
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
	if *admin != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", obs.Handler())
		mux.Handle("/debug/pprof/", obs.PprofHandler())
		ln, err := net.Listen("tcp", *admin)
		if err != nil {
			log.Error("viz: admin listener: " + err.Error())
			os.Exit(2)
		}
		log.Info("admin listener", "addr", ln.Addr().String())
		go http.Serve(ln, mux)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, nil); err != nil {
		log.Error("viz: " + err.Error())
		os.Exit(1)
	}
}
