package summary

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ireports/ireports/record"
)

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		p    float64
		want float64
		null bool
	}{
		{name: "empty", xs: nil, p: 0.5, null: true},
		{name: "one", xs: []float64{7}, p: 0.9, want: 7},
		{name: "median odd", xs: []float64{3, 1, 2}, p: 0.5, want: 2},
		{name: "median even interpolates", xs: []float64{4, 1, 3, 2}, p: 0.5, want: 2.5},
		{name: "p90 of 1..11", xs: []float64{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, p: 0.9, want: 10},
		{name: "p90 interpolates", xs: []float64{0, 10}, p: 0.9, want: 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Percentile(tc.xs, tc.p)
			if tc.null {
				if got != nil {
					t.Fatalf("got %v, want nil", *got)
				}
				return
			}
			if got == nil || math.Abs(*got-tc.want) > 1e-9 {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompute(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	k := record.Key{City: "nyc", Year: 2024, Month: 3}
	reqs := []record.Request{
		// Sunday 2024-03-03 23:30 local is Monday 04:30 UTC: days, weekdays and hours are local.
		{City: "nyc", RequestID: "1", CreatedAt: at("2024-03-03 23:30"), ClosedAt: at("2024-03-04 01:30"), Status: record.StatusClosed, Agency: "DOT", RequestType: "Pothole", Latitude: 40.7128, Longitude: -74.006, HasLocation: true},
		{City: "nyc", RequestID: "2", CreatedAt: at("2024-03-03 09:00"), ClosedAt: at("2024-03-03 13:00"), Status: record.StatusClosed, Agency: "DOT", RequestType: "Pothole", Latitude: 40.7199, Longitude: -74.0001, HasLocation: true},
		{City: "nyc", RequestID: "3", CreatedAt: at("2024-03-05 10:00"), Status: record.StatusOpen, Agency: "NYPD", RequestType: "Noise"},
		// Closed before it was created: counted closed, but no resolution time.
		{City: "nyc", RequestID: "4", CreatedAt: at("2024-03-05 10:00"), ClosedAt: at("2024-03-01 10:00"), Status: record.StatusClosed, Agency: "NYPD", RequestType: "Noise"},
	}
	tb := Compute(k, ny, reqs)

	if len(tb.Monthly) != 2 {
		t.Fatalf("monthly rows = %d, want 2: %+v", len(tb.Monthly), tb.Monthly)
	}
	noise, pothole := tb.Monthly[0], tb.Monthly[1]
	if noise.RequestType != "Noise" || noise.Requests != 2 || noise.Closed != 1 || noise.Open != 1 || noise.MedianResolutionHours != nil {
		t.Errorf("noise = %+v", noise)
	}
	if pothole.Requests != 2 || pothole.Closed != 2 || *pothole.MedianResolutionHours != 3 || math.Abs(*pothole.P90ResolutionHours-3.8) > 1e-9 {
		t.Errorf("pothole = %+v (median %v p90 %v)", pothole, *pothole.MedianResolutionHours, *pothole.P90ResolutionHours)
	}

	mar3 := int32(time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	if d := tb.AgencyDaily[0]; d.Agency != "DOT" || d.Day != mar3 || d.Opened != 2 || d.Closed != 2 {
		t.Errorf("first daily row = %+v, want DOT on 2024-03-03 (day %d) with 2 opened", d, mar3)
	}

	var sunday23 int64
	for _, h := range tb.Heat {
		if h.Agency == "DOT" && h.Weekday == 0 && h.Hour == 23 {
			sunday23 = h.Requests
		}
	}
	if sunday23 != 1 {
		t.Errorf("heat: Sunday 23:00 DOT = %d, want 1 (local time): %+v", sunday23, tb.Heat)
	}

	if len(tb.Geo) != 1 || tb.Geo[0].Requests != 2 || tb.Geo[0].LatBin != 40.71 || tb.Geo[0].LonBin != -74.01 {
		t.Errorf("geo = %+v, want both potholes in bin (40.71, -74.01)", tb.Geo)
	}
}

// TestBuilderLocalTime checks the Builder's day, weekday and hour, computed from one zone
// offset, against time's own Date, Weekday and Hour, across zones with half-hour offsets,
// DST changes and times before 1970.
func TestBuilderLocalTime(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"} {
		t.Run(zone, func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Skip(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < 2000; i++ {
				created := time.Unix(rng.Int64N(4_000_000_000)-1_000_000_000, 0).UTC()
				b := NewBuilder(record.Key{City: "x"}, loc)
				b.Add(&record.Request{CreatedAt: created, Agency: "A"})
				tb := b.Tables()
				local := created.In(loc)
				y, m, d := local.Date()
				day := int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
				if len(tb.AgencyDaily) != 1 || tb.AgencyDaily[0].Day != day {
					t.Fatalf("%v: daily %+v, want day %d", local, tb.AgencyDaily, day)
				}
				if len(tb.Heat) != 1 || tb.Heat[0].Weekday != int32(local.Weekday()) || tb.Heat[0].Hour != int32(local.Hour()) {
					t.Fatalf("%v: heat %+v, want weekday %d hour %d", local, tb.Heat, local.Weekday(), local.Hour())
				}
			}
		})
	}
}
