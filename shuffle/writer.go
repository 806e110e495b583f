package shuffle

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/klauspost/compress/s2"

	"github.com/ireports/ireports/record"
)

// DefaultSpillBytes is WriterConfig.SpillBytes when it is 0. A map task of the default
// 64 MiB split held at most 42 MiB on the 4 GB ten-city corpus and 45 MiB on the 8 GB one
// (~27 MiB of rows, and entries whose slices a reused Writer keeps at each partition's
// largest), so it is written from memory, without the merge's second pass over its rows,
// which adds three quarters of the Writer's CPU (BenchmarkWriterSpill); a larger task (a
// gzip file, a larger split_size) spills.
const DefaultSpillBytes = 48 << 20

// chunkSize is the size of the buffers that hold a Writer's encoded rows. Rows are packed
// into chunks that never move, rather than into one buffer per partition grown by doubling,
// so a Writer holds what it was given plus at most one partly filled chunk per partition,
// and the chunks a task filled serve any partition of the next task.
const chunkSize = 64 << 10

// entrySize is the memory of one sort entry.
const entrySize = int64(unsafe.Sizeof(entry{}))

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Reducers is the number of reducers the Writer partitions for; at least 1.
	Reducers int

	// SpillBytes bounds the memory a Writer holds, in bytes: its encoded rows, their sort
	// entries and its idle buffers. When a row would take it past this, the Writer sorts
	// what it holds and writes it as a run to a file in SpillDir; WriteFile then merges the
	// runs. 0 means DefaultSpillBytes; the smallest effective value is 1 MiB.
	SpillBytes int64

	// SpillDir is where runs are written; "" means os.TempDir(). A run file is removed by
	// Reset; a process that dies leaves it behind, so give a directory that is cleaned
	// (a worker uses its job's map output directory).
	SpillDir string
}

// minSpillBytes keeps a tiny SpillBytes from spilling a run per row.
const minSpillBytes = 1 << 20

// Writer accumulates the output of one map task and writes it as one map output file.
//
// Add encodes each record at once into its reducer's chunks and keeps a 40-byte sort entry
// for it: about 125 bytes a row on the real exports, where a record.Request alone is over
// 250 bytes before its strings. What a Writer holds never exceeds WriterConfig.SpillBytes
// (plus one chunk): beyond it, the rows held are sorted and written to disk as a run, and
// WriteFile merges the runs, so a map task's memory does not grow with its input (a gzip
// file is one task whatever its size). Records are sorted only when written.
//
// A Writer is not safe for concurrent use. WriteFile may be called again after more Adds
// (it writes everything added so far); Reset empties the Writer, removes its runs and keeps
// its buffers for the next task.
type Writer struct {
	cfg      WriterConfig
	parts    []partition
	entBytes int64                 // the capacity of the partitions' entries, in bytes
	free     [][]byte              // empty chunks
	chunks   int64                 // bytes of chunks held, in use or free
	keys     map[record.Key]uint32 // distinct keys seen → index into keyList
	keyList  []keyInfo
	records  int64
	rawBytes int64
	records0 int64  // records held in memory, not spilled
	lastKey  uint32 // the key of the last row added, if hasLast
	hasLast  bool

	// The runs spilled since Reset: one file, each run's segments at absolute offsets.
	spill  *os.File
	spillN int64
	runs   []Index

	// Scratch, kept across calls.
	row   []byte
	rank  []uint32
	order []uint32
	ties  []tieEntry
	block []byte
	comp  []byte
	out   []byte
	merge runWriter
}

type keyInfo struct {
	key  record.Key
	part int
}

// partition holds one reducer's encoded rows, in arrival order: chunks of chunkSize, only
// the last of which has room, or larger ones of a single row; and their sort entries, in
// arrival order until sorted. (One slice of every partition's entries would share its
// growth, but grouping it by partition in place scrambles the arrival order, which exports
// sorted by date or id make nearly sorted: the sort's comparisons took 1.8× the time in a
// profile of BenchmarkWriterReuse.)
type partition struct {
	chunks [][]byte
	ents   []entry
}

