package shuffle

import (
	"bufio"
	"bytes"
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
// largest; measured with 40-byte entries, before they shrank to 24 bytes and the sort's
// two 24-byte items a row of the largest partition were counted), so it is written from
// memory, without the merge's second pass over its rows, which adds three quarters of the
// Writer's CPU (BenchmarkWriterSpill); a larger task (a gzip file, a larger split_size)
// spills.
const DefaultSpillBytes = 48 << 20

// chunkSize is the size of the buffers that hold a Writer's encoded rows. Rows are packed
// into chunks that never move, rather than into one buffer per partition grown by doubling,
// so a Writer holds what it was given plus at most one partly filled chunk per partition,
// and the chunks a task filled serve any partition of the next task.
const chunkSize = 64 << 10

// entrySize is the memory of one entry.
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
// Add encodes each record at once into its reducer's chunks and keeps a 24-byte entry for
// it, and sorting takes two 24-byte items a row of the largest partition: about 125 bytes a
// row on the real exports, where a record.Request alone is over 250 bytes before its
// strings. What a Writer holds never exceeds WriterConfig.SpillBytes (plus one chunk):
// beyond it, the rows held are sorted and written to disk as a run, and WriteFile merges
// the runs, so a map task's memory does not grow with its input (a gzip file is one task
// whatever its size). Records are sorted only when written.
//
// A Writer is not safe for concurrent use. WriteFile may be called again after more Adds
// (it writes everything added so far); Reset empties the Writer, removes its runs and keeps
// its buffers for the next task.
type Writer struct {
	cfg        WriterConfig
	parts      []partition
	entBytes   int64                 // the capacity of the partitions' entries, in bytes
	free       [][]byte              // empty chunks
	chunks     int64                 // bytes of chunks held, in use or free
	keys       map[record.Key]uint32 // keys a cityKeys cannot index → index into keyList
	cities     map[string]*cityKeys  // cities seen → their keys
	lastCity   *cityKeys             // of the last row added
	freeCities []*cityKeys
	keyList    []keyInfo
	records    int64
	rawBytes   int64
	records0   int64 // records held in memory, not spilled
	maxPart    int   // the most entries a partition holds

	// The runs spilled since Reset: one file, each run's segments at absolute offsets.
	spill  *os.File
	spillN int64
	runs   []Index

	// Scratch, kept across calls.
	row    []byte
	rank   []uint32
	order  []uint32
	ties   []tieItem
	items  []sortItem // two sort buffers of equal length, that of the largest partition sorted
	items2 []sortItem
	starts []uint32        // sortEntries' counts and offsets of ranks
	counts [16][256]uint32 // sortKeyItems' digit counts
	block  []byte
	comp   []byte
	out    []byte
	// fileBuf buffers WriteFile's writes, kept with the Writer: a new 256 KiB buffer per
	// map task was a third of the task's allocation, and the garbage collections it set off
	// (their write barriers and the zeroing) a few percent of a small task's CPU.
	fileBuf *bufio.Writer
}

type keyInfo struct {
	key  record.Key
	part int
}

// partition holds one reducer's encoded rows, in arrival order: chunks of chunkSize, only
// the last of which has room, or larger ones of a single row; and their entries, in
// arrival order. (One slice of every partition's entries would share its growth, but
// grouping it by partition in place scrambles the arrival order, which exports sorted by
// date or id make nearly sorted: the sort's comparisons took 1.8× the time in a profile of
// BenchmarkWriterReuse.)
type partition struct {
	chunks [][]byte
	ents   []entry
	nkeys  int // the number of distinct keys of its rows, set by rankKeys
}

// entry is a row's location, in arrival order. A row lies in one chunk of its partition.
type entry struct {
	key   uint32 // index into keyList
	chunk uint32 // index into its partition's chunks
	off   uint32 // row offset in the chunk
	n     uint32 // row length
	id    uint32 // offset of the RequestID bytes in the chunk
	idLen uint32
}

// sortItem is the sort key of an entry, built when its partition is sorted: the key's rank
// in the partition, the first 16 bytes of the RequestID, and the entry's arrival index, as
// integers that a counting sort (by rank) and a radix sort (by prefix) read. A RequestID
// longer than 16 bytes, or a run of rows of one RequestID, is read from its chunk only when
// those tie; UpdatedAt and Ord, which decide only between rows of one RequestID, are read
// from the rows afterwards (sortEntries).
//
// These sorts, in place of a comparison sort (slices.SortFunc) of 40-byte entries that held
// the prefix, took the sort from 12 % to 2–3 % of the CPU profile of BenchmarkMap, and the
// entries a Writer keeps between sorts shrank to 24 bytes.
type sortItem struct {
	k [3]uint64 // RequestID bytes 8–15 and 0–7, big-endian, zero-padded; rank<<32 | index
}

// Words of a sortItem's key, least significant first.
const (
	kIDLo = iota
	kIDHi
	kRankIdx
)

// sortItemSize is the memory of one sort item; a Writer sorts with two buffers of them.
const sortItemSize = int64(unsafe.Sizeof(sortItem{}))

func (it *sortItem) rank() uint32  { return uint32(it.k[kRankIdx] >> 32) }
func (it *sortItem) index() uint32 { return uint32(it.k[kRankIdx]) }

// lessKeyID reports whether a sorts before b by key rank and RequestID prefix.
func lessKeyID(a, b *sortItem) bool {
	if ra, rb := a.rank(), b.rank(); ra != rb {
		return ra < rb
	}
	if a.k[kIDHi] != b.k[kIDHi] {
		return a.k[kIDHi] < b.k[kIDHi]
	}
	return a.k[kIDLo] < b.k[kIDLo]
}

// lessID reports whether a sorts before b by RequestID prefix.
func lessID(a, b *sortItem) bool {
	if a.k[kIDHi] != b.k[kIDHi] {
		return a.k[kIDHi] < b.k[kIDHi]
	}
	return a.k[kIDLo] < b.k[kIDLo]
}

// sameKeyID reports whether a and b have the same key rank and RequestID prefix.
func sameKeyID(a, b *sortItem) bool {
	return a.k[kIDLo] == b.k[kIDLo] && a.k[kIDHi] == b.k[kIDHi] && a.rank() == b.rank()
}

// idPfxLen is the number of RequestID bytes a sortItem holds.
const idPfxLen = 16

// idPrefix returns the first idPfxLen bytes of id as two big-endian integers, zero-padded:
// comparing them orders ids as bytes.Compare does, except that ids equal on those bytes, or
// differing only by trailing zero bytes, compare equal.
func idPrefix(id []byte) (hi, lo uint64) {
	if len(id) >= idPfxLen {
		return binary.BigEndian.Uint64(id), binary.BigEndian.Uint64(id[8:])
	}
	var b [idPfxLen]byte
	copy(b[:], id)
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
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
		cfg:    cfg,
		parts:  make([]partition, cfg.Reducers),
		keys:   make(map[record.Key]uint32),
		cities: make(map[string]*cityKeys),
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
// its entries' capacity and its sort buffers. It stays within WriterConfig.SpillBytes plus
// one chunk (or one row larger than a chunk).
func (w *Writer) Held() int64 { return w.chunks + w.entBytes + w.sortBytes() }

// sortBytes is the memory of the Writer's sort buffers.
func (w *Writer) sortBytes() int64 { return 2 * int64(len(w.items)) * sortItemSize }

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
	for _, c := range w.cities {
		w.freeCities = append(w.freeCities, c)
	}
	clear(w.cities)
	w.lastCity = nil
	w.keyList = w.keyList[:0]
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
	w.maxPart = 0
}

// Add encodes r into the partition of its key. It fails with ErrTooLarge, leaving the
// Writer unchanged, if the row exceeds 16 MiB; with an error of writing a run if it had to
// spill and could not.
func (w *Writer) Add(r *record.Request) error {
	strLen := stringsLen(r)
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
		c = c[:off+putRequest(c[off:off+size], r)]
	}
	p.chunks[ci] = c
	n := len(c) - off
	// The strings are the row's tail, City first, RequestID second.
	c0 := cap(p.ents)
	p.ents = append(p.ents, entry{
		key:   ki,
		chunk: uint32(ci),
		off:   uint32(off),
		n:     uint32(n),
		id:    uint32(len(c) - strLen + len(r.City)),
		idLen: uint32(len(r.RequestID)),
	})
	w.entBytes += int64(cap(p.ents)-c0) * entrySize
	w.maxPart = max(w.maxPart, len(p.ents))
	w.records++
	w.records0++
	w.rawBytes += int64(n)
	return nil
}

