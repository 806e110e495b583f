package csvsplit

import (
	"bytes"
	"math/bits"
	"slices"
)

// scanFast finds the end of the record that starts at data[0] and splits the record
// into r.fields in the same pass, 64 bytes at a time: classify gives the block's
// quote, comma and newline masks, the prefix XOR of the quote mask gives the quote
// state at every byte, and the commas and newlines outside quotes are the field and
// record ends. It returns the index of the record's terminating '\n' (-1 when data
// holds none) and whether r.fields holds the record's fields, which it does when the
// record is simple: every field is free of quotes or quoted with no quote inside, and
// no '\r' but its terminator's is in it. parse splits a simple record the same way,
// and almost every record of a 311 export is simple; splitEscaped splits most others.
//
// Between field ends, which lie outside quotes, a field holds an even number of
// quotes; so one that starts with a quote holds two or more, and cutting its first
// and last byte cannot cross its end. A quote that is a field's first or last byte
// opens or closes it (a field of one quote would leave its end inside quotes), so a
// record whose every quote is one of these has fields with no quote or exactly two,
// its first and last bytes: it is simple. The check is a mask per block, not counts.
//
// The blocks' masks become a scanState and the field ends a list of offsets first
// (scanBlocks, in assembly where it can be), the fields second: the block loop then
// keeps its state in registers, and the field loop stores only the slices.
func (r *Reader) scanFast(data []byte) (end int, ok bool) {
	st := scanState{fieldAt: 1, end: -1}
	ends := r.ends[:0]
	for st.base < len(data) && st.end < 0 {
		if cap(ends)-len(ends) < 64 {
			ends = slices.Grow(ends, 64+len(ends))
		}
		base := st.base
		ends = ends[:len(ends)+scanBlocks(data, ends[len(ends):cap(ends)], &st)]
		if st.base != base || st.end >= 0 {
			continue
		}
		var b *[64]byte
		if len(data)-st.base >= 64 {
			b = (*[64]byte)(data[st.base:])
		} else {
			// Zeros, unlike the stale bytes after data, are none of the four.
			var tail [64]byte
			copy(tail[:], data[st.base:])
			b = &tail
		}
		qm, cm, nm, rm := classify(b)
		ends = st.block(qm, cm, nm, rm, ends)
	}
	r.ends = ends
	if st.end < 0 {
		return -1, false
	}
	end = st.end
	e := end
	x, carry := st.x, st.carry
	// The terminator's '\r' and a quote before the terminator are no strays; they lie
	// at most two bytes back, in carry when before the terminator's block.
	if e > 0 && data[e-1] == '\r' {
		e--
		x, carry = explain(x, carry, e-st.base)
	}
	if e > 0 && data[e-1] == '"' {
		x, carry = explain(x, carry, e-1-st.base)
	}
	if st.stray|carry|x != 0 {
		return end, r.splitEscaped(data[:e], ends)
	}
	if r.cols != nil {
		r.fields = pickFields(r.fields, data, ends, e, r.cols)
	} else {
		r.fields = appendFields(r.fields[:0], data, ends, e)
	}
	return end, true
}

// splitEscaped splits rec, a record without its terminator whose field ends are ends
// but which is not simple, into r.fields when what makes it not simple is only escaped
// quotes: quoted fields that hold quotes in pairs, each pair one quote of the field
// (Chicago's SODA export has them in every record). It reports false, leaving the
// record to parse, when the record holds any other quote or a '\r'.
func (r *Reader) splitEscaped(rec []byte, ends []int32) bool {
	if bytes.IndexByte(rec, '\r') >= 0 {
		return false
	}
	quotes := bytes.Count(rec, quote) // those the fields do not explain yet
	r.fields, r.scratch = r.fields[:0], r.scratch[:0]
	start := 0
	for i := 0; i <= len(ends); i++ {
		p := len(rec)
		if i < len(ends) {
			p = int(ends[i])
		}
		f := rec[start:p:p]
		start = p + 1
		if len(f) == 0 || f[0] != '"' {
			r.fields = append(r.fields, f)
			continue
		}
		if len(f) < 2 || f[len(f)-1] != '"' {
			return false
		}
		quotes -= 2
		f = f[1 : len(f)-1 : len(f)-1]
		k := bytes.IndexByte(f, '"')
		if k < 0 {
			r.fields = append(r.fields, f)
			continue
		}
		from := len(r.scratch)
		for k >= 0 {
			if k+1 == len(f) || f[k+1] != '"' {
				return false
			}
			r.scratch = append(r.scratch, f[:k+1]...)
			quotes -= 2
			f = f[k+2:]
			k = bytes.IndexByte(f, '"')
		}
		r.scratch = append(r.scratch, f...)
		r.fields = append(r.fields, r.scratch[from:len(r.scratch):len(r.scratch)])
	}
	return quotes == 0
}

