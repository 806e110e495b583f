package csvsplit

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

const (
	// maxBufSize is the largest buffer a split starts with, and so the most one read
	// copies in: small enough that those bytes are still in the L2 cache when the
	// scan reads them (1 MiB, which is not, cost 3 % of the NYC SODA read).
	maxBufSize = 128 << 10
	minBufSize = 4 << 10
	readChunk  = 64 << 10 // room kept for reads while skipping a too-large record
	maxEmpty   = 100      // consecutive (0, nil) reads tolerated before io.ErrNoProgress
	maxBackoff = 255      // the most records scanned without scanFast before it is tried again
)

// Record is one record of a split.
type Record struct {
	Offset int64    // file offset of the record's first byte
	Fields [][]byte // the fields, unescaped; nil for a malformed record; valid until the next Next
	Raw    []byte   // the record's bytes without its terminator, truncated if too large; valid until the next Next
	Err    error    // nil, or a *ParseError (matching ErrMalformed) for a malformed record

	span int64 // for a record read again from a malformed span of lines, 1 + the span's offset
}

// Reader reads the records of one split. It is not safe for concurrent use.
type Reader struct {
	src io.Reader
	opt Options

	// buf[:w] holds bytes read from src; buf[i] is at file offset off+i. While a
	// too-large record is skipped, buf[:MaxRecordBytes] is frozen (its truncated raw
	// bytes) and the mapping holds only above it.
	buf  []byte
	off  int64
	w    int
	pos  int  // next byte to scan; once started, the start of the next record
	eof  bool // src returned io.EOF
	rerr error

	parity  int   // '"' bytes of [Start, counted), mod 2
	counted int64 // file offset up to which parity counts the quotes of [Start, End)
	assumed State
	started bool
	done    bool

	rec     Record
	fields  [][]byte
	cols    []int32 // Options.Columns, sorted and without repeats; nil for all
	ends    []int32 // scanFast's field ends
	scratch []byte  // unescaped quoted fields of the current record
	mode    scanMode

	skipFast int // records to scan without scanFast
	backoff  int // skipFast after the next record scanFast finds not simple

	// recovered holds the records read again from a malformed span of lines (recoverLines);
	// Next returns recovered[nrec:] before it scans on. They alias buf, which does not move
	// until then.
	recovered []Record
	nrec      int
}

// scanMode says how a Reader finds and splits records; only tests change it.
type scanMode uint8

const (
	scanAdaptive scanMode = iota // scanFast, skipped for a while after records it cannot split
	scanSlowOnly                 // recordEnd and parse only
	scanFastOnly                 // scanFast for every record, without skipping
)

// NewReader returns a Reader of the split opt describes. src yields the file's bytes
// from offset Start-1 when Start > DataStart, else from Start, and may run to EOF.
// NewReader does no I/O; the first call to Next speculates when opt.State is Unknown.
func NewReader(src io.Reader, opt Options) (*Reader, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	// A split only needs its own bytes plus the lookahead in the common case; a small
	// split must not pay for a full-size read of a source that runs to EOF.
	size := int64(maxBufSize)
	if want := opt.End - opt.Start + int64(opt.Lookahead) + 2; want < size {
		size = max(want, minBufSize)
	}
	return newReader(src, opt, int(size)), nil
}

func newReader(src io.Reader, opt Options, size int) *Reader {
	r := &Reader{src: src, opt: opt, buf: make([]byte, size), off: opt.Start, counted: opt.Start}
	if opt.Columns != nil {
		r.cols = make([]int32, len(opt.Columns))
		for i, c := range opt.Columns {
			r.cols[i] = int32(c) // withDefaults checked the range
		}
		slices.Sort(r.cols)
		r.cols = slices.Compact(r.cols)
	}
	if opt.Start > opt.DataStart {
		r.off = opt.Start - 1
	}
	return r
}

// Assumed returns the quote state the Reader assumed at Start: the known state, or the
// speculated one. It is valid after the first call to Next.
func (r *Reader) Assumed() State { return r.assumed }

// Parity returns the number of '"' bytes in [Start, End) mod 2. It is valid after Next
// has returned io.EOF.
func (r *Reader) Parity() int { return r.parity }

