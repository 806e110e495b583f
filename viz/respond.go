package viz

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// gzipMin is the smallest body worth compressing.
const gzipMin = 1400

// writeJSON writes v with caching headers: a strong ETag of the body (a request whose
// If-None-Match holds it gets 304 and no body) and Cache-Control max-age CacheMaxAge.
// Large bodies are gzipped for clients that accept it.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("viz: encode response", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	cc := "no-cache"
	if age := s.cfg.CacheMaxAge; age > 0 {
		cc = fmt.Sprintf("public, max-age=%d", int(age/time.Second))
	}
	serveBytes(w, r, "application/json", cc, body, etagOf(body))
}

// etagOf is a strong validator of b.
func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// serveBytes writes body (of type ctype) with ETag etag and Cache-Control cc, answering
// If-None-Match with 304 and gzipping large bodies for clients that accept it. The gzipped
// representation has its own ETag, as HTTP requires of a different encoding.
func serveBytes(w http.ResponseWriter, r *http.Request, ctype, cc string, body []byte, etag string) {
	h := w.Header()
	h.Set("Cache-Control", cc)
	h.Set("Vary", "Accept-Encoding")
	gz := len(body) >= gzipMin && acceptsGzip(r)
	if gz {
		etag = strings.TrimSuffix(etag, `"`) + `-gz"`
	}
	h.Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", ctype)
	if gz {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// matchesETag reports whether an If-None-Match header value lists etag (weak comparison,
// as RFC 9110 prescribes for If-None-Match).
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// writeError writes {"error": msg} with status code. Errors are never cached.
func writeError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("ETag")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