// keyIndex returns the index of k in keyList, adding it if new. A task's rows are of one
// city or a few, but rarely come in runs of one month (exports ordered by id, or by a date
// other than the one a key is cut by), so the keys of a city are found by year and month
// in a table (cityKeys), of the last city or found by name: a lookup of a record.Key in a
// map, hashing its city, was 2.5 % of a map task (BenchmarkMap).
func (w *Writer) keyIndex(k record.Key) uint32 {
	c := w.lastCity
	if c == nil || c.city != k.City {
		c = w.cities[k.City]
		if c == nil && len(w.cities) < maxCities {
			c = w.newCity(k)
		}
		w.lastCity = c
	}
	if c != nil {
		y, m := uint(k.Year-c.year0), uint(k.Month-1)
		if y < keyYears && m < 12 {
			slot := &c.ki[y*12+m]
			if *slot == 0 {
				*slot = w.addKey(k) + 1
			}
			return *slot - 1
		}
	}
	ki, ok := w.keys[k]
	if !ok {
		ki = w.addKey(k)
		w.keys[k] = ki
	}
	return ki
}

// addKey appends k to keyList and returns its index.
func (w *Writer) addKey(k record.Key) uint32 {
	// Clone the city: the caller's string may share a large buffer we must not pin.
	k.City = strings.Clone(k.City)
	w.keyList = append(w.keyList, keyInfo{key: k, part: Partition(k, w.cfg.Reducers)})
	return uint32(len(w.keyList) - 1)
}

