package socrata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ireports/ireports/objstore"
)

// Status is how a pull ended.
type Status uint8

// The statuses of a pull, in order of how far it got.
const (
	// StatusFailed: a permanent error (a refused request, an unusable answer, a store
	// failure, a cancelled context) ended the pull; the error says which.
	StatusFailed Status = iota
	// StatusUnavailable: the API stayed unavailable for RetryFor; the pull ended cleanly
	// and the next one resumes from the watermark.
	StatusUnavailable
	// StatusCaughtUp: the API answered an empty page: everything updated before the last
	// request is stored.
	StatusCaughtUp
)

func (s Status) String() string {
	switch s {
	case StatusFailed:
		return "failed"
	case StatusUnavailable:
		return "source unavailable"
	case StatusCaughtUp:
		return "caught up"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// PullResult describes one pull, whatever its outcome: the batches it stored stay stored
// and are covered by the watermark To even when the pull ended with an error.
type PullResult struct {
	Source   string
	Status   Status
	From     Watermark     // the watermark the pull started from (zero: Source.Start)
	To       Watermark     // the watermark when it ended: the last record stored
	Batches  []string      // batch objects written, in pull order
	Records  int64         // records in Batches
	Requests int           // HTTP requests, retries included
	Retries  int           // failed requests that were retried
	Elapsed  time.Duration // wall time of the pull
}

// maxPageBytes bounds one response body, which Pull holds in memory.
const maxPageBytes = 2 << 30

// Pull fetches every record of src updated since its watermark in store, writes the pages as
// batches under src.Raw in objs, and advances the watermark after each batch is stored (see
// the package doc for why that order makes crashes harmless). It returns when the API answers
// an empty page (StatusCaughtUp), when an outage outlasts src.RetryFor (an error wrapping
// ErrSourceUnavailable, StatusUnavailable), or on the first permanent error. src's zero tuning
// fields take their defaults; an invalid src is an error wrapping ErrBadSource.
func Pull(ctx context.Context, src Source, store WatermarkStore, objs objstore.Store) (res PullResult, err error) {
	began := time.Now()
	res.Source = src.Name
	defer func() { res.Elapsed = time.Since(began) }()
	if src, err = src.withDefaults(); err != nil {
		return res, err
	}
	src.AppToken, src.Endpoint = moveToken(src.AppToken, src.Endpoint)
	p := &puller{src: src, client: guardToken(src.HTTPClient), log: src.Logger.With("source", src.Name)}

	wm, err := store.Get(ctx, src.Name)
	if err != nil {
		return res, fmt.Errorf("source %s: %w", src.Name, err)
	}
	res.From, res.To = wm, wm
	for {
		pg, err := p.fetch(ctx, wm, &res)
		if err != nil {
			if errors.Is(err, ErrSourceUnavailable) {
				res.Status = StatusUnavailable
				p.log.Warn("socrata pull ended: source unavailable", "watermark", res.To, "batches", len(res.Batches), "records", res.Records, "err", err)
			}
			return res, err
		}
		if pg.n == 0 {
			res.Status = StatusCaughtUp
			p.log.Info("socrata pull caught up", "from", res.From, "to", res.To, "batches", len(res.Batches),
				"records", res.Records, "requests", res.Requests, "elapsed", time.Since(began).Round(time.Millisecond))
			return res, nil
		}
		name, err := batchName(src.Raw, src.Start, wm, pg.last)
		if err != nil {
			return res, fmt.Errorf("source %s: %w", src.Name, err)
		}
		if err := objstore.WriteAll(ctx, objs, name, pg.body); err != nil {
			return res, fmt.Errorf("source %s: store batch %s: %w", src.Name, name, err)
		}
		if src.Stored != nil {
			sum := sha256.Sum256(pg.body)
			b := Batch{Object: name, Records: pg.n, Bytes: int64(len(pg.body)), SHA256: hex.EncodeToString(sum[:]), From: wm, To: pg.last}
			if err := src.Stored(ctx, b); err != nil {
				return res, fmt.Errorf("source %s: batch %s is stored but could not be recorded, so the watermark was not advanced (harmless: the next pull fetches it again): %w", src.Name, name, err)
			}
		}
		if err := store.Advance(ctx, src.Name, wm, pg.last); err != nil {
			return res, fmt.Errorf("source %s: batch %s is stored but the watermark was not advanced (harmless: the next pull fetches it again): %w", src.Name, name, err)
		}
		wm = pg.last
		res.To = wm
		res.Batches = append(res.Batches, name)
		res.Records += int64(pg.n)
		p.log.Debug("socrata page stored", "batch", name, "records", pg.n, "watermark", wm)
	}
}

// Batches lists the batch objects under raw, sorted by name: by the :updated_at range they
// cover, which is pull order except among pages inside one :updated_at (see the package doc).
func Batches(ctx context.Context, objs objstore.Store, raw string) ([]string, error) {
	pattern, err := objstore.Join(raw, "batch-*.json")
	if err != nil {
		return nil, err
	}
	infos, err := objs.List(ctx, pattern)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(infos))
	for i, o := range infos {
		names[i] = o.Name
	}
	return names, nil // List sorts by name
}

// batchName names the batch holding the page (from, to]. The name is a function of the
// range alone, so storing a page again replaces it. It begins with the range's :updated_at
// values, compacted to letters and digits (Socrata writes fixed-width literals, so the
// compacted forms sort as the instants do); the hash of the exact range keeps pages inside
// one :updated_at apart.
func batchName(raw, start string, from, to Watermark) (string, error) {
	f := from.UpdatedAt
	if from.IsZero() {
		f = start
	}
	h := sha256.Sum256([]byte(f + "\x00" + from.ID + "\x00" + to.UpdatedAt + "\x00" + to.ID))
	return objstore.Join(raw, fmt.Sprintf("batch-%s-%s-%x.json", compact(f), compact(to.UpdatedAt), h[:4]))
}

func compact(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "0"
	}
	return string(b)
}