// Next returns the split's next record. At the end of the split it returns io.EOF; any
// other error is an I/O error of the source, after which the split must be read again.
// A malformed record is not an error of Next: it comes back with Record.Err set.
func (r *Reader) Next() (*Record, error) {
	if !r.started {
		r.start()
	}
	if r.nrec < len(r.recovered) {
		r.nrec++
		return &r.recovered[r.nrec-1], nil
	}
	for !r.done && r.rerr == nil {
		if r.pos == r.w && r.off+int64(r.pos) < r.opt.End {
			r.fill(r.pos, 0)
		}
		if r.pos == r.w || r.off+int64(r.pos) >= r.opt.End {
			r.finish()
			break
		}
		if r.scanRecord() {
			return &r.rec, nil
		}
	}
	if r.rerr != nil {
		return nil, r.rerr
	}
	return nil, io.EOF
}

// start reads the byte before Start, settles the state at Start and moves to the
// split's first record start.
func (r *Reader) start() {
	r.started = true
	o := &r.opt
	r.assumed = o.State
	prevNL := true // at DataStart a record starts, whatever precedes it
	if o.Start > o.DataStart {
		for r.w < 1 && r.fill(0, 0) {
		}
		if r.w < 1 { // the file ends before Start
			r.setDone(Outside)
			return
		}
		prevNL = r.buf[0] == '\n'
		r.pos = 1
	} else {
		r.assumed = Outside
	}
	if o.Start >= o.End {
		// Nothing to read, so nothing to guess from; Chain flags the rare wrong guess.
		r.setDone(Outside)
		return
	}
	if r.assumed == Unknown {
		r.assumed = r.speculate(prevNL)
	}
	// The byte before Start is '"' or lies in the same state as Start, so Start is a
	// record start iff it follows a '\n' outside quotes.
	if r.assumed == Outside && prevNL {
		return
	}
	if !r.skipToRecord(r.assumed == Inside) {
		r.finish()
	}
}

func (r *Reader) setDone(s State) {
	if r.assumed == Unknown {
		r.assumed = s
	}
	r.finish()
}

// finish reads the rest of [Start, End), so that Parity counts every byte of it even
// when no record starts in it, and marks the split done.
func (r *Reader) finish() {
	for r.off+int64(r.w) < r.opt.End && r.fill(r.w, 0) {
	}
	r.countTo(r.w)
	r.done = true
}

// fill moves buf[keep:w] down to buf[base:] (and pos with it), grows the buffer if
// that leaves no room, and reads once from src. It reports whether it read anything.
func (r *Reader) fill(keep, base int) (more bool) {
	if r.eof || r.rerr != nil {
		return false
	}
	if keep > base {
		r.countTo(keep)
		n := copy(r.buf[base:], r.buf[keep:r.w])
		r.off += int64(keep - base)
		r.w = base + n
		r.pos -= keep - base
	}
	if r.w == len(r.buf) {
		// Full of bytes still needed: a record or the lookahead window, both
		// bounded, so the buffer stays within its limit.
		limit := max(r.opt.MaxRecordBytes+2, r.opt.Lookahead+2) + readChunk
		n := min(2*len(r.buf), limit)
		if n <= len(r.buf) {
			n = len(r.buf) + readChunk
		}
		r.grow(n)
	}
	for empty := 0; ; empty++ {
		n, err := r.src.Read(r.buf[r.w:])
		if n > 0 {
			r.w += n
		}
		if err == io.EOF {
			r.eof = true
			return n > 0
		}
		if err != nil {
			r.rerr = fmt.Errorf("csvsplit: read at byte %d of %s: %w", r.off+int64(r.w), splitText(r.opt.Start, r.opt.End), err)
			return false
		}
		if n > 0 {
			return true
		}
		if empty == maxEmpty {
			r.rerr = fmt.Errorf("csvsplit: read at byte %d of %s: %w", r.off+int64(r.w), splitText(r.opt.Start, r.opt.End), io.ErrNoProgress)
			return false
		}
	}
}

// grow enlarges the buffer to n bytes, keeping buf[:w].
func (r *Reader) grow(n int) {
	if n <= len(r.buf) {
		return
	}
	b := make([]byte, n)
	copy(b, r.buf[:r.w])
	r.buf = b
}

