package jobs

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Inferring a schema from a file (`coordinator schema infer`): a new city in minutes. Each
// normalized field takes the column that scores best on two kinds of evidence:
//
//   - its name, against the vocabulary of the built-in schemas (every column name they map
//     to the field, read from the registry, so each new built-in teaches inference its
//     names) and a few generic words per field ("created", "status", "zip");
//   - its values: unique ids of one shape, timestamps and their dialect (dialect.go), the
//     earliest timestamp of a record for created_at, coordinates in range, a small
//     vocabulary of statuses that map to open/closed, zip codes, short low-cardinality text.
//
// A column goes to one field; fields are served best score first. A field that can reject
// a record (coordinates, times) takes a column only when every sampled value parses, so
// that an inferred schema does not reject what the file holds. Two things the values show
// go beyond a column per field: integers written as floats ("64108.0") in a column a text
// field reads turn on integer_floats, and a date-only time column whose time of day is in a
// column of its own is joined with it, as the built-in kansas_city schema joins "CREATION
// DATE" and "CREATION TIME", when every sampled record has both or neither. The result is
// printed as a commented schema block, ready to paste (infer_print.go); its confidence
// figures are the scores (0–1).

// InferOptions configures InferSchema.
type InferOptions struct {
	// Name names the schema; "" names it after the city.
	Name string
	// City is the records' city; "" gives the placeholder "city".
	City string
	// Timezone is the city's IANA zone; "" gives "UTC" with a comment asking for the real one.
	Timezone string
	// Source names the file sampled, for the comments.
	Source string
	// Format is the file's format, for the comments.
	Format Format
	// DateOrder settles ambiguous dates (every day ≤ 12), as Schema.DateOrder does.
	DateOrder string
	// Exclude names built-in schemas whose column names are left out of the vocabulary, to
	// infer a built-in city's file as if the city were unknown.
	Exclude []string
}

// InferredField is the column chosen for one normalized field, or none.
type InferredField struct {
	Field      string  `json:"field"`
	Column     string  `json:"column,omitempty"`
	Confidence float64 `json:"confidence"`
	Why        string  `json:"why,omitempty"`
	// RunnerUp is the next best column for the field, with its confidence.
	RunnerUp           string    `json:"runner_up,omitempty"`
	RunnerUpConfidence float64   `json:"runner_up_confidence,omitempty"`
	Dialect            *Detected `json:"dialect,omitempty"` // time fields
	// Closed, Open and Other sort a status column's values.
	Closed []string `json:"closed,omitempty"`
	Open   []string `json:"open,omitempty"`
	Other  []string `json:"other,omitempty"`
	Nulls  int      `json:"nulls"` // null values of the column in the sample
	// TimeOfDay names a column of times of day ("07:28 AM") that goes with a date-only time
	// field's column ("CREATION DATE" and "CREATION TIME").
	TimeOfDay string `json:"time_of_day,omitempty"`
	// Joined are the columns the field joins, Column first and TimeOfDay second, when every
	// sampled record holds both or neither: the block reads
	// columns = [["CREATION DATE", "CREATION TIME"]], as the built-in kansas_city schema
	// does, and Dialect is the joined values' ("%m/%d/%Y %I:%M %p"). NotJoined says why a
	// TimeOfDay column is not joined.
	Joined    []string `json:"joined,omitempty"`
	NotJoined string   `json:"not_joined,omitempty"`
	// X and Y are the projected coordinate columns the point field reads when no column
	// holds a location otherwise (infer_score.go, projected), and CRS their system: the one
	// supported system that places the sampled points in its area. CRS is "" when none or
	// several do; Candidates names those that do, and the block prints the point
	// commented out.
	X          string   `json:"x,omitempty"`
	Y          string   `json:"y,omitempty"`
	CRS        string   `json:"crs,omitempty"`
	Candidates []string `json:"crs_candidates,omitempty"`
}

// columns are the columns the field reads: Joined, else Column.
func (f *InferredField) columns() []string {
	if f.Joined != nil {
		return f.Joined
	}
	return []string{f.Column}
}

