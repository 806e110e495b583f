package pgcopy

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// testGroup is a group with rows in every table, texts that COPY escapes included.
func testGroup() (record.Key, summary.Tables) {
	k := record.Key{City: "new\tyork\\", Year: 2024, Month: 2}
	f := func(v float64) *float64 { return &v }
	return k, summary.Tables{
		Monthly: []summary.Monthly{{City: k.City, Year: 2024, Month: 2, RequestType: "Noise", Agency: "NYPD", Requests: 3, Closed: 2, Open: 1,
			MedianResolutionHours: f(1.5)}},
		AgencyDaily: []summary.AgencyDaily{{City: k.City, Agency: "NYPD", Day: 19754, Opened: 3, Closed: 2},
			{City: k.City, Agency: "NYPD", Day: 19755, Opened: 1, MedianResolutionHours: f(2)}},
		Heat: []summary.Heat{{City: k.City, Agency: "NYPD", Year: 2024, Month: 2, Weekday: 4, Hour: 23, Requests: 3},
			{City: k.City, Agency: "DOT\n", Year: 2024, Month: 2, Weekday: 0, Hour: 0, Requests: 1}},
		Geo: []summary.Geo{{City: k.City, Year: 2024, Month: 2, RequestType: "Noise", LatBin: 40.7, LonBin: -74, Requests: 3}},
	}
}

// TestMarshalRoundTrip checks that a publish file reads back as the batch its group encodes
// to, and that a batch appending it holds what encoding the group would have.
func TestMarshalRoundTrip(t *testing.T) {
	k, tab := testGroup()
	data, err := Marshal(k, &tab)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Unmarshal(k, data)
	if err != nil {
		t.Fatal(err)
	}
	var want Batch
	if err := want.Encode(k, &tab); err != nil {
		t.Fatal(err)
	}
	var got Batch
	got.Append(g)
	got.Append(g)
	want.Encode(k, &tab)
	for i := range want.Bufs {
		if !bytes.Equal(got.Bufs[i].Data, want.Bufs[i].Data) || got.Bufs[i].Rows != want.Bufs[i].Rows {
			t.Errorf("%s: appended %d rows %q, encoded %d rows %q", Tables[i].Name, got.Bufs[i].Rows, got.Bufs[i].Data,
				want.Bufs[i].Rows, want.Bufs[i].Data)
		}
	}
	if got.SummaryRows() != want.SummaryRows() || g.SummaryRows != 6 {
		t.Errorf("summary rows: appended %d (file %d), encoded %d", got.SummaryRows(), g.SummaryRows, want.SummaryRows())
	}
	// An empty group is a file too.
	empty, err := Marshal(k, &summary.Tables{})
	if err != nil {
		t.Fatal(err)
	}
	if g, err := Unmarshal(k, empty); err != nil || g.SummaryRows != 0 {
		t.Errorf("empty group: %+v, %v", g, err)
	}
}

// TestMarshalRefuses checks that a group the publish would refuse or change gets no publish
// file, so that the publish reads its summary files and reports it there.
func TestMarshalRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *summary.Tables)
		want error
	}{
		{"foreign row", func(t *summary.Tables) { t.Heat[0].Month = 3 }, ErrForeignRow},
		{"NUL in an agency", func(t *summary.Tables) { t.Heat[1].Agency = "D\x00T" }, ErrNotStorable},
		{"invalid UTF-8 in a request type", func(t *summary.Tables) { t.Geo[0].RequestType = "N\xffise" }, ErrNotStorable},
		{"duplicate day", func(t *summary.Tables) { t.AgencyDaily[1].Day = t.AgencyDaily[0].Day }, ErrDuplicateKey},
		{"hour out of range", func(t *summary.Tables) { t.Heat[0].Hour = 24 }, ErrBadCell},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, tab := testGroup()
			tc.edit(&tab)
			if data, err := Marshal(k, &tab); !errors.Is(err, tc.want) || data != nil {
				t.Errorf("Marshal: %d bytes, %v; want %v", len(data), err, tc.want)
			}
		})
	}
}

