package socrata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Source is one Socrata dataset pulled incrementally: the `source "NAME" { kind = "socrata" }`
// block of a job file. Start from DefaultSource, set the dataset's fields, and pass it to
// Pull, which fills zero tuning fields with their defaults and validates the rest.
type Source struct {
	// Name identifies the source (the block's label, "nyc_api"); its watermark is stored
	// under this key, so renaming a source starts it over from Start.
	Name string
	// Endpoint is the dataset's SODA resource URL,
	// "https://data.cityofnewyork.us/resource/erm2-nwe9.json".
	Endpoint string
	// AppToken is sent as the X-App-Token header; optional, but Socrata throttles requests
	// without one much sooner. A $$app_token in Endpoint's query is used when AppToken is
	// empty, and taken out of the URL either way: the token travels only in the header, and
	// only to Endpoint's origin (a redirect to another scheme, host or port goes without it).
	// It never appears in errors or logs, even when a server echoes it.
	AppToken string
	// Schema names the city schema that normalizes the records (a built-in such as "nyc" or
	// a schema block of the job file). Pull stores records raw and does not use it; the job
	// reading the batches does.
	Schema string
	// PageSize is the number of records per request ($limit). Pull holds one page in memory.
	PageSize int
	// Start is where the first pull begins: records with :updated_at at or after it. A SoQL
	// timestamp literal, "2006-01-02T15:04:05" with optional fraction and Z; Socrata's
	// fixed timestamps are UTC.
	Start string
	// Raw is the object-store location (s3://bucket/prefix or a local directory) under which
	// pulled pages are written as batch-*.json.
	Raw string
	// RetryFor is how long one outage of the API is retried before Pull gives up with
	// ErrSourceUnavailable. It is measured from the first failed request of the outage and
	// restarts with every page that succeeds.
	RetryFor time.Duration
	// RequestTimeout bounds one HTTP request, reading the body included.
	RequestTimeout time.Duration
	// BackoffBase and BackoffMax shape the wait before retry k (1-based): a random duration
	// in [d/2, d) with d = min(BackoffMax, BackoffBase·2^(k-1)). A longer Retry-After from
	// the server is honoured instead, unless it reaches past RetryFor, which ends the pull.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// HTTPClient makes the requests; nil means a client of its own. Its Timeout, if any,
	// applies on top of RequestTimeout.
	HTTPClient *http.Client
	// Logger receives a line per page at debug level, per retry at warn and per pull at
	// info; nil means slog.Default().
	Logger *slog.Logger
	// Stored, if set, is called after each batch is stored and before the watermark
	// advances past it; an error from it ends the pull there, the watermark still before
	// the batch (so the next pull fetches that page again). A caller that keeps a durable
	// record of what it pulled (the coordinator's job journal) writes it here: its record
	// is then never behind the watermark, and after a crash it can finish the advance
	// itself (WatermarkStore.Advance from Batch.From to Batch.To, which is exactly once)
	// and read the batches where they are instead of pulling them again.
	Stored func(ctx context.Context, b Batch) error
}

// Batch is one page that Pull stored: the records in (From, To] of the keyset order.
type Batch struct {
	Object  string // where it is stored, under Source.Raw
	Records int
	Bytes   int64
	SHA256  string    // of the stored bytes, hex
	From    Watermark // the watermark before the batch (zero: the source's first page)
	To      Watermark // the watermark after it: the batch's last record
}

// Defaults of Source.
const (
	DefaultPageSize       = 50000
	DefaultRetryFor       = 15 * time.Minute
	DefaultRequestTimeout = 5 * time.Minute
	DefaultBackoffBase    = 1 * time.Second
	DefaultBackoffMax     = 2 * time.Minute
	// MaxPageSize bounds PageSize: a page is held in memory.
	MaxPageSize = 1_000_000
)