// entry is a row's sort key and location. A row lies in one chunk of its partition.
//
// The sort compares the key's rank and the first 16 bytes of the RequestID as integers, and
// reads the rest of a longer RequestID from its chunk only when those tie; UpdatedAt and
// Ord, which decide only between rows of one RequestID, are read from the rows afterwards
// (sortEntries). (Comparing the ID in the chunk, with UpdatedAt and Ord held in the entry,
// took half the sort's time looking up rows.)
type entry struct {
	idPfx [2]uint64 // the RequestID's first 16 bytes, big-endian, zero-padded
	key   uint32    // index into keyList and rank; the key's rank while sorting
	chunk uint32    // index into its partition's chunks
	off   uint32    // row offset in the chunk
	n     uint32    // row length
	id    uint32    // offset of the RequestID bytes in the chunk
	idLen uint32
}

// idPfxLen is the number of RequestID bytes an entry holds.
const idPfxLen = 16

// idPrefix returns the first idPfxLen bytes of id as two big-endian integers, zero-padded:
// comparing them orders ids as bytes.Compare does, except that ids equal on those bytes, or
// differing only by trailing zero bytes, compare equal.
func idPrefix(id string) [2]uint64 {
	var b [idPfxLen]byte
	copy(b[:], id)
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// NewWriter returns an empty Writer for a job with the given number of reducers, spilling
// at DefaultSpillBytes into os.TempDir().
func NewWriter(reducers int) (*Writer, error) {
	return NewWriterConfig(WriterConfig{Reducers: reducers})
}

// NewWriterConfig returns an empty Writer configured by cfg.
func NewWriterConfig(cfg WriterConfig) (*Writer, error) {
	if cfg.Reducers < 1 || cfg.Reducers > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d reducers", ErrReducers, cfg.Reducers)
	}
	if cfg.SpillBytes < 0 {
		return nil, fmt.Errorf("shuffle: writer: SpillBytes %d is negative", cfg.SpillBytes)
	}
	return &Writer{
		cfg:   cfg,
		parts: make([]partition, cfg.Reducers),
		keys:  make(map[record.Key]uint32),
	}, nil
}

// Config returns the configuration the Writer was made with.
func (w *Writer) Config() WriterConfig { return w.cfg }

// Reducers returns the number of reducers the Writer partitions for.
func (w *Writer) Reducers() int { return w.cfg.Reducers }

// Records returns the number of records added since the Writer was created or Reset.
func (w *Writer) Records() int64 { return w.records }

// RawBytes returns the encoded size of the records added, before compression.
func (w *Writer) RawBytes() int64 { return w.rawBytes }

// Runs returns the number of runs spilled to disk since the Writer was created or Reset.
func (w *Writer) Runs() int { return len(w.runs) }

// Held returns the bytes of memory the Writer holds for rows: its chunks, in use or free,
// and its sort entries' capacity. It stays within WriterConfig.SpillBytes plus one chunk
// (or one row larger than a chunk).
func (w *Writer) Held() int64 { return w.chunks + w.entBytes }

func (w *Writer) spillBytes() int64 {
	if w.cfg.SpillBytes == 0 {
		return DefaultSpillBytes
	}
	return max(w.cfg.SpillBytes, minSpillBytes)
}

// Reset empties the Writer, keeping its buffers, and removes its runs.
func (w *Writer) Reset() {
	w.clearRows()
	clear(w.keys)
	w.keyList = w.keyList[:0]
	w.hasLast = false
	w.records, w.rawBytes = 0, 0
	w.runs = w.runs[:0]
	if w.spill != nil {
		w.spill.Close()
		os.Remove(w.spill.Name())
		w.spill, w.spillN = nil, 0
	}
}

