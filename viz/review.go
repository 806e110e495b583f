package viz

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The agency daily review compares a city's (or one agency's) recent months with the months
// just before them, the historical baseline. Windows are whole months — request_heat, which
// the heat maps read, has months as its finest time — and count only the days the city's data
// covers: days before its first or after its last day, and months in which the city has no
// request at all (a gap between two exports), are left out of the averages and shown as
// gaps, so that a missing export does not read as a drop in requests.

// window is an inclusive range of dates (midnight UTC, as dateOf makes them).
type window struct{ from, to time.Time }

func (w window) clamp(first, last time.Time) window {
	if first.IsZero() {
		return window{from: w.from, to: w.from.AddDate(0, 0, -1)} // no data: empty
	}
	if w.from.Before(first) {
		w.from = first
	}
	if w.to.After(last) {
		w.to = last
	}
	return w
}

func (w window) days() int {
	if w.to.Before(w.from) {
		return 0
	}
	return int(w.to.Sub(w.from)/(24*time.Hour)) + 1
}

// epochDay is a date as days since 1970-01-01, as the review's queries return days.
func epochDay(t time.Time) int { return int(t.Unix() / 86400) }

// coverage counts the days of w that the city's data covers.
func coverage(c *cityMeta, w window) int {
	n := 0
	for d := w.from; !d.After(w.to); d = d.AddDate(0, 0, 1) {
		if c.covers(d) {
			n++
		}
	}
	return n
}

// windowStats is one window's figures.
type windowStats struct {
	Months      map[string]string `json:"months"` // the window's months, before cutting to data
	From        string            `json:"from"`   // first and last day counted, YYYY-MM-DD
	To          string            `json:"to"`
	Days        int               `json:"days"`         // days with data: the averages' denominator
	WindowDays  int               `json:"window_days"`  // days from From to To
	MissingDays int               `json:"missing_days"` // days in between in months without any data
	Requests    int64             `json:"requests"`
	AvgPerDay   *float64          `json:"avg_per_day"`
	MedianHours *float64          `json:"median_hours"`
	P90Hours    *float64          `json:"p90_hours"`
	ClosedPct   *float64          `json:"closed_pct"`
}

// dailySeries is opened requests per day; null on a day the city's data does not cover.
type dailySeries struct {
	Days   []string `json:"days"`
	Opened []*int64 `json:"opened"`
}

// weekdayOrder is the heat maps' row order, Monday first, as weekday numbers (0 = Sunday).
var weekdayOrder = [7]int{1, 2, 3, 4, 5, 6, 0}

