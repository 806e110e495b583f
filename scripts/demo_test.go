// Package scripts_test checks the shell scripts that a user runs: `make demo`
// (scripts/demo.sh, scripts/pg-local.sh) must leave nothing running after Ctrl-C.
package scripts_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/ireports/ireports/internal/testenv"
)

// demoSize keeps each run of the demo to seconds: ten cities, a few thousand records.
const demoSize = "1MiB"

// demoDeadline bounds one run of the demo, start to stop, so that a hung run fails the test
// with what it printed instead of hanging it.
const demoDeadline = 5 * time.Minute

var (
	urlLine     = regexp.MustCompile(`The viz page: http://127\.0\.0\.1:(\d+)/ +\(metrics: http://127\.0\.0\.1:(\d+)/metrics`)
	statusLine  = regexp.MustCompile(`^demo-exit (\d+)$`)
	pgStartLine = "== DATABASE_URL is unset: starting a throwaway PostgreSQL"
)

// demoRun is one run of the demo, started the way a user's shell starts it: a launcher
// shell in a session of its own runs the command line, and a terminal's Ctrl-C is SIGINT to
// the launcher's process group — itself, make, demo.sh and tee.
type demoRun struct {
	t     *testing.T
	cmd   *exec.Cmd
	dir   string // the run's own directory: binaries, corpus, PostgreSQL
	lines chan string
	out   strings.Builder // everything the launcher printed
	done  chan error
}

// startDemo runs shell (a command line for bash, run in the repository root) with env
// added, in the launcher. The launcher traps SIGINT as an interactive shell would, so that
// it survives the Ctrl-C and reports `demo-exit N`: the exit status of the first command of
// the line's pipeline.
func startDemo(t *testing.T, dir, shell string, env ...string) *demoRun {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	launcher := "trap : INT; " + shell + `; echo "demo-exit ${PIPESTATUS[0]}"`
	// env --default-signal: a test started in the background (go test … &) has SIGINT
	// ignored, and a shell cannot trap a signal ignored when it starts.
	cmd := exec.Command("env", "--default-signal=INT,PIPE", "bash", "-c", launcher)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	// A session of its own: no controlling terminal (the demo's /dev/tty fallback finds
	// none), and a process group to signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	d := &demoRun{t: t, cmd: cmd, dir: dir, lines: make(chan string, 1024), done: make(chan error, 1)}
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		pr.Close()
	}()
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		// A failed test must not leave the demo behind either.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	return d
}

// until reads the demo's output up to the first line matching re and returns it.
func (d *demoRun) until(ctx context.Context, what string, match func(string) bool) string {
	d.t.Helper()
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				d.t.Fatalf("the demo ended before %s:\n%s", what, d.out.String())
			}
			d.out.WriteString(line + "\n")
			if match(line) {
				return line
			}
		case <-ctx.Done():
			d.t.Fatalf("no %s within %v:\n%s", what, demoDeadline, d.out.String())
		}
	}
}

// interrupt sends SIGINT to the launcher's process group, as a terminal's Ctrl-C does.
func (d *demoRun) interrupt() {
	d.t.Helper()
	if err := syscall.Kill(-d.cmd.Process.Pid, syscall.SIGINT); err != nil {
		d.t.Fatalf("SIGINT: %v", err)
	}
}

// wait reads the rest of the output and returns the demo's exit status.
func (d *demoRun) wait(ctx context.Context) int {
	d.t.Helper()
	line := d.until(ctx, "its exit status", statusLine.MatchString)
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("launcher: %v", err)
		}
	case <-ctx.Done():
		d.t.Fatalf("the launcher did not exit:\n%s", d.out.String())
	}
	for line := range d.lines {
		d.out.WriteString(line + "\n")
	}
	n, _ := strconv.Atoi(statusLine.FindStringSubmatch(line)[1])
	return n
}

