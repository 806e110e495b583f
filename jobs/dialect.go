package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Detecting a time column's dialect. With time_layouts = ["auto"] (the default) a schema
// says "whatever this file uses", and the planner finds out, once per file, from the first
// values of each time column: DetectValues non-null values within the first DetectBytes of
// the file. The answer is one dialect per column, written as a layout (a strftime pattern,
// or unix / unix_ms) and carried in every map task of the file, so that every split parses
// the column the same way. Nothing is guessed per record: a value that does not fit its
// column's dialect is a bad_timestamp reject like any other.
//
// The dialects (candidates below), each with or without seconds, and any fraction:
//   - ISO 8601: 2006-01-02T15:04:05, with 'T' or a space, with or without a UTC offset (Z,
//     +hh, +hhmm, +hh:mm), and 2006-01-02 alone; 2006/01/02 likewise;
//   - month/day/year and day/month/year, with '/', '-' or '.', 4- or 2-digit years, a
//     12-hour clock with AM/PM or a 24-hour one, or no time at all;
//   - seconds or milliseconds since the epoch, integers or decimals (ten or thirteen digits
//     before the point for this century).
//
// A sample that fits both month/day and day/month (no day above 12) takes the schema's
// date_order and says so; a sample that needs two dialects is an error naming one value of
// each. Values that fit no dialect at all do not stop the detection (they are rejected at
// run time, and counted in the plan), unless no value fits one.

// Detection sample bounds.
const (
	DetectValues = 1000    // non-null values per time column
	DetectBytes  = 4 << 20 // bytes read from the start of a file's data
)

// dialectCandidate is one dialect detection may choose.
type dialectCandidate struct {
	layout string // the layout the normalizer will use
	name   string // for people
	order  string // DateOrderMDY or DateOrderDMY for a numeric date of that order, else ""
	twin   int    // the candidate with the other date order, or -1
	tl     timeLayout
	// epoch: the integer digits a value must have to be taken for this unit (the runtime
	// layout reads any number; the sample must look like this century).
	minDigits, maxDigits int
}

var candidates = sync.OnceValue(buildCandidates)

func buildCandidates() []dialectCandidate {
	var cs []dialectCandidate
	add := func(layout, name, order string) {
		tl, err := compileLayout(layout)
		if err != nil {
			return // a bug in the table below, which TestDialectCandidates catches
		}
		cs = append(cs, dialectCandidate{layout: layout, name: name, order: order, twin: -1, tl: tl})
	}
	for _, sep := range []string{"T", " "} {
		for _, tm := range []struct{ f, name string }{{"%H:%M:%S", ""}, {"%H:%M", ", no seconds"}} {
			for _, z := range []struct{ f, name string }{{"", ", local time"}, {"%z", ", with UTC offset"}, {" %z", ", with UTC offset"}} {
				if sep == "T" && z.f == " %z" {
					continue
				}
				what := "ISO 8601"
				if sep == " " {
					what = "ISO 8601 with a space"
				}
				add("%Y-%m-%d"+sep+tm.f+z.f, what+tm.name+z.name, "")
			}
		}
	}
	add("%Y-%m-%d", "ISO 8601 date only", "")
	add("%Y/%m/%d %H:%M:%S", "year/month/day, 24-hour clock", "")
	add("%Y/%m/%d %H:%M", "year/month/day, 24-hour clock, no seconds", "")
	add("%Y/%m/%d", "year/month/day, date only", "")
	for _, sep := range []string{"/", "-", "."} {
		for _, yr := range []struct{ f, name string }{{"%Y", ""}, {"%y", ", 2-digit year"}} {
			for _, tm := range []struct{ f, name string }{
				{" %I:%M:%S %p", ", 12-hour clock"}, {" %I:%M %p", ", 12-hour clock, no seconds"},
				{" %H:%M:%S", ", 24-hour clock"}, {" %H:%M", ", 24-hour clock, no seconds"}, {"", ", date only"},
			} {
				mdy := len(cs)
				add("%m"+sep+"%d"+sep+yr.f+tm.f, "month"+sep+"day"+sep+"year"+yr.name+tm.name, DateOrderMDY)
				add("%d"+sep+"%m"+sep+yr.f+tm.f, "day"+sep+"month"+sep+"year"+yr.name+tm.name, DateOrderDMY)
				cs[mdy].twin, cs[mdy+1].twin = mdy+1, mdy
			}
		}
	}
	add("unix", "seconds since the epoch", "")
	cs[len(cs)-1].minDigits, cs[len(cs)-1].maxDigits = 9, 10
	add("unix_ms", "milliseconds since the epoch", "")
	cs[len(cs)-1].minDigits, cs[len(cs)-1].maxDigits = 11, 13
	return cs
}

