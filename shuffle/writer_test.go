package shuffle

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/record"
)

// A Writer that spills writes the same bytes as one that holds everything: the merge of its
// runs is the sort of the whole task, full ties included.
func TestWriterSpillIdentical(t *testing.T) {
	tests := []struct {
		name     string
		reducers int
		records  int
		spill    int64
	}{
		{name: "R=1 many runs", reducers: 1, records: 20000, spill: minSpillBytes},
		{name: "R=3 many runs", reducers: 3, records: 30000, spill: minSpillBytes},
		{name: "R=8 many runs", reducers: 8, records: 30000, spill: minSpillBytes},
		{name: "R=8 below the minimum", reducers: 8, records: 12000, spill: 1},
		{name: "R=8 no spill", reducers: 8, records: 3000, spill: 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := randRequests(uint64(100+i), tc.records)
			want, wantX := encodeMapOutput(t, tc.reducers, rs)
			dir := t.TempDir()
			w, err := NewWriterConfig(WriterConfig{Reducers: tc.reducers, SpillBytes: tc.spill, SpillDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for round := range 2 { // again after Reset, with its buffers reused
				for j := range rs {
					if err := w.Add(&rs[j]); err != nil {
						t.Fatal(err)
					}
				}
				if tc.spill != 0 && w.Runs() < 2 {
					t.Fatalf("round %d: %d runs, want several", round, w.Runs())
				}
				path := filepath.Join(dir, "m.shuffle")
				x, err := w.WriteFile(path)
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("round %d: spilled output (%d bytes, %+v) differs from the in-memory one (%d bytes, %+v)",
						round, len(got), x, len(want), wantX)
				}
				w.Reset()
				if ents, _ := os.ReadDir(dir); len(ents) != 1 {
					t.Errorf("round %d: after Reset the directory holds %d entries, want only the map output", round, len(ents))
				}
			}
		})
	}
}

