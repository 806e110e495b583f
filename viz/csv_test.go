package viz

import (
	"encoding/csv"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestCell: text that a spreadsheet would run as a formula gets a leading apostrophe;
// numbers, negative ones too, stay numbers.
func TestCell(t *testing.T) {
	n := int64(-42)
	f := -1.25
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"plain text", "Street Light Outage", "Street Light Outage"},
		{"empty text", "", ""},
		{"formula", `=HYPERLINK("http://evil.example","click")`, `'=HYPERLINK("http://evil.example","click")`},
		{"plus", "+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"formula later in the text", "a=b", "a=b"},
		{"apostrophe already", "'=1", "'=1"},
		{"int", 7, "7"},
		{"negative int64", int64(-3), "-3"},
		{"negative float", -0.5, "-0.5"},
		{"float", 143.27, "143.27"},
		{"whole float", 2.0, "2"},
		{"nil", nil, ""},
		{"nil int pointer", (*int64)(nil), ""},
		{"int pointer", &n, "-42"},
		{"nil float pointer", (*float64)(nil), ""},
		{"float pointer", &f, "-1.25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cell(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("cell(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := cell(struct{}{}); err == nil {
		t.Error("cell of a struct: no error")
	}
	if _, err := cell(math.NaN()); err != nil {
		t.Errorf("cell(NaN): %v", err)
	}
}

// TestTableCSV: what the table holds comes back from a CSV reader cell for cell — quotes,
// commas and line breaks quoted — with formula-like text defused.
func TestTableCSV(t *testing.T) {
	med := 1.5
	tab := &table{name: "ireports-test", header: []string{"city", "agency", "requests", "median_hours"}, rows: [][]any{
		{"sf", `Quote "and", comma`, int64(3), &med},
		{"sf", "two\nlines", int64(-1), (*float64)(nil)},
		{"sf", "=1+1", 0, 0.25},
		{"sf", " leading space", int64(1), &med},
	}}
	b, err := tab.csv()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "\r\n") || !strings.HasPrefix(string(b), "city,agency,requests,median_hours\r\n") {
		t.Errorf("not RFC 4180 lines:\n%q", b)
	}
	got, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, b)
	}
	want := [][]string{
		{"city", "agency", "requests", "median_hours"},
		{"sf", `Quote "and", comma`, "3", "1.5"},
		{"sf", "two\nlines", "-1", ""},
		{"sf", "'=1+1", "0", "0.25"},
		{"sf", " leading space", "1", "1.5"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read back:\n%q\nwant\n%q", got, want)
	}

	ragged := &table{name: "x", header: []string{"a", "b"}, rows: [][]any{{"1"}}}
	if _, err := ragged.csv(); err == nil || !strings.Contains(err.Error(), "row 0 has 1 cells for 2 columns") {
		t.Errorf("a ragged row: %v", err)
	}
	bad := &table{name: "x", header: []string{"a"}, rows: [][]any{{[]int{1}}}}
	if _, err := bad.csv(); err == nil || !strings.Contains(err.Error(), "column a") {
		t.Errorf("a cell with no CSV form: %v", err)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"ireports-map-nyc-2012-01_2012-12": "ireports-map-nyc-2012-01_2012-12",
		`evil"; filename=x.exe`:            "evil___filename_x_exe",
		"ünïcode/../x":                     "_n_code____x",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := nameOf("review-daily", "sf", "", "2015-06"); got != "ireports-review-daily-sf-2015-06" {
		t.Errorf("nameOf: %q", got)
	}
}

func TestPeriodFileLabel(t *testing.T) {
	for _, tc := range []struct {
		pd   period
		want string
	}{
		{period{all: true}, ""},
		{period{from: monthOf(2012, 3), to: monthOf(2012, 3)}, "2012-03"},
		{period{from: monthOf(2012, 3), to: monthOf(2013, 5)}, "2012-03_2013-05"},
	} {
		if got := tc.pd.fileLabel(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.pd, got, tc.want)
		}
	}
}