// keyYears is the span of years a cityKeys indexes, centred on the first year seen, and
// maxCities the number of cities a Writer indexes so (each table is 3 KiB); other keys,
// and those with a month outside 1–12, are found in Writer.keys.
const (
	keyYears  = 64
	maxCities = 16
)

// cityKeys indexes the keys of one city by year and month.
type cityKeys struct {
	city  string
	year0 int
	ki    [keyYears * 12]uint32 // 1 + index into keyList, 0 for a key not seen yet
}

// newCity returns an empty cityKeys for the city of k, centred on its year.
func (w *Writer) newCity(k record.Key) *cityKeys {
	var c *cityKeys
	if n := len(w.freeCities); n > 0 {
		c, w.freeCities = w.freeCities[n-1], w.freeCities[:n-1]
		c.ki = [keyYears * 12]uint32{}
	} else {
		c = new(cityKeys)
	}
	c.city, c.year0 = strings.Clone(k.City), k.Year-keyYears/2
	w.cities[c.city] = c
	return c
}

// makeRoom spills the rows held if a row of n bytes for partition p, its entry, and the
// chunk and entries' growth it may need would take the Writer past its SpillBytes.
func (w *Writer) makeRoom(p *partition, n int) error {
	need := w.Held()
	if len(w.free) == 0 {
		need += max(chunkSize, int64(n))
	}
	if len(p.ents) == cap(p.ents) {
		need += int64(cap(p.ents)+8) * entrySize // what append's growth adds, at most
	}
	// The sort buffers must hold the largest partition when the rows are sorted.
	need += 2 * int64(max(0, max(w.maxPart, len(p.ents)+1)-len(w.items))) * sortItemSize
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
	if w.fileBuf == nil {
		w.fileBuf = bufio.NewWriterSize(f, 256<<10)
	} else {
		w.fileBuf.Reset(f) // drops what a failed write left in it
	}
	bw := w.fileBuf
	if x, err = w.writeTo(bw); err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
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
// are in arrival order and equal rows are written from the lower-numbered run first, as a
// Merger yields them, so the file is byte for byte the one the Writer would have written
// from memory.
func (w *Writer) mergeRuns(cw *crcWriter) (Index, error) {
	x := Index{Segments: make([]Segment, len(w.parts))}
	var comp []byte // shared: a reader decodes each compressed block it reads at once
	srcs := make([]*SegmentReader, len(w.runs))
	for i := range w.parts {
		for j, run := range w.runs {
			seg := run.Segments[i]
			srcs[j] = NewSegmentReader(io.NewSectionReader(w.spill, seg.Offset, seg.Length), seg)
			srcs[j].comp = &comp
		}
		seg, err := w.mergeSegment(cw, srcs)
		if err != nil {
			return Index{}, fmt.Errorf("segment %d: %w", i, err)
		}
		x.Segments[i] = seg
	}
	return x, nil
}

// rankKeys numbers the distinct keys of each partition in Key order, so that sorting
// compares two integers where it would otherwise compare cities, years and months, and
// groups rows by key with a counting sort: w.rank maps a key's index to its rank in its
// partition, and each partition's nkeys is the number of its keys.
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
	for i := range w.parts {
		w.parts[i].nkeys = 0
	}
	w.rank = slices.Grow(w.rank[:0], len(order))[:len(order)]
	for _, i := range order {
		p := &w.parts[w.keyList[i].part]
		w.rank[i] = uint32(p.nkeys)
		p.nkeys++
	}
}

