package viz

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/summary"
)

// Server serves the page, its assets and the JSON API. It is safe for concurrent use.
// Create it with New, register extra routes with Handle, serve Handler, then Close.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *sql.DB
	meta   *metaCache
	mux    *http.ServeMux
	assets *assets
	pages  *pages
	// plotlyFrom says where plotly.js came from: "embedded", or the --plotly path.
	plotlyFrom string

	queries atomic.Int64 // statements run, for tests that prove a request ran none
}

// New checks cfg, reads the database URL (from DBFile if set) and checks that it parses,
// opens the database pool (without connecting: a database that is down at start is retried
// per request, and /healthz says so) and reads the page's assets.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dsn, err := cfg.databaseURL()
	if err != nil {
		return nil, err
	}
	where := ""
	if cfg.DBFile != "" {
		where = " in --db-file " + cfg.DBFile
	}
	conn, err := connector(dsn, where)
	if err != nil {
		return nil, err
	}
	plotly, from, err := plotlySource(cfg.PlotlyJS)
	if err != nil {
		return nil, err
	}
	log := cmp.Or(cfg.Log, slog.Default())
	a, err := loadAssets(plotly)
	if err != nil {
		return nil, err
	}
	pg, err := loadPages(a)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Server{cfg: cfg, log: log, db: db, mux: http.NewServeMux(), assets: a, pages: pg, plotlyFrom: from}
	s.meta = &metaCache{ttl: cfg.MetaTTL, load: s.loadMeta, log: log, clock: time.Now}
	s.routes()
	return s, nil
}

