package jobs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/record"
)

// schemaFrom parses one schema block through a minimal job.
func schemaFrom(t testing.TB, block string) *Schema {
	t.Helper()
	spec, err := Parse([]byte(`job "t" {
  input "i" {
    path   = "x"
    schema = "t"
  }
  output { parquet = "o" }
}
`+block), "test.job")
	if err != nil {
		t.Fatal(err)
	}
	return spec.Schemas["t"]
}

const testSchemaHCL = `schema "t" {
  city         = "t"
  timezone     = "America/Chicago"
  nulls        = ["NA", " - "]
  time_layouts = ["unix"]
  placeholder_points = [[41.8781, -87.6298]]
  repair_mojibake = true
  field "request_id" { columns = ["id", "alt_id"] }
  field "created_at" { columns = ["opened"] }
  field "closed_at" {
    columns = ["closed"]
    layouts = ["unix_ms"]
  }
  field "updated_at" {
    columns = ["updated"]
    layouts = ["2006-01-02"]
  }
  field "status" {
    columns = ["state"]
    closed  = ["Closed", "Done"]
    open    = ["open", "In Progress"]
  }
  field "agency"    { columns = ["dept"] }
  field "latitude"  { columns = ["lat"] }
  field "longitude" { columns = ["lon"] }
  field "point"     { columns = ["geom"] }
}`

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func bs(fields ...string) [][]byte {
	out := make([][]byte, len(fields))
	for i, f := range fields {
		out[i] = []byte(f)
	}
	return out
}