// tokenHeader carries the app token. Go's http.Client copies custom headers to every
// redirect target, whatever its host (it drops only Authorization, Cookie and their kin on a
// cross-domain redirect), so guardToken drops this one itself.
const tokenHeader = "X-App-Token"

// moveToken takes an app token given in the endpoint's query ($$app_token, which Socrata
// also accepts) out of the URL, so that it travels only in the header: a URL is what ends up
// in errors, logs, url.Error values and, on a redirect, another server's access log. The
// Source's AppToken, when set, wins.
func moveToken(token, endpoint string) (string, string) {
	u, err := url.Parse(endpoint) // validated
	if err != nil {
		return token, endpoint
	}
	q := u.Query()
	if _, ok := q["$$app_token"]; !ok {
		return token, endpoint
	}
	if token == "" {
		token = q.Get("$$app_token")
	}
	q.Del("$$app_token")
	u.RawQuery = q.Encode()
	return token, u.String()
}

// guardToken returns a client that behaves like c (nil: a default client) but sends the app
// token only to the origin Pull asked: a redirect to another scheme, host or port goes
// without it. c itself is not modified; its own CheckRedirect still decides whether to
// follow.
func guardToken(c *http.Client) *http.Client {
	g := &http.Client{}
	if c != nil {
		*g = *c
	}
	next := g.CheckRedirect
	g.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// The client copies the first request's headers to each hop before this runs, so
		// compare with the first request, not the previous hop.
		if !sameOrigin(req.URL, via[0].URL) {
			req.Header.Del(tokenHeader)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 { // http.Client's default policy
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return g
}

// sameOrigin reports whether a and b have the same scheme, host and port (RFC 6454).
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// scrubbedError is an error whose message had the app token in it, with the token replaced.
// It unwraps to the original so that errors.Is and errors.As still classify it.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub hides the app token in err's message. The token never travels in a URL (moveToken),
// and bodies are scrubbed as they are read, but a server that has the token may echo it
// anywhere: in a body, in a Location header that Go quotes in its error.
func (p *puller) scrub(err error) error {
	if err == nil || p.src.AppToken == "" || !strings.Contains(err.Error(), p.src.AppToken) {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), p.src.AppToken, "REDACTED"), err: err}
}

