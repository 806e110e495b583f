// Package testenv starts the real servers that integration tests run against — a MinIO
// object store, a fault-injecting proxy to put in front of it, and PostgreSQL — on loopback,
// and tears them down when the test ends. It is for tests only.
//
// A missing server binary skips the test with a message saying how to get it, except under
// CI (CI=true), where the Makefile must have provided it and the test fails instead.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// MinIOServer is a running MinIO with one empty bucket.
type MinIOServer struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string // us-east-1
	Bucket    string
	DataDir   string
}

// URL returns the s3:// name of key in the server's bucket.
func (m *MinIOServer) URL(key string) string { return "s3://" + m.Bucket + "/" + key }

// Client returns an SDK client for the server, for tests that inspect it directly (for
// example to count multipart uploads).
func (m *MinIOServer) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Region:       m.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// minioStart bounds MinIO's start-up, which takes seconds on a loaded 2-core machine.
const minioStart = 60 * time.Second

// MinIOBinary finds the minio binary: $MINIO_BIN, else <repo>/.cache/tools/minio (where
// the Makefile installs it), else PATH. It returns "" if there is none.
func MinIOBinary() string {
	if p := os.Getenv("MINIO_BIN"); p != "" {
		return p
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".cache", "tools", "minio")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("minio")
	return p
}

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// ErrNoMinIO reports that no minio binary was found (see MinIOBinary).
var ErrNoMinIO = errors.New("minio not found: set MINIO_BIN, put it on PATH, or run `GOBIN=$PWD/.cache/tools go install github.com/minio/minio@latest` in the repository")

// MinIO starts a MinIO server on a free loopback port with a temporary data directory,
// random credentials and one bucket, waits until it serves, and stops it when the test
// ends. Each call starts its own server (seconds on a loaded machine); a package whose
// tests share one calls StartMinIO from a sync.Once and stops it in TestMain.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	m, stop, err := StartMinIO(t.TempDir())
	if errors.Is(err, ErrNoMinIO) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logs := stop()
		if t.Failed() {
			t.Logf("minio log:\n%s", logs)
		}
	})
	return m
}

