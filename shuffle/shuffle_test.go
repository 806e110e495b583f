package shuffle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/ireports/ireports/record"
)

func TestWriterRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		reducers int
		records  int
	}{
		{name: "R=1", reducers: 1, records: 3000},
		{name: "R=3", reducers: 3, records: 3000},
		{name: "R=8", reducers: 8, records: 3000},
		{name: "R=8 few records", reducers: 8, records: 5},
		{name: "R=3 empty", reducers: 3, records: 0},
		// Enough rows that segments span several blocks.
		{name: "R=3 multi-block", reducers: 3, records: 20000},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := randRequests(uint64(i), tc.records)
			path, x := writeMapOutput(t, t.TempDir(), "map.shuffle", tc.reducers, rs)
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			read, err := ReadIndex(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(read.Segments, x.Segments) {
				t.Fatalf("ReadIndex = %+v, WriteFile returned %+v", read, x)
			}
			if len(x.Segments) != tc.reducers || x.Records() != int64(tc.records) {
				t.Fatalf("%d segments with %d records, want %d and %d", len(x.Segments), x.Records(), tc.reducers, tc.records)
			}
			// Each reducer's segment is exactly the sorted records of its partition.
			want := make([][]record.Request, tc.reducers)
			for _, r := range sortedWire(t, rs) {
				p := Partition(r.Key(), tc.reducers)
				want[p] = append(want[p], r)
			}
			for p, seg := range x.Segments {
				got, err := readAll(segmentReader(file, seg))
				if err != nil {
					t.Fatalf("segment %d: %v", p, err)
				}
				if d := diffRecords(got, want[p]); d != "" {
					t.Errorf("segment %d: %s", p, d)
				}
			}
		})
	}
}

func TestWriterDeterministicAndReusable(t *testing.T) {
	// The same records in another order give the same bytes. Full ties (which the
	// generator's repeated Ords create) keep arrival order, so make Ords unique here.
	uniq := randRequests(7, 2000)
	for i := range uniq {
		uniq[i].Ord = uint64(i)
	}
	a, _ := encodeMapOutput(t, 4, uniq)
	rev := slices.Clone(uniq)
	slices.Reverse(rev)
	b, _ := encodeMapOutput(t, 4, rev)
	if !bytes.Equal(a, b) {
		t.Errorf("map output depends on the order of Add")
	}
	// Reset, then the same input again: same bytes; WriteFile twice: same bytes.
	w, err := NewWriter(4)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		w.Reset()
		for i := range uniq {
			if err := w.Add(&uniq[i]); err != nil {
				t.Fatal(err)
			}
		}
		for j := range 2 {
			var buf bytes.Buffer
			if _, err := w.writeTo(&buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), a) {
				t.Errorf("round %d, write %d: bytes differ", round, j)
			}
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeMapOutput(t, dir, "m.shuffle", 2, randRequests(3, 100))
	// Overwriting an existing output replaces it whole and leaves no temporary file.
	path2, x := writeMapOutput(t, dir, "m.shuffle", 2, randRequests(4, 10))
	if path != path2 {
		t.Fatal("paths differ")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the map output", len(entries))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if got, err := ReadIndex(f, st.Size()); err != nil || got.Records() != 10 || !slices.Equal(got.Segments, x.Segments) {
		t.Errorf("ReadIndex after overwrite: %+v, %v", got, err)
	}
	// A directory that does not exist fails without leaving anything behind.
	w, _ := NewWriter(1)
	if _, err := w.WriteFile(filepath.Join(dir, "missing", "m.shuffle")); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestWriterRejects(t *testing.T) {
	for _, R := range []int{0, -3} {
		if _, err := NewWriter(R); !errors.Is(err, ErrReducers) {
			t.Errorf("NewWriter(%d): err = %v, want ErrReducers", R, err)
		}
	}
	w, _ := NewWriter(2)
	ok := record.Request{City: "nyc", RequestID: "1", Year: 2020, Month: 1}
	big := ok
	big.RequestSubtype = strings.Repeat("x", maxRow)
	if err := w.Add(&ok); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(&big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Add of a %d-byte row: err = %v, want ErrTooLarge", maxRow, err)
	}
	if w.Records() != 1 {
		t.Errorf("Records = %d after a rejected Add, want 1", w.Records())
	}
	var buf bytes.Buffer
	x, err := w.writeTo(&buf)
	if err != nil || x.Records() != 1 {
		t.Fatalf("write after a rejected Add: %+v, %v", x, err)
	}
	got, err := readAll(segmentReader(buf.Bytes(), x.Segments[Partition(ok.Key(), 2)]))
	if err != nil || len(got) != 1 || got[0] != ok {
		t.Errorf("read back %+v, %v", got, err)
	}
}

// Merging segment r of several map outputs gives exactly the sorted records of partition r.
func TestMergeEqualsSort(t *testing.T) {
	tests := []struct {
		name     string
		maps     int
		reducers int
		records  int // per map task
	}{
		{name: "1 map", maps: 1, reducers: 3, records: 2000},
		{name: "5 maps", maps: 5, reducers: 3, records: 1500},
		{name: "12 maps R=1", maps: 12, reducers: 1, records: 300},
		{name: "maps with nothing", maps: 4, reducers: 8, records: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var all []record.Request
			files := make([][]byte, tc.maps)
			idx := make([]Index, tc.maps)
			for m := range tc.maps {
				rs := randRequests(uint64(100+m), tc.records)
				// Distinct Ords across map tasks, as the planner assigns them; the same
				// request ids recur across tasks, so versions meet only in the merge.
				for i := range rs {
					rs[i].Ord = uint64(m)<<32 | uint64(i)
				}
				all = append(all, rs...)
				files[m], idx[m] = encodeMapOutput(t, tc.reducers, rs)
			}
			want := make([][]record.Request, tc.reducers)
			for _, r := range sortedWire(t, all) {
				p := Partition(r.Key(), tc.reducers)
				want[p] = append(want[p], r)
			}
			for p := range tc.reducers {
				srcs := make([]Source, tc.maps)
				for m := range tc.maps {
					srcs[m] = segmentReader(files[m], idx[m].Segments[p])
				}
				got, err := readAll(NewMerger(srcs))
				if err != nil {
					t.Fatalf("reducer %d: %v", p, err)
				}
				if d := diffRecords(got, want[p]); d != "" {
					t.Errorf("reducer %d: %s", p, d)
				}
			}
		})
	}
}

