// Package sodatest is a fake Socrata (SODA 2.1) dataset on loopback, for tests of the
// socrata package and of the jobs built on it: the real APIs are out of reach of a test, so
// this is the one fake of the engine's integration tests.
//
// It implements the part of the API the engine uses, with the real semantics:
//
//   - GET /resource/<dataset>.json with $select (* for the dataset's fields, :* for the
//     system fields :id, :created_at and :updated_at, or column names), $where (comparisons
//     of columns with string literals — = != <> < <= > >= — combined with AND, OR, NOT and
//     parentheses; :created_at and :updated_at compare as instants, everything else as
//     text), $order (columns, ASC or DESC), $limit (default 1000) and $offset. Anything else
//     is refused with 400 and a SoQL-style error body, so a client that strays from the
//     subset finds out.
//   - The X-App-Token header (or $$app_token) is checked when Config.AppToken is set: 403
//     without it.
//   - Records come from a fixture page (a real API answer, which lacks the system fields:
//     the server assigns them) and from generated records, and can be added and updated
//     later: closing a request gives it a new :updated_at, as the real API does.
//
// Faults are injected per request (Fail, FailAfter, FailFor): HTTP 503, 429 with
// Retry-After, 202 "processing", connection resets, bodies cut short, slowness, or the
// whole server going down; Pause and Resume stop and restart listening, which a client sees
// as connection refused. Counters
// (Requests, Pages, Queries) let a test check what a client did.
//
// A Server is safe for concurrent use. Close it when done; it owns one goroutine per
// listening period, which Pause and Close stop.
package sodatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Timestamp layouts of the API: system fields are fixed timestamps (UTC, with Z); dataset
// fields such as created_date are floating timestamps (local civil time, no zone).
const (
	FixedLayout    = "2006-01-02T15:04:05.000Z"
	FloatingLayout = "2006-01-02T15:04:05.000"
)

// Config describes the dataset a Server serves.
type Config struct {
	// Fixture is the path of a SODA JSON page (an array of objects) whose records the
	// server serves; "" for none.
	Fixture string
	// Generate is the number of generated NYC-like records served besides the fixture's.
	Generate int
	// Seed makes :id values and generated records reproducible.
	Seed uint64
	// AppToken, when set, must be presented by every request.
	AppToken string
	// Dataset is the dataset id in the resource path; default "erm2-nwe9".
	Dataset string
	// LoadedAt is when the dataset was loaded: the :created_at and :updated_at of every
	// fixture record (a bulk load gives many records one :updated_at, which keyset paging
	// must page through by :id); generated record i gets LoadedAt + (i/5+1) seconds.
	// Default 2024-06-01T00:00:00Z.
	LoadedAt time.Time
}

// Fault is what the server does to a request instead of answering it.
type Fault struct {
	Status     int           // answer with this status (503, 429, 202, …) and a short body
	RetryAfter string        // the Retry-After header sent with Status, if any
	Reset      bool          // close the connection with a TCP RST, answering nothing
	Truncate   bool          // answer 200 with the real page, cut off halfway
	Down       bool          // stop listening and drop every connection, this one too (Pause)
	Delay      time.Duration // wait this long first; alone, then answer normally (a slow server)
}

// Common faults.
var (
	Unavailable = Fault{Status: http.StatusServiceUnavailable}
	Processing  = Fault{Status: http.StatusAccepted}
	Reset       = Fault{Reset: true}
	Truncated   = Fault{Truncate: true}
	// Outage takes the whole server down: until Resume, clients get connection refused.
	// Give it with n = 1; no request reaches a paused server to use up a longer plan.
	Outage = Fault{Down: true}
)

// TooManyRequests is a 429 asking the client to wait retryAfter (seconds or an HTTP date).
func TooManyRequests(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// Slow delays the answer by d.
func Slow(d time.Duration) Fault { return Fault{Delay: d} }

// Server is a fake dataset. Endpoint is its resource URL.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT/resource/<dataset>.json

	cfg  Config
	addr string // host:port, kept across Pause and Resume
	path string // /resource/<dataset>.json

	mu       sync.Mutex // guards every field below
	rows     []*row
	byKey    map[string]*row // unique_key → its row
	seq      int             // generated records so far
	rule     *faultRule      // nil: no faults
	requests int
	pages    int
	queries  []url.Values
	hs       *http.Server  // nil while paused or closed
	served   chan struct{} // closed when hs's Serve loop has returned
	closed   bool
}

type faultRule struct {
	f     Fault
	skip  int       // requests to answer normally first
	n     int       // requests to fail; < 0: until Recover
	until time.Time // when set, fail every request until then instead of counting
}

