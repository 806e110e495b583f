package viz

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// sqlInt runs a query returning one integer on the superuser connection: the tests' own
// account of what the tables hold, written independently of the server's queries.
func sqlInt(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n.Int64
}

func testReadOnly(t *testing.T, e *env) {
	ctx := context.Background()
	for _, stmt := range []string{
		"DELETE FROM request_monthly",
		"CREATE TABLE viz_was_here (x int)",
		"UPDATE job_runs SET status = 'x'",
	} {
		if _, err := e.srv.db.ExecContext(ctx, stmt); err == nil {
			t.Errorf("the server's role ran %q", stmt)
		}
	}
	var user string
	if err := e.srv.db.QueryRowContext(ctx, "SELECT current_user").Scan(&user); err != nil || user != readOnlyRole {
		t.Errorf("server connects as %q (%v), want %q", user, err, readOnlyRole)
	}
}

type citiesResp struct {
	Cities []struct {
		ID, Name, First, Last string
		FirstDay              string `json:"first_day"`
		LastDay               string `json:"last_day"`
		Requests              int64
	}
	Published *string `json:"published_at"`
	Message   string
}

type shareResp struct {
	Value, Label string
	Requests     int64
	Share        float64
}

type topResp struct {
	City    string
	Period  map[string]string
	Total   int64
	Types   []shareResp
	Message string
}

type mapResp struct {
	Lat, Lon   []float64
	Requests   []int64
	Total      int64
	BinDegrees float64 `json:"bin_degrees"`
	Message    string
}

type compareResp struct {
	Types  []shareResp
	Series []struct {
		City     string
		Total    int64
		Requests []int64
		Shares   []float64
		Message  string
	}
	Message string
}

type monthlyResp struct {
	Series []struct {
		City     string
		Months   []string
		Requests []*int64
		Total    int64
	}
	Message string
}

type resolutionResp struct {
	Agencies []struct {
		Value, Label string
		Requests     int64
		Closed       int64
		MedianHours  *float64 `json:"median_hours"`
		P90Hours     *float64 `json:"p90_hours"`
	}
	Omitted int
	Message string
}

type windowResp struct {
	From, To    string
	Days        int
	WindowDays  int `json:"window_days"`
	Requests    int64
	AvgPerDay   *float64 `json:"avg_per_day"`
	MedianHours *float64 `json:"median_hours"`
}

type reviewResp struct {
	Recent, Historical windowResp
	Difference         struct {
		AvgPerDay *float64 `json:"avg_per_day"`
		AvgPct    *float64 `json:"avg_pct"`
	}
	Daily struct {
		Recent, Historical struct {
			Days   []string
			Opened []*int64
		}
		Message string
	}
	Heat struct {
		Recent, Historical, Difference [][]float64
		RecentMessage                  string `json:"recent_message"`
		HistoricalMessage              string `json:"historical_message"`
	}
	Resolution struct {
		Months      []string
		MedianHours []*float64 `json:"median_hours"`
		Message     string
	}
	Notes   []string
	Message string
}

// getOK fetches path, requires 200 and decodes the body into v.
func (e *env) getOK(t *testing.T, path string, v any) {
	t.Helper()
	res := e.get(t, path, v)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
}