func TestNormalize(t *testing.T) {
	custom := schemaFrom(t, testSchemaHCL)
	builtin := func(name string) *Schema {
		s, ok := Builtin(name)
		if !ok {
			t.Fatalf("no built-in %q", name)
		}
		return s
	}
	nycPortal := []string{"Unique Key", "Created Date", "Closed Date", "Agency", "Complaint Type", "Descriptor", "Status", "Latitude", "Longitude", "Location"}
	nycSODA := []string{"unique_key", "created_date", "closed_date", "status", "location"}
	boston22 := []string{"case_enquiry_id", "open_dt", "closed_dt", "case_status", "latitude", "longitude", "location_zipcode"}
	boston25 := []string{"case_id", "open_date", "close_date", "case_status", "longitude", "latitude"}
	sfR := []string{"", "CaseID", "Opened", "Status", "Responsible.Agency", "Request.Type", "Point"}
	custHdr := []string{"id", "opened", "closed", "updated", "state", "dept", "lat", "lon", "geom"}

	tests := []struct {
		name   string
		schema *Schema
		header []string
		row    []string
		want   record.Request
		reject string // reason; empty: success
		field  string // the reject's field
	}{
		{
			name: "nyc portal 12-hour clock, EST", schema: builtin("nyc"), header: nycPortal,
			row: []string{"123", "01/15/2020 09:30:00 AM", "01/16/2020 12:05:00 AM", "DOT", "Street Condition", "Pothole", "Closed", "40.7", "-73.9", "(40.7, -73.9)"},
			want: record.Request{City: "nyc", RequestID: "123", CreatedAt: utc("2020-01-15T14:30:00Z"), ClosedAt: utc("2020-01-16T05:05:00Z"),
				Status: record.StatusClosed, StatusRaw: "Closed", Agency: "DOT", RequestType: "Street Condition", RequestSubtype: "Pothole",
				Latitude: 40.7, Longitude: -73.9, HasLocation: true, Year: 2020, Month: 1},
		},
		{
			name: "nyc portal noon, EDT, location from point", schema: builtin("nyc"), header: nycPortal,
			row: []string{"124", "07/04/2021 12:05:00 PM", "", "NYPD", "Noise", "", "in progress", "", "", "(40.75, -73.98)"},
			want: record.Request{City: "nyc", RequestID: "124", CreatedAt: utc("2021-07-04T16:05:00Z"),
				Status: record.StatusOpen, StatusRaw: "in progress", Agency: "NYPD", RequestType: "Noise",
				Latitude: 40.75, Longitude: -73.98, HasLocation: true, Year: 2021, Month: 7},
		},
		{
			name: "nyc portal mojibake repaired, unknown status", schema: builtin("nyc"), header: nycPortal,
			row: []string{"125", "03/01/2011 02:27:57 PM", "N/A", "DOF", "Caf\u00c3\u00a9 Permit", "", "Email Sent", "", "", ""},
			want: record.Request{City: "nyc", RequestID: "125", CreatedAt: utc("2011-03-01T19:27:57Z"),
				Status: record.StatusOther, StatusRaw: "Email Sent", Agency: "DOF", RequestType: "Café Permit", Year: 2011, Month: 3},
		},
		{
			name: "nyc soda floating time, address then point", schema: builtin("nyc"), header: nycSODA,
			row: []string{"900", "2024-04-15T23:46:54.000", "2024-04-16T01:13:45.000", "Open", "\n,  \n(40.6, -73.7)"},
			want: record.Request{City: "nyc", RequestID: "900", CreatedAt: utc("2024-04-16T03:46:54Z"), ClosedAt: utc("2024-04-16T05:13:45Z"),
				Status: record.StatusOpen, StatusRaw: "Open", Latitude: 40.6, Longitude: -73.7, HasLocation: true, Year: 2024, Month: 4},
		},
		{
			name: "boston 2022 local time, space as null, city hall placeholder", schema: builtin("boston"), header: boston22,
			row: []string{"101", "2022-01-21 13:47:00", " ", "Open", "42.3594", "-71.0587", " "},
			want: record.Request{City: "boston", RequestID: "101", CreatedAt: utc("2022-01-21T18:47:00Z"),
				Status: record.StatusOpen, StatusRaw: "Open", Year: 2022, Month: 1},
		},
		{
			name: "boston 2025 ragged fraction and +00, local month differs from UTC", schema: builtin("boston"), header: boston25,
			row: []string{"BCS-1", "2025-09-01 02:00:00.5+00", "2025-09-02 08:00:09+00", "In progress", "-71.07", "42.31"},
			want: record.Request{City: "boston", RequestID: "BCS-1", CreatedAt: utc("2025-09-01T02:00:00.5Z"), ClosedAt: utc("2025-09-02T08:00:09Z"),
				Status: record.StatusOpen, StatusRaw: "In progress", Latitude: 42.31, Longitude: -71.07, HasLocation: true, Year: 2025, Month: 8},
		},
		{
			name: "boston 2025 six fraction digits", schema: builtin("boston"), header: boston25,
			row: []string{"BCS-2", "2025-08-01 17:40:02.123456+00", "", "Closed", "", ""},
			want: record.Request{City: "boston", RequestID: "BCS-2", CreatedAt: utc("2025-08-01T17:40:02.123456Z"),
				Status: record.StatusClosed, StatusRaw: "Closed", Year: 2025, Month: 8},
		},
		{
			name: "sf R export: unnamed first column, dotted names, NA", schema: builtin("sf"), header: sfR,
			row: []string{"1", "77", "04/30/2014 02:51:52 PM", "Open", "DPW Ops Queue", "NA", "(37.77, -122.39)"},
			want: record.Request{City: "sf", RequestID: "77", CreatedAt: utc("2014-04-30T21:51:52Z"),
				Status: record.StatusOpen, StatusRaw: "Open", Agency: "DPW Ops Queue",
				Latitude: 37.77, Longitude: -122.39, HasLocation: true, Year: 2014, Month: 4},
		},
		{
			name: "baltimore placeholder 39,-77", schema: builtin("baltimore"),
			header: []string{"ServiceRequestNum", "CreatedDate", "SRStatus", "Latitude", "Longitude"},
			row:    []string{"18-1", "04/12/2018 11:11:26 AM", "Closed (Duplicate)", "39", "-77"},
			want: record.Request{City: "baltimore", RequestID: "18-1", CreatedAt: utc("2018-04-12T15:11:26Z"),
				Status: record.StatusClosed, StatusRaw: "Closed (Duplicate)", Year: 2018, Month: 4},
		},
		{
			name: "custom: unix, unix_ms, date layout, WKT point, case-insensitive status", schema: custom, header: custHdr,
			row: []string{" A-1 ", "1700000000", "1700003600500", "2023-11-15", "  DONE ", "Parks", "", "", "POINT (-87.7 41.9)"},
			want: record.Request{City: "t", RequestID: "A-1", CreatedAt: utc("2023-11-14T22:13:20Z"), ClosedAt: utc("2023-11-14T23:13:20.5Z"),
				UpdatedAt: utc("2023-11-15T06:00:00Z"), Status: record.StatusClosed, StatusRaw: "DONE", Agency: "Parks",
				Latitude: 41.9, Longitude: -87.7, HasLocation: true, Year: 2023, Month: 11},
		},
		{
			name: "custom: GeoJSON point, custom null token", schema: custom, header: custHdr,
			row: []string{"A-2", "1700000000.25", "NA", " - ", "", "NA", "", "", `{"type":"Point","coordinates":[-87.6,41.8]}`},
			want: record.Request{City: "t", RequestID: "A-2", CreatedAt: utc("2023-11-14T22:13:20.25Z"),
				Latitude: 41.8, Longitude: -87.6, HasLocation: true, Year: 2023, Month: 11},
		},
		{
			name: "custom: SODA legacy location object, declared placeholder", schema: custom, header: custHdr,
			row:  []string{"A-3", "1700000000", "", "", "", "", "", "", `{"latitude": "41.8781", "longitude": "-87.6298"}`},
			want: record.Request{City: "t", RequestID: "A-3", CreatedAt: utc("2023-11-14T22:13:20Z"), Year: 2023, Month: 11},
		},
		{
			name: "custom: 0,0 and out-of-range are no location", schema: custom, header: custHdr,
			row:  []string{"A-4", "1700000000", "", "", "", "", "0", "0", "(95, 10)"},
			want: record.Request{City: "t", RequestID: "A-4", CreatedAt: utc("2023-11-14T22:13:20Z"), Year: 2023, Month: 11},
		},
		{
			name: "custom: out-of-range latitude is no location", schema: custom, header: custHdr,
			row:  []string{"A-5", "1700000000", "", "", "", "", "91", "10", ""},
			want: record.Request{City: "t", RequestID: "A-5", CreatedAt: utc("2023-11-14T22:13:20Z"), Year: 2023, Month: 11},
		},
		{name: "reject: field count", schema: custom, header: custHdr, row: []string{"A", "1"}, reject: ReasonFieldCount},
		{name: "reject: missing request id", schema: custom, header: custHdr, row: []string{"  ", "1", "", "", "", "", "", "", ""}, reject: ReasonMissingRequestID, field: "request_id"},
		{name: "reject: null created_at", schema: custom, header: custHdr, row: []string{"A", "NA", "", "", "", "", "", "", ""}, reject: ReasonMissingCreatedAt, field: "created_at"},
		{name: "reject: bad created_at", schema: custom, header: custHdr, row: []string{"A", "yesterday", "", "", "", "", "", "", ""}, reject: ReasonBadTimestamp, field: "created_at"},
		{name: "reject: bad closed_at", schema: custom, header: custHdr, row: []string{"A", "1", "12.5.2020", "", "", "", "", "", ""}, reject: ReasonBadTimestamp, field: "closed_at"},
		{name: "reject: invalid date", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "02/30/2020 09:30:00 AM", "", "", "", "", "", "", "", ""}, reject: ReasonBadTimestamp, field: "created_at"},
		// Year 0 parses (a four-digit year), but PostgreSQL's calendar has none: the record
		// would make agency_daily's COPY, and so the whole publish, fail. Years 1 and 9999
		// are dates, but no 311 request's: placeholders, which would each make a partition
		// and stretch the charts' periods over millennia.
		{name: "reject: year 0", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "03/05/0000 09:30:00 AM", "", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "created_at"},
		{name: "reject: year 1", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "01/01/0001 12:00:00 AM", "", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "created_at"},
		{name: "reject: year 9999", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "12/31/9999 11:59:59 PM", "", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "created_at"},
		{name: "reject: the year before MinYear", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "12/31/1899 11:59:59 PM", "", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "created_at"},
		{name: "reject: closed in year 9999", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "03/05/2020 09:30:00 AM", "12/31/9999 11:59:59 PM", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "closed_at"},
		{name: "reject: closed in year 1", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "03/05/2020 09:30:00 AM", "01/01/0001 12:00:00 AM", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "closed_at"},
		{name: "reject: the year after MaxYear", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "01/01/2200 12:00:00 AM", "", "", "", "", "", "", "", ""}, reject: ReasonTimeOutOfRange, field: "created_at"},
		{
			name: "MinYear is a date", schema: builtin("nyc"), header: nycPortal,
			row:  []string{"1", "01/01/1900 12:00:00 AM", "", "", "", "", "", "", "", ""},
			want: record.Request{City: "nyc", RequestID: "1", CreatedAt: utc("1900-01-01T05:00:00Z"), Year: 1900, Month: 1},
		},
		{
			name: "MaxYear is a date", schema: builtin("nyc"), header: nycPortal,
			row:  []string{"1", "12/31/2199 11:59:59 PM", "", "", "", "", "", "", "", ""},
			want: record.Request{City: "nyc", RequestID: "1", CreatedAt: utc("2200-01-01T04:59:59Z"), Year: 2199, Month: 12},
		},
		// agency and request_type key the summary tables, whose index entries PostgreSQL
		// limits to about 2.7 KB: longer than MaxKeyText bytes is a reject, up to it a value.
		{name: "reject: agency too long", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "03/05/2020 09:30:00 AM", "", strings.Repeat("x", MaxKeyText+1), "", "", "", "", "", ""}, reject: ReasonValueTooLong, field: "agency"},
		{name: "reject: request type too long", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "03/05/2020 09:30:00 AM", "", "", strings.Repeat("é", MaxKeyText/2+1), "", "", "", "", ""}, reject: ReasonValueTooLong, field: "request_type"},
		{
			name: "longest agency and request type", schema: builtin("nyc"), header: nycPortal,
			row: []string{"1", "03/05/2020 09:30:00 AM", "", strings.Repeat("x", MaxKeyText), strings.Repeat("é", MaxKeyText/2), strings.Repeat("d", 5000), "", "", "", ""},
			want: record.Request{City: "nyc", RequestID: "1", CreatedAt: utc("2020-03-05T14:30:00Z"), Year: 2020, Month: 3,
				Agency: strings.Repeat("x", MaxKeyText), RequestType: strings.Repeat("é", MaxKeyText/2), RequestSubtype: strings.Repeat("d", 5000)},
		},
		{name: "reject: hour 13 PM", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "02/03/2020 13:30:00 PM", "", "", "", "", "", "", "", ""}, reject: ReasonBadTimestamp, field: "created_at"},
		{name: "reject: invalid utf-8", schema: custom, header: custHdr, row: []string{"A", "1", "", "", "", "Par\xffks", "", "", ""}, reject: ReasonInvalidUTF8, field: "agency"},
		{name: "reject: invalid utf-8 id", schema: custom, header: custHdr, row: []string{"A\xc3", "1", "", "", "", "", "", "", ""}, reject: ReasonInvalidUTF8, field: "request_id"},
		{name: "reject: NUL in request id", schema: custom, header: custHdr, row: []string{"A\x00B", "1", "", "", "", "", "", "", ""}, reject: ReasonNULByte, field: "request_id"},
		{name: "reject: NUL-only request id", schema: custom, header: custHdr, row: []string{"\x00", "1", "", "", "", "", "", "", ""}, reject: ReasonNULByte, field: "request_id"},
		{name: "reject: NUL in agency", schema: custom, header: custHdr, row: []string{"A", "1", "", "", "", "Par\x00ks", "", "", ""}, reject: ReasonNULByte, field: "agency"},
		{name: "reject: NUL in status", schema: custom, header: custHdr, row: []string{"A", "1", "", "", "Done\x00", "", "", "", ""}, reject: ReasonNULByte, field: "status"},
		{name: "reject: NUL in built-in free text", schema: builtin("nyc"), header: nycPortal, row: []string{"1", "01/15/2020 09:30:00 AM", "", "DOT", "Street\x00Condition", "", "", "", "", ""}, reject: ReasonNULByte, field: "request_type"},
		{name: "reject: NUL in created_at", schema: custom, header: custHdr, row: []string{"A", "1\x00", "", "", "", "", "", "", ""}, reject: ReasonBadTimestamp, field: "created_at"},
		{name: "reject: bad latitude", schema: custom, header: custHdr, row: []string{"A", "1", "", "", "", "", "north", "10", ""}, reject: ReasonBadCoordinate, field: "latitude"},
		{name: "reject: NaN longitude", schema: custom, header: custHdr, row: []string{"A", "1", "", "", "", "", "10", "NaN", ""}, reject: ReasonBadCoordinate, field: "longitude"},
		{name: "reject: bad point", schema: custom, header: custHdr, row: []string{"A", "1", "", "", "", "", "", "", "(1; 2)"}, reject: ReasonBadCoordinate, field: "point"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.schema.Bind(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			fields := bs(tc.row...)
			var got record.Request
			err = n.Normalize(fields, &got)
			if tc.reject != "" {
				var rej *RejectError
				if !errors.As(err, &rej) || !errors.Is(err, ErrRejected) {
					t.Fatalf("got %v (%+v), want a reject %s", err, got, tc.reject)
				}
				if rej.Reason != tc.reject || rej.Field != tc.field {
					t.Errorf("reject %s on field %q, want %s on %q (%v)", rej.Reason, rej.Field, tc.reject, tc.field, rej)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			// Normalize must not retain its input: scribbling over it changes nothing.
			for _, f := range fields {
				for i := range f {
					f[i] = 'X'
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("record changed when its input was overwritten:\n got %+v", got)
			}
		})
	}
}

func TestBind(t *testing.T) {
	s := schemaFrom(t, testSchemaHCL)
	tests := []struct {
		name    string
		header  []string
		wantID  string // the column request_id binds to
		wantErr error
	}{
		{"exact", []string{"id", "opened"}, "id", nil},
		{"byte order mark and case", []string{"\uFEFFID", " Opened "}, "\uFEFFID", nil},
		{"first candidate wins over header order", []string{"alt_id", "opened", "id"}, "id", nil},
		{"second candidate", []string{"alt_id", "opened"}, "alt_id", nil},
		{"no request id", []string{"key", "opened"}, "", ErrNoColumns},
		{"no created_at", []string{"id", "created"}, "", ErrNoColumns},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.Bind(tc.header)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Bind: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := n.colName[fRequestID]; got != tc.wantID {
				t.Errorf("request_id bound to %q, want %q", got, tc.wantID)
			}
		})
	}
}