// IntegerFloat is a column, read by a field that integer_floats applies to, that holds
// integers written as floats ("64108.0").
type IntegerFloat struct {
	Field   string `json:"field"`
	Column  string `json:"column"`
	Example string `json:"example"` // the first such value
	Count   int    `json:"count"`   // sampled values written so
	Values  int    `json:"values"`  // non-null values sampled
}

// Inferred is an inferred schema with the evidence for it.
type Inferred struct {
	Options InferOptions    `json:"options"`
	Records int             `json:"records"` // records sampled
	Header  []string        `json:"header"`
	Fields  []InferredField `json:"fields"` // every field, in record order
	// Nulls are the null spellings seen (always ""); NullColumns counts the columns each
	// appeared in.
	Nulls       []string       `json:"nulls"`
	NullColumns map[string]int `json:"null_columns"`
	// Placeholders are whole-degree points seen more than once: likely "no location".
	Placeholders [][2]float64 `json:"placeholder_points,omitempty"`
	// TimeColumns are the columns read as timestamps, with their dialects.
	TimeColumns map[string]Detected `json:"time_columns"`
	// IntegerFloats are the fields' columns that hold integers written as floats, as a
	// pandas round trip writes a column of integers with gaps (Kansas City's "ZIP CODE"
	// 64108.0): when there is any, the block sets integer_floats, which reads them as the
	// integers they were in the request id and every kept text field.
	IntegerFloats []IntegerFloat `json:"integer_floats,omitempty"`
}

// nullSpellings are values that exports write for "nothing", beside the empty string.
var nullSpellings = []string{"NA", "N/A", "n/a", "NULL", "null", "None", "NaN", "nan", "#N/A"}

// colProfile is what the sample says about one column.
type colProfile struct {
	idx       int
	name      string
	norm      string   // lower-case letters and digits of the name
	tokens    []string // the name's words, lower case
	vals      []string // non-null values, trimmed, by record (""  where null)
	nonNull   int
	distinct  int
	shapeFrac float64 // the share of values with the most common shape
	shape     string  // that shape, as an example value
	avgLen    float64
	spaces    float64 // share of values with a space
	urls      float64
	numeric   float64 // share of values that are numbers
	decimals  float64 // share of values with a fraction part other than .0
	min, max  float64
	points    float64 // share that parsePoint reads
	zips      float64
	time      *Detected
	timeOK    bool        // a timestamp column: a dialect reads every value
	instants  []time.Time // per record (zero where null or unread)
	dateOnly  bool
	timeOfDay bool           // every value is a time of day without a date
	early     float64        // see earliest; -1 when there is nothing to compare with
	counts    map[string]int // value → count, for small vocabularies (nil when large)
}

func (c *colProfile) nullFrac(records int) float64 {
	if records == 0 {
		return 1
	}
	return 1 - float64(c.nonNull)/float64(records)
}

// InferSchema infers a schema from a file's header and its first records (rows of
// strings, one per header column; SODAToRows turns SODA objects into them). It fails when
// no column can be the request id or the creation time.
func InferSchema(header []string, rows [][]string, opt InferOptions) (*Inferred, error) {
	if opt.City == "" {
		opt.City = "city"
	}
	if err := checkCity(opt.City); err != nil {
		return nil, err
	}
	if opt.Name == "" {
		opt.Name = opt.City
	}
	if opt.Timezone != "" {
		if _, err := loadTimezone(opt.Timezone); err != nil {
			return nil, err
		}
	}
	if err := checkDateOrder(opt.DateOrder); err != nil {
		return nil, err
	}
	if len(header) == 0 {
		return nil, fmt.Errorf("the file has no columns")
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("the file has no records to infer a schema from")
	}
	inf := &Inferred{Options: opt, Records: len(rows), Header: slices.Clone(header), NullColumns: map[string]int{}, TimeColumns: map[string]Detected{}}
	nulls := map[string]bool{"": true}
	for i := range header {
		for _, tok := range nullSpellings {
			for _, r := range rows {
				if i < len(r) && strings.TrimSpace(r[i]) == tok {
					nulls[tok] = true
					inf.NullColumns[tok]++
					break
				}
			}
		}
	}
	inf.Nulls = []string{""}
	for _, tok := range nullSpellings {
		if nulls[tok] {
			inf.Nulls = append(inf.Nulls, tok)
		}
	}
	cols := make([]*colProfile, len(header))
	for i, h := range header {
		cols[i] = profile(i, h, rows, nulls, opt.DateOrder)
		inf.NullColumns[""] += boolInt(cols[i].nonNull < len(rows))
		if cols[i].timeOK {
			inf.TimeColumns[h] = *cols[i].time
		}
	}
	earliest(cols)
	inf.Fields = assign(cols, len(rows), newVocabulary(opt.Exclude))
	for _, f := range inf.Fields {
		if (f.Field == "request_id" || f.Field == "created_at") && f.Column == "" {
			return inf, fmt.Errorf("no column can be %s: %s", f.Field, f.Why)
		}
	}
	inf.Placeholders = placeholders(inf.Fields, cols)
	timesOfDay(inf.Fields, cols, opt.DateOrder)
	inf.IntegerFloats = integerFloats(inf.Fields, cols)
	projected(inf.Fields, cols, len(rows))
	return inf, nil
}