// countTo adds the quotes of buf[:j] that lie in [counted, End) to the split's parity
// and moves counted past them. Every byte of [Start, End) is counted once: fill counts
// the bytes it drops, finish the rest, and so the bytes that no record scan visits (the
// skipped head of the split, a record that runs past End) count too. A record with its
// terminator holds an even number of quotes, so scanRecord moves counted past one without
// counting: most bytes of a split are never counted at all.
func (r *Reader) countTo(j int) {
	if hi := min(r.opt.End, r.off+int64(j)); r.counted < hi {
		r.parity ^= bytes.Count(r.buf[r.counted-r.off:hi-r.off], quote) & 1
	}
	r.counted = max(r.counted, r.off+int64(j))
}

var quote = []byte{'"'}

// recordEnd looks for the '\n' that ends a record: the first one at which the quotes
// counted so far (q, before data, plus those in data before it) are even. It returns
// its index, or -1 if data has none; the updated count (all of data's quotes when
// -1); and whether it passed a '\n' inside quotes.
func recordEnd(data []byte, q int) (end, qOut int, multi bool) {
	i := 0
	for {
		k := bytes.IndexByte(data[i:], '\n')
		if k < 0 {
			return -1, q + bytes.Count(data[i:], quote), multi
		}
		q += bytes.Count(data[i:i+k], quote)
		if q&1 == 0 {
			return i + k, q, multi
		}
		multi = true
		i += k + 1
	}
}

// skipToRecord moves pos to the first record start after it, given whether pos lies
// inside quotes. Only a '\n' before End-1 matters: one later would start a record at
// or after End, in the next split. It reports whether it found one.
func (r *Reader) skipToRecord(inside bool) bool {
	limit := r.opt.End - 1
	for {
		lim := r.w
		if l := limit - r.off; l < int64(lim) {
			lim = int(max(l, 0))
		}
		if r.pos >= lim {
			if r.off+int64(r.w) >= limit || !r.fill(r.pos, 0) {
				return false
			}
			continue
		}
		data := r.buf[r.pos:lim]
		k := bytes.IndexByte(data, '\n')
		if k < 0 {
			if bytes.Count(data, quote)&1 == 1 {
				inside = !inside
			}
			r.pos = lim
			continue
		}
		if bytes.Count(data[:k], quote)&1 == 1 {
			inside = !inside
		}
		r.pos += k + 1
		if !inside {
			return true
		}
	}
}

