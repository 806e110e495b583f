package shuffle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"
)

// A Writer that spilled merges its runs row by row without decoding them: a row's bytes are
// what AppendRequest would write for its decoded record, so the rows are compared on the
// fields Compare reads (rowKey) and copied. Decoding each row into a record.Request, its
// strings interned, and encoding it again took over half of BenchmarkWriterSpill/spill.

// rowKey holds the fields of a row that Compare orders by, the strings as offsets in the row.
type rowKey struct {
	city, cityLen int
	id, idLen     int
	year, month   int64
	updated       int64 // sortTime(UpdatedAt)
	ord           uint64
}

// zeroTimeMicros is the wire form of a time that decodes as the zero time.Time, which
// sortTime orders with null.
var zeroTimeMicros = time.Time{}.UnixMicro()

// scanRow reads the row at the start of src into k and returns its length. It accepts what
// decodeRow accepts, and fails as it does, without copying the strings out.
func scanRow(src []byte, k *rowKey) (int, error) {
	pos := 0
	var lens [nStrings]uint64
	for i := range lens {
		v, n := binary.Uvarint(src[pos:])
		if n <= 0 {
			return 0, corruptRow(lengthNames[i], pos)
		}
		lens[i] = v
		pos += n
	}
	var ints [5]int64
	for i, name := range [...]string{"Year", "Month", "CreatedAt", "ClosedAt", "UpdatedAt"} {
		v, n := binary.Varint(src[pos:])
		if n <= 0 {
			return 0, corruptRow(name, pos)
		}
		ints[i] = v
		pos += n
	}
	for i, name := range [...]string{"Year", "Month"} {
		if ints[i] < math.MinInt32 || ints[i] > math.MaxInt32 {
			return 0, corruptRow(name, pos)
		}
	}
	ord, n := binary.Uvarint(src[pos:])
	if n <= 0 {
		return 0, corruptRow("Ord", pos)
	}
	pos += n
	if len(src)-pos < 2 {
		return 0, corruptRow("Status", pos)
	}
	flags := src[pos+1]
	if flags&^flagLocation != 0 {
		return 0, corruptRow("flags", pos+1)
	}
	pos += 2
	if flags&flagLocation != 0 {
		if len(src)-pos < 16 {
			return 0, corruptRow("Latitude", pos)
		}
		pos += 16
	}
	total, err := boundStrings(&lens, src, pos)
	if err != nil {
		return 0, err
	}
	updated := wireUpdated(ints[4])
	*k = rowKey{
		city: pos, cityLen: int(lens[fCity]),
		id: pos + int(lens[fCity]), idLen: int(lens[fRequestID]),
		year: ints[0], month: ints[1], updated: updated, ord: ord,
	}
	return pos + total, nil
}

// wireUpdated returns the wire form v of an UpdatedAt as Compare orders it: a null time, and
// one that decodes as the zero time (year 1 with only nanoseconds), come first.
func wireUpdated(v int64) int64 {
	if v == 0 || v == zeroTimeMicros {
		return math.MinInt64
	}
	return v
}

// boundStrings returns the bytes of a row's strings, whose lengths are lens, starting at pos of
// src, or an error naming the first field that runs past src's end. Every length is bounded
// by what is left before it is added, so the sum cannot overflow.
func boundStrings(lens *[nStrings]uint64, src []byte, pos int) (int, error) {
	left := uint64(len(src) - pos)
	var total uint64
	for i, l := range lens {
		if l > left-total {
			return 0, corruptRow(fieldNames[i], pos+int(total))
		}
		total += l
	}
	return int(total), nil
}

// cmpRows orders rows a and b, whose keys are ka and kb, as Compare orders their records.
func cmpRows(a []byte, ka *rowKey, b []byte, kb *rowKey) int {
	if c := bytes.Compare(a[ka.city:ka.city+ka.cityLen], b[kb.city:kb.city+kb.cityLen]); c != 0 {
		return c
	}
	if c := cmpInt(ka.year, kb.year); c != 0 {
		return c
	}
	if c := cmpInt(ka.month, kb.month); c != 0 {
		return c
	}
	if c := bytes.Compare(a[ka.id:ka.id+ka.idLen], b[kb.id:kb.id+kb.idLen]); c != 0 {
		return c
	}
	if c := cmpInt(ka.updated, kb.updated); c != 0 {
		return c
	}
	return cmpInt(ka.ord, kb.ord)
}

