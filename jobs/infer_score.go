package jobs

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ireports/ireports/internal/crs"
)

// Scoring a column as a field. Every scorer returns 0 for a column that cannot be the
// field, else a score in (0, 1] and the reasons, for the printed schema.

// vocabWord is a column name a built-in schema maps to a field.
type vocabWord struct {
	norm, name, schema string
}

// vocabulary is what the built-in schemas teach: column names per field, and the status
// values they call open or closed.
type vocabulary struct {
	names  [numFields][]vocabWord
	status map[string]string // lower-cased value → "open" | "closed"
}

// newVocabulary reads the built-in registry, leaving out the schemas named in exclude.
func newVocabulary(exclude []string) *vocabulary {
	v := &vocabulary{status: map[string]string{}}
	m, _ := builtinSchemas()
	names := make([]string, 0, len(m))
	for n := range m {
		if !slices.Contains(exclude, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		for _, f := range m[n].Fields {
			id, ok := lookupField(f.Name)
			if !ok {
				continue
			}
			for _, cand := range f.Columns {
				// A joined candidate's first column carries the field's name ("CREATION
				// DATE" of "CREATION DATE" + "CREATION TIME"); the rest complete its value.
				c := cand[0]
				if norm := normName(c); norm != "" {
					v.names[id] = append(v.names[id], vocabWord{norm: norm, name: c, schema: n})
				}
			}
			for _, s := range f.Closed {
				v.status[strings.ToLower(strings.TrimSpace(s))] = "closed"
			}
			for _, s := range f.Open {
				v.status[strings.ToLower(strings.TrimSpace(s))] = "open"
			}
		}
	}
	return v
}

// hint is a generic word that suggests a field, with how strongly.
type hint struct {
	word   string
	weight float64
}

// fieldHints are generic words, not any city's column names (those come from the built-in
// schemas): they let inference read names no built-in uses, such as "DATETIMEINIT".
var fieldHints = [numFields][]hint{
	fRequestID:      {{"id", .55}, {"key", .55}, {"number", .55}, {"num", .5}, {"no", .45}, {"ticket", .55}, {"case", .5}, {"sr", .45}},
	fCreatedAt:      {{"created", .8}, {"creation", .8}, {"create", .7}, {"opened", .75}, {"open", .6}, {"init", .65}, {"add", .6}, {"added", .6}, {"requested", .6}, {"received", .6}, {"reported", .6}, {"submitted", .6}, {"start", .45}},
	fClosedAt:       {{"closed", .8}, {"close", .75}, {"completion", .75}, {"completed", .75}, {"resolved", .75}, {"resolution", .7}, {"finished", .6}, {"end", .4}},
	fUpdatedAt:      {{"updated", .8}, {"update", .7}, {"modified", .75}, {"changed", .6}, {"edited", .6}, {"last", .4}},
	fStatus:         {{"status", .8}, {"state", .45}},
	fAgency:         {{"agency", .8}, {"department", .75}, {"dept", .7}, {"owner", .6}, {"responsible", .65}, {"organization", .65}, {"division", .6}, {"bureau", .6}, {"assigned", .5}, {"group", .35}},
	fRequestType:    {{"type", .7}, {"category", .6}, {"complaint", .6}, {"problem", .55}, {"service", .45}, {"reason", .5}, {"request", .4}, {"code", .35}},
	fRequestSubtype: {{"subtype", .8}, {"descriptor", .7}, {"subcategory", .7}, {"detail", .55}},
	fZip:            {{"zipcode", .85}, {"zip", .8}, {"postal", .75}},
	fNeighborhood:   {{"neighborhood", .85}, {"neighbourhood", .85}, {"nbh", .6}, {"community", .5}},
	fChannel:        {{"channel", .8}, {"source", .7}, {"method", .65}, {"origin", .6}},
	fLatitude:       {{"latitude", .85}, {"lat", .75}},
	fLongitude:      {{"longitude", .85}, {"lon", .75}, {"lng", .75}, {"long", .7}},
	fPoint:          {{"geolocation", .75}, {"point", .7}, {"location", .6}, {"geocode", .6}, {"geom", .6}, {"coordinates", .5}},
}

// similarity is 1 minus the edit distance of two names over the longer's length: 0.85 for
// "servicerequestnumber" and "servicerequestnum", 0.43 for "duedate" and "updated".
func similarity(a, b string) float64 {
	const maxLen = 64 // longer names are compared by their start
	a, b = a[:min(len(a), maxLen)], b[:min(len(b), maxLen)]
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return 1 - float64(prev[len(b)])/float64(max(len(a), len(b)))
}

// nameScore says how much a column's name suggests field f, and why.
func (v *vocabulary) nameScore(f fieldID, c *colProfile) (float64, string) {
	best, why := 0.0, ""
	for _, w := range v.names[f] {
		s := 0.0
		switch d := similarity(c.norm, w.norm); {
		case c.norm == w.norm:
			s = 1
		case d >= 0.75:
			s = 0.9 * d
		}
		if s > best {
			best, why = s, fmt.Sprintf("name like %q (%s)", w.name, w.schema)
			if s == 1 {
				why = fmt.Sprintf("name as in %s's %q", w.schema, w.name)
			}
		}
	}
	// Generic words: the strongest counts, each other one adds a little ("Complaint Type"
	// says request type more than "Address Type" does).
	hs, words, extra := 0.0, []string(nil), 0.0
	for _, h := range fieldHints[f] {
		if !hasWord(c, h.word) || slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, h.word) }) {
			continue
		}
		if h.weight > hs {
			extra += 0.1 * float64(boolInt(hs > 0))
			hs = h.weight
		} else {
			extra += 0.1
		}
		words = append(words, fmt.Sprintf("%q", h.word))
	}
	if hs > 0 {
		hs = min(hs+extra, 0.95)
	}
	if hs > best {
		best, why = hs, strings.Join(words, " and ")+" in the name"
	}
	return best, why
}