// scanRecord reads the record that starts at pos into r.rec and moves pos past its
// terminator. It reports false for an empty line, which is not a record, and when
// the source failed.
func (r *Reader) scanRecord() bool {
	max := r.opt.MaxRecordBytes
	recOff := r.off + int64(r.pos)
	s, i := r.pos, r.pos // record start and scan position
	q, multi, big := 0, false, false
	var end int
	var last byte // while big: the byte before buf[max], which the frozen prefix hides
	found, parsed := false, false
	if fastScan && r.mode != scanSlowOnly {
		if r.skipFast > 0 {
			r.skipFast--
		} else if k, ok := r.scanFast(r.buf[s:r.w]); k >= 0 {
			// Only a record that ends inside the buffer; one that does not is rare
			// with a buffer of a thousand records, and the loop below handles it.
			found, end, parsed = true, s+k, ok
			r.pos = end + 1
			if parsed {
				r.backoff = 0
			} else {
				if r.mode == scanAdaptive {
					// A file whose records are not simple (Chicago's SODA
					// export escapes quotes in every record) would pay for
					// both scans: after each such record, skip scanFast for
					// twice as many.
					r.backoff = min(2*r.backoff+1, maxBackoff)
					r.skipFast = r.backoff
				}
				// Every '\n' before the terminator lies inside quotes.
				q = bytes.Count(r.buf[s:end], quote)
				multi = bytes.IndexByte(r.buf[s:end], '\n') >= 0
			}
		}
	}
	for !found {
		k, q2, m := recordEnd(r.buf[i:r.w], q)
		q, multi = q2, multi || m
		if k >= 0 {
			end = i + k
			r.pos = end + 1
			found = !big // a big record's bytes, counted when it became big, are gone
			break
		}
		i = r.w
		if r.eof {
			end, r.pos = i, i
			break
		}
		if !big && i-s > max+1 {
			// Too large even if its last byte is the '\r' of a terminator: keep its
			// first max bytes as the raw record in buf[:max], and scan the rest
			// through buf[max:] without holding it.
			big = true
			last = r.buf[i-1]
			r.countTo(i) // the bytes of the mapping that the frozen prefix replaces
			copy(r.buf, r.buf[s:s+max])
			r.off += int64(i - max) // buf[max] now stands for the next unread byte
			r.w, i = max, max
			if len(r.buf) < max+readChunk {
				r.grow(max + readChunk)
			}
		}
		if big {
			if i > max {
				last = r.buf[i-1]
			}
			r.pos = i
			r.fill(i, max) // keeps nothing but the frozen prefix
			i = r.pos
		} else {
			r.pos = s
			r.fill(s, 0) // moves the record to buf[0]
			i -= s - r.pos
			s = r.pos
		}
		if r.rerr != nil {
			return false
		}
	}

	if found {
		// The record and its terminator hold an even number of quotes.
		if r.counted < recOff {
			r.countTo(s)
		}
		if r.counted == recOff && r.off+int64(r.pos) <= r.opt.End {
			r.counted = r.off + int64(r.pos)
		}
	}

	r.rec = Record{Offset: recOff}
	var raw []byte
	var size int64 // the record's full length, without its terminator
	if big {
		raw = r.buf[:max:max]
		size = r.off + int64(end) - recOff
		if end > max {
			last = r.buf[end-1]
		}
		if last == '\r' {
			size--
		}
	} else {
		raw = r.buf[s:end:end]
		if n := len(raw); n > 0 && raw[n-1] == '\r' {
			raw = raw[: n-1 : n-1]
		}
		if len(raw) == 0 {
			return false
		}
	}
	if !big {
		size = int64(len(raw))
	}
	if big || len(raw) > max {
		r.rec.Raw = raw[:max:max]
		r.rec.Err = &ParseError{Record: recOff, Offset: recOff + int64(max), Err: ErrTooLarge, Size: size}
		return true
	}
	r.rec.Raw = raw
	if parsed {
		r.rec.Fields = r.fields
		return true
	}
	if kind, at := r.parse(raw, q, multi); kind != nil {
		if multi && r.recoverLines(raw, recOff) {
			r.nrec = 1
			r.rec = r.recovered[0]
			return true
		}
		r.rec.Err = &ParseError{Record: recOff, Offset: recOff + int64(at), Err: kind}
		return true
	}
	r.rec.Fields = r.fields
	return true
}

// recoverLines reads span, a malformed record of several lines at file offset off, again
// the way encoding/csv reads a file, into r.recovered: one stray quote in an unquoted field
// (`12" water main`) opens a quoted region by the parity rule, which then runs to the next
// stray quote, thousands of lines on, and the whole span was one reject while the records
// in it were lost. encoding/csv rejects the line with the bare quote and goes on at the
// next: so does this, each line it refuses a malformed Record of its own, each it reads a
// Record. The span's bytes are all this split's (the next split starts inside it, by the
// parity rule, and skips it), so the records of all splits stay exactly the file's. It
// reports false, and the span stays one malformed record, when encoding/csv reads it as
// one record too.
func (r *Reader) recoverLines(span []byte, off int64) bool {
	cr := csv.NewReader(bytes.NewReader(span))
	cr.FieldsPerRecord = -1 // the field count is the caller's to judge, as for every record
	r.recovered, r.nrec = r.recovered[:0], 0
	var lines []int // the offsets in span of its lines' starts, computed when an error needs them
	prev := int64(0)
	for {
		fields, err := cr.Read()
		if err == io.EOF {
			break
		}
		end := int(cr.InputOffset())
		start := int(prev)
		prev = int64(end)
		for { // empty lines, which encoding/csv skips
			if start < end && span[start] == '\n' {
				start++
			} else if start+1 < end && span[start] == '\r' && span[start+1] == '\n' {
				start += 2
			} else {
				break
			}
		}
		raw := span[start:end]
		if n := len(raw); n > 0 && raw[n-1] == '\n' {
			raw = raw[:n-1]
			if n > 1 && raw[n-2] == '\r' {
				raw = raw[:n-2]
			}
		}
		rec := Record{Offset: off + int64(start), Raw: raw[:len(raw):len(raw)], span: off + 1}
		var pe *csv.ParseError
		switch {
		case err == nil:
			rec.Fields = make([][]byte, len(fields))
			for i, f := range fields {
				rec.Fields[i] = []byte(f)
			}
		case errors.As(err, &pe):
			if lines == nil {
				lines = append(lines, 0)
				for i, c := range span {
					if c == '\n' {
						lines = append(lines, i+1)
					}
				}
			}
			at := int64(start)
			if pe.Line >= 1 && pe.Line <= len(lines) {
				at = int64(lines[pe.Line-1] + max(pe.Column-1, 0))
			}
			kind := ErrQuote
			if errors.Is(pe.Err, csv.ErrBareQuote) {
				kind = ErrBareQuote
			}
			rec.Err = &ParseError{Record: rec.Offset, Offset: off + at, Err: kind}
		default: // encoding/csv reads from memory: no other error
			r.recovered = r.recovered[:0]
			return false
		}
		r.recovered = append(r.recovered, rec)
	}
	if len(r.recovered) < 2 {
		r.recovered = r.recovered[:0]
		return false
	}
	return true
}

