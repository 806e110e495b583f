package jobs

import (
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"

	"github.com/ireports/ireports/record"
)

// firstRecord is what the first record of a real file must normalize to, worked out by hand
// from its raw text.
type firstRecord struct {
	requestID   string
	createdUTC  string // RFC 3339
	year, month int
	status      record.Status
	hasLocation bool
	lat, lon    float64
}

var realFiles = []struct {
	file    string
	schema  string
	format  Format
	records int
	// maxRejects bounds each reject reason; every allowance is explained where it is not zero.
	maxRejects map[string]int
	first      firstRecord
	// locTol is how far first's location may be from the normalized one, in degrees: 0
	// (exact) where the file writes latitude/longitude, more where they are projected.
	locTol float64
}{
	{
		file: "nyc/portal_2011_subset.csv", schema: "nyc", records: 2000,
		first: firstRecord{"19937896", "2011-03-01T19:27:57Z", 2011, 3, record.StatusClosed, false, 0, 0},
	},
	{
		// 9:55 PM EDT on April 18 is April 19 in UTC; the partition month stays local.
		file: "nyc/portal_2010_2020_sample100.csv", schema: "nyc", records: 100,
		first: firstRecord{"42254749", "2019-04-19T01:55:45Z", 2019, 4, record.StatusClosed, true, 40.5863974, -73.9325913},
	},
	{
		file: "nyc/soda_erm2-nwe9_page.csv", schema: "nyc", records: 1000,
		first: firstRecord{"60879417", "2024-04-16T07:03:15Z", 2024, 4, record.StatusOpen, true, 40.67679280229251, -73.7379342313789},
	},
	{
		file: "nyc/soda_erm2-nwe9_page.json", schema: "nyc", format: FormatSODAJSON, records: 1000,
		first: firstRecord{"61276295", "2024-05-27T06:08:51Z", 2024, 5, record.StatusOpen, true, 40.84735682050765, -73.93517137747149},
	},
	{
		// One second before midnight on New Year's Eve, local: 2018 in UTC, December 2017 in LA.
		file: "la/myla311_2017_subset.csv", schema: "la", records: 9999,
		first: firstRecord{"1-870704831", "2018-01-01T07:59:58Z", 2017, 12, record.StatusClosed, true, 34.073216645, -118.266861909},
	},
	{
		file: "sf/sf311_cases_sample_10000.csv", schema: "sf", records: 10000,
		first: firstRecord{"3600298", "2014-04-30T21:51:52Z", 2014, 4, record.StatusOpen, true, 37.774007256355, -122.395680023339},
	},
	{
		// 42.3594,-71.0587 is Boston's "no location" default (City Hall).
		file: "boston/boston311_2022_sample100.csv", schema: "boston", records: 100,
		first: firstRecord{"101004143000", "2022-01-21T18:47:00Z", 2022, 1, record.StatusOpen, false, 0, 0},
	},
	{
		file: "boston/boston311_2025_cases.csv", schema: "boston", records: 5473,
		first: firstRecord{"BCS-00065327", "2025-08-01T06:35:06.539Z", 2025, 8, record.StatusClosed, true, 42.310332, -71.072802},
	},
	{
		// 39,-77 is Baltimore's placeholder.
		file: "baltimore/baltimore311_sample_10000.csv", schema: "baltimore", records: 10000,
		first: firstRecord{"18-00269879", "2018-04-12T15:11:26Z", 2018, 4, record.StatusClosed, false, 0, 0},
	},
	{
		// Floating local time: midnight in Chicago is 06:00 UTC in winter.
		file: "chicago/chicago311_soda_2021_first5000.csv", schema: "chicago", records: 5000,
		first: firstRecord{"SR21-00000001", "2021-01-01T06:00:09Z", 2021, 1, record.StatusClosed, true, 41.871831277993564, -87.67984621876099},
	},
	{
		file: "chicago/chicago_legacy_lights_2011_2013_sample.csv", schema: "chicago", records: 1497,
		first: firstRecord{"11-00001814", "2011-01-01T06:00:00Z", 2011, 1, record.StatusClosed, true, 41.81517646745516, -87.69933194705028},
	},
	{
		// "02/20/2020" + "07:28 AM" in Kansas City (CST) is 13:28 UTC.
		file: "kansas_city/kc311_beacon_hills_2007_2020.csv", schema: "kansas_city", records: 4042,
		first: firstRecord{"2020025504", "2020-02-20T13:28:00Z", 2020, 2, record.StatusClosed, true, 39.080413, -94.567817},
	},
	{
		// 1735708943000 ms is 2025-01-01 05:22:23 UTC, 00:22 on New Year's Day in DC.
		file: "dc/dc311_arcgis_2025_page1000.csv", schema: "dc", records: 1000,
		first: firstRecord{"25-00000002", "2025-01-01T05:22:23Z", 2025, 1, record.StatusClosed, true, 38.87855545, -76.98425653},
	},
	{
		// SRX 880839, SRY 1003181 (Missouri East ftUS) is 4550 January Ave, in the south-west of
		// the city; the projection itself is checked against published coordinates in
		// TestProjectionAgainstPublished, this only pins the conversion to about 10 m.
		file: "st_louis/stl_csb_2011.csv", schema: "st_louis", records: 2083,
		first:  firstRecord{"225672", "2011-01-03T14:12:24Z", 2011, 1, record.StatusClosed, true, 38.58847, -90.28788},
		locTol: 1e-4,
	},
}