// clearRows forgets the rows held, keeping the chunks of standard size for reuse.
func (w *Writer) clearRows() {
	for i := range w.parts {
		p := &w.parts[i]
		for j, c := range p.chunks {
			if cap(c) == chunkSize {
				w.free = append(w.free, c[:0])
			} else {
				w.chunks -= int64(cap(c))
			}
			p.chunks[j] = nil
		}
		p.chunks = p.chunks[:0]
		p.ents = p.ents[:0]
	}
	w.records0 = 0
}

// Add encodes r into the partition of its key. It fails with ErrTooLarge, leaving the
// Writer unchanged, if the row exceeds 16 MiB; with an error of writing a run if it had to
// spill and could not.
func (w *Writer) Add(r *record.Request) error {
	strs := rowStrings(r)
	strLen := 0
	for _, s := range strs {
		strLen += len(s)
	}
	// A row is encoded in place when it surely fits a chunk, else first into w.row.
	var row []byte
	size := maxFixedLen + strLen
	if size > chunkSize {
		w.row = AppendRequest(w.row[:0], r)
		if len(w.row) > maxRow {
			return fmt.Errorf("%w: record %s/%s: %d-byte row", ErrTooLarge, r.Key(), r.RequestID, len(w.row))
		}
		row, size = w.row, len(w.row)
	}
	ki := w.keyIndex(r.Key())
	p := &w.parts[w.keyList[ki].part]
	if err := w.makeRoom(p, size); err != nil {
		return err
	}
	if len(p.chunks) == 0 || cap(p.chunks[len(p.chunks)-1])-len(p.chunks[len(p.chunks)-1]) < size {
		p.chunks = append(p.chunks, w.chunk(size))
	}
	ci := len(p.chunks) - 1
	c := p.chunks[ci]
	off := len(c)
	if row != nil {
		c = append(c, row...)
	} else {
		c = c[:off+putRequest(c[off:off+size], r, &strs)]
	}
	p.chunks[ci] = c
	n := len(c) - off
	// The strings are the row's tail, City first, RequestID second.
	c0 := cap(p.ents)
	p.ents = append(p.ents, entry{
		idPfx: idPrefix(r.RequestID),
		key:   ki,
		chunk: uint32(ci),
		off:   uint32(off),
		n:     uint32(n),
		id:    uint32(len(c) - strLen + len(r.City)),
		idLen: uint32(len(r.RequestID)),
	})
	w.entBytes += int64(cap(p.ents)-c0) * entrySize
	w.records++
	w.records0++
	w.rawBytes += int64(n)
	return nil
}

// keyIndex returns the index of k in keyList, adding it if new. Rows come in runs of one key
// (exports ordered by date), so the last key is checked before the map.
func (w *Writer) keyIndex(k record.Key) uint32 {
	if w.hasLast && k == w.keyList[w.lastKey].key {
		return w.lastKey
	}
	ki, ok := w.keys[k]
	if !ok {
		// Clone the city: the caller's string may share a large buffer we must not pin.
		k.City = strings.Clone(k.City)
		ki = uint32(len(w.keyList))
		w.keyList = append(w.keyList, keyInfo{key: k, part: Partition(k, w.cfg.Reducers)})
		w.keys[k] = ki
	}
	w.lastKey, w.hasLast = ki, true
	return ki
}

// makeRoom spills the rows held if a row of n bytes for partition p, its entry, and the
// chunk and entries' growth it may need would take the Writer past its SpillBytes.
func (w *Writer) makeRoom(p *partition, n int) error {
	need := w.chunks + w.entBytes
	if len(w.free) == 0 {
		need += max(chunkSize, int64(n))
	}
	if len(p.ents) == cap(p.ents) {
		need += int64(cap(p.ents)+8) * entrySize // what append's growth adds, at most
	}
	if need <= w.spillBytes() || w.records0 == 0 {
		return nil
	}
	return w.spillRun()
}

