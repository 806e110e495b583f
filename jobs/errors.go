package jobs

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Errors returned by this package wrap one of these (test with errors.Is), so
// that the coordinator can classify a failure without parsing messages: every one of them except
// ErrRejected is fatal for a job (a bad spec or schema does not get better by retrying).
var (
	// ErrSpec marks an invalid job file or schema: a syntax error, an unknown attribute, a value
	// out of range. The message carries file:line:column.
	ErrSpec = errors.New("invalid job spec")
	// ErrNoColumns is returned by Schema.Bind when a file's header has none of the candidate
	// columns of a required field (request_id, created_at): the file is not of this schema.
	ErrNoColumns = errors.New("header has no column for a required field")
	// ErrMalformedJSON is returned by ScanSODA when the input is not a JSON array of objects.
	ErrMalformedJSON = errors.New("malformed SODA JSON")
	// ErrRejected is wrapped by every *RejectError: the record cannot be normalized and belongs
	// in the rejects output. It is a property of one record, never of the job.
	ErrRejected = errors.New("record rejected")
	// ErrDialect is returned when a time column's dialect cannot be detected from a file's
	// first values: none is a timestamp, or they need two dialects. The message names the
	// field, the column and example values.
	ErrDialect = errors.New("cannot detect the time dialect")
	// ErrNoDialect is returned by Bind for a schema with an "auto" time field whose
	// file's dialect was not detected first (Detector, WithDialects).
	ErrNoDialect = errors.New("time dialect not detected")
	// ErrWrongBinding is returned when a Normalizer made by BindJSON is given CSV fields or
	// one made by Bind is given JSON: a programming error in the caller.
	ErrWrongBinding = errors.New("normalizer used with the wrong input format")
)

// Reject reasons: stable snake_case codes, written to the rejects output and counted in job
// statistics. Never rename one; add new ones instead.
const (
	ReasonFieldCount       = "field_count"        // the record has a different number of fields than the header
	ReasonMissingRequestID = "missing_request_id" // request_id is null
	ReasonMissingCreatedAt = "missing_created_at" // created_at is null
	ReasonBadTimestamp     = "bad_timestamp"      // a time field matches none of its layouts
	ReasonBadCoordinate    = "bad_coordinate"     // latitude, longitude or point is not a number/point
	ReasonInvalidUTF8      = "invalid_utf8"       // a kept text field is not valid UTF-8
	ReasonNULByte          = "nul_byte"           // a kept text field holds a NUL byte, which PostgreSQL text refuses
	ReasonBadJSON          = "bad_json"           // a SODA object is not a JSON object of values, or a field but point holds an object or array
	// created_at falls, in the city's calendar, before MinYear or after MaxYear (closed_at or
	// updated_at, in UTC): a request made in year 1 or 9999 is an export's placeholder or
	// typo, not a date; kept, it would make a partition of its own and stretch every chart's
	// default period over millennia (and before year 1 PostgreSQL's calendar has no year 0
	// for agency_daily).
	ReasonTimeOutOfRange = "time_out_of_range"
	// agency or request_type is longer than MaxKeyText bytes: the two are keys of the summary
	// tables, and PostgreSQL's b-tree index entries hold at most about 2.7 KB, so one such
	// value would fail the publish. Or another kept text field (request_id, status,
	// request_subtype, zip, neighborhood, channel) is longer than MaxText bytes: a record
	// crosses the shuffle as one row of at most 16 MiB, and one of the split reader's 16 MiB
	// records kept nearly whole, with the city added, would fail its map task every time.
	ReasonValueTooLong = "value_too_long"
	// created_at is a local wall clock the city's clocks skipped (summer time began at
	// midnight on the first of a month: America/Asuncion on 2017-10-01), and the instant
	// time.Date reads it as falls in another month: the record's month and its local day
	// would disagree, and its agency_daily row would lie outside its group, which fails the
	// publish. A skipped wall clock that stays in its month is kept, read as before.
	ReasonSkippedLocalTime = "skipped_local_time"
	// created_at is the Unix epoch, 1970-01-01T00:00:00Z, to the microsecond: what exports
	// write for an unknown date ("0"), and the value the shuffle's row encoding reserves for
	// null. Kept, the record would reach its reducer with no creation date: its agency_daily
	// row would fall in year 0, outside its group, and fail the publish.
	ReasonEpochTime = "epoch_time"
)

// MinYear and MaxYear bound created_at's local year, and closed_at's and updated_at's UTC
// year (ReasonTimeOutOfRange): the first 311 systems date from the 1990s, and the viz
// server's periods span the same years.
const (
	MinYear = 1900
	MaxYear = 2199
)

// minYearSec and afterMaxYearSec bound closed_at and updated_at, as instants: from the first
// of MinYear to the end of MaxYear, in UTC.
var (
	minYearSec      = time.Date(MinYear, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	afterMaxYearSec = time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// MaxKeyText is the longest agency or request_type a record may have, in bytes: with the
// city and each other, they make request_monthly's primary-key entries, which PostgreSQL
// limits to 2,704 bytes. Real exports' longest are under 100.
const MaxKeyText = 1000

// MaxText is the longest value of any other kept text field, in bytes: a record's kept text
// then stays well under the shuffle's 16 MiB row. Real exports' longest are a few KB.
const MaxText = 1 << 20

// maxRejectValue bounds RejectError.Value: a rejects file must not balloon on a huge field.
const maxRejectValue = 256

// RejectError describes why one record cannot be normalized. It wraps ErrRejected.
type RejectError struct {
	Reason string // one of the Reason* codes
	Field  string // the normalized field ("created_at"), empty for record-level reasons
	Column string // the source column or JSON key the value came from, if any
	Value  string // the offending raw value, truncated to 256 bytes and made valid UTF-8
}

func (e *RejectError) Error() string {
	var b strings.Builder
	b.WriteString(e.Reason)
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %s", e.Field)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, " (column %q)", e.Column)
	}
	if e.Value != "" {
		fmt.Fprintf(&b, ": value %q", e.Value)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrRejected) true for every reject.
func (e *RejectError) Unwrap() error { return ErrRejected }

// reject builds a RejectError, copying (and bounding) the raw value: the caller's bytes belong to
// a reader buffer that will be overwritten.
func reject(reason string, f fieldID, column string, value []byte) *RejectError {
	e := &RejectError{Reason: reason, Column: column}
	if f < numFields {
		e.Field = fieldNames[f]
	}
	if len(value) > maxRejectValue {
		value = value[:maxRejectValue]
	}
	if utf8.Valid(value) {
		e.Value = string(value)
	} else {
		e.Value = strings.ToValidUTF8(string(value), "\uFFFD")
	}
	return e
}
