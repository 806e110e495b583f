// Package auth guards ireports' HTTP endpoints (the coordinator API, the workers' shuffle
// and admin endpoints) with the cluster token, and loads that token.
//
// The rules, for every endpoint behind RequireToken or a Guard:
//   - A request that reads (GET, HEAD) carries the token as a bearer token, or as the
//     password of HTTP Basic auth so that a browser can open the status page.
//   - A request that changes something (any other method: submitting or cancelling a job, a
//     worker's poll, heartbeat or report) carries the token as a bearer token only, and a
//     JSON body (Content-Type: application/json). A browser that holds the Basic credentials
//     of the status page sends them along with any request a hostile page makes it send; but
//     no page of another origin can make it send an Authorization header or a JSON content
//     type without a CORS preflight, which these servers never approve. So a cross-site form
//     or script cannot submit or cancel a job (CSRF).
package auth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// EnvToken is the environment variable that may hold the cluster token.
const EnvToken = "IREPORTS_TOKEN"

// ErrNoToken: a daemon or client was started without a cluster token.
var ErrNoToken = errors.New("no cluster token: give --token-file FILE or set " + EnvToken)

// LoadToken returns the token in file path (surrounding whitespace trimmed), or, when path
// is empty, the IREPORTS_TOKEN environment variable.
func LoadToken(path string) (string, error) {
	if path == "" {
		if t := strings.TrimSpace(os.Getenv(EnvToken)); t != "" {
			return t, nil
		}
		return "", ErrNoToken
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return t, nil
}

// RequireToken admits requests that carry token by the rules of the package comment; the
// others get 401 (no or wrong token, or Basic auth on a request that changes something) or
// 415 (a request that changes something without a JSON body), and next never runs.
func RequireToken(token string, next http.Handler) http.Handler {
	return (&Guard{Token: token}).Handler(next)
}

// Guard is RequireToken that also logs the requests it refuses.
type Guard struct {
	Token string
	// Log, if not nil, gets a warning for requests refused for their token: at most one a
	// minute per client host, naming the method, path and client, never what it presented.
	Log *slog.Logger

	mu     sync.Mutex           // guards logged
	logged map[string]time.Time // client host → when a refusal from it was last logged
}

// logEvery is how often a Guard logs refusals from one client host: a worker with a wrong
// token retries for ever, and a scanner may knock every second.
const logEvery = time.Minute

// Handler wraps next in the guard.
func (g *Guard) Handler(next http.Handler) http.Handler {
	want := []byte(g.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reading := r.Method == http.MethodGet || r.Method == http.MethodHead
		got, how := "", ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got, how = strings.TrimPrefix(h, "Bearer "), "bearer"
		} else if _, pw, basic := r.BasicAuth(); basic {
			got, how = pw, "basic"
		}
		switch {
		case how == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1:
			g.refuse(w, r, http.StatusUnauthorized, "missing or wrong cluster token")
		case how == "basic" && !reading:
			g.refuse(w, r, http.StatusUnauthorized, r.Method+" needs the cluster token as a bearer token (Authorization: Bearer …), not Basic auth")
		case !reading && !isJSON(r.Header.Get("Content-Type")):
			g.refuse(w, r, http.StatusUnsupportedMediaType, r.Method+" needs Content-Type: application/json")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code == http.StatusUnauthorized {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("WWW-Authenticate", `Basic realm="ireports", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ireports"`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
	if code == http.StatusUnauthorized && g.Log != nil && g.shouldLog(r.RemoteAddr) {
		g.Log.Warn("refused a request: "+msg+"; if a worker sent it, check --token-file on every node",
			"method", r.Method, "path", r.URL.Path, "from", r.RemoteAddr, "status", code)
	}
}

// shouldLog reports whether a refusal from addr is due to be logged, and notes it.
func (g *Guard) shouldLog(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.logged == nil || len(g.logged) > 4096 { // bounded: forget everyone at once
		g.logged = map[string]time.Time{}
	}
	if last, ok := g.logged[host]; ok && now.Sub(last) < logEvery {
		return false
	}
	g.logged[host] = now
	return true
}
