package viz

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lib/pq"
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
	// DB is the PostgreSQL URL (or key=value string) of the database holding the summary
	// tables, ideally as the read-only role (pgsink.EnsureReadOnlyRole). A password in it is
	// on the command line when it comes from --db, which every local user can read (ps,
	// /proc/PID/cmdline): --db is for local use; deployments use DBFile or EnvDB. Exactly
	// one of DB and DBFile is required (UseEnv fills DB from the environment).
	DB string
	// DBFile is the path of a file holding the database URL, read by New and trimmed of
	// surrounding white space; e.g. a 0600 file that a boot script writes from a secret
	// store. Errors about it name the file, never its content.
	DBFile string
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
	// Admin is the address of the admin listener, which serves /metrics and /debug/pprof/
	// (without /debug/pprof/cmdline: the command line may hold --db's password); the
	// public Listen port serves neither. Empty: no admin listener. Bind it to loopback or
	// a private address.
	Admin string

	// ReadHeaderTimeout bounds how long a client may take to send a request's headers, so
	// that connections trickling bytes (slowloris) do not pile up. Must be > 0.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers included (the API takes no
	// body). Must be >= ReadHeaderTimeout. The write timeout is not a field: the main
	// listener's is QueryTimeout plus a minute (a slow query still ends in a 504 the
	// client sees), the admin listener's allows a CPU profile of up to five minutes.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no request for this long.
	// Must be > 0.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the size of a request's headers (net/http answers 431 above
	// it). Must be > 0.
	MaxHeaderBytes int
	// Log receives request logs and errors. Nil: slog.Default().
	Log *slog.Logger

	// Middleware, if set, wraps the handler of every route as it is registered, with the
	// route's pattern (e.g. "GET /api/map"), so a wrapper can label what it records by route.
	// HOOK: this is where request metrics (Prometheus) and profiling labels plug in; extra
	// routes such as /metrics are added with Server.Handle before serving.
	Middleware func(pattern string, h http.Handler) http.Handler
}

// EnvDB is the environment variable UseEnv reads the database URL from; DATABASE_URL is
// read when it is unset.
const EnvDB = "IREPORTS_VIZ_DB"

// maxDBFile bounds what New reads of Config.DBFile: a URL is far shorter, and a path such
// as /dev/zero must not fill memory.
const maxDBFile = 64 << 10