// New loads the dataset and starts serving on a free 127.0.0.1 port.
func New(cfg Config) (*Server, error) {
	if cfg.Dataset == "" {
		cfg.Dataset = "erm2-nwe9"
	}
	if cfg.LoadedAt.IsZero() {
		cfg.LoadedAt = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	s := &Server{cfg: cfg, path: "/resource/" + cfg.Dataset + ".json", byKey: map[string]*row{}}
	if cfg.Fixture != "" {
		objs, err := readFixture(cfg.Fixture)
		if err != nil {
			return nil, err
		}
		for _, fields := range objs {
			s.insert(&row{createdAt: cfg.LoadedAt, updatedAt: cfg.LoadedAt, fields: fields})
		}
	}
	for range cfg.Generate {
		at := cfg.LoadedAt.Add(time.Duration(s.seq/5+1) * time.Second)
		s.insert(s.generate(at))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.Endpoint = "http://" + s.addr + s.path
	s.serve(ln)
	return s, nil
}

// serve starts the Serve loop on ln. s.mu must not be held.
func (s *Server) serve(ln net.Listener) {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	s.mu.Lock()
	s.hs, s.served = hs, served
	s.mu.Unlock()
	go func() {
		defer close(served)
		hs.Serve(ln) // returns http.ErrServerClosed after Close
	}()
}

// Pause stops listening and drops every connection: until Resume, clients get connection
// refused.
func (s *Server) Pause() {
	s.mu.Lock()
	hs, served := s.hs, s.served
	s.hs = nil
	s.mu.Unlock()
	if hs == nil {
		return
	}
	hs.Close() // closes the listener and every connection; handlers see their context end
	<-served
}

// Resume listens again on the same address.
func (s *Server) Resume() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("sodatest: server closed")
	}
	running := s.hs != nil
	s.mu.Unlock()
	if running {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("sodatest: listen again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

// Close stops the server for good. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Pause()
}

// Fail makes the next n requests fail with f (n < 0: every request until Recover),
// replacing any earlier fault plan.
func (s *Server) Fail(f Fault, n int) { s.FailAfter(0, f, n) }

// FailAfter answers the next ok requests normally, then fails n with f (n < 0: until
// Recover): an outage in the middle of a pull.
func (s *Server) FailAfter(ok int, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rule = &faultRule{f: f, skip: ok, n: n}
}

// FailFor fails every request with f for the duration d from now.
func (s *Server) FailFor(d time.Duration, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rule = &faultRule{f: f, until: time.Now().Add(d)}
}

// Recover ends the fault plan.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rule = nil
}

// Requests returns the number of requests received, faulted ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Pages returns the number of pages served (200 answers with records or an empty array).
func (s *Server) Pages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pages
}

// Queries returns the query parameters of every request received, in order.
func (s *Server) Queries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// Len returns the number of records in the dataset.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows)
}

// Records returns the whole dataset as the API would page it out: a JSON array of every
// record with its system fields, ordered by :updated_at, :id. It is what one uninterrupted
// pull from the beginning must store.
func (s *Server) Records() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := slices.Clone(s.rows)
	sortRows(rows, []orderKey{{col: ":updated_at"}, {col: ":id"}})
	return render(rows, selection{sys: true, user: true})
}

// Add appends n generated records created and updated at `at`, and returns their unique_key
// values.
func (s *Server) Add(n int, at time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, n)
	for i := range keys {
		r := s.generate(at)
		s.insert(r)
		keys[i] = r.text("unique_key")
	}
	return keys
}

// CloseRequest closes the request with the given unique_key at `at`: status "Closed",
// closed_date and resolution_action_updated_date set to at (New York civil time), and a new
// :updated_at.
func (s *Server) CloseRequest(uniqueKey string, at time.Time) error {
	local := at.In(newYork).Format(FloatingLayout)
	return s.Update(uniqueKey, at, map[string]string{
		"status":                         "Closed",
		"closed_date":                    local,
		"resolution_action_updated_date": local,
		"resolution_description":         "The request was closed (sodatest).",
	})
}

