// Package httpserve builds ireports' HTTP servers (the coordinator's API, the workers'
// shuffle listener, viz) with limits on every phase of a connection, so that a client that
// is slow or hostile cannot hold a connection, its goroutine and its buffers for ever: one
// that sends nothing or trickles a header (slowloris), trickles a body, stops reading a
// response, or parks an idle keep-alive connection.
//
// Rules for callers:
//   - Build every http.Server with NewServer and run it with Serve; never an http.Server
//     literal. Limits' zero fields take DefaultLimits' values, so no limit can be switched
//     off by forgetting it.
//   - A handler whose answer legitimately outlasts the limits lifts them for its own request
//     only, never for the server: a long poll calls Hold once it has read its request body;
//     a handler that streams a large response is wrapped in Stream, which keeps the
//     connection alive for as long as the transfer makes progress.
//   - net/http ends a request's context when ReadTimeout passes, even after the body has
//     been read (its background read on the connection times out and is taken for a client
//     that went away). That is why Hold and Stream move the read deadline too.
//   - Responses that a browser may render carry SecurityHeaders.
//   - TLS is optional everywhere: ServerTLS and ClientTLS load the PEM files that TLSFlags
//     name (--tls-cert, --tls-key, --tls-ca); a server advertises URL(addr, tls) so that its
//     clients pick the scheme, and clients use ClientTransport and report an untrusted
//     certificate with ClassifyTLS (ErrUntrusted).
//
// Package httpservetest checks a running server against these limits with raw TCP clients,
// and makes the certificates of a throwaway CA for TLS tests.
//
// HTTP/2 is not offered over TLS: a client's stall detection (a read deadline per
// connection) cannot see one stalled stream among several multiplexed on a connection.
package httpserve

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
)

// Limits bounds what one connection may cost a server. A zero field means the field of
// DefaultLimits.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's header, from the moment the connection
	// is ready for it; a client that sends nothing or trickles the header is disconnected.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, header and body. It also ends the
	// request's context (see the package comment): handlers that run longer use Hold or
	// Stream.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, counted from the end of the request's header.
	// Handlers that answer later or for longer use Hold or Stream.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits this long for its next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's header, request line included; a larger one is
	// answered 431 Request Header Fields Too Large. (net/http lets 4 KiB more through
	// before it decides.)
	MaxHeaderBytes int
}

// DefaultLimits suits every ireports listener: requests are small JSON bodies (the
// largest, a submitted job file, is at most a few MiB), and the responses that take longer
// than a minute are the long polls and shuffle streams that lift the limits themselves.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// withDefaults fills l's zero (or negative) fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	def := DefaultLimits()
	pick := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	l.ReadHeaderTimeout = pick(l.ReadHeaderTimeout, def.ReadHeaderTimeout)
	l.ReadTimeout = pick(l.ReadTimeout, def.ReadTimeout)
	l.WriteTimeout = pick(l.WriteTimeout, def.WriteTimeout)
	l.IdleTimeout = pick(l.IdleTimeout, def.IdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = def.MaxHeaderBytes
	}
	return l
}

// NewServer returns a server for h with every limit of l set (zero fields: DefaultLimits).
// Set its TLSConfig (see ServerTLS) to serve HTTPS; run it with Serve.
func NewServer(h http.Handler, l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		// A non-nil empty map keeps net/http from offering HTTP/2 (see the package comment).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

// Serve serves srv on ln, over TLS when srv.TLSConfig is set, until srv is shut down; it
// returns nil then, and the listener's or TLS setup's error otherwise.
func Serve(srv *http.Server, ln net.Listener) error {
	var err error
	if srv.TLSConfig != nil {
		err = srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Hold gives the request that w answers d from now to complete, reading and writing: call
// it from a long-poll handler once it has read its request body, with the longest it may
// wait plus the time to write its answer. It fails only when w does not support deadlines.
func Hold(w http.ResponseWriter, d time.Duration) error {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(d)
	if err := rc.SetReadDeadline(deadline); err != nil {
		return err
	}
	return rc.SetWriteDeadline(deadline)
}

// Stream serves h, whose responses may take longer than the server's WriteTimeout (a shuffle
// segment of hundreds of MiB to a busy reducer): each write of the response, and the request
// as a whole, get stall from the previous write to go on. A transfer thus lasts as long as
// it makes progress, and a client that stops reading is cut off after stall. h must not
// read a request body for longer than stall.
func Stream(stall time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: stall}
		sw.extend()
		h.ServeHTTP(sw, r)
	})
}

// streamWriter moves its connection's deadlines forward before every write.
type streamWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (s *streamWriter) extend() {
	d := time.Now().Add(s.stall)
	// Errors mean a writer without deadlines (a test recorder): the server's own limits hold.
	s.rc.SetReadDeadline(d)
	s.rc.SetWriteDeadline(d)
}

func (s *streamWriter) Write(p []byte) (int, error) {
	s.extend()
	return s.ResponseWriter.Write(p)
}

func (s *streamWriter) Flush() {
	s.extend()
	s.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// StrictCSP is the Content-Security-Policy of pages that need no script, no image and no
// other origin: ireports' status pages. Inline styles are allowed (the pages carry their own
// stylesheet and inline widths).
const StrictCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// SecurityHeaders serves h with headers that keep a browser from framing its pages
// (clickjacking), sniffing a JSON answer into HTML or a script, and sending its URLs to
// other sites: X-Frame-Options DENY, X-Content-Type-Options nosniff, Referrer-Policy
// no-referrer, and the Content-Security-Policy csp unless it is empty. h may override them.
func SecurityHeaders(csp string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		if csp != "" {
			hd.Set("Content-Security-Policy", csp)
		}
		h.ServeHTTP(w, r)
	})
}
