package jobs

// Tests of the schema language's joined columns, projected points and integer floats, and
// of the quirks of the cities that need them (Kansas City, DC, St. Louis, Chicago).

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/crs"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
)

const joinedSchemaHCL = `schema "t" {
  city         = "t"
  timezone     = "America/Chicago"
  nulls        = ["", "NA"]
  time_layouts = ["01/02/2006 03:04 PM", "01/02/2006", "2006-01-02T15:04:05"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = [["d", "t"], "created"] }
  field "closed_at"  { columns = ["closed", ["cd", "ct"]] }
}`

// normalizeCSV binds s to header and normalizes one record.
func normalizeCSV(t *testing.T, s *Schema, header []string, fields ...string) (record.Request, error) {
	t.Helper()
	n, err := s.Bind(header)
	if err != nil {
		t.Fatalf("Bind(%q): %v", header, err)
	}
	var r record.Request
	err = n.Normalize(bs(fields...), &r)
	return r, err
}

// normalizeObject normalizes one SODA object with s.
func normalizeObject(t *testing.T, s *Schema, obj string) (record.Request, error) {
	t.Helper()
	var r record.Request
	err := s.BindJSON().NormalizeJSON([]byte(obj), &r)
	return r, err
}

// wantReject checks that err is a reject for reason at field/column.
func wantReject(t *testing.T, err error, reason, field, column string) {
	t.Helper()
	var rej *RejectError
	if !errors.As(err, &rej) {
		t.Fatalf("got %v, want a %s reject", err, reason)
	}
	if rej.Reason != reason || rej.Field != field || rej.Column != column {
		t.Errorf("reject %+v, want reason %s field %s column %q", rej, reason, field, column)
	}
}

