package viz

import (
	"flag"
	"log/slog"

	"github.com/ireports/ireports/internal/logflags"
	"github.com/ireports/ireports/internal/obs"
)

// Command is the viz binary's command line: the server's flags (Flags), profiling
// (--pyroscope-url) and the admin listener.
type Command struct {
	Config    *Config
	Profiling func() (obs.ProfilingConfig, error)
	// Admin is the address of the listener for /metrics and /debug/pprof/, which the public
	// port does not serve; "" means none.
	Admin *string
	// Log is --log-format and --log-level.
	Log *logflags.Options
}

// CommandFlags registers every flag of the viz binary on fs (but --version, which Main adds).
func CommandFlags(fs *flag.FlagSet) *Command {
	return &Command{
		Config:    Flags(fs),
		Profiling: obs.Flags(fs),
		Admin:     fs.String("admin", "127.0.0.1:9090", "address of the admin listener: /metrics and /debug/pprof/ (the public --listen port serves neither); empty: none"),
		Log:       logflags.Register(fs, slog.LevelInfo),
	}
}
