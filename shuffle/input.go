package shuffle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/ireports/ireports/record"
)

// SegmentError is an error of fetching or reading the segment of one map output. A reducer
// passes it up unchanged so that the coordinator can find the map output to re-run:
//
//	var se *shuffle.SegmentError
//	if errors.As(err, &se) && (errors.Is(err, shuffle.ErrFetch) || errors.Is(err, shuffle.ErrCorrupt)) {
//		// re-run map task se.Loc.Map
//	}
type SegmentError struct {
	Loc     Location
	Reducer int
	Err     error
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("map output %v, reducer %d: %v", e.Loc, e.Reducer, e.Err)
}

func (e *SegmentError) Unwrap() error { return e.Err }

// DefaultMaxStreams is InputConfig.MaxStreams when it is 0.
const DefaultMaxStreams = 32

// DefaultMaxFanIn is InputConfig.MaxFanIn when it is 0: 256 map outputs (a 16 GB input at
// 64 MiB a split) merge in one pass, holding 16 MiB of blocks.
const DefaultMaxFanIn = 256

// InputConfig tunes OpenInput. The zero value is ready to use.
type InputConfig struct {
	// MaxStreams is the largest number of map outputs whose segments are streamed
	// concurrently into the merge. Each stream holds a file or a connection open on both
	// ends, so a job with hundreds of map tasks would run out of file descriptors; beyond
	// this many, OpenInput first copies the segments one after another into a single spill
	// file (verifying each one's checksum as it arrives) and merges from that file.
	// 0 means DefaultMaxStreams.
	MaxStreams int

	// MaxFanIn is the largest number of segments one merge reads at once. A merge holds a
	// decoded block of each (up to 64 KiB), so a single merge of every map output would
	// grow a reducer's memory with the input's size; beyond this many, OpenInput first
	// merges the spilled segments in batches into runs in a second spill file (segments
	// again, in shuffle order) until this many remain. That costs a pass over the batches'
	// records, only for inputs this large. 0 means DefaultMaxFanIn; at least 2.
	MaxFanIn int

	// SpillDir is where the spill files are created; "" means os.TempDir(). It needs room
	// for the reducer's compressed input (twice that beyond MaxFanIn map outputs).
	SpillDir string
}

// Input is the input of one reduce task: segment r of every map output, fetched, verified
// and merged into shuffle order. Close it when done, also after an error.
type Input struct {
	m       *Merger
	locs    []Location
	reducer int
	bodies  []io.Closer
	spill   *os.File // nil when streaming
	runs    *os.File // the pre-merged runs (see InputConfig.MaxFanIn), or nil
	share   readerShare
	// srcLoc maps the merge's sources to indexes into locs, -1 for a run of several; nil
	// when the sources are the map outputs in order.
	srcLoc []int
}

var _ Source = (*Input)(nil)

// OpenInput fetches segment reducer of every map output in locs with f and merges them.
// With up to cfg.MaxStreams map outputs the segments are streamed; with more, they are
// spilled to one local file first (see InputConfig). Either way the merge holds one block
// per map output in memory, or per run beyond cfg.MaxFanIn map outputs. Errors that concern
// one map output, from OpenInput and from Next, are *SegmentError naming it.
func OpenInput(ctx context.Context, f Fetcher, locs []Location, reducer int, cfg InputConfig) (*Input, error) {
	maxStreams := cfg.MaxStreams
	if maxStreams <= 0 {
		maxStreams = DefaultMaxStreams
	}
	maxFanIn := cfg.MaxFanIn
	if maxFanIn <= 0 {
		maxFanIn = DefaultMaxFanIn
	}
	maxFanIn = max(maxFanIn, 2)
	in := &Input{locs: locs, reducer: reducer}
	var srcs []Source
	var err error
	if len(locs) <= min(maxStreams, maxFanIn) {
		srcs, err = in.stream(ctx, f)
	} else {
		srcs, err = in.spillAll(ctx, f, cfg.SpillDir)
		if err == nil && len(srcs) > maxFanIn {
			srcs, err = in.premerge(ctx, srcs, maxFanIn, cfg.SpillDir)
		}
	}
	if err != nil {
		in.Close()
		return nil, err
	}
	in.m = NewMerger(srcs)
	return in, nil
}

