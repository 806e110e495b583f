package shuffle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/shuffle"
)

// The metrics adapt to the shuffle's observer, not the shuffle to the metrics.
var _ shuffle.FetchObserver = obs.ShuffleFetches{}

// fakeFetcher serves segments from memory; a location whose Map is negative fails.
type fakeFetcher struct{ data []byte }

func (f fakeFetcher) Fetch(ctx context.Context, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
	switch {
	case loc.Map == -1:
		return nil, shuffle.Segment{}, fmt.Errorf("%w: %s: connection refused", shuffle.ErrFetch, loc)
	case loc.Map == -2:
		return nil, shuffle.Segment{}, fmt.Errorf("shuffle: %s: %w", loc, context.Canceled)
	case loc.Map == -3: // breaks off midway
		return io.NopCloser(io.MultiReader(bytes.NewReader(f.data[:3]), errReader{fmt.Errorf("%w: connection reset", shuffle.ErrFetch)})), shuffle.Segment{Length: int64(len(f.data))}, nil
	}
	return io.NopCloser(bytes.NewReader(f.data)), shuffle.Segment{Length: int64(len(f.data))}, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// recorder is a FetchObserver that remembers what it heard.
type recorder struct {
	mu       sync.Mutex // guards the fields below
	started  int
	bytes    int
	failures []string
}

func (r *recorder) FetchStarted()      { r.mu.Lock(); r.started++; r.mu.Unlock() }
func (r *recorder) FetchedBytes(n int) { r.mu.Lock(); r.bytes += n; r.mu.Unlock() }
func (r *recorder) FetchFailed(reason string) {
	r.mu.Lock()
	r.failures = append(r.failures, reason)
	r.mu.Unlock()
}

// TestObserve: every fetch is reported, the bytes read from a segment count, and a failed
// fetch counts once — refused, or broken off however many reads then fail — while a
// cancelled one is no failure.
func TestObserve(t *testing.T) {
	rec := &recorder{}
	f := shuffle.Observe(fakeFetcher{data: []byte("0123456789")}, rec)
	rc, _, err := f.Fetch(context.Background(), shuffle.Location{Worker: "w1:7070", Job: "j", Map: 0}, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if rec.bytes != 10 || len(rec.failures) != 0 {
		t.Fatalf("a whole segment: %d bytes, failures %v; want 10, none", rec.bytes, rec.failures)
	}
	f.Fetch(context.Background(), shuffle.Location{Worker: "w1:7070", Job: "j", Map: -1}, 0)
	f.Fetch(context.Background(), shuffle.Location{Worker: "w1:7070", Job: "j", Map: -2}, 0) // cancelled: no failure
	rc, _, _ = f.Fetch(context.Background(), shuffle.Location{Worker: "w1:7070", Job: "j", Map: -3}, 0)
	io.Copy(io.Discard, rc)
	rc.Read(make([]byte, 1)) // a second read error is the same failure
	rc.Close()
	if want := []string{shuffle.FailFetch, shuffle.FailFetch}; !slices.Equal(rec.failures, want) {
		t.Errorf("failures %v, want %v (one refused, one broken off)", rec.failures, want)
	}
	if rec.started != 4 || rec.bytes != 13 {
		t.Errorf("%d fetches, %d bytes; want 4, 13", rec.started, rec.bytes)
	}
}

// TestFailureReason: the reasons are the metric's bounded label values, and a cancelled
// fetch has none.
func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unreachable", fmt.Errorf("%w: connection refused", shuffle.ErrFetch), shuffle.FailFetch},
		{"corrupt", fmt.Errorf("segment 3: %w", shuffle.ErrCorrupt), shuffle.FailCorrupt},
		{"unauthorized", fmt.Errorf("%w: 401", shuffle.ErrUnauthorized), shuffle.FailUnauthorized},
		{"protocol", shuffle.ErrProtocol, shuffle.FailOther},
		{"anything else", errors.New("boom"), shuffle.FailOther},
		{"cancelled", fmt.Errorf("fetch: %w", context.Canceled), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shuffle.FailureReason(tc.err); got != tc.want {
				t.Errorf("FailureReason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