// TestFastTimeMatchesTimeParse checks the hand-written parsers against time.ParseInLocation on
// inputs that both accept.
func TestFastTimeMatchesTimeParse(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	tests := []struct {
		layout string
		in     string
	}{
		{"01/02/2006 03:04:05 PM", "01/02/2006 03:04:05 PM"},
		{"01/02/2006 03:04:05 PM", "12/31/2017 11:59:58 PM"},
		{"01/02/2006 03:04:05 PM", "03/13/2022 12:00:00 AM"},
		{"01/02/2006 03:04:05 PM", "03/13/2022 02:30:00 AM"}, // inside the spring-forward gap
		{"01/02/2006 03:04:05 PM", "11/06/2022 01:30:00 AM"}, // ambiguous: fall back
		{"01/02/2006 03:04:05 PM", "02/29/2024 00:00:01 PM"},
		{"2006-01-02T15:04:05.000", "2024-04-16T03:03:15.000"},
		{"2006-01-02 15:04:05", "2022-01-21 13:47:00"},
		{"2006-01-02 15:04:05-07", "2025-08-01 06:35:06.539+00"},
		{"2006-01-02 15:04:05-07", "2025-08-01 06:35:06-05"},
		{"2006-01-02T15:04:05Z07:00", "2025-08-01T06:35:06.123456789-04:00"},
		{"2006-01-02T15:04:05Z07:00", "2025-08-01T06:35:06Z"},
	}
	for _, tc := range tests {
		t.Run(tc.layout+"/"+tc.in, func(t *testing.T) {
			tl, err := compileLayout(tc.layout)
			if err != nil || tl.fast == fastNone {
				t.Fatalf("layout %q not on a fast path: %v", tc.layout, err)
			}
			want, err := time.ParseInLocation(tc.layout, tc.in, ny)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tl.parse([]byte(tc.in), ny, &zoneCache{})
			if !ok || !got.time().Equal(want) {
				t.Errorf("fast path: %v %v, time.Parse: %v", got.time(), ok, want)
			}
			if got.year != 0 && (int(got.year) != want.Year() || int(got.month) != int(want.Month())) {
				t.Errorf("local month %d-%d, want %d-%d", got.year, got.month, want.Year(), want.Month())
			}
		})
	}
}