// Update sets fields of the record with the given unique_key (an empty value deletes the
// field, as SODA omits nulls) and gives it :updated_at = at.
func (s *Server) Update(uniqueKey string, at time.Time, set map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byKey[uniqueKey]
	if r == nil {
		return fmt.Errorf("sodatest: no record with unique_key %q", uniqueKey)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys) // field order must not depend on map order
	for _, k := range keys {
		r.set(k, set[k])
	}
	r.updatedAt = at.UTC().Truncate(time.Millisecond)
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.queries = append(s.queries, r.URL.Query())
	f, faulty := s.nextFault()
	s.mu.Unlock()

	truncate := false
	if faulty {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		switch {
		case f.Down:
			// Closing the server closes this handler's connection too; Pause waits only for
			// the accept loop, not for handlers, so calling it from one is safe.
			s.Pause()
			return
		case f.Reset:
			reset(w)
			return
		case f.Status != 0:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			msg := http.StatusText(f.Status)
			if f.Status == http.StatusAccepted {
				msg = "processing: the request is being prepared, try again shortly"
			}
			writeError(w, f.Status, "sodatest.fault", msg)
			return
		}
		truncate = f.Truncate
	}

	if r.URL.Path != s.path {
		writeError(w, http.StatusNotFound, "not_found", "dataset "+r.URL.Path+" not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not supported")
		return
	}
	q := r.URL.Query()
	if s.cfg.AppToken != "" {
		tok := r.Header.Get("X-App-Token")
		if tok == "" {
			tok = q.Get("$$app_token")
		}
		if tok != s.cfg.AppToken {
			writeError(w, http.StatusForbidden, "invalid_app_token", "missing or invalid app token")
			return
		}
	}
	qu, err := parseQuery(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query.compiler.malformed", err.Error())
		return
	}

	s.mu.Lock()
	body := s.answer(qu)
	s.pages++
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if truncate {
		w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler) // the server closes the connection without ending the body
	}
	w.Write(body)
}

// nextFault advances the fault plan by one request. s.mu must be held.
func (s *Server) nextFault() (Fault, bool) {
	r := s.rule
	switch {
	case r == nil:
		return Fault{}, false
	case !r.until.IsZero():
		if time.Now().Before(r.until) {
			return r.f, true
		}
		s.rule = nil
		return Fault{}, false
	case r.skip > 0:
		r.skip--
		return Fault{}, false
	case r.n == 0:
		s.rule = nil
		return Fault{}, false
	}
	if r.n > 0 {
		r.n--
	}
	return r.f, true
}

// answer runs a query over the dataset. s.mu must be held.
func (s *Server) answer(q query) []byte {
	var rows []*row
	for _, r := range s.rows {
		if q.where == nil || q.where(r) {
			rows = append(rows, r)
		}
	}
	sortRows(rows, q.order)
	if q.offset >= len(rows) {
		rows = nil
	} else {
		rows = rows[q.offset:]
	}
	if len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	return render(rows, q.sel)
}

// render writes rows as a JSON array, one object per line as Socrata does.
func render(rows []*row, sel selection) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range rows {
		if i > 0 {
			b.WriteString("\n,")
		}
		r.appendJSON(&b, sel)
	}
	b.WriteString("]\n")
	return b.Bytes()
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]any{"code": code, "error": true, "message": msg})
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// reset closes the connection with a TCP RST (linger 0), as a crashed proxy does.
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

// insert adds a row, giving it a reproducible :id. s.mu must be held (or s unshared).
func (s *Server) insert(r *row) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", s.cfg.Seed, len(s.rows))
	r.id = rowID(h.Sum64())
	s.rows = append(s.rows, r)
	if k := r.text("unique_key"); k != "" {
		s.byKey[k] = r
	}
}

// rowID spells a number like Socrata's row identifiers, "row-xxxx~xxxx.xxxx".
func rowID(v uint64) string {
	const alphabet = "23456789abcdefghijkmnpqrstuvwxyz"
	b := []byte("row-xxxx~xxxx.xxxx")
	for i := len(b) - 1; i >= 4; i-- {
		if b[i] == 'x' {
			b[i] = alphabet[v%32]
			v /= 32
		}
	}
	return string(b)
}

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return time.FixedZone("EST", -5*3600)
	}
	return loc
}()

var (
	agencies   = []string{"NYPD", "DOT", "DSNY", "HPD", "DEP", "DPR"}
	complaints = []string{"Noise - Residential", "Street Condition", "Illegal Parking", "HEAT/HOT WATER", "Water System", "Damaged Tree"}
	boroughs   = []string{"MANHATTAN", "BROOKLYN", "QUEENS", "BRONX", "STATEN ISLAND"}
)