// sliceSource is a Source over records, ending with err (io.EOF if nil).
type sliceSource struct {
	rs  []record.Request
	err error
}

func (s *sliceSource) Next(r *record.Request) error {
	if len(s.rs) == 0 {
		if s.err != nil {
			return s.err
		}
		return io.EOF
	}
	*r, s.rs = s.rs[0], s.rs[1:]
	return nil
}

func TestMergerErrors(t *testing.T) {
	req := func(id string) record.Request { return record.Request{City: "la", RequestID: id, Year: 2017, Month: 2} }
	boom := errors.New("boom")
	tests := []struct {
		name    string
		srcs    []*sliceSource
		wantN   int // records returned before the error
		wantErr error
	}{
		{name: "no sources", wantN: 0},
		{name: "source out of order", srcs: []*sliceSource{{rs: []record.Request{req("1"), req("3"), req("2")}}}, wantN: 2, wantErr: ErrCorrupt},
		{name: "source fails first", srcs: []*sliceSource{{rs: []record.Request{req("1")}}, {err: boom}}, wantN: 0, wantErr: boom},
		{name: "source fails later", srcs: []*sliceSource{{rs: []record.Request{req("1"), req("2")}, err: boom}, {rs: []record.Request{req("0")}}}, wantN: 3, wantErr: boom},
		{name: "ties by source", srcs: []*sliceSource{{rs: []record.Request{req("1")}}, {rs: []record.Request{req("1")}}}, wantN: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs := make([]Source, len(tc.srcs))
			for i, s := range tc.srcs {
				srcs[i] = s
			}
			m := NewMerger(srcs)
			got, err := readAll(m)
			if len(got) != tc.wantN {
				t.Errorf("%d records before the error, want %d", len(got), tc.wantN)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				var r record.Request
				if again := m.Next(&r); again == nil || again.Error() != err.Error() {
					t.Errorf("error is not sticky: %v", again)
				}
			}
		})
	}
}

// Any single flipped byte anywhere in a map output is caught: by ReadIndex, or by the
// segment reader before EOF.
func TestCorruptionDetected(t *testing.T) {
	rs := randRequests(9, 40)
	file, _ := encodeMapOutput(t, 3, rs)
	for off := range file {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(file)
			bad[off] ^= bit
			err := readMapOutput(bad)
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("byte %d of %d flipped by %#x: err = %v, want ErrCorrupt", off, len(file), bit, err)
			}
		}
	}
}