func TestRepairMojibake(t *testing.T) {
	tests := []struct {
		name, in, want string
		repaired       bool
	}{
		{"latin-1 no-break space", "requested.\u00c2\u00a0 No", "requested.\u00a0 No", true},
		{"cp1252 apostrophe", "Macy\u00e2\u20ac\u2122s", "Macy\u2019s", true},
		{"genuine latin-1 text", "café", "café", false},
		{"ascii", "plain", "plain", false},
		{"cjk is left alone", "東京", "東京", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := repairMojibake([]byte(tc.in))
			if string(got) != tc.want || ok != tc.repaired {
				t.Errorf("repairMojibake(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.repaired)
			}
		})
	}
}

// TestZoneCacheMatchesTimeDate sweeps civil times across several DST transitions (gaps and
// overlaps included), forwards and backwards, and checks the cache against time.Date.
func TestZoneCacheMatchesTimeDate(t *testing.T) {
	for _, name := range []string{"America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "UTC"} {
		t.Run(name, func(t *testing.T) {
			loc, err := time.LoadLocation(name)
			if err != nil {
				t.Skip(err)
			}
			var zc zoneCache
			check := func(c time.Time) {
				y, mo, d := c.Date()
				h, mi, s := c.Clock()
				want := time.Date(y, mo, d, h, mi, s, 7, loc).UTC()
				if got := zc.date(y, int(mo), d, h, mi, s, 7, loc); !got.Equal(want) {
					t.Fatalf("%v: got %v, want %v", c, got, want)
				}
			}
			start := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
			for c := start; c.Year() < 2023; c = c.Add(17 * time.Minute) {
				check(c)
			}
			for c := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC); c.After(start); c = c.Add(-29 * time.Minute) {
				check(c)
			}
			// Records in no order across decades, as a file's are: the cache holds many periods.
			rng := rand.New(rand.NewPCG(3, 4))
			for range 200000 {
				check(time.Unix(rng.Int64N(40*365*86400)+20*365*86400, 0).UTC())
			}
		})
	}
}