// routes registers every endpoint. The API's parameters are listed beside each route: a
// request with any other parameter is refused. The charts' endpoints take format=csv (see
// respond).
func (s *Server) routes() {
	s.Handle("GET /{$}", s.page("overview"))
	s.Handle("GET /review", s.page("review"))
	s.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.Handle("GET /static/{name}", http.HandlerFunc(s.assets.serveStatic))
	s.Handle("GET /assets/plotly.min.js", http.HandlerFunc(s.assets.servePlotly))

	s.Handle("GET /api/cities", s.api(s.apiCities))
	s.Handle("GET /api/agencies", s.api(s.apiAgencies, "city"))
	s.Handle("GET /api/request-types", s.api(s.apiRequestTypes, "city"))
	s.Handle("GET /api/map", s.api(s.apiMap, "city", "from", "to", "type", "format"))
	s.Handle("GET /api/top-types", s.api(s.apiTopTypes, "city", "from", "to", "n", "format"))
	s.Handle("GET /api/compare", s.api(s.apiCompare, "cities", "from", "to", "n", "format"))
	s.Handle("GET /api/monthly", s.api(s.apiMonthly, "cities", "from", "to", "format"))
	s.Handle("GET /api/resolution", s.api(s.apiResolution, "city", "from", "to", "n", "format"))
	s.Handle("GET /api/review", s.api(s.apiReview, "city", "agency", "end", "recent", "history", "format", "chart"))
	s.Handle("GET /api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	}))
}

// Handle registers a route (a ServeMux pattern) wrapped by Config.Middleware. Call it
// before serving, e.g. to add /metrics.
func (s *Server) Handle(pattern string, h http.Handler) {
	if s.cfg.Middleware != nil {
		h = s.cfg.Middleware(pattern, h)
	}
	s.mux.Handle(pattern, h)
}

// Handler is the server's root handler: the routes behind request logging, security
// headers and a guard that refuses path traversal before any route sees the path.
func (s *Server) Handler() http.Handler {
	return s.logRequests(secure(s.mux))
}

// Close closes the database pool.
func (s *Server) Close() error { return s.db.Close() }

// Run serves cfg until ctx ends, then shuts down gracefully: it stops accepting, waits up
// to cfg.ShutdownTimeout for requests in flight, and closes the pool. With neither DB nor
// DBFile set, the URL comes from the environment (Config.UseEnv). ready, if not nil, is
// called with the bound address once the server listens.
func Run(ctx context.Context, cfg Config, ready func(addr net.Addr)) error {
	cfg.UseEnv(os.Getenv)
	s, err := New(cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ready)
}

// Serve listens on Config.Listen, and on Config.Admin if set, and serves until ctx ends
// (see Run). ready, if not nil, is called with the main listener's address. It closes s.
func (s *Server) Serve(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.Close()
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	var admin net.Listener
	if s.cfg.Admin != "" {
		if admin, err = net.Listen("tcp", s.cfg.Admin); err != nil {
			ln.Close()
			s.Close()
			return fmt.Errorf("admin listener %s: %w", s.cfg.Admin, err)
		}
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return s.ServeListeners(ctx, ln, admin)
}

// adminWriteTimeout is the admin listener's write timeout: /debug/pprof/profile and trace
// refuse a duration (?seconds=) at or above it, so it allows profiles of up to five minutes.
const adminWriteTimeout = 5*time.Minute + 30*time.Second

// checkLogin says at start, on the log, when the database refuses the server's login: every
// chart would fail until its operator fixes the URL. An unreachable database is not reported
// here; it may come up later, and /healthz says whether it answers.
func (s *Server) checkLogin(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); refusedLogin(err) {
		s.log.Error("viz: the database refuses the server's login; every chart will fail until its URL (--db-file) is fixed", "err", err)
	}
}

// ServeListeners serves the site on ln and, if admin is not nil, the admin handler
// (AdminHandler) on admin, until ctx ends or either server fails; then it shuts both down
// gracefully (see Run) and closes s. It owns both listeners.
func (s *Server) ServeListeners(ctx context.Context, ln, admin net.Listener) error {
	defer s.Close()
	// Above QueryTimeout, so a slow query ends in a 504 the client sees rather than a
	// dropped connection; plotly.js is large on a slow link, hence the margin.
	servers := []*http.Server{s.httpServer(s.Handler(), s.cfg.QueryTimeout+60*time.Second)}
	listeners := []net.Listener{ln}
	s.log.Info("viz: serving", "addr", "http://"+ln.Addr().String(), "plotly", s.plotlyFrom)
	s.checkLogin(ctx)
	if admin != nil {
		servers = append(servers, s.httpServer(AdminHandler(), adminWriteTimeout))
		listeners = append(listeners, admin)
		s.log.Info("viz: admin listener (/metrics, /debug/pprof/)", "addr", "http://"+admin.Addr().String())
	}
	// One goroutine per server, each ended by Shutdown below; errc holds all their results.
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	var first error
	select {
	case first = <-errc: // a server failed: stop the other too
	case <-ctx.Done():
	}
	// Shutdown order: stop accepting and drain requests in flight (they still use the pool),
	// then the deferred Close ends the pool.
	s.log.Info("viz: shutting down", "grace", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	n := len(servers)
	if first != nil {
		n-- // already received
		errs = append(errs, first)
	}
	for range n {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.log.Info("viz: stopped")
	return nil
}

// httpServer is an http.Server for h with the Config's timeouts and header limit, so that
// neither a slow client nor an idle one holds a connection for long.
func (s *Server) httpServer(h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// AdminHandler serves the admin listener: /metrics (Prometheus) and /debug/pprof/, but
// not /debug/pprof/cmdline, which would show the command line and with it any password
// given by --db. Nothing else is served: in particular not expvar's /debug/vars (which
// also shows the command line), registered on http.DefaultServeMux by a dependency.
func AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", obs.Handler())
	mux.Handle("/debug/pprof/", obs.PprofHandler())
	// More specific than /debug/pprof/, so it wins for exactly the paths that the pprof
	// handler's own mux would route to pprof.Cmdline.
	mux.Handle("/debug/pprof/cmdline", http.NotFoundHandler())
	return mux
}

// healthz reports whether the database answers: 200 "ok", or 503 with the reason.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.db.PingContext(ctx); err != nil {
		s.log.Warn("viz: health check: database unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		if refusedLogin(err) {
			fmt.Fprintln(w, "database refuses the login")
			return
		}
		fmt.Fprintln(w, "database unreachable")
		return
	}
	fmt.Fprintln(w, "ok")
}

// query runs one statement and calls scan for each row.
func (s *Server) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	s.queries.Add(1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// apiFunc computes one endpoint's response from its checked parameters.
type apiFunc func(ctx context.Context, p params, md *metadata) (any, error)

// api turns fn into a handler: parameters checked against names, the request's database
// time bounded by QueryTimeout, errors classified, the result written as JSON (or CSV).
func (s *Server) api(fn apiFunc, names ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := parseParams(r, names...)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		defer cancel()
		md, err := s.meta.get(ctx)
		if err != nil {
			s.fail(w, r, withCtxErr(ctx, err))
			return
		}
		v, err := fn(ctx, p, md)
		if err != nil {
			s.fail(w, r, withCtxErr(ctx, err))
			return
		}
		s.respond(w, r, p, v)
	})
}

