// Package auth guards ireports' HTTP endpoints (the coordinator API, the workers' shuffle
// and admin endpoints) with the cluster token, and loads that token.
package auth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
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

// RequireToken admits requests that carry token as a bearer token, or as the password of
// HTTP basic auth (so that a browser can open a status page); the others get 401 and next
// never runs.
func RequireToken(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := "", false
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got, ok = strings.TrimPrefix(h, "Bearer "), true
		} else if _, pw, basic := r.BasicAuth(); basic {
			got, ok = pw, true
		}
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="ireports", charset="UTF-8"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "missing or wrong cluster token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
