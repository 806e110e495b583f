package viz

// Tests of the server's exposure, none needing a database: the database URL never on the
// command line or in a message, the admin listener's routes, and the HTTP timeouts and
// header limit on both listeners. They run under -short.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secret stands for a database password in the tests below: it must appear in no error.
const secret = "S3cretPassw0rd"

// stubPlotly writes a stand-in plotly.min.js: these tests need a file, not plotly.
func stubPlotly(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plotly.min.js")
	if err := os.WriteFile(p, []byte("/* stub */"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func quietConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.PlotlyJS = stubPlotly(t)
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// TestDBFileIsUsed gives the URL in a file (padded with white space, as `echo` and editors
// leave it) and checks that the server dials the host and port it names.
func TestDBFileIsUsed(t *testing.T) {
	// A listener standing in for PostgreSQL: the test only needs to see the dial arrive.
	pg, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	dialed := make(chan struct{}, 1)
	go func() {
		for {
			c, err := pg.Accept()
			if err != nil {
				return // pg closed
			}
			c.Close()
			select {
			case dialed <- struct{}{}:
			default:
			}
		}
	}()

	file := filepath.Join(t.TempDir(), "viz-db-url")
	url := "postgres://ireports_viz:" + secret + "@" + pg.Addr().String() + "/ireports?sslmode=disable&connect_timeout=5"
	if err := os.WriteFile(file, []byte("\n  "+url+"  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("viz", flag.ContinueOnError)
	cmd := CommandFlags(fs)
	if err := fs.Parse([]string{"--db-file", file}); err != nil {
		t.Fatal(err)
	}
	cfg := *cmd.Config
	cfg.PlotlyJS, cfg.Log = stubPlotly(t), slog.New(slog.NewTextHandler(io.Discard, nil))
	// The environment does not override the file.
	cfg.UseEnv(func(string) string { return "postgres://elsewhere.invalid/x" })
	if cfg.DB != "" || cfg.DBFile != file {
		t.Fatalf("after --db-file and UseEnv: DB %q, DBFile %q", cfg.DB, cfg.DBFile)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	select {
	case <-dialed:
	default:
		t.Fatalf("/healthz answered %d without dialing %s, the address in --db-file", rec.Code, pg.Addr())
	}
}

func TestUseEnv(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		vars    map[string]string
		wantDB  string
		wantErr string // from New, "" for none
	}{
		{"viz variable first", Config{}, map[string]string{EnvDB: "postgres://a/x", "DATABASE_URL": "postgres://b/x"}, "postgres://a/x", ""},
		{"DATABASE_URL second", Config{}, map[string]string{"DATABASE_URL": "postgres://b/x"}, "postgres://b/x", ""},
		{"--db wins", Config{DB: "postgres://c/x"}, map[string]string{EnvDB: "postgres://a/x"}, "postgres://c/x", ""},
		{"nothing", Config{}, nil, "", "pass --db-file PATH or set " + EnvDB},
		{"--db and --db-file", Config{DB: "postgres://c/x", DBFile: "/etc/x"}, nil, "postgres://c/x", "give one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig(t)
			cfg.DB, cfg.DBFile = tc.cfg.DB, tc.cfg.DBFile
			cfg.UseEnv(env(tc.vars))
			if cfg.DB != tc.wantDB {
				t.Errorf("DB %q, want %q", cfg.DB, tc.wantDB)
			}
			s, err := New(cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.wantErr != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("New: %v, want ErrConfig about %q", err, tc.wantErr)
			}
			if s != nil {
				s.Close()
			}
		})
	}
}

// TestBadDatabaseURL: a bad --db-file, or a malformed URL, fails New with ErrConfig and a
// message that says what is wrong and where, and never shows the password or the file's
// content. (The driver's own parse errors quote the whole URL.)
func TestBadDatabaseURL(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		db     string // --db
		file   string // --db-file
		want   []string
		hidden string // must not appear
	}{
		{name: "missing file", file: filepath.Join(dir, "absent"), want: []string{"--db-file", "absent", "no such file"}},
		{name: "directory", file: dir, want: []string{"not a regular file", dir}},
		{name: "empty file", file: write("empty", " \n\t\n"), want: []string{"is empty", "empty"}},
		{name: "two lines", file: write("two", "postgres://u:"+secret+"@h/db\n"+secret+"\n"), want: []string{"more than one line", "two"}, hidden: secret},
		{name: "huge file", file: write("huge", strings.Repeat(secret, 6000)), want: []string{"over 64 KiB", "huge"}, hidden: secret},
		{name: "bad port in file", file: write("port", "postgres://u:"+secret+"@h:bad/db\n"), want: []string{`invalid port ":bad"`, "xxxxx", "in --db-file", "port"}, hidden: secret},
		{name: "password with a slash", db: "postgres://u:" + secret[:4] + "/" + secret[4:] + "@h/db", want: []string{"malformed password"}, hidden: secret[:4]},
		{name: "bad escape in password", db: "postgres://u:" + secret + "%zz@h/db", want: []string{"malformed password"}, hidden: secret},
		{name: "bad parameter", db: "postgres://u:" + secret + "@h/db?password=" + secret + "&sslmode=bogus", want: []string{"sslmode"}, hidden: secret},
		{name: "bad key=value", db: "host=h password=" + secret + " " + secret, want: []string{"not a valid key=value"}, hidden: secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig(t)
			cfg.DB, cfg.DBFile = tc.db, tc.file
			s, err := New(cfg)
			if err == nil {
				s.Close()
				t.Fatal("New accepted it")
			}
			msg := err.Error()
			if !errors.Is(err, ErrConfig) {
				t.Errorf("%v is not ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
			if tc.hidden != "" && strings.Contains(msg, tc.hidden) {
				t.Errorf("the message shows the secret: %q", msg)
			}
		})
	}
}

// TestAdminHandler: the admin listener serves metrics and profiles, but neither the command
// line (which may hold --db's password) nor expvar's /debug/vars, however the path is
// spelled.
func TestAdminHandler(t *testing.T) {
	ts := httptest.NewServer(AdminHandler())
	defer ts.Close()
	cmdline := strings.Join(os.Args, "\x00")
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/debug/pprof/cmdline", 404, ""},
		{"GET", "/debug/pprof/cmdline?debug=1", 404, ""},
		{"POST", "/debug/pprof/cmdline", 404, ""},
		{"GET", "/debug/pprof/%63mdline", 404, ""},
		{"GET", "/debug/pprof//cmdline", 404, ""}, // redirected to the clean path, then 404
		{"GET", "/debug/pprof/./cmdline", 404, ""},
		{"GET", "/debug/pprof/CMDLINE", 404, ""},
		{"GET", "/debug/vars", 404, ""},
		{"GET", "/debug/pprof/", 200, "goroutine"},
		{"GET", "/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{"GET", "/metrics", 200, "go_goroutines"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %.200q, want %d with %q", res.StatusCode, body, tc.code, tc.want)
			}
			if len(os.Args) > 1 && strings.Contains(string(body), cmdline) {
				t.Errorf("the response shows the command line")
			}
		})
	}
}

