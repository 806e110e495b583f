package viz

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// badRequest is a client error: its message is sent back with status 400, so it says what
// was wrong and what is accepted, never anything about the server.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// maxValueLen bounds a parameter value other than an agency or request type: city ids,
// months, numbers and names are all far shorter.
const maxValueLen = 200

// maxKeyText is the longest agency or request type the normalizer keeps, in bytes: it is
// jobs.MaxKeyText (a test holds the two equal; viz does not import jobs, which would bring
// the job spec's and S3's packages into the server). An agency or type parameter may be
// that long, plus the two bytes of keyValue's parentheses.
const maxKeyText = 1000

// noneValue is how the API names the empty text key (” in the tables: no agency, no
// request type), which an empty parameter could not ("" means "all").
const noneValue = "(none)"

// keyValue is the value by which the API lists, and takes back, the agency or request type
// key: the key itself, but for the empty key, which is noneValue, and a key that reads as
// that marker — "(none)", "((none))", … — which gets one more pair of parentheses. So a
// real agency named "(none)" is "((none))" and stays apart from the rows without one, and
// every key has exactly one value (keyOf is its inverse).
func keyValue(key string) string {
	switch {
	case key == "":
		return noneValue
	case markerDepth(key) > 0:
		return "(" + key + ")"
	}
	return key
}

// keyOf is the key that keyValue gives v.
func keyOf(v string) string {
	switch d := markerDepth(v); {
	case d == 1:
		return ""
	case d > 1:
		return v[1 : len(v)-1]
	}
	return v
}

// markerDepth is n when s is "none" in n pairs of parentheses, else 0.
func markerDepth(s string) int {
	n := 0
	for n < len(s) && s[n] == '(' {
		n++
	}
	if n == 0 || len(s) != 2*n+4 || s[n:n+4] != "none" || strings.Trim(s[n+4:], ")") != "" {
		return 0
	}
	return n
}

// params holds one request's query parameters, checked against the names the endpoint
// accepts: a typo ("citty=") is an error, not a silently ignored filter.
type params struct{ v url.Values }

// parseParams parses r's query string, refusing malformed escapes, unknown names, repeated
// names and values that are too long, not UTF-8 or hold control characters.
func parseParams(r *http.Request, allowed ...string) (params, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return params{}, badf("malformed query string: %v", err)
	}
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return params{}, badf("unknown parameter %s: this endpoint takes none", quote(name))
			}
			return params{}, badf("unknown parameter %s: this endpoint takes %s", quote(name), strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return params{}, badf("parameter %s given %d times; give it once", name, len(vals))
		}
		if err := checkValue(name, vals[0]); err != nil {
			return params{}, err
		}
	}
	if err := checkFormat(v, slices.Contains(allowed, "chart")); err != nil {
		return params{}, err
	}
	return params{v}, nil
}

// checkFormat checks format (json, the default, or csv) and chart, which names one chart
// of an endpoint that has several (see reviewCharts): given only with format=csv, and then
// required when several is set.
func checkFormat(v url.Values, several bool) error {
	format, chart := v.Get("format"), v.Get("chart")
	switch format {
	case "", "json", "csv":
	default:
		return badf("format: %s is not a format: json or csv", quote(format))
	}
	switch {
	case chart != "" && format != "csv":
		return badf("chart: only with format=csv")
	case chart != "" && !slices.Contains(reviewCharts, chart):
		return badf("chart: %s is not a chart of this endpoint: %s", quote(chart), strings.Join(reviewCharts, ", "))
	case chart == "" && format == "csv" && several:
		return badf("chart: this endpoint has several charts; give format=csv with chart= one of %s", strings.Join(reviewCharts, ", "))
	}
	return nil
}

// checkValue checks one parameter's value. An agency or request type may be as long as a
// stored key and hold the control characters one can (a quoted line break in a CSV export,
// a tab, U+0085): what the API lists it must take back. Only what no stored key can hold
// is refused there: invalid UTF-8 and NUL, which PostgreSQL's text refuses (the normalizer
// rejects such records). Every other parameter is short, printable text.
func checkValue(name, s string) error {
	key := name == "agency" || name == "type"
	max := maxValueLen
	if key {
		max = maxKeyText + 2
	}
	if len(s) > max {
		return badf("%s: value longer than %d bytes", name, max)
	}
	if !utf8.ValidString(s) {
		return badf("%s: value is not UTF-8", name)
	}
	switch {
	case key && strings.IndexByte(s, 0) >= 0:
		return badf("%s: value holds a NUL byte, which no agency or request type can", name)
	case !key && strings.ContainsFunc(s, unicode.IsControl):
		return badf("%s: value holds control characters", name)
	}
	return nil
}

// quote shows a client's value in an error message: quoted and cut short.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

func (p params) get(name string) string { return p.v.Get(name) }

// city returns the required city parameter, which must be a city with data.
func (p params) city(md *metadata) (*cityMeta, error) {
	id := p.get("city")
	if id == "" {
		return nil, badf("missing parameter city: one of %s", md.cityList())
	}
	c, ok := md.byID[id]
	if !ok {
		return nil, badf("unknown city %s: one of %s", quote(id), md.cityList())
	}
	return c, nil
}

// cities returns the comma-separated cities parameter: between 1 and max distinct cities
// with data, in the order given. Absent means every city when all is set, else an error.
func (p params) cities(md *metadata, max int, all bool) ([]*cityMeta, error) {
	s := p.get("cities")
	if s == "" {
		if all {
			return md.cities, nil
		}
		return nil, badf("missing parameter cities: up to %d of %s, comma-separated", max, md.cityList())
	}
	var out []*cityMeta
	for _, id := range strings.Split(s, ",") {
		c, ok := md.byID[id]
		if !ok {
			return nil, badf("unknown city %s in cities: choose from %s", quote(id), md.cityList())
		}
		if slices.Contains(out, c) {
			return nil, badf("city %s listed twice in cities", id)
		}
		out = append(out, c)
	}
	if len(out) > max {
		return nil, badf("cities: %d given, at most %d", len(out), max)
	}
	return out, nil
}

