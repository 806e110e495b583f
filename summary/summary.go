// Package summary computes the exact aggregates of one (city, year, month) group of the lake:
// the rows of the request_monthly, agency_daily, request_heat and request_geo tables.
//
// Every aggregate is derived from one group alone, so a job that rebuilds a group can replace
// exactly that group's summary rows and nothing else (DESIGN.md, "Summary tables"). A consequence
// worth knowing: agency_daily counts requests by the local day they were opened; its "closed"
// column is how many of that day's requests are closed now, not how many were closed that day.
//
// Null text keys (no agency, no request type) are the empty string, so every table has a
// total key. Percentiles are continuous (linear interpolation between closest ranks), the
// definition of PostgreSQL's percentile_cont and numpy's default.
package summary

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/ireports/ireports/record"
)

// GeoBinDegrees is the side of a request_geo bin in degrees of latitude and longitude
// (about 1.1 km north-south).
const GeoBinDegrees = 0.01

// Monthly is a request_monthly row.
type Monthly struct {
	City                  string   `parquet:"city"`
	Year                  int32    `parquet:"year"`
	Month                 int32    `parquet:"month"`
	RequestType           string   `parquet:"request_type"`
	Agency                string   `parquet:"agency"`
	Requests              int64    `parquet:"requests"`
	Closed                int64    `parquet:"closed"`
	Open                  int64    `parquet:"open"`
	MedianResolutionHours *float64 `parquet:"median_resolution_hours,optional"`
	P90ResolutionHours    *float64 `parquet:"p90_resolution_hours,optional"`
}

// AgencyDaily is an agency_daily row. Day is the local calendar date the requests were opened.
type AgencyDaily struct {
	City                  string   `parquet:"city"`
	Agency                string   `parquet:"agency"`
	Day                   int32    `parquet:"day,date"` // days since 1970-01-01
	Opened                int64    `parquet:"opened"`
	Closed                int64    `parquet:"closed"`
	MedianResolutionHours *float64 `parquet:"median_resolution_hours,optional"`
}

// Heat is a request_heat row: requests opened in one local weekday (0 = Sunday) and hour.
type Heat struct {
	City     string `parquet:"city"`
	Agency   string `parquet:"agency"`
	Year     int32  `parquet:"year"`
	Month    int32  `parquet:"month"`
	Weekday  int32  `parquet:"weekday"`
	Hour     int32  `parquet:"hour"`
	Requests int64  `parquet:"requests"`
}

// Geo is a request_geo row: requests with a location, binned by GeoBinDegrees. LatBin and
// LonBin are the bin's south-west corner.
type Geo struct {
	City        string  `parquet:"city"`
	Year        int32   `parquet:"year"`
	Month       int32   `parquet:"month"`
	RequestType string  `parquet:"request_type"`
	LatBin      float64 `parquet:"lat_bin"`
	LonBin      float64 `parquet:"lon_bin"`
	Requests    int64   `parquet:"requests"`
}

// Tables holds one group's rows of every summary table, each sorted by its key.
type Tables struct {
	Monthly     []Monthly
	AgencyDaily []AgencyDaily
	Heat        []Heat
	Geo         []Geo
}

// Names of the summary tables, as used for file names and Postgres tables.
const (
	TableMonthly     = "request_monthly"
	TableAgencyDaily = "agency_daily"
	TableHeat        = "request_heat"
	TableGeo         = "request_geo"
)

// monthlyKey and geoKey hold a group's request types and agencies by their index in the
// Builder's names, so that a request hashes each of its two strings once (names) and not
// once per table.
type monthlyKey struct{ requestType, agency int32 }

type geoKey struct {
	requestType    int32
	latBin, lonBin int64
}

// agencyCounts are one agency's agency_daily and request_heat aggregates.
type agencyCounts struct {
	daily map[int32]*counts // by local day (days since 1970-01-01)
	heat  [7 * 24]int64     // by local weekday*24 + hour
}

type counts struct {
	requests, closed, open int64
	hours                  []float64
}

func (c *counts) add(r *record.Request) {
	c.requests++
	switch r.Status {
	case record.StatusClosed:
		c.closed++
	case record.StatusOpen:
		c.open++
	}
	if h, ok := r.ResolutionHours(); ok {
		c.hours = append(c.hours, h)
	}
}