// hasWord reports whether a column's name holds a word: as a substring of its normalized
// name for words of four letters or more, else as one of its words or, for two and three
// letters other than "no", at the start or end of its normalized name ("SERVICEREQUESTID").
func hasWord(c *colProfile, w string) bool {
	if len(w) >= 4 {
		return strings.Contains(c.norm, w)
	}
	if slices.Contains(c.tokens, w) {
		return true
	}
	return w != "no" && len(c.norm) > len(w) && (strings.HasPrefix(c.norm, w) || strings.HasSuffix(c.norm, w))
}

// scored is one column's score as one field.
type scored struct {
	f     fieldID
	c     *colProfile
	score float64
	why   string
}

// score scores column c as field f over a sample of records records.
func (v *vocabulary) score(f fieldID, c *colProfile, records int) (float64, string) {
	if c.nonNull == 0 {
		return 0, ""
	}
	name, nameWhy := v.nameScore(f, c)
	n := float64(c.nonNull)
	u := float64(c.distinct) / n
	text := c.numeric < 0.5 && !c.timeOK && c.urls == 0
	var reasons []string
	add := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	if nameWhy != "" {
		reasons = append(reasons, nameWhy)
	}
	s := 0.0
	switch f {
	case fRequestID:
		epoch := c.time != nil && (c.time.Layout == "unix" || c.time.Layout == "unix_ms")
		if c.nullFrac(records) > 0.01 || u < 0.5 || c.urls > 0 || c.spaces > 0.05 || c.avgLen > 40 || c.decimals > 0 || (c.timeOK && !epoch) {
			return 0, ""
		}
		shape := math.Pow(u, 8) * math.Pow(c.shapeFrac, 3)
		s = 0.5*name + 0.5*shape
		add("%d distinct of %d", c.distinct, c.nonNull)
		if c.shapeFrac == 1 {
			add("all of one shape (%s)", c.shape)
		} else {
			add("%.0f%% of one shape (%s)", 100*c.shapeFrac, c.shape)
		}
	case fCreatedAt, fClosedAt, fUpdatedAt:
		if !c.timeOK {
			return 0, ""
		}
		add("timestamps: %s", c.time.Dialect)
		early := c.early
		if early < 0 {
			early = 0.5
		}
		switch f {
		case fCreatedAt:
			if c.nullFrac(records) > 0.01 {
				return 0, ""
			}
			s = 0.6*name + 0.3*early + 0.1*float64(boolInt(!c.dateOnly))
			if c.early >= 0 {
				add("the earliest of the record's times in %.0f%% of comparisons", 100*c.early)
			}
		case fClosedAt, fUpdatedAt:
			if name < 0.45 {
				return 0, ""
			}
			s = 0.75*name + 0.25*(1-early)
		}
	case fStatus:
		if c.counts == nil || c.distinct < 2 || !text || c.avgLen > 30 || c.nonNull*2 < records {
			return 0, ""
		}
		known := 0
		for val, k := range c.counts {
			if v.statusOf(val) != "" {
				known += k
			}
		}
		share := float64(known) / n
		if share < 0.3 {
			return 0, ""
		}
		s = 0.5*name + 0.5*share
		add("%d values, %.0f%% of records read as open or closed", c.distinct, 100*share)
	case fAgency, fRequestType, fRequestSubtype, fNeighborhood, fChannel:
		if name < 0.45 || u > 0.5 || c.avgLen > 80 || c.urls > 0 || c.timeOK {
			return 0, ""
		}
		if f == fChannel && c.counts == nil {
			return 0, ""
		}
		if (f == fRequestType || f == fRequestSubtype) && (c.distinct < 3 || c.avgLen < 3) {
			return 0, "" // "A"/"B" is a kind of address, not of request
		}
		s = 0.85*name + 0.15*(1-u)
		if f == fRequestType || f == fRequestSubtype {
			// Types are many; a column of four values is more likely a channel or a kind
			// of caller.
			s = 0.75*name + 0.25*min(1, float64(c.distinct)/20)
		}
		add("%d distinct values", c.distinct)
	case fZip:
		if name < 0.45 || c.zips < 0.9 {
			return 0, ""
		}
		s = 0.6*name + 0.4*c.zips
		add("%.0f%% zip codes", 100*c.zips)
	case fLatitude, fLongitude:
		lim := 90.0
		if f == fLongitude {
			lim = 180
		}
		if name < 0.45 || c.numeric < 1 || c.min < -lim || c.max > lim || c.decimals < 0.5 {
			return 0, ""
		}
		s = 0.7*name + 0.3
		add("numbers in [%g, %g]", c.min, c.max)
	case fPoint:
		if name < 0.45 || c.points < 1 {
			return 0, ""
		}
		s = 0.7*name + 0.3
		add("every value a point")
	}
	return s, strings.Join(reasons, "; ")
}

