package lake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// TestReadSummaries: the summaries a job commits read back as summary.Compute made them, by
// the column reader and by the row reader it falls back to, for groups with rows in every
// table, with no location (an empty request_geo), with open requests only (NULL medians),
// and with text that repeats and text outside ASCII.
func TestReadSummaries(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	roots := testRoots(t)
	mixed := record.Key{City: "sf", Year: 2024, Month: 2}
	open := record.Key{City: "sf", Year: 2024, Month: 3}
	groups := map[record.Key][]record.Request{mixed: nil, open: requests(open, 5)}
	for i := range 300 {
		created := time.Date(2024, 2, 1+i%29, i%24, i%60, 0, 0, time.UTC)
		r := record.Request{City: mixed.City, Year: mixed.Year, Month: mixed.Month, RequestID: fmt.Sprint(i),
			CreatedAt: created, Status: record.StatusOpen, Agency: []string{"DPW", "Muni", "Bâtiments", ""}[i%4],
			RequestType: fmt.Sprintf("type %d ✓", i%7)}
		if i%3 > 0 {
			r.Status, r.ClosedAt = record.StatusClosed, created.Add(time.Duration(i)*time.Hour)
		}
		if i%5 > 0 {
			r.Latitude, r.Longitude, r.HasLocation = 37.7+float64(i%9)*0.013, -122.4-float64(i%11)*0.007, true
		}
		groups[mixed] = append(groups[mixed], r)
	}
	commitJob(t, store, roots, "job1", groups)

	for k, reqs := range groups {
		want := summary.Compute(k, time.UTC, reqs)
		got, err := ReadSummaries(ctx, store, roots.Summaries, k)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("group %s: read back\n%+v\nwant\n%+v", k, got, want)
		}
		// The row reader reads the same rows.
		for _, tc := range []struct {
			table   string
			columns func(b []byte) (any, bool, error)
			rows    func(b []byte) (any, error)
		}{
			{summary.TableMonthly, func(b []byte) (any, bool, error) { return decodeSummaryFile(b, monthlyColumns) }, parquetRows[MonthlyRow]},
			{summary.TableAgencyDaily, func(b []byte) (any, bool, error) { return decodeSummaryFile(b, dailyColumns) }, parquetRows[AgencyDailyRow]},
			{summary.TableHeat, func(b []byte) (any, bool, error) { return decodeSummaryFile(b, heatColumns) }, parquetRows[HeatRow]},
			{summary.TableGeo, func(b []byte) (any, bool, error) { return decodeSummaryFile(b, geoColumns) }, parquetRows[GeoRow]},
		} {
			b := readFile(t, mustJoin(t, roots.Summaries, SummaryGroupPath(tc.table, k), PartFile(0)))
			cols, ok, err := tc.columns(b)
			if err != nil || !ok {
				t.Fatalf("group %s, %s: the column reader: ok %t, %v", k, tc.table, ok, err)
			}
			rows, err := tc.rows(b)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.ValueOf(rows).Len() == 0 && reflect.ValueOf(cols).Len() == 0 {
				continue
			}
			if !reflect.DeepEqual(cols, rows) {
				t.Errorf("group %s, %s: columns read\n%+v\nrows read\n%+v", k, tc.table, cols, rows)
			}
		}
	}
}

// TestReadSummariesOtherSchema: a summary file whose columns are not the expected ones is
// read by the row reader, which converts what it can, rather than misread.
func TestReadSummariesOtherSchema(t *testing.T) {
	type narrowGeo struct {
		RequestType string  `parquet:"request_type"`
		LatBin      float32 `parquet:"lat_bin"`
		LonBin      float64 `parquet:"lon_bin"`
		Requests    int64   `parquet:"requests"`
	}
	ctx := context.Background()
	store := localStore(t)
	name := mustJoin(t, t.TempDir(), "part-00000.parquet")
	b := encodeRows(t, []narrowGeo{{RequestType: "x", LatBin: 1.5, LonBin: -2.25, Requests: 3}})
	if _, ok, err := decodeSummaryFile(b, geoColumns); ok || err != nil {
		t.Fatalf("the column reader took a float lat_bin: ok %t, %v", ok, err)
	}
	writeFile(t, name, b)
	got, err := readSummaryFile(ctx, store, name, geoColumns)
	if err != nil {
		t.Fatal(err)
	}
	if want := []GeoRow{{RequestType: "x", LatBin: 1.5, LonBin: -2.25, Requests: 3}}; !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, want %+v", got, want)
	}
}

func parquetRows[T any](b []byte) (any, error) {
	return parquet.Read[T](bytes.NewReader(b), int64(len(b)))
}

func encodeRows[T any](t *testing.T, rows []T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
