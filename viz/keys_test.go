package viz

// Tests of what the API takes back of what it lists: agency and request-type values (their
// marker encoding, their length and characters) and periods, when the data's keys and dates
// are odd. The unit tests run under -short; TestOddKeysAndDates needs PostgreSQL.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/pgsink"
)

// TestMaxKeyText: viz bounds agency and type parameters by what the normalizer may store.
func TestMaxKeyText(t *testing.T) {
	if maxKeyText != jobs.MaxKeyText {
		t.Errorf("viz's maxKeyText %d, the normalizer's jobs.MaxKeyText %d: keep them equal", maxKeyText, jobs.MaxKeyText)
	}
}

// TestYearRange: viz's periods span the years the normalizer keeps (jobs.MinYear and
// MaxYear): a request it keeps is in some chart, and a period viz takes may hold data.
func TestYearRange(t *testing.T) {
	if minYear != jobs.MinYear || maxYear != jobs.MaxYear {
		t.Errorf("viz takes the years %d to %d, the normalizer keeps %d to %d: keep them equal", minYear, maxYear, jobs.MinYear, jobs.MaxYear)
	}
}

func TestKeyValue(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"", "(none)"},
		{"(none)", "((none))"},
		{"((none))", "(((none)))"},
		{"Pothole", "Pothole"},
		{"none", "none"},
		{"(None)", "(None)"},
		{"(none", "(none"},
		{"none)", "none)"},
		{"((none)", "((none)"},
		{"(none))", "(none))"},
		{"( none )", "( none )"},
		{"(none)(none)", "(none)(none)"},
		{"()", "()"},
		{"two\nlines", "two\nlines"},
	} {
		if got := keyValue(tc.key); got != tc.value {
			t.Errorf("keyValue(%q) = %q, want %q", tc.key, got, tc.value)
		}
		if got := keyOf(tc.value); got != tc.key {
			t.Errorf("keyOf(%q) = %q, want %q", tc.value, got, tc.key)
		}
	}
}

// FuzzKeyValue: every key has one value, which gives the key back.
func FuzzKeyValue(f *testing.F) {
	for _, s := range []string{"", "(none)", "((none))", "(none", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		v := keyValue(key)
		if keyOf(v) != key {
			t.Fatalf("keyOf(keyValue(%q)) = %q", key, keyOf(v))
		}
		if v == "" {
			t.Fatalf("keyValue(%q) is empty, which means all", key)
		}
		if key != "" && len(v) > len(key)+2 {
			t.Fatalf("keyValue(%q) = %q: more than two bytes longer", key, v)
		}
	})
}

// TestKeyParams: an agency or type parameter takes what a stored key can hold (control
// characters but NUL, up to maxKeyText bytes); other parameters stay short and printable.
func TestKeyParams(t *testing.T) {
	long := strings.Repeat("é", maxKeyText/2) // 1,000 bytes
	keys := []string{"", "(none)", "two\nlines", "cr\rhere", "tab\there", "nel\u0085here", "bell\x07", long}
	set := map[string]bool{}
	for _, k := range keys {
		set[k] = true
	}
	c := &cityMeta{ID: "zz", Name: "Zz", agencySet: set, typeSet: set}
	req := func(q url.Values) *http.Request { return httptest.NewRequest("GET", "/api/x?"+q.Encode(), nil) }
	for _, k := range keys {
		for _, name := range []string{"agency", "type"} {
			p, err := parseParams(req(url.Values{name: {keyValue(k)}}), name)
			if err != nil {
				t.Errorf("%s %q: %v", name, k, err)
				continue
			}
			key, all, err := p.textKey(name, c.Name, set)
			if key != k || all || err != nil {
				t.Errorf("%s %q: key %q all %v err %v", name, k, key, all, err)
			}
		}
	}
	// The empty key and a real "(none)" are two values, each selecting its own rows.
	var values []string
	for _, e := range func() []entry { es, _ := entries(map[string]int64{"": 2, "(none)": 1}, "(no agency)"); return es }() {
		values = append(values, e.Value+"="+e.Label)
	}
	if got := strings.Join(values, ","); got != "(none)=(no agency),((none))=(none)" {
		t.Errorf("entries of the empty key and (none): %s", got)
	}

	for _, tc := range []struct {
		name, value, want string
	}{
		{"type", "a\x00b", "type: value holds a NUL byte, which no agency or request type can"},
		{"agency", "\x00", "agency: value holds a NUL byte"},
		{"type", "\xff", "type: value is not UTF-8"},
		{"agency", strings.Repeat("a", maxKeyText+3), "agency: value longer than 1002 bytes"},
		{"city", "sf\n", "city: value holds control characters"},
		{"city", strings.Repeat("a", maxValueLen+1), "city: value longer than 200 bytes"},
		{"from", "2012-01\t", "from: value holds control characters"},
	} {
		_, err := parseParams(req(url.Values{tc.name: {tc.value}}), tc.name)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s=%q: %v, want %q", tc.name, tc.value, err, tc.want)
		}
	}
	// The longest value keyValue makes of a stored key is taken.
	longest := "(" + strings.Repeat("(", maxKeyText/2-2) + "none" + strings.Repeat(")", maxKeyText/2-2) + ")"
	if len(longest) != maxKeyText+2 {
		t.Fatalf("test value is %d bytes", len(longest))
	}
	if _, err := parseParams(req(url.Values{"type": {longest}}), "type"); err != nil {
		t.Errorf("the value of a %d-byte marker-like key: %v", maxKeyText, err)
	}
}