// fits reports whether a candidate reads v.
func (c *dialectCandidate) fits(v []byte, zc *zoneCache) bool {
	if c.maxDigits > 0 {
		n := 0
		for n < len(v) && v[n] >= '0' && v[n] <= '9' {
			n++
		}
		if n < c.minDigits || n > c.maxDigits {
			return false
		}
	}
	_, ok := c.tl.parse(v, time.UTC, zc)
	return ok
}

// Detected is the dialect found for one column's sample.
type Detected struct {
	Layout  string `json:"layout"`  // a layout Schema.TimeLayouts accepts
	Dialect string `json:"dialect"` // the dialect, for people
	Values  int    `json:"values"`  // non-null values sampled
	// Unreadable counts the values no dialect reads; Example is the first of them. They
	// will be rejected as bad_timestamp.
	Unreadable int    `json:"unreadable,omitempty"`
	Example    string `json:"unreadable_example,omitempty"`
	// Ambiguous: every value read as month/day also reads as day/month (no day above 12),
	// and the date order was the schema's date_order.
	Ambiguous bool `json:"ambiguous,omitempty"`
}

// DetectDialect finds the one dialect in which values (trimmed, non-null) are written.
// dateOrder ("" is mdy) settles a sample that reads both as month/day and day/month. It
// fails, wrapping ErrDialect, when there is no value, when no value is a timestamp, or when
// the values need two dialects; the message quotes example values.
func DetectDialect(values [][]byte, dateOrder string) (Detected, error) {
	if len(values) == 0 {
		return Detected{}, fmt.Errorf("no value to detect the dialect from: %w", ErrDialect)
	}
	cs := candidates()
	count := make([]int, len(cs))
	first := make([]int, len(cs)) // the first value each candidate reads
	d := Detected{Values: len(values)}
	readable := 0
	var zc zoneCache
	for i, v := range values {
		fits := false
		for k := range cs {
			if cs[k].fits(v, &zc) {
				if count[k] == 0 {
					first[k] = i
				}
				count[k]++
				fits = true
			}
		}
		if fits {
			readable++
			continue
		}
		if d.Unreadable == 0 {
			d.Example = quoteValue(v)
		}
		d.Unreadable++
	}
	if readable == 0 {
		return d, fmt.Errorf("none of the %d values is a timestamp in a known dialect (such as %s): %w", len(values), d.Example, ErrDialect)
	}
	// The dialect must read every value that some dialect reads. Only a month/day candidate
	// and its day/month twin can both do so.
	pick := -1
	for k := range cs {
		if count[k] != readable {
			continue
		}
		if pick < 0 {
			pick = k
			continue
		}
		if cs[pick].twin == k {
			d.Ambiguous = true
			if dateOrder == DateOrderDMY {
				pick = k
			}
		}
	}
	if pick >= 0 {
		d.Layout, d.Dialect = cs[pick].layout, cs[pick].name
		return d, nil
	}
	// Two dialects at least: name the most common and a value it cannot read.
	a := 0
	for k := range cs {
		if count[k] > count[a] {
			a = k
		}
	}
	b, vb := -1, -1
	for i, v := range values {
		if cs[a].fits(v, &zc) {
			continue
		}
		for k := range cs {
			if cs[k].fits(v, &zc) && (b < 0 || count[k] > count[b]) {
				b, vb = k, i
			}
		}
		if b >= 0 {
			break
		}
	}
	return d, fmt.Errorf("values in two dialects: %s (%s, %d of %d values) and %s (%s, %d): set the column's layouts, or split the file: %w",
		quoteValue(values[first[a]]), cs[a].name, count[a], len(values), quoteValue(values[vb]), cs[b].name, count[b], ErrDialect)
}

// quoteValue quotes a sample value for a message, cut to 64 bytes.
func quoteValue(v []byte) string {
	const max = 64
	if len(v) > max {
		n := max
		for n > 0 && !utf8.RuneStart(v[n]) {
			n--
		}
		return fmt.Sprintf("%q…", v[:n])
	}
	return fmt.Sprintf("%q", v)
}

// TimeDialect is the dialect detected for one "auto" time field of one file.
type TimeDialect struct {
	Field  string `json:"field"`  // created_at, closed_at or updated_at
	Column string `json:"column"` // the column (or SODA key) sampled
	Detected
	// Borrowed names the field whose dialect this one took because its own column had no
	// value in the sample.
	Borrowed string `json:"borrowed,omitempty"`
	// Note says why there was nothing to detect ("the file has no records").
	Note string `json:"note,omitempty"`
}

func (t TimeDialect) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ← %s: %s (%s)", t.Field, t.Column, t.Dialect, t.Layout)
	switch {
	case t.Note != "":
		fmt.Fprintf(&b, ", %s", t.Note)
	case t.Borrowed != "":
		fmt.Fprintf(&b, ", no value in the sample: %s's dialect", t.Borrowed)
	default:
		fmt.Fprintf(&b, ", from %d values", t.Values)
	}
	if t.Ambiguous {
		b.WriteString("; ambiguous (no day above 12): date_order decided")
	}
	if t.Unreadable > 0 {
		fmt.Fprintf(&b, "; %d unreadable, such as %s", t.Unreadable, t.Example)
	}
	return b.String()
}

