package jobs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ireports/ireports/record"
)

// Normalizer turns the records of one source file into record.Requests. Make one with
// Schema.Bind (CSV) or Schema.BindJSON (SODA JSON) per file and per goroutine: binding is cheap,
// and a Normalizer is not safe for concurrent use (it keeps intern tables and scratch space).
type Normalizer struct {
	schema *Schema
	city   string
	loc    *time.Location

	ncols   int                 // CSV header width; -1 for a JSON normalizer
	col     [numFields]int      // CSV: column index per field, -1 when the field is unmapped or absent
	colName [numFields]string   // CSV: the bound column's name, for rejects
	keys    map[string][]keyRef // JSON: candidate key -> fields it feeds, with the key's rank
	keyTab  *keyTable           // JSON: keys, for NormalizeJSON's lookups
	cands   [numFields][]string // JSON: candidate keys per field in rank order
	layouts [numFields][]timeLayout

	nulls        []string
	status       map[string]record.Status // keyed by ASCII-lower-cased raw status
	placeholders [][2]float64
	repair       bool
	// ext holds what joined columns, projected points and integer floats need; nil for a
	// schema (or a file) that uses none, so that the common path pays one nil test per record.
	ext *extras

	borrow  bool                   // Borrow: text fields alias the input's bytes
	intern  [numFields]internTable // the kept text fields' values (intern.go)
	ids     idArena                // request ids (intern.go)
	zones   zoneCache
	scratch []byte  // JSON: unescaped strings of the current object
	js      jsonObj // JSON: the current object's field values
}

// keyRef says that a JSON key is candidate number rank of field f.
type keyRef struct {
	f    fieldID
	rank int
}

// newNormalizer builds what Bind and BindJSON share.
func (s *Schema) newNormalizer() *Normalizer {
	n := &Normalizer{schema: s, city: s.City, loc: s.Location, status: map[string]record.Status{},
		placeholders: s.PlaceholderPoints, repair: s.RepairMojibake}
	if n.loc == nil {
		// A Schema literal built in Go code without validate: read local times as UTC rather than
		// crash; every constructor in this package sets Location.
		n.loc = time.UTC
	}
	for _, tok := range s.Nulls {
		if tok = strings.TrimSpace(tok); tok != "" {
			n.nulls = append(n.nulls, tok)
		}
	}
	for i := range n.col {
		n.col[i] = -1
	}
	n.ext = newExtras(s)
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
		if id.isTime() {
			for _, l := range s.layoutsFor(f) {
				if tl, err := compileLayout(l); err == nil {
					n.layouts[id] = append(n.layouts[id], tl)
				}
			}
		}
		if id == fStatus {
			for _, v := range f.Open {
				n.status[asciiLower(strings.TrimSpace(v))] = record.StatusOpen
			}
			for _, v := range f.Closed {
				n.status[asciiLower(strings.TrimSpace(v))] = record.StatusClosed
			}
		}
	}
	return n
}

// Bind resolves the schema against a CSV file's header: for each field, the first candidate
// column present in the header wins (names compared case-insensitively after trimming spaces, and
// a UTF-8 byte order mark on the first name is ignored). A mapped field none of whose columns is
// present is null in every record. It fails, wrapping ErrNoColumns, when the header has no column
// for request_id or created_at: the file is not of this schema; and, wrapping ErrNoDialect, when
// a time field with layouts "auto" takes a column: the schema must first be given the file's
// dialects (Detector, WithDialects).
func (s *Schema) Bind(header []string) (*Normalizer, error) {
	n := s.newNormalizer()
	n.ncols = len(header)
	b := s.bindHeader(header)
	n.col, n.colName = b.col, b.name
	if n.ext != nil && !n.ext.bindCSV(&b) {
		n.ext = nil // this file joins no columns, has no x/y columns, and no integer floats
	}
	for _, id := range []fieldID{fRequestID, fCreatedAt} {
		if n.col[id] < 0 {
			f, _ := s.Field(fieldNames[id])
			return nil, fmt.Errorf("schema %q: field %s: none of its columns %q is in the header %s: %w",
				s.Name, fieldNames[id], candidateNames(f.Columns), quoteHeader(header), ErrNoColumns)
		}
	}
	if err := s.checkDetected(&n.col, &n.colName); err != nil {
		return nil, err
	}
	return n, nil
}