// chunk returns an empty chunk with room for n bytes.
func (w *Writer) chunk(n int) []byte {
	if n <= chunkSize {
		if k := len(w.free); k > 0 {
			c := w.free[k-1]
			w.free[k-1] = nil
			w.free = w.free[:k-1]
			return c
		}
		w.chunks += chunkSize
		return make([]byte, 0, chunkSize)
	}
	w.chunks += int64(n)
	return make([]byte, 0, n)
}

// spillRun sorts the rows held and appends them to the spill file as a run: one segment
// per reducer, whose Index is kept in memory.
func (w *Writer) spillRun() error {
	if w.spill == nil {
		f, err := os.CreateTemp(w.cfg.SpillDir, ".map-spill-*")
		if err != nil {
			return fmt.Errorf("shuffle: map output spill: %w", err)
		}
		w.spill, w.spillN = f, 0
	}
	bw := bufio.NewWriterSize(w.spill, 256<<10)
	cw := &crcWriter{w: bw, n: w.spillN}
	x, err := w.writeSegments(cw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("shuffle: map output spill %s: %w", w.spill.Name(), err)
	}
	w.spillN = cw.n
	w.runs = append(w.runs, x)
	w.clearRows()
	return nil
}

// WriteFile writes the map output to path atomically: to a temporary file in the same
// directory, renamed over path only when complete. It returns the index it wrote, which the
// map task reports to the coordinator.
func (w *Writer) WriteFile(path string) (x Index, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return Index{}, fmt.Errorf("shuffle: map output %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if x, err = w.writeTo(bw); err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return Index{}, fmt.Errorf("shuffle: map output %s: %w", path, err)
	}
	return x, nil
}

// writeTo writes the whole map output to dst: every partition sorted from memory, or,
// once the Writer has spilled, the rows held spilled too and every partition merged from
// the runs.
func (w *Writer) writeTo(dst io.Writer) (Index, error) {
	if len(w.runs) > 0 && w.records0 > 0 {
		if err := w.spillRun(); err != nil {
			return Index{}, err
		}
	}
	cw := &crcWriter{w: dst}
	if _, err := io.WriteString(cw, magic); err != nil {
		return Index{}, err
	}
	var x Index
	var err error
	if len(w.runs) == 0 {
		x, err = w.writeSegments(cw)
	} else {
		x, err = w.mergeRuns(cw)
	}
	if err != nil {
		return Index{}, err
	}
	w.out = appendIndex(w.out[:0], x)
	if _, err := cw.Write(w.out); err != nil {
		return Index{}, err
	}
	return x, nil
}

// writeSegments sorts the rows held and writes them as one segment per reducer.
func (w *Writer) writeSegments(cw *crcWriter) (Index, error) {
	w.rankKeys()
	x := Index{Segments: make([]Segment, len(w.parts))}
	for i := range w.parts {
		seg, err := w.writeSegment(cw, &w.parts[i])
		if err != nil {
			return Index{}, fmt.Errorf("segment %d: %w", i, err)
		}
		x.Segments[i] = seg
	}
	return x, nil
}

// mergeRuns writes each reducer's segment as the merge of its segments in every run. Runs
// are in arrival order and a Merger yields equal records from the lower-numbered source
// first, so the file is byte for byte the one the Writer would have written from memory.
func (w *Writer) mergeRuns(cw *crcWriter) (Index, error) {
	x := Index{Segments: make([]Segment, len(w.parts))}
	var share readerShare
	srcs := make([]Source, len(w.runs))
	for i := range w.parts {
		for j, run := range w.runs {
			seg := run.Segments[i]
			r := NewSegmentReader(io.NewSectionReader(w.spill, seg.Offset, seg.Length), seg)
			r.share(&share)
			srcs[j] = r
		}
		seg, srcErr, err := w.merge.write(context.Background(), cw, NewMerger(srcs))
		if srcErr != nil {
			err = fmt.Errorf("spill %s: %w", w.spill.Name(), srcErr)
		}
		if err != nil {
			return Index{}, fmt.Errorf("segment %d: %w", i, err)
		}
		x.Segments[i] = seg
	}
	return x, nil
}

