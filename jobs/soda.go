package jobs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ireports/ireports/record"
)

// MaxSODAObject bounds one object of a SODA JSON array: a runaway object (a file that is not
// SODA at all) fails the scan instead of exhausting memory.
const MaxSODAObject = 16 << 20

// ScanSODA reads a JSON array of objects — a Socrata API page — and calls fn for each object
// with the byte offset of its '{' in the input and its raw bytes (valid JSON). raw is only valid
// until fn returns. It holds one object in memory at a time, never the whole input. An error
// from fn stops the scan and is returned as is; malformed input gives an error wrapping
// ErrMalformedJSON with the byte offset.
func ScanSODA(r io.Reader, fn func(offset int64, raw []byte) error) error {
	s := sodaScanner{r: r, buf: make([]byte, 64<<10)}
	return s.scan(fn)
}

// sodaScanner reads through its own buffer rather than a bufio.Reader so that an object is
// found and copied a buffer-load at a time, not a method call per byte.
type sodaScanner struct {
	r        io.Reader
	buf      []byte
	pos, end int   // unread bytes are buf[pos:end]
	off      int64 // input offset of buf[pos]
	err      error // the reader's sticky error
	obj      []byte
	spans    bool       // locate each object's members in cur.members (ScanSODAObjects)
	cur      SODAObject // the current object's members, when spans
}

func (s *sodaScanner) errorf(off int64, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrMalformedJSON, off, fmt.Sprintf(format, args...))
}

// fill reads more input; it returns io.EOF at the end and wraps other read errors.
func (s *sodaScanner) fill() error {
	for s.pos == s.end {
		if s.err != nil {
			return s.err
		}
		n, err := s.r.Read(s.buf)
		s.pos, s.end = 0, n
		if err == io.EOF {
			s.err = io.EOF
		} else if err != nil {
			s.err = fmt.Errorf("soda json: offset %d: %w", s.off+int64(n), err)
		}
	}
	return nil
}