// TestUnmarshalRefuses checks that a publish file that is not one, not of this version or not
// of the group is refused, whatever is wrong with it, and never sent: in particular a row of
// another group, which the publish would not replace exactly.
func TestUnmarshalRefuses(t *testing.T) {
	k, tab := testGroup()
	data, err := Marshal(k, &tab)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	geoHeader := strings.Index(s, Geo+" ")
	if !strings.Contains(s, Monthly+" 1 ") {
		t.Fatalf("the test's file does not have one request_monthly row:\n%s", s)
	}
	for _, tc := range []struct {
		name string
		k    record.Key
		data string
		msg  string
	}{
		{"another group's file", record.Key{City: k.City, Year: 2024, Month: 3}, s, "row 1 is not of this group"},
		{"another city's file", record.Key{City: "new\tyor", Year: 2024, Month: 2}, s, "not of this group"},
		{"another version", k, strings.Replace(s, magic, "ireports-pgcopy 2", 1), "does not begin with"},
		{"not a publish file", k, "PAR1" + s, "does not begin with"},
		{"empty", k, "", "header line without its end"},
		{"truncated", k, s[:len(s)-3], "bytes left"},
		{"trailing bytes", k, s + "x", "1 bytes after the last table"},
		{"a table missing", k, s[:geoHeader], "header line without its end"},
		{"tables swapped", k, strings.Replace(s, Geo+" ", Heat+" ", 1), "table 4 is not request_geo_packed"},
		{"a row's end cut", k, strings.Replace(s, "{3}\n", "{3}\t", 1), "has no end"},
		{"a row more than counted", k, strings.Replace(s, Monthly+" 1 ", Monthly+" 0 ", 1), "1 rows, the header says 0"},
		{"negative count", k, strings.Replace(s, Monthly+" 1 ", Monthly+" -1 ", 1), "rows of"},
		{"a NUL byte", k, strings.Replace(s, "Noise", "No\x00se", 1), "cannot store"},
		{"invalid UTF-8", k, strings.Replace(s, "Noise", "No\xffse", 1), "cannot store"},
		{"fewer summary rows than stored", k, strings.Replace(s, magic+" 6\n", magic+" 2\n", 1), "2 summary rows in 5 stored rows"},
		{"a foreign row smuggled in", k, smuggle(t, s, "other\t2024\t2\tx\tx\t1\t1\t0\t\\N\t\\N\n"), "request_monthly: row 2 is not of this group"},
		{"a row of the month's prefix", k, smuggle(t, s, strings.Replace(k.City, "\t", "\\t", 1)+"\t2024\t22\tx\tx\t1\t1\t0\t\\N\t\\N\n"), "row 2 is not of this group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Unmarshal(tc.k, []byte(tc.data))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) || g != nil {
				t.Errorf("Unmarshal: %v, %v; want %v saying %q", g, err, ErrFormat, tc.msg)
			}
		})
	}
}

// smuggle returns the publish file s with row appended to its request_monthly rows, its
// counts updated to match.
func smuggle(t *testing.T, s, row string) string {
	t.Helper()
	head, rest, _ := strings.Cut(s, "\n"+Monthly+" 1 ")
	size, body, _ := strings.Cut(rest, "\n")
	n := len(body[:strings.Index(body, Daily+" ")])
	if strconv.Itoa(n) != size {
		t.Fatalf("request_monthly: %d bytes, the header says %s", n, size)
	}
	return head + "\n" + Monthly + " 2 " + strconv.Itoa(n+len(row)) + "\n" + body[:n] + row + body[n:]
}

// FuzzUnmarshal: whatever the bytes, Unmarshal does not panic, and what it accepts is rows of
// the group only, as many as it counts.
func FuzzUnmarshal(f *testing.F) {
	k, tab := testGroup()
	data, err := Marshal(k, &tab)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	empty, _ := Marshal(k, &summary.Tables{})
	f.Add(empty)
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Unmarshal(k, data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || g != nil {
				t.Fatalf("Unmarshal: %v, %v", g, err)
			}
			return
		}
		prefix := strings.ReplaceAll(strings.ReplaceAll(k.City, `\`, `\\`), "\t", `\t`) + "\t2024\t2\t"
		stored := 0
		for i, b := range g.Bufs {
			rows := strings.SplitAfter(string(b.Data), "\n")
			if rows[len(rows)-1] != "" {
				t.Fatalf("%s: data does not end in a newline: %q", Tables[i].Name, b.Data)
			}
			rows = rows[:len(rows)-1]
			if len(rows) != b.Rows {
				t.Fatalf("%s: %d rows counted, %d in the data", Tables[i].Name, b.Rows, len(rows))
			}
			for _, r := range rows {
				if !strings.HasPrefix(r, prefix) {
					t.Fatalf("%s: row %q is not of group %s", Tables[i].Name, r, k)
				}
			}
			stored += b.Rows
		}
		if g.SummaryRows < stored {
			t.Fatalf("%d summary rows in %d stored rows", g.SummaryRows, stored)
		}
	})
}