// forEachRecord feeds every record of a real file through a normalizer bound to its schema.
func forEachRecord(t testing.TB, path string, format Format, s *Schema, fn func(i int, r *record.Request, err error)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r record.Request
	if format == FormatSODAJSON {
		n := s.BindJSON()
		i := 0
		err := ScanSODA(f, func(_ int64, raw []byte) error {
			fn(i, &r, n.NormalizeJSON(raw, &r))
			i++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1 // a wrong field count is the normalizer's to report
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Bind(header)
	if err != nil {
		t.Fatal(err)
	}
	var fields [][]byte
	for i := 0; ; i++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fields = fields[:0]
		for _, v := range rec {
			fields = append(fields, []byte(v))
		}
		fn(i, &r, n.Normalize(fields, &r))
	}
}

func TestRealFiles(t *testing.T) {
	data := testenv.RealData(t)
	for _, tc := range realFiles {
		t.Run(tc.file, func(t *testing.T) {
			s, ok := Builtin(tc.schema)
			if !ok {
				t.Fatalf("no built-in schema %q", tc.schema)
			}
			rejects := map[string]int{}
			total, located := 0, 0
			forEachRecord(t, filepath.Join(data, tc.file), tc.format, s, func(i int, r *record.Request, err error) {
				total++
				if err != nil {
					var rej *RejectError
					if !errors.As(err, &rej) {
						t.Fatalf("record %d: %v is not a *RejectError", i, err)
					}
					if rejects[rej.Reason] < 3 {
						t.Logf("record %d: %v", i, rej)
					}
					rejects[rej.Reason]++
					return
				}
				checkInvariants(t, i, r)
				if r.HasLocation {
					located++
				}
				if i == 0 {
					checkFirst(t, r, tc.first, tc.locTol)
				}
			})
			if total != tc.records {
				t.Errorf("read %d records, want %d", total, tc.records)
			}
			reasons := make([]string, 0, len(rejects))
			sum := 0
			for reason, n := range rejects {
				reasons = append(reasons, reason)
				sum += n
				if n > tc.maxRejects[reason] {
					t.Errorf("%d rejects for %s, want at most %d", n, reason, tc.maxRejects[reason])
				}
			}
			sort.Strings(reasons)
			t.Logf("%d records, %d rejected %v, %d with a location", total, sum, rejects, located)
			if float64(sum) > 0.001*float64(total) {
				t.Errorf("reject ratio %.4f, want under 0.1%%", float64(sum)/float64(total))
			}
		})
	}
}

func checkFirst(t *testing.T, r *record.Request, want firstRecord, tol float64) {
	t.Helper()
	if r.RequestID != want.requestID {
		t.Errorf("first record: request_id %q, want %q", r.RequestID, want.requestID)
	}
	if got := r.CreatedAt.Format(time.RFC3339Nano); got != want.createdUTC {
		t.Errorf("first record: created_at %s, want %s", got, want.createdUTC)
	}
	if r.Year != want.year || r.Month != want.month {
		t.Errorf("first record: partition %d-%02d, want %d-%02d", r.Year, r.Month, want.year, want.month)
	}
	if r.Status != want.status {
		t.Errorf("first record: status %v (raw %q), want %v", r.Status, r.StatusRaw, want.status)
	}
	if r.HasLocation != want.hasLocation || math.Abs(r.Latitude-want.lat) > tol || math.Abs(r.Longitude-want.lon) > tol {
		t.Errorf("first record: location %v (%v, %v), want %v (%v, %v)", r.HasLocation, r.Latitude, r.Longitude,
			want.hasLocation, want.lat, want.lon)
	}
}

// checkInvariants checks what every accepted record must satisfy.
func checkInvariants(t *testing.T, i int, r *record.Request) {
	t.Helper()
	if r.RequestID == "" || r.CreatedAt.IsZero() || r.City == "" {
		t.Fatalf("record %d: missing required value: %+v", i, r)
	}
	if r.CreatedAt.Location() != time.UTC || (!r.ClosedAt.IsZero() && r.ClosedAt.Location() != time.UTC) {
		t.Fatalf("record %d: times not in UTC: %+v", i, r)
	}
	if r.Month < 1 || r.Month > 12 || r.Year < 1990 || r.Year > 2030 {
		t.Fatalf("record %d: implausible partition %d-%d", i, r.Year, r.Month)
	}
	if r.HasLocation && (r.Latitude == 0 && r.Longitude == 0) {
		t.Fatalf("record %d: 0,0 kept as a location", i)
	}
	if r.StatusRaw == "" && r.Status != record.StatusOther {
		t.Fatalf("record %d: status %v without raw status", i, r.Status)
	}
}
