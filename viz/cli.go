package viz

import (
	"flag"
	"log/slog"

	"github.com/ireports/ireports/internal/logflags"
	"github.com/ireports/ireports/internal/obs"
)

// Command is the viz binary's command line: the server's flags (Flags), the admin listener
// (--admin, Config.Admin) and profiling (--pyroscope-url).
type Command struct {
	Config    *Config
	Profiling func() (obs.ProfilingConfig, error)
	// Log is --log-format and --log-level.
	Log *logflags.Options
}

// CommandFlags registers every flag of the viz binary on fs (but --version, which Main
// adds). After fs.Parse, call Config.UseEnv.
func CommandFlags(fs *flag.FlagSet) *Command {
	c := &Command{Config: Flags(fs), Profiling: obs.Flags(fs)}
	fs.StringVar(&c.Config.Admin, "admin", "127.0.0.1:9090", "address of the admin listener: /metrics and /debug/pprof/ (the public --listen port serves neither); empty: none")
	c.Log = logflags.Register(fs, slog.LevelInfo)
	return c
}
