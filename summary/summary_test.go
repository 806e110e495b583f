package summary

import (
	"cmp"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
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

// TestBuilderMatchesReference checks the Builder's tables against a direct computation
// (string keys, time's own calendar methods, rows sorted afterwards) on random requests.
func TestBuilderMatchesReference(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	k := record.Key{City: "nyc", Year: 2024, Month: 3}
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	var reqs []record.Request
	for i := 0; i < 5000; i++ {
		r := record.Request{City: "nyc", RequestID: strconv.Itoa(i),
			CreatedAt:   time.Unix(base+rng.Int64N(31*86400), 0).UTC(),
			Status:      record.StatusOpen,
			Agency:      pick("", "DOT", "NYPD", "DSNY", "HPD"),
			RequestType: pick("", "Noise", "Pothole", "Heat", "Graffiti", "Rodent"),
		}
		if rng.IntN(3) > 0 {
			r.Status, r.ClosedAt = record.StatusClosed, r.CreatedAt.Add(time.Duration(rng.Int64N(200*3600))*time.Second-time.Hour)
		}
		if rng.IntN(4) > 0 {
			r.HasLocation, r.Latitude, r.Longitude = true, 40.5+rng.Float64()*0.5, -74.2+rng.Float64()*0.5
		}
		reqs = append(reqs, r)
	}
	got := Compute(k, ny, slices.Clone(reqs))

	type mk struct{ typ, agency string }
	type dk struct {
		agency string
		day    int32
	}
	type hk struct {
		agency        string
		weekday, hour int32
	}
	type gk struct {
		typ      string
		lat, lon int64
	}
	monthly, daily := map[mk]*counts{}, map[dk]*counts{}
	heat, geo := map[hk]int64{}, map[gk]int64{}
	for i := range reqs {
		r := &reqs[i]
		local := r.CreatedAt.In(ny)
		y, m, d := local.Date()
		get(monthly, mk{r.RequestType, r.Agency}).add(r)
		get(daily, dk{r.Agency, int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)}).add(r)
		heat[hk{r.Agency, int32(local.Weekday()), int32(local.Hour())}]++
		if r.HasLocation {
			geo[gk{r.RequestType, bin(r.Latitude), bin(r.Longitude)}]++
		}
	}
	var want Tables
	for key, c := range monthly {
		want.Monthly = append(want.Monthly, Monthly{City: k.City, Year: 2024, Month: 3, RequestType: key.typ, Agency: key.agency,
			Requests: c.requests, Closed: c.closed, Open: c.open, MedianResolutionHours: Percentile(c.hours, 0.5), P90ResolutionHours: Percentile(c.hours, 0.9)})
	}
	slices.SortFunc(want.Monthly, func(a, b Monthly) int {
		return cmp.Or(cmp.Compare(a.RequestType, b.RequestType), cmp.Compare(a.Agency, b.Agency))
	})
	for key, c := range daily {
		want.AgencyDaily = append(want.AgencyDaily, AgencyDaily{City: k.City, Agency: key.agency, Day: key.day, Opened: c.requests, Closed: c.closed, MedianResolutionHours: Percentile(c.hours, 0.5)})
	}
	slices.SortFunc(want.AgencyDaily, func(a, b AgencyDaily) int { return cmp.Or(cmp.Compare(a.Agency, b.Agency), cmp.Compare(a.Day, b.Day)) })
	for key, n := range heat {
		want.Heat = append(want.Heat, Heat{City: k.City, Agency: key.agency, Year: 2024, Month: 3, Weekday: key.weekday, Hour: key.hour, Requests: n})
	}
	slices.SortFunc(want.Heat, func(a, b Heat) int {
		return cmp.Or(cmp.Compare(a.Agency, b.Agency), cmp.Compare(a.Weekday, b.Weekday), cmp.Compare(a.Hour, b.Hour))
	})
	for key, n := range geo {
		want.Geo = append(want.Geo, Geo{City: k.City, Year: 2024, Month: 3, RequestType: key.typ, LatBin: unbin(key.lat), LonBin: unbin(key.lon), Requests: n})
	}
	slices.SortFunc(want.Geo, func(a, b Geo) int {
		return cmp.Or(cmp.Compare(a.RequestType, b.RequestType), cmp.Compare(a.LatBin, b.LatBin), cmp.Compare(a.LonBin, b.LonBin))
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Builder tables differ from the reference:\ngot  %d/%d/%d/%d rows\nwant %d/%d/%d/%d rows",
			len(got.Monthly), len(got.AgencyDaily), len(got.Heat), len(got.Geo), len(want.Monthly), len(want.AgencyDaily), len(want.Heat), len(want.Geo))
	}
}

func get[K comparable](m map[K]*counts, k K) *counts {
	if m[k] == nil {
		m[k] = &counts{}
	}
	return m[k]
}

// TestPercentileSelect checks the selection percentile against the sorting one on random
// data with and without ties, at lengths around the sort threshold.
func TestPercentileSelect(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, selectSortBelow - 1, selectSortBelow, selectSortBelow + 1, 33, 100, 1000, 5000} {
		for _, distinct := range []int{1, 3, 50, 1 << 30} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(distinct)) * 0.25
			}
			if distinct == 50 {
				slices.Sort(xs) // sorted input
			}
			work := slices.Clone(xs)
			for _, p := range []float64{0.5, 0.9, 0, 1} {
				want := *Percentile(slices.Clone(xs), p)
				if got := *percentile(work, p); got != want {
					t.Errorf("n=%d distinct=%d p=%v: got %v, want %v", n, distinct, p, got, want)
				}
			}
		}
	}
	if percentile(nil, 0.5) != nil {
		t.Error("percentile of nothing is not nil")
	}
}
