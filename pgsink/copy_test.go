package pgsink

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// TestChunkLen checks that COPY data is cut into chunks of whole rows that fit lib/pq's
// send buffer, and that a row longer than a chunk still goes, alone.
func TestChunkLen(t *testing.T) {
	row := func(n int) string { return strings.Repeat("x", n-1) + "\n" }
	for _, tc := range []struct {
		name string
		data string
		want int
	}{
		{"one short row", row(10), 10},
		{"rows under a chunk", row(10) + row(20), 30},
		{"exactly a chunk", row(copyChunk + 1), copyChunk + 1},
		{"a row over a chunk", row(copyChunk + 2), copyChunk + 2},
		{"a long row after a short one", row(5) + row(copyChunk), 5},
		{"the row that would overflow waits", row(copyChunk-9) + row(10) + row(10), copyChunk + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := chunkLen([]byte(tc.data)); got != tc.want {
				t.Errorf("chunkLen = %d, want %d", got, tc.want)
			}
		})
	}
	// Cutting a long run of rows so covers it exactly, every chunk within the limit.
	var data []byte
	for i := range 10000 {
		data = append(data, row(1+i%97)...)
	}
	for len(data) > 0 {
		n := chunkLen(data)
		if n == 0 || n > copyChunk+1 || data[n-1] != '\n' {
			t.Fatalf("chunk of %d bytes (limit %d) ending in %q", n, copyChunk+1, data[n-1])
		}
		data = data[n:]
	}
}

// TestPrefetch checks the read-ahead of Publish: every group once and in order, nothing
// taken after the first error, no more rows ahead than allowed, and no call of load after
// stop, with one reader and with several.
func TestPrefetch(t *testing.T) {
	groups := make([]record.Key, 10)
	for i := range groups {
		groups[i] = record.Key{City: "c", Year: 2024, Month: 1 + i}
	}
	fourRows := summary.Tables{Heat: make([]summary.Heat, 4)}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		failAt    int // -1: never
		aheadRows int
		readers   int
		want      int // groups delivered
	}{
		{"all groups", -1, 1000, 1, 10},
		{"one group at a time", -1, 1, 1, 10},
		{"stops at the first error", 3, 1000, 1, 4},
		{"all groups, four readers", -1, 1000, 4, 10},
		{"one group at a time, four readers", -1, 1, 4, 10},
		{"stops at the first error, four readers", 3, 1000, 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []record.Key // appended by the readers, read after stop
			load := func(k record.Key) (summary.Tables, error) {
				mu.Lock()
				calls = append(calls, k)
				mu.Unlock()
				if tc.failAt >= 0 && k == groups[tc.failAt] {
					return summary.Tables{}, boom
				}
				return fourRows, nil
			}
			next, done, stop := prefetch(groups, func(k record.Key) loaded { return loadRows(k, load) }, tc.aheadRows, tc.readers)
			for i := range tc.want {
				g := next()
				if g.k != groups[i] || g.rows != 4 && g.err == nil {
					t.Fatalf("delivery %d: group %v with %d rows, want %v with 4", i, g.k, g.rows, groups[i])
				}
				if (g.err != nil) != (i == tc.failAt) {
					t.Fatalf("delivery %d: error %v", i, g.err)
				}
				done(g.rows)
			}
			stop()
			stop()
			// Readers take groups in order: those after a failed one may have been taken
			// before it failed, one per other reader at most.
			slices.SortFunc(calls, compareKeys)
			if len(calls) < tc.want || len(calls) > min(tc.want+tc.readers-1, len(groups)) ||
				!slices.Equal(calls, groups[:len(calls)]) {
				t.Errorf("load called for %v, want %v and at most %d more", calls, groups[:tc.want], tc.readers-1)
			}
		})
	}
	t.Run("bounded read-ahead", func(t *testing.T) {
		for _, readers := range []int{1, 4} {
			var calls atomic.Int32
			load := func(record.Key) (summary.Tables, error) { calls.Add(1); return fourRows, nil }
			// Ten rows ahead: groups are taken while fewer are read and not done, two of four
			// rows and a third; more readers may each have taken one more meanwhile.
			next, _, stop := prefetch(groups, func(k record.Key) loaded { return loadRows(k, load) }, 10, readers)
			next()
			next()
			stop()
			if n := int(calls.Load()); n < 2 || n > 2+readers {
				t.Errorf("%d readers: %d groups read with none done, want 2 to %d", readers, n, 2+readers)
			}
		}
	})
}
