package csvsplit

import "math/bits"

// scanFast finds the end of the record that starts at data[0] and splits the record
// into r.fields in the same pass, 64 bytes at a time: classify gives the block's
// quote, comma and newline masks, the prefix XOR of the quote mask gives the quote
// state at every byte, and the commas and newlines outside quotes are the field and
// record ends. It takes the fields only from a simple record, one whose fields are all
// either free of quotes or quoted with no quote inside, and which holds no '\r' but
// its terminator's; parse would split it the same way, and almost every record of a
// 311 export is simple. It returns the index of the record's terminating '\n' (-1
// when data holds none), the record's quote count, whether it holds a '\n' inside
// quotes (as recordEnd does) and whether r.fields holds its fields.
func (r *Reader) scanFast(data []byte) (end, quotes int, multi, ok bool) {
	fields := r.fields[:0]
	var tail [64]byte
	var inside uint64 // all ones when the block starts inside quotes
	var crs, quoted int
	start := 0 // of the current field
	simple := true
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
			seps, qm, nm, rm = seps&before, qm&before, nm&before, rm&before
		}
		quotes += bits.OnesCount64(qm)
		crs += bits.OnesCount64(rm)
		multi = multi || nm != 0
		for seps != 0 {
			p := base + bits.TrailingZeros64(seps)
			seps &= seps - 1
			f := data[start:p:p]
			if len(f) > 0 && f[0] == '"' {
				quoted++
				if len(f) < 2 || f[len(f)-1] != '"' {
					simple = false
				} else {
					f = f[1 : len(f)-1 : len(f)-1]
				}
			}
			fields = append(fields, f)
			start = p + 1
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
		f := data[start:e:e]
		if len(f) > 0 && f[0] == '"' {
			quoted++
			if len(f) < 2 || f[len(f)-1] != '"' {
				simple = false
			} else {
				f = f[1 : len(f)-1 : len(f)-1]
			}
		}
		r.fields = append(fields, f)
		// Each quoted field holds at least its two delimiting quotes, so a count of
		// exactly two per quoted field leaves no quote anywhere else.
		return end, quotes, multi, simple && crs == 0 && quotes == 2*quoted
	}
	r.fields = fields
	return -1, quotes, multi, false
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