// maxHeaderEcho bounds the header text an error quotes, in bytes: a header is the input
// file's first line, and a hostile or broken file can make it megabytes long.
const maxHeaderEcho = 200

// quoteHeader quotes a header for an error message, cut to maxHeaderEcho bytes of its text.
func quoteHeader(header []string) string {
	q := fmt.Sprintf("%q", header)
	if len(q) <= maxHeaderEcho {
		return q
	}
	cut := maxHeaderEcho
	for cut > 0 && !utf8.RuneStart(q[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes cut)", q[:cut], len(q)-cut)
}

// Columns returns, in increasing order, the header columns Normalize reads of a record:
// the bound columns of the fields, a joined field's columns and the x/y columns. A split
// reader told of them (csvsplit.Options.Columns) need not cut out the others.
func (n *Normalizer) Columns() []int {
	cols := make([]int, 0, 2*numFields)
	for _, c := range n.col {
		if c >= 0 {
			cols = append(cols, c)
		}
	}
	if e := n.ext; e != nil { // as fillExtras reads them
		if e.joined {
			for _, p := range e.parts {
				cols = append(cols, p...)
			}
		}
		if e.proj != nil {
			cols = append(cols, e.xy[0], e.xy[1])
		}
	}
	slices.Sort(cols)
	return slices.Compact(cols)
}

// Normalize fills r from one CSV record's fields (byte slices, as the split reader returns
// them). Unless the Normalizer borrows (Borrow), it keeps no reference to fields: every
// string it stores is a copy (or an interned string). On failure it returns a *RejectError and r holds garbage.
func (n *Normalizer) Normalize(fields [][]byte, r *record.Request) error {
	if n.ncols < 0 {
		return fmt.Errorf("Normalize on a SODA JSON normalizer: %w", ErrWrongBinding)
	}
	if len(fields) != n.ncols {
		return &RejectError{Reason: ReasonFieldCount, Value: "record has " + strconv.Itoa(len(fields)) + " fields, header has " + strconv.Itoa(n.ncols)}
	}
	var vals [numFields][]byte
	for f, c := range n.col {
		if c >= 0 {
			vals[f] = fields[c]
		}
	}
	if n.ext != nil {
		n.fillExtras(fields, &vals)
	}
	return n.build(&vals, &n.colName, r)
}

// Borrow makes the requests that Normalize, NormalizeJSON and NormalizeObject fill borrow
// their text from the input: the request id and the plain ASCII values of other text fields
// but status become strings over the bytes of the fields or object given, valid only until
// those bytes change, rather than copies or interned strings. For a caller that is done with
// each request before it reads the next record (the map task encodes it at once): an intern
// lookup per value, and a copy of each request id, cost more than the check that borrowing
// is safe, which a value that is not plain ASCII fails and is then interned as usual.
func (n *Normalizer) Borrow() { n.borrow = true }

// value trims a raw value and returns nil when it is null.
func (n *Normalizer) value(b []byte) []byte {
	b = trimSpace(b)
	if len(b) == 0 {
		return nil
	}
	for _, tok := range n.nulls {
		if string(b) == tok {
			return nil
		}
	}
	return b
}

// build is the common part of Normalize and NormalizeJSON: vals holds each field's raw value
// (nil when absent) and cols the column or key it came from.
func (n *Normalizer) build(vals *[numFields][]byte, cols *[numFields]string, r *record.Request) error {
	*r = record.Request{City: n.city}

	id := n.value(vals[fRequestID])
	if id == nil {
		return reject(ReasonMissingRequestID, fRequestID, cols[fRequestID], vals[fRequestID])
	}
	if err := storable(fRequestID, id, cols); err != nil {
		return err
	}
	if len(id) > maxLen(fRequestID) {
		return reject(ReasonValueTooLong, fRequestID, cols[fRequestID], id)
	}
	if n.borrow {
		r.RequestID = unsafe.String(&id[0], len(id))
	} else {
		r.RequestID = n.ids.string(id)
	}

	created := n.value(vals[fCreatedAt])
	if created == nil {
		return reject(ReasonMissingCreatedAt, fCreatedAt, cols[fCreatedAt], vals[fCreatedAt])
	}
	c, ok := n.parseTime(fCreatedAt, created)
	if !ok {
		return reject(ReasonBadTimestamp, fCreatedAt, cols[fCreatedAt], created)
	}
	if c.sec == 0 && c.ns < 1000 {
		return reject(ReasonEpochTime, fCreatedAt, cols[fCreatedAt], created)
	}
	r.CreatedAt = c.time()
	if c.year != 0 {
		r.Year, r.Month = int(c.year), int(c.month)
	} else {
		y, m, _ := r.CreatedAt.In(n.loc).Date()
		r.Year, r.Month = y, int(m)
	}
	if r.Year < MinYear || r.Year > MaxYear {
		return reject(ReasonTimeOutOfRange, fCreatedAt, cols[fCreatedAt], created)
	}
	if c.year != 0 && !n.inLocalMonth(c.sec, r.Year, r.Month) {
		return reject(ReasonSkippedLocalTime, fCreatedAt, cols[fCreatedAt], created)
	}
	for _, f := range [...]fieldID{fClosedAt, fUpdatedAt} {
		v := n.value(vals[f])
		if v == nil {
			continue
		}
		c, ok := n.parseTime(f, v)
		if !ok {
			return reject(ReasonBadTimestamp, f, cols[f], v)
		}
		if c.sec < minYearSec || c.sec >= afterMaxYearSec {
			// A placeholder (9999-12-31), which would stretch a resolution time over
			// millennia and skew every percentile of its month.
			return reject(ReasonTimeOutOfRange, f, cols[f], v)
		}
		if f == fClosedAt {
			r.ClosedAt = c.time()
		} else {
			r.UpdatedAt = c.time()
		}
	}

	if v := n.value(vals[fStatus]); v != nil {
		s, st, err := n.text(fStatus, v, cols)
		if err != nil {
			return err
		}
		if len(s) > maxLen(fStatus) {
			return reject(ReasonValueTooLong, fStatus, cols[fStatus], v)
		}
		r.StatusRaw, r.Status = s, st
	}
	for _, f := range [...]fieldID{fAgency, fRequestType, fRequestSubtype, fZip, fNeighborhood, fChannel} {
		v := n.value(vals[f])
		if v == nil {
			continue
		}
		s, _, err := n.text(f, v, cols)
		if err != nil {
			return err
		}
		if len(s) > maxLen(f) {
			return reject(ReasonValueTooLong, f, cols[f], v)
		}
		switch f {
		case fAgency:
			r.Agency = s
		case fRequestType:
			r.RequestType = s
		case fRequestSubtype:
			r.RequestSubtype = s
		case fZip:
			r.Zip = s
		case fNeighborhood:
			r.Neighborhood = s
		case fChannel:
			r.Channel = s
		}
	}
	return n.locate(vals, cols, r)
}

// locate sets the location from latitude/longitude, else from point. A value that is not a
// number or point rejects the record; a well-formed point that is out of range or a placeholder
// is null.
func (n *Normalizer) locate(vals *[numFields][]byte, cols *[numFields]string, r *record.Request) error {
	latRaw, lonRaw := n.value(vals[fLatitude]), n.value(vals[fLongitude])
	var lat, lon float64
	switch {
	case latRaw != nil && lonRaw != nil:
		var ok bool
		if lat, ok = parseCoord(latRaw); !ok {
			return reject(ReasonBadCoordinate, fLatitude, cols[fLatitude], latRaw)
		}
		if lon, ok = parseCoord(lonRaw); !ok {
			return reject(ReasonBadCoordinate, fLongitude, cols[fLongitude], lonRaw)
		}
	default:
		// Half a coordinate pair is no location; the point column may still have one, and
		// after it the projected coordinates.
		p := n.value(vals[fPoint])
		if p == nil {
			if n.ext != nil && n.ext.proj != nil {
				return n.locateProjected(r)
			}
			return nil
		}
		var ok bool
		if lat, lon, ok = parsePoint(p); !ok {
			return reject(ReasonBadCoordinate, fPoint, cols[fPoint], p)
		}
	}
	if n.usableLocation(lat, lon) {
		r.Latitude, r.Longitude, r.HasLocation = lat, lon, true
	}
	return nil
}

// maxLen is the longest value text field f may keep, in bytes: MaxKeyText for the two that
// key the summary tables, MaxText for the others. Longer is a value_too_long reject.
func maxLen(f fieldID) int {
	if f == fAgency || f == fRequestType {
		return MaxKeyText
	}
	return MaxText
}

// inLocalMonth reports whether the instant sec falls in month mo of year y in the city's
// time zone. A local wall clock's year and month are the record's group without a zone
// lookup, and they are the instant's unless the clocks skipped that wall clock, which
// time.Date then reads in one of the two offsets: across midnight, when the change was at
// midnight, and across the month's start or end, when that midnight began a month
// (America/Asuncion's 2017-10-01 00:30 is 2017-09-30 23:30 -04; Europe/Moscow's
// 1918-05-31 22:30 is 1918-06-01 01:58:41). Every offset is less than a day, so only an
// instant within a day of the month's edges (as UTC wall clock) needs its offset: the zone
// cache's last period gives it when it holds the instant (a period of one offset, shrunk by
// a day at each end, holds no skipped wall clock), else a zone lookup.
func (n *Normalizer) inLocalMonth(sec int64, y, mo int) bool {
	start := civilSeconds(y, mo, 1, 0, 0, 0)
	end := start + int64(daysIn(y, mo))*86400
	if sec-start >= 86400 && end-sec > 86400 {
		return true
	}
	wall := sec + n.zones.offset(sec, n.loc)
	return start <= wall && wall < end
}

// parseTime tries the field's layouts in order.
func (n *Normalizer) parseTime(f fieldID, b []byte) (civil, bool) {
	for i := range n.layouts[f] {
		if c, ok := n.layouts[f][i].parse(b, n.loc, &n.zones); ok {
			return c, true
		}
	}
	return civil{}, false
}

func (n *Normalizer) statusOf(raw []byte) record.Status {
	var buf [64]byte
	if len(raw) > len(buf) {
		return record.StatusOther
	}
	for i, c := range raw {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return n.status[string(buf[:len(raw)])] // a missing key is StatusOther, the zero value
}

// text returns b as a string the record may keep, interned, checked with storable and
// repaired when the schema asks; for the status field also its record.Status.
func (n *Normalizer) text(f fieldID, b []byte, cols *[numFields]string) (string, record.Status, error) {
	// Plain ASCII is storable and never repaired: interned, it would be b's bytes.
	if n.borrow && f != fStatus && plainASCII(b) {
		return unsafe.String(&b[0], len(b)), 0, nil
	}
	t := &n.intern[f]
	w0, w1 := keyWords(b)
	h := hashWords(len(b), w0, w1)
	if e := t.lookup(b, h, w0, w1); e != nil {
		return e.val, e.status, nil
	}
	if err := storable(f, b, cols); err != nil {
		return "", 0, err
	}
	var st record.Status
	if f == fStatus {
		st = n.statusOf(b)
	}
	var fixed []byte
	repaired := false
	if n.repair {
		fixed, repaired = repairMojibake(b)
	}
	if t.full() || len(b) > maxInternBytes {
		if repaired {
			return string(fixed), st, nil
		}
		return string(b), st, nil
	}
	e := internSlot{key: string(b), hash: h, status: st}
	e.val = e.key
	if repaired {
		e.val = string(fixed)
	}
	t.add(e)
	return e.val, st, nil
}

// storable rejects a value that a kept text field cannot hold: invalid UTF-8 (the Parquet
// writer requires UTF-8, and so does PostgreSQL's text) or a NUL byte (PostgreSQL's text
// refuses it, so one such agency or request type would fail the publish of the whole job).
// Both reject the record rather than repair the value: a request id must stay exact to
// de-duplicate, and one rule for every field keeps the lake equal to its input, minus its
// rejects. A NUL in a time or coordinate field fails that field's parse instead.
func storable(f fieldID, b []byte, cols *[numFields]string) error {
	if plainASCII(b) {
		return nil
	}
	if !utf8.Valid(b) {
		return reject(ReasonInvalidUTF8, f, cols[f], b)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return reject(ReasonNULByte, f, cols[f], b)
	}
	return nil
}

// plainASCII reports whether every byte of b is in 0x01..0x7F, eight at a time: the usual
// request id, which storable then passes without utf8.Valid and a search for NUL.
func plainASCII(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if w := binary.LittleEndian.Uint64(b); w&highs != 0 || hasBelow(w, 1) {
			return false
		}
	}
	for _, c := range b {
		if c-1 >= 0x7f {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