// What a Writer holds stays within its SpillBytes plus a chunk however many records it is
// given, and a reused Writer holds no more than a new one.
func TestWriterMemoryBounded(t *testing.T) {
	const spill = 4 << 20
	rs := randRequests(9, 20000)
	// Long strings make rows of about 1 KiB, so that few records fill the limit.
	for i := range rs {
		rs[i].RequestSubtype = strings.Repeat("s", 800+i%100)
	}
	for _, n := range []int{1000, 20000, 100000} {
		t.Run(fmt.Sprint(n, " records"), func(t *testing.T) {
			w, err := NewWriterConfig(WriterConfig{Reducers: 8, SpillBytes: spill, SpillDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Reset()
			for round := range 2 {
				var peak int64
				for i := range n {
					if err := w.Add(&rs[i%len(rs)]); err != nil {
						t.Fatal(err)
					}
					peak = max(peak, w.Held())
				}
				if peak > spill+chunkSize {
					t.Errorf("round %d: held %d bytes, over the %d-byte limit and a chunk", round, peak, spill)
				}
				if raw := w.RawBytes(); raw > spill && w.Runs() == 0 {
					t.Errorf("round %d: %d bytes of rows and no run spilled", round, raw)
				}
				w.Reset()
			}
		})
	}
}

// rowUpdatedOrd reads what DecodeRequest does, whatever the varints' widths.
func TestRowUpdatedOrd(t *testing.T) {
	rs := randRequests(7, 2000)
	for i := range rs {
		r := &rs[i]
		switch i % 5 {
		case 0:
			r.UpdatedAt = time.Time{}
		case 1:
			r.UpdatedAt = time.Unix(0, 0)
		case 2:
			r.Ord = uint64(i) << (i % 60)
			r.Year = -i
		case 3:
			r.RequestSubtype = strings.Repeat("x", i*7)
			r.CreatedAt, r.ClosedAt = time.Time{}, time.Time{}
		}
		row := AppendRequest(nil, r)
		var got record.Request
		if _, err := DecodeRequest(row, &got); err != nil {
			t.Fatal(err)
		}
		u, o := rowUpdatedOrd(row)
		if u != sortTime(got.UpdatedAt) || o != got.Ord {
			t.Fatalf("row %d: rowUpdatedOrd = %d, %d; want %d, %d", i, u, o, sortTime(got.UpdatedAt), got.Ord)
		}
	}
}

// Each segment holds its partition's rows in shuffle order, full ties in arrival order,
// whatever the RequestIDs: longer or shorter than the 16 bytes an entry holds, sharing
// those, or differing only by trailing zero bytes; and whatever UpdatedAt (null, the epoch,
// before it) and Ord, repeated.
func TestWriterOrder(t *testing.T) {
	tests := []struct {
		name string
		R    int
		keys bool // many cities, years over three centuries, months outside 1–12
	}{
		{name: "R=1", R: 1},
		{name: "R=3", R: 3},
		{name: "R=3 odd keys", R: 3, keys: true},
	}
	for _, tc := range tests {
		R := tc.R
		rs := randRequests(uint64(200+R), 6000)
		rng := rand.New(rand.NewPCG(uint64(R), 7))
		alpha := []byte{0, 1, 'a', 0xff}
		for i := range rs {
			id := make([]byte, rng.IntN(41))
			for j := range id {
				if j < 14 && rng.IntN(4) > 0 {
					id[j] = 'a'
				} else {
					id[j] = alpha[rng.IntN(len(alpha))]
				}
			}
			rs[i].RequestID = string(id)
			switch rng.IntN(4) {
			case 0:
				rs[i].UpdatedAt = time.Unix(0, 0)
			case 1:
				rs[i].UpdatedAt = time.UnixMicro(-5)
			}
			if rng.IntN(3) == 0 {
				rs[i].Ord = uint64(rng.IntN(3))
			}
			rs[i].Zip = strconv.Itoa(i) // tells full ties apart
			if tc.keys {
				rs[i].City = "c" + strconv.Itoa(rng.IntN(3*maxCities))
				rs[i].Year = 1850 + rng.IntN(300)
				rs[i].Month = rng.IntN(15) - 1
			}
		}
		out, x := encodeMapOutput(t, R, rs)
		for p, seg := range x.Segments {
			var want []record.Request
			for _, r := range rs {
				if Partition(r.Key(), R) == p {
					want = append(want, r)
				}
			}
			slices.SortStableFunc(want, func(a, b record.Request) int { return Compare(&a, &b) })
			got, err := readAll(NewSegmentReader(bytes.NewReader(out[seg.Offset:seg.Offset+seg.Length]), seg))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: segment %d: %d rows, want %d", tc.name, p, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(AppendRequest(nil, &got[i]), AppendRequest(nil, &want[i])) {
					t.Fatalf("%s: segment %d row %d: %+v, want %+v", tc.name, p, i, got[i], want[i])
				}
			}
		}
	}
}

// A raw merge orders rows as Compare orders their records (scanRow, cmpRows).
func TestCmpRowsIsCompare(t *testing.T) {
	rs := randRequests(31, 400)
	for i := range rs {
		switch i % 5 {
		case 0:
			rs[i].UpdatedAt = time.Time{}
		case 1:
			rs[i].UpdatedAt = time.Unix(0, 0)
		case 2:
			rs[i].RequestID = rs[i].RequestID + "\x00"
		}
		rs[i].Ord = uint64(i % 3)
		if i%7 == 0 {
			rs[i].City = ""
		}
	}
	rows := make([][]byte, len(rs))
	keys := make([]rowKey, len(rs))
	for i := range rs {
		rows[i] = AppendRequest(nil, &rs[i])
		n, err := scanRow(rows[i], &keys[i])
		if err != nil || n != len(rows[i]) {
			t.Fatalf("scanRow(row %d) = %d, %v; want %d, nil", i, n, err, len(rows[i]))
		}
	}
	for i := range rs {
		for j := range rs {
			// Compare reads records as they decode, as a Merger does.
			var a, b record.Request
			if _, err := DecodeRequest(rows[i], &a); err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeRequest(rows[j], &b); err != nil {
				t.Fatal(err)
			}
			if got, want := cmpRows(rows[i], &keys[i], rows[j], &keys[j]), Compare(&a, &b); got != want {
				t.Fatalf("rows %d and %d: cmpRows = %d, Compare = %d (%+v, %+v)", i, j, got, want, a, b)
			}
		}
	}
	for cut := range len(rows[0]) {
		if _, err := scanRow(rows[0][:cut], new(rowKey)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("scanRow of %d of %d bytes: %v, want ErrCorrupt", cut, len(rows[0]), err)
		}
	}
}
