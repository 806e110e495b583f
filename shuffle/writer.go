package shuffle

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/s2"

	"github.com/ireports/ireports/record"
)

// Writer accumulates the output of one map task and writes it as one map output file.
//
// Add encodes each record at once into its reducer's buffer and keeps a 40-byte sort entry
// for it, so memory is the encoded size of the task's records (about 125 bytes a row on the
// real exports, where a record.Request alone is over 250 bytes before its strings) plus the
// entries; buffers grow by doubling. A split is bounded (DESIGN.md step 1), and so is a
// Writer. Records are sorted only when written.
//
// A Writer is not safe for concurrent use. WriteFile may be called again after more Adds
// (it writes everything added so far); Reset empties the Writer and keeps its buffers for
// the next task.
type Writer struct {
	reducers int
	parts    []partition
	keys     map[record.Key]uint32 // distinct keys seen → index into keyList
	keyList  []keyInfo
	records  int64
	rawBytes int64

	// Scratch for writing, kept across WriteFile calls.
	rank  []uint32
	block []byte
	comp  []byte
	out   []byte
}

type keyInfo struct {
	key  record.Key
	part int
}

// partition holds one reducer's encoded rows, in arrival order, and their sort entries.
type partition struct {
	rows []byte
	ents []entry
}

// entry is a row's sort key and location. Offsets are uint32 to keep entries small: a
// partition of one map task is limited to 4 GiB of encoded rows (ErrTooLarge beyond).
type entry struct {
	updated int64  // sortTime(UpdatedAt)
	ord     uint64 // Ord
	key     uint32 // index into keyList; replaced by the key's rank while sorting
	off     uint32 // row offset in partition.rows
	n       uint32 // row length
	id      uint32 // offset of the RequestID bytes in partition.rows
	idLen   uint32
}

// NewWriter returns an empty Writer for a job with the given number of reducers.
func NewWriter(reducers int) (*Writer, error) {
	if reducers < 1 || reducers > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d reducers", ErrReducers, reducers)
	}
	return &Writer{
		reducers: reducers,
		parts:    make([]partition, reducers),
		keys:     make(map[record.Key]uint32),
	}, nil
}

// Reducers returns the number of reducers the Writer partitions for.
func (w *Writer) Reducers() int { return w.reducers }

// Records returns the number of records added since the Writer was created or Reset.
func (w *Writer) Records() int64 { return w.records }

// RawBytes returns the encoded size of the records added, before compression.
func (w *Writer) RawBytes() int64 { return w.rawBytes }

// Reset empties the Writer, keeping its buffers.
func (w *Writer) Reset() {
	for i := range w.parts {
		w.parts[i].rows = w.parts[i].rows[:0]
		w.parts[i].ents = w.parts[i].ents[:0]
	}
	clear(w.keys)
	w.keyList = w.keyList[:0]
	w.records, w.rawBytes = 0, 0
}

// Add encodes r into the partition of its key. It fails with ErrTooLarge, leaving the
// Writer unchanged, if the row exceeds 16 MiB or the partition 4 GiB.
func (w *Writer) Add(r *record.Request) error {
	k := r.Key()
	ki, ok := w.keys[k]
	if !ok {
		// Clone the city: the caller's string may share a large buffer we must not pin.
		k.City = strings.Clone(k.City)
		ki = uint32(len(w.keyList))
		w.keyList = append(w.keyList, keyInfo{key: k, part: Partition(k, w.reducers)})
		w.keys[k] = ki
	}
	p := &w.parts[w.keyList[ki].part]
	off := len(p.rows)
	p.rows = AppendRequest(p.rows, r)
	n := len(p.rows) - off
	if n > maxRow || uint64(len(p.rows)) > math.MaxUint32 {
		p.rows = p.rows[:off]
		return fmt.Errorf("%w: record %s/%s: %d-byte row, partition at %d bytes", ErrTooLarge, k, r.RequestID, n, off)
	}
	// The strings are the row's tail, City first, RequestID second.
	blob := len(p.rows)
	for _, s := range rowStrings(r) {
		blob -= len(s)
	}
	p.ents = append(p.ents, entry{
		updated: sortTime(r.UpdatedAt),
		ord:     r.Ord,
		key:     ki,
		off:     uint32(off),
		n:       uint32(n),
		id:      uint32(blob + len(r.City)),
		idLen:   uint32(len(r.RequestID)),
	})
	w.records++
	w.rawBytes += int64(n)
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

// writeTo sorts every partition and writes the whole map output to dst.
func (w *Writer) writeTo(dst io.Writer) (Index, error) {
	w.rankKeys()
	cw := &crcWriter{w: dst}
	if _, err := io.WriteString(cw, magic); err != nil {
		return Index{}, err
	}
	x := Index{Segments: make([]Segment, len(w.parts))}
	for i := range w.parts {
		seg, err := w.writeSegment(cw, &w.parts[i])
		if err != nil {
			return Index{}, fmt.Errorf("segment %d: %w", i, err)
		}
		x.Segments[i] = seg
	}
	w.out = appendIndex(w.out[:0], x)
	if _, err := cw.Write(w.out); err != nil {
		return Index{}, err
	}
	return x, nil
}

// rankKeys numbers the distinct keys in Key order, so that sorting compares two integers
// where it would otherwise compare cities, years and months.
func (w *Writer) rankKeys() {
	order := make([]uint32, len(w.keyList))
	for i := range order {
		order[i] = uint32(i)
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
	w.rank = slices.Grow(w.rank[:0], len(order))[:len(order)]
	for r, i := range order {
		w.rank[i] = uint32(r)
	}
}

func (w *Writer) writeSegment(cw *crcWriter, p *partition) (Segment, error) {
	rows := p.rows
	slices.SortFunc(p.ents, func(a, b entry) int {
		if c := cmpInt(w.rank[a.key], w.rank[b.key]); c != 0 {
			return c
		}
		if c := bytes.Compare(rows[a.id:a.id+a.idLen], rows[b.id:b.id+b.idLen]); c != 0 {
			return c
		}
		if c := cmpInt(a.updated, b.updated); c != 0 {
			return c
		}
		if c := cmpInt(a.ord, b.ord); c != 0 {
			return c
		}
		// Arrival order breaks full ties, so equal inputs give byte-identical files.
		return cmpInt(a.off, b.off)
	})

	seg := Segment{Offset: cw.n, Records: int64(len(p.ents))}
	cw.crc = 0
	w.block = w.block[:0]
	for _, e := range p.ents {
		row := rows[e.off : e.off+e.n]
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