func testAPI(t *testing.T, e *env) {
	db := e.admin
	var cities citiesResp
	e.getOK(t, "/api/cities", &cities)
	var ids []string
	for _, c := range cities.Cities {
		ids = append(ids, c.ID)
		if want := sqlInt(t, db, "SELECT sum(requests) FROM request_monthly WHERE city = $1", c.ID); c.Requests != want {
			t.Errorf("cities: %s has %d requests, the table %d", c.ID, c.Requests, want)
		}
	}
	if want := []string{"baltimore", "boston", "la", "nyc", "sf"}; !slices.Equal(ids, want) {
		t.Fatalf("cities %v, want the five of the job %v", ids, want)
	}
	if cities.Published == nil {
		t.Errorf("cities: no published_at though a job was published")
	}

	for _, c := range cities.Cities {
		t.Run(c.ID, func(t *testing.T) {
			// Top types: the table's own ranking, by requests then name.
			var top topResp
			e.getOK(t, "/api/top-types?city="+c.ID, &top)
			if top.Total != c.Requests || len(top.Types) != 5 {
				t.Errorf("top-types: total %d (want %d), %d types", top.Total, c.Requests, len(top.Types))
			}
			rows, err := db.Query(`SELECT request_type, sum(requests) n FROM request_monthly WHERE city = $1
				GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5`, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; rows.Next(); i++ {
				var typ string
				var n int64
				rows.Scan(&typ, &n)
				if i < len(top.Types) && (top.Types[i].Requests != n || labelOf(typ, "(no type)") != top.Types[i].Label ||
					math.Abs(top.Types[i].Share-float64(n)/float64(c.Requests)) > 1e-4) {
					t.Errorf("top-types #%d: %+v, the table says %q %d", i, top.Types[i], typ, n)
				}
			}
			rows.Close()

			// Map: every located request of the period in some bin, each bin once.
			var m mapResp
			e.getOK(t, fmt.Sprintf("/api/map?city=%s&from=%s&to=%s", c.ID, c.First, c.Last), &m)
			if want := sqlInt(t, db, "SELECT sum(requests) FROM request_geo WHERE city = $1", c.ID); m.Total != want || want == 0 {
				t.Errorf("map: total %d, request_geo %d", m.Total, want)
			}
			if want := sqlInt(t, db, "SELECT count(DISTINCT (lat_bin, lon_bin)) FROM request_geo WHERE city = $1", c.ID); int64(len(m.Lat)) != want {
				t.Errorf("map: %d bins, request_geo %d", len(m.Lat), want)
			}
			if len(m.Lat) != len(m.Lon) || len(m.Lat) != len(m.Requests) {
				t.Errorf("map: ragged arrays %d %d %d", len(m.Lat), len(m.Lon), len(m.Requests))
			}

			// Map of one request type.
			typ := top.Types[0]
			e.getOK(t, fmt.Sprintf("/api/map?city=%s&type=%s", c.ID, url.QueryEscape(typ.Value)), &m)
			want := sqlInt(t, db, "SELECT sum(requests) FROM request_geo WHERE city = $1 AND request_type = $2", c.ID, strings.ReplaceAll(typ.Value, noneValue, ""))
			if m.Total != want {
				t.Errorf("map of %q: total %d, request_geo %d", typ.Value, m.Total, want)
			}

			// Resolution: each agency's counts; combined medians within its groups' range.
			var res resolutionResp
			e.getOK(t, "/api/resolution?city="+c.ID, &res)
			if len(res.Agencies) == 0 {
				t.Fatalf("resolution: no agencies: %s", res.Message)
			}
			for _, a := range res.Agencies {
				key := strings.ReplaceAll(a.Value, noneValue, "")
				if want := sqlInt(t, db, "SELECT sum(requests) FROM request_monthly WHERE city = $1 AND agency = $2", c.ID, key); a.Requests != want {
					t.Errorf("resolution %s: %d requests, table %d", a.Label, a.Requests, want)
				}
				var lo, hi float64
				db.QueryRow(`SELECT min(median_resolution_hours), max(median_resolution_hours) FROM request_monthly
					WHERE city = $1 AND agency = $2`, c.ID, key).Scan(&lo, &hi)
				if a.MedianHours == nil || *a.MedianHours < lo-0.01 || *a.MedianHours > hi+0.01 {
					t.Errorf("resolution %s: median %v outside its groups' medians [%v, %v]", a.Label, a.MedianHours, lo, hi)
				}
				if a.MedianHours != nil && (a.P90Hours == nil || *a.P90Hours < *a.MedianHours-0.01) {
					t.Errorf("resolution %s: p90 %v", a.Label, a.P90Hours)
				}
			}

			// Review, all agencies and the busiest one: windows add up to agency_daily.
			var agencies struct{ Agencies []entry }
			e.getOK(t, "/api/agencies?city="+c.ID, &agencies)
			for _, ag := range []string{"", agencies.Agencies[0].Value} {
				var r reviewResp
				e.getOK(t, "/api/review?city="+c.ID+"&agency="+url.QueryEscape(ag), &r)
				q := "SELECT sum(opened) FROM agency_daily WHERE city = $1 AND day BETWEEN $2::date AND $3::date"
				args := []any{c.ID}
				if ag != "" {
					q += " AND agency = $4"
				}
				check := func(name string, w windowResp, series []*int64) {
					if w.WindowDays == 0 {
						return
					}
					a := append(slices.Clone(args), w.From, w.To)
					if ag != "" {
						a = append(a, strings.ReplaceAll(ag, noneValue, ""))
					}
					var sum int64
					covered := 0
					for _, n := range series {
						if n != nil {
							sum += *n
							covered++
						}
					}
					if want := sqlInt(t, db, q, a...); w.Requests != want || sum != want || len(series) != w.WindowDays || covered != w.Days {
						t.Errorf("review %q %s: %d requests, series sums to %d over %d points (%d days, %d with data); agency_daily %d",
							ag, name, w.Requests, sum, len(series), w.WindowDays, w.Days, want)
					}
				}
				check("recent", r.Recent, r.Daily.Recent.Opened)
				check("historical", r.Historical, r.Daily.Historical.Opened)
				if r.Recent.Requests == 0 {
					t.Errorf("review %q: no recent requests in the city's last month", ag)
				}
				// Heat maps hold requests per week: back to counts, they add up to the window.
				if r.Heat.Recent != nil {
					var sum float64
					for _, row := range r.Heat.Recent {
						for _, v := range row {
							sum += v
						}
					}
					if got := sum * float64(r.Recent.Days) / 7; math.Abs(got-float64(r.Recent.Requests)) > 0.5 {
						t.Errorf("review %q: recent heat map sums to %.1f requests, the window has %d", ag, got, r.Recent.Requests)
					}
				}
			}
		})
	}

	t.Run("compare", func(t *testing.T) {
		var cmp compareResp
		e.getOK(t, "/api/compare?cities=sf,baltimore,nyc", &cmp)
		if len(cmp.Series) != 3 || len(cmp.Types) < 5 || len(cmp.Types) > 15 {
			t.Fatalf("compare: %d series, %d types", len(cmp.Series), len(cmp.Types))
		}
		for _, s := range cmp.Series {
			if want := sqlInt(t, e.admin, "SELECT sum(requests) FROM request_monthly WHERE city = $1", s.City); s.Total != want {
				t.Errorf("compare %s: total %d, table %d", s.City, s.Total, want)
			}
			for i := range s.Requests {
				if math.Abs(s.Shares[i]-float64(s.Requests[i])/float64(s.Total)) > 1e-4 {
					t.Errorf("compare %s %q: share %v of %d/%d", s.City, cmp.Types[i].Label, s.Shares[i], s.Requests[i], s.Total)
				}
			}
		}
	})

	t.Run("monthly", func(t *testing.T) {
		var mo monthlyResp
		e.getOK(t, "/api/monthly", &mo)
		if len(mo.Series) != len(cities.Cities) {
			t.Fatalf("monthly: %d series", len(mo.Series))
		}
		for i, s := range mo.Series {
			c := cities.Cities[i]
			var sum int64
			for _, n := range s.Requests {
				if n != nil {
					sum += *n
				}
			}
			if s.Total != c.Requests || sum != s.Total || s.Months[0] != c.First || s.Months[len(s.Months)-1] != c.Last {
				t.Errorf("monthly %s: %d requests over %s..%s; want %d over %s..%s", s.City, s.Total, s.Months[0], s.Months[len(s.Months)-1], c.Requests, c.First, c.Last)
			}
			for j := 1; j < len(s.Months); j++ {
				a, _ := parseMonth("", s.Months[j-1])
				b, _ := parseMonth("", s.Months[j])
				if b != a+1 {
					t.Errorf("monthly %s: %s follows %s", s.City, s.Months[j], s.Months[j-1])
				}
			}
		}
		e.getOK(t, "/api/monthly?cities=la&from=2017-01&to=2017-12", &mo)
		if len(mo.Series) != 1 || mo.Series[0].Total != sqlInt(t, e.admin, "SELECT sum(requests) FROM request_monthly WHERE city = 'la' AND year = 2017") {
			t.Errorf("monthly of LA in 2017: %+v", mo)
		}
	})

	t.Run("quotes and the empty key", func(t *testing.T) {
		// A real agency with an apostrophe: parameters, not string building.
		var r reviewResp
		e.getOK(t, "/api/review?city=baltimore&agency="+url.QueryEscape("Mayor's Office")+"&end=2019-02&history=120", &r)
		if r.Recent.Requests+r.Historical.Requests != sqlInt(t, e.admin, "SELECT sum(opened) FROM agency_daily WHERE city = 'baltimore' AND agency = 'Mayor''s Office'") {
			t.Errorf("Mayor's Office: %d + %d requests", r.Recent.Requests, r.Historical.Requests)
		}
		// Boston has requests without an agency: "(none)" selects them.
		var ag struct{ Agencies []entry }
		e.getOK(t, "/api/agencies?city=boston", &ag)
		if !slices.ContainsFunc(ag.Agencies, func(a entry) bool { return a.Value == noneValue }) {
			t.Errorf("boston agencies lack %q: %+v", noneValue, ag.Agencies)
		}
		e.getOK(t, "/api/review?city=boston&agency="+url.QueryEscape(noneValue)+"&history=60", &r)
		if got, want := r.Recent.Requests+r.Historical.Requests, sqlInt(t, e.admin, "SELECT sum(opened) FROM agency_daily WHERE city = 'boston' AND agency = ''"); got != want || want == 0 {
			t.Errorf("boston without agency: %d requests, table %d", got, want)
		}
	})
}

func testEmptyStates(t *testing.T, e *env) {
	for _, tc := range []struct {
		path, field, want string
	}{
		{"/api/map?city=boston&from=2012-01&to=2012-12", "message", "no requests with a location for Boston in 2012"},
		{"/api/top-types?city=boston&from=2012-01&to=2012-12", "message", "no data for Boston in 2012"},
		{"/api/resolution?city=boston&from=2012-03&to=2012-03", "message", "no closed requests with a resolution time for Boston in Mar 2012"},
		{"/api/compare?cities=boston,la&from=2012-01&to=2014-12", "message", "no data for Boston or Los Angeles in 2012–2014"},
		{"/api/monthly?cities=sf&from=2020-02&to=2021-06", "message", "no data for San Francisco between Feb 2020 and Jun 2021"},
		{"/api/review?city=boston&end=2012-06", "message", "no requests for Boston between Jun 2011 and Jun 2012"},
		{"/api/review?city=boston", "notes", "Boston has no data at all for 181 of the 365 days of the historical window (months between exports): the averages count the other 184 days"},
		{"/api/review?city=la", "notes", "no historical requests for Los Angeles between Dec 2016 and Nov 2017: the baseline is empty"},
		{"/api/map?city=sf&type=" + url.QueryEscape("Street and Sidewalk Cleaning") + "&from=2008-01&to=2008-06", "message", `no "Street and Sidewalk Cleaning" requests with a location for San Francisco between Jan 2008 and Jun 2008`},
	} {
		var v map[string]any
		e.getOK(t, tc.path, &v)
		got := fmt.Sprint(v[tc.field])
		if !strings.Contains(got, tc.want) {
			t.Errorf("GET %s: %s %q, want %q", tc.path, tc.field, got, tc.want)
		}
	}
}

func testValidation(t *testing.T, e *env) {
	for _, tc := range []struct {
		name, path string
		code       int
		want       string // in the error message
	}{
		{"missing city", "/api/map", 400, "missing parameter city: one of baltimore, boston, la, nyc, sf"},
		{"unknown city", "/api/top-types?city=atlantis", 400, `unknown city "atlantis"`},
		{"city case", "/api/top-types?city=SF", 400, "unknown city"},
		{"month 13", "/api/map?city=sf&from=2012-13", 400, "from: \"2012-13\" is not a month"},
		{"month 0", "/api/map?city=sf&to=2012-00", 400, "is not a month"},
		{"short month", "/api/map?city=sf&from=2012-1", 400, "is not a month"},
		{"day", "/api/map?city=sf&from=2012-01-05", 400, "is not a month"},
		{"year range", "/api/map?city=sf&from=1492-10", 400, "is not a month"},
		{"signed", "/api/map?city=sf&from=+012-01", 400, "is not a month"},
		{"reversed", "/api/top-types?city=sf&from=2014-01&to=2013-12", 400, "from 2014-01 is after to 2013-12"},
		{"unknown agency", "/api/review?city=sf&agency=NYPD", 400, `unknown agency "NYPD" for San Francisco`},
		{"unknown type", "/api/map?city=sf&type=Pothole", 400, `unknown type "Pothole" for San Francisco`},
		{"n zero", "/api/top-types?city=sf&n=0", 400, "n: \"0\" is not a whole number from 1 to 25"},
		{"n text", "/api/top-types?city=sf&n=five", 400, "not a whole number"},
		{"n big", "/api/resolution?city=sf&n=51", 400, "from 1 to 50"},
		{"recent zero", "/api/review?city=sf&recent=0", 400, "recent"},
		{"history big", "/api/review?city=sf&history=121", 400, "history"},
		{"review before 1900", "/api/review?city=sf&end=1900-06&history=12", 400, "starts before 1900"},
		{"city twice", "/api/compare?cities=sf,sf", 400, "listed twice"},
		{"four cities", "/api/compare?cities=sf,la,nyc,boston", 400, "at most 3"},
		{"no cities", "/api/compare", 400, "missing parameter cities"},
		{"empty city in list", "/api/compare?cities=sf,", 400, "unknown city"},
		{"typo", "/api/map?city=sf&tpye=x", 400, `unknown parameter "tpye": this endpoint takes city, from, to, type`},
		{"parameter to a list", "/api/cities?city=sf", 400, "takes none"},
		{"repeated", "/api/map?city=sf&city=la", 400, "given 2 times"},
		{"bad escape", "/api/map?city=%zz", 400, "malformed query string"},
		{"semicolon", "/api/map?city=sf;from=2012-01", 400, "malformed query string"},
		{"long value", "/api/map?city=" + strings.Repeat("a", 201), 400, "longer than 200"},
		{"control character", "/api/map?city=sf%0a", 400, "control characters"},
		{"invalid UTF-8", "/api/map?city=%ff", 400, "not UTF-8"},
		{"unknown format", "/api/map?city=sf&format=xml", 400, `format: "xml" is not a format: json or csv`},
		{"format of a list", "/api/cities?format=csv", 400, `unknown parameter "format": this endpoint takes none`},
		{"chart without csv", "/api/review?city=sf&chart=daily", 400, "chart: only with format=csv"},
		{"review csv without chart", "/api/review?city=sf&format=csv", 400, "this endpoint has several charts; give format=csv with chart= one of daily, heat-recent"},
		{"unknown chart", "/api/review?city=sf&format=csv&chart=pie", 400, `chart: "pie" is not a chart of this endpoint`},
		{"chart of a one-chart endpoint", "/api/map?city=sf&format=csv&chart=daily", 400, `unknown parameter "chart"`},
		{"no such endpoint", "/api/nope", 404, "no such endpoint"},
		{"no such asset", "/static/nope.js", 404, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.get(t, tc.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.code {
				t.Fatalf("GET %s: %s, want %d: %s", tc.path, res.Status, tc.code, body)
			}
			var v struct{ Error string }
			if err := json.Unmarshal(body, &v); err != nil || !strings.Contains(v.Error, tc.want) {
				t.Errorf("GET %s: error %q (%v), want it to contain %q", tc.path, v.Error, err, tc.want)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("GET %s: Content-Type %q", tc.path, ct)
			}
		})
	}
	res, err := http.Post(e.ts.URL+"/api/map?city=sf", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/map: %s, want 405", res.Status)
	}
}

// hostile are SQL injection and path traversal attempts, tried on every parameter.
var hostile = []string{
	`' OR '1'='1`,
	`sf' OR 1=1 --`,
	`sf'; DROP TABLE request_monthly; --`,
	`sf"; DELETE FROM job_runs; --`,
	`1; SELECT pg_sleep(5)`,
	`1 OR 1=1`,
	`2012-01' UNION SELECT current_user --`,
	`sf' UNION SELECT table_name FROM information_schema.tables --`,
	`(none)' OR ''='`,
	`$1`,
	`sf/**/OR/**/1=1`,
	`../../../../etc/passwd`,
	`..%2f..%2f..%2fetc%2fpasswd`,
	`/etc/passwd`,
	`....//....//etc/passwd`,
	`..\..\..\windows\win.ini`,
	`sf%00`,
	"sf\x00",
	`<script>alert(1)</script>`,
	`${7*7}`,
}

// endpoints lists each API endpoint with valid values for its parameters. The charts'
// endpoints are asked for their CSV, so that format and chart get the hostile values too.
var endpoints = []struct {
	path   string
	params map[string]string
}{
	{"/api/agencies", map[string]string{"city": "sf"}},
	{"/api/request-types", map[string]string{"city": "sf"}},
	{"/api/map", map[string]string{"city": "sf", "from": "2012-01", "to": "2012-12", "type": "Abandoned Vehicle", "format": "csv"}},
	{"/api/top-types", map[string]string{"city": "sf", "from": "2012-01", "to": "2012-12", "n": "5", "format": "csv"}},
	{"/api/compare", map[string]string{"cities": "sf,la", "from": "2012-01", "to": "2017-12", "n": "5", "format": "csv"}},
	{"/api/monthly", map[string]string{"cities": "sf,la", "from": "2012-01", "to": "2017-12", "format": "json"}},
	{"/api/resolution", map[string]string{"city": "sf", "from": "2012-01", "to": "2012-12", "n": "10", "format": "csv"}},
	{"/api/review", map[string]string{"city": "sf", "agency": "DPW Ops Queue", "end": "2015-06", "recent": "2", "history": "12", "format": "csv", "chart": "heat-difference"}},
}

func testHostile(t *testing.T, e *env) {
	counts := func() string {
		return fmt.Sprint(
			sqlInt(t, e.admin, "SELECT count(*) FROM request_monthly"), sqlInt(t, e.admin, "SELECT count(*) FROM agency_daily"),
			sqlInt(t, e.admin, "SELECT count(*) FROM request_heat"), sqlInt(t, e.admin, "SELECT count(*) FROM request_geo"),
			sqlInt(t, e.admin, "SELECT count(*) FROM job_runs WHERE status = 'succeeded'"))
	}
	before := counts()
	for _, ep := range endpoints {
		// The valid request first: the hostile ones differ from it in one value only.
		q := url.Values{}
		for k, v := range ep.params {
			q.Set(k, v)
		}
		if res := e.get(t, ep.path+"?"+q.Encode(), nil); res.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("GET %s?%s: %s: %s", ep.path, q.Encode(), res.Status, b)
		}
		ran := e.srv.queries.Load()
		for name := range ep.params {
			for _, bad := range hostile {
				q := url.Values{}
				for k, v := range ep.params {
					q.Set(k, v)
				}
				q.Set(name, bad)
				path := ep.path + "?" + q.Encode()
				res := e.get(t, path, nil)
				body, _ := io.ReadAll(res.Body)
				if res.StatusCode != http.StatusBadRequest {
					t.Errorf("GET %s: %s, want 400: %.200s", path, res.Status, body)
				}
				if bytes.Contains(body, []byte("root:")) || bytes.Contains(body, []byte("<script>")) {
					t.Errorf("GET %s: the answer echoes what it should not: %.200s", path, body)
				}
			}
		}
		if n := e.srv.queries.Load() - ran; n != 0 {
			t.Errorf("%s: refused requests ran %d statements, want none", ep.path, n)
		}
	}
	// Traversal in the path itself, raw and encoded: refused before any route.
	for _, p := range []string{
		"/static/../../go.mod", "/static/..%2f..%2fgo.mod", "/static/%2e%2e/%2e%2e/go.mod", "/static/%2E%2E%2Fgo.mod",
		"/assets/../viz/config.go", "/static/..%5c..%5cgo.mod", "/static//etc/passwd", "/static/app.js%00.png",
		"/api/../go.mod", "/..", "/review/..%2f..%2fgo.mod",
	} {
		req, err := http.NewRequest("GET", e.ts.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = p // sent exactly as written, not cleaned
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %s, want 400", p, res.Status)
		}
		if bytes.Contains(body, []byte("module ")) || bytes.Contains(body, []byte("package ")) || bytes.Contains(body, []byte("root:")) {
			t.Errorf("GET %s: served a file it must not: %.100s", p, body)
		}
	}
	if after := counts(); after != before {
		t.Errorf("table row counts changed from %s to %s", before, after)
	}
}

