package viz

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/ireports/ireports/summary"
)

// Every statement below takes its values as parameters ($1, $2, …); the only text ever
// appended to one is a constant fragment chosen by a checked parameter (an optional filter).

// inPeriod filters a table with year and month columns to the months of $2..$5. Row
// comparisons use the (city, year, month, …) primary keys.
const inPeriod = ` AND (year, month) >= ($2, $3) AND (year, month) <= ($4, $5)`

// periodArgs are the values of inPeriod; all time is the widest range the API accepts.
func periodArgs(pd period) []any {
	if pd.all {
		pd = period{from: monthOf(minYear, 1), to: monthOf(maxYear, 12)}
	}
	return []any{pd.from.year(), pd.from.mon(), pd.to.year(), pd.to.mon()}
}

// noData is the message of a chart with nothing to show: "no data for Boston in 2012".
func noData(what, city string, pd period) string {
	msg := fmt.Sprintf("no %s for %s", what, city)
	if l := pd.label(); l != "" {
		msg += " " + l
	}
	return msg
}

func (s *Server) apiCities(ctx context.Context, p params, md *metadata) (any, error) {
	type city struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		First    string `json:"first"`     // first month with data, YYYY-MM
		Last     string `json:"last"`      // last month with data
		FirstDay string `json:"first_day"` // first and last day with data, YYYY-MM-DD
		LastDay  string `json:"last_day"`
		Requests int64  `json:"requests"`
		// Outside counts the requests dated outside the years the API takes, which no
		// chart shows; Note then says so.
		Outside int64  `json:"outside_range"`
		Note    string `json:"note"`
	}
	out := struct {
		Cities    []city  `json:"cities"`
		Published *string `json:"published_at"`
		Message   string  `json:"message"`
	}{Cities: []city{}}
	for _, c := range md.cities {
		e := city{c.ID, c.Name, c.First.String(), c.Last.String(), dayString(c.FirstDay), dayString(c.LastDay), c.Requests, c.Outside, ""}
		if c.Outside > 0 {
			e.Note = fmt.Sprintf("%d requests dated before %d or after %d are left out of every chart", c.Outside, minYear, maxYear)
		}
		out.Cities = append(out.Cities, e)
	}
	if !md.published.IsZero() {
		t := md.published.UTC().Format(time.RFC3339)
		out.Published = &t
	}
	if len(out.Cities) == 0 {
		out.Message = noSummaries
	}
	return out, nil
}

// noSummaries is the message of every chart while the tables are empty.
const noSummaries = "no summaries have been published yet: run a job whose output sets postgres, or `coordinator publish` one"

func dayString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func (s *Server) apiAgencies(ctx context.Context, p params, md *metadata) (any, error) {
	c, err := p.city(md)
	if err != nil {
		return nil, err
	}
	return map[string]any{"city": c.ID, "agencies": c.Agencies}, nil
}

func (s *Server) apiRequestTypes(ctx context.Context, p params, md *metadata) (any, error) {
	c, err := p.city(md)
	if err != nil {
		return nil, err
	}
	return map[string]any{"city": c.ID, "types": c.Types}, nil
}

