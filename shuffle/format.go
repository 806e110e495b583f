package shuffle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/klauspost/compress/s2"

	"github.com/ireports/ireports/record"
)

// A map output file:
//
//	header   8 bytes: magic
//	segment  × R, back to back from offset 8; segment r holds reducer r's rows
//	index    uvarint R, then per segment: uvarint Offset, Length, Records, RawBytes; uint32 CRC
//	trailer  16 bytes: uint32 index length, uint32 CRC-32C of the index, magic
//
// A segment is a run of blocks. A block is 12 bytes of header — uint32 uncompressed length,
// uint32 compressed length, uint32 CRC-32C of the compressed bytes — and the rows, whole,
// compressed with s2 (block format). A block's checksum is verified before any of its rows is
// decoded, so a reader never yields a record from damaged bytes; the segment's checksum (over
// all its bytes), record count and uncompressed size are verified at its end, which catches a
// truncated or re-ordered segment. Integers in headers and trailers are little-endian.
//
// s2 rather than zstd: on blocks of real 311 rows s2 compresses 2.1× (2.5× over whole map
// outputs), zstd's fastest level only 15% better, but s2 encodes 7× and decodes 4–5× faster
// (1.2 GB/s and 4 GB/s on one core) — and a shuffle on a loaded worker is bound by CPU far
// more often than by a LAN (BenchmarkBlockCodec measures all three candidates).
const (
	// magic opens and closes every map output; its last two bytes are the format version.
	magic        = "IRSHUF\x00\x01"
	magicPrefix  = "IRSHUF"
	headerLen    = len(magic)
	trailerLen   = 8 + len(magic)
	blockHdrLen  = 12
	minRowLen    = nStrings + 2 + 3 + 1 + 2 // every field at its shortest
	minSegEncLen = 4 + 4                    // four 1-byte uvarints and a CRC

	// blockSize is the target uncompressed size of a block: large enough for s2 to find
	// the repetition between rows of one city, small enough that a reducer merging hundreds
	// of segments holds a modest buffer per segment: a reducer holds one block per map
	// output, and the map outputs grow with the input (380 of them for 20 GB at 64 MiB a
	// split). Halving it from 128 KiB made segments about 3 % larger on sorted real rows.
	blockSize = 64 << 10

	// maxBlock bounds the uncompressed size of a block a reader accepts. A block holds rows
	// up to blockSize, or a single row of up to maxRow.
	maxBlock = maxRow + blockSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Segment locates and describes one reducer's part of a map output.
type Segment struct {
	Offset   int64  // byte offset of the segment in the map output file
	Length   int64  // bytes on disk (compressed, with block headers)
	Records  int64  // rows in the segment
	RawBytes int64  // total encoded row bytes before compression
	CRC      uint32 // CRC-32C (Castagnoli) of the segment's Length bytes
}

// Index is the footer of a map output: Segments[r] belongs to reducer r.
type Index struct {
	Segments []Segment
}

// Records returns the number of rows in all segments.
func (x Index) Records() int64 {
	var n int64
	for _, s := range x.Segments {
		n += s.Records
	}
	return n
}

func appendIndex(dst []byte, x Index) []byte {
	start := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(x.Segments)))
	for _, s := range x.Segments {
		dst = binary.AppendUvarint(dst, uint64(s.Offset))
		dst = binary.AppendUvarint(dst, uint64(s.Length))
		dst = binary.AppendUvarint(dst, uint64(s.Records))
		dst = binary.AppendUvarint(dst, uint64(s.RawBytes))
		dst = binary.LittleEndian.AppendUint32(dst, s.CRC)
	}
	body := dst[start:]
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(body, castagnoli))
	return append(dst, magic...)
}

func checkMagic(b []byte, where string) error {
	if string(b) == magic {
		return nil
	}
	if string(b[:len(magicPrefix)]) == magicPrefix {
		return fmt.Errorf("%w: %s: version %d, want %d", ErrVersion, where,
			binary.BigEndian.Uint16(b[len(magicPrefix):]), binary.BigEndian.Uint16([]byte(magic[len(magicPrefix):])))
	}
	return fmt.Errorf("%w: %s: not a shuffle map output (bad magic)", ErrCorrupt, where)
}

// readFullAt is ReadAt that turns a short read into ErrCorrupt: the caller's size claimed
// bytes the file does not have.
func readFullAt(f io.ReaderAt, b []byte, off int64, what string) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s at offset %d: short read (%d of %d bytes)", ErrCorrupt, what, off, n, len(b))
	}
	return fmt.Errorf("shuffle: read %s at offset %d: %w", what, off, err)
}