// DialectLayouts maps each detected field to its layout, as a map task carries it.
func DialectLayouts(ds []TimeDialect) map[string]string {
	m := make(map[string]string, len(ds))
	for _, d := range ds {
		m[d.Field] = d.Layout
	}
	return m
}

// isAuto reports whether a time field's layouts are to be detected.
func (s *Schema) isAuto(f Field) bool {
	ls := s.layoutsFor(f)
	return len(ls) == 1 && ls[0] == LayoutAuto
}

// NeedsDetection reports whether some time field of the schema has layouts "auto": each
// file's dialects must then be detected (Detector) and given to WithDialects before Bind.
func (s *Schema) NeedsDetection() bool {
	for _, f := range s.Fields {
		if id, ok := lookupField(f.Name); ok && id.isTime() && s.isAuto(f) {
			return true
		}
	}
	return false
}

// WithDialects returns a copy of the schema in which each "auto" time field named in
// layouts (field name → layout, from DialectLayouts) has that layout instead. Fields not
// named stay "auto". It fails, wrapping ErrSpec, on a layout that does not compile.
func (s *Schema) WithDialects(layouts map[string]string) (*Schema, error) {
	c := s.clone()
	for i, f := range c.Fields {
		l, ok := layouts[f.Name]
		if !ok {
			continue
		}
		if id, _ := lookupField(f.Name); !id.isTime() || !s.isAuto(f) {
			return nil, fmt.Errorf("schema %q: field %s: a dialect was given for a field that is not an \"auto\" time field: %w", s.Name, f.Name, ErrSpec)
		}
		if _, err := compileLayout(l); err != nil || l == LayoutAuto {
			return nil, fmt.Errorf("schema %q: field %s: detected layout %q: %v: %w", s.Name, f.Name, l, err, ErrSpec)
		}
		c.Fields[i].Layouts = []string{l}
	}
	return c, nil
}

// checkDetected fails, wrapping ErrNoDialect, when an "auto" time field takes a column of
// the file but no dialect was detected for it.
func (s *Schema) checkDetected(col *[numFields]int, name *[numFields]string) error {
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if ok && id.isTime() && col[id] >= 0 && s.isAuto(f) {
			return fmt.Errorf("schema %q: field %s (column %q) has time layouts \"auto\" and no dialect was detected for this file: %w",
				s.Name, f.Name, name[id], ErrNoDialect)
		}
	}
	return nil
}

// Detector collects the first values of a file's "auto" time fields and detects their
// dialects. Feed it records in file order (Add for CSV, AddJSON for SODA) until either
// returns false or DetectBytes are read, then call Detect. Not safe for concurrent use.
type Detector struct {
	schema  *Schema
	n       *Normalizer // the schema bound without dialects: its columns and null rules
	fields  []fieldID   // the auto time fields, in record order
	cols    [numFields]string
	vals    [numFields][][]byte // copies of the non-null values
	records int
}

// NewDetector returns a Detector for a CSV file with this header. With no auto field taking
// a column of the header, it needs no record (Add returns false at once).
func (s *Schema) NewDetector(header []string) *Detector {
	n := s.newNormalizer()
	n.ncols = len(header)
	b := s.bindHeader(header)
	n.col, n.colName = b.col, b.name
	if n.ext != nil && !n.ext.bindCSV(&b) {
		n.ext = nil
	}
	d := &Detector{schema: s, n: n}
	for _, f := range s.Fields {
		if id, ok := lookupField(f.Name); ok && id.isTime() && s.isAuto(f) && n.col[id] >= 0 {
			d.fields = append(d.fields, id)
			d.cols[id] = n.colName[id]
		}
	}
	slices.Sort(d.fields)
	return d
}

// NewJSONDetector returns a Detector for a SODA JSON file.
func (s *Schema) NewJSONDetector() *Detector {
	n := s.BindJSON()
	d := &Detector{schema: s, n: n}
	for _, f := range s.Fields {
		if id, ok := lookupField(f.Name); ok && id.isTime() && s.isAuto(f) {
			d.fields = append(d.fields, id)
		}
	}
	slices.Sort(d.fields)
	return d
}

// Wants reports whether some field still wants values: false once each has DetectValues
// of them, and from the start when no auto field takes a column.
func (d *Detector) Wants() bool { return d.more() }

func (d *Detector) more() bool {
	for _, f := range d.fields {
		if len(d.vals[f]) < DetectValues {
			return true
		}
	}
	return false
}

