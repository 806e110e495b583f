package jobs

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
)

// TestStrftime parses values with strftime layouts (the time zone is America/Chicago, UTC-6
// in winter, UTC-5 in summer).
func TestStrftime(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		layout, value string
		want          string // RFC 3339 in UTC; "" when the value must not parse
	}{
		{"%m/%d/%Y %I:%M %p", "1/3/2020 11:15 AM", "2020-01-03T17:15:00Z"},
		{"%m/%d/%Y %I:%M %p", "01/03/2020 11:15 pm", "2020-01-04T05:15:00Z"},
		{"%m/%d/%Y %I:%M %p", "1/3/2020 11:15PM", "2020-01-04T05:15:00Z"},  // the space before %p may be missing
		{"%m/%d/%Y %I:%M %p", "1/3/2020 12:05 AM", "2020-01-03T06:05:00Z"}, // 12 AM is midnight
		{"%m/%d/%Y %I:%M %p", "1/3/2020 12:05 PM", "2020-01-03T18:05:00Z"}, // 12 PM is noon
		{"%m/%d/%Y %I:%M %p", "1/3/2020 13:05 PM", ""},
		{"%m/%d/%Y %I:%M %p", "1/3/2020 11:15", ""},
		{"%m/%d/%Y %I:%M:%S %p", "12/31/2017 11:59:58 PM", "2018-01-01T05:59:58Z"},
		{"%m/%d/%y %H:%M", "1/3/20 11:15", "2020-01-03T17:15:00Z"},
		{"%m/%d/%y %H:%M", "1/3/69 11:15", "1969-01-03T17:15:00Z"}, // 69–99 → 19xx
		{"%m/%d/%y %H:%M", "1/3/68 11:15", "2068-01-03T17:15:00Z"}, // 00–68 → 20xx
		{"%m/%d/%y %H:%M", "1/3/2020 11:15", ""},
		{"%m/%d/%y %H:%M", "1/3/20 11:5", ""},
		{"%m/%d/%y %H:%M", "1/3/20  11:15", "2020-01-03T17:15:00Z"}, // a space matches spaces
		{"%Y-%m-%dT%H:%M:%S%z", "2025-08-01T06:35:06.539+00:00", "2025-08-01T06:35:06.539Z"},
		{"%Y-%m-%dT%H:%M:%S%z", "2025-08-01T06:35:06-0500", "2025-08-01T11:35:06Z"},
		{"%Y-%m-%dT%H:%M:%S%z", "2025-08-01T06:35:06Z", "2025-08-01T06:35:06Z"},
		{"%Y-%m-%dT%H:%M:%S%z", "2025-08-01T06:35:06", ""},
		{"%Y-%m-%d %H:%M:%S.%f", "2013-04-17 14:15:03.703", "2013-04-17T19:15:03.703Z"},
		{"%Y-%m-%d %H:%M:%S.%f", "2013-04-17 14:15:03", "2013-04-17T19:15:03Z"}, // the fraction is optional
		{"%Y-%m-%d %H:%M:%S", "2013-04-17 14:15:03.5", "2013-04-17T19:15:03.5Z"},
		{"%Y-%m-%d %H:%M:%S", "2013-04-17 14:15:03.", ""},
		{"%H:%M:%S %f %Y-%m-%d", "14:15:03 25 2013-04-17", "2013-04-17T19:15:03.25Z"},
		{"%d %b %Y %H:%M", "03 Jan 2020 11:15", "2020-01-03T17:15:00Z"},
		{"%d %b %Y %H:%M", "3 JAN 2020 11:15", "2020-01-03T17:15:00Z"},
		{"%d %b %Y %H:%M", "3 Jab 2020 11:15", ""},
		{"%B %d, %Y", "September 3, 2020", "2020-09-03T05:00:00Z"},
		{"%B %d, %Y", "Sep 3, 2020", "2020-09-03T05:00:00Z"},
		{"%a %b %d %H:%M:%S %Z %Y", "Wed Jan 19 11:42:16 UTC 2022", "2022-01-19T11:42:16Z"},
		{"%a %b %d %H:%M:%S %Z %Y", "Wednesday Jan 19 11:42:16 GMT 2022", "2022-01-19T11:42:16Z"},
		{"%a %b %d %H:%M:%S %Z %Y", "Wed Jan 19 11:42:16 EST 2022", ""},
		{"%F %T", "2020-02-29 23:59:59", "2020-03-01T05:59:59Z"},
		{"%F %T", "2021-02-29 23:59:59", ""}, // not a leap year
		{"%D %R", "04/31/20 10:00", ""},      // April has 30 days
		{"%D %R", "04/30/20 10:00", "2020-04-30T15:00:00Z"},
		{"%Y%m%d", "20200103", "2020-01-03T06:00:00Z"},
		{"%Y%m%d", "202001", ""},
		{"100%% %Y-%m-%d", "100% 2020-01-03", "2020-01-03T06:00:00Z"},
		{"%Y-%m-%d", "2020-13-03", ""},
		{"%Y-%m-%d", "2020-01-03x", ""},
		{"%Y-%m-%d", "20-01-03", ""},
		{"%s", "1735708943", "2025-01-01T05:22:23Z"},
	} {
		t.Run(tc.layout+"/"+tc.value, func(t *testing.T) {
			tl, err := compileLayout(tc.layout)
			if err != nil {
				t.Fatal(err)
			}
			var zc zoneCache
			c, ok := tl.parse([]byte(tc.value), chicago, &zc)
			switch {
			case tc.want == "" && ok:
				t.Errorf("parsed as %v, want no parse", c.time())
			case tc.want != "" && !ok:
				t.Errorf("no parse, want %s", tc.want)
			case ok && c.time().Format(time.RFC3339Nano) != tc.want:
				t.Errorf("got %s, want %s", c.time().Format(time.RFC3339Nano), tc.want)
			case ok && c.year != 0 && (int(c.year) != c.time().In(chicago).Year() && c.time().In(chicago).Month() != 1 || c.month < 1 || c.month > 12):
				t.Errorf("civil month %d-%d for %v", c.year, c.month, c.time())
			}
		})
	}
}