// ReadIndex reads and validates the index of the map output f of size bytes. Every segment
// it returns lies inside the file, and the segments tile the space between header and index.
// A damaged file yields an error wrapping ErrCorrupt (or ErrVersion).
func ReadIndex(f io.ReaderAt, size int64) (Index, error) {
	if size < int64(headerLen+trailerLen) {
		return Index{}, fmt.Errorf("%w: map output of %d bytes is shorter than header and trailer", ErrCorrupt, size)
	}
	var hdr [headerLen]byte
	if err := readFullAt(f, hdr[:], 0, "header"); err != nil {
		return Index{}, err
	}
	if err := checkMagic(hdr[:], "header"); err != nil {
		return Index{}, err
	}
	var tr [trailerLen]byte
	trOff := size - int64(trailerLen)
	if err := readFullAt(f, tr[:], trOff, "trailer"); err != nil {
		return Index{}, err
	}
	if err := checkMagic(tr[8:], "trailer"); err != nil {
		return Index{}, err
	}
	bodyLen := int64(binary.LittleEndian.Uint32(tr[0:]))
	bodyCRC := binary.LittleEndian.Uint32(tr[4:])
	bodyOff := trOff - bodyLen
	if bodyOff < int64(headerLen) {
		return Index{}, fmt.Errorf("%w: index length %d exceeds the file", ErrCorrupt, bodyLen)
	}
	body := make([]byte, bodyLen)
	if err := readFullAt(f, body, bodyOff, "index"); err != nil {
		return Index{}, err
	}
	if got := crc32.Checksum(body, castagnoli); got != bodyCRC {
		return Index{}, fmt.Errorf("%w: index at offset %d: checksum %08x, want %08x", ErrCorrupt, bodyOff, got, bodyCRC)
	}
	x, err := parseIndex(body, bodyOff)
	if err != nil {
		return Index{}, fmt.Errorf("index at offset %d: %w", bodyOff, err)
	}
	return x, nil
}

// parseIndex decodes an index body; end is where the segments must stop (the index offset).
func parseIndex(body []byte, end int64) (Index, error) {
	pos := 0
	next := func(what string, i int) (int64, error) {
		v, n := binary.Uvarint(body[pos:])
		if n <= 0 || v > math.MaxInt64 {
			return 0, fmt.Errorf("%w: segment %d: %s at byte %d", ErrCorrupt, i, what, pos)
		}
		pos += n
		return int64(v), nil
	}
	count, err := next("count", -1)
	if err != nil {
		return Index{}, err
	}
	if count < 1 || count > int64(len(body)/minSegEncLen) {
		return Index{}, fmt.Errorf("%w: %d segments in a %d-byte index", ErrCorrupt, count, len(body))
	}
	x := Index{Segments: make([]Segment, count)}
	at := int64(headerLen)
	for i := range x.Segments {
		s := &x.Segments[i]
		for _, f := range []struct {
			name string
			dst  *int64
		}{{"offset", &s.Offset}, {"length", &s.Length}, {"records", &s.Records}, {"raw bytes", &s.RawBytes}} {
			if *f.dst, err = next(f.name, i); err != nil {
				return Index{}, err
			}
		}
		if len(body)-pos < 4 {
			return Index{}, fmt.Errorf("%w: segment %d: CRC at byte %d", ErrCorrupt, i, pos)
		}
		s.CRC = binary.LittleEndian.Uint32(body[pos:])
		pos += 4
		switch {
		case s.Offset != at || s.Length > end-at:
			return Index{}, fmt.Errorf("%w: segment %d: bytes [%d, +%d) do not follow the previous segment at %d within %d",
				ErrCorrupt, i, s.Offset, s.Length, at, end)
		case s.Records > s.RawBytes/minRowLen || (s.Length == 0) != (s.RawBytes == 0):
			return Index{}, fmt.Errorf("%w: segment %d: %d records in %d raw bytes and %d stored bytes",
				ErrCorrupt, i, s.Records, s.RawBytes, s.Length)
		}
		at += s.Length
	}
	if at != end || pos != len(body) {
		return Index{}, fmt.Errorf("%w: segments end at %d, index starts at %d (%d trailing index bytes)",
			ErrCorrupt, at, end, len(body)-pos)
	}
	return x, nil
}

// SegmentReader decodes the rows of one segment from a stream, verifying as it goes. It is
// a Source. It reads exactly Segment.Length bytes and does not close the stream.
type SegmentReader struct {
	r   io.Reader
	seg Segment

	read     int64   // segment bytes consumed
	crc      uint32  // running CRC-32C of the consumed bytes
	records  int64   // rows decoded
	rawBytes int64   // uncompressed bytes of the blocks read
	block    []byte  // current uncompressed block
	pos      int     // next row in block
	comp     *[]byte // compressed block buffer, reused: own, or shared (see share)
	own      []byte
	hdr      [blockHdrLen]byte
	in       interner
	err      error // sticky
}

// readerShare is what the SegmentReaders merged by one Input share, because a Merger reads
// its sources one at a time: the buffer a compressed block is read into (it is decoded at
// once) and the interner's table. Each reader keeps only its uncompressed block, so a
// reducer merging hundreds of map outputs holds one block per map output and one
// compressed block, not two blocks and an interner per map output.
type readerShare struct {
	comp   []byte
	intern map[string]string
}