// nextRow returns the next row and its key, or io.EOF after the last row, as Next does.
// The row is valid until the next call.
func (s *SegmentReader) nextRow(k *rowKey) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	for s.pos >= len(s.block) {
		if err := s.nextBlock(); err != nil {
			s.err = err
			return nil, err
		}
	}
	n, err := scanRow(s.block[s.pos:], k)
	if err != nil {
		s.err = fmt.Errorf("segment at offset %d: block ending at segment byte %d: row at block byte %d: %w",
			s.seg.Offset, s.read, s.pos, err)
		return nil, s.err
	}
	row := s.block[s.pos : s.pos+n]
	s.pos += n
	s.records++
	return row, nil
}

// runCursor is a run's segment in a raw merge, at its smallest unwritten row.
type runCursor struct {
	r   *SegmentReader
	row []byte
	k   rowKey
	idx int // the run's number: equal rows are written from the lower first
}

func (a *runCursor) less(b *runCursor) bool {
	if c := cmpRows(a.row, &a.k, b.row, &b.k); c != 0 {
		return c < 0
	}
	return a.idx < b.idx
}

// mergeSegment writes the merge of srcs, one reducer's segments of every run in run order,
// as one segment: the rows Merger would yield, in blocks as writeSegment cuts them. A run
// that is not sorted is an ErrCorrupt error.
func (w *Writer) mergeSegment(cw *crcWriter, srcs []*SegmentReader) (Segment, error) {
	seg := Segment{Offset: cw.n}
	cw.crc = 0
	w.block = w.block[:0]
	curs := make([]runCursor, len(srcs))
	heap := make([]*runCursor, 0, len(srcs))
	for i, r := range srcs {
		c := &curs[i]
		c.r, c.idx = r, i
		row, err := r.nextRow(&c.k)
		if err == io.EOF {
			continue
		}
		if err != nil {
			return Segment{}, fmt.Errorf("spill %s: run %d: %w", w.spill.Name(), i, err)
		}
		c.row = row
		heap = append(heap, c)
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		downCursors(heap, i)
	}
	for len(heap) > 0 {
		top := heap[0]
		if len(w.block) > 0 && len(w.block)+len(top.row) > blockSize {
			if err := w.flushBlock(cw); err != nil {
				return Segment{}, err
			}
		}
		start := len(w.block)
		w.block = append(w.block, top.row...)
		seg.Records++
		seg.RawBytes += int64(len(top.row))
		// The row written, in the block, is what the run's next row must not precede: the
		// run's own copy may be overwritten by its next block.
		prev, pk := w.block[start:], top.k
		row, err := top.r.nextRow(&top.k)
		switch {
		case err == io.EOF:
			last := len(heap) - 1
			heap[0] = heap[last]
			heap = heap[:last]
		case err != nil:
			return Segment{}, fmt.Errorf("spill %s: run %d: %w", w.spill.Name(), top.idx, err)
		default:
			if cmpRows(row, &top.k, prev, &pk) < 0 {
				return Segment{}, fmt.Errorf("%w: spill %s: run %d: row %d precedes the row before it",
					ErrCorrupt, w.spill.Name(), top.idx, top.r.records)
			}
			top.row = row
		}
		if len(heap) > 0 {
			downCursors(heap, 0)
		}
	}
	if len(w.block) > 0 {
		if err := w.flushBlock(cw); err != nil {
			return Segment{}, err
		}
	}
	seg.Length = cw.n - seg.Offset
	seg.CRC = cw.crc
	return seg, nil
}

// downCursors restores the heap property of h below i.
func downCursors(h []*runCursor, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h[r].less(h[l]) {
			c = r
		}
		if !h[c].less(h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