// generate makes the next generated record, open, updated at `at` and created up to 90 days
// earlier, with one of the location shapes the API writes: the legacy location object beside
// latitude and longitude fields, a GeoJSON point alone or beside them, or no location at all.
// s.mu must be held (or s unshared).
func (s *Server) generate(at time.Time) *row {
	i := s.seq
	s.seq++
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)))
	at = at.UTC().Truncate(time.Millisecond)
	created := at.Add(-time.Duration(rng.IntN(90*24*3600)) * time.Second).In(newYork).Format(FloatingLayout)
	lat := 40.5 + rng.Float64()*0.4
	lon := -74.2 + rng.Float64()*0.5
	latS, lonS := strconv.FormatFloat(lat, 'f', 8, 64), strconv.FormatFloat(lon, 'f', 8, 64)
	r := &row{createdAt: at, updatedAt: at}
	str := func(k, v string) { r.set(k, v) }
	str("unique_key", strconv.Itoa(90_000_000+i))
	str("created_date", created)
	agency := agencies[rng.IntN(len(agencies))]
	str("agency", agency)
	str("complaint_type", complaints[rng.IntN(len(complaints))])
	str("descriptor", "Generated")
	str("incident_zip", strconv.Itoa(10001+rng.IntN(400)))
	str("borough", boroughs[rng.IntN(len(boroughs))])
	str("status", "Open")
	str("resolution_action_updated_date", created)
	str("open_data_channel_type", []string{"PHONE", "ONLINE", "MOBILE"}[rng.IntN(3)])
	switch i % 4 {
	case 0: // legacy: an object with latitude/longitude strings, plus the plain fields
		str("latitude", latS)
		str("longitude", lonS)
		r.fields = append(r.fields, field{"location", json.RawMessage(fmt.Sprintf(
			`{"latitude":%q,"longitude":%q,"human_address":"{\"address\": \"\", \"city\": \"\", \"state\": \"\", \"zip\": \"\"}"}`, latS, lonS))})
	case 1: // GeoJSON point only: the location has to come from it
		r.fields = append(r.fields, field{"location", json.RawMessage(fmt.Sprintf(
			`{"type":"Point","coordinates":[%s,%s]}`, lonS, latS))})
	case 2: // GeoJSON point beside the plain fields
		str("latitude", latS)
		str("longitude", lonS)
		r.fields = append(r.fields, field{"location", json.RawMessage(fmt.Sprintf(
			`{"type":"Point","coordinates":[%s,%s]}`, lonS, latS))})
	case 3: // no location: the keys are missing, as SODA omits nulls
	}
	return r
}

// row is one record: its system fields and its dataset fields in the order they are written.
type row struct {
	id        string
	createdAt time.Time
	updatedAt time.Time
	fields    []field
}

type field struct {
	key string
	val json.RawMessage
}

func (r *row) get(key string) (json.RawMessage, bool) {
	for _, f := range r.fields {
		if f.key == key {
			return f.val, true
		}
	}
	return nil, false
}

// text returns a field's value as text: a JSON string's content, else the raw JSON; "" when
// the field is absent.
func (r *row) text(key string) string {
	v, ok := r.get(key)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// set writes a string field; "" deletes it.
func (r *row) set(key, val string) {
	i := slices.IndexFunc(r.fields, func(f field) bool { return f.key == key })
	if val == "" {
		if i >= 0 {
			r.fields = slices.Delete(r.fields, i, i+1)
		}
		return
	}
	b, _ := json.Marshal(val)
	if i >= 0 {
		r.fields[i].val = b
	} else {
		r.fields = append(r.fields, field{key, b})
	}
}

// system returns a system field's text and whether col is one.
func (r *row) system(col string) (string, bool) {
	switch col {
	case ":id":
		return r.id, true
	case ":created_at":
		return r.createdAt.Format(FixedLayout), true
	case ":updated_at":
		return r.updatedAt.Format(FixedLayout), true
	}
	return "", false
}

var systemColumns = []string{":id", ":created_at", ":updated_at"}

func (r *row) appendJSON(b *bytes.Buffer, sel selection) {
	b.WriteByte('{')
	n := 0
	add := func(k string, v []byte) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	for _, c := range systemColumns {
		if sel.sys || slices.Contains(sel.cols, c) {
			v, _ := r.system(c)
			vb, _ := json.Marshal(v)
			add(c, vb)
		}
	}
	for _, f := range r.fields {
		if sel.user || slices.Contains(sel.cols, f.key) {
			add(f.key, f.val)
		}
	}
	b.WriteByte('}')
}

// readFixture reads a SODA page: a JSON array of objects, keeping each object's key order.
func readFixture(path string) ([][]field, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sodatest: %w", err)
	}
	var objs []json.RawMessage
	if err := json.Unmarshal(data, &objs); err != nil {
		return nil, fmt.Errorf("sodatest: %s: %w", path, err)
	}
	out := make([][]field, 0, len(objs))
	for i, o := range objs {
		fields, err := parseObject(o)
		if err != nil {
			return nil, fmt.Errorf("sodatest: %s: record %d: %w", path, i, err)
		}
		out = append(out, fields)
	}
	return out, nil
}

func parseObject(raw json.RawMessage) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var fields []field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if string(v) == "null" {
			continue // SODA omits nulls
		}
		fields = append(fields, field{key, v})
	}
	return fields, nil
}