// TestHTTPLimits serves both listeners with short timeouts and checks, on each, that a
// connection that sends nothing and a keep-alive connection left idle are closed by the
// server, and that oversized headers are refused with 431. On the code before, the admin
// listener had no timeout at all and the site's header limit was net/http's 1 MiB.
func TestHTTPLimits(t *testing.T) {
	cfg := quietConfig(t)
	cfg.DB = "postgres://nobody@127.0.0.1:1/x?sslmode=disable"
	cfg.ReadHeaderTimeout = 100 * time.Millisecond
	cfg.ReadTimeout = 5 * time.Second
	cfg.IdleTimeout = 100 * time.Millisecond
	cfg.MaxHeaderBytes = 1 << 10
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	site, admin := listen(), listen()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListeners(ctx, site, admin) }()

	for _, l := range []struct {
		name string
		addr string
		path string
	}{
		{"site", site.Addr().String(), "/"},
		{"admin", admin.Addr().String(), "/metrics"},
	} {
		t.Run(l.name, func(t *testing.T) {
			dial := func() net.Conn {
				c, err := net.Dial("tcp", l.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				// A bound for a broken server only: the server's timeouts are 100 ms.
				c.SetDeadline(time.Now().Add(30 * time.Second))
				return c
			}
			// closed reports whether the server closed c: a read ends in EOF, not in the
			// test's own deadline.
			closed := func(r io.Reader) error {
				_, err := r.Read(make([]byte, 1))
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return errors.New("the connection is still open after 30s")
				}
				if err == nil {
					return errors.New("the server sent bytes unasked")
				}
				return nil
			}
			t.Run("silent connection", func(t *testing.T) {
				if err := closed(dial()); err != nil {
					t.Error(err)
				}
			})
			t.Run("idle keep-alive connection", func(t *testing.T) {
				c := dial()
				if _, err := io.WriteString(c, "GET "+l.path+" HTTP/1.1\r\nHost: viz\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || res.Close {
					t.Fatalf("GET %s: %d, close %v; want 200 on a kept-alive connection", l.path, res.StatusCode, res.Close)
				}
				if err := closed(br); err != nil {
					t.Error(err)
				}
			})
			t.Run("oversized headers", func(t *testing.T) {
				// Above MaxHeaderBytes plus net/http's 4 KiB of slack, far below its 1 MiB
				// default.
				c := dial()
				big := strings.Repeat("x", 32<<10)
				if _, err := io.WriteString(c, "GET "+l.path+" HTTP/1.1\r\nHost: viz\r\nX-Big: "+big+"\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Errorf("32 KiB of headers: %d, want 431", res.StatusCode)
				}
			})
		})
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeListeners after its context ended: %v", err)
	}
}

func TestTimeoutConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no header timeout", func(c *Config) { c.ReadHeaderTimeout = 0 }, "ReadHeaderTimeout"},
		{"read below header", func(c *Config) { c.ReadTimeout = c.ReadHeaderTimeout - 1 }, "ReadTimeout"},
		{"no idle timeout", func(c *Config) { c.IdleTimeout = 0 }, "IdleTimeout"},
		{"no header limit", func(c *Config) { c.MaxHeaderBytes = 0 }, "MaxHeaderBytes"},
	} {
		cfg := quietConfig(t)
		cfg.DB = "postgres://localhost/x"
		tc.edit(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrConfig about %s", tc.name, err, tc.want)
		}
	}
}
