package pgcopy

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// TestCopyEncode checks the COPY text encoding of each kind of field against the format's
// rules: the characters that delimit fields and rows, and the backslash, escaped; NULL as
// \N; floats that read back as the same float64; and the packing of request_heat,
// request_geo and agency_daily: one row per agency or request type, its cells in key order
// whatever order the summaries list them in.
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
			"a\\tb\t2024\t1\tx\\\\Ny\\nz\\r\t{167}\t{1}\n"},
		{"end-of-data marker as text", summary.Tables{Heat: []summary.Heat{{City: `\.`, Agency: "", Year: 2024, Month: 1}}},
			"\\\\.\t2024\t1\t\t{0}\t{0}\n"},
		{"unicode text", summary.Tables{Geo: []summary.Geo{{City: "são paulo", Year: 2024, Month: 12, RequestType: "\uFFFD",
			LatBin: -23.55, LonBin: -46.633, Requests: 2}}},
			"são paulo\t2024\t12\t\uFFFD\t{-23.55}\t{-46.633}\t{2}\n"},
		{"float extremes", summary.Tables{Geo: []summary.Geo{{City: "c", Year: 1, Month: 1, LatBin: math.SmallestNonzeroFloat64,
			LonBin: math.MaxFloat64, Requests: -1}, {City: "c", Year: 1, Month: 1, LatBin: math.NaN(), LonBin: math.Inf(-1)}}},
			"c\t1\t1\t\t{NaN,5e-324}\t{-Infinity,1.7976931348623157e+308}\t{0,-1}\n"},
		{"non-finite and missing medians", summary.Tables{AgencyDaily: []summary.AgencyDaily{
			{City: "c", Agency: "a", Day: 19723, Opened: 1, Closed: 0, MedianResolutionHours: f(math.NaN())},
			{City: "c", Agency: "a", Day: 19724, Opened: 1, Closed: 1, MedianResolutionHours: f(math.Inf(1))},
			{City: "c", Agency: "a", Day: 19725, Opened: 1, Closed: 1, MedianResolutionHours: f(math.Inf(-1))},
			{City: "c", Agency: "a", Day: 19753, Opened: 2, Closed: 0}}},
			"c\t2024\t1\ta\t{1,2,3,31}\t{1,1,1,2}\t{0,1,1,0}\t{NaN,Infinity,-Infinity,NULL}\n"},
		// Packed by agency, days increasing, whatever the order of the rows.
		{"agency_daily packed", summary.Tables{AgencyDaily: []summary.AgencyDaily{
			{City: "c", Agency: "", Day: 19725, Opened: 2},
			{City: "c", Agency: "", Day: 19724, Opened: 1},
			{City: "c", Agency: "DOT", Day: 19723, Opened: 3, MedianResolutionHours: f(0.25)},
			{City: "c", Agency: "NYPD", Day: 19724, Opened: 5},
			{City: "c", Agency: "DOT", Day: 19725, Opened: 4, Closed: 9}}},
			"c\t2024\t1\t\t{2,3}\t{1,2}\t{0,0}\t{NULL,NULL}\n" +
				"c\t2024\t1\tDOT\t{1,3}\t{3,4}\t{0,9}\t{0.25,NULL}\n" +
				"c\t2024\t1\tNYPD\t{2}\t{5}\t{0}\t{NULL}\n"},
		{"request_heat packed", summary.Tables{Heat: []summary.Heat{
			{City: "c", Agency: "DOT", Year: 2024, Month: 2, Weekday: 1, Hour: 0, Requests: 4},
			{City: "c", Agency: "DOT", Year: 2024, Month: 2, Weekday: 0, Hour: 23, Requests: 3},
			{City: "c", Agency: "", Year: 2024, Month: 2, Weekday: 6, Hour: 5, Requests: 2},
			{City: "c", Agency: "DOT", Year: 2024, Month: 2, Weekday: 0, Hour: 1, Requests: 1}}},
			"c\t2024\t2\t\t{149}\t{2}\n" +
				"c\t2024\t2\tDOT\t{1,23,24}\t{1,3,4}\n"},
		{"request_geo packed", summary.Tables{Geo: []summary.Geo{
			{City: "c", Year: 2024, Month: 2, RequestType: "Noise", LatBin: 40.7, LonBin: -74, Requests: 1},
			{City: "c", Year: 2024, Month: 2, RequestType: "Noise", LatBin: 40.69, LonBin: -73.5, Requests: 2},
			{City: "c", Year: 2024, Month: 2, RequestType: "Noise", LatBin: 40.69, LonBin: -74, Requests: 3},
			{City: "c", Year: 2024, Month: 2, RequestType: "Heat", LatBin: 40.7, LonBin: -74, Requests: 4}}},
			"c\t2024\t2\tHeat\t{40.7}\t{-74}\t{4}\n" +
				"c\t2024\t2\tNoise\t{40.69,40.69,40.7}\t{-74,-73.5,-74}\t{3,2,1}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Batch
			if err := b.Encode(groupOf(tc.tab), &tc.tab); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			for _, c := range b.Bufs {
				got.Write(c.Data)
			}
			if got.String() != tc.want {
				t.Errorf("encoded\n%q\nwant\n%q", got.String(), tc.want)
			}
			if n := len(tc.tab.Monthly) + len(tc.tab.AgencyDaily) + len(tc.tab.Heat) + len(tc.tab.Geo); b.SummaryRows() != n {
				t.Errorf("%d rows counted, want %d", b.SummaryRows(), n)
			}
		})
	}
}