// apiMap returns the request_geo bins of a city over a period, one point per bin at its
// centre with the requests in it, optionally for one request type.
func (s *Server) apiMap(ctx context.Context, p params, md *metadata) (any, error) {
	c, err := p.city(md)
	if err != nil {
		return nil, err
	}
	pd, err := p.period(period{from: c.First, to: c.Last})
	if err != nil {
		return nil, err
	}
	typ, allTypes, err := p.requestType(c)
	if err != nil {
		return nil, err
	}
	q := `SELECT lat_bin, lon_bin, sum(requests)::bigint FROM request_geo WHERE city = $1` + inPeriod
	args := append([]any{c.ID}, periodArgs(pd)...)
	if !allTypes {
		q += ` AND request_type = $6`
		args = append(args, typ)
	}
	q += ` GROUP BY lat_bin, lon_bin ORDER BY lat_bin, lon_bin`
	out := &mapResult{City: c.ID, Period: pd.json(), Type: p.get("type"), BinDegrees: summary.GeoBinDegrees,
		Lat: []float64{}, Lon: []float64{}, Requests: []int64{}, pd: pd}
	var bins []geoBin
	err = s.query(ctx, q, args, func(rows *sql.Rows) error {
		var b geoBin
		if err := rows.Scan(&b.lat, &b.lon, &b.n); err != nil {
			return err
		}
		bins = append(bins, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	half := summary.GeoBinDegrees / 2
	for _, b := range bins {
		out.Lat = append(out.Lat, round(b.lat+half, 6))
		out.Lon = append(out.Lon, round(b.lon+half, 6))
		out.Requests = append(out.Requests, b.n)
		out.Total += b.n
	}
	out.Outline = outline(bins, summary.GeoBinDegrees, outlineShare)
	if out.Total == 0 {
		what := "requests with a location"
		if !allTypes {
			what = fmt.Sprintf("%q requests with a location", labelOf(typ, "(no type)"))
		}
		out.Message = noData(what, c.Name, pd)
	}
	return out, nil
}

// mapResult is /api/map's answer.
type mapResult struct {
	City       string            `json:"city"`
	Period     map[string]string `json:"period"`
	Type       string            `json:"type"`
	BinDegrees float64           `json:"bin_degrees"`
	Lat        []float64         `json:"lat"` // bin centres
	Lon        []float64         `json:"lon"`
	Requests   []int64           `json:"requests"`
	Total      int64             `json:"total"`
	// Outline is a light outline of where the requests are: see outline.
	Outline polygon `json:"outline"`
	Message string  `json:"message"`

	pd period
}

func (m *mapResult) table(part string) (*table, error) {
	if err := noPart(part); err != nil {
		return nil, err
	}
	t := &table{name: nameOf("map", m.City, m.pd.fileLabel()), header: []string{"city", "request_type", "lat", "lon", "requests"}}
	for i := range m.Lat {
		t.rows = append(t.rows, []any{m.City, m.Type, m.Lat[i], m.Lon[i], m.Requests[i]})
	}
	return t, nil
}

// noPart refuses chart=NAME for an endpoint that draws one chart.
func noPart(part string) error {
	if part != "" {
		return badf("chart: this endpoint has one chart; leave chart out")
	}
	return nil
}

func labelOf(key, none string) string {
	if key == "" {
		return none
	}
	return key
}

// share is one request type's part of a total.
type share struct {
	Value    string  `json:"value"`
	Label    string  `json:"label"`
	Requests int64   `json:"requests"`
	Share    float64 `json:"share"` // of all the city's requests in the period, 0..1
}

func newShare(typ string, n, total int64) share {
	e := share{Value: keyValue(typ), Label: labelOf(typ, "(no type)"), Requests: n}
	if total > 0 {
		e.Share = round(float64(n)/float64(total), 4)
	}
	return e
}

// apiTopTypes returns a city's n most requested types over a period, with their shares.
func (s *Server) apiTopTypes(ctx context.Context, p params, md *metadata) (any, error) {
	c, err := p.city(md)
	if err != nil {
		return nil, err
	}
	pd, err := p.period(period{from: c.First, to: c.Last})
	if err != nil {
		return nil, err
	}
	n, err := p.int("n", 5, 1, 25)
	if err != nil {
		return nil, err
	}
	out := &topTypesResult{City: c.ID, Period: pd.json(), Types: []share{}, pd: pd}
	var rows []struct {
		typ string
		n   int64
	}
	q := `SELECT request_type, sum(requests)::bigint AS n, (sum(sum(requests)) OVER ())::bigint
FROM request_monthly WHERE city = $1` + inPeriod + `
GROUP BY request_type ORDER BY n DESC, request_type LIMIT $6`
	err = s.query(ctx, q, append(append([]any{c.ID}, periodArgs(pd)...), n), func(r *sql.Rows) error {
		var typ string
		var n int64
		if err := r.Scan(&typ, &n, &out.Total); err != nil {
			return err
		}
		rows = append(rows, struct {
			typ string
			n   int64
		}{typ, n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out.Types = append(out.Types, newShare(r.typ, r.n, out.Total))
	}
	if out.Total == 0 {
		out.Message = noData("data", c.Name, pd)
	}
	return out, nil
}

// topTypesResult is /api/top-types's answer.
type topTypesResult struct {
	City    string            `json:"city"`
	Period  map[string]string `json:"period"`
	Total   int64             `json:"total"`
	Types   []share           `json:"types"`
	Message string            `json:"message"`

	pd period
}

func (r *topTypesResult) table(part string) (*table, error) {
	if err := noPart(part); err != nil {
		return nil, err
	}
	t := &table{name: nameOf("top-types", r.City, r.pd.fileLabel()), header: []string{"city", "request_type", "requests", "share"}}
	for _, x := range r.Types {
		t.rows = append(t.rows, []any{r.City, x.Label, x.Requests, x.Share})
	}
	return t, nil
}

// apiCompare compares the top request types of up to three cities: the union of each
// city's n most requested types, with every city's count and share of each.
func (s *Server) apiCompare(ctx context.Context, p params, md *metadata) (any, error) {
	cities, err := p.cities(md, 3, false)
	if err != nil {
		return nil, err
	}
	pd, err := p.period(period{all: true})
	if err != nil {
		return nil, err
	}
	n, err := p.int("n", 5, 1, 10)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(cities))
	for i, c := range cities {
		ids[i] = c.ID
	}
	counts := map[string]map[string]int64{} // city → type → requests
	totals := map[string]int64{}
	q := `SELECT city, request_type, sum(requests)::bigint FROM request_monthly
WHERE city = ANY($1)` + inPeriod + ` GROUP BY city, request_type`
	err = s.query(ctx, q, append([]any{pq.Array(ids)}, periodArgs(pd)...), func(r *sql.Rows) error {
		var city, typ string
		var k int64
		if err := r.Scan(&city, &typ, &k); err != nil {
			return err
		}
		if counts[city] == nil {
			counts[city] = map[string]int64{}
		}
		counts[city][typ] = k
		totals[city] += k
		return nil
	})
	if err != nil {
		return nil, err
	}

	// The union of every city's top n, ordered by the largest share any city gives a type.
	best := map[string]float64{}
	for _, c := range cities {
		types := make([]string, 0, len(counts[c.ID]))
		for t := range counts[c.ID] {
			types = append(types, t)
		}
		slices.SortFunc(types, func(a, b string) int {
			return cmp.Or(cmp.Compare(counts[c.ID][b], counts[c.ID][a]), cmp.Compare(a, b))
		})
		for _, t := range types[:min(n, len(types))] {
			best[t] = max(best[t], float64(counts[c.ID][t])/float64(totals[c.ID]))
		}
	}
	union := make([]string, 0, len(best))
	for t := range best {
		union = append(union, t)
	}
	slices.SortFunc(union, func(a, b string) int { return cmp.Or(cmp.Compare(best[b], best[a]), cmp.Compare(a, b)) })

	out := &compareResult{Period: pd.json(), Types: []share{}, Series: []compareSeries{}, pd: pd}
	var all int64
	for _, c := range cities {
		all += totals[c.ID]
	}
	for _, t := range union {
		var k int64
		for _, c := range cities {
			k += counts[c.ID][t]
		}
		out.Types = append(out.Types, newShare(t, k, all))
	}
	var empty []string
	for _, c := range cities {
		se := compareSeries{City: c.ID, Name: c.Name, Total: totals[c.ID], Requests: []int64{}, Shares: []float64{}}
		for _, t := range union {
			k := counts[c.ID][t]
			se.Requests = append(se.Requests, k)
			se.Shares = append(se.Shares, newShare(t, k, totals[c.ID]).Share)
		}
		if se.Total == 0 {
			se.Message = noData("data", c.Name, pd)
			empty = append(empty, c.Name)
		}
		out.Series = append(out.Series, se)
	}
	if all == 0 {
		out.Message = noData("data", joinNames(empty), pd)
	}
	return out, nil
}

// compareResult is /api/compare's answer.
type compareResult struct {
	Period  map[string]string `json:"period"`
	Types   []share           `json:"types"` // Requests and Share: summed over the cities
	Series  []compareSeries   `json:"series"`
	Message string            `json:"message"`

	pd period
}

// compareSeries is one city's counts and shares of the compared types.
type compareSeries struct {
	City     string    `json:"city"`
	Name     string    `json:"name"`
	Total    int64     `json:"total"`
	Requests []int64   `json:"requests"` // per type of Types
	Shares   []float64 `json:"shares"`
	Message  string    `json:"message"`
}

func (r *compareResult) table(part string) (*table, error) {
	if err := noPart(part); err != nil {
		return nil, err
	}
	var ids []string
	for _, se := range r.Series {
		ids = append(ids, se.City)
	}
	t := &table{name: nameOf("compare", strings.Join(ids, "_"), r.pd.fileLabel()), header: []string{"city", "request_type", "requests", "share"}}
	for _, se := range r.Series {
		for i, typ := range r.Types {
			t.rows = append(t.rows, []any{se.City, typ.Label, se.Requests[i], se.Shares[i]})
		}
	}
	return t, nil
}

// joinNames joins names as prose: "A", "A or B", "A, B or C".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	s := names[0]
	for _, n := range names[1 : len(names)-1] {
		s += ", " + n
	}
	return s + " or " + names[len(names)-1]
}

// apiMonthly returns requests per month for each city, over the months the city has data
// for; a month in between without any row is null.
func (s *Server) apiMonthly(ctx context.Context, p params, md *metadata) (any, error) {
	cities, err := p.cities(md, len(md.cities), true)
	if err != nil {
		return nil, err
	}
	pd, err := p.period(period{all: true})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(cities))
	for i, c := range cities {
		ids[i] = c.ID
	}
	byMonth := map[string]map[month]int64{}
	q := `SELECT city, year * 12 + month - 1, sum(requests)::bigint FROM request_monthly
WHERE city = ANY($1)` + inPeriod + ` GROUP BY 1, 2`
	err = s.query(ctx, q, append([]any{pq.Array(ids)}, periodArgs(pd)...), func(r *sql.Rows) error {
		var city string
		var m month
		var k int64
		if err := r.Scan(&city, &m, &k); err != nil {
			return err
		}
		if byMonth[city] == nil {
			byMonth[city] = map[month]int64{}
		}
		byMonth[city][m] = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &monthlyResult{Period: pd.json(), Series: []monthlySeries{}, pd: pd}
	var names []string
	for _, c := range cities {
		names = append(names, c.Name)
		from, to := c.First, c.Last
		if !pd.all {
			from, to = max(from, pd.from), min(to, pd.to)
		}
		se := monthlySeries{City: c.ID, Name: c.Name, Months: []string{}, Requests: []*int64{}}
		for m := from; m <= to; m++ {
			se.Months = append(se.Months, m.String())
			// A month without rows is null, not 0: the exports may simply not cover it.
			k, ok := byMonth[c.ID][m]
			if !ok {
				se.Requests = append(se.Requests, nil)
				continue
			}
			se.Requests = append(se.Requests, &k)
			se.Total += k
		}
		if se.Total > 0 {
			out.Series = append(out.Series, se)
		}
	}
	switch {
	case len(cities) == 0:
		out.Message = noSummaries
	case len(out.Series) == 0:
		out.Message = noData("data", joinNames(names), pd)
	}
	return out, nil
}

// monthlyResult is /api/monthly's answer.
type monthlyResult struct {
	Period  map[string]string `json:"period"`
	Series  []monthlySeries   `json:"series"`
	Message string            `json:"message"`

	pd period
}

// monthlySeries is one city's requests per month.
type monthlySeries struct {
	City     string   `json:"city"`
	Name     string   `json:"name"`
	Months   []string `json:"months"`   // YYYY-MM, every month from the first to the last
	Requests []*int64 `json:"requests"` // null: no rows for the month
	Total    int64    `json:"total"`
}

func (r *monthlyResult) table(part string) (*table, error) {
	if err := noPart(part); err != nil {
		return nil, err
	}
	t := &table{name: nameOf("monthly", r.pd.fileLabel()), header: []string{"city", "month", "requests"}}
	for _, se := range r.Series {
		for i, m := range se.Months {
			t.rows = append(t.rows, []any{se.City, m, se.Requests[i]})
		}
	}
	return t, nil
}

// groupStat is one request_monthly row's resolution figures, weighted by its closed count
// when groups are combined.
type groupStat struct {
	requests, closed int64
	median, p90      sql.NullFloat64
}

// resolution combines the groups of one agency, month or window. Medians do not add up, so
// the combined median (and p90) is the closed-weighted median of the groups' medians (and
// p90s): exact for one group, and close when the groups are alike.
type resolution struct {
	requests, closed int64
	medians, p90s    []weighted
}

func (r *resolution) add(g groupStat) {
	r.requests += g.requests
	r.closed += g.closed
	w := float64(max(g.closed, 1))
	if g.median.Valid {
		r.medians = append(r.medians, weighted{g.median.Float64, w})
	}
	if g.p90.Valid {
		r.p90s = append(r.p90s, weighted{g.p90.Float64, w})
	}
}

func (r *resolution) median() *float64 { return roundPtr(weightedMedian(r.medians), 2) }
func (r *resolution) p90() *float64    { return roundPtr(weightedMedian(r.p90s), 2) }

// resolutionNote explains how the combined figures are made.
const resolutionNote = "Median and p90 are exact per month, request type and agency; over longer periods they are the closed-weighted median of those groups' values."

// apiResolution returns the resolution time (median and p90, hours) of a city's n busiest
// agencies over a period.
func (s *Server) apiResolution(ctx context.Context, p params, md *metadata) (any, error) {
	c, err := p.city(md)
	if err != nil {
		return nil, err
	}
	pd, err := p.period(period{from: c.First, to: c.Last})
	if err != nil {
		return nil, err
	}
	n, err := p.int("n", 12, 1, 50)
	if err != nil {
		return nil, err
	}
	byAgency := map[string]*resolution{}
	q := `SELECT agency, requests, closed, median_resolution_hours, p90_resolution_hours
FROM request_monthly WHERE city = $1` + inPeriod
	err = s.query(ctx, q, append([]any{c.ID}, periodArgs(pd)...), func(r *sql.Rows) error {
		var agency string
		var g groupStat
		if err := r.Scan(&agency, &g.requests, &g.closed, &g.median, &g.p90); err != nil {
			return err
		}
		if byAgency[agency] == nil {
			byAgency[agency] = &resolution{}
		}
		byAgency[agency].add(g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &resolutionResult{City: c.ID, Period: pd.json(), Agencies: []agencyResolution{}, Note: resolutionNote, pd: pd}
	for key, r := range byAgency {
		if r.median() == nil {
			out.Omitted++
			continue
		}
		a := agencyResolution{Value: keyValue(key), Label: labelOf(key, "(no agency)"), Requests: r.requests, Closed: r.closed,
			MedianHours: r.median(), P90Hours: r.p90()}
		out.Agencies = append(out.Agencies, a)
	}
	slices.SortFunc(out.Agencies, func(a, b agencyResolution) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Label, b.Label))
	})
	if len(out.Agencies) > n {
		out.Omitted += len(out.Agencies) - n
		out.Agencies = out.Agencies[:n]
	}
	if len(out.Agencies) == 0 {
		out.Message = noData("closed requests with a resolution time", c.Name, pd)
	}
	return out, nil
}

// resolutionResult is /api/resolution's answer.
type resolutionResult struct {
	City     string             `json:"city"`
	Period   map[string]string  `json:"period"`
	Agencies []agencyResolution `json:"agencies"` // by requests, most first
	Omitted  int                `json:"omitted"`  // agencies beyond n, or without a resolution time
	Note     string             `json:"note"`
	Message  string             `json:"message"`

	pd period
}

// agencyResolution is one agency's resolution time.
type agencyResolution struct {
	Value       string   `json:"value"`
	Label       string   `json:"label"`
	Requests    int64    `json:"requests"`
	Closed      int64    `json:"closed"`
	MedianHours *float64 `json:"median_hours"`
	P90Hours    *float64 `json:"p90_hours"`
}

func (r *resolutionResult) table(part string) (*table, error) {
	if err := noPart(part); err != nil {
		return nil, err
	}
	t := &table{name: nameOf("resolution", r.City, r.pd.fileLabel()),
		header: []string{"city", "agency", "requests", "closed", "median_hours", "p90_hours"}}
	for _, a := range r.Agencies {
		t.rows = append(t.rows, []any{r.City, a.Label, a.Requests, a.Closed, a.MedianHours, a.P90Hours})
	}
	return t, nil
}

func round(x float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(x*p) / p
}

func roundPtr(x *float64, digits int) *float64 {
	if x == nil {
		return nil
	}
	v := round(*x, digits)
	return &v
}