func TestCivilSeconds(t *testing.T) {
	for _, c := range []time.Time{
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(1600, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 3, 1, 1, 2, 3, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		y, mo, d := c.Date()
		h, mi, s := c.Clock()
		if got := civilSeconds(y, int(mo), d, h, mi, s); got != c.Unix() {
			t.Errorf("civilSeconds(%v) = %d, want %d", c, got, c.Unix())
		}
	}
}

// TestValidDateMatchesDaysIn checks validDate's table against daysIn over every month and
// day around the edges, in leap and common years and the century rules.
func TestValidDateMatchesDaysIn(t *testing.T) {
	for _, y := range []int{-1, 0, 1, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999} {
		for mo := -1; mo <= 14; mo++ {
			for d := -1; d <= 33; d++ {
				want := y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo)
				if got := validDate(y, mo, d); got != want {
					t.Errorf("validDate(%d, %d, %d) = %v, want %v", y, mo, d, got, want)
				}
			}
		}
	}
}

// TestUS12MatchesTimeParse checks parseUS12 against time.ParseInLocation for every hour of
// both halves of the day, and its refusal of what is neither AM nor PM.
func TestUS12MatchesTimeParse(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	const layout = "01/02/2006 03:04:05 PM"
	for _, ampm := range []string{"AM", "PM", "am", "pm", "XM", "A ", "QM"} {
		for h := 0; h <= 13; h++ {
			for _, date := range []string{"02/29/2024", "02/29/2023", "12/31/1999", "03/13/2022"} {
				in := fmt.Sprintf("%s %02d:30:59 %s", date, h, ampm)
				want, werr := time.ParseInLocation(layout, in, ny)
				got, ok := parseUS12([]byte(in), ny, &zoneCache{})
				if werr == nil && (!ok || !got.time().Equal(want)) {
					t.Errorf("%q: %v %v, time.Parse: %v", in, got.time(), ok, want)
				}
				if werr != nil && ok && ampm != "am" && ampm != "pm" {
					t.Errorf("%q: %v, time.Parse refuses it: %v", in, got.time(), werr)
				}
			}
		}
	}
}

