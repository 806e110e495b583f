package lake

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// readerSafe are the encodings that every reader the lake is for decodes (Spark 3.x's
// vectorized reader, Trino, Athena, DuckDB, pyarrow): PLAIN, RLE (levels, booleans) and
// dictionary indexes.
var readerSafe = map[format.Encoding]bool{
	format.Plain: true, format.RLE: true, format.RLEDictionary: true, format.PlainDictionary: true,
}

// TestParquetPagesAndEncodings reads back the footer and every page header of each kind of
// file the lake holds (requests and the four summary datasets): each column chunk uses only
// reader-safe encodings, each data page is a version 1 page (DATA_PAGE), and timestamps are
// instants (isAdjustedToUTC=true), which readers show as TIMESTAMP WITH TIME ZONE.
// parquet-go's defaults (DATA_PAGE_V2, DELTA_LENGTH_BYTE_ARRAY for request_id) fail it.
func TestParquetPagesAndEncodings(t *testing.T) {
	s := func(v string) *string { return &v }
	f := func(v float64) *float64 { return &v }
	ts := int64(1_716_000_000_000_000)
	var requests []Row
	for i := range 3000 { // nulls and repeated values: dictionaries and levels
		requests = append(requests, Row{
			RequestID: fmt.Sprintf("req-%06d", i), CreatedAt: ts + int64(i), ClosedAt: &ts, Status: []string{"open", "closed"}[i%2],
			Agency: s([]string{"DOT", "NYPD"}[i%2]), RequestType: s("Noise"), Latitude: f(40.7), Longitude: f(-74),
			Zip: s("10001"), ResolutionHours: f(float64(i)),
		})
		if i%7 == 0 {
			requests[i].Agency, requests[i].ClosedAt, requests[i].Latitude = nil, nil, nil
		}
	}
	for _, tc := range []struct {
		name       string
		encode     func(io.Writer) error
		timestamps []string // columns that must be UTC-adjusted timestamps
	}{
		{"requests", func(w io.Writer) error { return EncodeParquet(w, requests) }, []string{"created_at", "closed_at", "updated_at"}},
		{"request_monthly", func(w io.Writer) error {
			return EncodeParquet(w, []MonthlyRow{{RequestType: "Noise", Agency: "NYPD", Requests: 3, MedianResolutionHours: f(1)}, {Agency: "DOT"}})
		}, nil},
		{"agency_daily", func(w io.Writer) error {
			return EncodeParquet(w, []AgencyDailyRow{{Agency: "DOT", Day: 19860, Opened: 2}, {Day: 19861, MedianResolutionHours: f(2)}})
		}, nil},
		{"request_heat", func(w io.Writer) error {
			return EncodeParquet(w, []HeatRow{{Agency: "DOT", Weekday: 3, Hour: 23, Requests: 2}})
		}, nil},
		{"request_geo", func(w io.Writer) error {
			return EncodeParquet(w, []GeoRow{{RequestType: "Noise", LatBin: 40.7, LonBin: -74, Requests: 1}})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.encode(&buf); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			md := pf.Metadata()
			utc := map[string]bool{}
			for _, el := range md.Schema {
				if ts, ok := el.LogicalType.Value.(*format.TimestampType); ok {
					utc[el.Name] = ts.IsAdjustedToUTC
				}
			}
			for _, col := range tc.timestamps {
				if adjusted, ok := utc[col]; !ok || !adjusted {
					t.Errorf("column %s: not a timestamp with isAdjustedToUTC=true (timestamps: %v)", col, utc)
				}
			}
			pages := 0
			for _, rg := range md.RowGroups {
				for _, cc := range rg.Columns {
					cm := cc.MetaData
					col := strings.Join(cm.PathInSchema, ".")
					for _, e := range cm.Encoding {
						if !readerSafe[e] {
							t.Errorf("column %s: encoding %s in the column chunk", col, e)
						}
					}
					pages += checkPages(t, col, b, cm)
				}
			}
			if pages == 0 {
				t.Fatal("no page read")
			}
		})
	}
}

// checkPages walks the pages of one column chunk of file b, checks each header, and returns
// how many it read.
func checkPages(t *testing.T, col string, b []byte, cm format.ColumnMetaData) int {
	t.Helper()
	start := cm.DataPageOffset
	if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
		start = cm.DictionaryPageOffset
	}
	end := start + cm.TotalCompressedSize
	if start < 4 || end > int64(len(b)) {
		t.Fatalf("column %s: chunk [%d, %d) outside the file of %d bytes", col, start, end, len(b))
	}
	n := 0
	for off := start; off < end; n++ {
		r := bytes.NewReader(b[off:end])
		var h format.PageHeader
		if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(&h); err != nil {
			t.Fatalf("column %s: page header at byte %d: %v", col, off, err)
		}
		headerLen := int64(len(b[off:end])) - int64(r.Len())
		switch h.Type {
		case format.DataPage:
			dp := h.DataPageHeader.V
			for _, e := range []format.Encoding{dp.Encoding, dp.DefinitionLevelEncoding, dp.RepetitionLevelEncoding} {
				if !readerSafe[e] {
					t.Errorf("column %s: data page at byte %d encoded %s", col, off, e)
				}
			}
		case format.DictionaryPage:
			if e := h.DictionaryPageHeader.V.Encoding; e != format.Plain && e != format.PlainDictionary {
				t.Errorf("column %s: dictionary page at byte %d encoded %s", col, off, e)
			}
		default:
			t.Errorf("column %s: page at byte %d is a %s, want DATA_PAGE (version 1) or DICTIONARY_PAGE", col, off, h.Type)
		}
		off += headerLen + int64(h.CompressedPageSize)
	}
	return n
}