// readMapOutput reads a whole map output and returns the first error.
func readMapOutput(file []byte) error {
	x, err := ReadIndex(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		return err
	}
	for _, seg := range x.Segments {
		if _, err := readAll(segmentReader(file, seg)); err != nil {
			return err
		}
	}
	return nil
}

func TestSegmentReaderShortAndWrong(t *testing.T) {
	file, x := encodeMapOutput(t, 1, randRequests(11, 500))
	seg := x.Segments[0]
	body := file[seg.Offset : seg.Offset+seg.Length]
	tests := []struct {
		name string
		r    io.Reader
		seg  Segment
	}{
		{name: "truncated stream", r: bytes.NewReader(body[:len(body)-10]), seg: seg},
		{name: "empty stream", r: bytes.NewReader(nil), seg: seg},
		{name: "wrong CRC", r: bytes.NewReader(body), seg: func() Segment { s := seg; s.CRC++; return s }()},
		{name: "more records claimed", r: bytes.NewReader(body), seg: func() Segment { s := seg; s.Records++; return s }()},
		{name: "fewer raw bytes claimed", r: bytes.NewReader(body), seg: func() Segment { s := seg; s.RawBytes--; return s }()},
		{name: "longer than the blocks", r: io.MultiReader(bytes.NewReader(body), bytes.NewReader(make([]byte, 20))), seg: func() Segment { s := seg; s.Length += 20; return s }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(NewSegmentReader(tc.r, tc.seg))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("stream error passes through", func(t *testing.T) {
		boom := errors.New("connection reset")
		_, err := readAll(NewSegmentReader(io.MultiReader(bytes.NewReader(body[:100]), iotestErr{boom}), seg))
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("err = %v, want the stream's error", err)
		}
	})
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestReadIndexRejects(t *testing.T) {
	file, _ := encodeMapOutput(t, 2, randRequests(12, 10))
	tests := []struct {
		name string
		file []byte
		size int64
		want error
	}{
		{name: "empty", file: nil, want: ErrCorrupt},
		{name: "header only", file: []byte(magic), want: ErrCorrupt},
		{name: "not a map output", file: bytes.Repeat([]byte("a,b,c\n"), 20), want: ErrCorrupt},
		{name: "future version", file: bytes.ReplaceAll(bytes.Clone(file), []byte(magic), []byte(magicPrefix+"\x00\x02")), want: ErrVersion},
		{name: "truncated", file: file[:len(file)-1], want: ErrCorrupt},
		{name: "size beyond file", file: file, size: int64(len(file)) + 100, want: ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if size == 0 {
				size = int64(len(tc.file))
			}
			if _, err := ReadIndex(bytes.NewReader(tc.file), size); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzReadIndex feeds garbage and damaged map outputs to ReadIndex and the segment reader.
// Run it with a bounded minimization, which otherwise stalls the fuzzer for a minute on
// every new input of this size:
//
//	go test -run XXX -fuzz FuzzReadIndex -fuzztime 5m -fuzzminimizetime 50x ./shuffle
func FuzzReadIndex(f *testing.F) {
	file, _ := encodeMapOutput(f, 3, randRequests(13, 20))
	f.Add(file)
	empty, _ := encodeMapOutput(f, 1, nil)
	f.Add(empty)
	f.Add([]byte(magic + magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadIndex(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		// A valid index points only inside the file, and reading the segments never panics.
		for _, seg := range x.Segments {
			if seg.Offset < int64(headerLen) || seg.Offset+seg.Length > int64(len(b)) {
				t.Fatalf("segment %+v outside a %d-byte file", seg, len(b))
			}
			if _, err := readAll(segmentReader(b, seg)); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("segment error wraps no sentinel: %v", err)
			}
		}
	})
}

// Real exports of five cities, cut into three map tasks, shuffled to four reducers.
func TestRealData(t *testing.T) {
	all := realRequests(t)
	const maps, R = 3, 4
	files := make([][]byte, maps)
	idx := make([]Index, maps)
	var raw, stored int64
	for m := range maps {
		lo, hi := m*len(all)/maps, (m+1)*len(all)/maps
		files[m], idx[m] = encodeMapOutput(t, R, all[lo:hi])
		for _, s := range idx[m].Segments {
			raw += s.RawBytes
			stored += s.Length
		}
	}
	t.Logf("%d records, %d encoded bytes, %d stored (%.2fx)", len(all), raw, stored, float64(raw)/float64(stored))
	want := make([][]record.Request, R)
	for _, r := range sortedWire(t, all) {
		p := Partition(r.Key(), R)
		want[p] = append(want[p], r)
	}
	for p := range R {
		srcs := make([]Source, maps)
		for m := range maps {
			srcs[m] = segmentReader(files[m], idx[m].Segments[p])
		}
		got, err := readAll(NewMerger(srcs))
		if err != nil {
			t.Fatalf("reducer %d: %v", p, err)
		}
		if d := diffRecords(got, want[p]); d != "" {
			t.Errorf("reducer %d: %s", p, d)
		}
	}
}

// benchRecords is the records benchmarks use: real rows repeated when the fixtures are
// present (their strings are what compression sees in production), synthetic otherwise.
func benchRecords(b *testing.B, n int) []record.Request {
	var base []record.Request
	if _, err := os.Stat(filepath.Join("..", "..", "shared", "data", "311")); err == nil {
		base = realRequests(b)
	} else {
		base = randRequests(1, 10_000)
	}
	out := make([]record.Request, n)
	for i := range out {
		out[i] = base[i%len(base)]
		out[i].Ord = uint64(i)
	}
	return out
}

func BenchmarkWriter(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		for _, R := range []int{1, 16} {
			b.Run(fmt.Sprintf("records=%d/R=%d", n, R), func(b *testing.B) {
				rs := benchRecords(b, n)
				w, _ := NewWriter(R)
				b.ReportAllocs()
				b.ResetTimer()
				var raw int64
				for b.Loop() {
					w.Reset()
					for i := range rs {
						if err := w.Add(&rs[i]); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := w.writeTo(io.Discard); err != nil {
						b.Fatal(err)
					}
					raw = w.RawBytes()
				}
				b.SetBytes(raw)
				b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	const total = 100_000
	for _, maps := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("sources=%d/records=%d", maps, total), func(b *testing.B) {
			rs := benchRecords(b, total)
			files := make([][]byte, maps)
			segs := make([]Segment, maps)
			var raw int64
			for m := range maps {
				var x Index
				files[m], x = encodeMapOutput(b, 1, rs[m*total/maps:(m+1)*total/maps])
				segs[m] = x.Segments[0]
				raw += segs[m].RawBytes
			}
			b.SetBytes(raw)
			b.ReportAllocs()
			b.ResetTimer()
			var r record.Request
			for b.Loop() {
				srcs := make([]Source, maps)
				for m := range maps {
					srcs[m] = segmentReader(files[m], segs[m])
				}
				mg := NewMerger(srcs)
				n := 0
				for ; ; n++ {
					if err := mg.Next(&r); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
				if n != total {
					b.Fatalf("merged %d records, want %d", n, total)
				}
			}
			b.ReportMetric(float64(b.N)*total/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkBlockCodec compares the block compressors considered for segments, on blocks of
// sorted real rows; it reports the compression ratio next to the speeds.
func BenchmarkBlockCodec(b *testing.B) {
	rs := benchRecords(b, 20_000)
	file, x := encodeMapOutput(b, 1, rs)
	rows, err := readAll(segmentReader(file, x.Segments[0]))
	if err != nil {
		b.Fatal(err)
	}
	var block []byte
	for i := range rows {
		if len(block) >= blockSize {
			break
		}
		block = AppendRequest(block, &rows[i])
	}
	zenc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	zdec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	codecs := []struct {
		name   string
		encode func(dst, src []byte) []byte
		decode func(dst, src []byte) ([]byte, error)
	}{
		{"s2", s2.Encode, s2.Decode},
		{"s2-better", s2.EncodeBetter, s2.Decode},
		{"zstd-fastest", func(dst, src []byte) []byte { return zenc.EncodeAll(src, dst[:0]) },
			func(dst, src []byte) ([]byte, error) { return zdec.DecodeAll(src, dst[:0]) }},
	}
	for _, c := range codecs {
		comp := c.encode(nil, block)
		ratio := float64(len(block)) / float64(len(comp))
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(block)))
			dst := make([]byte, s2.MaxEncodedLen(len(block)))
			for b.Loop() {
				c.encode(dst, block)
			}
			b.ReportMetric(ratio, "ratio")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(block)))
			dst := make([]byte, len(block))
			for b.Loop() {
				if _, err := c.decode(dst, comp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(ratio, "ratio")
		})
	}
}