// TestSkippedLocalTime: a wall clock the city's clocks skipped, whose instant time.Date puts
// in another month, is a skipped_local_time reject (its agency_daily row would lie outside
// its group and fail the publish); the wall clocks around it, and skipped ones that stay in
// their month, are kept as before. One Normalizer reads the cases in order, so the zone
// cache has seen the months around the change when the skipped time comes.
func TestSkippedLocalTime(t *testing.T) {
	s := schemaFrom(t, `schema "t" {
  city         = "t"
  timezone     = "America/Asuncion"
  time_layouts = ["2006-01-02 15:04:05", "%d.%m.%Y %H:%M", "01/02/2006 03:04:05 PM", "rfc3339"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
}`)
	n, err := s.Bind([]string{"id", "created"})
	if err != nil {
		t.Fatal(err)
	}
	// Summer time began in Paraguay at 00:00 on 2017-10-01 (-04 to -03).
	tests := []struct {
		created     string
		want        string // the instant, RFC 3339
		year, month int
		reject      string
	}{
		{created: "2017-09-15 12:00:00", want: "2017-09-15T16:00:00Z", year: 2017, month: 9},
		{created: "2017-10-15 12:00:00", want: "2017-10-15T15:00:00Z", year: 2017, month: 10},
		{created: "2017-09-30 23:59:59", want: "2017-10-01T03:59:59Z", year: 2017, month: 9},
		{created: "2017-10-01 00:00:00", reject: ReasonSkippedLocalTime},
		{created: "2017-10-01 00:30:00", reject: ReasonSkippedLocalTime},
		{created: "01.10.2017 00:59", reject: ReasonSkippedLocalTime},
		{created: "10/01/2017 12:30:00 AM", reject: ReasonSkippedLocalTime},
		{created: "2017-10-01 01:00:00", want: "2017-10-01T04:00:00Z", year: 2017, month: 10},
		// The same instant with its offset is no wall clock: kept, in September.
		{created: "2017-10-01T00:30:00-03:00", want: "2017-10-01T03:30:00Z", year: 2017, month: 9},
		// Summer time began at midnight on 2018-10-07: a skipped wall clock inside a month
		// is read as time.Date reads it, as before.
		{created: "2018-10-07 00:30:00", want: "2018-10-07T03:30:00Z", year: 2018, month: 10},
	}
	for i, tc := range tests {
		var r record.Request
		err := n.Normalize(bs(fmt.Sprint(i), tc.created), &r)
		if tc.reject != "" {
			var rej *RejectError
			if !errors.As(err, &rej) || rej.Reason != tc.reject || rej.Field != "created_at" || rej.Value != tc.created {
				t.Errorf("%s: got %v (%+v), want a %s reject of created_at", tc.created, err, r, tc.reject)
			}
			continue
		}
		if err != nil || !r.CreatedAt.Equal(utc(tc.want)) || r.Year != tc.year || r.Month != tc.month {
			t.Errorf("%s: got %v, %d-%02d (%v), want %s, %d-%02d", tc.created, r.CreatedAt, r.Year, r.Month, err, tc.want, tc.year, tc.month)
		}
	}
}