// TestStrftimeMatchesGo formats instants with Go layouts and parses the text with the
// strftime layout that means the same: both must give the same instant.
func TestStrftimeMatchesGo(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	pairs := []struct{ strf, goLayout string }{
		{"%m/%d/%Y %I:%M:%S %p", "01/02/2006 03:04:05 PM"},
		{"%m/%d/%Y %I:%M:%S %p", "1/2/2006 3:04:05 PM"},
		{"%Y-%m-%dT%H:%M:%S", "2006-01-02T15:04:05.000"},
		{"%Y-%m-%d %H:%M:%S%z", "2006-01-02 15:04:05.999999-07"},
		{"%Y-%m-%dT%H:%M:%S%z", "2006-01-02T15:04:05Z07:00"},
		{"%d %B %Y %H:%M", "02 January 2006 15:04"},
		{"%a, %d %b %Y %H:%M:%S %z", "Mon, 02 Jan 2006 15:04:05 -0700"},
		{"%y%m%d%H%M%S", "060102150405"},
	}
	start := time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC)
	for _, p := range pairs {
		tl, err := compileLayout(p.strf)
		if err != nil {
			t.Fatalf("%s: %v", p.strf, err)
		}
		var zc zoneCache
		for i := range 2000 {
			// Steps of 61 hours and 7 minutes and 13.25 seconds walk through every hour, both
			// DST changes and leap days over the years.
			in := start.Add(time.Duration(i) * (61*time.Hour + 7*time.Minute + 13250*time.Millisecond)).In(ny)
			text := in.Format(p.goLayout)
			want, err := time.ParseInLocation(p.goLayout, text, ny)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tl.parse([]byte(text), ny, &zc)
			if !ok || !got.time().Equal(want) {
				t.Fatalf("%s: %q: got %v (ok %v), Go's %s gives %v", p.strf, text, got.time(), ok, p.goLayout, want)
			}
		}
	}
}

// TestStrftimeErrors checks that a layout that cannot work is refused when the schema is
// read, saying where.
func TestStrftimeErrors(t *testing.T) {
	for _, tc := range []struct{ layout, want string }{
		{"%Y-%m-%d %Q", `unknown directive %Q (known: %Y %y`},
		{"%Y-%m-%d %", `a lone % ends the layout`},
		{"%m/%d/%Y %I:%M", `%I (12-hour clock) needs %p`},
		{"%m/%d/%Y %H:%M %p", `%p (AM/PM) goes with %I, not %H`},
		{"%H:%M:%S", `a layout must give the date`},
		{"%m/%d %H:%M", `a layout must give the date`},
		{"%Y-%m-%d %H:%M %H", `a directive for the same part of the time appears twice (at byte 15`},
		{"%F %Y", `appears twice`},
		{"%Y %y %m %d", `both %Y and %y`},
		{"%Y-%m-%d %z %Z", `both %z and %Z`},
		{"%Y-%m-%d %S", `%S needs %M`},
		{"%Y-%m-%d %s", `%s (seconds since the epoch) must be the whole layout`},
		{"%Y-%m-%d %\xff", `unknown directive %\xff`},
	} {
		_, err := compileLayout(tc.layout)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.layout, err, tc.want)
		}
	}
}

