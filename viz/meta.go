package viz

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// cityMeta is what the server knows of one city without asking the database per request:
// its time range and the agencies and request types its rows name.
type cityMeta struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	First    month  `json:"-"`
	Last     month  `json:"-"`
	Requests int64  `json:"requests"`
	// Outside counts the requests of months outside minYear..maxYear (a database written
	// by a binary whose normalizer kept such dates): no period the API takes holds them, so
	// First, Last, FirstDay and LastDay leave them out and every chart does.
	Outside int64 `json:"-"`
	// FirstDay and LastDay bound agency_daily: the dates the city's data covers. Zero when
	// the city has no agency_daily rows.
	FirstDay time.Time `json:"-"`
	LastDay  time.Time `json:"-"`

	Agencies []entry `json:"-"` // by requests, most first
	Types    []entry `json:"-"`

	months map[month]bool // the months with any request_monthly row

	agencySet map[string]bool
	typeSet   map[string]bool
}

// covers reports whether the city's data covers day d: within its first and last day, in a
// month with data.
func (c *cityMeta) covers(d time.Time) bool {
	return !c.FirstDay.IsZero() && !d.Before(c.FirstDay) && !d.After(c.LastDay) && c.months[monthOf(d.Year(), int(d.Month()))]
}

// entry is one agency or request type: Value is what the API takes back (keyValue: "(none)"
// for the empty key), Label what a reader sees.
type entry struct {
	Value    string `json:"value"`
	Label    string `json:"label"`
	Requests int64  `json:"requests"`
}

// metadata is one load of the cities' lists; immutable once built.
type metadata struct {
	loaded    time.Time
	cities    []*cityMeta // by ID
	byID      map[string]*cityMeta
	published time.Time // newest job_runs.published_at; zero if none
}

func (md *metadata) cityList() string {
	if len(md.cities) == 0 {
		return "(none: no summaries have been published yet)"
	}
	ids := make([]string, len(md.cities))
	for i, c := range md.cities {
		ids[i] = c.ID
	}
	return strings.Join(ids, ", ")
}

// cityNames are the display names of the cities with built-in schemas; others are shown
// by their id, capitalized.
var cityNames = map[string]string{
	"nyc":         "New York City",
	"la":          "Los Angeles",
	"sf":          "San Francisco",
	"boston":      "Boston",
	"baltimore":   "Baltimore",
	"chicago":     "Chicago",
	"kansas_city": "Kansas City",
	"dc":          "Washington, DC",
	"st_louis":    "St. Louis",
}

func cityName(id string) string {
	if n, ok := cityNames[id]; ok {
		return n
	}
	if id == "" {
		return id
	}
	return strings.ToUpper(id[:1]) + id[1:]
}

// metaCache holds the current metadata and reloads it when it is older than ttl. A request
// that finds it stale reloads it while others wait (one load at a time); when a reload fails
// the old lists keep being served, and the next try waits retryAfter.
type metaCache struct {
	ttl   time.Duration
	load  func(ctx context.Context) (*metadata, error)
	log   *slog.Logger
	clock func() time.Time

	mu      sync.Mutex // guards cur and nextTry, and serializes loads
	cur     *metadata
	nextTry time.Time
}

const metaRetryAfter = 5 * time.Second

func (c *metaCache) get(ctx context.Context) (*metadata, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	if c.cur != nil && (now.Sub(c.cur.loaded) < c.ttl || now.Before(c.nextTry)) {
		return c.cur, nil
	}
	md, err := c.load(ctx)
	if err != nil {
		if c.cur == nil {
			return nil, fmt.Errorf("load the lists of cities: %w", err)
		}
		c.log.Warn("viz: reloading the lists of cities failed; serving the previous ones", "err", err, "age", now.Sub(c.cur.loaded).Round(time.Second))
		c.nextTry = now.Add(metaRetryAfter)
		return c.cur, nil
	}
	md.loaded = now
	c.cur = md
	return md, nil
}