// DefaultSource returns a Source with every tuning field at its default; the dataset fields
// (Name, Endpoint, Schema, Start, Raw) are left for the caller.
func DefaultSource() Source {
	return Source{
		PageSize:       DefaultPageSize,
		RetryFor:       DefaultRetryFor,
		RequestTimeout: DefaultRequestTimeout,
		BackoffBase:    DefaultBackoffBase,
		BackoffMax:     DefaultBackoffMax,
	}
}

// timestampLayouts are the SoQL timestamp literals Start may be written in.
var timestampLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// parseTimestamp reads a SoQL timestamp literal as a UTC instant.
func parseTimestamp(s string) (time.Time, bool) {
	for _, l := range timestampLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// withDefaults fills zero tuning fields and validates the source.
func (s Source) withDefaults() (Source, error) {
	d := DefaultSource()
	if s.PageSize == 0 {
		s.PageSize = d.PageSize
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&s.RetryFor, d.RetryFor}, {&s.RequestTimeout, d.RequestTimeout}, {&s.BackoffBase, d.BackoffBase}, {&s.BackoffMax, d.BackoffMax}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s, s.Validate()
}

// Validate reports the first invalid field, in an error wrapping ErrBadSource that names the
// source and the field. Zero tuning fields are invalid here; Pull fills them first.
func (s Source) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadSource, s.Name, fmt.Sprintf(format, args...))
	}
	if s.Name == "" {
		return fmt.Errorf("%w: a source needs a name (it keys the watermark)", ErrBadSource)
	}
	u, err := url.Parse(s.Endpoint)
	switch {
	case s.Endpoint == "":
		return bad("endpoint is empty; want the dataset's resource URL, such as https://data.cityofnewyork.us/resource/erm2-nwe9.json")
	case err != nil:
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // the URL itself may carry a token
		}
		return bad("endpoint is not a URL: %v", err)
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
		return bad("endpoint %q is not an http(s) URL with a host", redact(s.Endpoint))
	case !strings.HasSuffix(u.Path, ".json"):
		return bad("endpoint %q must end in .json: Pull reads SODA JSON", redact(s.Endpoint))
	}
	for k := range u.Query() {
		if strings.HasPrefix(k, "$") && !strings.HasPrefix(k, "$$") {
			return bad("endpoint sets the SoQL parameter %s, which Pull controls", k)
		}
	}
	if s.Schema == "" {
		return bad("schema is empty; name the city schema that normalizes its records, such as \"nyc\"")
	}
	if s.PageSize < 1 || s.PageSize > MaxPageSize {
		return bad("page_size %d is outside [1, %d]", s.PageSize, MaxPageSize)
	}
	if _, ok := parseTimestamp(s.Start); !ok {
		return bad("start %q is not a timestamp such as \"2024-01-01T00:00:00\"", s.Start)
	}
	if strings.ContainsRune(s.Start, '\'') {
		return bad("start %q contains a quote", s.Start)
	}
	if s.Raw == "" {
		return bad("raw is empty; name where pulled batches go (s3://bucket/raw/city or a directory)")
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"retry_for", s.RetryFor}, {"request timeout", s.RequestTimeout}, {"backoff base", s.BackoffBase}, {"backoff max", s.BackoffMax}} {
		if f.v <= 0 {
			return bad("%s %v must be positive", f.name, f.v)
		}
	}
	if s.BackoffBase > s.BackoffMax {
		return bad("backoff base %v exceeds backoff max %v", s.BackoffBase, s.BackoffMax)
	}
	return nil
}

// redact removes an app token given in the URL ($$app_token) and user information, so that
// the URL can be shown, and decodes the query so that a person can read the SoQL in it.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	if _, ok := q["$$app_token"]; ok {
		q.Set("$$app_token", "REDACTED")
	}
	u.User = nil
	u.RawQuery = ""
	s := u.String()
	if len(q) > 0 {
		if dq, err := url.QueryUnescape(q.Encode()); err == nil {
			s += "?" + dq
		}
	}
	return s
}
