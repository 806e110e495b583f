package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // the driver the harness probes readiness with
)

// PostgresServer is a throwaway PostgreSQL cluster owned by one test: its own data
// directory in a temporary folder, listening on a free 127.0.0.1 port with trust
// authentication, removed when the test ends. Its methods are safe for concurrent use.
type PostgresServer struct {
	// URL is the DSN (postgres://…?sslmode=disable) of a database created for the test.
	URL string
	// Port is the TCP port on 127.0.0.1; it stays the same across Stop and Start.
	Port int
	// Dir holds the data directory ("data") and the server log ("postgres.log").
	Dir string

	bin  string // directory of initdb and postgres
	cred *syscall.Credential

	mu     sync.Mutex // guards cmd and exited
	cmd    *exec.Cmd  // the running postmaster; nil while stopped
	exited chan error // receives cmd's Wait result
}

// pgStartTimeout bounds how long the harness waits for a server to accept connections. Crash
// recovery after Stop is part of it; on a loaded 2-core machine that takes seconds, not minutes.
const pgStartTimeout = 60 * time.Second

// Postgres starts a fresh PostgreSQL cluster for the test and stops and removes it when the
// test ends. It creates a database "ireports_test" and returns the server with URL pointing at it.
//
// The binaries are taken from $PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian and
// Ubuntu), else PATH. When they are missing the test is skipped, unless CI=true, where it
// fails: CI must install PostgreSQL (apt-get install postgresql).
//
// initdb refuses to run as root, so under root the cluster is owned by, and initdb and the
// server run as, the "postgres" system user (the Debian package creates it). The harness sets
// that user as the child's credentials rather than going through runuser or su, so the
// postmaster is its direct child: it gets the death signal when the test binary dies.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testenv: PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("testenv: PostgreSQL not installed (%v); apt-get install postgresql, or set PG_BIN", err)
	}
	s := &PostgresServer{bin: bin}
	if os.Geteuid() == 0 {
		s.cred, err = pgUserCredential()
		if err != nil {
			t.Fatalf("testenv: running as root: %v", err)
		}
	}

	// Not t.TempDir: its parent is private to root, and the server may run as postgres.
	s.Dir, err = os.MkdirTemp("", "ireports-pg-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(s.Dir) })
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := s.initdb(); err != nil {
		t.Fatalf("testenv: %v", err)
	}

	// A free port can be taken by someone else before the server binds it; try a few.
	for attempt := 1; ; attempt++ {
		s.Port, err = pgFreePort()
		if err == nil {
			err = s.Start()
		}
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("testenv: %v", err)
		}
	}
	t.Cleanup(func() { s.Stop() })

	if err := s.exec(context.Background(), "CREATE DATABASE ireports_test"); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	s.URL = s.DatabaseURL("ireports_test")
	return s
}

// DatabaseURL is the DSN of database name on this server, as the superuser "postgres".
func (s *PostgresServer) DatabaseURL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable&connect_timeout=5",
	}
	return u.String()
}

// CreateDatabase creates a new empty database (tests sharing one server each take their
// own) and returns its URL.
func (s *PostgresServer) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	if err := s.exec(context.Background(), "CREATE DATABASE "+quoteIdent(name)); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return s.DatabaseURL(name)
}

// Start starts the server, on the same port and data directory as before, and waits until it
// accepts connections. Starting a running server is a no-op.
func (s *PostgresServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logPath := filepath.Join(s.Dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1",
		// No Unix socket: the system's /var/run/postgresql may be missing or owned by
		// another cluster, and every client here uses TCP.
		"-c", "unix_socket_directories=",
		// Skipping fsync loses nothing when only the server process dies (the kernel keeps
		// the writes); synchronous_commit stays on, or Stop would lose committed rows.
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=50",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT on our death is PostgreSQL's immediate shutdown: a killed test binary does not
	// leave a server behind. Go sets the death signal after switching credentials, so it
	// survives the switch to the postgres user.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	db, err := sql.Open("postgres", s.DatabaseURL("postgres"))
	if err != nil {
		cmd.Process.Kill()
		<-exited
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(pgStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("postgres on port %d exited (%v); log %s:\n%s", s.Port, werr, logPath, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("postgres on port %d not ready after %v: %w; log %s:\n%s", s.Port, pgStartTimeout, err, logPath, tail(logPath))
		}
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

// Stop stops the server at once, as a crash would (immediate shutdown: no checkpoint,
// clients see their connections fail), and waits until it has exited. The next Start runs
// crash recovery. Stopping a stopped server is a no-op.
func (s *PostgresServer) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		// Not the normal path: SIGQUIT ends a postmaster within milliseconds.
		cmd.Process.Kill()
		<-exited
	}
	return nil
}

// initdb creates the cluster's data directory with trust authentication.
func (s *PostgresServer) initdb() error {
	data := filepath.Join(s.Dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	if s.cred != nil {
		if err := os.Chown(data, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(s.bin, "initdb"),
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", data, err, out)
	}
	return nil
}

// exec runs one statement in the maintenance database "postgres".
func (s *PostgresServer) exec(ctx context.Context, stmt string) error {
	db, err := sql.Open("postgres", s.DatabaseURL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// pgBinDir finds the directory holding initdb and postgres.
func pgBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("PG_BIN=%s: %w", dir, err)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "9.6" < "15" numerically, not lexically.
	major := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch ma, mb := major(a), major(b); {
		case ma > mb:
			return -1
		case ma < mb:
			return 1
		}
		return 0
	})
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	path, err := exec.LookPath("initdb")
	if err != nil {
		return "", errors.New("no initdb in /usr/lib/postgresql/*/bin or PATH")
	}
	return filepath.Dir(path), nil
}

// pgUserCredential is the identity of the "postgres" system user.
func pgUserCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("initdb refuses root and there is no postgres user to run it as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// pgFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func pgFreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