// survivors lists the processes that belong to the run: any whose command line names the
// run's directory (its binaries, the postmaster's -D) and the postmaster itself.
func survivors(t *testing.T, dir string, postmaster int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		if strings.Contains(cmdline, dir) || (pid == postmaster && strings.Contains(cmdline, "postgres")) {
			out = append(out, fmt.Sprintf("%d %s", pid, cmdline))
		}
	}
	return out
}

// postmasterPID reads the pid of the run's throwaway PostgreSQL while it runs.
func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cache", "pg", "data", "postmaster.pid"))
	if err != nil {
		t.Fatalf("the demo's PostgreSQL is not running: %v", err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// runDir makes a directory for one run, open to the postgres user (as root, the throwaway
// server runs as postgres, and t.TempDir's parent is private to root), with the binaries
// built into bin/.
func runDir(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ireports-demo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "bin")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildBinaries builds coordinator and viz once for every case.
func buildBinaries(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+"/", "./cmd/coordinator", "./cmd/viz", "./cmd/worker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// get fetches url and returns its status code.
func get(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// hold listens on a free port of 127.0.0.1 and on the port two above it, so that the demo
// must pass over both; it returns the first.
func hold(t *testing.T) int {
	t.Helper()
	for range 20 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+2))
		if err != nil {
			a.Close()
			continue
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return port
	}
	t.Fatal("no pair of free ports")
	return 0
}

func needTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the demo runs a job and a PostgreSQL: not under -short")
	}
	for _, tool := range []string{"setsid", "tee", "make", "env"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	if _, err := exec.LookPath("initdb"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 && os.Getenv("PG_BIN") == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("PostgreSQL is required in CI")
			}
			t.Skip("PostgreSQL not installed (apt-get install postgresql)")
		}
	}
}

// skipWithoutPlotly skips when the demo could not start viz for want of plotly.js (npm ci
// installs it; make demo runs that), except in CI.
func skipWithoutPlotly(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "plotly.js not found") && os.Getenv("CI") != "true" {
		t.Skipf("viz cannot start without plotly.js (npm ci): %s", out)
	}
}