// parse splits rec, a non-empty record without its terminator, into r.fields the way
// encoding/csv does. quotes is rec's quote count and multi whether it spans lines:
// most records have no quotes, and only a multi-line one can hold "\r\n". On a
// malformed record it returns the problem and its index in rec.
func (r *Reader) parse(rec []byte, quotes int, multi bool) (kind error, at int) {
	r.fields = r.fields[:0]
	r.scratch = r.scratch[:0]
	if quotes == 0 {
		// Fields average a dozen bytes: a plain loop beats a call to IndexByte each.
		st := 0
		for j, c := range rec {
			if c == ',' {
				r.fields = append(r.fields, rec[st:j:j])
				st = j + 1
			}
		}
		r.fields = append(r.fields, rec[st:len(rec):len(rec)])
		return nil, 0
	}
	crlf := multi && bytes.IndexByte(rec, '\r') >= 0
	i := 0
	for {
		if i < len(rec) && rec[i] == '"' {
			j := i + 1 // past the opening quote
			k := j
			escaped := false
			for {
				n := bytes.IndexByte(rec[k:], '"')
				if n < 0 {
					// Only a record that runs to EOF can end inside quotes.
					return ErrUnterminated, i
				}
				k += n
				if k+1 < len(rec) && rec[k+1] == '"' {
					escaped = true
					k += 2
					continue
				}
				break
			}
			f := rec[j:k:k]
			if escaped || crlf && bytes.Contains(f, crlfBytes) {
				f = r.unescape(f)
			}
			r.fields = append(r.fields, f)
			k++ // past the closing quote
			if k == len(rec) {
				return nil, 0
			}
			if rec[k] != ',' {
				return ErrQuote, k
			}
			i = k + 1
			continue
		}
		j := i
		for j < len(rec) && rec[j] != ',' && rec[j] != '"' {
			j++
		}
		if j < len(rec) && rec[j] == '"' {
			return ErrBareQuote, j
		}
		r.fields = append(r.fields, rec[i:j:j])
		if j == len(rec) {
			return nil, 0
		}
		i = j + 1
	}
}

var crlfBytes = []byte("\r\n")

// unescape appends the content of a quoted field to r.scratch with `""` turned into
// `"` and "\r\n" into "\n" (encoding/csv normalizes every line end it reads), and
// returns it. f holds quotes only in pairs.
func (r *Reader) unescape(f []byte) []byte {
	start := len(r.scratch)
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '"':
			i++
		case c == '\r' && i+1 < len(f) && f[i+1] == '\n':
			continue
		}
		r.scratch = append(r.scratch, c)
	}
	return r.scratch[start:len(r.scratch):len(r.scratch)]
}

