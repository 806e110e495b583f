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
// and last byte cannot cross its end. A quote that is a field's first or last byte
// opens or closes it (a field of one quote would leave its end inside quotes), so a
// record whose every quote is one of these has fields with no quote or exactly two,
// its first and last bytes: it is simple. The check is a mask per block, not counts.
func (r *Reader) scanFast(data []byte) (end int, ok bool) {
	fields := r.fields[:0]
	var tail [64]byte
	var inside uint64    // all ones when the block starts inside quotes
	fieldAt := uint64(1) // 1 when the block starts a field
	var stray uint64     // the quotes that neither start nor end a field, and the '\r's
	var carry uint64     // stray's bits of the previous block's last two bytes, not yet final
	start := 0           // of the current field
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
		x := qm&^(seps<<1|fieldAt|seps>>1) | rm
		carry &^= seps << 63 // a separator at bit 0 ends a field at the previous byte
		fieldAt = seps >> 63
		if seps != 0 {
			fields, start = appendFields(fields, data, start, base, seps)
		}
		if stop == 0 {
			// The last two bytes may yet turn out to end the record: a quote
			// before "\r\n" whose '\n' starts the next block.
			stray |= carry | x&^(3<<62)
			carry = x & (3 << 62)
			continue
		}
		end = base + bits.TrailingZeros64(stop)
		e := end
		// The terminator's '\r' and a quote before the terminator are no strays; they
		// lie at most two bytes back, in carry when before this block.
		if e > 0 && data[e-1] == '\r' {
			e--
			x, carry = explain(x, carry, e-base)
		}
		if e > 0 && data[e-1] == '"' {
			x, carry = explain(x, carry, e-1-base)
		}
		o := 0
		if data[start] == '"' {
			o = 1
		}
		r.fields = append(fields, data[start+o:e-o:e-o])
		return end, stray|carry|x == 0
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

// explain clears the bit of the byte at offset j of the block (-2 <= j < 64) from the
// block's mask x, or from carry, the previous block's, when j < 0.
func explain(x, carry uint64, j int) (uint64, uint64) {
	if j >= 0 {
		return x &^ (1 << (j & 63)), carry
	}
	return x, carry &^ (1 << (j & 63))
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