// scanState is the state of scanFast's block loop between blocks.
type scanState struct {
	base    int    // offset of the next block in the record
	inside  uint64 // all ones when the block starts inside quotes
	fieldAt uint64 // 1 when the block starts a field
	stray   uint64 // the quotes that neither start nor end a field, and the '\r's
	carry   uint64 // stray's bits of the previous block's last two bytes, not yet final
	x       uint64 // the stray bits of the terminator's block, when end >= 0
	end     int    // the offset of the terminator, or -1 before it is found
}

// block advances st over the block at st.base, whose masks classify returned, and
// appends the offsets of its separators outside quotes to ends. It stops at the
// terminator, setting st.end and st.x and leaving st.base at its block.
func (st *scanState) block(qm, cm, nm, rm uint64, ends []int32) []int32 {
	in := prefixXOR(qm) ^ st.inside
	st.inside = uint64(int64(in) >> 63)
	seps := cm &^ in
	stop := nm &^ in
	if stop != 0 {
		before := uint64(1)<<bits.TrailingZeros64(stop) - 1
		seps, qm, rm = seps&before, qm&before, rm&before
	}
	x := qm&^(seps<<1|st.fieldAt|seps>>1) | rm
	st.carry &^= seps << 63 // a separator at bit 0 ends a field at the previous byte
	st.fieldAt = seps >> 63
	for ; seps != 0; seps &= seps - 1 {
		ends = append(ends, int32(st.base+bits.TrailingZeros64(seps)))
	}
	if stop == 0 {
		// The last two bytes may yet turn out to end the record: a quote before
		// "\r\n" whose '\n' starts the next block.
		st.stray |= st.carry | x&^(3<<62)
		st.carry = x & (3 << 62)
		st.base += 64
		return ends
	}
	st.x = x
	st.end = st.base + bits.TrailingZeros64(stop)
	return ends
}

// appendFields appends to fields the fields of data that end at the offsets ends and
// at e, the last, unquoting those that start with a quote.
func appendFields(fields [][]byte, data []byte, ends []int32, e int) [][]byte {
	n := len(fields)
	fields = slices.Grow(fields, len(ends)+1)[:n+len(ends)+1]
	out := fields[n : n+len(ends)]
	start := 0
	for i, p := range ends {
		o := 0
		if data[start] == '"' {
			o = 1
		}
		q := int(p) - o
		out[i] = data[start+o : q : q]
		start = int(p) + 1
	}
	o := 0
	if data[start] == '"' {
		o = 1
	}
	fields[len(fields)-1] = data[start+o : e-o : e-o]
	return fields
}

// pickFields is appendFields into fields[:0] for the fields cols lists (sorted), whatever
// their number: the other entries keep what they held, or nil.
func pickFields(fields [][]byte, data []byte, ends []int32, e int, cols []int32) [][]byte {
	n := len(ends) + 1
	fields = slices.Grow(fields[:0], n)[:n]
	for _, c := range cols {
		if int(c) >= n {
			break // this record has fewer fields; its caller sees their count
		}
		start, end := 0, e
		if c > 0 {
			start = int(ends[c-1]) + 1
		}
		if int(c) < len(ends) {
			end = int(ends[c])
		}
		o := 0
		if data[start] == '"' {
			o = 1
		}
		fields[c] = data[start+o : end-o : end-o]
	}
	return fields
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