// TestCreatedMonthIsLocalMonth: for local wall clocks around every change of offset from
// 1900 to 2040 in zones whose clocks change at midnight, by a day or by odd amounts, a kept
// record's year and month are those of its instant's local date (the summaries count it on
// that date, in that group).
func TestCreatedMonthIsLocalMonth(t *testing.T) {
	zones := []string{"America/Asuncion", "America/Santiago", "America/Havana", "America/Sao_Paulo", "Asia/Beirut",
		"Asia/Tehran", "Pacific/Apia", "Pacific/Kwajalein", "Australia/Lord_Howe", "America/New_York", "Europe/Moscow"}
	checked := 0
	for _, zone := range zones {
		s := schemaFrom(t, fmt.Sprintf(`schema "t" {
  city         = "t"
  timezone     = %q
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
}`, zone))
		n, err := s.Bind([]string{"id", "created"})
		if err != nil {
			t.Fatal(err)
		}
		for at := time.Date(1900, 1, 1, 0, 0, 0, 0, s.Location); at.Year() < 2040; {
			_, end := at.ZoneBounds()
			if end.IsZero() {
				break
			}
			_, before := end.Add(-time.Second).Zone()
			wall := end.Add(time.Duration(before) * time.Second).UTC() // the clock as it changed
			for d := -26 * time.Hour; d <= 26*time.Hour; d += 15 * time.Minute {
				text := wall.Add(d).Format("2006-01-02 15:04:05")
				var r record.Request
				if err := n.Normalize(bs("1", text), &r); err != nil {
					var rej *RejectError
					if !errors.As(err, &rej) || rej.Reason != ReasonSkippedLocalTime {
						t.Errorf("%s %s: %v", zone, text, err)
					}
					continue
				}
				checked++
				if y, m, _ := r.CreatedAt.In(s.Location).Date(); y != r.Year || int(m) != r.Month {
					t.Errorf("%s %s: created %v is %d-%02d there, the record's month is %d-%02d", zone, text,
						r.CreatedAt, y, m, r.Year, r.Month)
				}
			}
			at = end
		}
	}
	t.Logf("%d wall clocks around changes of offset checked", checked)
}