// TestDemoCtrlC runs `make demo` the ways a user does and stops it with Ctrl-C: nothing it
// started may survive, and a normal Ctrl-C is not an error.
func TestDemoCtrlC(t *testing.T) {
	needTools(t)
	bin := buildBinaries(t)

	// The reported bug: under `| tee`, the Ctrl-C kills tee, the demo's messages then kill
	// the demo with SIGPIPE mid-cleanup, and its PostgreSQL runs on.
	t.Run("tee, while serving", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), demoDeadline)
		defer cancel()
		dir := runDir(t, bin)
		held := hold(t)
		d := startDemo(t, dir, "scripts/demo.sh 2>&1 | tee "+filepath.Join(dir, "demo.log"),
			"DEMO_SIZE="+demoSize, "DEMO_CACHE="+filepath.Join(dir, "cache"), "DEMO_BIN="+filepath.Join(dir, "bin"),
			"VIZ_ADDR=127.0.0.1:"+strconv.Itoa(held), "DATABASE_URL=")
		d.until(ctx, "the throwaway PostgreSQL", func(l string) bool { return strings.HasPrefix(l, pgStartLine) })
		line := d.until(ctx, "the URL line", func(l string) bool {
			skipWithoutPlotly(t, l)
			return urlLine.MatchString(l)
		})
		m := urlLine.FindStringSubmatch(line)
		port, admin := m[1], m[2]
		for _, p := range []string{port, admin} {
			if p == strconv.Itoa(held) || p == strconv.Itoa(held+2) {
				t.Errorf("the demo took port %s, which another server holds: %s", p, line)
			}
		}
		// The URL is printed once viz answers: no waiting here.
		if code := get(t, "http://127.0.0.1:"+port+"/"); code != 200 {
			t.Errorf("GET / right after the URL line: %d", code)
		}
		if code := get(t, "http://127.0.0.1:"+admin+"/metrics"); code != 200 {
			t.Errorf("GET /metrics on the admin port: %d", code)
		}
		pm := postmasterPID(t, dir)
		d.interrupt()
		if status := d.wait(ctx); status != 0 {
			t.Errorf("demo.sh exited %d after Ctrl-C, want 0:\n%s", status, d.out.String())
		}
		if s := survivors(t, dir, pm); len(s) > 0 {
			t.Errorf("left running after Ctrl-C:\n%s\noutput:\n%s", strings.Join(s, "\n"), d.out.String())
		}
	})

	t.Run("second Ctrl-C while stopping", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), demoDeadline)
		defer cancel()
		dir := runDir(t, bin)
		gate := filepath.Join(dir, "gate")
		d := startDemo(t, dir, "scripts/demo.sh 2>&1",
			"DEMO_SIZE="+demoSize, "DEMO_CACHE="+filepath.Join(dir, "cache"), "DEMO_BIN="+filepath.Join(dir, "bin"),
			"DEMO_STOP_GATE="+gate, "DATABASE_URL=")
		d.until(ctx, "the URL line", func(l string) bool {
			skipWithoutPlotly(t, l)
			return urlLine.MatchString(l)
		})
		pm := postmasterPID(t, dir)
		d.interrupt()
		// The demo holds at the gate with viz stopped and PostgreSQL not yet: the second
		// Ctrl-C lands in the middle of the shutdown.
		d.until(ctx, "the first stop", func(l string) bool { return l == "== stopping" })
		for {
			if _, err := os.Stat(gate + ".reached"); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the demo never reached its stop gate:\n%s", d.out.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
		d.interrupt()
		d.until(ctx, "the answer to the second Ctrl-C", func(l string) bool { return strings.HasPrefix(l, "== still stopping") })
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if status := d.wait(ctx); status != 0 {
			t.Errorf("demo.sh exited %d after two Ctrl-Cs, want 0:\n%s", status, d.out.String())
		}
		if s := survivors(t, dir, pm); len(s) > 0 {
			t.Errorf("left running after two Ctrl-Cs:\n%s\noutput:\n%s", strings.Join(s, "\n"), d.out.String())
		}
	})

	// Killed half-way, `pg-local.sh start` would leave a server starting that nobody stops.
	t.Run("during the PostgreSQL start", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), demoDeadline)
		defer cancel()
		dir := runDir(t, bin)
		d := startDemo(t, dir, "scripts/demo.sh 2>&1",
			"DEMO_SIZE="+demoSize, "DEMO_CACHE="+filepath.Join(dir, "cache"), "DEMO_BIN="+filepath.Join(dir, "bin"), "DATABASE_URL=")
		// pg-local.sh says this just before initdb, which takes seconds.
		d.until(ctx, "the PostgreSQL start", func(l string) bool { return strings.HasPrefix(l, "pg-local: initializing a cluster") })
		d.interrupt()
		if status := d.wait(ctx); status != 0 {
			t.Errorf("demo.sh exited %d after Ctrl-C during the PostgreSQL start, want 0:\n%s", status, d.out.String())
		}
		if !strings.Contains(d.out.String(), "pg-local: stopping PostgreSQL") {
			t.Errorf("the server whose start was under way was not stopped:\n%s", d.out.String())
		}
		if s := survivors(t, dir, 0); len(s) > 0 {
			t.Errorf("left running after Ctrl-C during the PostgreSQL start:\n%s\noutput:\n%s", strings.Join(s, "\n"), d.out.String())
		}
		t.Logf("output:\n%s", d.out.String())
	})

	t.Run("tee, during the job", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), demoDeadline)
		defer cancel()
		dir := runDir(t, bin)
		d := startDemo(t, dir, "scripts/demo.sh 2>&1 | tee "+filepath.Join(dir, "demo.log"),
			"DEMO_SIZE="+demoSize, "DEMO_CACHE="+filepath.Join(dir, "cache"), "DEMO_BIN="+filepath.Join(dir, "bin"), "DATABASE_URL=")
		d.until(ctx, "the job's start", func(l string) bool { return strings.Contains(l, "/coordinator run ") })
		pm := postmasterPID(t, dir)
		d.interrupt()
		if status := d.wait(ctx); status != 0 {
			t.Errorf("demo.sh exited %d after Ctrl-C during the job, want 0:\n%s", status, d.out.String())
		}
		if s := survivors(t, dir, pm); len(s) > 0 {
			t.Errorf("left running after Ctrl-C during the job:\n%s\noutput:\n%s", strings.Join(s, "\n"), d.out.String())
		}
	})

	// A server that scripts/pg-local.sh started before: reused, said so, left running.
	t.Run("PostgreSQL already running under the cache", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), demoDeadline)
		defer cancel()
		dir := runDir(t, bin)
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		pgLocal := func(args ...string) error {
			cmd := exec.Command(filepath.Join(root, "scripts", "pg-local.sh"), args...)
			cmd.Env = append(os.Environ(), "PG_LOCAL_DIR="+filepath.Join(dir, "cache", "pg"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("pg-local.sh %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return nil
		}
		if err := pgLocal("start"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pgLocal("stop") })
		pm := postmasterPID(t, dir)
		d := startDemo(t, dir, "scripts/demo.sh 2>&1",
			"DEMO_SIZE="+demoSize, "DEMO_CACHE="+filepath.Join(dir, "cache"), "DEMO_BIN="+filepath.Join(dir, "bin"), "DATABASE_URL=")
		d.until(ctx, "the reuse message", func(l string) bool {
			return strings.HasPrefix(l, "== reusing the PostgreSQL already running under "+filepath.Join(dir, "cache", "pg"))
		})
		d.until(ctx, "the URL line", func(l string) bool {
			skipWithoutPlotly(t, l)
			return urlLine.MatchString(l) && strings.Contains(l, "PostgreSQL keeps running")
		})
		d.interrupt()
		if status := d.wait(ctx); status != 0 {
			t.Errorf("demo.sh exited %d after Ctrl-C, want 0:\n%s", status, d.out.String())
		}
		if err := pgLocal("status"); err != nil || postmasterPID(t, dir) != pm {
			t.Errorf("the PostgreSQL that ran before the demo was stopped by it: %v", err)
		}
		for _, s := range survivors(t, dir, pm) {
			if !strings.Contains(s, "postgres") {
				t.Errorf("left running after Ctrl-C: %s\noutput:\n%s", s, d.out.String())
			}
		}
	})

	// make demo with a server of the user's: the demo says it reuses it, leaves it running,
	// and make reports no error for the Ctrl-C.
	t.Run("make, DATABASE_URL given", func(t *testing.T) {
		pg := testenv.Postgres(t)
		ctx, cancel := context.WithTimeout(context.Background(), demoDeadline)
		defer cancel()
		dir := runDir(t, bin)
		d := startDemo(t, dir, "make --no-print-directory demo BIN="+filepath.Join(dir, "bin")+" DEMO_SIZE="+demoSize+" 2>&1",
			"DEMO_CACHE="+filepath.Join(dir, "cache"), "DATABASE_URL="+pg.URL)
		d.until(ctx, "the reuse message", func(l string) bool {
			return strings.HasPrefix(l, "== reusing the PostgreSQL of DATABASE_URL")
		})
		d.until(ctx, "the URL line", func(l string) bool {
			skipWithoutPlotly(t, l)
			return urlLine.MatchString(l)
		})
		d.interrupt()
		d.wait(ctx) // make's own status: killed by the SIGINT it got, as make always is
		if strings.Contains(d.out.String(), "make: ***") {
			t.Errorf("make reported an error for a Ctrl-C:\n%s", d.out.String())
		}
		if s := survivors(t, dir, 0); len(s) > 0 {
			t.Errorf("left running after Ctrl-C:\n%s\noutput:\n%s", strings.Join(s, "\n"), d.out.String())
		}
		db, err := sql.Open("postgres", pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.PingContext(ctx); err != nil {
			t.Errorf("the user's PostgreSQL was stopped by the demo: %v", err)
		}
	})
}
