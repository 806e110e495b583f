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

// InputConfig tunes OpenInput. The zero value is ready to use.
type InputConfig struct {
	// MaxStreams is the largest number of map outputs whose segments are streamed
	// concurrently into the merge. Each stream holds a file or a connection open on both
	// ends, so a job with hundreds of map tasks would run out of file descriptors; beyond
	// this many, OpenInput first copies the segments one after another into a single spill
	// file (verifying each one's checksum as it arrives) and merges from that file.
	// 0 means DefaultMaxStreams.
	MaxStreams int

	// SpillDir is where the spill file is created; "" means os.TempDir(). It needs room
	// for the reducer's compressed input.
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
	share   readerShare
}

var _ Source = (*Input)(nil)

// OpenInput fetches segment reducer of every map output in locs with f and merges them.
// With up to cfg.MaxStreams map outputs the segments are streamed; with more, they are
// spilled to one local file first (see InputConfig). Either way the merge holds one block
// per map output in memory. Errors that concern one map output, from OpenInput and from
// Next, are *SegmentError naming it.
func OpenInput(ctx context.Context, f Fetcher, locs []Location, reducer int, cfg InputConfig) (*Input, error) {
	maxStreams := cfg.MaxStreams
	if maxStreams <= 0 {
		maxStreams = DefaultMaxStreams
	}
	in := &Input{locs: locs, reducer: reducer}
	var srcs []Source
	var err error
	if len(locs) <= maxStreams {
		srcs, err = in.stream(ctx, f)
	} else {
		srcs, err = in.spillAll(ctx, f, cfg.SpillDir)
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
		err = in.segErr(in.m.errSrc, err)
	}
	return err
}

// Close closes every fetched stream, removes the spill file, and returns the first error.
func (in *Input) Close() error {
	var errs []error
	for _, b := range in.bodies {
		errs = append(errs, b.Close())
	}
	in.bodies = nil
	if in.spill != nil {
		errs = append(errs, in.spill.Close(), os.Remove(in.spill.Name()))
		in.spill = nil
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
