package jobs

import (
	"fmt"
	"io"

	"github.com/ireports/ireports/record"
)

// SODAObject is one object of a SODA page as ScanSODAObjects yields it: its raw bytes and
// where its members lie in them, found while the scanner validated it. NormalizeObject reads
// the members from there instead of parsing the object again: the second pass over every
// string, NormalizeJSON's, was a third of a SODA JSON map task's CPU.
type SODAObject struct {
	Raw     []byte // the object, valid JSON; valid until the callback returns
	members []sodaMember
}

// sodaMember is one member of an object: the key's and the value's bytes in the object,
// without a string's quotes, and whether a string holds escapes (then it is decoded when read).
type sodaMember struct {
	ks, ke, vs, ve int
	kind           valueKind
	keyEsc, valEsc bool
}

// ScanSODAObjects is ScanSODA for a caller that normalizes the objects (NormalizeObject):
// the same objects, offsets and errors, with each object's members located.
func ScanSODAObjects(r io.Reader, fn func(offset int64, obj *SODAObject) error) error {
	s := sodaScanner{r: r, buf: make([]byte, 64<<10), spans: true}
	return s.scan(func(off int64, raw []byte) error {
		s.cur.Raw = raw
		return fn(off, &s.cur)
	})
}

// validObject is validContainer(b, i, 1) for an object, b[i] == '{', that also records its
// members in *ms, at offsets from b[i]: the same verdict and end index.
func validObject(b []byte, i int, ms *[]sodaMember) (int, bool) {
	*ms = (*ms)[:0]
	o := i
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		var m sodaMember
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		j, esc, ok := validStringEsc(b, i)
		if !ok {
			return j, false
		}
		m.ks, m.ke, m.keyEsc = i+1-o, j-1-o, esc
		if i = skipSpace(b, j); i >= len(b) || b[i] != ':' {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '"' {
			if j, esc, ok = validStringEsc(b, i); !ok {
				return j, false
			}
			m.vs, m.ve, m.valEsc, m.kind = i+1-o, j-1-o, esc, kindString
		} else {
			if j, ok = validValue(b, i, 1); !ok {
				return j, false
			}
			m.vs, m.ve, m.kind = i-o, j-o, kindOther
			if string(b[i:j]) == "null" {
				m.kind = kindNull
			}
		}
		*ms = append(*ms, m)
		if i = skipSpace(b, j); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipSpace(b, i+1)
		default:
			return i, false
		}
	}
}

// validStringEsc is validString that also reports whether the string holds an escape.
func validStringEsc(b []byte, i int) (int, bool, bool) {
	j := skipPlain(b, i+1, true)
	if j < len(b) && b[j] == '"' {
		return j + 1, false, true
	}
	j, ok := validString(b, i)
	return j, true, ok
}

// NormalizeObject is NormalizeJSON for an object ScanSODAObjects yielded: the same request,
// or the same error, without parsing the object again.
func (n *Normalizer) NormalizeObject(obj *SODAObject, r *record.Request) error {
	if n.ncols >= 0 {
		return fmt.Errorf("NormalizeObject on a CSV normalizer: %w", ErrWrongBinding)
	}
	n.beginJSON()
	b := obj.Raw
	for k := range obj.members {
		m := &obj.members[k]
		key := b[m.ks:m.ke]
		if m.keyEsc {
			key, _, _ = jsonString(b, m.ks-1, &n.scratch)
		}
		var val []byte
		switch m.kind {
		case kindString:
			val = b[m.vs:m.ve]
			if m.valEsc {
				val, _, _ = jsonString(b, m.vs-1, &n.scratch)
			}
		case kindOther:
			val = b[m.vs:m.ve]
		}
		n.jsonMember(key, val, m.kind)
	}
	return n.endJSON(r)
}