// sortEntries returns the sort items of p's entries in shuffle order (Compare), full ties
// in arrival order. It sorts by key, RequestID prefix and arrival, which the items hold, and
// then each run of rows sharing a key and prefix, rare outside exports that repeat requests,
// by the whole RequestID, UpdatedAt, Ord and arrival, read from the rows: the same order as
// one sort by all of them, without reading rows inside the main sort.
//
// The main sort groups the items by key with a counting sort, and sorts each key's items
// by a least-significant-digit radix sort of their prefix (sortKeyItems). Both are stable,
// so rows of equal keys stay in arrival order. It skips the sort when the rows arrived in
// order, as exports sorted by id, or by a date that ids follow, often do.
func (w *Writer) sortEntries(p *partition) []sortItem {
	chunks, ents := p.chunks, p.ents
	n := len(ents)
	if len(w.items) < n {
		// For the largest partition, once: makeRoom counted the items it needs.
		m := max(n, w.maxPart)
		w.items, w.items2 = make([]sortItem, m), make([]sortItem, m)
	}
	items, tmp := w.items[:n], w.items2[:n]
	// starts[r+1] counts the rows of rank r, then starts[r] is where they go.
	starts := slices.Grow(w.starts[:0], p.nkeys+1)[:p.nkeys+1]
	clear(starts)
	w.starts = starts
	inOrder := true
	for i := range ents {
		e := &ents[i]
		hi, lo := idPrefix(chunks[e.chunk][e.id : e.id+e.idLen])
		r := w.rank[e.key]
		it := &items[i]
		it.k = [3]uint64{lo, hi, uint64(r)<<32 | uint64(i)}
		starts[r+1]++
		if inOrder && i > 0 && lessKeyID(it, &items[i-1]) {
			inOrder = false
		}
	}
	if !inOrder {
		for r := 1; r < len(starts); r++ {
			starts[r] += starts[r-1]
		}
		for i := range items {
			r := items[i].rank()
			tmp[starts[r]] = items[i]
			starts[r]++
		}
		// Now starts[r] is where rank r's rows end.
		lo := 0
		for _, hi := range starts[:p.nkeys] {
			w.sortKeyItems(tmp[lo:hi], items[lo:hi])
			lo = int(hi)
		}
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && sameKeyID(&items[i], &items[j]) {
			j++
		}
		if j-i > 1 {
			w.sortRun(chunks, ents, items[i:j])
		}
		i = j
	}
	return items
}

// insertionMax is the number of items of one key below which sortKeyItems sorts them by
// insertion rather than by their digits.
const insertionMax = 32

