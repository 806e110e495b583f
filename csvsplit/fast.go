package csvsplit

import "math/bits"

// scanFast finds the end of the record that starts at data[0] and splits the record
// into r.fields in the same pass, 64 bytes at a time: classify gives the block's
// quote, comma and newline masks, the prefix XOR of the quote mask gives the quote
// state at every byte, and the commas and newlines outside quotes are the field and
// record ends. It returns the index of the record's terminating '\n' (-1 when data
// holds none) and whether r.fields holds the record's fields, which it does when the
// record is simple: every field is free of quotes or quoted with no quote inside, and
// no '\r' but its terminator's is in it. parse splits a simple record the same way,
// and almost every record of a 311 export is simple.
//
// Between field ends, which lie outside quotes, a field holds an even number of
// quotes; so one that starts with a quote holds two or more, and cutting its first
// and last byte cannot cross its end. Exactly two quotes per such field, the second
// its last byte, leave no quote anywhere else: the record is simple.
func (r *Reader) scanFast(data []byte) (end int, ok bool) {
	fields := r.fields[:0]
	var tail [64]byte
	var inside uint64    // all ones when the block starts inside quotes
	fieldAt := uint64(1) // 1 when the block starts a field
	var quoteTop uint64  // 1 when the previous block ends with a quote
	var quotes, opens, closes, crs int
	start := 0 // of the current field
	for base := 0; base < len(data); base += 64 {
		var b *[64]byte
		if len(data)-base >= 64 {
			b = (*[64]byte)(data[base:])
		} else {
			// Zeros, unlike the stale bytes after data, are none of the four.
			tail = [64]byte{}
			copy(tail[:], data[base:])
			b = &tail
		}
		qm, cm, nm, rm := classify(b)
		in := prefixXOR(qm) ^ inside
		inside = uint64(int64(in) >> 63)
		seps := cm &^ in
		stop := nm &^ in
		if stop != 0 {
			before := uint64(1)<<bits.TrailingZeros64(stop) - 1
			seps, qm, rm = seps&before, qm&before, rm&before
		}
		quotes += bits.OnesCount64(qm)
		crs += bits.OnesCount64(rm)
		opens += bits.OnesCount64(qm & (seps<<1 | fieldAt))
		closes += bits.OnesCount64(qm&(seps>>1)) + int(quoteTop&seps)
		fieldAt, quoteTop = seps>>63, qm>>63
		if seps != 0 {
			fields, start = appendFields(fields, data, start, base, seps)
		}
		if stop == 0 {
			continue
		}
		end = base + bits.TrailingZeros64(stop)
		e := end
		if e > 0 && data[e-1] == '\r' {
			e--
			crs--
		}
		if e > 0 && data[e-1] == '"' {
			closes++
		}
		o := 0
		if data[start] == '"' {
			o = 1
		}
		r.fields = append(fields, data[start+o:e-o:e-o])
		return end, crs == 0 && quotes == 2*opens && closes == opens
	}
	r.fields = fields
	return -1, false
}

// appendFields appends to fields the fields of data that start at start and end at
// the separators of seps, the mask of the block at data[base:], unquoting those that
// start with a quote; it returns the start of the field after them. It is a function
// of its own, not inlined, so that its loop keeps its few variables in registers:
// inlined, the loop reloads them from the stack for each field (8-10 % of scanFast).
//
//go:noinline
func appendFields(fields [][]byte, data []byte, start, base int, seps uint64) ([][]byte, int) {
	for seps != 0 {
		p := base + bits.TrailingZeros64(seps)
		seps &= seps - 1
		o := 0
		if data[start] == '"' {
			o = 1
		}
		fields = append(fields, data[start+o:p-o:p-o])
		start = p + 1
	}
	return fields, start
}

// prefixXOR returns the mask whose bit i is the XOR of bits 0 to i of x: for a quote
// mask, whether byte i lies after an odd number of quotes (an opening quote included,
// a closing one not).
func prefixXOR(x uint64) uint64 {
	x ^= x << 1
	x ^= x << 2
	x ^= x << 4
	x ^= x << 8
	x ^= x << 16
	x ^= x << 32
	return x
}