func TestJoinedColumns(t *testing.T) {
	s := schemaFrom(t, joinedSchemaHCL)
	tests := []struct {
		name    string
		header  []string
		fields  []string
		created string // RFC 3339 UTC; "" when a reject is wanted
		closed  string
		reason  string // the reject's reason
		column  string // the reject's column
	}{
		{name: "date and time joined", header: []string{"id", "d", "t"}, fields: []string{"1", "02/20/2020", "07:28 AM"},
			created: "2020-02-20T13:28:00Z"},
		{name: "joined candidate first", header: []string{"id", "created", "t", "d"}, fields: []string{"1", "2021-01-01T00:00:00", "07:28 AM", "02/20/2020"},
			created: "2020-02-20T13:28:00Z"},
		{name: "a part missing from the header: next candidate", header: []string{"id", "d", "created"}, fields: []string{"1", "02/20/2020", "2021-07-01T10:00:00"},
			created: "2021-07-01T15:00:00Z"},
		{name: "case-insensitive, spaces trimmed", header: []string{"ID", " D ", "T"}, fields: []string{"1", "02/20/2020", "07:28 PM"},
			created: "2020-02-21T01:28:00Z"},
		{name: "null time: the date alone", header: []string{"id", "d", "t"}, fields: []string{"1", "02/20/2020", "NA"},
			created: "2020-02-20T06:00:00Z"},
		{name: "joined second candidate", header: []string{"id", "d", "t", "cd", "ct"}, fields: []string{"1", "02/20/2020", "07:28 AM", "02/21/2020", "09:00 AM"},
			created: "2020-02-20T13:28:00Z", closed: "2020-02-21T15:00:00Z"},
		{name: "single candidate before joined", header: []string{"id", "d", "t", "cd", "ct", "closed"}, fields: []string{"1", "02/20/2020", "07:28 AM", "02/21/2020", "09:00 AM", "03/01/2020"},
			created: "2020-02-20T13:28:00Z", closed: "2020-03-01T06:00:00Z"},
		{name: "both parts null", header: []string{"id", "d", "t"}, fields: []string{"1", " ", ""},
			reason: ReasonMissingCreatedAt, column: "d + t"},
		{name: "bad date names both columns", header: []string{"id", "d", "t"}, fields: []string{"1", "13/45/2020", "07:28 AM"},
			reason: ReasonBadTimestamp, column: "d + t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := normalizeCSV(t, s, tt.header, tt.fields...)
			if tt.reason != "" {
				wantReject(t, err, tt.reason, "created_at", tt.column)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.CreatedAt.Format("2006-01-02T15:04:05Z07:00"); got != tt.created {
				t.Errorf("created_at %s, want %s", got, tt.created)
			}
			if tt.closed != "" && !r.ClosedAt.Equal(utc(tt.closed)) {
				t.Errorf("closed_at %v, want %s", r.ClosedAt, tt.closed)
			}
		})
	}

	t.Run("reject value is the joined text", func(t *testing.T) {
		_, err := normalizeCSV(t, s, []string{"id", "d", "t"}, "1", "13/45/2020", " 07:28 AM ")
		var rej *RejectError
		if !errors.As(err, &rej) || rej.Value != "13/45/2020 07:28 AM" {
			t.Errorf("reject %v, want value %q", err, "13/45/2020 07:28 AM")
		}
	})

	t.Run("no candidate present", func(t *testing.T) {
		_, err := s.Bind([]string{"id", "d"})
		if !errors.Is(err, ErrNoColumns) || !strings.Contains(err.Error(), `"d + t"`) {
			t.Errorf("Bind without the time column or created: %v, want ErrNoColumns naming \"d + t\"", err)
		}
	})

	t.Run("json", func(t *testing.T) {
		for _, tc := range []struct{ obj, created string }{
			{`{"id":"1","d":"02/20/2020","t":"07:28 AM"}`, "2020-02-20T13:28:00Z"},
			{`{"id":"1","created":"2021-07-01T10:00:00","t":"07:28 AM","d":"02/20/2020"}`, "2020-02-20T13:28:00Z"},
			{`{"id":"1","d":"02/20/2020","t":null,"created":"2021-07-01T10:00:00"}`, "2021-07-01T15:00:00Z"},
			{`{"id":"1","d":"02/20/2020","created":"2021-07-01T10:00:00"}`, "2021-07-01T15:00:00Z"},
		} {
			r, err := normalizeObject(t, s, tc.obj)
			if err != nil {
				t.Fatalf("%s: %v", tc.obj, err)
			}
			if !r.CreatedAt.Equal(utc(tc.created)) {
				t.Errorf("%s: created_at %v, want %s", tc.obj, r.CreatedAt, tc.created)
			}
		}
		// Consecutive objects must not see each other's parts.
		n := s.BindJSON()
		var r record.Request
		if err := n.NormalizeJSON([]byte(`{"id":"1","d":"02/20/2020","t":"07:28 AM"}`), &r); err != nil {
			t.Fatal(err)
		}
		err := n.NormalizeJSON([]byte(`{"id":"2","t":"07:28 AM","created":"2021-07-01T10:00:00"}`), &r)
		if err != nil || !r.CreatedAt.Equal(utc("2021-07-01T15:00:00Z")) {
			t.Errorf("second object: created_at %v, %v; a part of the first object leaked", r.CreatedAt, err)
		}
		_, err = normalizeObject(t, s, `{"id":"1","d":"13/45/2020","t":"07:28 AM"}`)
		wantReject(t, err, ReasonBadTimestamp, "created_at", "d + t")
	})

	t.Run("match header", func(t *testing.T) {
		m := s.MatchHeader([]string{"id", "d", "t", "other"})
		f := m.Fields[1]
		if f.Column != "d + t" || f.Index != 1 || !slices.Equal(f.Joined, []string{"d", "t"}) ||
			!slices.Equal(f.Candidates, []string{"d + t", "created"}) {
			t.Errorf("created_at matched as %+v", f)
		}
		if !slices.Equal(m.Unread, []string{"other"}) {
			t.Errorf("unread %q, want [other]", m.Unread)
		}
		mk := s.MatchKeys([]string{"id", "t", "d"})
		if f := mk.Fields[1]; f.Column != "d + t" || !slices.Equal(f.Joined, []string{"d", "t"}) || len(mk.Unread) != 0 {
			t.Errorf("MatchKeys: %+v, unread %q", f, mk.Unread)
		}
	})

	t.Run("json wire format", func(t *testing.T) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"columns":[["d","t"],"created"]`) {
			t.Errorf("JSON %s does not spell the candidates as HCL does", b)
		}
		var back Schema
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Fields, s.Fields) {
			t.Errorf("round trip: %+v, want %+v", back.Fields, s.Fields)
		}
		for _, bad := range []string{`[[]]`, `[["a","b","c","d","e","f","g","h","i"]]`, `[1]`, `[]`} {
			js := strings.Replace(string(b), `[["d","t"],"created"]`, bad, 1)
			if err := json.Unmarshal([]byte(js), new(Schema)); err == nil {
				t.Errorf("columns %s: accepted", bad)
			}
		}
	})
}

// TestSchemaLanguageErrors checks that the new attributes' mistakes are reported at their
// position, with what to write instead.
func TestSchemaLanguageErrors(t *testing.T) {
	tests := []struct {
		name, field, want string
	}{
		{"empty joined candidate", `field "created_at" { columns = [[]] }`, "Empty columns; a candidate of columns is an empty list"},
		{"number in columns", `field "created_at" { columns = [["a", 2]] }`, "Bad columns; columns must be a list of column names, or of lists"},
		{"columns not a list", `field "created_at" { columns = "a" }`, "Bad columns"},
		{"too many joined", `field "created_at" { columns = [["a","b","c","d","e","f","g","h","i"]] }`, "joins 9 columns, at most 8"},
		{"x on another field", `field "created_at" { columns = ["c"] }
  field "latitude" {
    columns = ["lat"]
    x = "X"
  }`, "Unexpected x; x applies only to the point field"},
		{"unknown crs", `field "created_at" { columns = ["c"] }
  field "point" {
    x = "X"
    y = "Y"
    crs = "EPSG:4326x"
  }`, `Unknown crs; unknown crs "EPSG:4326x" (supported: EPSG:102696, EPSG:2248`},
		{"x without crs", `field "created_at" { columns = ["c"] }
  field "point" {
    x = "X"
    y = "Y"
  }`, "Incomplete projected point; x, y and crs go together"},
		{"no columns at all", `field "created_at" { columns = ["c"] }
  field "point" { }`, `Missing columns; Field "point" needs columns = [...] (or, for point, x, y and crs)`},
		{"x not a name", `field "created_at" { columns = ["c"] }
  field "point" {
    x = 3
    y = "Y"
    crs = "EPSG:3435"
  }`, "Bad x; x must be a column name or a list of candidate column names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `job "t" {
  input "i" {
    path   = "x"
    schema = "t"
  }
  output { parquet = "o" }
}
schema "t" {
  city     = "t"
  timezone = "UTC"
  field "request_id" { columns = ["id"] }
  ` + tt.field + `
}
`
			_, err := Parse([]byte(src), "t.job")
			if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "t.job:1") {
				t.Errorf("got %v\nwant an ErrSpec at t.job:1x:y containing %q", err, tt.want)
			}
		})
	}
}

const projSchemaHCL = `schema "t" {
  city     = "t"
  timezone = "America/Chicago"
  time_layouts = ["rfc3339"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
  field "latitude"   { columns = ["lat"] }
  field "longitude"  { columns = ["lon"] }
  field "point" {
    columns = ["location"]
    x   = ["X Coordinate", "x_coordinate"]
    y   = ["Y Coordinate", "y_coordinate"]
    crs = "EPSG:3435"
  }
}`

func TestProjectedPoint(t *testing.T) {
	s := schemaFrom(t, projSchemaHCL)
	header := []string{"id", "created", "lat", "lon", "location", "X Coordinate", "Y Coordinate"}
	const created = "2011-01-01T00:00:00Z"
	// A real record of Chicago's legacy export: 41.81517646745516, -87.69933194705028.
	const x, y, lat, lon = "1157077.82962754", "1875878.20800447", 41.81517646745516, -87.69933194705028
	tests := []struct {
		name           string
		fields         []string
		located        bool
		wantLat, wantL float64
		reason, column string
	}{
		{name: "x/y alone", fields: []string{"1", created, "", "", "", x, y}, located: true, wantLat: lat, wantL: lon},
		{name: "latitude/longitude first", fields: []string{"1", created, "41.9", "-87.7", "", x, y}, located: true, wantLat: 41.9, wantL: -87.7},
		{name: "point text before x/y", fields: []string{"1", created, "", "", "(41.8, -87.6)", x, y}, located: true, wantLat: 41.8, wantL: -87.6},
		{name: "0/0 placeholder", fields: []string{"1", created, "", "", "", "0", "0.0"}},
		{name: "outside the state plane's area", fields: []string{"1", created, "", "", "", "-87.6", "41.8"}},
		{name: "x null", fields: []string{"1", created, "", "", "", "", y}},
		{name: "x not a number", fields: []string{"1", created, "", "", "", "1157077.8 ft", y}, reason: ReasonBadCoordinate, column: "X Coordinate"},
		{name: "y NaN", fields: []string{"1", created, "", "", "", x, "NaN"}, reason: ReasonBadCoordinate, column: "Y Coordinate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := normalizeCSV(t, s, header, tt.fields...)
			if tt.reason != "" {
				wantReject(t, err, tt.reason, "point", tt.column)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.HasLocation != tt.located {
				t.Fatalf("located %v (%v, %v), want %v", r.HasLocation, r.Latitude, r.Longitude, tt.located)
			}
			if d := metres(r.Latitude, r.Longitude, tt.wantLat, tt.wantL); tt.located && d > 5 {
				t.Errorf("(%v, %v) is %.1f m from (%v, %v)", r.Latitude, r.Longitude, d, tt.wantLat, tt.wantL)
			}
		})
	}

	t.Run("file without x/y columns", func(t *testing.T) {
		r, err := normalizeCSV(t, s, []string{"id", "created", "location"}, "1", created, "(41.8, -87.6)")
		if err != nil || !r.HasLocation || r.Latitude != 41.8 {
			t.Errorf("got %+v, %v; want the point from location", r, err)
		}
		m := s.MatchHeader([]string{"id", "created", "x_coordinate", "y_coordinate"})
		if p := m.Fields[4]; p.X != "x_coordinate" || p.Y != "y_coordinate" || p.CRS != "EPSG:3435" || p.Column != "" || len(m.Unread) != 0 ||
			!p.Found() || p.Source() != "x_coordinate, y_coordinate (EPSG:3435)" || slices.Contains(m.Unmatched(false), "point") {
			t.Errorf("point matched as %+v, unread %q", p, m.Unread)
		}
	})

	t.Run("json", func(t *testing.T) {
		n := s.BindJSON()
		var r record.Request
		if err := n.NormalizeJSON([]byte(`{"id":"1","created":"`+created+`","x_coordinate":`+x+`,"y_coordinate":"`+y+`"}`), &r); err != nil {
			t.Fatal(err)
		}
		if d := metres(r.Latitude, r.Longitude, lat, lon); !r.HasLocation || d > 5 {
			t.Errorf("located %v at %.1f m", r.HasLocation, d)
		}
		// The next object has no coordinates: nothing of the last one may remain.
		if err := n.NormalizeJSON([]byte(`{"id":"2","created":"`+created+`"}`), &r); err != nil || r.HasLocation {
			t.Errorf("second object: located %v, %v", r.HasLocation, err)
		}
		err := n.NormalizeJSON([]byte(`{"id":"3","created":"`+created+`","x_coordinate":"east","y_coordinate":"1"}`), &r)
		wantReject(t, err, ReasonBadCoordinate, "point", "x_coordinate")
	})

	t.Run("every CRS converts its own origin area", func(t *testing.T) {
		for _, name := range CRSNames() {
			p, err := crs.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			a := p.Area()
			// Round trip through the forward projection at the area's centre.
			clon, clat := (a[0]+a[2])/2, (a[1]+a[3])/2
			lat, lon, ok := p.ToLatLon(p.FromLatLon(clat, clon))
			if d := metres(lat, lon, clat, clon); !ok || d > 0.001 {
				t.Errorf("%s: centre (%v, %v) came back as (%v, %v) ok=%v, %.3f m off", name, clat, clon, lat, lon, ok, d)
			}
		}
	})
}

// metres is the great-circle distance between two points.
func metres(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	φ1, φ2 := lat1*math.Pi/180, lat2*math.Pi/180
	dφ, dλ := φ2-φ1, (lon2-lon1)*math.Pi/180
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// TestProjectionAgainstPublished converts the state-plane coordinates of every record of
// the real files that publish both and compares them with the published latitude and
// longitude: they must agree within 5 m, but where the source itself names two places.
func TestProjectionAgainstPublished(t *testing.T) {
	data := testenv.RealData(t)
	tests := []struct {
		file, crs            string
		x, y, lat, lon       string
		records, minCompared int
		// inconsistent are records (1-based) whose x/y and latitude/longitude disagree in the
		// source by more than 100 m, with the evidence; each must still do so. The other
		// records of the same file agree to millimetres, so these are two geocodes of one
		// request, not the projection.
		inconsistent map[int]string
	}{
		{"chicago/chicago311_soda_2021_first5000.csv", "EPSG:3435", "x_coordinate", "y_coordinate", "latitude", "longitude", 5000, 4990,
			map[int]string{
				4845: "SR21-00005418, 3094 N MILWAUKEE AVE: latitude/longitude are the address (community area 21), x/y are 8.4 km north-west, in its zip_code 60646",
				4869: "SR21-00005447, 3640 W 60TH ST: x/y are 125 m from latitude/longitude",
			}},
		{"chicago/chicago_legacy_lights_2011_2013_sample.csv", "EPSG:3435", "X Coordinate", "Y Coordinate", "Latitude", "Longitude", 1497, 1490, nil},
		{"nyc/portal_2011_subset.csv", "EPSG:2263", "X Coordinate (State Plane)", "Y Coordinate (State Plane)", "Latitude", "Longitude", 2000, 1400, nil},
		{"nyc/portal_2010_2020_sample100.csv", "EPSG:2263", "X Coordinate (State Plane)", "Y Coordinate (State Plane)", "Latitude", "Longitude", 100, 80, nil},
		{"nyc/soda_erm2-nwe9_page.csv", "EPSG:2263", "x_coordinate_state_plane", "y_coordinate_state_plane", "latitude", "longitude", 1000, 970, nil},
		// DC's XCOORD/YCOORD are Maryland state-plane metres, except on rows that carry
		// longitude/latitude there (skipped: x within ±180).
		{"dc/dc311_arcgis_2025_page1000.csv", "EPSG:26985", "XCOORD", "YCOORD", "LATITUDE", "LONGITUDE", 1000, 980, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := crs.Lookup(tt.crs)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(data, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			compared, worst, worstRow := 0, 0.0, 0
			for i, row := range rows[1:] {
				xs, ys, lats, lons := row[col[tt.x]], row[col[tt.y]], row[col[tt.lat]], row[col[tt.lon]]
				x, ok1 := parseCoord([]byte(xs))
				y, ok2 := parseCoord([]byte(ys))
				lat, ok3 := parseCoord([]byte(lats))
				lon, ok4 := parseCoord([]byte(lons))
				if !ok1 || !ok2 || !ok3 || !ok4 || math.Abs(x) <= 180 {
					continue
				}
				glat, glon, ok := p.ToLatLon(x, y)
				if !ok {
					t.Errorf("row %d: (%s, %s) converts to no location", i+1, xs, ys)
					continue
				}
				d := metres(glat, glon, lat, lon)
				if why, ok := tt.inconsistent[i+1]; ok {
					if d < 100 {
						t.Errorf("record %d is listed as inconsistent (%s) but converts to %.2f m from its published location", i+1, why, d)
					}
					continue
				}
				compared++
				if d > worst {
					worst, worstRow = d, i+1
				}
			}
			t.Logf("%d of %d records compared, largest error %.3f m (record %d)", compared, len(rows)-1, worst, worstRow)
			if len(rows)-1 != tt.records || compared < tt.minCompared {
				t.Errorf("%d records, %d compared; want %d records and at least %d compared", len(rows)-1, compared, tt.records, tt.minCompared)
			}
			if worst > 5 {
				t.Errorf("record %d is %.2f m from its published location, want ≤ 5 m", worstRow, worst)
			}
		})
	}
}

func TestIntegerFloats(t *testing.T) {
	for in, want := range map[string]string{
		"64108.0": "64108", "20003.000": "20003", "-3.0": "-3", "2020025504.0": "2020025504",
		"64108": "64108", "1.5": "1.5", "1.50": "1.50", "1e5": "1e5", ".0": ".0", "-.0": "-.0", "5.": "5.",
		"1.0.0": "1.0.0", "SR21-0.0": "SR21-0.0", "0.0": "0", "12-3.0": "12-3.0", "": "",
	} {
		if got := string(trimZeroFraction([]byte(in))); got != want {
			t.Errorf("trimZeroFraction(%q) = %q, want %q", in, got, want)
		}
	}
	base := `schema "t" {
  city     = "t"
  timezone = "UTC"
  time_layouts = ["rfc3339"]
  %s
  field "request_id"   { columns = ["id"] }
  field "created_at"   { columns = ["created"] }
  field "zip"          { columns = ["zip"] }
  field "neighborhood" { columns = ["nbh"] }
}`
	header := []string{"id", "created", "zip", "nbh"}
	on := schemaFrom(t, strings.Replace(base, "%s", "integer_floats = true", 1))
	off := schemaFrom(t, strings.Replace(base, "%s", "", 1))
	for _, tc := range []struct {
		s                 *Schema
		id, zip, nbh      string
		wantID, wantZ, wN string
	}{
		{on, "2020025504.0", "64108.0", "3.0", "2020025504", "64108", "3"},
		{on, "A-1.0", "64108", "Beacon Hills", "A-1.0", "64108", "Beacon Hills"},
		{off, "2020025504.0", "64108.0", "3.0", "2020025504.0", "64108.0", "3.0"},
	} {
		r, err := normalizeCSV(t, tc.s, header, tc.id, "2020-01-01T00:00:00Z", tc.zip, tc.nbh)
		if err != nil {
			t.Fatal(err)
		}
		if r.RequestID != tc.wantID || r.Zip != tc.wantZ || r.Neighborhood != tc.wN {
			t.Errorf("integer_floats=%v: id %q zip %q nbh %q, want %q %q %q", tc.s.IntegerFloats, r.RequestID, r.Zip, r.Neighborhood, tc.wantID, tc.wantZ, tc.wN)
		}
	}
}

// firstRow returns a real file's header and first record.
func firstRow(t *testing.T, file string) ([]string, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RealData(t), file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	row, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	return header, row
}

// with returns a copy of row with column name set to v.
func with(header, row []string, name, v string) []string {
	out := slices.Clone(row)
	out[slices.Index(header, name)] = v
	return out
}

func TestDCDates(t *testing.T) {
	dc, _ := Builtin("dc")
	header, row := firstRow(t, "dc/dc311_arcgis_2025_page1000.csv")
	n, err := dc.Bind(header)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ resolution, want string }{
		{"1737823859000.0", "2025-01-25T16:50:59Z"}, // float-ified epoch milliseconds
		{"1737823859000", "2025-01-25T16:50:59Z"},
		{"253402300799000", ""}, // 9999-12-31: no date
		{"253402300799000.0", ""},
		{"", ""},
	} {
		var r record.Request
		if err := n.Normalize(bs(with(header, row, "RESOLUTIONDATE", tc.resolution)...), &r); err != nil {
			t.Fatalf("RESOLUTIONDATE %q: %v", tc.resolution, err)
		}
		got := ""
		if !r.ClosedAt.IsZero() {
			got = r.ClosedAt.Format("2006-01-02T15:04:05Z07:00")
		}
		if got != tc.want || r.Zip != "20003" {
			t.Errorf("RESOLUTIONDATE %q: closed_at %q zip %q, want %q and 20003", tc.resolution, got, r.Zip, tc.want)
		}
	}
	// Without the null token the placeholder is a timestamp no parser takes: every closed
	// record of a page would be a reject.
	dc.Nulls = []string{""}
	n, _ = dc.Bind(header)
	var r record.Request
	err = n.Normalize(bs(with(header, row, "RESOLUTIONDATE", "253402300799000")...), &r)
	wantReject(t, err, ReasonBadTimestamp, "closed_at", "RESOLUTIONDATE")
}

func TestStLouisStatusAndPoint(t *testing.T) {
	stl, _ := Builtin("st_louis")
	header, row := firstRow(t, "st_louis/stl_csb_2011.csv")
	n, err := stl.Bind(header)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		raw  string
		want record.Status
	}{
		{"CLOSED", record.StatusClosed}, {"Closed", record.StatusClosed},
		{"CANCEL", record.StatusOther}, {"Cancel", record.StatusOther},
		{"SCHEDULED", record.StatusOpen}, {"Scheduled", record.StatusOpen},
	} {
		var r record.Request
		if err := n.Normalize(bs(with(header, row, "STATUS", tc.raw)...), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.want || r.StatusRaw != tc.raw {
			t.Errorf("STATUS %q: %v (raw %q), want %v and the raw value kept", tc.raw, r.Status, r.StatusRaw, tc.want)
		}
	}
	// A ragged fraction, and no coordinates.
	row = with(header, row, "DATETIMEINIT", "2013-04-17 14:15:03.703")
	row = with(header, row, "SRX", "")
	var r record.Request
	if err := n.Normalize(bs(row...), &r); err != nil {
		t.Fatal(err)
	}
	if !r.CreatedAt.Equal(utc("2013-04-17T19:15:03.703Z")) || r.HasLocation {
		t.Errorf("created_at %v located %v; want 2013-04-17T19:15:03.703Z and no location", r.CreatedAt, r.HasLocation)
	}
}

// TestStLouisInCity checks every projected St. Louis location against the city's bounds
// (38.53..38.78 N, 90.32..90.17 W, with a margin): the Missouri East definition has no
// published latitude/longitude to compare with in this file.
func TestStLouisInCity(t *testing.T) {
	stl, _ := Builtin("st_louis")
	located := 0
	forEachRecord(t, filepath.Join(testenv.RealData(t), "st_louis/stl_csb_2011.csv"), FormatCSV, stl, func(i int, r *record.Request, err error) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !r.HasLocation {
			return
		}
		located++
		if r.Latitude < 38.52 || r.Latitude > 38.79 || r.Longitude < -90.33 || r.Longitude > -90.16 {
			t.Errorf("record %d (%s): (%v, %v) is outside St. Louis", i, r.RequestID, r.Latitude, r.Longitude)
		}
	})
	if located != 2083-38 {
		t.Errorf("%d records located, want every one with SRX/SRY (2083 - 38)", located)
	}
}
