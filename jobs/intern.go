package jobs

import (
	"encoding/binary"
	"unsafe"

	"github.com/ireports/ireports/record"
)

// maxIntern bounds each field's intern table. Low-cardinality text (agency, request type, zip,
// status) is looked up instead of allocated; a field that turns out to be high-cardinality stops
// growing its table here and simply allocates.
const maxIntern = 4096

// maxInternBytes bounds the length of a value a table keeps. maxIntern bounds how many
// values a field's table holds, not their size: the input chooses them, and 4,096 values
// each as long as a record (csvsplit's MaxRecordBytes) would pin gigabytes. The values worth
// interning (agencies, types, zips, statuses) are a few dozen bytes.
const maxInternBytes = 256

// maxProbe bounds the slots a lookup or an insertion looks at. Input files choose the values,
// so they could choose colliding ones; past this many the value is allocated instead of
// interned, and a lookup never costs more than maxProbe comparisons.
const maxProbe = 8

// internTable is one text field's table of the values seen so far: a cache, not a map. Go's
// map hashed every value with the runtime's general hash and walked its groups, and the
// status field paid a second lookup for its record.Status; both were a fifth of a CSV
// record's normalization. Here a value costs a multiply-xor hash of its 8-byte words and,
// usually, one slot and one comparison, and a status slot carries its record.Status. Open
// addressing with linear probing, at most half full; the zero value is empty.
type internTable struct {
	slots []internSlot // len a power of two, or 0
	n     int          // slots in use
}

type internSlot struct {
	key    string // the raw value; "" for a free slot (an empty value is null, never interned)
	val    string // what the record keeps: key, or key repaired
	hash   uint32
	status record.Status // the status field: key's record.Status
	w0, w1 uint64        // keyWords(key)
}

// keyWords returns two words of b that, with its length, are all of b when it is at most 16
// bytes long: its first and last eight bytes, or four, or its first, middle and last byte.
// A lookup compares them instead of the bytes, so that the usual value (an agency, a type,
// a zip) costs two loads and no loop: hashing a value word by word and comparing it with
// memequal, both loops whose trip count changes from one value to the next, was most of a
// CSV record's lookups.
func keyWords(b []byte) (w0, w1 uint64) {
	switch {
	case len(b) >= 8:
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	case len(b) >= 4:
		return uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	case len(b) > 0:
		return uint64(b[0]) | uint64(b[len(b)>>1])<<8 | uint64(b[len(b)-1])<<16, 0
	}
	return 0, 0
}

// internHash hashes a raw value: its length and keyWords, which tell apart the values of a
// text column; longer values that share them only probe further. It is not keyed: maxProbe,
// not the hash, bounds what a crafted input can cost.
func internHash(b []byte) uint32 {
	w0, w1 := keyWords(b)
	return hashWords(len(b), w0, w1)
}

func hashWords(n int, w0, w1 uint64) uint32 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	h := (uint64(n)*m1 ^ w0) * m2
	h ^= h >> 31
	h = (h ^ w1 ^ w1>>32) * m1 // a product's bits depend only on the factors' bits below them
	return uint32(h>>32) ^ uint32(h)
}

// find returns the slot holding b, or nil.
func (t *internTable) find(b []byte, h uint32) *internSlot {
	w0, w1 := keyWords(b)
	return t.lookup(b, h, w0, w1)
}

// lookup is find for a caller that has b's keyWords.
func (t *internTable) lookup(b []byte, h uint32, w0, w1 uint64) *internSlot {
	if len(t.slots) == 0 {
		return nil
	}
	mask := uint32(len(t.slots) - 1)
	for i := range uint32(maxProbe) {
		s := &t.slots[(h+i)&mask]
		if s.key == "" {
			return nil
		}
		if s.hash == h && s.w0 == w0 && s.w1 == w1 && len(s.key) == len(b) && (len(b) <= 16 || s.key == string(b)) {
			return s
		}
	}
	return nil
}

// full reports whether add would drop any value: the table holds maxIntern values.
func (t *internTable) full() bool { return t.n >= maxIntern }

// add inserts a value that find did not find, unless the table is full or the value's probe
// run is.
func (t *internTable) add(e internSlot) {
	if t.full() {
		return
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	e.w0, e.w1 = keyWords(unsafe.Slice(unsafe.StringData(e.key), len(e.key)))
	if t.put(e) {
		t.n++
	}
}

func (t *internTable) put(e internSlot) bool {
	mask := uint32(len(t.slots) - 1)
	for i := range uint32(maxProbe) {
		s := &t.slots[(e.hash+i)&mask]
		if s.key == "" {
			*s = e
			return true
		}
	}
	return false
}

// grow doubles the table (16 slots at first) and re-inserts its values; one whose probe run
// is full in the new table is dropped, which costs it only its later allocations.
func (t *internTable) grow() {
	old := t.slots
	t.slots = make([]internSlot, max(16, 2*len(old)))
	t.n = 0
	for _, e := range old {
		if e.key != "" && t.put(e) {
			t.n++
		}
	}
}

// idBlock is the size of the blocks request ids are cut from, and idMax the longest id cut
// from one (a longer one is allocated alone).
const (
	idBlock = 4 << 10
	idMax   = 256
)

// idArena copies request ids into shared blocks: the id is the one string of a record that
// cannot be interned, and one allocation per record for it was most of the map task's
// allocations. A string cut from a block keeps the whole block alive, so a caller that keeps
// only a few records of many keeps a block per record; the map task keeps none. Bytes of a
// block are written once, before the string over them exists, and never again.
type idArena struct {
	buf []byte
}

func (a *idArena) string(b []byte) string {
	if len(b) == 0 || len(b) > idMax {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, idBlock)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}
