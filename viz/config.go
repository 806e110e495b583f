package viz

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Errors returned by New and Run; test with errors.Is.
var (
	// ErrConfig: an invalid Config. The message names the field.
	ErrConfig = errors.New("invalid viz config")
	// ErrNoPlotly: the binary carries no plotly.js (built without `make build`) and
	// --plotly names none, or the file it names cannot be read.
	ErrNoPlotly = errors.New("plotly.js not found")
)

// PlotlyPackagePath is where npm installs the plotly.js bundle, relative to the directory
// holding package.json; `make build` embeds it from there.
const PlotlyPackagePath = "node_modules/plotly.js-dist-min/plotly.min.js"

// Config configures a Server. Start from DefaultConfig (or Flags) and change what you need.
type Config struct {
	// DB is the PostgreSQL URL of the database holding the summary tables, ideally as the
	// read-only role (pgsink.EnsureReadOnlyRole). Required.
	DB string
	// Listen is the TCP address Run serves on, e.g. ":8080" or "127.0.0.1:0".
	Listen string
	// PlotlyJS is the path of a plotly.min.js to serve instead of the copy embedded at build
	// time. Empty: the embedded copy (see PlotlyEmbedded).
	PlotlyJS string
	// QueryTimeout bounds the database work of one API request. Must be > 0.
	QueryTimeout time.Duration
	// CacheMaxAge is the max-age of API responses in Cache-Control: how stale a chart a
	// browser may show after new summaries are published. Zero: "no-cache" (always
	// revalidate with the ETag).
	CacheMaxAge time.Duration
	// MetaTTL is how long the cached lists of cities, agencies and request types (used to
	// validate parameters and fill the page's menus) are trusted before they are reloaded.
	// Must be > 0.
	MetaTTL time.Duration
	// MaxOpenConns caps the connection pool. Must be > 0.
	MaxOpenConns int
	// ShutdownTimeout is how long Run waits for requests in flight after its context ends.
	ShutdownTimeout time.Duration
	// Log receives request logs and errors. Nil: slog.Default().
	Log *slog.Logger

	// Middleware, if set, wraps the handler of every route as it is registered, with the
	// route's pattern (e.g. "GET /api/map"), so a wrapper can label what it records by route.
	// HOOK: this is where request metrics (Prometheus) and profiling labels plug in; extra
	// routes such as /metrics are added with Server.Handle before serving.
	Middleware func(pattern string, h http.Handler) http.Handler
}

// DefaultConfig listens on :8080, gives a request 10 s of database time, lets browsers
// reuse a chart for 60 s and reloads the lists of cities, agencies and types every 30 s.
func DefaultConfig() Config {
	return Config{
		Listen:          ":8080",
		QueryTimeout:    10 * time.Second,
		CacheMaxAge:     60 * time.Second,
		MetaTTL:         30 * time.Second,
		MaxOpenConns:    8,
		ShutdownTimeout: 10 * time.Second,
	}
}

func (c *Config) validate() error {
	switch {
	case c.DB == "":
		return fmt.Errorf("%w: no database URL: pass --db or set DATABASE_URL", ErrConfig)
	case c.QueryTimeout <= 0:
		return fmt.Errorf("%w: QueryTimeout %v must be > 0", ErrConfig, c.QueryTimeout)
	case c.CacheMaxAge < 0:
		return fmt.Errorf("%w: CacheMaxAge %v < 0", ErrConfig, c.CacheMaxAge)
	case c.MetaTTL <= 0:
		return fmt.Errorf("%w: MetaTTL %v must be > 0", ErrConfig, c.MetaTTL)
	case c.MaxOpenConns <= 0:
		return fmt.Errorf("%w: MaxOpenConns %d must be > 0", ErrConfig, c.MaxOpenConns)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("%w: ShutdownTimeout %v < 0", ErrConfig, c.ShutdownTimeout)
	}
	return nil
}

// Flags registers the viz server's flags on fs and returns the Config they fill, starting
// from DefaultConfig. After fs.Parse, an empty DB means $DATABASE_URL (applied by Run).
// Other packages add their own flags to the same fs (metrics, profiling).
func Flags(fs *flag.FlagSet) *Config {
	c := DefaultConfig()
	fs.StringVar(&c.DB, "db", "", "PostgreSQL URL of the summary tables, as the read-only role (default $DATABASE_URL)")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on")
	fs.StringVar(&c.PlotlyJS, "plotly", "", "path of a plotly.min.js to serve instead of the one built into viz")
	fs.DurationVar(&c.QueryTimeout, "query-timeout", c.QueryTimeout, "database time one API request may take")
	fs.DurationVar(&c.CacheMaxAge, "cache-max-age", c.CacheMaxAge, "how long browsers may reuse a chart's data (0: always revalidate)")
	fs.DurationVar(&c.MetaTTL, "meta-ttl", c.MetaTTL, "how long the lists of cities, agencies and request types are cached")
	fs.IntVar(&c.MaxOpenConns, "max-conns", c.MaxOpenConns, "maximum open database connections")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long to wait for requests in flight on SIGINT/SIGTERM")
	return &c
}