// TestLayoutErrorsInJobFile checks the position of a bad layout in a job file: the
// directive itself when the string is plain, else the list element.
func TestLayoutErrorsInJobFile(t *testing.T) {
	head := "job \"j\" {\n  input \"a\" {\n    path = \"x.csv\"\n    schema = \"s\"\n  }\n  output { parquet = \"o\" }\n}\n"
	for _, tc := range []struct{ name, schema, want string }{
		{"unknown directive", "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  time_layouts = [\"rfc3339\", \"%Y-%m-%d %Q\"]\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:40: Bad time layout; time layout "%Y-%m-%d %Q": unknown directive %Q`},
		{"in a field", "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" {\n    columns = [\"b\"]\n    layouts = [\"%m/%d/%Y %I:%M\"]\n  }\n}\n",
			`t.job:14:26: Bad time layout; time layout "%m/%d/%Y %I:%M": %I (12-hour clock) needs %p`},
		{"escaped string: the element", "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  time_layouts = [\"\\t%Q\"]\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:19: Bad time layout; time layout "\t%Q": unknown directive %Q`},
		{"auto with others", "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  time_layouts = [\"rfc3339\", \"auto\"]\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:30: Bad time layout; "auto" must be the only layout of its list`},
		{"bad date order", "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  date_order = \"ymd\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:16: Bad date_order; date_order "ymd" is neither "mdy" nor "dmy"`},
		{"empty list", "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  time_layouts = []\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:18: Bad time layout; the list of time layouts must not be empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.schema), "t.job")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrSpec) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

// TestDialectCandidates checks that every detection candidate compiled.
func TestDialectCandidates(t *testing.T) {
	// 10 ISO with a time + 1 date-only + 3 year/month/day + 3 separators × 2 year widths ×
	// 5 clocks × 2 orders + 2 epochs.
	if got, want := len(candidates()), 10+1+3+3*2*5*2+2; got != want {
		t.Fatalf("%d candidates compiled, want %d", got, want)
	}
}

func vals(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func repeat(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestDetectDialect covers the dialects, the ambiguous day/month case and the hostile
// samples.
func TestDetectDialect(t *testing.T) {
	for _, tc := range []struct {
		name      string
		values    []string
		order     string
		layout    string
		ambiguous bool
		unread    int
		err       []string // substrings of the error, when one is wanted
	}{
		{name: "iso T fraction", values: []string{"2021-01-01T00:00:09.000", "2021-01-02T13:00:00.5"}, layout: "%Y-%m-%dT%H:%M:%S"},
		{name: "iso offsets spelled three ways", values: []string{"2025-08-01T06:35:06Z", "2025-08-01T06:35:06+00:00", "2025-08-01T06:35:06.5-0400"}, layout: "%Y-%m-%dT%H:%M:%S%z"},
		{name: "iso space short offset", values: []string{"2025-08-01 06:35:06.539+00", "2025-08-01 08:00:09+00"}, layout: "%Y-%m-%d %H:%M:%S%z"},
		{name: "iso no seconds", values: []string{"2022-01-21 13:47", "2022-01-22 00:01"}, layout: "%Y-%m-%d %H:%M"},
		{name: "iso date only", values: []string{"2022-01-21", "2022-12-01"}, layout: "%Y-%m-%d"},
		{name: "us 12h", values: []string{"04/12/2018 11:11:26 AM", "04/13/2018 01:06:56 PM"}, layout: "%m/%d/%Y %I:%M:%S %p"},
		{name: "spreadsheet", values: []string{"1/3/20 11:15", "12/31/17 23:59", "1/13/20 0:05"}, layout: "%m/%d/%y %H:%M"},
		{name: "us 12h no seconds", values: []string{"02/20/2020 07:28 AM", "2/21/2020 7:28 PM"}, layout: "%m/%d/%Y %I:%M %p"},
		{name: "us date only", values: []string{"02/20/2020", "12/31/2019"}, layout: "%m/%d/%Y"},
		{name: "european", values: []string{"31.12.2020 23:59", "01.01.2021 00:00"}, layout: "%d.%m.%Y %H:%M"},
		{name: "day above 12 decides against date_order", values: []string{"13/02/2020", "01/02/2020"}, order: "mdy", layout: "%d/%m/%Y"},
		{name: "ambiguous takes mdy by default", values: []string{"01/02/2020", "03/04/2020"}, layout: "%m/%d/%Y", ambiguous: true},
		{name: "ambiguous takes dmy when asked", values: []string{"01/02/2020", "03/04/2020"}, order: "dmy", layout: "%d/%m/%Y", ambiguous: true},
		{name: "epoch seconds", values: []string{"1735708943", "1735708943.25"}, layout: "unix"},
		{name: "epoch ms floats", values: []string{"1737823859000.0", "1735708943000"}, layout: "unix_ms"},
		{name: "unreadable minority", values: append(repeat(99, func(i int) string { return fmt.Sprintf("2021-01-%02dT10:00:00", 1+i%28) }), "soon"),
			layout: "%Y-%m-%dT%H:%M:%S", unread: 1},
		{name: "mixed dialects", values: append(repeat(10, func(i int) string { return fmt.Sprintf("2021-01-%02dT00:00:09.000", i+1) }), "01/02/2021 03:04 PM"),
			err: []string{`"2021-01-01T00:00:09.000"`, `ISO 8601, local time, 10 of 11 values`, `"01/02/2021 03:04 PM"`, `month/day/year, 12-hour clock, no seconds`}},
		{name: "local and offset mixed", values: []string{"2021-01-01T00:00:09", "2021-01-01T00:00:09Z", "2021-01-01T00:00:10Z"},
			err: []string{`"2021-01-01T00:00:09Z"`, `with UTC offset, 2 of 3`, `"2021-01-01T00:00:09"`}},
		{name: "month/day and day/month mixed", values: []string{"01/13/2020", "13/01/2020"}, err: []string{`"01/13/2020"`, `"13/01/2020"`}},
		{name: "empty sample", values: nil, err: []string{"no value to detect the dialect from"}},
		{name: "garbage", values: []string{"soon", "yesterday", "<script>"}, err: []string{`none of the 3 values is a timestamp`, `"soon"`}},
		{name: "times without a date", values: []string{"07:28 AM", "11:02 PM"}, err: []string{`none of the 2 values`}},
		{name: "year 9999 in ms", values: []string{"253402300799000"}, err: []string{`none of the 1 values`}},
		{name: "a long value is cut in the message", values: []string{strings.Repeat("x", 300)}, err: []string{strings.Repeat("x", 64) + `"…`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DetectDialect(vals(tc.values...), tc.order)
			if tc.err != nil {
				if err == nil || !errors.Is(err, ErrDialect) {
					t.Fatalf("got %+v, %v; want an error wrapping ErrDialect", d, err)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Layout != tc.layout || d.Ambiguous != tc.ambiguous || d.Unreadable != tc.unread || d.Values != len(tc.values) {
				t.Errorf("got %+v, want layout %q, ambiguous %v, unreadable %d", d, tc.layout, tc.ambiguous, tc.unread)
			}
		})
	}
}

// realTimeColumns lists every time column of every file in ../shared/data/311, a real value
// of it, and the dialect its first values must be detected as ("" when no dialect reads
// them: the error names the example).
var realTimeColumns = []struct {
	file, column, example, layout string
	ambiguous                     bool
}{
	{"baltimore/baltimore311_sample_10000.csv", "CreatedDate", "04/12/2018 11:11:26 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"baltimore/baltimore311_sample_10000.csv", "StatusDate", "04/12/2018 12:45:48 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"baltimore/baltimore311_sample_10000.csv", "DueDate", "04/13/2018 11:11:26 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"baltimore/baltimore311_sample_10000.csv", "CloseDate", "04/12/2018 12:45:47 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"boston/boston311_2022_sample100.csv", "open_dt", "2022-01-21 13:47:00", "%Y-%m-%d %H:%M:%S", false},
	{"boston/boston311_2022_sample100.csv", "target_dt", "2022-02-04 13:47:30", "%Y-%m-%d %H:%M:%S", false},
	{"boston/boston311_2022_sample100.csv", "closed_dt", "2022-01-19 11:42:16", "%Y-%m-%d %H:%M:%S", false},
	{"boston/boston311_2025_cases.csv", "open_date", "2025-08-01 06:35:06.539+00", "%Y-%m-%d %H:%M:%S%z", false},
	{"boston/boston311_2025_cases.csv", "close_date", "2025-08-01 08:00:09+00", "%Y-%m-%d %H:%M:%S%z", false},
	{"boston/boston311_2025_cases.csv", "target_close_date", "2025-08-04 06:35:06.539+00", "%Y-%m-%d %H:%M:%S%z", false},
	{"chicago/chicago311_soda_2021_first5000.csv", "created_date", "2021-01-01T00:00:09.000", "%Y-%m-%dT%H:%M:%S", false},
	{"chicago/chicago311_soda_2021_first5000.csv", "last_modified_date", "2021-01-01T00:31:03.000", "%Y-%m-%dT%H:%M:%S", false},
	{"chicago/chicago311_soda_2021_first5000.csv", "closed_date", "2021-01-01T00:00:56.000", "%Y-%m-%dT%H:%M:%S", false},
	{"chicago/chicago_legacy_lights_2011_2013_sample.csv", "Creation Date", "2011-01-01T00:00:00", "%Y-%m-%dT%H:%M:%S", false},
	{"chicago/chicago_legacy_lights_2011_2013_sample.csv", "Completion Date", "2011-01-02T00:00:00", "%Y-%m-%dT%H:%M:%S", false},
	{"dc/dc311_arcgis_2025_page1000.csv", "ADDDATE", "1735708943000", "unix_ms", false},
	{"dc/dc311_arcgis_2025_page1000.csv", "RESOLUTIONDATE", "1737823859000.0", "unix_ms", false},
	{"dc/dc311_arcgis_2025_page1000.csv", "SERVICEDUEDATE", "1736485140000", "unix_ms", false},
	{"dc/dc311_arcgis_2025_page1000.csv", "SERVICEORDERDATE", "1735708943000", "unix_ms", false},
	{"dc/dc311_arcgis_2025_page1000.csv", "GDB_FROM_DATE", "1735748345000", "unix_ms", false},
	{"dc/dc311_arcgis_2025_page1000.csv", "GDB_TO_DATE", "253402300799000", "", false}, // year 9999, a placeholder
	{"kansas_city/kc311_beacon_hills_2007_2020.csv", "CREATION DATE", "02/20/2020", "%m/%d/%Y", false},
	{"kansas_city/kc311_beacon_hills_2007_2020.csv", "CLOSED DATE", "02/21/2020", "%m/%d/%Y", false},
	{"kansas_city/kc311_beacon_hills_2007_2020.csv", "CREATION TIME", "07:28 AM", "", false}, // a time of day without its date
	{"la/myla311_2017_subset.csv", "CreatedDate", "12/31/2017 11:59:58 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"la/myla311_2017_subset.csv", "UpdatedDate", "04/09/2018 09:25:28 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"la/myla311_2017_subset.csv", "ServiceDate", "01/05/2018 12:00:00 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"la/myla311_2017_subset.csv", "ClosedDate", "04/09/2018 09:18:35 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/portal_2010_2020_sample100.csv", "Created Date", "04/18/2019 09:55:45 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/portal_2010_2020_sample100.csv", "Closed Date", "04/19/2019 03:45:24 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/portal_2010_2020_sample100.csv", "Due Date", "04/19/2019 05:55:45 AM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/portal_2010_2020_sample100.csv", "Resolution Action Updated Date", "04/19/2019 03:45:24 AM", "%m/%d/%Y %I:%M:%S %p", false},
	// Created in the first days of March 2011: no day above 12, so date_order (mdy) decides.
	{"nyc/portal_2011_subset.csv", "Created Date", "03/01/2011 02:27:57 PM", "%m/%d/%Y %I:%M:%S %p", true},
	{"nyc/portal_2011_subset.csv", "Closed Date", "03/14/2011 03:59:20 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/portal_2011_subset.csv", "Due Date", "03/22/2011 02:27:57 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/portal_2011_subset.csv", "Resolution Action Updated Date", "03/14/2011 03:59:20 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"nyc/soda_erm2-nwe9_page.csv", "created_date", "2024-04-16T03:03:15.000", "%Y-%m-%dT%H:%M:%S", false},
	{"nyc/soda_erm2-nwe9_page.csv", "closed_date", "2024-04-16T01:44:30.000", "%Y-%m-%dT%H:%M:%S", false},
	{"nyc/soda_erm2-nwe9_page.csv", "due_date", "2024-05-16T01:27:54.000", "%Y-%m-%dT%H:%M:%S", false},
	{"nyc/soda_erm2-nwe9_page.csv", "resolution_action_updated_date", "2024-04-16T03:03:15.000", "%Y-%m-%dT%H:%M:%S", false},
	{"nyc/soda_erm2-nwe9_page.json", "created_date", "2024-05-27T02:08:51.000", "%Y-%m-%dT%H:%M:%S", false},
	{"nyc/soda_erm2-nwe9_page.json", "closed_date", "", "%Y-%m-%dT%H:%M:%S", false},
	{"nyc/soda_erm2-nwe9_page.json", "resolution_action_updated_date", "2024-05-27T02:08:51.000", "%Y-%m-%dT%H:%M:%S", false},
	{"sf/sf311_cases_sample_10000.csv", "Opened", "04/30/2014 02:51:52 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"sf/sf311_cases_sample_10000.csv", "Closed", "07/17/2012 08:15:00 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"sf/sf311_cases_sample_10000.csv", "Updated", "04/30/2014 03:37:59 PM", "%m/%d/%Y %I:%M:%S %p", false},
	{"st_louis/stl_csb_2011.csv", "DATECANCELLED", "2014-01-30 16:40:16.69", "%Y-%m-%d %H:%M:%S", false},
	{"st_louis/stl_csb_2011.csv", "DATEINVTDONE", "2011-01-18 00:00:00.0", "%Y-%m-%d %H:%M:%S", false},
	{"st_louis/stl_csb_2011.csv", "DATETIMECLOSED", "2013-04-17 14:15:03.703", "%Y-%m-%d %H:%M:%S", false},
	{"st_louis/stl_csb_2011.csv", "DATETIMEINIT", "2011-01-03 08:12:24.0", "%Y-%m-%d %H:%M:%S", false},
	{"st_louis/stl_csb_2011.csv", "PRJCOMPLETEDATE", "2011-01-24 00:00:00.0", "%Y-%m-%d %H:%M:%S", false},
}

// readColumn reads a column's first n non-null values (trimmed, NA taken for null) of a
// real CSV or SODA JSON file, as the planner samples them.
func readColumn(t *testing.T, path, column string, n int) []string {
	t.Helper()
	var header []string
	var rows [][]string
	if strings.HasSuffix(path, ".json") {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var objs [][]byte
		if err := ScanSODA(bytes.NewReader(src), func(_ int64, raw []byte) error {
			objs = append(objs, bytes.Clone(raw))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if header, rows, err = SODAToRows(objs); err != nil {
			t.Fatal(err)
		}
	} else {
		header, rows = readCSV(t, path, -1)
	}
	i := indexOf(header, column)
	if i < 0 {
		t.Fatalf("%s: no column %q in %q", path, column, header)
	}
	var out []string
	for _, r := range rows {
		if v := strings.TrimSpace(r[i]); v != "" && v != "NA" && len(out) < n {
			out = append(out, v)
		}
	}
	return out
}

func indexOf(header []string, column string) int {
	for i, h := range header {
		if h == column {
			return i
		}
	}
	return -1
}

// readCSV reads a CSV file's header and its first n records (all when n < 0).
func readCSV(t testing.TB, path string, n int) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for n < 0 || len(rows) < n {
		r, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, r)
	}
	return header, rows
}

// TestDetectRealColumns detects the dialect of every time column of every real file from
// its first 1000 values, and for the built-in cities checks that each value then reads as
// the same instant as with the built-in schema's layouts.
func TestDetectRealColumns(t *testing.T) {
	data := testenv.RealData(t)
	files := map[string]bool{}
	for _, tc := range realTimeColumns {
		files[tc.file] = true
		t.Run(tc.file+"/"+tc.column, func(t *testing.T) {
			values := readColumn(t, filepath.Join(data, tc.file), tc.column, DetectValues)
			if tc.example != "" && !containsString(values, tc.example) {
				t.Fatalf("%q is not among the column's first values", tc.example)
			}
			d, err := DetectDialect(vals(values...), "")
			if tc.layout == "" {
				if err == nil || !errors.Is(err, ErrDialect) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.example)) {
					t.Fatalf("got %+v, %v; want an ErrDialect naming %q", d, err, tc.example)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Layout != tc.layout || d.Ambiguous != tc.ambiguous || d.Unreadable != 0 {
				t.Fatalf("got %+v, want layout %q, ambiguous %v", d, tc.layout, tc.ambiguous)
			}
			if tc.example != "" {
				if one, err := DetectDialect(vals(tc.example), ""); err != nil || one.Layout != tc.layout {
					t.Errorf("the example alone: %+v, %v", one, err)
				}
			}
			city := filepath.Dir(tc.file)
			b, ok := Builtin(city)
			if !ok {
				return
			}
			tl, _ := compileLayout(d.Layout)
			var builtinLayouts []timeLayout
			for _, l := range b.TimeLayouts {
				c, _ := compileLayout(l)
				builtinLayouts = append(builtinLayouts, c)
			}
			var zc, zb zoneCache
			for _, v := range values {
				got, ok := tl.parse([]byte(v), b.Location, &zc)
				if !ok {
					t.Fatalf("%q does not parse with the detected %s", v, d.Layout)
				}
				for _, bl := range builtinLayouts {
					if want, ok := bl.parse([]byte(v), b.Location, &zb); ok {
						if !got.time().Equal(want.time()) || got.year != want.year || got.month != want.month {
							t.Fatalf("%q: %v (%d-%d), the built-in schema reads %v (%d-%d)", v, got.time(), got.year, got.month, want.time(), want.year, want.month)
						}
						break
					}
				}
			}
		})
	}
	entries, _ := filepath.Glob(filepath.Join(data, "*", "*"))
	for _, e := range entries {
		rel, _ := filepath.Rel(data, e)
		if rel != "SOURCES.md" && !files[rel] {
			t.Errorf("%s: no time column of it in realTimeColumns", rel)
		}
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// autoSchema is a schema whose time fields are detected.
const autoSchema = `schema "t" {
  city     = "t"
  timezone = "America/Chicago"
  nulls    = ["", "NA"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["opened"] }
  field "closed_at"  { columns = ["closed"] }
  field "updated_at" {
    columns = ["updated"]
    layouts = ["%Y-%m-%d"]
  }
}`

// TestDetector detects a file's dialects from its records, as the planner does, and binds
// the schema with them.
func TestDetector(t *testing.T) {
	s := schemaFrom(t, autoSchema)
	if s.TimeLayouts[0] != LayoutAuto || !s.NeedsDetection() {
		t.Fatalf("time_layouts %q: auto is the default", s.TimeLayouts)
	}
	header := []string{"id", "opened", "closed", "updated"}
	if _, err := s.Bind(header); !errors.Is(err, ErrNoDialect) || !strings.Contains(err.Error(), `field created_at (column "opened")`) {
		t.Fatalf("Bind before detection: %v, want ErrNoDialect naming the field", err)
	}
	if err := s.CheckHeader(header); err != nil {
		t.Fatalf("CheckHeader: %v", err)
	}
	if err := s.CheckHeader([]string{"id", "x"}); !errors.Is(err, ErrNoColumns) {
		t.Fatalf("CheckHeader without created_at's column: %v", err)
	}

	t.Run("closed borrows created's dialect", func(t *testing.T) {
		d := s.NewDetector(header)
		for i := range 5 {
			d.Add(bs("1", fmt.Sprintf("1/%d/20 11:15", i+1), "NA", ""))
		}
		d.Add(bs("short", "record")) // the wrong width: a reject at run time, skipped here
		ds, err := d.Detect()
		if err != nil {
			t.Fatal(err)
		}
		want := []TimeDialect{
			{Field: "created_at", Column: "opened", Detected: Detected{Layout: "%m/%d/%y %H:%M", Dialect: "month/day/year, 2-digit year, 24-hour clock, no seconds", Values: 5, Ambiguous: true}},
			{Field: "closed_at", Column: "closed", Borrowed: "created_at", Detected: Detected{Layout: "%m/%d/%y %H:%M", Dialect: "month/day/year, 2-digit year, 24-hour clock, no seconds", Ambiguous: true}},
		}
		if fmt.Sprint(ds) != fmt.Sprint(want) {
			t.Fatalf("got\n%v\nwant\n%v", ds, want)
		}
		bound, err := s.WithDialects(DialectLayouts(ds))
		if err != nil {
			t.Fatal(err)
		}
		n, err := bound.Bind(header)
		if err != nil {
			t.Fatal(err)
		}
		var r record.Request
		if err := n.Normalize(bs("1", "1/3/20 11:15", "1/4/20 9:00", "2020-01-05"), &r); err != nil {
			t.Fatal(err)
		}
		if r.CreatedAt.Format(time.RFC3339) != "2020-01-03T17:15:00Z" || r.ClosedAt.Format(time.RFC3339) != "2020-01-04T15:00:00Z" || r.Year != 2020 || r.Month != 1 {
			t.Errorf("normalized %+v", r)
		}
		// The schema itself is unchanged: each file gets its own dialects.
		if !s.NeedsDetection() || bound.NeedsDetection() {
			t.Errorf("WithDialects changed the schema, or left an auto field")
		}
	})
	t.Run("no value in any time column", func(t *testing.T) {
		d := s.NewDetector(header)
		d.Add(bs("1", "", "NA", ""))
		_, err := d.Detect()
		if !errors.Is(err, ErrDialect) || !strings.Contains(err.Error(), `created_at (column "opened"), closed_at (column "closed"): no value in the first 1 records`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("mixed dialects name the column", func(t *testing.T) {
		d := s.NewDetector(header)
		d.Add(bs("1", "2021-01-01T10:00:00", "", ""))
		d.Add(bs("2", "1/2/2021 10:00 AM", "", ""))
		_, err := d.Detect()
		if !errors.Is(err, ErrDialect) || !strings.Contains(err.Error(), `field created_at, column "opened": values in two dialects: "2021-01-01T10:00:00"`) ||
			!strings.Contains(err.Error(), `"1/2/2021 10:00 AM"`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a file without records", func(t *testing.T) {
		ds, err := s.NewDetector(header).Detect()
		if err != nil || len(ds) != 2 || ds[0].Note == "" {
			t.Fatalf("got %v, %v", ds, err)
		}
		if _, err := s.WithDialects(DialectLayouts(ds)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stops at DetectValues", func(t *testing.T) {
		d := s.NewDetector(header)
		n := 0
		for d.Add(bs("1", "2021-01-01T10:00:00", "2021-01-02T10:00:00", "")) {
			n++
		}
		if n != DetectValues-1 || d.Wants() {
			t.Fatalf("Add wanted %d records after the first, want %d", n, DetectValues-1)
		}
	})
	t.Run("SODA keys as NormalizeJSON reads them", func(t *testing.T) {
		d := s.NewJSONDetector()
		d.AddJSON([]byte(`{"id":"1","opened":"1735708943000","closed":null}`))
		d.AddJSON([]byte(`not json`))
		d.AddJSON([]byte(`{"id":"2","opened":1735708944000.0}`))
		ds, err := d.Detect()
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2 || ds[0].Layout != "unix_ms" || ds[0].Values != 2 || ds[1].Column != "closed" || ds[1].Borrowed != "created_at" {
			t.Fatalf("got %+v", ds)
		}
	})
	t.Run("WithDialects refuses a bad layout", func(t *testing.T) {
		for _, m := range []map[string]string{{"created_at": "%Q"}, {"created_at": "auto"}, {"request_id": "unix"}, {"updated_at": "unix"}} {
			if _, err := s.WithDialects(m); !errors.Is(err, ErrSpec) {
				t.Errorf("%v: %v", m, err)
			}
		}
	})
}

// TestAutoThroughJSON checks that a schema with auto layouts survives the trip to a worker
// (Schema JSON) with its date order.
func TestAutoThroughJSON(t *testing.T) {
	s := schemaFrom(t, strings.Replace(autoSchema, `nulls    = ["", "NA"]`, `date_order = "dmy"`, 1))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Schema
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if back.DateOrder != DateOrderDMY || !back.NeedsDetection() {
		t.Fatalf("decoded %+v", back)
	}
	bad := bytes.Replace(b, []byte(`"dmy"`), []byte(`"ydm"`), 1)
	if err := back.UnmarshalJSON(bad); !errors.Is(err, ErrSpec) {
		t.Fatalf("date_order ydm: %v", err)
	}
}

// TestStrftimeFastPathsAgree checks that a strftime pattern given a hand parser (strfFast)
// reads every value exactly as its compiled steps alone do, the hand parser's refusals
// included.
func TestStrftimeFastPathsAgree(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	values := []string{
		"12/31/2017 11:59:58 PM", "1/3/2020 1:05:09 am", "01/03/2020 00:05:09 AM", "13/03/2020 01:05:09 PM", "01/03/2020 01:05:09.5 PM",
		"2024-04-16T03:03:15.000", "2024-4-6T03:03:15", "2024-04-16T03:03:15,5", "2024-04-16T03:03:15.", "2024-04-16T24:03:15",
		"2024-04-16 03:03:15", "2024-04-16  03:03:15", "2025-08-01 06:35:06.539+00", "2025-08-01 06:35:06+05:30", "2025-08-01 6:35:06Z",
		"2025-08-01T06:35:06-0700", "2025-08-01T06:35:06+7", "2025-03-09T02:30:00", "2025-11-02 01:30:00", "",
	}
	for l := range strfFast {
		for _, pattern := range []string{l, strings.Replace(l, "%S", "%S.%f", 1)} {
			fast, err := compileLayout(pattern)
			if err != nil || fast.fast == fastStrf {
				t.Fatalf("%s: %+v, %v: no hand parser", pattern, fast, err)
			}
			slow := fast
			slow.fast = fastStrf
			var zf, zs zoneCache
			for _, v := range values {
				a, okA := fast.parse([]byte(v), ny, &zf)
				b, okB := slow.parse([]byte(v), ny, &zs)
				if okA != okB || !a.time().Equal(b.time()) || a.year != b.year || a.month != b.month {
					t.Errorf("%s: %q: hand parser %v %v, steps %v %v", pattern, v, a, okA, b, okB)
				}
			}
		}
	}
}

// FuzzStrftime compiles arbitrary layouts and parses arbitrary values with them: no panic,
// and a local time's civil month is a month.
func FuzzStrftime(f *testing.F) {
	f.Add("%m/%d/%Y %I:%M %p", "1/3/2020 11:15 AM")
	f.Add("%Y-%m-%dT%H:%M:%S%z", "2025-08-01T06:35:06.539+00:00")
	f.Add("%a %b %d %H:%M:%S %Z %Y", "Wed Jan 19 11:42:16 UTC 2022")
	f.Add("%d.%m.%y %T", "31.12.99 23:59:59,999999999999")
	f.Add("%%%Y%m%d%", "%20200101")
	f.Add("%B %e, %Y %l", "September 3, 2020")
	f.Fuzz(func(t *testing.T, layout, value string) {
		tl, err := compileLayout(layout)
		if err != nil {
			return
		}
		var zc zoneCache
		c, ok := tl.parse([]byte(value), time.UTC, &zc)
		if ok && c.year != 0 && (c.month < 1 || c.month > 12) {
			t.Fatalf("%q with %q: civil month %d", value, layout, c.month)
		}
	})
}

// FuzzDetectDialect detects the dialect of arbitrary samples ('|' separates values): no
// panic, and a dialect found reads every value it counts as readable (and maybe more: the
// epoch layouts read any number, detection only this century's).
func FuzzDetectDialect(f *testing.F) {
	f.Add("2021-01-01T00:00:09.000|01/02/2021 03:04 PM")
	f.Add("1/3/20 11:15|12/31/17 23:59")
	f.Add("1737823859000.0|1735708943000|x")
	f.Add("13/02/2020|01/02/2020")
	f.Fuzz(func(t *testing.T, sample string) {
		values := vals(strings.Split(sample, "|")...)
		d, err := DetectDialect(values, "")
		if err != nil {
			return
		}
		tl, err := compileLayout(d.Layout)
		if err != nil {
			t.Fatalf("detected %q does not compile: %v", d.Layout, err)
		}
		read := 0
		var zc zoneCache
		for _, v := range values {
			if _, ok := tl.parse(v, time.UTC, &zc); ok {
				read++
			}
		}
		if read < d.Values-d.Unreadable {
			t.Fatalf("%q: %s reads %d of %d values, detection said %d unreadable", sample, d.Layout, read, d.Values, d.Unreadable)
		}
	})
}