func (in *Input) stream(ctx context.Context, f Fetcher) ([]Source, error) {
	srcs := make([]Source, len(in.locs))
	for i, loc := range in.locs {
		body, seg, err := f.Fetch(ctx, loc, in.reducer)
		if err != nil {
			return nil, in.segErr(i, err)
		}
		in.bodies = append(in.bodies, body)
		srcs[i] = &locatedSource{src: in.reader(body, seg), in: in, i: i}
	}
	return srcs, nil
}

// reader returns a SegmentReader of seg that shares the Input's buffers with the others.
func (in *Input) reader(r io.Reader, seg Segment) *SegmentReader {
	s := NewSegmentReader(r, seg)
	s.share(&in.share)
	return s
}

// spillAll copies every segment into one spill file, one fetch at a time, and returns
// sources that read the copies back through that one file descriptor.
func (in *Input) spillAll(ctx context.Context, f Fetcher, dir string) ([]Source, error) {
	var err error
	if in.spill, err = os.CreateTemp(dir, fmt.Sprintf("reduce-%d-*.spill", in.reducer)); err != nil {
		return nil, fmt.Errorf("shuffle: reducer %d: spill file: %w", in.reducer, err)
	}
	w := &spillWriter{w: bufio.NewWriterSize(in.spill, 1<<20)}
	segs := make([]Segment, len(in.locs))
	offs := make([]int64, len(in.locs))
	for i, loc := range in.locs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		body, seg, err := f.Fetch(ctx, loc, in.reducer)
		if err != nil {
			return nil, in.segErr(i, err)
		}
		segs[i], offs[i] = seg, w.n
		err = w.copySegment(body, seg)
		body.Close()
		if w.err != nil {
			// The local disk failed, not the map output.
			return nil, fmt.Errorf("shuffle: reducer %d: spill file %s: %w", in.reducer, in.spill.Name(), w.err)
		}
		if err != nil {
			return nil, in.segErr(i, err)
		}
	}
	if err := w.w.Flush(); err != nil {
		return nil, fmt.Errorf("shuffle: reducer %d: spill file %s: %w", in.reducer, in.spill.Name(), err)
	}
	srcs := make([]Source, len(in.locs))
	for i := range in.locs {
		r := io.NewSectionReader(in.spill, offs[i], segs[i].Length)
		srcs[i] = &locatedSource{src: in.reader(r, segs[i]), in: in, i: i}
	}
	return srcs, nil
}

// spillWriter appends to the spill file, keeping its size and its first write error apart
// from errors of the stream being copied.
type spillWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (s *spillWriter) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	s.n += int64(n)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// copySegment copies one segment's bytes and checks their length and checksum, so that a
// lost map output is found while fetching, before the reduce has consumed anything.
func (s *spillWriter) copySegment(body io.Reader, seg Segment) error {
	h := crc32.New(castagnoli)
	n, err := io.Copy(io.MultiWriter(s, h), io.LimitReader(body, seg.Length))
	switch {
	case err != nil:
		return err
	case n != seg.Length:
		return fmt.Errorf("%w: segment at offset %d: truncated: %d of %d bytes", ErrCorrupt, seg.Offset, n, seg.Length)
	case h.Sum32() != seg.CRC:
		return fmt.Errorf("%w: segment at offset %d: checksum %08x, want %08x", ErrCorrupt, seg.Offset, h.Sum32(), seg.CRC)
	}
	return nil
}