// rankKeys numbers the distinct keys in Key order, so that sorting compares two integers
// where it would otherwise compare cities, years and months: w.rank maps a key's index to
// its rank, w.order a rank to the key's index.
func (w *Writer) rankKeys() {
	order := slices.Grow(w.order[:0], len(w.keyList))
	for i := range w.keyList {
		order = append(order, uint32(i))
	}
	slices.SortFunc(order, func(a, b uint32) int {
		ka, kb := w.keyList[a].key, w.keyList[b].key
		if ka.Less(kb) {
			return -1
		}
		if kb.Less(ka) {
			return 1
		}
		return 0
	})
	w.order = order
	w.rank = slices.Grow(w.rank[:0], len(order))[:len(order)]
	for r, i := range order {
		w.rank[i] = uint32(r)
	}
}

// sortEntries sorts p's entries into shuffle order (Compare), full ties in arrival order.
// It sorts by key, RequestID and arrival, which the entries hold, and then each run of rows
// sharing a key and RequestID, rare outside exports that repeat requests, by UpdatedAt, Ord
// and arrival, read from the rows once each: the same order as one sort by all of them,
// without reading rows inside the main sort's comparisons. The entries hold their keys'
// ranks while sorted, and their keys' indexes again after, since more rows may be added and
// ranked anew.
func (w *Writer) sortEntries(p *partition) {
	chunks, ents := p.chunks, p.ents
	for i := range ents {
		ents[i].key = w.rank[ents[i].key]
	}
	cmpEnt := func(a, b entry) int {
		if c := cmpKeyID(chunks, &a, &b); c != 0 {
			return c
		}
		if c := cmpInt(a.chunk, b.chunk); c != 0 {
			return c
		}
		return cmpInt(a.off, b.off)
	}
	// Exports sorted by id, or by a date that ids follow, often leave a partition sorted
	// already; checking costs one comparison a row, sorting at least that.
	if !slices.IsSortedFunc(ents, cmpEnt) {
		slices.SortFunc(ents, cmpEnt)
	}
	for i := 0; i < len(ents); {
		j := i + 1
		for j < len(ents) && cmpKeyID(chunks, &ents[i], &ents[j]) == 0 {
			j++
		}
		if j-i > 1 {
			w.sortTies(chunks, ents[i:j])
		}
		i = j
	}
	for i := range ents {
		ents[i].key = w.order[ents[i].key]
	}
}

// cmpKeyID compares two entries by key rank and RequestID.
func cmpKeyID(chunks [][]byte, a, b *entry) int {
	if a.key != b.key {
		return cmpInt(a.key, b.key)
	}
	if a.idPfx[0] != b.idPfx[0] {
		return cmpInt(a.idPfx[0], b.idPfx[0])
	}
	if a.idPfx[1] != b.idPfx[1] {
		return cmpInt(a.idPfx[1], b.idPfx[1])
	}
	if a.idLen > idPfxLen || b.idLen > idPfxLen {
		return bytes.Compare(chunks[a.chunk][a.id:a.id+a.idLen], chunks[b.chunk][b.id:b.id+b.idLen])
	}
	// Equal padded prefixes: the shorter id is a prefix of the longer.
	return cmpInt(a.idLen, b.idLen)
}

// tieEntry is an entry with the UpdatedAt and Ord of its row, for sortTies.
type tieEntry struct {
	updated int64 // sortTime(UpdatedAt)
	ord     uint64
	e       entry
}

