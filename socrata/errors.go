package socrata

import (
	"errors"
	"fmt"
	"time"
)

// Errors callers can test for with errors.Is.
var (
	// ErrSourceUnavailable: the API stayed unavailable for Source.RetryFor. Nothing is lost
	// and the watermark stands after the last stored batch; run again later. The error is an
	// *UnavailableError.
	ErrSourceUnavailable = errors.New("source unavailable")
	// ErrBadSource: an invalid Source; the message names the field.
	ErrBadSource = errors.New("invalid socrata source")
	// ErrRequest: the API refused the request with a 4xx other than 408 and 429 (a bad
	// dataset id, a rejected token, a query it does not support). Retrying cannot help. The
	// error is a *RequestError.
	ErrRequest = errors.New("socrata request refused")
	// ErrBadResponse: the API answered 200 with something Pull cannot page through: records
	// without the system fields :id and :updated_at (an endpoint that is not SODA 2.1), or a
	// page that does not move past the watermark (a server ignoring $where).
	ErrBadResponse = errors.New("unusable socrata response")
	// ErrWatermarkMoved: WatermarkStore.Advance found another watermark than the one this
	// pull started from: another pull of the same source ran at the same time.
	ErrWatermarkMoved = errors.New("watermark moved by another pull")
)

// UnavailableError reports an outage that outlasted Source.RetryFor. It wraps both
// ErrSourceUnavailable and the last failure.
type UnavailableError struct {
	Source   string        // Source.Name
	URL      string        // the last request, without the app token
	Since    time.Time     // first failure of the outage
	For      time.Duration // how long it was retried
	Attempts int           // failed attempts in the outage
	Last     error         // the last failure
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("source %s unavailable: %d attempts over %v since %s failed, last: %v",
		e.Source, e.Attempts, e.For.Round(time.Millisecond), e.Since.Format(time.RFC3339), e.Last)
}

// Unwrap returns ErrSourceUnavailable and the last failure.
func (e *UnavailableError) Unwrap() []error { return []error{ErrSourceUnavailable, e.Last} }

// RequestError is an HTTP answer Pull does not retry. It wraps ErrRequest.
type RequestError struct {
	URL    string // without the app token
	Status int
	Body   string // the start of the response body, where Socrata explains the refusal
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d: %s", e.URL, e.Status, e.Body)
}

// Unwrap returns ErrRequest.
func (e *RequestError) Unwrap() error { return ErrRequest }

// statusError is a retryable HTTP answer (5xx, 408, 429, 202).
type statusError struct {
	url        string
	status     int
	body       string
	retryAfter time.Duration // from Retry-After; 0 when absent
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("GET %s: HTTP %d", e.url, e.status)
	if e.status == 202 {
		s += " (processing)"
	}
	if e.body != "" {
		s += ": " + e.body
	}
	if e.retryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %v)", e.retryAfter)
	}
	return s
}