// isTimeOfDay reports whether v is a time of day: h:mm or h:mm:ss, 12-hour with AM/PM or
// 24-hour.
func isTimeOfDay(v string) bool {
	for _, l := range []string{"3:04 PM", "3:04:05 PM", "3:04PM", "15:04", "15:04:05"} {
		if _, err := time.Parse(l, strings.ToUpper(v)); err == nil {
			return true
		}
	}
	return false
}

// timesOfDay finds, for each date-only time field, a column of times of day whose name
// shares a word with the field's column (an export that splits date and time), and joins
// the two when it can (joinTimeOfDay).
func timesOfDay(fields []InferredField, cols []*colProfile, dateOrder string) {
	claims := map[string]int{} // time-of-day column → the date columns it goes with
	for f := range fields {
		d := fields[f].Dialect
		if d == nil || strings.Contains(d.Layout, "%H") || strings.Contains(d.Layout, "%I") || d.Layout == "unix" || d.Layout == "unix_ms" {
			continue
		}
		var words []string
		if c := colNamed(cols, fields[f].Column); c != nil {
			words = c.tokens
		}
		for _, c := range cols {
			if !c.timeOfDay || c.nonNull == 0 {
				continue
			}
			for _, w := range c.tokens {
				if w != "date" && w != "time" && slices.Contains(words, w) {
					fields[f].TimeOfDay = c.name
				}
			}
		}
		if fields[f].TimeOfDay != "" {
			claims[fields[f].TimeOfDay]++
		}
	}
	for f := range fields {
		if tod := fields[f].TimeOfDay; tod != "" {
			fields[f].NotJoined = joinTimeOfDay(&fields[f], colNamed(cols, fields[f].Column), colNamed(cols, tod), cols, claims[tod], dateOrder)
		}
	}
}

// joinTimeOfDay joins a date-only field's column with its time-of-day column, as the
// built-in kansas_city schema joins "CREATION DATE" and "CREATION TIME", or says why not.
// Joined, a date without its time (or a time without its date) would be a value the joined
// dialect cannot read, and its record a reject: it joins only when every sampled record
// holds both or neither, and one dialect with a time of day reads every joined value.
func joinTimeOfDay(f *InferredField, date, tod *colProfile, cols []*colProfile, claims int, dateOrder string) string {
	switch {
	case date == nil || tod == nil:
		return "a bug: no such column" // the columns were found by these names
	case claims > 1:
		return fmt.Sprintf("%q goes with another date column too", tod.name)
	case !blockNames(date, cols) || !blockNames(tod, cols):
		return "a schema block cannot name both columns (not UTF-8, blank, or another column's name in another case)"
	}
	var vals [][]byte
	for r := range date.vals {
		d, t := date.vals[r], tod.vals[r]
		switch {
		case d != "" && t == "":
			return fmt.Sprintf("sampled record %d has the date %q without a time of day", r+1, d)
		case d == "" && t != "":
			return fmt.Sprintf("sampled record %d has the time of day %q without a date", r+1, t)
		case d != "" && len(vals) < DetectValues:
			vals = append(vals, []byte(d+" "+t))
		}
	}
	dl, err := DetectDialect(vals, dateOrder)
	switch {
	case err != nil:
		return fmt.Sprintf("no one dialect reads the joined values (%v)", err)
	case dl.Unreadable > 0:
		return fmt.Sprintf("%d joined values are unreadable, such as %q", dl.Unreadable, dl.Example)
	case !strings.Contains(dl.Layout, "%H") && !strings.Contains(dl.Layout, "%I"):
		return fmt.Sprintf("the joined values read as %q, without a time of day", dl.Layout)
	}
	f.Joined, f.Dialect = []string{date.name, tod.name}, &dl
	return ""
}

