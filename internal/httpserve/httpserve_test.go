package httpserve_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/httpserve/httpservetest"
)

// short are limits that a test's attack outlasts at once.
var short = httpserve.Limits{
	ReadHeaderTimeout: 50 * time.Millisecond,
	ReadTimeout:       100 * time.Millisecond,
	WriteTimeout:      100 * time.Millisecond,
	IdleTimeout:       100 * time.Millisecond,
	MaxHeaderBytes:    4 << 10,
}

// serve runs srv on a loopback port until the test ends and returns its address.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- httpserve.Serve(srv, ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestNewServerSetsEveryLimit(t *testing.T) {
	def := httpserve.DefaultLimits()
	for _, tc := range []struct {
		name string
		in   httpserve.Limits
		want httpserve.Limits
	}{
		{"zero takes the defaults", httpserve.Limits{}, def},
		{"negative takes the defaults", httpserve.Limits{ReadTimeout: -1, MaxHeaderBytes: -1}, def},
		{"given values are kept", short, short},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httpserve.NewServer(http.NotFoundHandler(), tc.in)
			got := httpserve.Limits{ReadHeaderTimeout: srv.ReadHeaderTimeout, ReadTimeout: srv.ReadTimeout,
				WriteTimeout: srv.WriteTimeout, IdleTimeout: srv.IdleTimeout, MaxHeaderBytes: srv.MaxHeaderBytes}
			if got != tc.want {
				t.Errorf("server limits %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestLimitsHoldAgainstSlowClients runs the raw-TCP attacks against a server built by
// NewServer. Each fails against an http.Server without the limits (the connection stays
// open until the checker's patience runs out; the oversize header gets through at 1 MiB).
func TestLimitsHoldAgainstSlowClients(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		var v any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	addr := serve(t, httpserve.NewServer(mux, short))
	httpservetest.Check(t, httpservetest.Target{Addr: addr, Path: "/healthz", BodyPath: "/submit", MaxHeaderBytes: short.MaxHeaderBytes})
}

// TestHoldOutlastsTheLimits: a long poll that answers after the server's read and write
// timeouts have passed still delivers its answer, with its context alive, once it called
// Hold. Without Hold, net/http cancels the context at ReadTimeout and the write fails.
func TestHoldOutlastsTheLimits(t *testing.T) {
	ctxErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if err := httpserve.Hold(w, time.Minute); err != nil {
			t.Errorf("Hold: %v", err)
		}
		// The poll's wait: past every limit of the server.
		time.Sleep(3 * short.WriteTimeout)
		ctxErr <- r.Context().Err()
		io.WriteString(w, "assignment")
	})
	addr := serve(t, httpserve.NewServer(h, short))
	res, err := http.Post("http://"+addr+"/poll", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("long poll: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(body) != "assignment" {
		t.Fatalf("long poll answered %q, %v", body, err)
	}
	if err := <-ctxErr; err != nil {
		t.Errorf("the long poll's context ended: %v", err)
	}
}

// TestStreamOutlastsWriteTimeout: a response streamed in pieces for longer than the
// server's WriteTimeout arrives whole when its handler is wrapped in Stream.
func TestStreamOutlastsWriteTimeout(t *testing.T) {
	const pieces = 6
	h := httpserve.Stream(time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range pieces {
			io.WriteString(w, "piece\n")
			http.NewResponseController(w).Flush()
			time.Sleep(short.WriteTimeout / 2) // a slow producer: pieces×½ the timeout in all
		}
	}))
	addr := serve(t, httpserve.NewServer(h, short))
	res, err := http.Get("http://" + addr + "/segment")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || strings.Count(string(body), "piece\n") != pieces {
		t.Fatalf("stream delivered %q, %v; want %d pieces", body, err, pieces)
	}
}