// sortTies sorts entries of one key and RequestID, in arrival order, by UpdatedAt and Ord,
// keeping arrival order among full ties.
func (w *Writer) sortTies(chunks [][]byte, ents []entry) {
	ties := w.ties[:0]
	for _, e := range ents {
		u, o := rowUpdatedOrd(chunks[e.chunk][e.off : e.off+e.n])
		ties = append(ties, tieEntry{updated: u, ord: o, e: e})
	}
	slices.SortStableFunc(ties, func(a, b tieEntry) int {
		if c := cmpInt(a.updated, b.updated); c != 0 {
			return c
		}
		return cmpInt(a.ord, b.ord)
	})
	for i := range ties {
		ents[i] = ties[i].e
	}
	if cap(ties) <= maxTies {
		w.ties = ties[:0]
	}
}

// maxTies bounds the scratch a Writer keeps for sortTies between calls: larger runs of one
// RequestID allocate theirs.
const maxTies = 4096

// rowUpdatedOrd returns sortTime(UpdatedAt) and Ord of a row AppendRequest encoded.
func rowUpdatedOrd(row []byte) (updated int64, ord uint64) {
	// Skip the string lengths, Year, Month, CreatedAt and ClosedAt: 13 varints, each ending
	// at its first byte below 0x80, counted eight bytes at a time.
	pos, k := 0, nStrings+4
	for pos+8 <= len(row) {
		m := ^binary.LittleEndian.Uint64(row[pos:]) & 0x8080808080808080
		if c := bits.OnesCount64(m); c < k {
			k -= c
			pos += 8
			continue
		}
		for ; k > 1; k-- {
			m &= m - 1
		}
		pos += bits.TrailingZeros64(m)/8 + 1
		k = 0
		break
	}
	for ; k > 0 && pos < len(row); pos++ {
		if row[pos] < 0x80 {
			k--
		}
	}
	if pos >= len(row) {
		return math.MinInt64, 0
	}
	v, n := binary.Varint(row[pos:])
	pos += max(n, 0)
	if pos < len(row) {
		ord, _ = binary.Uvarint(row[pos:])
	}
	if v == 0 {
		return math.MinInt64, ord
	}
	return v, ord
}

// writeSegment sorts partition p's entries and writes its rows in that order.
func (w *Writer) writeSegment(cw *crcWriter, p *partition) (Segment, error) {
	w.sortEntries(p)
	chunks, ents := p.chunks, p.ents

	seg := Segment{Offset: cw.n, Records: int64(len(ents))}
	cw.crc = 0
	w.block = w.block[:0]
	for _, e := range ents {
		row := chunks[e.chunk][e.off : e.off+e.n]
		if len(w.block) > 0 && len(w.block)+len(row) > blockSize {
			if err := w.flushBlock(cw); err != nil {
				return Segment{}, err
			}
		}
		w.block = append(w.block, row...)
		seg.RawBytes += int64(len(row))
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

func (w *Writer) flushBlock(cw *crcWriter) error {
	err := writeBlock(cw, w.block, &w.comp)
	w.block = w.block[:0]
	return err
}

// writeBlock compresses block and writes it with its header to cw; *comp is scratch.
func writeBlock(cw *crcWriter, block []byte, comp *[]byte) error {
	need := blockHdrLen + s2.MaxEncodedLen(len(block))
	if need < 0 {
		return fmt.Errorf("%w: block of %d bytes", ErrTooLarge, len(block))
	}
	buf := slices.Grow((*comp)[:0], need)[:need]
	*comp = buf
	enc := s2.Encode(buf[blockHdrLen:], block)
	hdr := buf[:blockHdrLen]
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(block)))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(enc)))
	binary.LittleEndian.PutUint32(hdr[8:], crc32.Checksum(enc, castagnoli))
	_, err := cw.Write(buf[:blockHdrLen+len(enc)])
	return err
}

// crcWriter counts the bytes written and keeps a running CRC-32C of them.
type crcWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (c *crcWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.crc = crc32.Update(c.crc, castagnoli, b[:n])
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return n, err
}