func (d *Detector) keep(f fieldID, v []byte) {
	if v = d.n.value(v); v != nil && len(d.vals[f]) < DetectValues {
		d.vals[f] = append(d.vals[f], slices.Clone(v))
	}
}

// Add takes one CSV record's fields; a record of the wrong width (a reject at run time) is
// skipped. It returns whether more records are wanted.
func (d *Detector) Add(fields [][]byte) bool {
	if !d.more() {
		return false
	}
	if len(fields) == d.n.ncols {
		d.records++
		for _, f := range d.fields {
			d.keep(f, d.n.csvValue(fields, f))
		}
	}
	return d.more()
}

// AddJSON takes one SODA object, reading each field from the key NormalizeJSON would read
// it from; a malformed object is skipped. It returns whether more objects are wanted.
func (d *Detector) AddJSON(raw []byte) bool {
	if !d.more() {
		return false
	}
	var vals [numFields][]byte
	rank := [numFields]int{}
	for i := range rank {
		rank[i] = -1
	}
	var scratch []byte
	ext := d.n.ext
	if ext != nil {
		ext.resetJSON()
	}
	err := eachMember(raw, &scratch, func(key, val []byte, kind valueKind) bool {
		if kind == kindNull {
			return true
		}
		for _, ref := range d.n.keys[string(key)] {
			if rank[ref.f] < 0 || ref.rank < rank[ref.f] {
				vals[ref.f], rank[ref.f] = val, ref.rank
			}
		}
		if ext != nil {
			ext.member(key, val)
		}
		return true
	})
	if err != nil {
		return d.more()
	}
	if ext != nil {
		d.n.joinJSON(&vals, &rank) // a joined candidate's value, as NormalizeJSON reads it
	}
	d.records++
	for _, f := range d.fields {
		if rank[f] >= 0 {
			if d.cols[f] == "" {
				d.cols[f] = d.n.cands[f][rank[f]]
			}
			d.keep(f, vals[f])
		}
	}
	return d.more()
}

// Detect detects each auto field's dialect from the values collected. A field whose column
// had no value takes created_at's dialect (else the first detected), and says so; when no
// field had a value it fails, unless no record was read at all: a file without records has
// nothing to parse, and each field gets rfc3339 for form's sake. Errors wrap ErrDialect and
// name the field and column.
func (d *Detector) Detect() ([]TimeDialect, error) {
	var out []TimeDialect
	var empty []fieldID
	for _, f := range d.fields {
		if d.cols[f] == "" { // SODA: no object had the field
			d.cols[f] = strings.Join(d.n.cands[f], " | ")
		}
		col := d.cols[f]
		if len(d.vals[f]) == 0 {
			empty = append(empty, f)
			continue
		}
		det, err := DetectDialect(d.vals[f], d.schema.DateOrder)
		if err != nil {
			return nil, fmt.Errorf("field %s, column %q: %w", fieldNames[f], col, err)
		}
		out = append(out, TimeDialect{Field: fieldNames[f], Column: col, Detected: det})
	}
	if len(empty) == 0 {
		return out, nil
	}
	if d.records == 0 {
		for _, f := range empty {
			out = append(out, TimeDialect{Field: fieldNames[f], Column: d.cols[f],
				Detected: Detected{Layout: "rfc3339", Dialect: "none"}, Note: "the file has no records"})
		}
		return sortDialects(out), nil
	}
	if len(out) == 0 {
		var cols []string
		for _, f := range empty {
			cols = append(cols, fmt.Sprintf("%s (column %q)", fieldNames[f], d.cols[f]))
		}
		return nil, fmt.Errorf("%s: no value in the first %d records to detect a time dialect from: set time_layouts: %w",
			strings.Join(cols, ", "), d.records, ErrDialect)
	}
	from := out[0]
	for _, t := range out {
		if t.Field == fieldNames[fCreatedAt] {
			from = t
		}
	}
	for _, f := range empty {
		out = append(out, TimeDialect{Field: fieldNames[f], Column: d.cols[f], Borrowed: from.Field,
			Detected: Detected{Layout: from.Layout, Dialect: from.Dialect, Ambiguous: from.Ambiguous}})
	}
	return sortDialects(out), nil
}

func sortDialects(ds []TimeDialect) []TimeDialect {
	slices.SortStableFunc(ds, func(a, b TimeDialect) int {
		fa, _ := lookupField(a.Field)
		fb, _ := lookupField(b.Field)
		return int(fa) - int(fb)
	})
	return ds
}

// CheckHeader is Bind's check of a CSV header, before the file's dialects are known: it
// fails, wrapping ErrNoColumns, when the header has no column for request_id or
// created_at.
func (s *Schema) CheckHeader(header []string) error {
	_, err := s.Bind(header)
	if errors.Is(err, ErrNoDialect) {
		return nil
	}
	return err
}