// Compute aggregates the de-duplicated requests of group k. loc is the city's time zone, in
// which days, weekdays and hours are counted.
func Compute(k record.Key, loc *time.Location, reqs []record.Request) Tables {
	b := NewBuilder(k, loc)
	for i := range reqs {
		b.Add(&reqs[i])
	}
	return b.Tables()
}

// Builder aggregates a group's requests one at a time, so that a reducer can stream a group
// without holding it: it keeps counts per key and, for the percentiles, one float per closed
// request.
type Builder struct {
	k        record.Key
	loc      *time.Location
	types    names
	agencies names
	monthly  map[monthlyKey]*counts
	byAgency []*agencyCounts // by agency index
	geo      map[geoKey]int64
}

// names numbers the distinct values of one text key in the order first seen.
type names struct {
	index map[string]int32
	list  []string
}

func (n *names) id(s string) int32 {
	if i, ok := n.index[s]; ok {
		return i
	}
	if n.index == nil {
		n.index = map[string]int32{}
	}
	i := int32(len(n.list))
	n.index[s] = i
	n.list = append(n.list, s)
	return i
}

// NewBuilder starts the aggregates of group k; loc is the city's time zone.
func NewBuilder(k record.Key, loc *time.Location) *Builder {
	return &Builder{k: k, loc: loc, monthly: map[monthlyKey]*counts{}, geo: map[geoKey]int64{}}
}

// Add counts one de-duplicated request of the group.
func (b *Builder) Add(r *record.Request) {
	typ, ag := b.types.id(r.RequestType), b.agencies.id(r.Agency)
	mk := monthlyKey{typ, ag}
	c := b.monthly[mk]
	if c == nil {
		c = &counts{}
		b.monthly[mk] = c
	}
	c.add(r)

	// The local day, weekday and hour from one zone lookup, where local.Date, Weekday and
	// Hour each looked the zone up again; the same values as theirs (the zone's offset
	// added to Unix seconds, days counted from Thursday 1970-01-01).
	_, offset := r.CreatedAt.In(b.loc).Zone()
	secs := r.CreatedAt.Unix() + int64(offset)
	day := secs / 86400
	if secs%86400 < 0 {
		day--
	}
	weekday := (day + 4) % 7
	if weekday < 0 {
		weekday += 7
	}
	hour := (secs - day*86400) / 3600

	if int(ag) == len(b.byAgency) {
		b.byAgency = append(b.byAgency, &agencyCounts{daily: map[int32]*counts{}})
	}
	a := b.byAgency[ag]
	dc := a.daily[int32(day)]
	if dc == nil {
		dc = &counts{}
		a.daily[int32(day)] = dc
	}
	dc.add(r)
	a.heat[weekday*24+hour]++

	if r.HasLocation {
		b.geo[geoKey{typ, bin(r.Latitude), bin(r.Longitude)}]++
	}
}