func (s *sodaScanner) next() (byte, error) {
	if s.pos == s.end {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	c := s.buf[s.pos]
	s.pos++
	s.off++
	return c, nil
}

// nextNonSpace returns the next byte that is not JSON white space.
func (s *sodaScanner) nextNonSpace() (byte, error) {
	for {
		c, err := s.next()
		if err != nil || !isSpace(c) {
			return c, err
		}
	}
}

func (s *sodaScanner) unexpected(c byte, err error, want string) error {
	if err == io.EOF {
		return s.errorf(s.off, "unexpected end of input, want %s", want)
	}
	if err != nil {
		return err
	}
	return s.errorf(s.off-1, "unexpected %q, want %s", c, want)
}

func (s *sodaScanner) scan(fn func(int64, []byte) error) error {
	c, err := s.nextNonSpace()
	if c != '[' || err != nil {
		return s.unexpected(c, err, "'[' (a SODA page is a JSON array of objects)")
	}
	c, err = s.nextNonSpace()
	if err != nil {
		return s.unexpected(c, err, "an object or ']'")
	}
	if c != ']' {
		for {
			if c != '{' {
				return s.unexpected(c, nil, "an object")
			}
			start := s.off - 1
			raw, err := s.nextObject(start)
			if err != nil {
				return err
			}
			if err := fn(start, raw); err != nil {
				return err
			}
			c, err = s.nextNonSpace()
			if err != nil || (c != ',' && c != ']') {
				return s.unexpected(c, err, "',' or ']' after an object")
			}
			if c == ']' {
				break
			}
			if c, err = s.nextNonSpace(); err != nil {
				return s.unexpected(c, err, "an object")
			}
		}
	}
	if c, err = s.nextNonSpace(); err != io.EOF {
		if err != nil {
			return err
		}
		return s.errorf(s.off-1, "unexpected %q after the array", c)
	}
	return nil
}

// nextObject returns the valid JSON object starting at start, its '{' already read. An
// object that lies whole in the buffer is validated where it lies, which finds its end too,
// and returned without a copy: copying it out first (object) took a pass over its bytes as
// long as the validator's, a quarter of the map task's CPU on a SODA JSON file. One that
// runs past the buffer, or is not valid, is copied out (object) and validated there, which
// gives the same error for any invalid one.
func (s *sodaScanner) nextObject(start int64) ([]byte, error) {
	if end, ok := s.valid(s.buf[:s.end], s.pos-1); ok {
		raw := s.buf[s.pos-1 : end]
		s.off += int64(end - s.pos)
		s.pos = end
		return raw, nil
	}
	if err := s.object(start); err != nil {
		return nil, err
	}
	if end, ok := s.valid(s.obj, 0); !ok || end != len(s.obj) {
		return nil, s.errorf(start, "the object is not valid JSON")
	}
	return s.obj, nil
}

// valid checks the object that opens at b[i] as validValue(b, i, 0) does and returns the
// index after it; with spans, it also records its members.
func (s *sodaScanner) valid(b []byte, i int) (int, bool) {
	if s.spans {
		return validObject(b, i, &s.cur.members)
	}
	return validValue(b, i, 0)
}

// object copies the object starting at start (its '{' already read) into s.obj, tracking
// strings and nesting; nextObject checks the rest.
func (s *sodaScanner) object(start int64) error {
	s.obj = append(s.obj[:0], '{')
	depth, inString, escaped := 1, false, false
	for depth > 0 {
		if s.pos == s.end {
			if err := s.fill(); err == io.EOF {
				return s.errorf(start, "unexpected end of input inside this object")
			} else if err != nil {
				return err
			}
		}
		chunk := s.buf[s.pos:s.end]
		i := 0
		for i < len(chunk) && depth > 0 {
			if inString {
				if escaped {
					escaped = false
					i++
				}
				// One search per run of plain bytes: it stops at the closing quote, at a
				// backslash, or at the chunk's end (the string goes on in the next).
				if i = skipPlain(chunk, i, false); i == len(chunk) {
					break
				}
				if chunk[i] == '"' {
					inString = false
				} else {
					escaped = true
				}
				i++
				// A key's closing quote is mostly followed by `:"`, a value's by `,"`: the
				// next string then opens without a turn of the loop per byte.
				if !inString && i+1 < len(chunk) && (chunk[i] == ':' || chunk[i] == ',') && chunk[i+1] == '"' {
					i += 2
					inString = true
				}
				continue
			}
			switch chunk[i] {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			i++
		}
		if need := len(s.obj) + i; need > cap(s.obj) {
			// Double, as append does only for small slices: growing a 16 MiB object by a
			// quarter at a time would allocate five times its size on the way.
			grown := make([]byte, len(s.obj), max(need, min(2*cap(s.obj), MaxSODAObject+len(s.buf))))
			copy(grown, s.obj)
			s.obj = grown
		}
		s.obj = append(s.obj, chunk[:i]...)
		s.pos += i
		s.off += int64(i)
		if len(s.obj) > MaxSODAObject {
			return s.errorf(start, "object larger than %d bytes", MaxSODAObject)
		}
	}
	return nil
}

// BindJSON returns a normalizer for SODA objects: for each field, the first of its candidate
// columns present as a key of an object wins (keys compared exactly: SODA keys are snake_case
// API field names, so a schema for SODA input lists those). JSON null counts as absent. A time
// field with layouts "auto" reads no value (every one is a bad_timestamp reject) until the
// schema is given the file's dialects (Detector, WithDialects).
func (s *Schema) BindJSON() *Normalizer {
	n := s.newNormalizer()
	n.ncols = -1
	n.keys = map[string][]keyRef{}
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
		n.cands[id] = candidateNames(f.Columns)
		for rank, c := range f.Columns {
			if len(c) == 1 {
				n.keys[c[0]] = append(n.keys[c[0]], keyRef{f: id, rank: rank})
			}
		}
		if n.ext != nil {
			n.ext.bindJSON(id, f)
		}
	}
	n.keyTab = newKeyTable(n.keys)
	return n
}

// absentKey names, for a field none of whose candidate keys an object holds, the key a
// SODA export would have used: the first candidate written as SODA writes its field names
// (lower case, digits, '_', and ':' for its system fields), else the first. A built-in
// schema lists the CSV export's column first ("Unique Key", then "unique_key").
func absentKey(cands []string) string {
	for _, c := range cands {
		if c != "" && strings.Trim(c, "abcdefghijklmnopqrstuvwxyz0123456789_:@") == "" {
			return c
		}
	}
	return cands[0]
}

// keyTable finds a member's key among the few that a schema reads. A SODA object carries
// some forty keys of which a schema reads about ten, and a map lookup per member, hashing
// every key, was an eighth of NormalizeJSON's CPU; here most keys are told apart by their
// length and first and last bytes, and the rest by one comparison.
type keyTable struct {
	slots [256][]keyEntry
}

type keyEntry struct {
	key  string
	refs []keyRef
}

func keySlot(k []byte) uint8 {
	if len(k) == 0 {
		return 0
	}
	return uint8(len(k)*131 + int(k[0])*31 + int(k[len(k)-1]))
}

func newKeyTable(keys map[string][]keyRef) *keyTable {
	t := &keyTable{}
	for k, refs := range keys {
		i := keySlot([]byte(k))
		t.slots[i] = append(t.slots[i], keyEntry{key: k, refs: refs})
	}
	return t
}

// refs returns what n.keys[string(k)] holds.
func (t *keyTable) refs(k []byte) []keyRef {
	for _, e := range t.slots[keySlot(k)] {
		if e.key == string(k) {
			return e.refs
		}
	}
	return nil
}

// NormalizeJSON fills r from one SODA object (raw JSON, as ScanSODA yields it). Values may be
// strings, numbers or nested objects (a location); the same rules as Normalize apply, and it
// likewise keeps no reference to raw unless the Normalizer borrows. An object that is not well-formed is rejected as bad_json.
func (n *Normalizer) NormalizeJSON(raw []byte, r *record.Request) error {
	if n.ncols >= 0 {
		return fmt.Errorf("NormalizeJSON on a CSV normalizer: %w", ErrWrongBinding)
	}
	n.beginJSON()
	err := eachMember(raw, &n.scratch, func(key, val []byte, kind valueKind) bool {
		n.jsonMember(key, val, kind)
		return true
	})
	if err != nil {
		return &RejectError{Reason: ReasonBadJSON, Value: err.Error()}
	}
	return n.endJSON(r)
}

// jsonObj is the state of the object NormalizeJSON or NormalizeObject reads: each field's
// value and the rank of the key it came from (-1: none yet).
type jsonObj struct {
	vals   [numFields][]byte
	rank   [numFields]int
	nested [numFields]bool // the value is an object or an array
}

// beginJSON starts reading an object's members.
func (n *Normalizer) beginJSON() {
	for i := range n.js.rank {
		n.js.rank[i] = -1
	}
	n.js.vals = [numFields][]byte{}
	n.scratch = n.scratch[:0]
	if n.ext != nil {
		n.ext.resetJSON()
	}
}

// jsonMember takes one member of the object, in order.
func (n *Normalizer) jsonMember(key, val []byte, kind valueKind) {
	if kind == kindNull {
		return
	}
	js := &n.js
	for _, ref := range n.keyTab.refs(key) {
		if js.rank[ref.f] < 0 || ref.rank < js.rank[ref.f] {
			js.vals[ref.f], js.rank[ref.f] = val, ref.rank
			js.nested[ref.f] = kind == kindOther && len(val) > 0 && (val[0] == '{' || val[0] == '[')
		}
	}
	if n.ext != nil {
		n.ext.member(key, val)
	}
}

// endJSON builds the request from the object's members.
func (n *Normalizer) endJSON(r *record.Request) error {
	js := &n.js
	if n.ext != nil {
		n.joinJSON(&js.vals, &js.rank)
		n.ext.trimIntegerFloats(&js.vals)
	}
	var cols [numFields]string
	for f, k := range js.rank {
		if k >= 0 {
			cols[f] = n.cands[f][k]
		} else if len(n.cands[f]) > 0 {
			cols[f] = absentKey(n.cands[f])
		}
	}
	for f, nested := range js.nested {
		// Only a point (SODA's location) is an object; text kept as an object's JSON
		// source ("agency": {"a": 1}) would be no agency's name.
		if nested && js.rank[f] >= 0 && fieldID(f) != fPoint {
			return reject(ReasonBadJSON, fieldID(f), cols[f], js.vals[f])
		}
	}
	return n.build(&js.vals, &cols, r)
}

type valueKind uint8

const (
	kindString valueKind = iota // val is the unescaped content
	kindNull                    // val is nil
	kindOther                   // number, bool, object or array: val is the raw JSON text
)

var errBadObject = errors.New("not a JSON object")

// eachMember calls fn for each member of the JSON object b, in order, until fn returns false.
// Unescaped strings are appended to *scratch, so keys and values stay valid until the caller
// resets it. It checks the object's structure but, for nested values, only their nesting.
func eachMember(b []byte, scratch *[]byte, fn func(key, val []byte, kind valueKind) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBadObject
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return fmt.Errorf("offset %d: want a key: %w", i, errBadObject)
			}
			key, j, err := jsonString(b, i, scratch)
			if err != nil {
				return err
			}
			i = skipSpace(b, j)
			if i >= len(b) || b[i] != ':' {
				return fmt.Errorf("offset %d: want ':': %w", i, errBadObject)
			}
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return fmt.Errorf("offset %d: want a value: %w", i, errBadObject)
			}
			var val []byte
			kind := kindOther
			switch b[i] {
			case '"':
				val, j, err = jsonString(b, i, scratch)
				kind = kindString
			default:
				if j, err = skipValue(b, i); err == nil {
					val = b[i:j]
					if string(val) == "null" {
						val, kind = nil, kindNull
					}
				}
			}
			if err != nil {
				return err
			}
			if !fn(key, val, kind) {
				return nil
			}
			i = skipSpace(b, j)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return fmt.Errorf("offset %d: want ',' or '}': %w", i, errBadObject)
		}
	}
	if skipSpace(b, i) != len(b) {
		return fmt.Errorf("offset %d: data after the object: %w", i, errBadObject)
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// jsonString reads the string whose opening quote is at b[i]; it returns the unescaped content
// (a subslice of b when there are no escapes) and the index after the closing quote.
func jsonString(b []byte, i int, scratch *[]byte) ([]byte, int, error) {
	start := i + 1
	j := skipPlain(b, start, false)
	if j < len(b) && b[j] == '"' {
		return b[start:j], j + 1, nil
	}
	// Escapes: decode into scratch. Appending may move scratch, but slices handed out earlier
	// keep pointing at the old array, which stays alive as long as they do.
	from := len(*scratch)
	out := append(*scratch, b[start:j]...)
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			*scratch = out
			return out[from:], j + 1, nil
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			break
		}
		e := b[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, k, ok := hex4(b, j)
			if !ok {
				return nil, 0, fmt.Errorf("offset %d: bad \\u escape: %w", j, errBadObject)
			}
			j = k
			if utf16.IsSurrogate(r) {
				if r2, k2, ok := hex4(b, j+2); ok && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r, j = d, k2
					}
				}
			}
			if utf16.IsSurrogate(r) {
				// A lone surrogate is no character: its three bytes as UTF-8 would encode
				// it (ED A0 80 … ED BF BF) are invalid UTF-8, so a kept text field holding
				// one is rejected as invalid_utf8, as raw invalid bytes are, rather than
				// silently become U+FFFD.
				out = append(out, 0xED, byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
				continue
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, 0, fmt.Errorf("offset %d: bad escape: %w", j-2, errBadObject)
		}
	}
	return nil, 0, fmt.Errorf("offset %d: unterminated string: %w", i, errBadObject)
}

func hex4(b []byte, i int) (rune, int, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, 0, false
		}
	}
	return r, i + 4, true
}

// skipValue returns the index after the non-string value starting at b[i]: a nested object or
// array (balanced, strings respected) or a literal/number (up to the next delimiter).
func skipValue(b []byte, i int) (int, error) {
	if b[i] != '{' && b[i] != '[' {
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("offset %d: want a value: %w", i, errBadObject)
		}
		return j, nil
	}
	depth, inString := 0, false
	for j := i; j < len(b); j++ {
		if inString {
			if j = skipPlain(b, j, false); j == len(b) {
				break
			}
			if b[j] == '\\' {
				j++
			} else {
				inString = false
			}
			continue
		}
		c := b[j]
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("offset %d: unterminated value: %w", i, errBadObject)
}