// TestCopyEncodeRefuses checks that what a packed table would store wrongly instead of
// refusing it fails the encoding, naming the group, the table and the key: two rows with one
// key (which the old tables' primary keys refused), and a weekday or hour out of range (which
// their CHECKs refused, and which would make another weekday's and hour's cell).
func TestCopyEncodeRefuses(t *testing.T) {
	heat := func(agency string, wd, h int32) summary.Heat {
		return summary.Heat{City: "c", Agency: agency, Year: 2024, Month: 2, Weekday: wd, Hour: h, Requests: 1}
	}
	geo := func(typ string, lat, lon float64) summary.Geo {
		return summary.Geo{City: "c", Year: 2024, Month: 2, RequestType: typ, LatBin: lat, LonBin: lon, Requests: 1}
	}
	daily := func(agency string, day int32) summary.AgencyDaily {
		return summary.AgencyDaily{City: "c", Agency: agency, Day: day, Opened: 1}
	}
	for _, tc := range []struct {
		name string
		tab  summary.Tables
		err  error
		msg  string
	}{
		{"heat cell twice", summary.Tables{Heat: []summary.Heat{heat("A", 1, 2), heat("B", 1, 2), heat("A", 1, 2)}},
			ErrDuplicateKey, `request_heat: agency "A", weekday 1, hour 2`},
		{"geo bin twice", summary.Tables{Geo: []summary.Geo{geo("N", 40.7, -74), geo("N", 40.7, -73), geo("N", 40.7, -74)}},
			ErrDuplicateKey, `request_geo: request type "N", bin 40.7, -74`},
		{"geo NaN bin twice", summary.Tables{Geo: []summary.Geo{geo("N", math.NaN(), 1), geo("N", math.NaN(), 1)}},
			ErrDuplicateKey, `request_geo: request type "N", bin NaN, 1`},
		{"day twice", summary.Tables{AgencyDaily: []summary.AgencyDaily{daily("A", 19754), daily("A", 19755), daily("A", 19754)}},
			ErrDuplicateKey, `agency_daily: agency "A", day 2024-02-01`},
		{"hour 24", summary.Tables{Heat: []summary.Heat{heat("A", 0, 24)}}, ErrBadCell, "row 0: weekday 0, hour 24 out of range"},
		{"weekday 7", summary.Tables{Heat: []summary.Heat{heat("A", 0, 1), heat("A", 7, 0)}}, ErrBadCell, "row 1: weekday 7, hour 0 out of range"},
		{"negative hour", summary.Tables{Heat: []summary.Heat{heat("A", 1, -1)}}, ErrBadCell, "weekday 1, hour -1 out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Batch
			err := b.Encode(record.Key{City: "c", Year: 2024, Month: 2}, &tc.tab)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "c/2024-02") {
				t.Fatalf("encode: %v, want %v naming the group and %s", err, tc.err, tc.msg)
			}
			if b.SummaryRows() != 0 || len(b.Bufs[1].Data)+len(b.Bufs[2].Data)+len(b.Bufs[3].Data) != 0 {
				t.Errorf("a refused group left %d rows encoded", b.SummaryRows())
			}
		})
	}
}

// groupOf returns the group of a test's summary rows.
func groupOf(tab summary.Tables) record.Key {
	switch {
	case len(tab.Monthly) > 0:
		return record.Key{City: tab.Monthly[0].City, Year: int(tab.Monthly[0].Year), Month: int(tab.Monthly[0].Month)}
	case len(tab.Heat) > 0:
		return record.Key{City: tab.Heat[0].City, Year: int(tab.Heat[0].Year), Month: int(tab.Heat[0].Month)}
	case len(tab.Geo) > 0:
		return record.Key{City: tab.Geo[0].City, Year: int(tab.Geo[0].Year), Month: int(tab.Geo[0].Month)}
	case len(tab.AgencyDaily) > 0:
		y, m, _ := DayDate(tab.AgencyDaily[0].Day).Date()
		return record.Key{City: tab.AgencyDaily[0].City, Year: y, Month: int(m)}
	}
	return record.Key{}
}

// BenchmarkEncode encodes a busy city's month: 40 agencies with every hour of the week and
// every day, 20 request types with 100 geo bins each.
func BenchmarkEncode(b *testing.B) {
	k := record.Key{City: "bench", Year: 2024, Month: 1}
	var tab summary.Tables
	med := 12.345678901234567
	for a := range 40 {
		agency := "Agency " + strings.Repeat("x", a%7)
		agency += string(rune('A' + a))
		for wd := range int32(7) {
			for h := range int32(24) {
				tab.Heat = append(tab.Heat, summary.Heat{City: k.City, Agency: agency, Year: 2024, Month: 1, Weekday: wd, Hour: h, Requests: int64(wd*24 + h)})
			}
		}
		for d := range int32(31) {
			tab.AgencyDaily = append(tab.AgencyDaily, summary.AgencyDaily{City: k.City, Agency: agency, Day: 19723 + d, Opened: 5, Closed: 4, MedianResolutionHours: &med})
		}
	}
	for typ := range 20 {
		for bin := range 100 {
			tab.Geo = append(tab.Geo, summary.Geo{City: k.City, Year: 2024, Month: 1, RequestType: "Type " + string(rune('A'+typ)),
				LatBin: 40.5 + float64(bin/10)*0.01, LonBin: -74.1 + float64(bin%10)*0.01, Requests: int64(bin)})
		}
	}
	var batch Batch
	for b.Loop() {
		batch.Reset()
		if err := batch.Encode(k, &tab); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch.SummaryRows()*b.N)/b.Elapsed().Seconds(), "rows/s")
}
