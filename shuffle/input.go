package shuffle

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// Input is the input of one reduce task: segment r of every map output, fetched, verified
// and merged into shuffle order. Close it when done, also after an error.
type Input struct {
	m       *Merger
	locs    []Location
	reducer int
	bodies  []io.Closer
}

var _ Source = (*Input)(nil)

// Next fills r with the next record in shuffle order; io.EOF at the end.
func (in *Input) Next(r *record.Request) error {
	err := in.m.Next(r)
	if err == nil || err == io.EOF {
		return err
	}
	// The Merger's own checks (order) know only the source index; name the map output.
	if se := (*SegmentError)(nil); !errors.As(err, &se) {
		err = &SegmentError{Loc: in.locs[in.m.errSrc], Reducer: in.reducer, Err: err}
	}
	return err
}

// OpenInput fetches segment reducer of every map output in locs with f and merges them.
// Segments are streamed, not buffered: a reducer holds one block per map output. Errors,
// from OpenInput and from Next, are *SegmentError naming the map output at fault.
func OpenInput(ctx context.Context, f Fetcher, locs []Location, reducer int) (*Input, error) {
	in := &Input{locs: locs, reducer: reducer, bodies: make([]io.Closer, 0, len(locs))}
	srcs := make([]Source, len(locs))
	for i, loc := range locs {
		body, seg, err := f.Fetch(ctx, loc, reducer)
		if err != nil {
			in.Close()
			return nil, &SegmentError{Loc: loc, Reducer: reducer, Err: err}
		}
		in.bodies = append(in.bodies, body)
		srcs[i] = &locatedSource{src: NewSegmentReader(body, seg), loc: loc, reducer: reducer}
	}
	in.m = NewMerger(srcs)
	return in, nil
}

// Close closes every fetched stream and returns the first error.
func (in *Input) Close() error {
	var errs []error
	for _, b := range in.bodies {
		errs = append(errs, b.Close())
	}
	in.bodies = nil
	return errors.Join(errs...)
}

// locatedSource tags a segment's errors with the map output they came from.
type locatedSource struct {
	src     Source
	loc     Location
	reducer int
}

func (s *locatedSource) Next(r *record.Request) error {
	err := s.src.Next(r)
	if err != nil && err != io.EOF {
		return &SegmentError{Loc: s.loc, Reducer: s.reducer, Err: err}
	}
	return err
}
