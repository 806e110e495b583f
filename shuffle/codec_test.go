package shuffle

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/record"
)

func TestRequestRoundTrip(t *testing.T) {
	created := time.Date(2019, 4, 18, 21, 55, 45, 123456000, time.UTC)
	full := record.Request{
		City: "nyc", RequestID: "42254749", CreatedAt: created, ClosedAt: created.Add(6 * time.Hour),
		UpdatedAt: created.Add(7 * time.Hour), Status: record.StatusClosed, StatusRaw: "Closed",
		Agency: "NYPD", RequestType: "Noise - Residential", RequestSubtype: "Banging/Pounding",
		Latitude: 40.58, Longitude: -73.96, HasLocation: true, Zip: "11235", Neighborhood: "BROOKLYN",
		Channel: "ONLINE", Year: 2019, Month: 4, Ord: 7,
	}
	with := func(f func(r *record.Request)) record.Request {
		r := full
		f(&r)
		return r
	}
	tests := []struct {
		name string
		in   record.Request
		want record.Request // zero: same as in
	}{
		{name: "full", in: full},
		{name: "zero record", in: record.Request{}},
		{name: "empty strings and null times", in: with(func(r *record.Request) {
			r.StatusRaw, r.Agency, r.Zip, r.Channel = "", "", "", ""
			r.ClosedAt, r.UpdatedAt = time.Time{}, time.Time{}
		})},
		{name: "negative coordinates", in: with(func(r *record.Request) { r.Latitude, r.Longitude = -33.86, -151.2 })},
		{name: "extreme floats", in: with(func(r *record.Request) { r.Latitude, r.Longitude = math.MaxFloat64, math.SmallestNonzeroFloat64 })},
		{name: "no location drops coordinates",
			in:   with(func(r *record.Request) { r.HasLocation = false }),
			want: with(func(r *record.Request) { r.HasLocation, r.Latitude, r.Longitude = false, 0, 0 })},
		{name: "unicode", in: with(func(r *record.Request) {
			r.City, r.Neighborhood, r.RequestType = "são paulo", "Chinatown 唐人街", "Ruido – ñandú 🚧"
		})},
		{name: "mojibake and invalid utf-8", in: with(func(r *record.Request) { r.StatusRaw, r.Agency = "Ã©tÃ©", "\xff\xfe\x00x" })},
		{name: "huge strings", in: with(func(r *record.Request) {
			r.RequestSubtype = strings.Repeat("long free text ", 100_000)
			r.RequestID = strings.Repeat("9", 70_000)
		})},
		{name: "pre-epoch and far times", in: with(func(r *record.Request) {
			r.CreatedAt = time.Date(1901, 1, 1, 0, 0, 0, 1000, time.UTC)
			r.ClosedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
			r.UpdatedAt = time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC) // a microsecond after the zero time
		})},
		{name: "nanoseconds truncate to microseconds",
			in:   with(func(r *record.Request) { r.CreatedAt = created.Add(999) }),
			want: with(func(r *record.Request) { r.CreatedAt = created })},
		{name: "epoch decodes as null",
			in:   with(func(r *record.Request) { r.ClosedAt = time.Unix(0, 0) }),
			want: with(func(r *record.Request) { r.ClosedAt = time.Time{} })},
		{name: "non-UTC location becomes UTC",
			in:   with(func(r *record.Request) { r.CreatedAt = created.In(time.FixedZone("EST", -5*3600)) }),
			want: full},
		{name: "extreme integers", in: with(func(r *record.Request) {
			r.Year, r.Month, r.Ord, r.Status = -4000, 13, math.MaxUint64, record.Status(200)
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == (record.Request{}) {
				want = tc.in
			}
			// Leading garbage and a trailing row check that n is exact and offsets are relative.
			buf := AppendRequest([]byte("xx"), &tc.in)
			end := len(buf)
			buf = AppendRequest(buf, &full)
			var got record.Request
			n, err := DecodeRequest(buf[2:], &got)
			if err != nil {
				t.Fatal(err)
			}
			if n != end-2 {
				t.Errorf("n = %d, want %d", n, end-2)
			}
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			var next record.Request
			if _, err := DecodeRequest(buf[2+n:], &next); err != nil || next != full {
				t.Errorf("following row: %v, %+v", err, next)
			}
		})
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	r := record.Request{City: "la", RequestID: "1-123", Agency: "BSS", HasLocation: true, Latitude: 34, Longitude: -118, Year: 2017, Month: 3}
	row := AppendRequest(nil, &r)
	tests := []struct {
		name string
		src  []byte
	}{
		{name: "empty", src: nil},
		{name: "unterminated varint", src: []byte{0x80, 0x80, 0x80}},
		{name: "overlong varint", src: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{name: "string longer than row", src: func() []byte {
			b := append([]byte(nil), row...)
			b[0] = 0x7f
			return b
		}()},
		{name: "huge string length", src: append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, row[1:]...)},
		{name: "unknown flag", src: func() []byte {
			b := AppendRequest(nil, &record.Request{}) // ends with status and flags
			b[len(b)-1] = 0x02
			return b
		}()},
		{name: "year beyond int32", src: func() []byte {
			b := make([]byte, nStrings)
			b = append(b, 0xfe, 0xff, 0xff, 0xff, 0x1f) // zigzag 2^32
			return append(b, make([]byte, 7)...)
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got record.Request
			if _, err := DecodeRequest(tc.src, &got); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for i := range len(row) {
			var got record.Request
			if _, err := DecodeRequest(row[:i], &got); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("row cut to %d of %d bytes: err = %v, want ErrCorrupt", i, len(row), err)
			}
		}
	})
}

// The shuffle order must put the newest version of a request last, as Newer defines it, for
// records that went through the encoding — that is what reducers de-duplicate.
func TestCompareAgreesWithNewer(t *testing.T) {
	base := record.Request{City: "sf", RequestID: "101", Year: 2014, Month: 11}
	at := func(sec int64, ord uint64) record.Request {
		r := base
		if sec != 0 {
			r.UpdatedAt = time.Unix(sec, 0).UTC()
		}
		r.Ord = ord
		return r
	}
	tests := []struct {
		name         string
		older, newer record.Request
	}{
		{name: "later update", older: at(100, 9), newer: at(200, 1)},
		{name: "same update, later read", older: at(100, 1), newer: at(100, 2)},
		{name: "null update is oldest", older: at(0, 9), newer: at(100, 1)},
		{name: "pre-epoch update beats null", older: at(0, 5), newer: at(-1, 5)},
		{name: "epoch update is null", older: at(0, 1), newer: record.Request{City: "sf", RequestID: "101", Year: 2014, Month: 11, UpdatedAt: time.Unix(0, 0), Ord: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, n := wireForm(t, &tc.older), wireForm(t, &tc.newer)
			if !n.Newer(&o) || o.Newer(&n) {
				t.Fatalf("fixture: Newer disagrees with the case")
			}
			if Compare(&o, &n) >= 0 || Compare(&n, &o) <= 0 {
				t.Errorf("Compare puts the newer version first")
			}
			if Compare(&tc.older, &tc.newer) >= 0 {
				t.Errorf("Compare on unencoded records disagrees with the encoded order")
			}
		})
	}
}

func TestPartition(t *testing.T) {
	// Partition is part of the wire protocol: these values must never change without a
	// format version bump.
	golden := []struct {
		key      record.Key
		reducers int
		want     int
	}{
		{record.Key{City: "nyc", Year: 2019, Month: 4}, 8, 4},
		{record.Key{City: "nyc", Year: 2019, Month: 5}, 8, 0},
		{record.Key{City: "la", Year: 2017, Month: 1}, 8, 5},
		{record.Key{City: "baltimore", Year: 2015, Month: 12}, 1000, 888},
		{record.Key{}, 7, 0},
	}
	for _, g := range golden {
		if got := Partition(g.key, g.reducers); got != g.want {
			t.Errorf("Partition(%v, %d) = %d, want %d", g.key, g.reducers, got, g.want)
		}
	}
	for _, R := range []int{-1, 0, 1} {
		if got := Partition(record.Key{City: "sf", Year: 2014, Month: 1}, R); got != 0 {
			t.Errorf("Partition(_, %d) = %d, want 0", R, got)
		}
	}
	// Every city-month of a decade lands in range and no reducer of 8 is starved.
	hits := make([]int, 8)
	for _, c := range []string{"nyc", "la", "sf", "boston", "baltimore"} {
		for y := 2010; y < 2020; y++ {
			for m := 1; m <= 12; m++ {
				p := Partition(record.Key{City: c, Year: y, Month: m}, len(hits))
				if p < 0 || p >= len(hits) {
					t.Fatalf("Partition out of range: %d", p)
				}
				hits[p]++
			}
		}
	}
	for p, n := range hits {
		if n < 600/8/2 {
			t.Errorf("reducer %d gets %d of 600 keys: %v", p, n, hits)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, r := range randRequests(1, 8) {
		f.Add(AppendRequest(nil, &r))
	}
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, src []byte) {
		var r record.Request
		n, err := DecodeRequest(src, &r)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if n <= 0 || n > len(src) {
			t.Fatalf("n = %d for %d bytes", n, len(src))
		}
		// What decodes must re-encode to something that decodes to the same record.
		var again record.Request
		if _, err := DecodeRequest(AppendRequest(nil, &r), &again); err != nil || !sameBits(again, r) {
			t.Fatalf("re-encoding: %v\n got %+v\nwant %+v", err, again, r)
		}
	})
}

// sameBits is == except that float coordinates compare by bits (NaN from garbage input).
func sameBits(a, b record.Request) bool {
	if math.Float64bits(a.Latitude) != math.Float64bits(b.Latitude) || math.Float64bits(a.Longitude) != math.Float64bits(b.Longitude) {
		return false
	}
	a.Latitude, a.Longitude, b.Latitude, b.Longitude = 0, 0, 0, 0
	return a == b
}

func BenchmarkCodec(b *testing.B) {
	rs := randRequests(2, 1024)
	var raw int64
	var buf []byte
	for i := range rs {
		buf = AppendRequest(buf, &rs[i])
	}
	raw = int64(len(buf))
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(raw)
		b.ReportAllocs()
		for b.Loop() {
			buf = buf[:0]
			for i := range rs {
				buf = AppendRequest(buf, &rs[i])
			}
		}
	})
	for _, intern := range []bool{false, true} {
		name := "decode"
		if intern {
			name = "decode-interned"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(raw)
			b.ReportAllocs()
			var in *interner
			if intern {
				in = &interner{}
			}
			var r record.Request
			for b.Loop() {
				for src := buf; len(src) > 0; {
					n, err := decodeRow(src, &r, in)
					if err != nil {
						b.Fatal(err)
					}
					src = src[n:]
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(rs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