// TestEpochCreatedAt: a created_at at the Unix epoch, to the microsecond, is an epoch_time
// reject: the shuffle's row encoding reads that instant back as no time, and the record's
// agency_daily row then fell in year 0, outside its group, failing the publish. A
// microsecond either side is a time.
func TestEpochCreatedAt(t *testing.T) {
	s, ok := Builtin("dc")
	if !ok {
		t.Fatal("no built-in schema dc")
	}
	dc, err := s.Bind([]string{"SERVICEREQUESTID", "ADDDATE"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		created string
		want    string // the instant kept, RFC 3339; "" for the reject
	}{
		{"0", ""},
		{"-0", ""},
		{"0.000999", ""},
		{"1970-01-01T00:00:00Z", ""},
		{"1969-12-31T19:00:00-05:00", ""},
		{"1970-01-01T00:00:00.000000999Z", ""},
		{"1970-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.000001Z"},
		{"1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"},
		{"1", "1970-01-01T00:00:00.001Z"},
		{"-1", "1969-12-31T23:59:59.999Z"},
	}
	for _, tc := range tests {
		var r record.Request
		err := dc.Normalize(bs("1", tc.created), &r)
		if tc.want == "" {
			var rej *RejectError
			if !errors.As(err, &rej) || rej.Reason != ReasonEpochTime || rej.Field != "created_at" {
				t.Errorf("%s: got %v (%v), want an epoch_time reject of created_at", tc.created, err, r.CreatedAt)
			}
			continue
		}
		if err != nil || !r.CreatedAt.Equal(utc(tc.want)) {
			t.Errorf("%s: got %v (%v), want %s", tc.created, r.CreatedAt, err, tc.want)
		}
	}
}

// TestMaxText: a kept text field other than agency and request_type is a value_too_long
// reject past MaxText bytes, so that a record's shuffle row (at most 16 MiB) always fits: a
// 16 MiB CSV record, which the split reader passes, kept nearly whole with its city added,
// failed its map task every time it was retried.
func TestMaxText(t *testing.T) {
	s := schemaFrom(t, `schema "t" {
  city         = "t"
  timezone     = "UTC"
  time_layouts = ["unix"]
  field "request_id"      { columns = ["id"] }
  field "created_at"      { columns = ["created"] }
  field "status"          { columns = ["status"] }
  field "request_subtype" { columns = ["subtype"] }
  field "zip"             { columns = ["zip"] }
  field "neighborhood"    { columns = ["hood"] }
  field "channel"         { columns = ["channel"] }
}`)
	header := []string{"id", "created", "status", "subtype", "zip", "hood", "channel"}
	n, err := s.Bind(header)
	if err != nil {
		t.Fatal(err)
	}
	for col := range header {
		if header[col] == "created" {
			continue
		}
		for _, size := range []int{MaxText, MaxText + 1} {
			row := []string{"1", "1700000000", "", "", "", "", ""}
			row[col] = strings.Repeat("é", size/2) + strings.Repeat("x", size%2)
			var r record.Request
			err := n.Normalize(bs(row...), &r)
			var rej *RejectError
			switch {
			case size <= MaxText && err != nil:
				t.Errorf("%s of %d bytes: %v", header[col], size, err)
			case size > MaxText && (!errors.As(err, &rej) || rej.Reason != ReasonValueTooLong || rej.Column != header[col]):
				t.Errorf("%s of %d bytes: got %v, want a value_too_long reject", header[col], size, err)
			}
		}
	}
}