// blockNames reports whether a schema block can name column c: the name is UTF-8 (an HCL
// string holds nothing else), and header binding, which trims spaces (and a byte order mark
// before the first column) and ignores case, finds it before any other column.
func blockNames(c *colProfile, cols []*colProfile) bool {
	name := strings.TrimSpace(c.name)
	if !utf8.ValidString(c.name) || name == "" {
		return false
	}
	for _, o := range cols {
		h := o.name
		if o.idx == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		if strings.EqualFold(strings.TrimSpace(h), name) {
			return o == c
		}
	}
	return false
}

// integerFloats finds, in the columns of the fields integer_floats applies to, integers
// written as floats ("64108.0", what trimZeroFraction trims). A column counts only when
// none of its numbers has a fraction: in a column of real fractions ("64108.5") a "2.0"
// is a float, not an integer in disguise.
func integerFloats(fields []InferredField, cols []*colProfile) []IntegerFloat {
	var out []IntegerFloat
	for _, id := range intFloatFields {
		f := &fields[id]
		c := colNamed(cols, f.Column)
		if c == nil || c.decimals > 0 {
			continue
		}
		fl := IntegerFloat{Field: f.Field, Column: c.name, Values: c.nonNull}
		for _, v := range c.vals {
			if v != "" && len(trimZeroFraction([]byte(v))) != len(v) {
				if fl.Count++; fl.Example == "" {
					fl.Example = v
				}
			}
		}
		if fl.Count > 0 {
			out = append(out, fl)
		}
	}
	return out
}