func TestMonthSpan(t *testing.T) {
	set := func(ms ...string) map[month]bool {
		out := map[month]bool{}
		for _, s := range ms {
			var y, m int
			fmt.Sscanf(s, "%d-%d", &y, &m)
			out[monthOf(y, m)] = true
		}
		return out
	}
	for _, tc := range []struct {
		months   map[month]bool
		from, to string
	}{
		{set("2012-03", "2014-05"), "2012-03", "2014-05"},
		{set("0001-01", "2012-03", "2014-05", "9999-12"), "2012-03", "2014-05"},
		{set("1900-01", "2199-12"), "1900-01", "2199-12"},
		{set("9999-01", "9999-12"), "2199-12", "2199-12"},
		{set("0001-01"), "1900-01", "1900-01"},
		{set("0001-01", "9999-12"), "1900-01", "2199-12"},
		{set(), "1900-01", "1900-01"},
	} {
		from, to := monthSpan(tc.months)
		if from.String() != tc.from || to.String() != tc.to {
			t.Errorf("monthSpan(%v) = %s…%s, want %s…%s", tc.months, from, to, tc.from, tc.to)
		}
	}
}

// TestOddKeysAndDates serves a database such as an older binary could write: agencies and
// request types with line breaks, tabs, U+0085, 1,000 bytes or named "(none)" beside
// rows without one, and months in years 1 and 9999. Everything the API lists, it takes back
// and answers from the rows it names; every period it gives is one it takes.
func TestOddKeysAndDates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped under -short")
	}
	pg := testenv.Postgres(t)
	ctx := context.Background()
	db, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := pgsink.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	long := "Long " + strings.Repeat("x", maxKeyText-5)
	keys := []string{"", "(none)", "((none))", "two\nlines", "cr\rhere", "tab\there", "nel\u0085here", long, "Plain"}
	// The rows go in by SQL, not through pgsink, as a database written before today's
	// checks would hold them.
	type ym struct{ y, m int }
	months := []ym{{1, 1}, {2020, 1}, {2020, 3}, {9999, 12}}
	var n int64
	for i, k := range keys {
		for _, mo := range months {
			n++
			if _, err := db.Exec(`INSERT INTO request_monthly (city, year, month, request_type, agency, requests, closed, open, median_resolution_hours, p90_resolution_hours)
VALUES ('zz', $1, $2, $3, $3, $4, $4, 0, $5, $5)`, mo.y, mo.m, k, int64(i+1)*1000+int64(mo.y), float64(i+1)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO request_geo_packed (city, year, month, request_type, lat_bins, lon_bins, requests) VALUES ('zz', $1, $2, $3, '{40}', '{-74}', ARRAY[$4::bigint])`,
				mo.y, mo.m, k, int64(i+1)*1000+int64(mo.y)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO agency_daily_packed (city, agency, year, month, days, opened, closed, median_resolution_hours)
VALUES ('zz', $1, $2, $3, '{15}', ARRAY[$4::bigint], ARRAY[$4::bigint], '{NULL}')`,
				k, mo.y, mo.m, int64(i+1)*1000+int64(mo.y)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A city with data only in year 9999.
	if _, err := db.Exec(`INSERT INTO request_monthly (city, year, month, request_type, agency, requests, closed, open) VALUES ('far', 9999, 1, 'Pothole', 'Roads', 7, 7, 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO agency_daily_packed (city, agency, year, month, days, opened, closed, median_resolution_hours)
VALUES ('far', 'Roads', 9999, 1, '{15}', '{7}', '{7}', '{NULL}')`); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, pg.URL)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	e := &env{admin: db, srv: s, ts: ts}
	// inRange is the rows' sum for key in the months the API takes.
	inRange := func(table, col, key string) int64 {
		return sqlInt(t, db, `SELECT sum(requests) FROM `+table+` WHERE city = 'zz' AND year BETWEEN 1900 AND 2199 AND `+col+` = $1`, key)
	}

	var cities struct {
		Cities []struct {
			ID, First, Last string
			FirstDay        string `json:"first_day"`
			LastDay         string `json:"last_day"`
			Requests        int64
			OutsideRange    int64 `json:"outside_range"`
			Note            string
		}
	}
	e.getOK(t, "/api/cities", &cities)
	got := fmt.Sprintf("%+v", cities.Cities)
	for _, c := range cities.Cities {
		want := map[string]string{
			"zz":  "2020-01 2020-03 2020-01-15 2020-03-15",
			"far": "2199-12 2199-12  ",
		}[c.ID]
		if g := strings.Join([]string{c.First, c.Last, c.FirstDay, c.LastDay}, " "); g != want {
			t.Errorf("city %s: first, last, first_day, last_day %q, want %q", c.ID, g, want)
		}
		outside := sqlInt(t, db, `SELECT sum(requests) FROM request_monthly WHERE city = $1 AND year NOT BETWEEN 1900 AND 2199`, c.ID)
		if c.OutsideRange != outside || !strings.Contains(c.Note, fmt.Sprintf("%d requests dated before 1900 or after 2199", outside)) {
			t.Errorf("city %s: outside_range %d, note %q; %d requests lie outside", c.ID, c.OutsideRange, c.Note, outside)
		}
		// The city's range is a period the API takes.
		for _, path := range []string{
			"/api/map?city=" + c.ID + "&from=" + c.First + "&to=" + c.Last,
			"/api/review?city=" + c.ID + "&end=" + c.Last + "&history=1",
		} {
			if res := e.get(t, path, nil); res.StatusCode != 200 {
				b, _ := io.ReadAll(res.Body)
				t.Errorf("GET %s (the range /api/cities gives): %s %s", path, res.Status, b)
			}
		}
	}
	if len(cities.Cities) != 2 {
		t.Fatalf("cities: %s", got)
	}

	// Every period an answer gives is one the API takes back, and the monthly series spans
	// the data's months in range, not 0001-01…9999-12.
	for _, path := range []string{"/api/map?city=zz", "/api/top-types?city=zz", "/api/resolution?city=zz", "/api/compare?cities=zz,far",
		"/api/monthly", "/api/map?city=far", "/api/top-types?city=far"} {
		var v struct {
			Period map[string]string
			Series []struct {
				City   string
				Months []string
			}
		}
		e.getOK(t, path, &v)
		if from, to := v.Period["from"], v.Period["to"]; from != "" || to != "" {
			for _, m := range []string{from, to} {
				if _, err := parseMonth("from", m); err != nil {
					t.Errorf("GET %s: period %v, which the API refuses: %v", path, v.Period, err)
				}
			}
		}
		for _, se := range v.Series {
			if !strings.HasPrefix(path, "/api/monthly") {
				break
			}
			if se.City == "zz" && strings.Join(se.Months, ",") != "2020-01,2020-02,2020-03" {
				t.Errorf("GET %s: %s's months %.100q, want 2020-01…2020-03", path, se.City, se.Months)
			}
			if se.City == "far" {
				t.Errorf("GET %s: a series for far, which has no data the API shows: %v", path, se.Months)
			}
		}
	}
	var rv struct {
		Recent, Historical struct {
			Months   map[string]string
			From, To string
			Requests int64
		}
		Message string
	}
	for _, c := range []string{"zz", "far"} {
		e.getOK(t, "/api/review?city="+c+"&history=1", &rv)
		for _, w := range []map[string]string{rv.Recent.Months, rv.Historical.Months} {
			for _, m := range []string{w["from"], w["to"]} {
				if _, err := parseMonth("end", m); err != nil {
					t.Errorf("review of %s: window %v, which the API refuses: %v", c, w, err)
				}
			}
		}
	}
	if rv.Recent.Months["to"] != "2199-12" || rv.Message == "" {
		t.Errorf("review of far: recent %v, message %q; want it to end 2199-12 with a message", rv.Recent.Months, rv.Message)
	}

	// Every agency and request type listed is taken back and selects its own rows.
	var ag struct{ Agencies []entry }
	var ty struct{ Types []entry }
	e.getOK(t, "/api/agencies?city=zz", &ag)
	e.getOK(t, "/api/request-types?city=zz", &ty)
	for _, list := range [][]entry{ag.Agencies, ty.Types} {
		seen := map[string]bool{}
		for _, x := range list {
			if seen[x.Value] {
				t.Errorf("value %q listed twice: %+v", x.Value, list)
			}
			seen[x.Value] = true
		}
		if len(list) != len(keys) {
			t.Errorf("%d listed, want %d: %+v", len(list), len(keys), list)
		}
	}
	for _, x := range ty.Types {
		key := keyOf(x.Value)
		var m mapResp
		res := e.get(t, "/api/map?city=zz&type="+url.QueryEscape(x.Value), &m)
		if res.StatusCode != 200 {
			b, _ := io.ReadAll(res.Body)
			t.Errorf("type %q, as /api/request-types lists it: %s %s", x.Value, res.Status, b)
			continue
		}
		if want := inRange("request_geo", "request_type", key); m.Total != want {
			t.Errorf("type %q (key %q): map total %d, want %d", x.Value, key, m.Total, want)
		}
		res = e.get(t, "/api/map?format=csv&city=zz&type="+url.QueryEscape(x.Value), nil)
		if res.StatusCode != 200 {
			t.Errorf("type %q, CSV: %s", x.Value, res.Status)
		}
	}
	for _, x := range ag.Agencies {
		key := keyOf(x.Value)
		var r reviewResp
		res := e.get(t, "/api/review?city=zz&history=2&agency="+url.QueryEscape(x.Value), &r)
		if res.StatusCode != 200 {
			b, _ := io.ReadAll(res.Body)
			t.Errorf("agency %q, as /api/agencies lists it: %s %s", x.Value, res.Status, b)
			continue
		}
		want := sqlInt(t, db, `SELECT sum(opened) FROM agency_daily WHERE city = 'zz' AND day BETWEEN '2020-01-01' AND '2020-03-31' AND agency = $1`, key)
		if got := r.Recent.Requests + r.Historical.Requests; got != want {
			t.Errorf("agency %q (key %q): review counts %d, want %d", x.Value, key, got, want)
		}
		res = e.get(t, "/api/review?format=csv&chart=daily&city=zz&agency="+url.QueryEscape(x.Value), nil)
		if res.StatusCode != 200 {
			t.Errorf("agency %q, CSV: %s", x.Value, res.Status)
		}
	}
	// The resolution chart's agencies use the same values.
	var rs resolutionResp
	e.getOK(t, "/api/resolution?city=zz&n=50", &rs)
	for _, a := range rs.Agencies {
		if !slicesContainsValue(ag.Agencies, a.Value) {
			t.Errorf("resolution lists agency %q, which /api/agencies does not", a.Value)
		}
	}
	// The old marker still names the rows without an agency.
	var none, real reviewResp
	e.getOK(t, "/api/review?city=zz&history=2&agency=(none)", &none)
	e.getOK(t, "/api/review?city=zz&history=2&agency=((none))", &real)
	if none.Recent.Requests == real.Recent.Requests {
		t.Errorf("agency (none) and ((none)) answer the same: %d", none.Recent.Requests)
	}
	if want := inRange("request_monthly", "agency", ""); none.Recent.Requests+none.Historical.Requests != want {
		t.Errorf("agency (none): %d requests, want the %d without an agency", none.Recent.Requests+none.Historical.Requests, want)
	}
	if want := inRange("request_monthly", "agency", "(none)"); real.Recent.Requests+real.Historical.Requests != want {
		t.Errorf("agency ((none)): %d requests, want the %d of the agency named (none)", real.Recent.Requests+real.Historical.Requests, want)
	}

	t.Run("pages", func(t *testing.T) {
		// The pages open on the city's range, draw every chart or say why not, and say
		// how many requests they leave out; the review draws a real "(none)" agency.
		b := newBrowser(t, ts.URL)
		for _, path := range []string{"/?city=zz", "/review?city=zz", "/review?city=zz&agency=" + url.QueryEscape("((none))"), "/?city=far"} {
			drawnOrExplained(t, path, b.open(path))
			b.noConsoleErrors(path)
		}
		b.open("/?city=zz")
		if got := b.text("range"); !strings.Contains(got, "from 2020-01 to 2020-03") || !strings.Contains(got, "requests dated before 1900 or after 2199 are left out") {
			t.Errorf("the overview's range reads %q", got)
		}
	})
}

func slicesContainsValue(es []entry, v string) bool {
	for _, e := range es {
		if e.Value == v {
			return true
		}
	}
	return false
}