// StartMinIO is MinIO for callers without a testing.TB, such as TestMain: it starts a
// server with its data under dir and returns a function that stops it and returns its
// log. It returns ErrNoMinIO when there is no binary; the caller decides whether that
// skips or fails.
func StartMinIO(dir string) (m *MinIOServer, stop func() string, err error) {
	bin := MinIOBinary()
	if bin == "" {
		return nil, nil, ErrNoMinIO
	}
	m = &MinIOServer{
		AccessKey: "test-" + randHex(6),
		SecretKey: randHex(16),
		Region:    "us-east-1",
		Bucket:    "test-" + randHex(4),
		DataDir:   dir,
	}
	// The free port is found by listening and closing, so another process can take it
	// before MinIO binds it: try again with a new port.
	for range 3 {
		if stop, err = m.start(bin); err == nil {
			break
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: start minio: %w", err)
	}
	// MinIO answers "ready" before it accepts every request (XMinioServerNotInitialized
	// on a loaded machine): retry the bucket's creation until the start-up deadline.
	ctx, cancel := context.WithTimeout(context.Background(), minioStart)
	defer cancel()
	c := m.Client()
	for {
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &m.Bucket})
		var ae smithy.APIError
		if err == nil || (errors.As(err, &ae) && ae.ErrorCode() == "BucketAlreadyOwnedByYou") {
			return m, stop, nil
		}
		select {
		case <-ctx.Done():
			logs := stop()
			return nil, nil, fmt.Errorf("testenv: create bucket %s: %w\n%s", m.Bucket, err, logs)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (m *MinIOServer) start(bin string) (stop func() string, err error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	m.Endpoint = "http://" + addr
	logs := new(lockedBuffer)
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, m.DataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1", // don't refuse a data directory on the root disk
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop = func() string {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
		return logs.String()
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(minioStart)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("minio exited before serving (%v):\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get(m.Endpoint + "/minio/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("minio not ready on %s after %v:\n%s", addr, minioStart, stop())
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedBuffer collects a child process's output, written from the os/exec copier
// goroutine and read by the test.
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

// Fault is a kind of failure the proxy injects.
type Fault int

// The faults, each what S3 clients meet in production.
const (
	// SlowDown answers 503 with S3's SlowDown error, as S3 does when throttling a prefix.
	SlowDown Fault = iota
	// InternalError answers 500 with S3's InternalError.
	InternalError
	// Reset closes the connection with a TCP RST before forwarding the request.
	Reset
	// Truncate forwards a GET and cuts the response body off halfway with a reset; other
	// requests get Reset.
	Truncate
	// Stall holds the request for FaultPlan.Stall without forwarding it, then resets: a
	// client with a shorter read timeout gives up first.
	Stall
)

var faultNames = [...]string{"SlowDown", "InternalError", "Reset", "Truncate", "Stall"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// FaultPlan says which requests a proxy breaks and how. Which requests is deterministic
// in their arrival order: every Every-th one, or else a Rate share drawn from an RNG
// seeded with Seed.
type FaultPlan struct {
	Every int     // if > 0, fault requests Every, 2·Every, ...
	Rate  float64 // else the probability of faulting each request, in [0, 1]
	Seed  uint64
	// Kinds are the faults to inject, taken in turn; empty means all of them.
	Kinds []Fault
	// Stall is how long a Stall fault holds its request; default 2s.
	Stall time.Duration
}

// Proxy is a fault-injecting reverse proxy started by FaultProxy.
type Proxy struct {
	URL string // "http://127.0.0.1:PORT", to use as the S3 endpoint

	plan   FaultPlan
	target *url.URL
	rp     *httputil.ReverseProxy

	mu       sync.Mutex // guards the fields below
	rng      *mrand.Rand
	requests int
	faults   map[Fault]int
	next     int // index into plan.Kinds of the next fault
}

// FaultProxy starts a proxy to target (an http URL) that breaks requests according to
// plan, and closes it when the test ends.
func FaultProxy(t testing.TB, target string, plan FaultPlan) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("testenv: proxy target %q: %v", target, err)
	}
	if len(plan.Kinds) == 0 {
		plan.Kinds = []Fault{SlowDown, InternalError, Reset, Truncate, Stall}
	}
	if plan.Stall <= 0 {
		plan.Stall = 2 * time.Second
	}
	p := &Proxy{
		plan:   plan,
		target: u,
		rng:    mrand.New(mrand.NewPCG(plan.Seed, plan.Seed^0x9e3779b97f4a7c15)),
		faults: map[Fault]int{},
	}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	// Keep the Host header the client signed: SigV4 covers it.
	director := p.rp.Director
	p.rp.Director = func(r *http.Request) {
		host := r.Host
		director(r)
		r.Host = host
	}
	// Aborted copies are the point of the proxy, not news.
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Requests returns how many requests the proxy has received.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Faults returns how many faults of each kind the proxy has injected.
func (p *Proxy) Faults() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[Fault]int, len(p.faults))
	for k, v := range p.faults {
		m[k] = v
	}
	return m
}

// pick decides the fate of the next request.
func (p *Proxy) pick() (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	hit := false
	if p.plan.Every > 0 {
		hit = p.requests%p.plan.Every == 0
	} else {
		hit = p.rng.Float64() < p.plan.Rate
	}
	if !hit {
		return 0, false
	}
	f := p.plan.Kinds[p.next%len(p.plan.Kinds)]
	p.next++
	p.faults[f]++
	return f, true
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, hit := p.pick()
	if !hit {
		p.rp.ServeHTTP(w, r)
		return
	}
	if f == Truncate && r.Method != http.MethodGet {
		f = Reset
	}
	switch f {
	case SlowDown:
		s3Error(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case InternalError:
		s3Error(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case Reset:
		reset(w)
	case Stall:
		// Read the request so that the client is waiting for the response, as it would
		// be on a stalled server.
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(p.plan.Stall):
		case <-r.Context().Done():
		}
		reset(w)
	case Truncate:
		rec := &truncator{ResponseWriter: w, limit: math.MaxInt64}
		p.rp.ServeHTTP(rec, r)
	}
}

func s3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>fault</RequestId></Error>`,
		code, msg, r.URL.Path)
}

// reset hijacks the connection and closes it with a TCP RST (linger 0), as a crashed
// load balancer does.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// truncator passes a response through until half its declared length, then aborts the
// connection, so the client sees a body cut short.
type truncator struct {
	http.ResponseWriter
	limit   int64 // bytes still allowed through
	written int64
}

func (t *truncator) WriteHeader(status int) {
	if n, err := strconv.ParseInt(t.Header().Get("Content-Length"), 10, 64); err == nil && n > 1 {
		t.limit = n / 2
	} else {
		t.limit = 0
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *truncator) Write(b []byte) (int, error) {
	if t.written+int64(len(b)) > t.limit {
		k := t.limit - t.written
		if k > 0 {
			t.ResponseWriter.Write(b[:k])
		}
		if f, ok := t.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		// ReverseProxy turns this panic into an aborted connection.
		panic(http.ErrAbortHandler)
	}
	t.written += int64(len(b))
	return t.ResponseWriter.Write(b)
}

// Flush lets ReverseProxy flush through the truncator.
func (t *truncator) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// SharedMinIO is one MinIO server for a whole test binary, started on first use: a package
// declares one (var minio = testenv.SharedMinIO{Prefix: "pkg-minio-"}), its tests call Get,
// and its TestMain calls Stop after m.Run.
type SharedMinIO struct {
	Prefix string // of the temporary data directory

	once sync.Once
	m    *MinIOServer
	stop func() string
	err  error
}

// Get returns the server, starting it on the first call. It skips the test under -short or
// where there is no minio binary (failing instead under CI=true, where one must be).
func (s *SharedMinIO) Get(t testing.TB) *MinIOServer {
	t.Helper()
	if testing.Short() {
		t.Skip("MinIO tests skipped under -short")
	}
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", s.Prefix)
		if err != nil {
			s.err = err
			return
		}
		s.m, s.stop, s.err = StartMinIO(dir)
		if s.err != nil {
			os.RemoveAll(dir)
		}
	})
	if errors.Is(s.err, ErrNoMinIO) && os.Getenv("CI") != "true" {
		t.Skip(s.err)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.m
}

// Stop ends the server if Get started one and removes its data; code is m.Run's, and a
// failed run with MINIO_LOG set prints the server's log.
func (s *SharedMinIO) Stop(code int) {
	if s.stop != nil {
		logs := s.stop()
		if code != 0 && os.Getenv("MINIO_LOG") != "" {
			fmt.Fprintf(os.Stderr, "minio log:\n%s", logs)
		}
	}
	if s.m != nil {
		os.RemoveAll(s.m.DataDir)
	}
}