// DefaultConfig listens on :8080 with no admin listener, gives a request 10 s of database
// time, lets browsers reuse a chart for 60 s and reloads the lists of cities, agencies and
// types every 30 s. A client has 10 s to send its headers (64 KiB at most) and 30 s for its
// request; an idle keep-alive connection is closed after 2 minutes.
func DefaultConfig() Config {
	return Config{
		Listen:            ":8080",
		QueryTimeout:      10 * time.Second,
		CacheMaxAge:       60 * time.Second,
		MetaTTL:           30 * time.Second,
		MaxOpenConns:      8,
		ShutdownTimeout:   10 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// UseEnv fills DB from the environment when neither DB nor DBFile is set: getenv(EnvDB),
// else getenv("DATABASE_URL"). An environment variable, unlike --db, is not on the command
// line; it is visible to the process's own user and root only.
func (c *Config) UseEnv(getenv func(string) string) {
	if c.DB == "" && c.DBFile == "" {
		c.DB = cmp.Or(getenv(EnvDB), getenv("DATABASE_URL"))
	}
}

func (c *Config) validate() error {
	switch {
	case c.DB != "" && c.DBFile != "":
		return fmt.Errorf("%w: both a database URL (--db) and --db-file %s: give one", ErrConfig, c.DBFile)
	case c.DB == "" && c.DBFile == "":
		return fmt.Errorf("%w: no database URL: pass --db-file PATH or set %s or DATABASE_URL (--db URL is for local use: a password in it shows in ps)", ErrConfig, EnvDB)
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
	case c.ReadHeaderTimeout <= 0:
		return fmt.Errorf("%w: ReadHeaderTimeout %v must be > 0", ErrConfig, c.ReadHeaderTimeout)
	case c.ReadTimeout < c.ReadHeaderTimeout:
		return fmt.Errorf("%w: ReadTimeout %v must be >= ReadHeaderTimeout %v", ErrConfig, c.ReadTimeout, c.ReadHeaderTimeout)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("%w: IdleTimeout %v must be > 0", ErrConfig, c.IdleTimeout)
	case c.MaxHeaderBytes <= 0:
		return fmt.Errorf("%w: MaxHeaderBytes %d must be > 0", ErrConfig, c.MaxHeaderBytes)
	}
	return nil
}

// databaseURL returns the database URL: DB, or DBFile's content trimmed of surrounding
// white space. Its errors name the file but never show what it holds.
func (c *Config) databaseURL() (string, error) {
	if c.DBFile == "" {
		return c.DB, nil
	}
	f, err := os.Open(c.DBFile)
	if err != nil {
		return "", fmt.Errorf("%w: --db-file: %v", ErrConfig, err) // *PathError: names the file
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", fmt.Errorf("%w: --db-file: %v", ErrConfig, err)
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: --db-file %s is not a regular file (%v)", ErrConfig, c.DBFile, fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDBFile+1))
	if err != nil {
		return "", fmt.Errorf("%w: --db-file: %v", ErrConfig, err)
	}
	if len(b) > maxDBFile {
		return "", fmt.Errorf("%w: --db-file %s is over %d KiB: it must hold one database URL", ErrConfig, c.DBFile, maxDBFile>>10)
	}
	u := strings.TrimSpace(string(b))
	switch {
	case u == "":
		return "", fmt.Errorf("%w: --db-file %s is empty: it must hold the database URL (postgres://user:password@host:port/db)", ErrConfig, c.DBFile)
	case strings.ContainsAny(u, "\r\n"):
		return "", fmt.Errorf("%w: --db-file %s holds more than one line: it must hold the database URL alone", ErrConfig, c.DBFile)
	}
	return u, nil
}

// connector parses dsn, the database URL, into a connector for sql.OpenDB, so that a
// malformed URL fails New at once rather than every request. Parse errors quote the URL, so
// the message shows it with its password replaced by "xxxxx" (redactURL), or, for a
// key=value string (whose errors may quote any part of it), not at all. where says where
// dsn came from ("" or " in --db-file PATH").
func connector(dsn, where string) (*pq.Connector, error) {
	pc, err := pq.NewConfig(dsn)
	if err == nil {
		return pq.NewConnectorConfig(pc)
	}
	if !strings.Contains(dsn, "://") {
		return nil, fmt.Errorf("%w: the database URL%s is not a valid key=value connection string (not shown: it may hold a password)", ErrConfig, where)
	}
	if _, err := pq.NewConfig(redactURL(dsn)); err != nil {
		return nil, fmt.Errorf("%w: the database URL%s: %v", ErrConfig, where, err)
	}
	// Only the password made it fail.
	return nil, fmt.Errorf("%w: the database URL%s has a malformed password (not shown): percent-encode its special characters", ErrConfig, where)
}

// redactURL replaces the password of a postgres:// URL with "xxxxx": the part between the
// user's ':' and the last '@' (a password may hold an unescaped '/' or '@'), and the
// value of a password= parameter. Erring on the side of hiding, it may hide more.
func redactURL(dsn string) string {
	scheme, rest, _ := strings.Cut(dsn, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, _, _ := strings.Cut(rest[:at], ":")
		rest = user + ":xxxxx" + rest[at:]
	}
	if q := strings.Index(rest, "?"); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "password") {
				params[i] = k + "=xxxxx"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

// Flags registers the viz server's flags on fs and returns the Config they fill, starting
// from DefaultConfig. After fs.Parse, call UseEnv: with neither --db nor --db-file the URL
// comes from $IREPORTS_VIZ_DB or $DATABASE_URL (Run does this). Other packages add their own
// flags to the same fs (metrics, profiling).
func Flags(fs *flag.FlagSet) *Config {
	c := DefaultConfig()
	fs.StringVar(&c.DB, "db", "", "PostgreSQL URL of the summary tables, as the read-only role; for local use: a password in it shows in ps (default $"+EnvDB+", else $DATABASE_URL)")
	fs.StringVar(&c.DBFile, "db-file", "", "file holding the PostgreSQL URL (trimmed), so that its password is on no command line")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on")
	fs.StringVar(&c.PlotlyJS, "plotly", "", "path of a plotly.min.js to serve instead of the one built into viz")
	fs.DurationVar(&c.QueryTimeout, "query-timeout", c.QueryTimeout, "database time one API request may take")
	fs.DurationVar(&c.CacheMaxAge, "cache-max-age", c.CacheMaxAge, "how long browsers may reuse a chart's data (0: always revalidate)")
	fs.DurationVar(&c.MetaTTL, "meta-ttl", c.MetaTTL, "how long the lists of cities, agencies and request types are cached")
	fs.IntVar(&c.MaxOpenConns, "max-conns", c.MaxOpenConns, "maximum open database connections")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long to wait for requests in flight on SIGINT/SIGTERM")
	return &c
}