var weekdayNames = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func (s *Server) apiReview(ctx context.Context, p params, md *metadata) (any, error) {
	c, err := p.city(md)
	if err != nil {
		return nil, err
	}
	agency, allAgencies, err := p.agency(c)
	if err != nil {
		return nil, err
	}
	end, err := p.month("end", c.Last)
	if err != nil {
		return nil, err
	}
	nRecent, err := p.int("recent", 1, 1, 24)
	if err != nil {
		return nil, err
	}
	nHistory, err := p.int("history", 12, 1, 120)
	if err != nil {
		return nil, err
	}
	recentFrom := end - month(nRecent) + 1
	histTo := recentFrom - 1
	histFrom := histTo - month(nHistory) + 1
	if histFrom < monthOf(minYear, 1) {
		return nil, badf("end %s with %d recent and %d historical months starts before %d", end, nRecent, nHistory, minYear)
	}
	recentMonths, histMonths := period{from: recentFrom, to: end}, period{from: histFrom, to: histTo}
	rw := window{recentFrom.firstDay(), end.lastDay()}.clamp(c.FirstDay, c.LastDay)
	hw := window{histFrom.firstDay(), histTo.lastDay()}.clamp(c.FirstDay, c.LastDay)

	who := c.Name
	agencyLabel := "All agencies"
	if !allAgencies {
		agencyLabel = labelOf(agency, "(no agency)")
		who += " · " + agencyLabel
	}
	// filter is the optional agency condition; its value is always parameter $n.
	filter := func(args []any) (string, []any) {
		if allAgencies {
			return "", args
		}
		return fmt.Sprintf(" AND agency = $%d", len(args)+1), append(args, agency)
	}

	// Opened requests per day over both windows.
	opened := map[int]int64{}
	if span := (window{hw.from, rw.to}); hw.days() > 0 || rw.days() > 0 {
		if hw.days() == 0 {
			span.from = rw.from
		}
		// The months as well as the days: agency_daily is a view that makes each day from its
		// packed row's year and month, whose primary key the months look up.
		f, args := filter([]any{c.ID, dayString(span.from), dayString(span.to),
			span.from.Year(), int(span.from.Month()), span.to.Year(), int(span.to.Month())})
		q := `SELECT day - DATE '1970-01-01', sum(opened)::bigint FROM agency_daily
WHERE city = $1 AND day BETWEEN $2::date AND $3::date AND (year, month) >= ($4, $5) AND (year, month) <= ($6, $7)` +
			f + ` GROUP BY day`
		err := s.query(ctx, q, args, func(r *sql.Rows) error {
			var d int
			var n int64
			if err := r.Scan(&d, &n); err != nil {
				return err
			}
			opened[d] = n
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	series := func(w window) (dailySeries, int64) {
		ds := dailySeries{Days: []string{}, Opened: []*int64{}}
		var sum int64
		for d := w.from; !d.After(w.to); d = d.AddDate(0, 0, 1) {
			ds.Days = append(ds.Days, dayString(d))
			if !c.covers(d) {
				ds.Opened = append(ds.Opened, nil)
				continue
			}
			n := opened[epochDay(d)]
			ds.Opened = append(ds.Opened, &n)
			sum += n
		}
		return ds, sum
	}
	recentDaily, recentN := series(rw)
	histDaily, histN := series(hw)

	// Requests per weekday and hour, per window.
	var heat [2][7][24]int64 // [0] historical, [1] recent; by weekday number
	{
		f, args := filter(append([]any{c.ID}, periodArgs(period{from: histFrom, to: end})...))
		q := `SELECT year * 12 + month - 1, weekday, hour, sum(requests)::bigint FROM request_heat
WHERE city = $1` + inPeriod + f + ` GROUP BY 1, 2, 3`
		err := s.query(ctx, q, args, func(r *sql.Rows) error {
			var m month
			var wd, h int
			var n int64
			if err := r.Scan(&m, &wd, &h, &n); err != nil {
				return err
			}
			if wd < 0 || wd > 6 || h < 0 || h > 23 {
				return fmt.Errorf("request_heat: weekday %d hour %d out of range", wd, h)
			}
			i := 0
			if m >= recentFrom {
				i = 1
			}
			heat[i][wd][h] += n
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// Counts become requests per week, so windows of different lengths compare.
	perWeek := func(i, days int) [][]float64 {
		if days == 0 {
			return nil
		}
		z := make([][]float64, 7)
		for row, wd := range weekdayOrder {
			z[row] = make([]float64, 24)
			for h := range 24 {
				z[row][h] = round(float64(heat[i][wd][h])*7/float64(days), 3)
			}
		}
		return z
	}
	rDays, hDays := coverage(c, rw), coverage(c, hw)
	heatRecent, heatHist := perWeek(1, rDays), perWeek(0, hDays)
	var heatDiff [][]float64
	if heatRecent != nil && heatHist != nil {
		heatDiff = make([][]float64, 7)
		for row := range 7 {
			heatDiff[row] = make([]float64, 24)
			for h := range 24 {
				heatDiff[row][h] = round(heatRecent[row][h]-heatHist[row][h], 3)
			}
		}
	}

	// Resolution per month and per window.
	byMonth := map[month]*resolution{}
	var win [2]resolution
	{
		f, args := filter(append([]any{c.ID}, periodArgs(period{from: histFrom, to: end})...))
		q := `SELECT year * 12 + month - 1, requests, closed, median_resolution_hours, p90_resolution_hours
FROM request_monthly WHERE city = $1` + inPeriod + f
		err := s.query(ctx, q, args, func(r *sql.Rows) error {
			var m month
			var g groupStat
			if err := r.Scan(&m, &g.requests, &g.closed, &g.median, &g.p90); err != nil {
				return err
			}
			if byMonth[m] == nil {
				byMonth[m] = &resolution{}
			}
			byMonth[m].add(g)
			i := 0
			if m >= recentFrom {
				i = 1
			}
			win[i].add(g)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	stats := func(w window, days int, months period, n int64, res *resolution) windowStats {
		st := windowStats{Months: months.json(), Days: days, WindowDays: w.days(), MissingDays: w.days() - days,
			Requests: n, MedianHours: res.median(), P90Hours: res.p90()}
		if w.days() > 0 {
			st.From, st.To = dayString(w.from), dayString(w.to)
		}
		if days > 0 {
			st.AvgPerDay = roundPtr(ptr(float64(n)/float64(days)), 2)
		}
		if res.requests > 0 {
			st.ClosedPct = roundPtr(ptr(100*float64(res.closed)/float64(res.requests)), 1)
		}
		return st
	}
	recent, hist := stats(rw, rDays, recentMonths, recentN, &win[1]), stats(hw, hDays, histMonths, histN, &win[0])

	var d reviewDiff
	if recent.AvgPerDay != nil && hist.AvgPerDay != nil {
		d.AvgPerDay = roundPtr(ptr(*recent.AvgPerDay-*hist.AvgPerDay), 2)
		if *hist.AvgPerDay > 0 {
			d.AvgPct = roundPtr(ptr(100*(float64(recentN)/float64(rDays)/(float64(histN)/float64(hDays))-1)), 1)
		}
	}
	if recent.MedianHours != nil && hist.MedianHours != nil {
		d.MedianHours = roundPtr(ptr(*recent.MedianHours-*hist.MedianHours), 2)
	}
	if recent.P90Hours != nil && hist.P90Hours != nil {
		d.P90Hours = roundPtr(ptr(*recent.P90Hours-*hist.P90Hours), 2)
	}

	rs := resolutionSeries{Months: []string{}, Window: []string{}, MedianHours: []*float64{}, P90Hours: []*float64{}, Requests: []int64{}}
	anyResolution := false
	for m := histFrom; m <= end; m++ {
		r := byMonth[m]
		if r == nil {
			r = &resolution{}
		}
		rs.Months = append(rs.Months, m.String())
		rs.Window = append(rs.Window, map[bool]string{true: "recent", false: "historical"}[m >= recentFrom])
		rs.MedianHours = append(rs.MedianHours, r.median())
		rs.P90Hours = append(rs.P90Hours, r.p90())
		rs.Requests = append(rs.Requests, r.requests)
		anyResolution = anyResolution || r.median() != nil
	}

	both := period{from: histFrom, to: end}
	out := &reviewResult{City: c.ID, CityName: c.Name, Agency: p.get("agency"), AgencyLabel: agencyLabel,
		Recent: recent, Historical: hist, Difference: d, Resolution: rs, Notes: []string{}, end: end}
	out.Daily.Recent, out.Daily.Historical = recentDaily, histDaily
	out.Heat.Weekdays, out.Heat.Unit = weekdayNames, "requests per week"
	out.Heat.Recent, out.Heat.Historical, out.Heat.Difference = heatRecent, heatHist, heatDiff

	noRecent := noData("recent requests", who, recentMonths)
	noHist := noData("historical requests", who, histMonths)
	switch {
	case recentN == 0 && histN == 0:
		out.Message = noData("requests", who, both)
		out.Daily.Message = out.Message
	case histN == 0:
		out.Notes = append(out.Notes, noHist+": the baseline is empty")
	case recentN == 0:
		out.Notes = append(out.Notes, noRecent)
	}
	for _, w := range []struct {
		name string
		st   windowStats
	}{{"recent", recent}, {"historical", hist}} {
		if w.st.MissingDays > 0 && w.st.Days > 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("%s has no data at all for %d of the %d days of the %s window (months between exports): the averages count the other %d days",
				c.Name, w.st.MissingDays, w.st.WindowDays, w.name, w.st.Days))
		}
	}
	if recentN == 0 {
		out.Heat.RecentMessage = noRecent
		out.Heat.DifferenceMessage = noRecent + ": nothing to compare"
	}
	if histN == 0 {
		out.Heat.HistoricalMessage = noHist
		out.Heat.DifferenceMessage = noHist + ": nothing to compare"
	}
	if recentN == 0 && histN == 0 {
		out.Heat.DifferenceMessage = out.Message
	}
	if !anyResolution {
		out.Resolution.Message = noData("closed requests with a resolution time", who, both)
	}
	return out, nil
}

// reviewResult is /api/review's answer.
type reviewResult struct {
	City        string      `json:"city"`
	CityName    string      `json:"city_name"`
	Agency      string      `json:"agency"` // as given; "" for all
	AgencyLabel string      `json:"agency_label"`
	Recent      windowStats `json:"recent"`
	Historical  windowStats `json:"historical"`
	Difference  reviewDiff  `json:"difference"`
	Daily       struct {
		Recent     dailySeries `json:"recent"`
		Historical dailySeries `json:"historical"`
		Message    string      `json:"message"`
	} `json:"daily"`
	Heat struct {
		Weekdays          []string    `json:"weekdays"`
		Unit              string      `json:"unit"`
		Recent            [][]float64 `json:"recent"`
		Historical        [][]float64 `json:"historical"`
		Difference        [][]float64 `json:"difference"`
		RecentMessage     string      `json:"recent_message"`
		HistoricalMessage string      `json:"historical_message"`
		DifferenceMessage string      `json:"difference_message"`
	} `json:"heat"`
	Resolution resolutionSeries `json:"resolution"`
	Notes      []string         `json:"notes"`
	Message    string           `json:"message"`

	end month
}

// reviewDiff is recent against historical.
type reviewDiff struct {
	AvgPerDay   *float64 `json:"avg_per_day"` // recent − historical
	AvgPct      *float64 `json:"avg_pct"`     // change relative to historical, %
	MedianHours *float64 `json:"median_hours"`
	P90Hours    *float64 `json:"p90_hours"`
}

// resolutionSeries is the resolution time per month of both windows.
type resolutionSeries struct {
	Months      []string   `json:"months"`
	Window      []string   `json:"window"` // "historical" or "recent", per month
	MedianHours []*float64 `json:"median_hours"`
	P90Hours    []*float64 `json:"p90_hours"`
	Requests    []int64    `json:"requests"`
	Message     string     `json:"message"`
}

// reviewCharts are the review's charts, as chart=NAME names them with format=csv.
var reviewCharts = []string{"daily", "heat-recent", "heat-historical", "heat-difference", "resolution"}

func (r *reviewResult) table(part string) (*table, error) {
	agency := ""
	if r.Agency != "" {
		agency = "agency"
	}
	name := func(chart string) string { return nameOf("review-"+chart, r.City, agency, r.end.String()) }
	who := []any{r.City, r.AgencyLabel}
	switch part {
	case "daily":
		t := &table{name: name(part), header: []string{"city", "agency", "window", "day", "opened"}}
		for _, w := range []struct {
			name string
			s    dailySeries
		}{{"historical", r.Daily.Historical}, {"recent", r.Daily.Recent}} {
			for i, day := range w.s.Days {
				t.rows = append(t.rows, append(slices.Clone(who), w.name, day, w.s.Opened[i]))
			}
		}
		return t, nil
	case "heat-recent", "heat-historical", "heat-difference":
		z := map[string][][]float64{"heat-recent": r.Heat.Recent, "heat-historical": r.Heat.Historical, "heat-difference": r.Heat.Difference}[part]
		t := &table{name: name(part), header: []string{"city", "agency", "weekday", "hour", "requests_per_week"}}
		for row, values := range z {
			for h, v := range values {
				t.rows = append(t.rows, append(slices.Clone(who), r.Heat.Weekdays[row], h, v))
			}
		}
		return t, nil
	case "resolution":
		s := r.Resolution
		t := &table{name: name(part), header: []string{"city", "agency", "window", "month", "requests", "median_hours", "p90_hours"}}
		for i, m := range s.Months {
			t.rows = append(t.rows, append(slices.Clone(who), s.Window[i], m, s.Requests[i], s.MedianHours[i], s.P90Hours[i]))
		}
		return t, nil
	case "":
		return nil, badf("chart: the review has several charts; give chart=%s", strings.Join(reviewCharts, ", chart="))
	}
	return nil, badf("chart: %s is not a chart of the review: %s", quote(part), strings.Join(reviewCharts, ", "))
}

func ptr[T any](v T) *T { return &v }
