package shuffle

import (
	"context"
	"errors"
	"io"
	"sync"
)

// FetchObserver hears of the fetches of a Fetcher wrapped by Observe: metrics
// (obs.ShuffleFetches) implement it, so that the shuffle adapts to them and the metrics
// package needs to know nothing of the shuffle. Its methods are called on the fetching
// goroutine, concurrently when the Fetcher is, and must not block.
type FetchObserver interface {
	// FetchStarted is called once for every Fetch.
	FetchStarted()
	// FetchedBytes is called with the byte count of every read from a fetched segment.
	FetchedBytes(n int)
	// FetchFailed is called once for every fetch that failed, to open or while streaming,
	// with the reason (FailFetch, FailCorrupt, FailUnauthorized or FailOther). A fetch the
	// caller cancelled is no failure.
	FetchFailed(reason string)
}

// Reasons a FetchObserver is told a fetch failed for.
const (
	FailFetch        = "fetch"        // ErrFetch: unreachable, gone or broken off: the map output is lost
	FailCorrupt      = "corrupt"      // ErrCorrupt
	FailUnauthorized = "unauthorized" // ErrUnauthorized
	FailOther        = "other"        // anything else
)

// FailureReason classifies a fetch error for a FetchObserver; "" for a cancelled fetch,
// which is no failure.
func FailureReason(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return ""
	case errors.Is(err, ErrFetch):
		return FailFetch
	case errors.Is(err, ErrCorrupt):
		return FailCorrupt
	case errors.Is(err, ErrUnauthorized):
		return FailUnauthorized
	}
	return FailOther
}

// Observe wraps f so that o hears of its fetches, the bytes read from them, and their
// failures. The wrapper is safe for concurrent use if f is.
func Observe(f Fetcher, o FetchObserver) Fetcher { return observedFetcher{f, o} }

type observedFetcher struct {
	f Fetcher
	o FetchObserver
}

var _ Fetcher = observedFetcher{}

func (w observedFetcher) Fetch(ctx context.Context, loc Location, reducer int) (io.ReadCloser, Segment, error) {
	w.o.FetchStarted()
	rc, seg, err := w.f.Fetch(ctx, loc, reducer)
	if err != nil {
		w.failed(err)
		return rc, seg, err
	}
	return &observedBody{rc: rc, w: w}, seg, nil
}

func (w observedFetcher) failed(err error) {
	if reason := FailureReason(err); reason != "" {
		w.o.FetchFailed(reason)
	}
}

// observedBody reports the bytes read from a fetched segment, and its first failure: a
// stream that keeps failing is one failed fetch.
type observedBody struct {
	rc     io.ReadCloser
	w      observedFetcher
	failed sync.Once
}

func (b *observedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.w.o.FetchedBytes(n)
	if err != nil && err != io.EOF {
		b.failed.Do(func() { b.w.failed(err) })
	}
	return n, err
}

func (b *observedBody) Close() error { return b.rc.Close() }
