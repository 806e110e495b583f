package lake

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/record"
)

// encodeDefault encodes rows with the lake's writer at parquet-go's default buffer sizes,
// as EncodeParquet did before it sized them.
func encodeDefault[T any](t *testing.T, rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	pw := NewParquetWriter[T](&buf)
	for len(rows) > 0 {
		n := min(len(rows), 4096)
		if _, err := pw.Write(rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sizedRows makes n lake rows whose strings are about strLen bytes, nulls included.
func sizedRows(n, strLen int) []Row {
	rng := rand.New(rand.NewPCG(5, 6))
	str := func() *string {
		if rng.IntN(5) == 0 {
			return nil
		}
		s := strings.Repeat("x", rng.IntN(strLen+1)) + fmt.Sprint(rng.IntN(50))
		return &s
	}
	rows := make([]Row, n)
	for i := range rows {
		h := rng.Float64()
		rows[i] = Row{RequestID: strings.Repeat("r", rng.IntN(strLen+1)) + fmt.Sprint(i), CreatedAt: rng.Int64N(1e15), Status: "closed",
			StatusRaw: str(), Agency: str(), RequestType: str(), RequestSubtype: str(), Zip: str(), Neighborhood: str(), Channel: str(),
			ClosedAt: nil, ResolutionHours: &h}
		if rng.IntN(2) == 0 {
			rows[i].Latitude, rows[i].Longitude = &h, &h
		}
	}
	return rows
}

// TestEncodeParquetSizedSameBytes: the page buffers EncodeParquet sizes to the rows
// (PageBufferFor) change no byte of a file, from one row to rows whose columns fill several
// pages at the default size.
func TestEncodeParquetSizedSameBytes(t *testing.T) {
	monthly := func(n int) []MonthlyRow {
		rows := make([]MonthlyRow, n)
		for i := range rows {
			h := float64(i)
			rows[i] = MonthlyRow{RequestType: fmt.Sprint("type ", i%150), Agency: fmt.Sprint("agency ", i%20), Requests: int64(i), MedianResolutionHours: &h}
		}
		return rows
	}
	geo := func(n int) []GeoRow {
		rows := make([]GeoRow, n)
		for i := range rows {
			rows[i] = GeoRow{RequestType: fmt.Sprint("type ", i%150), LatBin: float64(i), LonBin: -float64(i), Requests: int64(i)}
		}
		return rows
	}
	for _, c := range []struct {
		name string
		got  func() ([]byte, error)
		want func() []byte
	}{
		{"monthly/1", encodeWith(monthly(1)), func() []byte { return encodeDefault(t, monthly(1)) }},
		{"monthly/3000", encodeWith(monthly(3000)), func() []byte { return encodeDefault(t, monthly(3000)) }},
		{"monthly/40000", encodeWith(monthly(40000)), func() []byte { return encodeDefault(t, monthly(40000)) }},
		{"geo/0", encodeWith(geo(0)), func() []byte { return encodeDefault(t, geo(0)) }},
		{"geo/9000", encodeWith(geo(9000)), func() []byte { return encodeDefault(t, geo(9000)) }},
		{"rows/1", encodeWith(sizedRows(1, 10)), func() []byte { return encodeDefault(t, sizedRows(1, 10)) }},
		{"rows/700-short", encodeWith(sizedRows(700, 10)), func() []byte { return encodeDefault(t, sizedRows(700, 10)) }},
		{"rows/700-long", encodeWith(sizedRows(700, 300)), func() []byte { return encodeDefault(t, sizedRows(700, 300)) }},
		{"rows/9000-long", encodeWith(sizedRows(9000, 100)), func() []byte { return encodeDefault(t, sizedRows(9000, 100)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.got()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want()) {
				t.Error("the sized writer wrote other bytes than the default one")
			}
		})
	}
}

func encodeWith[T any](rows []T) func() ([]byte, error) {
	return func() ([]byte, error) {
		var buf bytes.Buffer
		err := EncodeParquet(&buf, rows)
		return buf.Bytes(), err
	}
}

func TestPageBufferFor(t *testing.T) {
	for _, c := range []struct {
		n        int
		strBytes int64
		want     int
	}{
		{0, 0, 4 << 10},
		{100, 0, 4 << 10},
		{200, 0, 8 << 10},
		{100, 10_000, 16 << 10},
		{10_000, 0, parquet.DefaultPageBufferSize},
		{1, 1 << 20, parquet.DefaultPageBufferSize},
	} {
		if got := PageBufferFor(c.n, c.strBytes); got != c.want {
			t.Errorf("PageBufferFor(%d, %d) = %d, want %d", c.n, c.strBytes, got, c.want)
		}
	}
}

// TestSizedForUnboundedTypes: a row type with fields whose size pageBufferFor cannot bound keeps
// the default buffers.
func TestSizedForUnboundedTypes(t *testing.T) {
	type listRow struct {
		Tags []string `parquet:"tags,list"`
	}
	if size := pageBufferFor([]listRow{{Tags: []string{"a"}}}); size != parquet.DefaultPageBufferSize {
		t.Errorf("pageBufferFor of a row with a list: %d, want the default %d", size, parquet.DefaultPageBufferSize)
	}
	if size := pageBufferFor([]HeatRow{{Agency: "DOT"}}); size >= parquet.DefaultPageBufferSize {
		t.Errorf("pageBufferFor of a summary row: %d, want less than the default %d", size, parquet.DefaultPageBufferSize)
	}
}

// TestStringBytes: StringBytes counts every string of a lake row, as pageBufferFor does by
// reflection, and Row has only fields PageBufferFor bounds.
func TestStringBytes(t *testing.T) {
	fields, ok := stringFields(reflect.TypeFor[Row]())
	if !ok {
		t.Fatal("Row has a field PageBufferFor cannot bound: the reducer must not size its files' buffers")
	}
	for _, r := range []record.Request{
		{RequestID: "1", Status: record.StatusOpen},
		{RequestID: "abc", Status: record.StatusClosed, StatusRaw: "Closed", Agency: "DOT", RequestType: "Pothole",
			RequestSubtype: "Big one", Zip: "10001", Neighborhood: "Chelsea", Channel: "phone"},
	} {
		want := int(stringLen(reflect.ValueOf(ToRow(&r)), fields))
		if got := StringBytes(&r); got != want {
			t.Errorf("StringBytes(%+v) = %d, want %d", r, got, want)
		}
	}
}

// TestPooledWriterSameBytes: a pooled writer, reset after the files before it, writes the
// bytes a new writer at the default buffer sizes writes, file after file of sizes that
// share a page buffer size and of sizes that do not, with nulls and dictionaries whose
// values change from file to file.
func TestPooledWriterSameBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		n := rng.IntN(600)
		if i%50 == 0 {
			n = 5000 + rng.IntN(5000) // pages cut at the default size
		}
		lakeRows := sizedRows(n, rng.IntN(40))
		monthly := make([]MonthlyRow, n)
		for j := range monthly {
			monthly[j] = MonthlyRow{RequestType: fmt.Sprint("type ", rng.IntN(50)), Agency: fmt.Sprint("agency ", rng.IntN(3+i%7)), Requests: rng.Int64N(100)}
			if rng.IntN(3) > 0 {
				h := rng.Float64()
				monthly[j].MedianResolutionHours = &h
			}
		}
		var got bytes.Buffer
		if err := EncodeParquet(&got, lakeRows); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), encodeDefault(t, lakeRows)) {
			t.Fatalf("file %d, %d lake rows: the pooled writer's bytes differ from a new writer's", i, n)
		}
		got.Reset()
		if err := EncodeParquet(&got, monthly); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), encodeDefault(t, monthly)) {
			t.Fatalf("file %d, %d monthly rows: the pooled writer's bytes differ from a new writer's", i, n)
		}
	}
}

// TestEncodeParquetToWriter: EncodeParquet to a writer that is not a bytes.Buffer (which it
// buffers itself) writes the same bytes as to a buffer.
func TestEncodeParquetToWriter(t *testing.T) {
	rows := sizedRows(3000, 20)
	var buf, out bytes.Buffer
	if err := EncodeParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if err := EncodeParquet(struct{ io.Writer }{&out}, rows); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), out.Bytes()) {
		t.Errorf("to a writer: %d bytes, to a buffer: %d, not the same", out.Len(), buf.Len())
	}
}
