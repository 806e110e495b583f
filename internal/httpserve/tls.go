package httpserve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// ErrUntrusted means a TLS peer's certificate did not verify against the trusted CAs.
var ErrUntrusted = errors.New("TLS certificate not trusted")

// ServerTLS loads a server's certificate chain and key (PEM files). Both empty means plain
// HTTP: nil and no error. Only TLS 1.2 and later are offered.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s, key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ClientTLS returns a client configuration that trusts the CA certificates in caFile (PEM)
// instead of the system's. An empty caFile means the system's roots: nil and no error.
func ClientTLS(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("TLS CA %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// TLSFlags are the TLS flags of a daemon or client command.
type TLSFlags struct {
	Cert, Key, CA string
}

// RegisterServer adds --tls-cert and --tls-key to fs; what names what the server serves,
// for the help text.
func (f *TLSFlags) RegisterServer(fs *flag.FlagSet, what string) {
	fs.StringVar(&f.Cert, "tls-cert", "", "PEM certificate (chain) to serve "+what+" over HTTPS (with --tls-key)")
	fs.StringVar(&f.Key, "tls-key", "", "PEM private key of --tls-cert")
}

// RegisterClient adds --tls-ca to fs.
func (f *TLSFlags) RegisterClient(fs *flag.FlagSet) {
	fs.StringVar(&f.CA, "tls-ca", "", "PEM CA certificate(s) to trust for https:// servers, instead of the system's")
}

// Load returns the server configuration (nil without --tls-cert) and the client one (nil
// without --tls-ca); flags that were not registered are empty.
func (f *TLSFlags) Load() (server, client *tls.Config, err error) {
	if server, err = ServerTLS(f.Cert, f.Key); err != nil {
		return nil, nil, err
	}
	if client, err = ClientTLS(f.CA); err != nil {
		return nil, nil, err
	}
	return server, client, nil
}

// ClientTransport returns a transport like http.DefaultTransport's that trusts tlsConfig's
// roots (nil: the system's) and speaks HTTP/1.1 only (see the package comment).
func ClientTransport(tlsConfig *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig.Clone()
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return t
}

// URL returns the base URL of an address that a server listening on it advertises:
// https://host:port with TLS, host:port without (clients take a bare address for http).
func URL(addr string, tlsConfig *tls.Config) string {
	if tlsConfig == nil {
		return addr
	}
	return "https://" + addr
}

// BaseURL turns an advertised address (host:port or a URL) into a base URL for requests.
func BaseURL(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/")
}

// ClassifyTLS wraps a request error caused by an untrusted server certificate with
// ErrUntrusted and what to do about it; other errors pass unchanged.
func ClassifyTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown), errors.As(err, &verify), errors.As(err, &hostname):
		return fmt.Errorf("%w (%w): give --tls-ca with the CA that signed the server's certificate, "+
			"and make sure the certificate names the address it is reached at", ErrUntrusted, err)
	}
	return err
}