// sharedInternMax bounds a shared interner table: it serves every map output of a
// reducer, whose cities together have more distinct values than one map output's.
const sharedInternMax = 1 << 15

// share makes s use the buffer and the interner table of sh.
func (s *SegmentReader) share(sh *readerShare) {
	if sh.intern == nil {
		sh.intern = make(map[string]string)
	}
	s.comp, s.in.m, s.in.max = &sh.comp, sh.intern, sharedInternMax
}

var _ Source = (*SegmentReader)(nil)

// NewSegmentReader returns a reader of the segment seg, whose Length bytes r yields.
func NewSegmentReader(r io.Reader, seg Segment) *SegmentReader {
	s := &SegmentReader{r: r, seg: seg}
	s.comp = &s.own
	return s
}

// Next decodes the next row into rec. It returns io.EOF after the last row, once the
// segment's checksum, record count and size have been verified; an error wrapping ErrCorrupt
// if the segment is damaged or short; or the stream's own error, wrapped. Errors are sticky.
// Strings of rec stay valid after later calls.
func (s *SegmentReader) Next(rec *record.Request) error {
	if s.err != nil {
		return s.err
	}
	for s.pos >= len(s.block) {
		if err := s.nextBlock(); err != nil {
			s.err = err
			return err
		}
	}
	n, err := decodeRow(s.block[s.pos:], rec, &s.in)
	if err != nil {
		s.err = fmt.Errorf("segment at offset %d: block ending at segment byte %d: row at block byte %d: %w",
			s.seg.Offset, s.read, s.pos, err)
		return s.err
	}
	s.pos += n
	s.records++
	return nil
}

func (s *SegmentReader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: segment at offset %d, byte %d: %s", ErrCorrupt, s.seg.Offset, s.read, fmt.Sprintf(format, args...))
}

// nextBlock loads the next block, or verifies the segment and returns io.EOF at its end.
func (s *SegmentReader) nextBlock() error {
	left := s.seg.Length - s.read
	if left == 0 {
		switch {
		case s.crc != s.seg.CRC:
			return s.corrupt("checksum %08x, want %08x", s.crc, s.seg.CRC)
		case s.records != s.seg.Records || s.rawBytes != s.seg.RawBytes:
			return s.corrupt("%d records in %d bytes, index says %d in %d", s.records, s.rawBytes, s.seg.Records, s.seg.RawBytes)
		}
		return io.EOF
	}
	if left < blockHdrLen {
		return s.corrupt("%d bytes left, too few for a block", left)
	}
	if err := s.readFull(s.hdr[:]); err != nil {
		return err
	}
	rawLen := int64(binary.LittleEndian.Uint32(s.hdr[0:]))
	compLen := int64(binary.LittleEndian.Uint32(s.hdr[4:]))
	blockCRC := binary.LittleEndian.Uint32(s.hdr[8:])
	s.crc = crc32.Update(s.crc, castagnoli, s.hdr[:])
	s.read += blockHdrLen
	switch {
	case rawLen == 0 || rawLen > maxBlock || rawLen > s.seg.RawBytes-s.rawBytes:
		return s.corrupt("block of %d uncompressed bytes (%d of %d read)", rawLen, s.rawBytes, s.seg.RawBytes)
	case compLen == 0 || compLen > left-blockHdrLen:
		return s.corrupt("block of %d compressed bytes with %d left", compLen, left-blockHdrLen)
	}
	if int64(cap(*s.comp)) < compLen {
		*s.comp = make([]byte, compLen)
	}
	comp := (*s.comp)[:compLen]
	if err := s.readFull(comp); err != nil {
		return err
	}
	s.crc = crc32.Update(s.crc, castagnoli, comp)
	s.read += compLen
	if got := crc32.Checksum(comp, castagnoli); got != blockCRC {
		return s.corrupt("block checksum %08x, want %08x", got, blockCRC)
	}
	if n, err := s2.DecodedLen(comp); err != nil || int64(n) != rawLen {
		return s.corrupt("block decodes to %d bytes (%v), header says %d", n, err, rawLen)
	}
	// Reusing the block buffer is safe: decodeRow copies every string out of it.
	if int64(cap(s.block)) < rawLen {
		s.block = make([]byte, rawLen)
	}
	block, err := s2.Decode(s.block[:rawLen], comp)
	if err != nil {
		return s.corrupt("block: %v", err)
	}
	s.block, s.pos = block, 0
	s.rawBytes += rawLen
	return nil
}

func (s *SegmentReader) readFull(b []byte) error {
	_, err := io.ReadFull(s.r, b)
	switch {
	case err == nil:
		return nil
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// The stream ended cleanly before the index's Length: the segment is short.
		// Identity, not errors.Is: a fetcher's wrapped transport error stays what it is.
		return s.corrupt("truncated: stream ended %d bytes early", s.seg.Length-s.read)
	}
	return fmt.Errorf("segment at offset %d, byte %d: %w", s.seg.Offset, s.read, err)
}