// puller is the state of one Pull.
type puller struct {
	src    Source
	client *http.Client
	log    *slog.Logger
}

// page is one answer of the API.
type page struct {
	body []byte    // as received: a JSON array of objects
	n    int       // records
	last Watermark // system fields of the last record
}

// pageURL is the request for the page after wm.
func (p *puller) pageURL(wm Watermark) string {
	u, _ := url.Parse(p.src.Endpoint) // validated
	q := u.Query()
	q.Set("$select", ":*,*")
	q.Set("$where", whereAfter(p.src.Start, wm))
	q.Set("$order", ":updated_at,:id")
	q.Set("$limit", strconv.Itoa(p.src.PageSize))
	u.RawQuery = q.Encode()
	return u.String()
}

// whereAfter is the keyset condition for the records after wm, or from start when there is
// no watermark yet.
func whereAfter(start string, wm Watermark) string {
	if wm.IsZero() {
		return ":updated_at >= " + soqlString(start)
	}
	w := soqlString(wm.UpdatedAt)
	return fmt.Sprintf(":updated_at > %s OR (:updated_at = %s AND :id > %s)", w, w, soqlString(wm.ID))
}

// soqlString quotes s as a SoQL string literal.
func soqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fetch gets the page after wm, retrying while the API is unavailable (see Source.RetryFor).
func (p *puller) fetch(ctx context.Context, wm Watermark, res *PullResult) (page, error) {
	u := p.pageURL(wm)
	var outage time.Time // start of the first failed attempt; zero while none failed
	attempts := 0
	for {
		began := time.Now()
		res.Requests++
		pg, err := p.get(ctx, u, wm)
		err = p.scrub(err)
		if err == nil {
			return pg, nil
		}
		if ctx.Err() != nil {
			return page{}, fmt.Errorf("source %s: %w", p.src.Name, ctx.Err())
		}
		if !retryable(err) {
			return page{}, fmt.Errorf("source %s: %w", p.src.Name, err)
		}
		if outage.IsZero() {
			outage = began
		}
		attempts++
		wait := backoff(p.src.BackoffBase, p.src.BackoffMax, attempts)
		left := p.src.RetryFor - time.Since(outage)
		var se *statusError
		if errors.As(err, &se) && se.retryAfter > wait {
			// The server said when to come back: earlier is pointless, and if that is past
			// the deadline the run ends now rather than sleeping into a certain failure.
			wait = se.retryAfter
			if wait > left {
				left = 0
			}
		}
		if left <= 0 {
			return page{}, &UnavailableError{Source: p.src.Name, URL: redact(u), Since: outage,
				For: time.Since(outage), Attempts: attempts, Last: err}
		}
		wait = min(wait, left)
		res.Retries++
		p.log.Warn("socrata request failed; retrying", "attempt", attempts, "wait", wait.Round(time.Millisecond),
			"left", left.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return page{}, fmt.Errorf("source %s: %w", p.src.Name, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff is the wait before retry k (1-based): random in [d/2, d), d = min(max, base·2^(k-1)).
// Half the wait is jitter, so the pulls of many sources do not retry in step.
func backoff(base, max time.Duration, k int) time.Duration {
	d := base
	for i := 1; i < k && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// transientError is a failure to get an answer at all (refused, reset, DNS, timeout, a body
// cut short or garbled): the API, or the path to it, is down.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var te *transientError
	var se *statusError
	return errors.As(err, &te) || errors.As(err, &se)
}

// get makes one request and checks the answer.
func (p *puller) get(ctx context.Context, u string, wm Watermark) (page, error) {
	shown := redact(u)
	actx, cancel := context.WithTimeout(ctx, p.src.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return page{}, fmt.Errorf("GET %s: %w", shown, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ireports-socrata/1")
	if p.src.AppToken != "" {
		req.Header.Set(tokenHeader, p.src.AppToken)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return page{}, p.transportError(ctx, actx, shown, err)
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
	case s == http.StatusAccepted || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return page{}, &statusError{url: shown, status: s, body: snippet(resp.Body, p.src.AppToken),
			retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return page{}, &RequestError{URL: shown, Status: s, Body: snippet(resp.Body, p.src.AppToken)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return page{}, p.transportError(ctx, actx, shown, err)
	}
	if len(body) > maxPageBytes {
		return page{}, fmt.Errorf("GET %s: page larger than %d bytes; lower page_size: %w", shown, maxPageBytes, ErrBadResponse)
	}
	return parsePage(body, wm, shown, p.src.AppToken)
}

// transportError classifies a failure to get a whole answer. Everything is an outage except
// a certificate the client does not trust, which is a configuration problem.
func (p *puller) transportError(ctx, actx context.Context, shown string, err error) error {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err // its message repeats the URL, unredacted
	}
	if actx.Err() != nil && ctx.Err() == nil {
		return &transientError{fmt.Errorf("GET %s: no answer within %v: %w", shown, p.src.RequestTimeout, err)}
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	return &transientError{fmt.Errorf("GET %s: %w", shown, err)}
}

// sysFields are the system fields every record of a $select=:*,* answer carries.
type sysFields struct {
	ID        *string `json:":id"`
	UpdatedAt *string `json:":updated_at"`
}

// parsePage checks a 200 answer: a JSON array of records with system fields, past wm. secret
// is hidden from the errors that quote the body.
func parsePage(body []byte, wm Watermark, shown, secret string) (page, error) {
	var recs []sysFields
	if err := json.Unmarshal(body, &recs); err != nil {
		// A maintenance page served with 200, or a body cut short: not a page, but not a
		// reason to give up on the source either.
		return page{}, &transientError{fmt.Errorf("GET %s: answer is not a JSON array of records (%v): %s",
			shown, err, snippet(bytes.NewReader(body), secret))}
	}
	for i, r := range recs {
		if r.ID == nil || r.UpdatedAt == nil || *r.ID == "" || *r.UpdatedAt == "" {
			return page{}, fmt.Errorf("GET %s: record %d has no :id or :updated_at; is this a SODA 2.1 endpoint (/resource/xxxx-xxxx.json) honouring $select=:*,*? %w",
				shown, i, ErrBadResponse)
		}
		if strings.IndexByte(*r.ID, 0) >= 0 || strings.IndexByte(*r.UpdatedAt, 0) >= 0 {
			// The watermark is PostgreSQL text, which refuses NUL: say so here rather than
			// let Advance fail with an encoding error after the batch is stored.
			return page{}, fmt.Errorf("GET %s: record %d has a NUL byte in :id or :updated_at: %w", shown, i, ErrBadResponse)
		}
		if (Watermark{UpdatedAt: *r.UpdatedAt, ID: *r.ID}) == wm {
			return page{}, fmt.Errorf("GET %s: record %d is the watermark %v itself: the server ignores the $where keyset: %w",
				shown, i, wm, ErrBadResponse)
		}
	}
	pg := page{body: body, n: len(recs)}
	if pg.n > 0 {
		pg.last = Watermark{UpdatedAt: *recs[pg.n-1].UpdatedAt, ID: *recs[pg.n-1].ID}
	}
	return pg, nil
}

// snippetBytes is how much of a body an error message quotes.
const snippetBytes = 300

// snippet returns the start of a body, on one line, for error messages, with secret (the
// app token, which a server may echo) replaced. It reads len(secret) bytes past the cut, so
// that a token straddling it is replaced whole rather than quoted in part.
func snippet(r io.Reader, secret string) string {
	b, _ := io.ReadAll(io.LimitReader(r, int64(snippetBytes+len(secret))))
	cut := len(b) > snippetBytes
	if secret != "" {
		b = bytes.ReplaceAll(b, []byte(secret), []byte("REDACTED"))
	}
	if len(b) > snippetBytes {
		b = b[:snippetBytes]
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " ")
	if cut || len(b) == snippetBytes {
		s += "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date. Zero when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