func testCaching(t *testing.T, e *env) {
	path := e.ts.URL + "/api/top-types?city=sf"
	res, err := http.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || etag == "" || res.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("GET %s: %s, ETag %q, Cache-Control %q", path, res.Status, etag, res.Header.Get("Cache-Control"))
	}
	req, _ := http.NewRequest("GET", path, nil)
	req.Header.Set("If-None-Match", etag)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("revalidation: %s with %d bytes, want 304 and none", res.Status, len(b))
	}
	// Another parameter, another ETag.
	res = e.get(t, "/api/top-types?city=la", nil)
	if res.Header.Get("ETag") == etag {
		t.Errorf("two different answers share ETag %s", etag)
	}
	// Gzip for clients that ask (the transport asks and decodes by itself: ask explicitly).
	req, _ = http.NewRequest("GET", e.ts.URL+"/api/map?city=sf", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.HasSuffix(res.Header.Get("ETag"), `-gz"`) {
		t.Errorf("map with Accept-Encoding gzip: Content-Encoding %q, ETag %q", res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
	} else {
		zr, err := gzip.NewReader(bytes.NewReader(zb))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		var m mapResp
		if err := json.Unmarshal(plain, &m); err != nil || m.Total == 0 {
			t.Errorf("gzipped map: %v, total %d", err, m.Total)
		}
		if len(zb)*3 > len(plain) {
			t.Logf("gzip: %d bytes to %d", len(plain), len(zb))
		}
	}
	// Errors are not cached.
	res = e.get(t, "/api/top-types?city=nowhere", nil)
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("ETag") != "" {
		t.Errorf("400: Cache-Control %q, ETag %q", res.Header.Get("Cache-Control"), res.Header.Get("ETag"))
	}
}

func testPages(t *testing.T, e *env) {
	for _, p := range []string{"/", "/review", "/?city=sf&from=2012-01", "/review?city=boston&agency=PWDx"} {
		res := e.get(t, p, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %s %s", p, res.Status, res.Header.Get("Content-Type"))
		}
		for _, want := range []string{"/assets/plotly.min.js?v=" + e.srv.assets.version, "/static/app.js?v=", `class="chart`} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("GET %s: page lacks %q", p, want)
			}
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
		}
	}
	res := e.get(t, "/healthz", nil)
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("healthz: %s %q", res.Status, b)
	}
	res = e.get(t, "/static/app.js?v="+e.srv.assets.version, nil)
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("app.js: %s, Cache-Control %q, Content-Type %q", res.Status, res.Header.Get("Cache-Control"), res.Header.Get("Content-Type"))
	}
	res = e.get(t, "/assets/plotly.min.js", nil)
	body, _ := io.ReadAll(res.Body)
	want, _ := os.ReadFile(e.srv.cfg.PlotlyJS)
	if res.StatusCode != 200 || !bytes.Equal(body, want) || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("plotly.min.js: %s, %d bytes (file %d), Cache-Control %q", res.Status, len(body), len(want), res.Header.Get("Cache-Control"))
	}
}
