package viz

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// readOnlyRole is the role the server connects as in the tests, as in production.
const readOnlyRole = "ireports_viz"

// env is what the subtests of TestServer share: one PostgreSQL server loaded by one real
// job over the five cities (starting either costs seconds), and one viz server over it.
type env struct {
	admin *sql.DB // superuser, for the tests' own checks
	srv   *Server
	ts    *httptest.Server
	// syn serves the made-up cities of syntheticDB: hostile names, and a busiest city that
	// is not first by name.
	syn *httptest.Server
}

// TestServer runs the handler, validation, caching and browser tests against a real
// PostgreSQL loaded by the normalize job over the real exports of five cities.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and runs the normalize job; skipped under -short")
	}
	testenv.RealData(t) // skip early, before starting anything, when the fixtures are absent
	ctx := context.Background()
	pg := testenv.Postgres(t)
	admin, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	start := time.Now()
	loadRealData(t, ctx, admin)
	if err := pgsink.EnsureReadOnlyRole(ctx, admin, readOnlyRole, ""); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL loaded in %.1fs", time.Since(start).Seconds())

	u, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(readOnlyRole)
	e := &env{admin: admin}
	e.srv = newTestServer(t, u.String())
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)
	e.syn = httptest.NewServer(newTestServer(t, syntheticDB(t, pg)).Handler())
	t.Cleanup(e.syn.Close)

	t.Run("read-only role", func(t *testing.T) { testReadOnly(t, e) })
	t.Run("api", func(t *testing.T) { testAPI(t, e) })
	t.Run("empty states", func(t *testing.T) { testEmptyStates(t, e) })
	t.Run("validation", func(t *testing.T) { testValidation(t, e) })
	t.Run("hostile input", func(t *testing.T) { testHostile(t, e) })
	t.Run("caching", func(t *testing.T) { testCaching(t, e) })
	t.Run("pages and assets", func(t *testing.T) { testPages(t, e) })
	t.Run("csv", func(t *testing.T) { testCSV(t, e) })
	t.Run("query timeout", func(t *testing.T) {
		// A server whose every query is out of time: 504 with a message, never a hang.
		cfg := e.srv.cfg
		cfg.QueryTimeout = time.Nanosecond
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/top-types?city=sf", nil))
		if rec.Code != http.StatusGatewayTimeout || !strings.Contains(rec.Body.String(), "try a shorter period") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("query waiting for a lock", func(t *testing.T) {
		// A publish that rebuilds the tables holds them, and its advisory lock, until its
		// commit: a request that runs out of time waiting for it says so (503, Retry-After).
		// Another session's lock (an ALTER TABLE, a VACUUM FULL) is a plain time-out: 504.
		cfg := e.srv.cfg // the read-only role's
		cfg.QueryTimeout = 300 * time.Millisecond
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		get := func() *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/top-types?city=sf", nil))
			return rec
		}
		for _, publish := range []bool{false, true} {
			tx, err := admin.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if publish {
				if _, err := tx.Exec(`SELECT pg_advisory_xact_lock($1)`, pgsink.PublishLockKey); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tx.Exec(`LOCK TABLE request_monthly, agency_daily, request_heat, request_geo IN ACCESS EXCLUSIVE MODE`); err != nil {
				t.Fatal(err)
			}
			rec := get()
			if publish && (rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "10" ||
				!strings.Contains(rec.Body.String(), "publishing new summaries")) {
				t.Errorf("while a publish holds the tables: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			if !publish && (rec.Code != http.StatusGatewayTimeout || !strings.Contains(rec.Body.String(), "try a shorter period")) {
				t.Errorf("while another session holds the tables: %d %s", rec.Code, rec.Body)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if rec := get(); rec.Code != http.StatusOK {
				t.Errorf("once the lock is gone: %d %s", rec.Code, rec.Body)
			}
		}
	})
	t.Run("login refused", func(t *testing.T) {
		// A role the database does not know (a wrong password fails the same way where
		// passwords are checked): no retry helps, and the answers say so.
		bad, err := url.Parse(pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		bad.User = url.UserPassword("no_such_viz_role", "pw-of-nobody")
		s := newTestServer(t, bad.String())
		for path, want := range map[string]string{"/api/cities": "cannot log in to the summary database", "/healthz": "refuses the login"} {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), want) || strings.Contains(rec.Body.String(), "pw-of-nobody") {
				t.Errorf("GET %s with a refused login: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
	t.Run("empty database", func(t *testing.T) {
		// Migrated, nothing published yet: every chart says so.
		dsn := pg.CreateDatabase(t, "viz_empty")
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := pgsink.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := newTestServer(t, dsn)
		for _, path := range []string{"/api/cities", "/api/monthly"} {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			var v struct{ Message string }
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) != nil || v.Message != noSummaries {
				t.Errorf("GET %s on an empty database: %d %s", path, rec.Code, rec.Body)
			}
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/map?city=sf", nil))
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "no summaries have been published yet") {
			t.Errorf("GET /api/map?city=sf on an empty database: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("browser", func(t *testing.T) { testBrowser(t, e) })
}

// newTestServer starts a Server on dsn. The lists of cities are cached for the whole test,
// so that a request refused by validation provably runs no statement at all.
func newTestServer(t *testing.T, dsn string) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DB = dsn
	cfg.MetaTTL = time.Hour
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("VIZ_TEST_LOG") != "" {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	cfg.PlotlyJS, _ = testPlotly(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// get fetches path from the test server and decodes a JSON body into v (if not nil).
func (e *env) get(t *testing.T, path string, v any) *http.Response {
	t.Helper()
	res, err := http.Get(e.ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	res.Body = io.NopCloser(bytesReader(body))
	return res
}

// TestReplacingSeesAPublish: what viz looks for in pg_locks is what a real publish holds
// while it rebuilds the tables (pgsink truncates them, in the transaction that holds its
// advisory lock), and nothing once it has committed. The publish is held after its first
// group, when the tables are truncated and their rows not yet in.
func TestReplacingSeesAPublish(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := context.Background()
	admin, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := pgsink.Migrate(ctx, admin); err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	cfg := pgsink.DefaultConfig()
	cfg.Progress = func(p pgsink.PublishProgress) {
		if p.Groups == 1 && !p.Finishing {
			close(held)
			<-release
		}
	}
	sink, err := pgsink.New(admin, cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups := []record.Key{{City: "sf", Year: 2024, Month: 1}, {City: "sf", Year: 2024, Month: 2}}
	load := func(k record.Key) (summary.Tables, error) {
		return summary.Tables{Monthly: []summary.Monthly{{City: k.City, Year: int32(k.Year), Month: int32(k.Month), Requests: 1}}}, nil
	}
	done := make(chan error, 1)
	go func() {
		done <- sink.Publish(ctx, pgsink.JobRun{ID: "j-1", Name: "normalize", Status: "succeeded", Started: time.Now()}, groups, load)
	}()
	s := newTestServer(t, pg.URL)
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("the publish ended before its first group was in: %v", err)
	}
	if !s.replacing(ctx) {
		t.Error("viz does not see the publish that is rebuilding the tables")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.replacing(ctx) {
		t.Error("viz sees a publish after its commit")
	}
}