// sortKeyItems sorts src, items of one key, into dst by RequestID prefix, stably; src is
// scratch. The radix sort takes one pass per byte in which some item differs from the
// first: a city's ids share their length and leading characters.
func (w *Writer) sortKeyItems(src, dst []sortItem) {
	n := len(src)
	if n == 0 {
		return
	}
	var diff [2]uint64
	inOrder := true
	for i := 1; i < n; i++ {
		diff[kIDLo] |= src[i].k[kIDLo] ^ src[0].k[kIDLo]
		diff[kIDHi] |= src[i].k[kIDHi] ^ src[0].k[kIDHi]
		if inOrder && lessID(&src[i], &src[i-1]) {
			inOrder = false
		}
	}
	if inOrder || n <= insertionMax {
		copy(dst, src)
		if !inOrder {
			for i := 1; i < n; i++ {
				for j := i; j > 0 && lessID(&dst[j], &dst[j-1]); j-- {
					dst[j], dst[j-1] = dst[j-1], dst[j]
				}
			}
		}
		return
	}
	type digit struct{ word, shift uint8 }
	var digits [2 * 8]digit
	nd := 0
	for word := range 2 {
		for b := range 8 {
			if byte(diff[word]>>(8*b)) != 0 {
				digits[nd] = digit{uint8(word), uint8(8 * b)}
				nd++
			}
		}
	}
	counts := &w.counts
	*counts = [16][256]uint32{}
	for i := range src {
		k := &src[i].k
		for d := range digits[:nd] {
			counts[d][byte(k[digits[d].word]>>digits[d].shift)]++
		}
	}
	a, b := src, dst
	for d, dg := range digits[:nd] {
		c := &counts[d]
		sum := uint32(0)
		for x := range c {
			c[x], sum = sum, sum+c[x]
		}
		word, shift := dg.word, dg.shift
		for i := range a {
			x := byte(a[i].k[word] >> shift)
			b[c[x]] = a[i]
			c[x]++
		}
		a, b = b, a
	}
	if nd%2 == 0 {
		copy(dst, src)
	}
}

// sortRun orders items of one key and RequestID prefix, in arrival order, by the whole
// RequestID and then, for rows of one RequestID, by UpdatedAt and Ord, keeping arrival
// order among full ties.
func (w *Writer) sortRun(chunks [][]byte, ents []entry, items []sortItem) {
	id := func(it *sortItem) []byte {
		e := &ents[it.index()]
		return chunks[e.chunk][e.id : e.id+e.idLen]
	}
	// Equal prefixes are one RequestID unless one is longer than the prefix or padded with
	// zero bytes.
	same := true
	for i := 1; i < len(items) && same; i++ {
		same = bytes.Equal(id(&items[0]), id(&items[i]))
	}
	if !same {
		slices.SortStableFunc(items, func(a, b sortItem) int { return bytes.Compare(id(&a), id(&b)) })
	}
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && (same || bytes.Equal(id(&items[i]), id(&items[j]))) {
			j++
		}
		if j-i > 1 {
			w.sortTies(chunks, ents, items[i:j])
		}
		i = j
	}
}

// tieItem is a sort item with the UpdatedAt and Ord of its row, for sortTies.
type tieItem struct {
	updated int64 // sortTime(UpdatedAt)
	ord     uint64
	it      sortItem
}

// sortTies sorts items of one key and RequestID, in arrival order, by UpdatedAt and Ord,
// keeping arrival order among full ties.
func (w *Writer) sortTies(chunks [][]byte, ents []entry, items []sortItem) {
	ties := w.ties[:0]
	for _, it := range items {
		e := &ents[it.index()]
		u, o := rowUpdatedOrd(chunks[e.chunk][e.off : e.off+e.n])
		ties = append(ties, tieItem{updated: u, ord: o, it: it})
	}
	slices.SortStableFunc(ties, func(a, b tieItem) int {
		if c := cmpInt(a.updated, b.updated); c != 0 {
			return c
		}
		return cmpInt(a.ord, b.ord)
	})
	for i := range ties {
		items[i] = ties[i].it
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
	return wireUpdated(v), ord
}

// writeSegment sorts partition p's entries and writes its rows in that order.
func (w *Writer) writeSegment(cw *crcWriter, p *partition) (Segment, error) {
	items := w.sortEntries(p)
	chunks, ents := p.chunks, p.ents

	seg := Segment{Offset: cw.n, Records: int64(len(ents))}
	cw.crc = 0
	w.block = w.block[:0]
	for i := range items {
		e := &ents[items[i].index()]
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
