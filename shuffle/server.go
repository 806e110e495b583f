package shuffle

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves segments of the map outputs under a root directory:
//
//	GET /shuffle/{job}/{map}/{reducer}
//
// answers with segment reducer of MapOutputPath(root, job, map): the segment's bytes as the
// body (Range requests are honoured, so a later client can resume) and its description in
// Ireports-Segment-* headers. Every request must carry "Authorization: Bearer <token>";
// without it the answer is 401 before the path is even looked at. Every answer carries the
// server's HeaderProtocol, and a request that carries another version than
// ProtocolVersion is answered 400 saying so, before the token is checked (a future version
// may authenticate differently). A path that does not
// have this shape is 404; a job id or number that is not a safe name is 400; a map output
// that is missing, or a reducer it has no segment for, is 404; a damaged file is 500.
// Handler is safe for concurrent use. It opens the file and reads its index per request:
// a reducer asks each map output once.
type Handler struct {
	root  string
	token []byte
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler for the map outputs under root. The token must not be empty:
// shuffle data is the cities' records and is served only inside the cluster.
func NewHandler(root, token string) (*Handler, error) {
	if token == "" {
		return nil, errors.New("shuffle: NewHandler: empty cluster token")
	}
	if root == "" {
		return nil, errors.New("shuffle: NewHandler: empty root directory")
	}
	return &Handler{root: root, token: []byte(token)}, nil
}

func (h *Handler) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), h.token) == 1
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(HeaderProtocol, protocolVersion)
	if v := r.Header.Get(HeaderProtocol); v != "" && v != protocolVersion {
		http.Error(w, fmt.Sprintf("%v: the client speaks shuffle protocol %.20q, this worker %s; run one release on every worker",
			ErrProtocol, v, protocolVersion), http.StatusBadRequest)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ireports shuffle"`)
		http.Error(w, "missing or wrong cluster token", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/shuffle/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	job, mapTask, reducer, err := parseSegmentPath(parts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	path, err := MapOutputPath(h.root, job, mapTask)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, seg, err := openSegment(path, reducer)
	if err != nil {
		// The client sees job and task, never the server's directory layout.
		name := fmt.Sprintf("job %s map %d reducer %d", job, mapTask, reducer)
		switch {
		case errors.Is(err, ErrFetch), errors.Is(err, ErrReducers):
			http.Error(w, name+": no such map output segment", http.StatusNotFound)
		default:
			http.Error(w, name+": map output unreadable", http.StatusInternalServerError)
		}
		return
	}
	defer f.Close()
	setSegmentHeader(w.Header(), seg)
	w.Header().Set("Content-Type", "application/octet-stream")
	// ServeContent answers Range and HEAD requests; a zero modtime keeps caches out of it.
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(f, seg.Offset, seg.Length))
}

// parseSegmentPath validates the three path components. Numbers are plain decimal without
// sign or leading zeros, so one segment has exactly one URL.
func parseSegmentPath(parts []string) (job string, mapTask, reducer int, err error) {
	if err := validJob(parts[0]); err != nil {
		return "", 0, 0, err
	}
	num := func(what, s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || strconv.Itoa(n) != s {
			return 0, fmt.Errorf("%w: %s %q", ErrBadName, what, s)
		}
		return n, nil
	}
	if mapTask, err = num("map task", parts[1]); err != nil {
		return "", 0, 0, err
	}
	if reducer, err = num("reducer", parts[2]); err != nil {
		return "", 0, 0, err
	}
	return parts[0], mapTask, reducer, nil
}