// colNamed is the first column named name, as header binding finds a schema's column
// (nil for "" or none): the profile of the column a field took.
func colNamed(cols []*colProfile, name string) *colProfile {
	if name == "" {
		return nil
	}
	for _, c := range cols {
		if c.name == name {
			return c
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// normName keeps a name's letters and digits, in lower case: "Created Date", "created_date"
// and "CreatedDate" are one name.
func normName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// nameTokens splits a name into words at non-letters and at lower→upper case changes.
func nameTokens(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prev := rune(0)
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return out
}

// shapeOf writes a value's shape: digits as 9, letters as a, runs kept.
func shapeOf(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			b.WriteByte('9')
		case unicode.IsLetter(r):
			b.WriteByte('a')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isZip(v string) bool {
	v = strings.TrimSuffix(v, ".0") // a pandas round trip writes 64108 as 64108.0
	if len(v) == 10 && v[5] == '-' {
		return allDigits(v[:5]) && allDigits(v[6:])
	}
	return len(v) == 5 && allDigits(v)
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// maxVocabulary bounds the values counted per column for status-like vocabularies.
const maxVocabulary = 60

func profile(i int, name string, rows [][]string, nulls map[string]bool, dateOrder string) *colProfile {
	c := &colProfile{idx: i, name: name, norm: normName(name), tokens: nameTokens(name), vals: make([]string, len(rows)),
		counts: map[string]int{}, min: math.Inf(1), max: math.Inf(-1)}
	shapes := map[string]int{}
	distinct := map[string]bool{}
	var raw [][]byte
	var totalLen, spaces, urls, numeric, decimals, points, zips, digits int
	for r, row := range rows {
		if i >= len(row) {
			continue
		}
		v := strings.TrimSpace(row[i])
		if nulls[v] {
			continue
		}
		c.vals[r] = v
		c.nonNull++
		distinct[v] = true
		if c.counts != nil {
			c.counts[v]++
			if len(c.counts) > maxVocabulary {
				c.counts = nil
			}
		}
		shapes[shapeOf(v)]++
		totalLen += len(v)
		if strings.ContainsAny(v, " \t\n") {
			spaces++
		}
		if strings.Contains(v, "://") {
			urls++
		}
		if strings.ContainsAny(v, "0123456789") {
			digits++
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			numeric++
			c.min, c.max = min(c.min, f), max(c.max, f)
			if f != math.Trunc(f) {
				decimals++
			}
		}
		if _, _, ok := parsePoint([]byte(v)); ok {
			points++
		}
		if isZip(v) {
			zips++
		}
		raw = append(raw, []byte(v))
	}
	if c.nonNull == 0 {
		return c
	}
	n := float64(c.nonNull)
	c.distinct = len(distinct)
	c.avgLen = float64(totalLen) / n
	c.spaces, c.urls, c.numeric, c.decimals = float64(spaces)/n, float64(urls)/n, float64(numeric)/n, float64(decimals)/n
	c.points, c.zips = float64(points)/n, float64(zips)/n
	best := ""
	for s, k := range shapes {
		if k > shapes[best] || k == shapes[best] && s < best {
			best = s
		}
	}
	c.shapeFrac = float64(shapes[best]) / n
	for _, v := range c.vals {
		if v != "" && shapeOf(v) == best {
			c.shape = v
			break
		}
	}
	// Timestamps: only columns whose values carry digits and are not long text.
	if float64(digits) >= 0.9*n && c.avgLen >= 6 && c.avgLen <= 40 {
		if len(raw) > DetectValues {
			raw = raw[:DetectValues]
		}
		if d, err := DetectDialect(raw, dateOrder); err == nil {
			c.time = &d
			epoch := d.Layout == "unix" || d.Layout == "unix_ms"
			c.timeOK = d.Unreadable == 0 && (!epoch || timeish(c))
			c.dateOnly = !strings.Contains(d.Layout, "%H") && !strings.Contains(d.Layout, "%I") && !epoch
		}
	}
	c.timeOfDay = true
	for _, v := range raw {
		if !isTimeOfDay(string(v)) {
			c.timeOfDay = false
			break
		}
	}
	if c.timeOK {
		tl, _ := compileLayout(c.time.Layout)
		var zc zoneCache
		c.instants = make([]time.Time, len(rows))
		for r, v := range c.vals {
			if v == "" {
				continue
			}
			if p, ok := tl.parse([]byte(v), time.UTC, &zc); ok {
				c.instants[r] = p.time()
			}
		}
	}
	return c
}

// timeish reports whether a column's name says it holds times: a number is taken for
// seconds since the epoch only then (ids and parcel numbers have ten digits too).
func timeish(c *colProfile) bool {
	for _, w := range []string{"date", "time", "stamp", "created", "closed", "updated", "modified", "opened", "when"} {
		if strings.Contains(c.norm, w) {
			return true
		}
	}
	for _, t := range c.tokens {
		if t == "dt" || t == "ts" || t == "at" {
			return true
		}
	}
	return false
}

// earliest sets, per timestamp column, the share of its comparisons with the other
// timestamp columns of the same records in which it is the earlier (or equal): the
// creation time precedes the others.
func earliest(cols []*colProfile) {
	var ts []*colProfile
	for _, c := range cols {
		if c.timeOK {
			ts = append(ts, c)
		}
	}
	for _, a := range ts {
		le, n := 0, 0
		for _, b := range ts {
			if a == b {
				continue
			}
			for r := range a.instants {
				ta, tb := a.instants[r], b.instants[r]
				if ta.IsZero() || tb.IsZero() {
					continue
				}
				n++
				// Local and offset columns differ by hours; a day's slack keeps the order
				// of a creation time against the same day's other times.
				if a.dateOnly || b.dateOnly {
					if !ta.After(tb.Add(24 * time.Hour)) {
						le++
					}
				} else if !ta.After(tb) {
					le++
				}
			}
		}
		a.early = -1
		if n > 0 {
			a.early = float64(le) / float64(n)
		}
	}
}