// agency returns the agency parameter as the table's key: "" (absent) means all agencies
// and all is true; otherwise the parameter is a value /api/agencies lists (see keyValue:
// "(none)" means the rows without an agency).
func (p params) agency(c *cityMeta) (key string, all bool, err error) {
	return p.textKey("agency", c.Name, c.agencySet)
}

// requestType is like agency, for the type parameter.
func (p params) requestType(c *cityMeta) (key string, all bool, err error) {
	return p.textKey("type", c.Name, c.typeSet)
}

func (p params) textKey(name, city string, set map[string]bool) (string, bool, error) {
	v, ok := p.v[name]
	if !ok || v[0] == "" {
		return "", true, nil
	}
	key := keyOf(v[0])
	if !set[key] {
		return "", false, badf("unknown %s %s for %s: use a value listed by /api/%s", name, quote(v[0]), city, map[string]string{"agency": "agencies", "type": "request-types"}[name])
	}
	return key, false, nil
}

// month is a calendar month as a count of months since January of year 0, so that month
// ranges are integer ranges.
type month int

const (
	minYear = 1900
	maxYear = 2199
)

func monthOf(year, mon int) month { return month(year*12 + mon - 1) }

func (m month) year() int      { return int(m) / 12 }
func (m month) mon() int       { return int(m)%12 + 1 }
func (m month) String() string { return fmt.Sprintf("%04d-%02d", m.year(), m.mon()) }

// firstDay and lastDay are the month's first and last dates, at midnight UTC (dates carry
// no zone: agency_daily's day is the city's local date).
func (m month) firstDay() time.Time {
	return time.Date(m.year(), time.Month(m.mon()), 1, 0, 0, 0, 0, time.UTC)
}
func (m month) lastDay() time.Time { return (m + 1).firstDay().AddDate(0, 0, -1) }

// label is the month as a reader writes it: "Mar 2012".
func (m month) label() string { return m.firstDay().Format("Jan 2006") }

// parseMonth parses YYYY-MM.
func parseMonth(name, s string) (month, error) {
	bad := func() (month, error) {
		return 0, badf("%s: %s is not a month: want YYYY-MM between %d-01 and %d-12", name, quote(s), minYear, maxYear)
	}
	if len(s) != 7 || s[4] != '-' {
		return bad()
	}
	y, err1 := strconv.Atoi(s[:4])
	m, err2 := strconv.Atoi(s[5:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[5] == '+' || y < minYear || y > maxYear || m < 1 || m > 12 {
		return bad()
	}
	return monthOf(y, m), nil
}

// month returns the month parameter name, or def when it is absent.
func (p params) month(name string, def month) (month, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	return parseMonth(name, s)
}

// period is an inclusive range of months. The zero period with all set means "all time".
type period struct {
	from, to month
	all      bool
}

// period reads from and to (YYYY-MM). Absent ends default to def's; def.all (with both
// absent) gives an unbounded period.
func (p params) period(def period) (period, error) {
	if def.all && p.get("from") == "" && p.get("to") == "" {
		return period{all: true}, nil
	}
	if def.all {
		def = period{from: monthOf(minYear, 1), to: monthOf(maxYear, 12)}
	}
	from, err := p.month("from", def.from)
	if err != nil {
		return period{}, err
	}
	to, err := p.month("to", def.to)
	if err != nil {
		return period{}, err
	}
	if from > to {
		return period{}, badf("from %s is after to %s", from, to)
	}
	return period{from: from, to: to}, nil
}

// label says when the period is, for messages: "in 2012", "in Mar 2012",
// "in 2012–2014", "between Mar 2012 and May 2013"; "" for all time.
func (pd period) label() string {
	switch {
	case pd.all:
		return ""
	case pd.from == pd.to:
		return "in " + pd.from.label()
	case pd.from.mon() == 1 && pd.to.mon() == 12 && pd.from.year() == pd.to.year():
		return fmt.Sprintf("in %d", pd.from.year())
	case pd.from.mon() == 1 && pd.to.mon() == 12:
		return fmt.Sprintf("in %d–%d", pd.from.year(), pd.to.year())
	}
	return "between " + pd.from.label() + " and " + pd.to.label()
}

func (pd period) json() map[string]string {
	if pd.all {
		return map[string]string{"from": "", "to": "", "label": pd.display()}
	}
	return map[string]string{"from": pd.from.String(), "to": pd.to.String(), "label": pd.display()}
}

// display names the period for a heading: "all time", "2012", "Mar 2012", "2012–2014",
// "Jul 2008 – Jan 2016".
func (pd period) display() string {
	switch l := pd.label(); {
	case pd.all:
		return "all time"
	case strings.HasPrefix(l, "in "):
		return strings.TrimPrefix(l, "in ")
	}
	return pd.from.label() + " – " + pd.to.label()
}

// fileLabel names the period in a file name: "2012-03_2013-05", "2012-03", "" for all time.
func (pd period) fileLabel() string {
	switch {
	case pd.all:
		return ""
	case pd.from == pd.to:
		return pd.from.String()
	}
	return pd.from.String() + "_" + pd.to.String()
}

// int returns the integer parameter name in [lo, hi], or def when absent.
func (p params) int(name string, def, lo, hi int) (int, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || s[0] == '+' {
		return 0, badf("%s: %s is not a whole number from %d to %d", name, quote(s), lo, hi)
	}
	return n, nil
}
