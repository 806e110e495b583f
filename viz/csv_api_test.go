package viz

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// csvFile is one CSV download.
type csvFile struct {
	header []string
	rows   [][]string
	name   string // the attachment's file name
	etag   string
}

// col returns the index of column name, failing the test when there is none.
func (f *csvFile) col(t *testing.T, name string) int {
	t.Helper()
	i := slices.Index(f.header, name)
	if i < 0 {
		t.Fatalf("%s: no column %q in %v", f.name, name, f.header)
	}
	return i
}

// sum adds up column name.
func (f *csvFile) sum(t *testing.T, name string) float64 {
	t.Helper()
	i := f.col(t, name)
	var s float64
	for _, r := range f.rows {
		if r[i] == "" {
			continue
		}
		v, err := strconv.ParseFloat(r[i], 64)
		if err != nil {
			t.Fatalf("%s: %s %q is not a number", f.name, name, r[i])
		}
		s += v
	}
	return s
}

var attachment = regexp.MustCompile(`^attachment; filename="(ireports-[A-Za-z0-9_-]+\.csv)"$`)

// getCSV fetches base+path, requires 200, text/csv and an attachment with a plain file
// name, and parses the body as RFC 4180 CSV with a fixed number of columns.
func getCSV(t *testing.T, base, path string) *csvFile {
	t.Helper()
	res, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	m := attachment.FindStringSubmatch(res.Header.Get("Content-Disposition"))
	if m == nil {
		t.Fatalf("GET %s: Content-Disposition %q", path, res.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("GET %s: not CSV (%v):\n%.500s", path, err, body)
	}
	return &csvFile{header: recs[0], rows: recs[1:], name: m[1], etag: res.Header.Get("ETag")}
}

// defused is how a name is written to a CSV cell: with an apostrophe first when a
// spreadsheet would take it for a formula.
func defused(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// testCSV downloads every chart's CSV and checks it against the chart's JSON.
func testCSV(t *testing.T, e *env) {
	var cities citiesResp
	e.getOK(t, "/api/cities", &cities)
	for _, c := range cities.Cities {
		t.Run(c.ID, func(t *testing.T) {
			var m mapResp
			e.getOK(t, "/api/map?city="+c.ID, &m)
			f := getCSV(t, e.ts.URL, "/api/map?format=csv&city="+c.ID)
			months := c.First + "_" + c.Last
			if c.First == c.Last {
				months = c.First
			}
			if !slices.Equal(f.header, []string{"city", "request_type", "lat", "lon", "requests"}) || len(f.rows) != len(m.Lat) ||
				int64(f.sum(t, "requests")) != m.Total || f.name != fmt.Sprintf("ireports-map-%s-%s.csv", c.ID, months) {
				t.Errorf("map CSV %s: %v, %d rows summing to %.0f; the chart has %d bins, %d requests", f.name, f.header, len(f.rows), f.sum(t, "requests"), len(m.Lat), m.Total)
			}

			var top topResp
			e.getOK(t, "/api/top-types?n=10&city="+c.ID, &top)
			f = getCSV(t, e.ts.URL, "/api/top-types?n=10&format=csv&city="+c.ID)
			if len(f.rows) != len(top.Types) {
				t.Fatalf("top-types CSV: %d rows, the chart %d types", len(f.rows), len(top.Types))
			}
			for i, typ := range top.Types {
				if r := f.rows[i]; r[f.col(t, "request_type")] != defused(typ.Label) || r[f.col(t, "requests")] != strconv.FormatInt(typ.Requests, 10) {
					t.Errorf("top-types CSV row %d: %q, the chart %+v", i, r, typ)
				}
			}

			var res resolutionResp
			e.getOK(t, "/api/resolution?city="+c.ID, &res)
			f = getCSV(t, e.ts.URL, "/api/resolution?format=csv&city="+c.ID)
			if len(f.rows) != len(res.Agencies) {
				t.Fatalf("resolution CSV: %d rows, the chart %d agencies", len(f.rows), len(res.Agencies))
			}
			for i, a := range res.Agencies {
				r := f.rows[i]
				if r[f.col(t, "agency")] != defused(a.Label) || r[f.col(t, "median_hours")] != strconv.FormatFloat(*a.MedianHours, 'f', -1, 64) {
					t.Errorf("resolution CSV row %d: %q, the chart %s median %v", i, r, a.Label, *a.MedianHours)
				}
			}

			var rv reviewResp
			e.getOK(t, "/api/review?city="+c.ID, &rv)
			daily := getCSV(t, e.ts.URL, "/api/review?format=csv&chart=daily&city="+c.ID)
			if len(daily.rows) != len(rv.Daily.Historical.Days)+len(rv.Daily.Recent.Days) ||
				int64(daily.sum(t, "opened")) != rv.Recent.Requests+rv.Historical.Requests {
				t.Errorf("review daily CSV: %d rows summing to %.0f; the chart %d + %d days, %d + %d requests", len(daily.rows), daily.sum(t, "opened"),
					len(rv.Daily.Historical.Days), len(rv.Daily.Recent.Days), rv.Historical.Requests, rv.Recent.Requests)
			}
			for part, z := range map[string][][]float64{"heat-recent": rv.Heat.Recent, "heat-historical": rv.Heat.Historical, "heat-difference": rv.Heat.Difference} {
				f := getCSV(t, e.ts.URL, "/api/review?format=csv&chart="+part+"&city="+c.ID)
				var want float64
				for _, row := range z {
					for _, v := range row {
						want += v
					}
				}
				if len(f.rows) != 7*24*min(len(z), 1) || fmt.Sprintf("%.2f", f.sum(t, "requests_per_week")) != fmt.Sprintf("%.2f", want) {
					t.Errorf("review %s CSV: %d rows summing to %.3f; the chart sums to %.3f", part, len(f.rows), f.sum(t, "requests_per_week"), want)
				}
			}
			f = getCSV(t, e.ts.URL, "/api/review?format=csv&chart=resolution&city="+c.ID)
			if len(f.rows) != len(rv.Resolution.Months) || !strings.HasPrefix(f.name, "ireports-review-resolution-"+c.ID+"-") {
				t.Errorf("review resolution CSV %s: %d rows, the chart %d months", f.name, len(f.rows), len(rv.Resolution.Months))
			}
		})
	}

	t.Run("across cities", func(t *testing.T) {
		var cmp compareResp
		e.getOK(t, "/api/compare?cities=sf,baltimore,nyc", &cmp)
		f := getCSV(t, e.ts.URL, "/api/compare?format=csv&cities=sf,baltimore,nyc")
		var total int64
		for _, s := range cmp.Series {
			total += s.Total
		}
		if len(f.rows) != 3*len(cmp.Types) || f.name != "ireports-compare-sf_baltimore_nyc.csv" {
			t.Errorf("compare CSV %s: %d rows, want 3 × %d types", f.name, len(f.rows), len(cmp.Types))
		}
		var mo monthlyResp
		e.getOK(t, "/api/monthly", &mo)
		f = getCSV(t, e.ts.URL, "/api/monthly?format=csv")
		months, requests := 0, int64(0)
		for _, s := range mo.Series {
			months += len(s.Months)
			requests += s.Total
		}
		if len(f.rows) != months || int64(f.sum(t, "requests")) != requests || f.name != "ireports-monthly.csv" {
			t.Errorf("monthly CSV %s: %d rows summing to %.0f; the chart %d months, %d requests", f.name, len(f.rows), f.sum(t, "requests"), months, requests)
		}
	})

	t.Run("caching", func(t *testing.T) {
		f := getCSV(t, e.ts.URL, "/api/monthly?format=csv")
		req, _ := http.NewRequest("GET", e.ts.URL+"/api/monthly?format=csv", nil)
		req.Header.Set("If-None-Match", f.etag)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if f.etag == "" || res.StatusCode != http.StatusNotModified {
			t.Errorf("CSV ETag %q; revalidated: %s, want 304", f.etag, res.Status)
		}
	})

	// Names chosen by whoever files a request: in the CSV, quoted and never a formula; in
	// the JSON, as they are.
	t.Run("hostile names", func(t *testing.T) {
		f := getCSV(t, e.syn.URL, "/api/resolution?format=csv&n=50&city=zzz")
		var got, want []string
		for _, r := range f.rows {
			got = append(got, r[f.col(t, "agency")])
		}
		for _, a := range hostileAgencies {
			want = append(want, defused(a))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("resolution CSV agencies:\n%q\nwant\n%q", got, want)
		}
		for _, a := range got {
			if strings.ContainsAny(a[:1], "=+-@") {
				t.Errorf("a cell a spreadsheet runs as a formula: %q", a)
			}
		}

		f = getCSV(t, e.syn.URL, "/api/top-types?format=csv&n=25&city=zzz")
		got, want = nil, nil
		for _, r := range f.rows {
			got = append(got, r[f.col(t, "request_type")])
		}
		for _, typ := range hostileTypes {
			want = append(want, defused(typ))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("top-types CSV types:\n%q\nwant\n%q", got, want)
		}

		res, err := http.Get(e.syn.URL + "/api/resolution?n=50&city=zzz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var js resolutionResp
		if err := json.NewDecoder(res.Body).Decode(&js); err != nil {
			t.Fatal(err)
		}
		var labels []string
		for _, a := range js.Agencies {
			labels = append(labels, a.Label)
		}
		if slices.Sort(labels); !slices.Equal(labels, slices.Sorted(slices.Values(hostileAgencies))) {
			t.Errorf("the JSON changed the names: %q", labels)
		}
	})
}
