package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/cli/coordinatorcli"
	"github.com/ireports/ireports/internal/cli/workercli"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/viz"
)

// mains are the three binaries' Main functions, as cmd/* call them.
var mains = map[string]func(args []string, stdout, stderr io.Writer) int{
	"coordinator": coordinatorcli.Main,
	"worker":      workercli.Main,
	"viz":         viz.Main,
}

// run calls a binary's Main in process and returns its exit code and output.
func run(binary string, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = mains[binary](args, &o, &e)
	return code, o.String(), e.String()
}

// commands are every command and subcommand a user can type.
var commands = [][]string{
	{"coordinator"}, {"coordinator", "run"}, {"coordinator", "plan"}, {"coordinator", "serve"},
	{"coordinator", "submit"}, {"coordinator", "status"}, {"coordinator", "cancel"},
	{"coordinator", "publish"}, {"coordinator", "lake"}, {"coordinator", "migrate"}, {"coordinator", "gen"},
	{"coordinator", "schema"}, {"coordinator", "schema", "infer"}, {"worker"}, {"viz"},
}

// TestHelpAndUsageErrors: -h and --help print a clean usage and exit 0, for every command
// and subcommand; an unknown flag exits 2.
func TestHelpAndUsageErrors(t *testing.T) {
	for _, c := range commands {
		name := strings.Join(c, " ")
		for _, h := range []string{"-h", "--help"} {
			t.Run(name+" "+h, func(t *testing.T) {
				code, stdout, stderr := run(c[0], append(c[1:], h)...)
				out := stdout + stderr
				if code != 0 {
					t.Errorf("exit %d, want 0\n%s", code, out)
				}
				if !strings.HasPrefix(out, "usage: "+name) {
					t.Errorf("output does not start with %q:\n%s", "usage: "+name, out)
				}
				for _, bad := range []string{"help requested", "Usage of"} {
					if strings.Contains(out, bad) {
						t.Errorf("usage says %q:\n%s", bad, out)
					}
				}
			})
		}
		if len(c) == 1 && c[0] == "coordinator" {
			continue // a flag where a command belongs: the unknown command below
		}
		t.Run(name+" --no-such-flag", func(t *testing.T) {
			code, stdout, stderr := run(c[0], append(c[1:], "--no-such-flag")...)
			if code != 2 || !strings.Contains(stderr, "flag provided but not defined: -no-such-flag") {
				t.Errorf("exit %d, want 2 with the flag named\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
		})
	}
}

// TestUsageErrorsExit2: a missing or extra argument, an unknown command or a bad flag value
// is a usage error (exit 2) reported before anything runs.
func TestUsageErrorsExit2(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("IREPORTS_VIZ_DB", "")
	t.Setenv("IREPORTS_TOKEN", "a-token") // so that serve and worker reach the --allow-path check
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"coordinator"}, "usage: coordinator <command>"},
		{[]string{"coordinator", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"coordinator", "--no-such-flag"}, `unknown command "--no-such-flag"`},
		{[]string{"coordinator", "run"}, "want one job file, got 0 arguments"},
		{[]string{"coordinator", "run", "a.job", "b.job"}, "want one job file, got 2 arguments"},
		{[]string{"coordinator", "run", "a.job", "--log-level", "loud"}, `log level "loud"`},
		{[]string{"coordinator", "run", "a.job", "--log-format", "xml"}, `log format "xml"`},
		{[]string{"coordinator", "plan"}, "want one job file, got 0 arguments"},
		{[]string{"coordinator", "submit"}, "want one job file, got 0 arguments"},
		{[]string{"coordinator", "publish"}, "want one job file, got 0 arguments"},
		{[]string{"coordinator", "serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"coordinator", "serve", "--log-format", "xml"}, `log format "xml"`},
		{[]string{"coordinator", "serve", "--insecure"}, "no allowed paths: give --allow-path ROOT"},
		{[]string{"coordinator", "serve", "--allow-path", "/srv", "--allow-any-path"}, "give --allow-path or --allow-any-path, not both"},
		{[]string{"coordinator", "lake"}, "want one lake path, got 0 arguments"},
		{[]string{"coordinator", "status", "a", "b"}, "want at most one job id, got 2 arguments"},
		{[]string{"coordinator", "cancel"}, "want one job id, got 0 arguments"},
		{[]string{"coordinator", "migrate"}, "no database: give --db or DATABASE_URL"},
		{[]string{"coordinator", "gen"}, "--out is required"},
		{[]string{"coordinator", "gen", "--out", "x", "y"}, `unexpected argument "y"`},
		{[]string{"coordinator", "schema", "nyc", "la"}, "want at most one schema name, got 2"},
		{[]string{"coordinator", "schema", "infer"}, "want one file, got 0 arguments"},
		{[]string{"worker"}, "nothing to join: give --join HOST:PORT"},
		{[]string{"worker", "--join", "127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
		{[]string{"worker", "--log-level", "loud"}, `log level "loud"`},
		{[]string{"worker", "--join", "127.0.0.1:1", "--insecure"}, "no allowed paths: give --allow-path ROOT"},
		{[]string{"worker", "--join", "127.0.0.1:1", "--allow-path", "/srv", "--allow-any-path"}, "give --allow-path or --allow-any-path, not both"},
		{[]string{"viz"}, "no database URL: pass --db-file PATH or set IREPORTS_VIZ_DB or DATABASE_URL"},
		{[]string{"viz", "extra"}, `unexpected argument "extra"`},
		{[]string{"viz", "--log-format", "xml"}, `log format "xml"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tc.args[0], tc.args[1:]...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q\nstdout: %s\nstderr: %s", code, tc.want, stdout, stderr)
			}
		})
	}
}

// TestVersion: --version on each binary, and `coordinator version`, print the version and
// the protocol on stdout and exit 0.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{
		{"coordinator", "--version"}, {"coordinator", "-version"}, {"coordinator", "version"},
		{"worker", "--version"}, {"viz", "--version"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := run(args[0], args[1:]...)
			want := fmt.Sprintf("%s %s (protocol %d, ", args[0], version.Version(), version.Protocol)
			if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q…", code, stdout, stderr, want)
			}
		})
	}
}

// lockedBuffer collects a daemon's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon is one Main running in process until SIGINT.
type daemon struct {
	name   string
	stderr lockedBuffer
	code   chan int
}

func startDaemon(name string, args ...string) *daemon {
	d := &daemon{name: name, code: make(chan int, 1)}
	go func() { d.code <- mains[name](args, io.Discard, &d.stderr) }()
	return d
}

// waitLine waits until the daemon logs a JSON line whose msg is msg, and returns it.
func (d *daemon) waitLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, line := range strings.Split(d.stderr.String(), "\n") {
			var v map[string]any
			if json.Unmarshal([]byte(line), &v) == nil && v["msg"] == msg {
				return v
			}
		}
		select {
		case code := <-d.code:
			t.Fatalf("%s exited %d before logging %q:\n%s", d.name, code, msg, d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q:\n%s", d.name, msg, d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDaemonsLogJSON starts coordinator serve, a worker that joins it and viz, each through
// its Main with --log-format json, stops them with SIGINT as systemd or Ctrl-C would, and
// checks that every line each wrote is a JSON object with a level and a message (what
// CloudWatch and Loki ingest), and that --log-level debug lets debug lines through.
func TestDaemonsLogJSON(t *testing.T) {
	t.Setenv("PYROSCOPE_SERVER_ADDRESS", "")
	t.Setenv("DATABASE_URL", "")
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plotly := filepath.Join(dir, "plotly.min.js")
	if err := os.WriteFile(plotly, []byte("/* stand-in */"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Names are given: with port 0 the default names (host and port) would clash.
	co := startDaemon("coordinator", "serve", "--name", "co", "--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--insecure", "--allow-path", dir,
		"--data-dir", filepath.Join(dir, "coordinator"), "--token-file", token, "--log-format", "json")
	up := co.waitLine(t, "coordinator up")
	gossip, _ := up["gossip"].(string)
	if up["version"] != version.Version() {
		t.Errorf("coordinator up: version %v, want %s", up["version"], version.Version())
	}
	wk := startDaemon("worker", "--name", "wk", "--join", gossip, "--bind", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--insecure", "--allow-path", dir,
		"--slots", "1", "--data-dir", filepath.Join(dir, "worker"), "--token-file", token, "--log-format", "json", "--log-level", "debug")
	wk.waitLine(t, "worker up")
	co.waitLine(t, "worker up") // the coordinator saw it join
	vz := startDaemon("viz", "--db", "postgres://nobody@127.0.0.1:1/x?sslmode=disable", "--listen", "127.0.0.1:0",
		"--admin", "", "--plotly", plotly, "--log-format", "json")
	vz.waitLine(t, "viz: serving")

	// Every Main registered for SIGINT before it logged the line waited for, so the signal
	// reaches them, not the default handler that would end the test binary.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*daemon{co, wk, vz} {
		select {
		case code := <-d.code:
			if code != 0 {
				t.Errorf("%s exited %d after SIGINT, want 0:\n%s", d.name, code, d.stderr.String())
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s did not stop on SIGINT:\n%s", d.name, d.stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(d.stderr.String()), "\n")
		levels := map[string]int{}
		for i, line := range lines {
			v, err := jsonObject(line)
			if err != nil {
				t.Errorf("%s line %d: %v: %s", d.name, i+1, err, line)
				continue
			}
			lvl, _ := v["level"].(string)
			if _, ok := v["msg"].(string); !ok || lvl == "" {
				t.Errorf("%s line %d lacks level or msg: %s", d.name, i+1, line)
			}
			levels[lvl]++
		}
		if d == wk && levels["DEBUG"] == 0 {
			t.Errorf("worker at --log-level debug logged no debug line: %v", levels)
		}
		if d != wk && levels["DEBUG"] > 0 {
			t.Errorf("%s at the default level logged %d debug lines", d.name, levels["DEBUG"])
		}
	}
}

// jsonObject decodes one log line: a JSON object whose keys are all distinct (a duplicate
// key is valid JSON that log stores resolve each their own way).
func jsonObject(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	v := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if _, dup := v[key]; dup {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		var val any
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		v[key] = val
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("text after the object")
	}
	return v, nil
}