// withCtxErr returns err, which a query under ctx returned, so that it also matches ctx's
// error once ctx has ended: lib/pq reports a statement it cancelled because its context
// ended as the server's "canceling statement due to user request", not as the context's
// error, and a query that ran out of time must read as one.
func withCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// fail writes err as a JSON error with the status its class calls for; server-side
// details go to the log, not to the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.msg)
	case errors.Is(err, context.DeadlineExceeded) && s.replacing(r.Context()):
		s.log.Warn("viz: query timed out waiting for a publish to replace the summary tables", "path", r.URL.Path,
			"query", r.URL.RawQuery, "timeout", s.cfg.QueryTimeout)
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "a job is publishing new summaries, which readers wait for; try again in a few seconds")
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("viz: query timed out", "path", r.URL.Path, "query", r.URL.RawQuery, "timeout", s.cfg.QueryTimeout)
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("the database took longer than %v; try a shorter period", s.cfg.QueryTimeout))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	case refusedLogin(err):
		s.log.Error("viz: the database refuses the server's login; fix its URL (--db-file)", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the viz server cannot log in to the summary database (its credentials are refused); its operator must fix them")
	default:
		s.log.Error("viz: request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the summary database is unavailable; try again shortly")
	}
}

// refusedLogin reports whether err is the server refusing the connection's role or password
// (SQLSTATE class 28, invalid authorization): no retry mends that, unlike an outage.
func refusedLogin(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code.Class() == "28"
}

// publishLockKey is pgsink.PublishLockKey (TestPublishLockKey), which a publish holds as a
// transaction-level advisory lock until its commit; pg_locks shows a bigint key as its high
// and low 32 bits (classid, objid) with objsubid 1.
const publishLockKey int64 = 0x6972_6570_6f72_7474

// replacingQuery asks whether a publish holds a summary table in ACCESS EXCLUSIVE mode: one
// that truncated the table to load it anew (pgsink's rebuild of a table most of whose rows it
// replaces), whose readers wait for its commit. Another session holding such a lock (a
// VACUUM FULL, an ALTER TABLE) is not a publish.
var replacingQuery = fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM pg_locks t JOIN pg_locks a ON a.pid = t.pid
	WHERE t.granted AND t.mode = 'AccessExclusiveLock' AND t.pid <> pg_backend_pid()
	AND t.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND t.relation IN (to_regclass('%s'), to_regclass('%s'), to_regclass('%s'), to_regclass('%s'))
	AND a.granted AND a.locktype = 'advisory' AND a.classid = %d AND a.objid = %d AND a.objsubid = 1)`,
	summary.TableMonthly, summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo,
	publishLockKey>>32, publishLockKey&0xffff_ffff)

// replacing reports whether a publish holds the summary tables, asked when a request's
// queries ran out of time, so that its answer says why. Any failure to tell is a no.
func (s *Server) replacing(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var held bool
	return s.db.QueryRowContext(ctx, replacingQuery).Scan(&held) == nil && held
}

// secure sets headers every response carries and refuses paths that try to leave the
// routes (dot segments, encoded slashes or backslashes): 400 before any handler sees them.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		// plotly.js sets inline styles on the elements it draws; scripts are ours only.
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		raw := strings.ToLower(r.URL.EscapedPath())
		if strings.Contains(raw, "..") || strings.Contains(raw, "%2e") || strings.Contains(raw, "%2f") ||
			strings.Contains(raw, "%5c") || strings.Contains(raw, "\\") || strings.Contains(raw, "%00") || strings.Contains(raw, "//") {
			writeError(w, http.StatusBadRequest, "bad path")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statusWriter records the status and size of a response for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
			"status", cmp.Or(sw.status, http.StatusOK), "bytes", sw.bytes, "ms", time.Since(start).Milliseconds())
	})
}