// premerge merges the first sources into runs, written to a second spill file, until at
// most fanIn sources remain. Each batch is a prefix of the sources and its run takes its
// place first: records that compare equal still come from the lower-numbered map output
// first, so the final merge yields exactly what one merge of every map output would.
func (in *Input) premerge(ctx context.Context, srcs []Source, fanIn int, dir string) ([]Source, error) {
	var err error
	if in.runs, err = os.CreateTemp(dir, fmt.Sprintf("reduce-%d-*.runs", in.reducer)); err != nil {
		return nil, fmt.Errorf("shuffle: reducer %d: runs file: %w", in.reducer, err)
	}
	bw := bufio.NewWriterSize(in.runs, 1<<20)
	cw := &crcWriter{w: bw}
	var rw runWriter
	in.srcLoc = make([]int, len(srcs))
	for i := range in.srcLoc {
		in.srcLoc[i] = i
	}
	for len(srcs) > fanIn {
		k := min(fanIn, len(srcs)-fanIn+1)
		batch := NewMerger(srcs[:k])
		seg, srcErr, err := rw.write(ctx, cw, batch)
		if srcErr != nil {
			if se := (*SegmentError)(nil); errors.As(srcErr, &se) || ctx.Err() != nil {
				return nil, srcErr
			}
			return nil, in.srcErr(batch.errSrc, srcErr) // the merge's own order check
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return nil, fmt.Errorf("shuffle: reducer %d: runs file %s: %w", in.reducer, in.runs.Name(), err)
		}
		run := in.reader(io.NewSectionReader(in.runs, seg.Offset, seg.Length), seg)
		srcs = append([]Source{run}, srcs[k:]...)
		in.srcLoc = append([]int{-1}, in.srcLoc[k:]...)
	}
	return srcs, nil
}

// runWriter encodes a merged stream as one segment of a runs file; its buffers are reused.
type runWriter struct {
	row, block, comp []byte
}

// write encodes src, to its end, as one segment at cw's offset. srcErr is an error of
// reading src (or ctx's), err one of writing.
func (rw *runWriter) write(ctx context.Context, cw *crcWriter, src Source) (seg Segment, srcErr, err error) {
	seg = Segment{Offset: cw.n}
	cw.crc = 0
	rw.block = rw.block[:0]
	var r record.Request
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return seg, err, nil
			}
		}
		if err := src.Next(&r); err == io.EOF {
			break
		} else if err != nil {
			return seg, err, nil
		}
		rw.row = AppendRequest(rw.row[:0], &r)
		if len(rw.block) > 0 && len(rw.block)+len(rw.row) > blockSize {
			if err := writeBlock(cw, rw.block, &rw.comp); err != nil {
				return seg, nil, err
			}
			rw.block = rw.block[:0]
		}
		rw.block = append(rw.block, rw.row...)
		seg.Records++
		seg.RawBytes += int64(len(rw.row))
	}
	if len(rw.block) > 0 {
		if err := writeBlock(cw, rw.block, &rw.comp); err != nil {
			return seg, nil, err
		}
	}
	seg.Length, seg.CRC = cw.n-seg.Offset, cw.crc
	return seg, nil, nil
}

// srcErr is segErr for source i of the merge: a map output, or a run of several, whose
// faults are this reducer's own (its runs file), not a map output's.
func (in *Input) srcErr(i int, err error) error {
	if in.srcLoc == nil {
		return in.segErr(i, err)
	}
	if l := in.srcLoc[i]; l >= 0 {
		return in.segErr(l, err)
	}
	return fmt.Errorf("shuffle: reducer %d: merge run: %w", in.reducer, err)
}

func (in *Input) segErr(i int, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &SegmentError{Loc: in.locs[i], Reducer: in.reducer, Err: err}
}

// Next fills r with the next record in shuffle order; io.EOF at the end.
func (in *Input) Next(r *record.Request) error {
	err := in.m.Next(r)
	if err == nil || err == io.EOF {
		return err
	}
	// The Merger's own checks (order) know only the source index; name the map output.
	if se := (*SegmentError)(nil); !errors.As(err, &se) {
		err = in.srcErr(in.m.errSrc, err)
	}
	return err
}

// Close closes every fetched stream, removes the spill files, and returns the first error.
func (in *Input) Close() error {
	var errs []error
	for _, b := range in.bodies {
		errs = append(errs, b.Close())
	}
	in.bodies = nil
	for _, f := range []**os.File{&in.spill, &in.runs} {
		if *f != nil {
			errs = append(errs, (*f).Close(), os.Remove((*f).Name()))
			*f = nil
		}
	}
	return errors.Join(errs...)
}

// locatedSource tags a segment's errors with the map output they came from.
type locatedSource struct {
	src Source
	in  *Input
	i   int
}

func (s *locatedSource) Next(r *record.Request) error {
	err := s.src.Next(r)
	if err != nil && err != io.EOF {
		return s.in.segErr(s.i, err)
	}
	return err
}