// loadMeta reads the cities, their agencies and request types, and their time ranges.
// The ranges are those of the months and days the API takes (minYear..maxYear): a date
// outside them, which an older normalizer kept, would make a default period the API then
// refuses as input and a monthly series of up to 120,000 empty months.
func (s *Server) loadMeta(ctx context.Context) (*metadata, error) {
	md := &metadata{byID: map[string]*cityMeta{}}
	type acc struct {
		agencies, types map[string]int64
	}
	accs := map[string]*acc{}
	err := s.query(ctx, `
SELECT city, agency, request_type, sum(requests)::bigint,
	coalesce(sum(requests) FILTER (WHERE year NOT BETWEEN $1 AND $2), 0)::bigint
FROM request_monthly
GROUP BY city, agency, request_type`, []any{minYear, maxYear}, func(rows *sql.Rows) error {
		var (
			city, agency, typ string
			n, outside        int64
		)
		if err := rows.Scan(&city, &agency, &typ, &n, &outside); err != nil {
			return err
		}
		c := md.byID[city]
		if c == nil {
			c = &cityMeta{ID: city, Name: cityName(city), months: map[month]bool{}}
			md.byID[city] = c
			md.cities = append(md.cities, c)
			accs[city] = &acc{map[string]int64{}, map[string]int64{}}
		}
		c.Requests += n
		c.Outside += outside
		accs[city].agencies[agency] += n
		accs[city].types[typ] += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.query(ctx, `SELECT DISTINCT city, year * 12 + month - 1 FROM request_monthly`, nil, func(rows *sql.Rows) error {
		var city string
		var m month
		if err := rows.Scan(&city, &m); err != nil {
			return err
		}
		if c := md.byID[city]; c != nil {
			c.months[m] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range md.cities {
		c.First, c.Last = monthSpan(c.months)
	}
	lo, hi := monthOf(minYear, 1).firstDay(), monthOf(maxYear, 12).lastDay()
	err = s.query(ctx, `SELECT city, min(day), max(day) FROM agency_daily WHERE day BETWEEN $1::date AND $2::date GROUP BY city`,
		[]any{dayString(lo), dayString(hi)}, func(rows *sql.Rows) error {
			var city string
			var first, last time.Time
			if err := rows.Scan(&city, &first, &last); err != nil {
				return err
			}
			if c := md.byID[city]; c != nil {
				c.FirstDay, c.LastDay = dateOf(first), dateOf(last)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = s.query(ctx, `SELECT max(published_at) FROM job_runs`, nil, func(rows *sql.Rows) error {
		var t sql.NullTime
		if err := rows.Scan(&t); err != nil {
			return err
		}
		md.published = t.Time
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(md.cities, func(a, b *cityMeta) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range md.cities {
		c.Agencies, c.agencySet = entries(accs[c.ID].agencies, "(no agency)")
		c.Types, c.typeSet = entries(accs[c.ID].types, "(no type)")
	}
	return md, nil
}

// monthSpan returns the first and last of months that lie in minYear..maxYear; when none
// does, the first and last month of that range nearest to them, so that the span is still
// one the API takes (and holds no data). No months (a city whose rows a publish removed
// between loadMeta's queries) is the range's first month.
func monthSpan(months map[month]bool) (first, last month) {
	lo, hi := monthOf(minYear, 1), monthOf(maxYear, 12)
	if len(months) == 0 {
		return lo, lo
	}
	first, last = hi+1, lo-1
	lowest, highest := month(math.MaxInt), month(math.MinInt) // of all months, in range or not
	for m := range months {
		lowest, highest = min(lowest, m), max(highest, m)
		if lo <= m && m <= hi {
			first, last = min(first, m), max(last, m)
		}
	}
	if first <= last {
		return first, last
	}
	clamp := func(m month) month { return min(max(m, lo), hi) }
	return clamp(lowest), clamp(highest)
}

// entries turns key → requests into entries by requests (most first, then by name).
func entries(m map[string]int64, noneLabel string) ([]entry, map[string]bool) {
	out := make([]entry, 0, len(m))
	set := make(map[string]bool, len(m))
	for k, n := range m {
		e := entry{Value: keyValue(k), Label: labelOf(k, noneLabel), Requests: n}
		out = append(out, e)
		set[k] = true
	}
	slices.SortFunc(out, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Label, b.Label))
	})
	return out, set
}

// dateOf keeps a date's calendar day at midnight UTC, whatever zone the driver gave it.
func dateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
