// Package httpservetest checks, with raw TCP clients, that a running server enforces its
// httpserve.Limits: the attacks are a client that sends nothing, one that never finishes its
// header, one that never finishes its body, an idle keep-alive connection, and an oversize
// header. Every check waits for the server to close the connection (or answer), never for
// a time: the server under test should be built with short limits (tens of milliseconds),
// and a server that does not enforce them fails the check when the client's own generous
// deadline (Patience) passes. NewTLSFiles makes a CA and a server certificate for tests of
// TLS.
package httpservetest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Patience is how long a check waits for the server to close a connection before it
// declares that the server does not. It only bounds a failing test.
var Patience = 30 * time.Second

// Target is a server to check.
type Target struct {
	// Addr is the server's host:port (plain HTTP).
	Addr string
	// Path is a GET path the server answers with any status (a health check).
	Path string
	// BodyPath is a POST path whose handler reads a JSON request body once Header has
	// admitted it; "" skips the slow-body check.
	BodyPath string
	// Header is sent with every request (an Authorization header).
	Header http.Header
	// MaxHeaderBytes is the server's limit: the oversize header is well above it.
	MaxHeaderBytes int
}

// Check runs every check against tg as subtests of t.
func Check(t *testing.T, tg Target) {
	t.Helper()
	t.Run("silent client is disconnected", func(t *testing.T) {
		c := dial(t, tg.Addr)
		waitClosed(t, c)
	})
	t.Run("unfinished header is disconnected", func(t *testing.T) {
		c := dial(t, tg.Addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\nX-Slow: a", tg.Path)
		waitClosed(t, c)
	})
	if tg.BodyPath != "" {
		t.Run("unfinished body is disconnected", func(t *testing.T) {
			c := dial(t, tg.Addr)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: test\r\n%sContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"path\":",
				tg.BodyPath, headerLines(tg.Header))
			waitClosed(t, c)
		})
	}
	t.Run("idle keep-alive connection is closed", func(t *testing.T) {
		c := dial(t, tg.Addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n", tg.Path, headerLines(tg.Header))
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", tg.Path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.Close {
			t.Fatalf("GET %s: the server closed the connection at once (Connection: close); nothing to keep alive", tg.Path)
		}
		waitClosed(t, readerConn{c, br})
	})
	t.Run("oversize header gets 431", func(t *testing.T) {
		c := dial(t, tg.Addr)
		big := strings.Repeat("a", 2*tg.MaxHeaderBytes+8192)
		// The server may answer before it has read everything, so the header is written
		// on its own goroutine, whose write fails at the latest when Cleanup closes c.
		go fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n%sX-Big: %s\r\n\r\n", tg.Path, headerLines(tg.Header), big)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("oversize header: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversize header: %s, want 431", res.Status)
		}
	})
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func headerLines(h http.Header) string {
	var b strings.Builder
	h.Write(&b)
	return b.String()
}

// readerConn reads through the bufio.Reader that already holds the connection's bytes.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// waitClosed reads (and drops) whatever the server sends until it closes the connection;
// it fails t if Patience passes first.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(Patience))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", Patience)
	}
	// nil (EOF) or a reset: the server closed it.
}

// TLSFiles are the PEM files of a throwaway CA and of a server certificate it signed.
type TLSFiles struct {
	CA         string // the CA certificate: what clients trust (--tls-ca)
	Cert, Key  string // the server's certificate and key (--tls-cert, --tls-key)
	OtherCA    string // a CA that signed nothing here: a client trusting it trusts no server
	ServerName string
}

// NewTLSFiles writes, under t.TempDir(), a CA and a server certificate for 127.0.0.1 and
// localhost, valid for a day, plus an unrelated CA.
func NewTLSFiles(t *testing.T) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey := newCA(t, "ireports test CA")
	other, _ := newCA(t, "unrelated CA")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "ireports test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := TLSFiles{
		CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem"),
		ServerName: "localhost",
	}
	writePEM(t, f.CA, "CERTIFICATE", caCert.Raw)
	writePEM(t, f.OtherCA, "CERTIFICATE", other.Raw)
	writePEM(t, f.Cert, "CERTIFICATE", der)
	writePEM(t, f.Key, "PRIVATE KEY", keyDER)
	return f
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