// Tables returns the group's summary rows, sorted by their keys.
func (b *Builder) Tables() Tables {
	k := b.k
	var t Tables
	year, month := int32(k.Year), int32(k.Month)
	if len(b.monthly) > 0 {
		t.Monthly = make([]Monthly, 0, len(b.monthly))
	}
	for mk, c := range b.monthly {
		t.Monthly = append(t.Monthly, Monthly{
			City: k.City, Year: year, Month: month, RequestType: b.types.list[mk.requestType], Agency: b.agencies.list[mk.agency],
			Requests: c.requests, Closed: c.closed, Open: c.open,
			MedianResolutionHours: percentile(c.hours, 0.5),
			P90ResolutionHours:    percentile(c.hours, 0.9),
		})
	}
	slices.SortFunc(t.Monthly, func(a, b Monthly) int {
		return cmp.Or(cmp.Compare(a.RequestType, b.RequestType), cmp.Compare(a.Agency, b.Agency))
	})

	// Agencies in order, then each agency's days and heat cells in order: the rows come out
	// sorted by (agency, day) and (agency, weekday, hour) without sorting them.
	agencies := make([]int32, len(b.agencies.list))
	for i := range agencies {
		agencies[i] = int32(i)
	}
	slices.SortFunc(agencies, func(x, y int32) int { return cmp.Compare(b.agencies.list[x], b.agencies.list[y]) })
	var days []int32
	for _, ag := range agencies {
		name, a := b.agencies.list[ag], b.byAgency[ag]
		days = days[:0]
		for d := range a.daily {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			c := a.daily[d]
			t.AgencyDaily = append(t.AgencyDaily, AgencyDaily{
				City: k.City, Agency: name, Day: d, Opened: c.requests, Closed: c.closed,
				MedianResolutionHours: percentile(c.hours, 0.5),
			})
		}
		for cell, n := range a.heat {
			if n == 0 {
				continue
			}
			t.Heat = append(t.Heat, Heat{
				City: k.City, Agency: name, Year: year, Month: month,
				Weekday: int32(cell / 24), Hour: int32(cell % 24), Requests: n,
			})
		}
	}

	// Sorted by the integer bins, in the order of the bins' edges (unbin is increasing).
	types := b.types.list
	rank := make([]int32, len(types)) // a type index's place among the names in order
	byName := make([]int32, len(types))
	for i := range byName {
		byName[i] = int32(i)
	}
	slices.SortFunc(byName, func(x, y int32) int { return cmp.Compare(types[x], types[y]) })
	for r, i := range byName {
		rank[i] = int32(r)
	}
	keys := make([]geoKey, 0, len(b.geo))
	for gk := range b.geo {
		keys = append(keys, gk)
	}
	slices.SortFunc(keys, func(a, b geoKey) int {
		return cmp.Or(cmp.Compare(rank[a.requestType], rank[b.requestType]), cmp.Compare(a.latBin, b.latBin), cmp.Compare(a.lonBin, b.lonBin))
	})
	if len(keys) > 0 {
		t.Geo = make([]Geo, 0, len(keys))
	}
	for _, gk := range keys {
		t.Geo = append(t.Geo, Geo{
			City: k.City, Year: year, Month: month, RequestType: types[gk.requestType],
			LatBin: unbin(gk.latBin), LonBin: unbin(gk.lonBin), Requests: b.geo[gk],
		})
	}
	return t
}

// bin maps a coordinate to its bin index. Integer indexes keep bins exact where repeated
// float division would not.
func bin(deg float64) int64 { return int64(math.Floor(deg / GeoBinDegrees)) }

// unbin returns the bin's lower edge, rounded to the bin precision so it prints cleanly.
func unbin(i int64) float64 { return math.Round(float64(i)*GeoBinDegrees*1e6) / 1e6 }

// Percentile returns the continuous percentile p (0..1) of xs, or nil when xs is empty.
// It sorts xs in place.
func Percentile(xs []float64, p float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	pos := p * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(xs)-1)
	v := xs[lo] + (xs[hi]-xs[lo])*(pos-float64(lo))
	return &v
}

// percentile is Percentile by selection rather than a sort: it needs only the two order
// statistics around p, which selection finds in linear time where sorting every key's
// resolution times was most of Tables. It reorders xs; a second call on the same xs is
// as exact as the first.
func percentile(xs []float64, p float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	if len(xs) <= selectSortBelow {
		return Percentile(xs, p)
	}
	pos := p * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	selectNth(xs, lo)
	x := xs[lo]
	v := x
	if lo+1 < len(xs) {
		// Everything after lo is at least xs[lo]; the next order statistic is their least.
		v = slices.Min(xs[lo+1:])
	}
	r := x + (v-x)*(pos-float64(lo))
	return &r
}

// selectSortBelow is the length under which percentile sorts: selection's passes cost
// more than a sort of a few dozen values.
const selectSortBelow = 32

// selectNth reorders xs so that xs[k] is the value a sort would put there, with no larger
// value before it and no smaller one after. It is a quickselect (median-of-three pivots)
// that sorts what is left once it has partitioned more times than a balanced run would,
// so an unlucky input costs a sort, never quadratic time. xs must hold no NaN.
func selectNth(xs []float64, k int) {
	lo, hi := 0, len(xs) // xs[k] lies in xs[lo:hi]
	for budget := 2 * bits.Len(uint(len(xs))); hi-lo > selectSortBelow; budget-- {
		if budget == 0 {
			slices.Sort(xs[lo:hi])
			return
		}
		a, b, c := xs[lo], xs[lo+(hi-lo)/2], xs[hi-1]
		pivot := max(min(a, b), min(max(a, b), c))
		// Three-way partition: [lo,lt) < pivot, [lt,gt) == pivot, [gt,hi) > pivot.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch x := xs[i]; {
			case x < pivot:
				xs[lt], xs[i] = x, xs[lt]
				lt++
				i++
			case x > pivot:
				gt--
				xs[gt], xs[i] = x, xs[gt]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return
		}
	}
	slices.Sort(xs[lo:hi])
}
