package socrata_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ireports/ireports/socrata"
)

const secretToken = "s3cr3t-app-token-4Qz9"

// leaks reports whether s shows the token, or enough of its start or end to count.
func leaks(s string) bool {
	return strings.Contains(s, secretToken[:8]) || strings.Contains(s, secretToken[len(secretToken)-8:])
}

// seen is what a test server received: each request's URL and headers.
type seen struct {
	mu   sync.Mutex // guards reqs
	reqs []string   // "URL\nheaders" of each request
}

func (s *seen) record(r *http.Request) {
	var b strings.Builder
	b.WriteString(r.URL.String() + "\n")
	r.Header.Write(&b)
	s.mu.Lock()
	s.reqs = append(s.reqs, b.String())
	s.mu.Unlock()
}

func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// serveOn starts h on a listener at host (an address of the loopback network, such as
// 127.0.0.2, which Linux routes to lo like 127.0.0.1) and returns its base URL.
func serveOn(t *testing.T, host string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestTokenNotForwardedOnRedirect: an endpoint that redirects to another host, or another
// port of its host, must not receive the app token there — neither as X-App-Token (which
// Go's client copies to any redirect target, unlike Authorization) nor as $$app_token in the
// URL. A redirect within the endpoint's origin keeps it.
func TestTokenNotForwardedOnRedirect(t *testing.T) {
	ctx := context.Background()
	empty := func(rec *seen) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.record(r)
			w.Write([]byte("[]"))
		})
	}
	var otherHost, otherPort seen
	otherHostURL := serveOn(t, "127.0.0.2", empty(&otherHost))
	otherPortURL := serveOn(t, "127.0.0.1", empty(&otherPort))

	cases := []struct {
		name     string
		status   int
		target   string // base URL the origin redirects to; "" for its own
		dest     *seen
		inURL    bool // the token is given as $$app_token in the endpoint
		tokenAt  bool // the destination must receive the token
		ownCheck bool // the source brings a client with its own CheckRedirect
	}{
		{name: "302 to another host", status: http.StatusFound, target: otherHostURL, dest: &otherHost},
		{name: "307 to another host", status: http.StatusTemporaryRedirect, target: otherHostURL, dest: &otherHost},
		{name: "308 to another host, token in the endpoint URL", status: http.StatusPermanentRedirect, target: otherHostURL, dest: &otherHost, inURL: true},
		{name: "301 to another port of the same host", status: http.StatusMovedPermanently, target: otherPortURL, dest: &otherPort},
		{name: "caller's client with its own redirect policy", status: http.StatusFound, target: otherHostURL, dest: &otherHost, ownCheck: true},
		{name: "302 within the origin keeps the token", status: http.StatusFound, tokenAt: true},
		{name: "302 within the origin, token in the endpoint URL", status: http.StatusFound, tokenAt: true, inURL: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var origin seen
			dest := tc.dest
			if dest == nil {
				dest = &origin
			}
			before := len(dest.all())
			var self string
			self = serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				origin.record(r)
				if r.URL.Path == "/resource/moved.json" {
					w.Write([]byte("[]"))
					return
				}
				to := cmpOr(tc.target, self) + "/resource/moved.json?" + r.URL.RawQuery
				http.Redirect(w, r, to, tc.status)
			}))
			src := endpointSource(self+"/resource/erm2-nwe9.json", t.TempDir())
			src.AppToken = secretToken
			if tc.inURL {
				src.AppToken = ""
				src.Endpoint += "?$$app_token=" + secretToken
			}
			checks := 0
			if tc.ownCheck {
				src.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
					checks++
					return nil
				}}
			}
			res, err := socrata.Pull(ctx, src, newMemWatermarks(), localStore(t))
			if err != nil || res.Status != socrata.StatusCaughtUp {
				t.Fatalf("Pull: %v, %v; want caught up through the redirect", res.Status, err)
			}

			got := origin.all()
			if len(got) == 0 || !strings.Contains(got[0], "X-App-Token: "+secretToken) {
				t.Errorf("the endpoint's own first request lacks the token: %q", got)
			}
			reqs := dest.all()[before:]
			if tc.dest == nil {
				reqs = got[1:]
			}
			if len(reqs) == 0 {
				t.Fatal("the redirect target received no request")
			}
			for _, r := range reqs {
				if strings.Contains(r, secretToken) != tc.tokenAt {
					t.Errorf("redirect target received (token expected %v):\n%s", tc.tokenAt, r)
				}
			}
			for _, r := range got {
				if strings.Contains(strings.SplitN(r, "\n", 2)[0], secretToken) {
					t.Errorf("the token travelled in a URL: %s", strings.SplitN(r, "\n", 2)[0])
				}
			}
			if tc.ownCheck {
				if checks != 1 {
					t.Errorf("the caller's CheckRedirect ran %d times, want once", checks)
				}
				src.HTTPClient.CheckRedirect(nil, nil)
				if checks != 2 {
					t.Error("Pull replaced the caller's CheckRedirect")
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestTokenNeverShown: servers that echo the app token back — in a 5xx body, a 4xx body, a
// 200 that is not JSON, a token straddling the body cut of the message, a Location header
// Go cannot parse and quotes in its error — must not make it appear in Pull's error or in
// any log line, whether the token is given as AppToken or in the endpoint URL.
func TestTokenNeverShown(t *testing.T) {
	echo := func(r *http.Request) string {
		return "token " + r.Header.Get("X-App-Token") + " query " + r.URL.RawQuery
	}
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    error // errors.Is target
	}{
		{"503 echoing the token", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, echo(r), http.StatusServiceUnavailable)
		}, socrata.ErrSourceUnavailable},
		{"403 echoing the token", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, echo(r), http.StatusForbidden)
		}, socrata.ErrRequest},
		{"token across the cut of the quoted body", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("x", 290)+r.Header.Get("X-App-Token"), http.StatusBadRequest)
		}, socrata.ErrRequest},
		{"200 that is not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>maintenance " + echo(r)))
		}, socrata.ErrSourceUnavailable},
		{"unparsable Location quoting the token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "http://[::1%zz/"+r.Header.Get("X-App-Token"))
			w.WriteHeader(http.StatusFound)
		}, socrata.ErrSourceUnavailable},
	}
	for _, tc := range cases {
		for _, inURL := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/token in URL %v", tc.name, inURL), func(t *testing.T) {
				var rec seen
				base := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rec.record(r)
					tc.handler(w, r)
				}))
				var logs bytes.Buffer
				src := endpointSource(base+"/resource/erm2-nwe9.json", t.TempDir())
				src.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				src.AppToken = secretToken
				if inURL {
					src.AppToken = ""
					src.Endpoint += "?$$app_token=" + secretToken
				}
				_, err := socrata.Pull(context.Background(), src, newMemWatermarks(), localStore(t))
				if err == nil || !errors.Is(err, tc.want) {
					t.Fatalf("Pull: %v; want %v", err, tc.want)
				}
				if reqs := rec.all(); len(reqs) == 0 || !strings.Contains(reqs[0], secretToken) {
					t.Fatalf("the server never got the token to echo: %q", reqs)
				}
				if leaks(err.Error()) {
					t.Errorf("error shows the token: %v", err)
				}
				var re *socrata.RequestError
				if errors.As(err, &re) && (leaks(re.Body) || leaks(re.URL)) {
					t.Errorf("RequestError fields show the token: %+v", re)
				}
				if leaks(logs.String()) {
					t.Errorf("a log line shows the token:\n%s", logs.String())
				}
				t.Log(err)
			})
		}
	}
}

// TestNULInSystemFields: a page whose :id holds a NUL byte (valid JSON: \u0000) would make
// the watermark, PostgreSQL text, fail to advance with an encoding error after the batch is
// stored; Pull refuses the page at once with ErrBadResponse and stores nothing.
func TestNULInSystemFields(t *testing.T) {
	base := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{":id":"row-\u0000","` + `:updated_at":"2024-06-01T00:00:00.000Z","unique_key":"1"}]`))
	}))
	src := endpointSource(base+"/resource/erm2-nwe9.json", t.TempDir())
	res, err := socrata.Pull(context.Background(), src, newMemWatermarks(), localStore(t))
	if !errors.Is(err, socrata.ErrBadResponse) || !strings.Contains(err.Error(), "NUL") || len(res.Batches) != 0 || res.Retries != 0 {
		t.Fatalf("Pull: %+v, %v; want ErrBadResponse naming the NUL, nothing stored, no retry", res, err)
	}
}