// TestStreamCutsOffAStalledReader: a client that stops reading a stream is disconnected
// after the stall period, and the handler's write fails instead of blocking for ever.
func TestStreamCutsOffAStalledReader(t *testing.T) {
	writeErr := make(chan error, 1)
	h := httpserve.Stream(short.WriteTimeout, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				writeErr <- err
				return
			}
		}
	}))
	addr := serve(t, httpserve.NewServer(h, httpserve.Limits{}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /segment HTTP/1.1\r\nHost: test\r\n\r\n")
	// Read nothing: the socket buffers fill and the handler's write stalls.
	select {
	case err := <-writeErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("the stalled write failed with %v, want a timeout", err)
		}
	case <-time.After(httpservetest.Patience):
		t.Fatalf("the handler's write to a client that reads nothing still blocks after %v", httpservetest.Patience)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := httpserve.SecurityHeaders(httpserve.StrictCSP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><p>status</p>")
	}))
	addr := serve(t, httpserve.NewServer(h, httpserve.Limits{}))
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for name, want := range map[string]string{
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": httpserve.StrictCSP,
		"Referrer-Policy":         "no-referrer",
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, directive := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(httpserve.StrictCSP, directive) {
			t.Errorf("StrictCSP lacks %q", directive)
		}
	}
}

// TestTLS serves HTTPS with a certificate from a test CA: a client that trusts the CA gets
// through, over HTTP/1.1; one that trusts another CA fails with ErrUntrusted and a hint.
func TestTLS(t *testing.T) {
	files := httpservetest.NewTLSFiles(t)
	srv := httpserve.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}), httpserve.Limits{})
	var err error
	if srv.TLSConfig, err = httpserve.ServerTLS(files.Cert, files.Key); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	url := httpserve.BaseURL(httpserve.URL(addr, srv.TLSConfig)) + "/"
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("URL of a TLS listener: %s", url)
	}

	trusting, err := httpserve.ClientTLS(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: httpserve.ClientTransport(trusting)}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("client trusting the CA: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "HTTP/1.1" {
		t.Errorf("protocol %q, want HTTP/1.1", body)
	}

	other, err := httpserve.ClientTLS(files.OtherCA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&http.Client{Transport: httpserve.ClientTransport(other)}).Get(url)
	err = httpserve.ClassifyTLS(err)
	if !errors.Is(err, httpserve.ErrUntrusted) || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("client trusting another CA: %v; want ErrUntrusted naming --tls-ca", err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	files := httpservetest.NewTLSFiles(t)
	for _, tc := range []struct {
		name      string
		load      func() (*tls.Config, error)
		wantNil   bool
		wantError string
	}{
		{"no TLS", func() (*tls.Config, error) { return httpserve.ServerTLS("", "") }, true, ""},
		{"no CA", func() (*tls.Config, error) { return httpserve.ClientTLS("") }, true, ""},
		{"cert without key", func() (*tls.Config, error) { return httpserve.ServerTLS(files.Cert, "") }, true, "--tls-key"},
		{"key in place of cert", func() (*tls.Config, error) { return httpserve.ServerTLS(files.Key, files.Key) }, true, files.Key},
		{"CA file holds no certificate", func() (*tls.Config, error) { return httpserve.ClientTLS(files.Key) }, true, "no PEM certificate"},
		{"server", func() (*tls.Config, error) { return httpserve.ServerTLS(files.Cert, files.Key) }, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.load()
			if tc.wantError == "" && err != nil || tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)) {
				t.Fatalf("err = %v, want %q", err, tc.wantError)
			}
			if (cfg == nil) != tc.wantNil {
				t.Errorf("config = %v, want nil: %v", cfg, tc.wantNil)
			}
		})
	}
}

// TestServeReturnsNilOnShutdown: Serve reports a clean shutdown as nil.
func TestServeReturnsNilOnShutdown(t *testing.T) {
	srv := httpserve.NewServer(http.NotFoundHandler(), httpserve.Limits{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- httpserve.Serve(srv, ln) }()
	// A request proves the server runs before it is shut down.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
}
