package pgsink

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// TestCopyEncode checks the COPY text encoding of each kind of field against the format's
// rules: the characters that delimit fields and rows, and the backslash, escaped; NULL as
// \N; floats that read back as the same float64.
func TestCopyEncode(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		tab  summary.Tables
		want string
	}{
		{"plain monthly", summary.Tables{Monthly: []summary.Monthly{{City: "nyc", Year: 2024, Month: 3, RequestType: "Noise",
			Agency: "NYPD", Requests: 10, Closed: 7, Open: 3, MedianResolutionHours: f(1.5), P90ResolutionHours: nil}}},
			"nyc\t2024\t3\tNoise\tNYPD\t10\t7\t3\t1.5\t\\N\n"},
		{"delimiters and backslashes in text", summary.Tables{Heat: []summary.Heat{{City: "a\tb", Agency: "x\\Ny\nz\r",
			Year: 2024, Month: 1, Weekday: 6, Hour: 23, Requests: 1}}},
			"a\\tb\tx\\\\Ny\\nz\\r\t2024\t1\t6\t23\t1\n"},
		{"end-of-data marker as text", summary.Tables{Heat: []summary.Heat{{City: `\.`, Agency: "", Year: 2024, Month: 1}}},
			"\\\\.\t\t2024\t1\t0\t0\t0\n"},
		{"unicode text", summary.Tables{Geo: []summary.Geo{{City: "são paulo", Year: 2024, Month: 12, RequestType: "\uFFFD",
			LatBin: -23.55, LonBin: -46.633, Requests: 2}}},
			"são paulo\t2024\t12\t\uFFFD\t-23.55\t-46.633\t2\n"},
		{"float extremes", summary.Tables{Geo: []summary.Geo{{City: "c", Year: 1, Month: 1, LatBin: math.SmallestNonzeroFloat64,
			LonBin: math.MaxFloat64, Requests: -1}}},
			"c\t1\t1\t\t5e-324\t1.7976931348623157e+308\t-1\n"},
		{"non-finite medians", summary.Tables{AgencyDaily: []summary.AgencyDaily{
			{City: "c", Agency: "a", Day: 0, Opened: 1, Closed: 0, MedianResolutionHours: f(math.NaN())},
			{City: "c", Agency: "a", Day: 19723, Opened: 1, Closed: 1, MedianResolutionHours: f(math.Inf(1))},
			{City: "c", Agency: "a", Day: -1, Opened: 1, Closed: 1, MedianResolutionHours: f(math.Inf(-1))}}},
			"c\ta\t1969-12-31\t1969\t12\t1\t1\t-Infinity\n" +
				"c\ta\t1970-01-01\t1970\t1\t1\t0\tNaN\n" +
				"c\ta\t2024-01-01\t2024\t1\t1\t1\tInfinity\n"},
		// The summaries list agency_daily rows by agency, then day; they go out in the order
		// of the table's primary key, (city, day, agency), so that it is built on sorted rows.
		{"agency_daily in key order", summary.Tables{AgencyDaily: []summary.AgencyDaily{
			{City: "c", Agency: "", Day: 19724, Opened: 1},
			{City: "c", Agency: "", Day: 19725, Opened: 2},
			{City: "c", Agency: "DOT", Day: 19723, Opened: 3},
			{City: "c", Agency: "DOT", Day: 19725, Opened: 4},
			{City: "c", Agency: "NYPD", Day: 19724, Opened: 5}}},
			"c\tDOT\t2024-01-01\t2024\t1\t3\t0\t\\N\n" +
				"c\t\t2024-01-02\t2024\t1\t1\t0\t\\N\n" +
				"c\tNYPD\t2024-01-02\t2024\t1\t5\t0\t\\N\n" +
				"c\t\t2024-01-03\t2024\t1\t2\t0\t\\N\n" +
				"c\tDOT\t2024-01-03\t2024\t1\t4\t0\t\\N\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatch(nil)
			b.encode(&tc.tab)
			var got bytes.Buffer
			for _, c := range []*copyBuf{&b.monthly, &b.daily, &b.heat, &b.geo} {
				got.Write(c.data)
			}
			if got.String() != tc.want {
				t.Errorf("encoded\n%q\nwant\n%q", got.String(), tc.want)
			}
			if n := len(tc.tab.Monthly) + len(tc.tab.AgencyDaily) + len(tc.tab.Heat) + len(tc.tab.Geo); b.rows() != n {
				t.Errorf("%d rows counted, want %d", b.rows(), n)
			}
		})
	}
}

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
			next, done, stop := prefetch(groups, load, tc.aheadRows, tc.readers)
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
			next, _, stop := prefetch(groups, load, 10, readers)
			next()
			next()
			stop()
			if n := int(calls.Load()); n < 2 || n > 2+readers {
				t.Errorf("%d readers: %d groups read with none done, want 2 to %d", readers, n, 2+readers)
			}
		}
	})
}