// statusOf maps a status value to "open", "closed" or "" (other): as a built-in schema
// maps it, else by its first word.
func (v *vocabulary) statusOf(val string) string {
	l := strings.ToLower(strings.TrimSpace(val))
	if s, ok := v.status[l]; ok {
		return s
	}
	for _, p := range []string{"closed", "close", "complete", "resol", "done", "finish"} {
		if strings.HasPrefix(l, p) {
			return "closed"
		}
	}
	for _, p := range []string{"open", "new", "pend", "in progress", "in-progress", "progress", "assig", "start", "schedul", "submit", "receiv", "active", "reopen", "unassigned", "work"} {
		if strings.HasPrefix(l, p) {
			return "open"
		}
	}
	return ""
}

// minScore is the score below which an optional field takes no column.
const minScore = 0.4

// assign picks a column per field: request_id and created_at first (a schema needs them),
// then the others, best score first, each column to one field. Point is kept only where
// latitude and longitude are not both found: a point column is read when they are null, and
// one value it cannot read would reject its record.
func assign(cols []*colProfile, records int, v *vocabulary) []InferredField {
	var all []scored
	for f := range numFields {
		for _, c := range cols {
			if s, why := v.score(f, c, records); s > 0 {
				all = append(all, scored{f: f, c: c, score: s, why: why})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	var chosen [numFields]*scored
	used := map[int]bool{}
	take := func(required bool) {
		for i := range all {
			s := &all[i]
			if chosen[s.f] != nil || used[s.c.idx] || isRequired(s.f) != required || (!required && s.score < minScore) {
				continue
			}
			chosen[s.f] = s
			used[s.c.idx] = true
		}
	}
	take(true)
	take(false)
	if chosen[fLatitude] != nil && chosen[fLongitude] != nil {
		chosen[fPoint] = nil
	}
	if chosen[fRequestType] == nil {
		// A type without a subtype is the type.
		chosen[fRequestType], chosen[fRequestSubtype] = chosen[fRequestSubtype], nil
	}
	out := make([]InferredField, numFields)
	for f := range numFields {
		out[f] = InferredField{Field: fieldNames[f]}
		best := (*scored)(nil)
		for i := range all {
			s := &all[i]
			if s.f != f || chosen[f] != nil && s.c == chosen[f].c || s.score < 0.1 {
				continue
			}
			if best == nil {
				best = s
			}
		}
		if best != nil {
			out[f].RunnerUp, out[f].RunnerUpConfidence = best.c.name, round2(best.score)
		}
		s := chosen[f]
		if s == nil {
			out[f].Why = "no column looks like one"
			if best != nil {
				out[f].Why = fmt.Sprintf("the best column, %q (%.2f), ", best.c.name, best.score)
				if taker := takenBy(chosen[:], best.c); taker != "" {
					out[f].Why += "went to " + taker
				} else {
					out[f].Why += fmt.Sprintf("scores below %.2f", minScore)
				}
			}
			continue
		}
		out[f].Column, out[f].Confidence, out[f].Why = s.c.name, round2(s.score), s.why
		out[f].Nulls = records - s.c.nonNull
		if f.isTime() {
			d := *s.c.time
			out[f].Dialect = &d
		}
		if f == fStatus {
			vals := make([]string, 0, len(s.c.counts))
			for val := range s.c.counts {
				vals = append(vals, val)
			}
			sort.Slice(vals, func(i, j int) bool {
				if s.c.counts[vals[i]] != s.c.counts[vals[j]] {
					return s.c.counts[vals[i]] > s.c.counts[vals[j]]
				}
				return vals[i] < vals[j]
			})
			for _, val := range vals {
				switch v.statusOf(val) {
				case "closed":
					out[f].Closed = append(out[f].Closed, val)
				case "open":
					out[f].Open = append(out[f].Open, val)
				default:
					out[f].Other = append(out[f].Other, val)
				}
			}
		}
	}
	return out
}

// takenBy names the field a column went to, if any.
func takenBy(chosen []*scored, c *colProfile) string {
	for f, s := range chosen {
		if s != nil && s.c == c {
			return fieldNames[f]
		}
	}
	return ""
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// placeholders finds whole-degree points that occur more than once in the chosen
// latitude/longitude columns: exports fill a missing location with such a point (Baltimore's
// 39,-77), and no real address sits on one.
func placeholders(fields []InferredField, cols []*colProfile) [][2]float64 {
	lat, lon := colNamed(cols, fields[fLatitude].Column), colNamed(cols, fields[fLongitude].Column)
	if lat == nil || lon == nil {
		return nil
	}
	seen := map[[2]float64]int{}
	for r := range lat.vals {
		a, b := lat.vals[r], lon.vals[r]
		if a == "" || b == "" {
			continue
		}
		var p [2]float64
		if _, err := fmt.Sscan(a, &p[0]); err != nil {
			continue
		}
		if _, err := fmt.Sscan(b, &p[1]); err != nil {
			continue
		}
		if p[0] == math.Trunc(p[0]) && p[1] == math.Trunc(p[1]) && p != [2]float64{} {
			seen[p]++
		}
	}
	var out [][2]float64
	for p, k := range seen {
		if k > 1 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return seen[out[i]] > seen[out[j]] || seen[out[i]] == seen[out[j]] && out[i][0] < out[j][0]
	})
	return out
}

// Projected coordinates. A file whose only location is a pair of state-plane x/y columns
// (St. Louis's SRX/SRY) gets a point field { x, y, crs } when a pair of columns named alike
// but for x and y holds numbers far outside degrees, and exactly one supported system places
// the sampled points inside its zone (crs.CRS.Zone, the EPSG registry's area of use). Two
// systems of one zone in feet and metres place the same numbers 3.28 times apart, so at
// most one of them fits; but neighbouring zones can both fit: St. Louis's Missouri East
// feet also land in central Illinois under Illinois East feet. The sampled zip codes then
// settle it, when they lie in one candidate's state. Otherwise the block prints the point
// commented out, naming the candidates.

// minInside is the share of sampled x/y points a system must place inside its zone: a
// stray point (a mistyped coordinate) does not rule out the city's system.
const minInside = 0.99

// stateZipPrefixes are the 3-digit ZIP code prefixes of the states the supported systems'
// titles name ("NAD83 / Illinois East"), as USPS allocates them (its 3-digit prefix list,
// "L002", in the National Five-Digit ZIP Code and Post Office Directory). Maryland's
// system is also the District of Columbia's (200, 202–205), whose exports use it.
var stateZipPrefixes = []struct {
	state    string
	prefixes [][2]int // inclusive ranges
}{
	{"Illinois", [][2]int{{600, 629}}},
	{"Missouri", [][2]int{{630, 658}}},
	{"New York", [][2]int{{5, 5}, {63, 63}, {100, 149}}},
	{"Maryland", [][2]int{{200, 200}, {202, 219}}},
}

// crsState names the state a system's title names, "" when the table has none.
func crsState(c *crs.CRS) string {
	for _, s := range stateZipPrefixes {
		if strings.Contains(c.Title(), s.state) {
			return s.state
		}
	}
	return ""
}

// inState reports whether a zip code's prefix is one of state's.
func inState(zip, state string) bool {
	if len(zip) < 3 {
		return false
	}
	p, err := strconv.Atoi(zip[:3])
	if err != nil {
		return false
	}
	for _, s := range stateZipPrefixes {
		if s.state != state {
			continue
		}
		for _, r := range s.prefixes {
			if p >= r[0] && p <= r[1] {
				return true
			}
		}
	}
	return false
}

// xyColumn reports whether a column can be a projected coordinate: every value a number the
// normalizer reads (another would reject its record), some far outside degrees, and a name
// a schema block can give.
func xyColumn(c *colProfile, cols []*colProfile) bool {
	if c.nonNull == 0 || c.numeric < 1 || max(math.Abs(c.min), math.Abs(c.max)) <= 360 || !blockNames(c, cols) {
		return false
	}
	for _, v := range c.vals {
		if _, ok := parseCoord([]byte(v)); v != "" && !ok {
			return false
		}
	}
	return true
}

// xyNames reports whether two names are one but for an x in the first where the second has
// a y, at the start or end of a word: "SRX"/"SRY", "XCOORD"/"YCOORD", "point_x"/"point_y".
func xyNames(x, y *colProfile) bool {
	if len(x.tokens) != len(y.tokens) {
		return false
	}
	diff := 0
	for i, a := range x.tokens {
		b := y.tokens[i]
		if a == b {
			continue
		}
		if diff++; len(a) != len(b) {
			return false
		}
		switch n := len(a) - 1; {
		case a[0] == 'x' && b[0] == 'y' && a[1:] == b[1:]:
		case a[n] == 'x' && b[n] == 'y' && a[:n] == b[:n]:
		default:
			return false
		}
	}
	return diff == 1
}

// crsFit is how many of the sampled x/y points a system places inside its zone.
type crsFit struct {
	c         *crs.CRS
	inside, n int
}

// fitCRS converts the sampled points of columns x and y (both non-null, and not 0/0, which
// the normalizer reads as no location) with every supported system, and returns those that
// place at least minInside of them where the normalizer keeps them (Area) and inside the
// zone (Zone), with the count of points tried.
func fitCRS(x, y *colProfile) ([]crsFit, int) {
	var pts [][2]float64
	for r := range x.vals {
		xv, okx := parseCoord([]byte(x.vals[r]))
		yv, oky := parseCoord([]byte(y.vals[r]))
		if okx && oky && (xv != 0 || yv != 0) {
			pts = append(pts, [2]float64{xv, yv})
		}
	}
	var fits []crsFit
	for _, c := range crs.All() {
		f := crsFit{c: c, n: len(pts)}
		for _, p := range pts {
			lat, lon, ok := c.ToLatLon(p[0], p[1])
			if z := c.Zone(); ok && lon >= z[0] && lat >= z[1] && lon <= z[2] && lat <= z[3] {
				f.inside++
			}
		}
		if f.n > 0 && float64(f.inside) >= minInside*float64(f.n) {
			fits = append(fits, f)
		}
	}
	return fits, len(pts)
}

// byZips keeps the systems whose state holds at least 90% of the sampled zip codes (at
// least three of them), or all of fits when that keeps none.
func byZips(fits []crsFit, zip *colProfile) ([]crsFit, string) {
	if zip == nil {
		return fits, ""
	}
	var zips []string
	for _, v := range zip.vals {
		if isZip(v) {
			zips = append(zips, v)
		}
	}
	if len(zips) < 3 {
		return fits, ""
	}
	var kept []crsFit
	why := ""
	for _, f := range fits {
		st, in := crsState(f.c), 0
		for _, z := range zips {
			in += boolInt(st != "" && inState(z, st))
		}
		if float64(in) >= 0.9*float64(len(zips)) {
			kept = append(kept, f)
			why = fmt.Sprintf("%d of the %d sampled zip codes (%q) are in %s", in, len(zips), zip.name, st)
		}
	}
	if len(kept) == 0 {
		return fits, ""
	}
	return kept, why
}

// projected finds the point field's x/y columns and system when the file has no location
// otherwise: no point column, and latitude/longitude missing or null in most records (the
// normalizer reads x/y where they are null). Of the pairs of columns xyNames pairs, the
// first in header order that one system fits is taken, else the first pair, with its
// candidates and no system (the block prints it commented out).
func projected(fields []InferredField, cols []*colProfile, records int) {
	p := &fields[fPoint]
	if p.Column != "" {
		return
	}
	if lat, lon := fields[fLatitude], fields[fLongitude]; lat.Column != "" && lon.Column != "" && 2*max(lat.Nulls, lon.Nulls) <= records {
		return
	}
	used := map[string]bool{}
	for _, f := range fields {
		if f.Column != "" {
			for _, c := range f.columns() {
				used[c] = true
			}
		}
	}
	zip := colNamed(cols, fields[fZip].Column)
	first := true
	for _, x := range cols {
		if used[x.name] || !xyColumn(x, cols) {
			continue
		}
		for _, y := range cols {
			if y == x || used[y.name] || !xyNames(x, y) || !xyColumn(y, cols) {
				continue
			}
			fits, n := fitCRS(x, y)
			fits, zipWhy := byZips(fits, zip)
			if !first && len(fits) != 1 {
				continue
			}
			first = false
			nulls := 0
			for r := range x.vals {
				nulls += boolInt(x.vals[r] == "" || y.vals[r] == "")
			}
			*p = InferredField{Field: p.Field, X: x.name, Y: y.name, Nulls: nulls}
			for _, f := range fits {
				p.Candidates = append(p.Candidates, f.c.Name())
			}
			switch {
			case len(fits) == 1:
				f := fits[0]
				p.CRS, p.Confidence = f.c.Name(), round2(float64(f.inside)/float64(f.n))
				p.Why = fmt.Sprintf("projected x/y; of the supported systems only %s (%s) places the sampled points inside its zone (%s): %d of %d",
					f.c.Name(), f.c.Title(), areaText(f.c), f.inside, f.n)
				if zipWhy != "" {
					p.Why = fmt.Sprintf("projected x/y; %s (%s) places %d of the %d sampled points inside its zone (%s), and %s",
						f.c.Name(), f.c.Title(), f.inside, f.n, areaText(f.c), zipWhy)
				}
			case len(fits) == 0:
				p.Why = fmt.Sprintf("projected x/y, but no supported system places %.0f%% of the %d sampled points inside its zone", 100*minInside, n)
			default:
				var names []string
				for _, f := range fits {
					names = append(names, fmt.Sprintf("%s (%s, %s)", f.c.Name(), f.c.Title(), areaText(f.c)))
				}
				p.Why = fmt.Sprintf("projected x/y, and %s each place %.0f%% of the %d sampled points inside their zone; the sampled zip codes, if any, do not settle it",
					strings.Join(names, " and "), 100*minInside, n)
			}
			if len(fits) == 1 {
				return
			}
		}
	}
}

// areaText writes a system's zone as "lon -91.97..-89.1, lat 35.98..40.61".
func areaText(c *crs.CRS) string {
	a := c.Zone()
	return fmt.Sprintf("lon %g..%g, lat %g..%g", a[0], a[2], a[1], a[3])
}
