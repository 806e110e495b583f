package shuffle

import (
	"errors"
	"fmt"
	"io"

	"github.com/ireports/ireports/record"
)

// Source is a stream of records in shuffle order (Compare). Next fills r with the next
// record and returns io.EOF after the last one; any other error ends the stream. Strings
// placed in r must stay valid after later calls, because a Merger hands them on.
type Source interface {
	Next(r *record.Request) error
}

// Merger merges sorted Sources into one stream in shuffle order (a k-way heap merge). Records
// that compare equal come from the lower-numbered source first, so the result is
// deterministic. It holds one record per source and checks that every source is sorted: a
// source that goes backwards is an ErrCorrupt error, because de-duplication downstream would
// silently keep the wrong version. A Merger is itself a Source.
type Merger struct {
	srcs    []mergeSource
	heap    []*mergeSource
	started bool
	err     error // sticky
	errSrc  int   // the source that caused err
}

type mergeSource struct {
	src Source
	cur record.Request // the source's smallest unconsumed record
	idx int
}

var _ Source = (*Merger)(nil)

// NewMerger returns a Merger over srcs. It reads nothing until the first Next.
func NewMerger(srcs []Source) *Merger {
	m := &Merger{srcs: make([]mergeSource, len(srcs))}
	for i, s := range srcs {
		m.srcs[i] = mergeSource{src: s, idx: i}
	}
	return m
}

// Next fills r with the smallest record of all sources and returns io.EOF when every source
// is exhausted. An error of a source is returned wrapped with its index, after every record
// that preceded it; errors are sticky.
func (m *Merger) Next(r *record.Request) error {
	if m.err != nil {
		return m.err
	}
	if !m.started {
		m.started = true
		m.heap = make([]*mergeSource, 0, len(m.srcs))
		for i := range m.srcs {
			s := &m.srcs[i]
			switch err := s.src.Next(&s.cur); {
			case err == nil:
				m.heap = append(m.heap, s)
			case !errors.Is(err, io.EOF):
				m.err, m.errSrc = fmt.Errorf("merge: source %d: %w", i, err), i
				return m.err
			}
		}
		for i := len(m.heap)/2 - 1; i >= 0; i-- {
			m.down(i)
		}
	}
	if len(m.heap) == 0 {
		return io.EOF
	}
	top := m.heap[0]
	*r = top.cur
	// A failure to refill does not spoil the record already taken: it is returned now and
	// the error on the next call.
	switch err := top.src.Next(&top.cur); {
	case err == nil:
		if Compare(&top.cur, r) < 0 {
			m.err = fmt.Errorf("%w: merge: source %d: record %s/%s follows %s/%s", ErrCorrupt, top.idx,
				top.cur.Key(), top.cur.RequestID, r.Key(), r.RequestID)
			m.errSrc = top.idx
			return nil
		}
	case errors.Is(err, io.EOF):
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
	default:
		m.err, m.errSrc = fmt.Errorf("merge: source %d: %w", top.idx, err), top.idx
		return nil
	}
	if len(m.heap) > 0 {
		m.down(0)
	}
	return nil
}

func (m *Merger) less(a, b *mergeSource) bool {
	if c := Compare(&a.cur, &b.cur); c != 0 {
		return c < 0
	}
	return a.idx < b.idx
}

// down restores the heap property below i. A hand-written heap rather than container/heap
// avoids an interface call per comparison in the reducer's hottest loop.
func (m *Merger) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && m.less(h[r], h[l]) {
			c = r
		}
		if !m.less(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
