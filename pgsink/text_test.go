package pgsink

import (
	"reflect"
	"testing"

	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/summary"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"DOT", "DOT"},
		{"café", "café"},
		{"D\x00OT", "D\uFFFDOT"},
		{"\x00\x00", "\uFFFD\uFFFD"},
		{"Par\xffks", "Par\uFFFDks"},
		{"\xc3", "\uFFFD"},
	} {
		if got := cleanText(tc.in); got != tc.want || !pgcopy.Storable(got) {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// unstorableGroup is one group whose text PostgreSQL refuses: NUL bytes and invalid UTF-8 in
// agencies and request types, two agencies that become one once cleaned ("A\x00" and
// "A\uFFFD"), and clean rows that must pass unchanged.
func unstorableGroup() summary.Tables {
	med, p90 := 2.0, 4.0
	return summary.Tables{
		Monthly: []summary.Monthly{
			{City: "c", Year: 2024, Month: 1, RequestType: "Noise", Agency: "NYPD", Requests: 5, Closed: 4, Open: 1, MedianResolutionHours: &med, P90ResolutionHours: &p90},
			{City: "c", Year: 2024, Month: 1, RequestType: "Pot\x00hole", Agency: "A\x00", Requests: 2, Closed: 1, Open: 1, MedianResolutionHours: &med, P90ResolutionHours: &p90},
			{City: "c", Year: 2024, Month: 1, RequestType: "Pot\uFFFDhole", Agency: "A\uFFFD", Requests: 3, Closed: 3, Open: 0, MedianResolutionHours: &med, P90ResolutionHours: &p90},
			{City: "c", Year: 2024, Month: 1, RequestType: "Tree", Agency: "Par\xffks", Requests: 1, Closed: 1, MedianResolutionHours: &med},
		},
		AgencyDaily: []summary.AgencyDaily{
			{City: "c", Agency: "A\x00", Day: 19723, Opened: 2, Closed: 1, MedianResolutionHours: &med},
			{City: "c", Agency: "A\uFFFD", Day: 19723, Opened: 3, Closed: 3, MedianResolutionHours: &med},
			{City: "c", Agency: "NYPD", Day: 19723, Opened: 5, Closed: 4, MedianResolutionHours: &med},
		},
		Heat: []summary.Heat{
			{City: "c", Agency: "A\x00", Year: 2024, Month: 1, Weekday: 1, Hour: 9, Requests: 2},
			{City: "c", Agency: "A\uFFFD", Year: 2024, Month: 1, Weekday: 1, Hour: 9, Requests: 3},
		},
		Geo: []summary.Geo{
			{City: "c", Year: 2024, Month: 1, RequestType: "Pot\x00hole", LatBin: 40.7, LonBin: -74, Requests: 2},
			{City: "c", Year: 2024, Month: 1, RequestType: "Noise", LatBin: 40.7, LonBin: -74, Requests: 5},
		},
	}
}

func TestCleanGroup(t *testing.T) {
	orig := unstorableGroup()
	got := unstorableGroup()
	if n := cleanGroup(&got); n != 5 {
		t.Errorf("cleanGroup changed %d rows, want 5", n)
	}
	med, p90 := 2.0, 4.0
	want := summary.Tables{
		Monthly: []summary.Monthly{
			{City: "c", Year: 2024, Month: 1, RequestType: "Noise", Agency: "NYPD", Requests: 5, Closed: 4, Open: 1, MedianResolutionHours: &med, P90ResolutionHours: &p90},
			{City: "c", Year: 2024, Month: 1, RequestType: "Pot\uFFFDhole", Agency: "A\uFFFD", Requests: 5, Closed: 4, Open: 1},
			{City: "c", Year: 2024, Month: 1, RequestType: "Tree", Agency: "Par\uFFFDks", Requests: 1, Closed: 1, MedianResolutionHours: &med},
		},
		AgencyDaily: []summary.AgencyDaily{
			{City: "c", Agency: "A\uFFFD", Day: 19723, Opened: 5, Closed: 4},
			{City: "c", Agency: "NYPD", Day: 19723, Opened: 5, Closed: 4, MedianResolutionHours: &med},
		},
		Heat: []summary.Heat{{City: "c", Agency: "A\uFFFD", Year: 2024, Month: 1, Weekday: 1, Hour: 9, Requests: 5}},
		Geo: []summary.Geo{
			{City: "c", Year: 2024, Month: 1, RequestType: "Pot\uFFFDhole", LatBin: 40.7, LonBin: -74, Requests: 2},
			{City: "c", Year: 2024, Month: 1, RequestType: "Noise", LatBin: 40.7, LonBin: -74, Requests: 5},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cleaned\n%+v\nwant\n%+v", got, want)
	}

	// A LoadFunc may hand out the same slices on every attempt: cleaning must not touch them.
	shared := unstorableGroup()
	view := shared
	cleanGroup(&view)
	if !reflect.DeepEqual(shared, orig) {
		t.Error("cleanGroup modified the loaded slices")
	}

	// Clean rows come back as they are, without a copy.
	clean := want
	before := &clean.Monthly[0]
	if n := cleanGroup(&clean); n != 0 || &clean.Monthly[0] != before {
		t.Errorf("a clean group: %d rows changed, copied %v", n, &clean.Monthly[0] != before)
	}
}
