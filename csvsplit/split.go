package csvsplit

import (
	"errors"
	"fmt"
	"math"
)

// State is the quote state at a byte offset of a CSV file.
type State uint8

// The states. Unknown is the zero value so that a zero Options speculates instead of
// silently assuming Outside.
const (
	Unknown State = iota
	Outside
	Inside
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Outside:
		return "outside"
	case Inside:
		return "inside"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// after returns the state that follows s across a run of bytes holding parity quotes
// (mod 2). Unknown stays Unknown.
func (s State) after(parity int) State {
	if parity&1 == 0 {
		return s
	}
	switch s {
	case Outside:
		return Inside
	case Inside:
		return Outside
	}
	return s
}

// Defaults applied by NewReader to zero Options fields.
const (
	DefaultLookahead      = 64 << 10 // bytes
	DefaultMaxRecordBytes = 16 << 20 // bytes
)

// ToEOF is Options.End of a split that runs to the end of its file.
const ToEOF int64 = 1 << 62

// splitText names the split [start, end) in messages, "to EOF" for an End of ToEOF.
func splitText(start, end int64) string {
	if end >= ToEOF {
		return fmt.Sprintf("split from byte %d to EOF", start)
	}
	return fmt.Sprintf("split [%d, %d)", start, end)
}

// Options describe one split. Offsets are byte offsets in the file.
type Options struct {
	// Start and End delimit the split: it holds the records whose first byte lies in
	// [Start, End). DataStart <= Start <= End. End is ToEOF for a split that runs to the
	// end of its file, however long (a gzip stream, which is read whole).
	Start, End int64

	// DataStart is the offset of the first data record, as returned by ReadHeader. A
	// split that starts there starts on a record boundary, in state Outside.
	DataStart int64

	// State is the quote state at Start if the caller knows it (from Chain), or
	// Unknown to let the Reader speculate. It must not be Inside when Start equals
	// DataStart.
	State State

	// Fields is the header's field count; speculation prefers the state whose records
	// have it. Zero means any count.
	Fields int

	// Lookahead is the speculation window after Start, in bytes. Zero means
	// DefaultLookahead.
	Lookahead int

	// MaxRecordBytes bounds one record (without its terminator), in bytes. A longer
	// record is returned as malformed with ErrTooLarge (a *ParseError whose Size is its
	// full length) and its raw bytes truncated to this length. Zero means
	// DefaultMaxRecordBytes.
	MaxRecordBytes int

	// Columns lists the fields, by index, that the caller reads of each record; nil
	// means all. With it, Record.Fields still has one entry per field of the record,
	// but an entry not listed may hold nil or stale bytes rather than its field: the
	// Reader need not cut out and unquote fields nobody reads (a 311 export has two
	// or three times the columns a schema maps).
	Columns []int
}

// withDefaults validates o and fills in its zero fields.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.DataStart < 0:
		return o, fmt.Errorf("%w: DataStart %d is negative", ErrOptions, o.DataStart)
	case o.Start < o.DataStart:
		return o, fmt.Errorf("%w: Start %d is before DataStart %d", ErrOptions, o.Start, o.DataStart)
	case o.End < o.Start:
		return o, fmt.Errorf("%w: End %d is before Start %d", ErrOptions, o.End, o.Start)
	case o.State > Inside:
		return o, fmt.Errorf("%w: %v", ErrOptions, o.State)
	case o.State == Inside && o.Start == o.DataStart:
		return o, fmt.Errorf("%w: State inside at DataStart %d, where records begin outside quotes", ErrOptions, o.Start)
	case o.Fields < 0:
		return o, fmt.Errorf("%w: Fields %d is negative", ErrOptions, o.Fields)
	case o.Lookahead < 0:
		return o, fmt.Errorf("%w: Lookahead %d is negative", ErrOptions, o.Lookahead)
	case o.MaxRecordBytes < 0:
		return o, fmt.Errorf("%w: MaxRecordBytes %d is negative", ErrOptions, o.MaxRecordBytes)
	}
	for _, c := range o.Columns {
		if c < 0 || c > math.MaxInt32 {
			return o, fmt.Errorf("%w: column %d is out of range", ErrOptions, c)
		}
	}
	if o.Lookahead == 0 {
		o.Lookahead = DefaultLookahead
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	return o, nil
}

// Errors. A malformed record's Record.Err is a *ParseError that matches both
// ErrMalformed and the sentinel naming the problem (ErrBareQuote, ErrQuote,
// ErrUnterminated or ErrTooLarge).
var (
	// ErrMalformed matches every malformed record: the caller counts it as a reject.
	ErrMalformed = errors.New("malformed record")
	// ErrBareQuote: a '"' inside a field that does not begin with one.
	ErrBareQuote = errors.New(`bare " in non-quoted field`)
	// ErrQuote: a closing '"' followed by something other than ',' or the record's end.
	ErrQuote = errors.New(`extraneous or missing " in quoted field`)
	// ErrUnterminated: a quoted field still open at EOF.
	ErrUnterminated = errors.New("quoted field not closed before end of file")
	// ErrTooLarge: a record longer than Options.MaxRecordBytes.
	ErrTooLarge = errors.New("record too large")
	// ErrNoHeader: ReadHeader found no record, only empty lines or nothing at all.
	ErrNoHeader = errors.New("no header record")
	// ErrBareCR: ReadHeader found a carriage return outside quotes with more of the
	// record after it. Records end at '\n' (an "\r\n" counts as one), so a file whose
	// lines end with a lone '\r' (Excel's "CSV (Macintosh)") reads as one header record
	// holding every line, and no data.
	ErrBareCR = errors.New("lines end with a bare CR (classic Mac line endings); convert them to LF or CRLF")
	// ErrOptions: NewReader was given inconsistent Options.
	ErrOptions = errors.New("invalid split options")
)

// ParseError describes a malformed record.
type ParseError struct {
	Record int64 // file offset of the record's first byte
	Offset int64 // file offset of the byte where the problem shows
	Err    error // ErrBareQuote, ErrQuote, ErrUnterminated or ErrTooLarge
	// Size is, for ErrTooLarge, the record's full length without its terminator, which
	// the Reader counts without holding the record (Record.Raw keeps MaxRecordBytes of it).
	Size int64
}

func (e *ParseError) Error() string {
	if e.Size > 0 {
		return fmt.Sprintf("csv record at byte %d: %v at byte %d (%d bytes in all)", e.Record, e.Err, e.Offset, e.Size)
	}
	return fmt.Sprintf("csv record at byte %d: %v at byte %d", e.Record, e.Err, e.Offset)
}

// Unwrap lets errors.Is match both ErrMalformed and the specific sentinel.
func (e *ParseError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Chain checks the speculation of a file's splits. assumed[i] and parity[i] are split
// i's Assumed and Parity, in file order; split 0 starts at DataStart, where the state
// is Outside. The true state of split i+1 is that of split i flipped when parity[i] is
// odd. Chain returns the true states and the indexes of the splits whose assumed state
// was wrong (or Unknown): those must be read again with Options.State set to their
// true state, and their first reading discarded. A missing parity counts as even.
func Chain(assumed []State, parity []int) (truth []State, rerun []int) {
	truth = make([]State, len(assumed))
	s := Outside
	for i, a := range assumed {
		truth[i] = s
		if a != s {
			rerun = append(rerun, i)
		}
		if i < len(parity) {
			s = s.after(parity[i])
		}
	}
	return truth, rerun
}