// speculate returns the state at Start that explains the lookahead window better: the
// one under which more complete records parse cleanly with the header's field count.
// A tie goes to the state that leaves the file outside quotes when the window reaches
// EOF, else to Outside.
func (r *Reader) speculate(prevNL bool) State {
	for r.w-r.pos < r.opt.Lookahead && r.fill(r.pos, 0) {
	}
	win := r.buf[r.pos:min(r.w, r.pos+r.opt.Lookahead)]
	atEOF := r.eof && r.pos+len(win) == r.w
	out := r.score(win, atEOF, Outside, prevNL)
	in := r.score(win, atEOF, Inside, prevNL)
	switch {
	case in > out:
		return Inside
	case in == out && atEOF && bytes.Count(win, quote)&1 == 1:
		// A tail too short to hold a record still decides: a file ends outside
		// quotes, so the window's quotes must be odd exactly when it starts inside.
		return Inside
	}
	return Outside
}

// score counts the complete records of win that parse cleanly with the expected field
// count when the state at win[0] is s.
func (r *Reader) score(win []byte, atEOF bool, s State, prevNL bool) int {
	i := 0
	if s != Outside || !prevNL {
		inside := s == Inside
		for {
			k := bytes.IndexByte(win[i:], '\n')
			if k < 0 {
				return 0
			}
			if bytes.Count(win[i:i+k], quote)&1 == 1 {
				inside = !inside
			}
			i += k + 1
			if !inside {
				break
			}
		}
	}
	n := 0
	for i < len(win) {
		k, q, multi := recordEnd(win[i:], 0)
		end := i + k
		if k < 0 {
			if !atEOF {
				break
			}
			end = len(win)
		}
		rec := win[i:end]
		i = end + 1
		if l := len(rec); l > 0 && rec[l-1] == '\r' {
			rec = rec[:l-1]
		}
		if len(rec) == 0 || len(rec) > r.opt.MaxRecordBytes {
			continue
		}
		if kind, _ := r.parse(rec, q, multi); kind == nil && (r.opt.Fields == 0 || len(r.fields) == r.opt.Fields) {
			n++
		}
	}
	return n
}

var bom = []byte("\xef\xbb\xbf")

// bareCR returns the index of the first '\r' outside quotes in the record raw (without its
// terminator) that is not its last byte, or -1.
func bareCR(raw []byte) int {
	quoted := false
	for i, c := range raw[:max(len(raw)-1, 0)] {
		switch c {
		case '"':
			quoted = !quoted
		case '\r':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// ReadHeader reads the first record of a file from r, which starts at file offset 0.
// The record may contain quoted newlines; leading empty lines are skipped, as
// encoding/csv skips them, and a UTF-8 byte order mark is not part of the first
// column's name. It returns the column names and the offset just past the header's
// terminator: the DataStart of the file's splits. r may be read past the header. A header
// with a carriage return outside quotes that more of it follows is ErrBareCR: the file's
// lines end with a lone '\r', which no record of this package ends at.
func ReadHeader(r io.Reader) (cols []string, dataStart int64, err error) {
	var head [3]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, 0, fmt.Errorf("csvsplit: header: %w", err)
	}
	var start int64
	src := r
	if n == 3 && bytes.Equal(head[:], bom) {
		start = 3
	} else {
		src = io.MultiReader(bytes.NewReader(head[:n]), r)
	}
	opt, _ := Options{Start: start, DataStart: start, End: math.MaxInt64, State: Outside}.withDefaults()
	rd := newReader(src, opt, readChunk)
	rec, err := rd.Next()
	if err == io.EOF {
		return nil, 0, fmt.Errorf("csvsplit: header: %w", ErrNoHeader)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("csvsplit: header: %w", err)
	}
	// Before rec.Err: lines joined at lone CRs may make a record too large or malformed.
	if i := bareCR(rec.Raw); i >= 0 {
		return nil, 0, fmt.Errorf("csvsplit: header: byte %d: %w", rec.Offset+int64(i), ErrBareCR)
	}
	if rec.Err != nil {
		return nil, 0, fmt.Errorf("csvsplit: header: %w", rec.Err)
	}
	cols = make([]string, len(rec.Fields))
	for i, f := range rec.Fields {
		cols[i] = string(f)
	}
	return cols, rd.off + int64(rd.pos), nil
}
