package pgsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/summary"
)

// The property of this file: a record the normalizer accepts can always cross the shuffle,
// be written to the lake and be published. PostgreSQL is stricter than the normalizer in
// places (no year 0 in a date, index entries of at most 2,704 bytes, no NUL in text), the
// shuffle's rows hold at most 16 MiB and read the Unix epoch as no time, and a summary row
// must lie in its record's group: one record that crosses such a line fails every publish
// (or every map task) of its job, forever. So the test feeds the normalizer hostile records
// that still parse (boundary and DST-edge timestamps in every layout a schema accepts,
// epoch numbers, offsets, boundary coordinates and projected x/y, long, unicode and
// escape-laden text in every field, empty values, status variants, closed before created),
// as CSV and as SODA JSON, the way a map task reads them, and checks that each is either
// rejected with a reason or ends up, through the shuffle's encoding, the lake's Parquet and
// the summaries, in a publish that succeeds, counted once.

// publishableRecords is how many random records each schema gets.
const publishableRecords = 1200

// customSchemas are job-file schemas that use what the built-ins do not: a zone whose clocks
// change at midnight (America/Asuncion: the start of summer time can skip the first hour of
// a month), one east of UTC with a 45-minute offset, strftime patterns with and without an
// offset, unix seconds, Go layouts with zones, joined date and time columns, integer floats,
// mojibake repair, a projected point, and the longest city (64 bytes).
var customSchemas = []string{`{
	"name": "hostile_py", "city": "hostile_py", "timezone": "America/Asuncion",
	"nulls": ["", "NULL", "\\N"],
	"time_layouts": ["%d.%m.%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "unix", "Jan _2 2006 15:04:05 -0700", "rfc3339"],
	"placeholder_points": [[-25.3, -57.6]],
	"repair_mojibake": true, "integer_floats": true,
	"fields": [
		{"name": "request_id", "columns": ["id"]},
		{"name": "created_at", "columns": ["created"]},
		{"name": "closed_at", "columns": ["closed"]},
		{"name": "updated_at", "columns": ["updated"], "layouts": ["unix_ms", "rfc3339"]},
		{"name": "status", "columns": ["state"], "closed": ["Cerrado", "DONE"], "open": ["Abierto", "open"]},
		{"name": "agency", "columns": ["agency"]},
		{"name": "request_type", "columns": ["type"]},
		{"name": "request_subtype", "columns": ["subtype"]},
		{"name": "zip", "columns": ["zip"]},
		{"name": "neighborhood", "columns": ["barrio"]},
		{"name": "channel", "columns": ["canal"]},
		{"name": "latitude", "columns": ["lat"]},
		{"name": "longitude", "columns": ["lon"]},
		{"name": "point", "columns": ["geo"], "x": ["x"], "y": ["y"], "crs": "EPSG:3435"}
	]}`, `{
	"name": "hostile_np", "city": "hostile_np_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "timezone": "Asia/Kathmandu",
	"time_layouts": ["%m/%d/%y %I:%M %p", "2006-01-02 15:04:05.999999999 -0700", "unix_ms"],
	"fields": [
		{"name": "request_id", "columns": ["id"]},
		{"name": "created_at", "columns": [["date", "time"]]},
		{"name": "closed_at", "columns": ["closed"]},
		{"name": "status", "columns": ["status"], "closed": ["closed"], "open": ["open"]},
		{"name": "agency", "columns": ["agency"]},
		{"name": "request_type", "columns": ["type"]},
		{"name": "point", "columns": ["point"]}
	]}`}

// hostileSchema is one schema under test and the CSV header the records are made for.
type hostileSchema struct {
	s       *jobs.Schema
	header  []string
	col     map[string][]int // field name → the header columns of its first candidate
	xy      [2]int           // the point's projected x and y columns, or -1
	layouts map[string][]string
	trans   []time.Time // the zone's changes of offset, 1900-2040
}

func hostileSchemas(t *testing.T) []*hostileSchema {
	t.Helper()
	var schemas []*jobs.Schema
	for _, name := range jobs.BuiltinNames() {
		s, ok := jobs.Builtin(name)
		if !ok {
			t.Fatalf("no built-in schema %q", name)
		}
		schemas = append(schemas, s)
	}
	for _, src := range customSchemas {
		var s jobs.Schema
		if err := json.Unmarshal([]byte(src), &s); err != nil {
			t.Fatalf("custom schema: %v", err)
		}
		schemas = append(schemas, &s)
	}
	var out []*hostileSchema
	for _, s := range schemas {
		h := &hostileSchema{s: s, col: map[string][]int{}, xy: [2]int{-1, -1}, layouts: map[string][]string{}}
		for _, f := range s.Fields {
			if len(f.Columns) > 0 {
				for _, c := range f.Columns[0] {
					h.col[f.Name] = append(h.col[f.Name], len(h.header))
					h.header = append(h.header, c)
				}
			}
			if len(f.X) > 0 && len(f.Y) > 0 {
				h.xy = [2]int{len(h.header), len(h.header) + 1}
				h.header = append(h.header, f.X[0], f.Y[0])
			}
			switch f.Name {
			case "created_at", "closed_at", "updated_at":
				h.layouts[f.Name] = f.Layouts
				if len(f.Layouts) == 0 {
					h.layouts[f.Name] = s.TimeLayouts
				}
			}
		}
		h.header = append(h.header, "unread free text")
		for at := time.Date(1900, 1, 1, 0, 0, 0, 0, s.Location); at.Year() < 2040; {
			_, end := at.ZoneBounds()
			if end.IsZero() {
				break
			}
			h.trans = append(h.trans, end)
			at = end
		}
		out = append(out, h)
	}
	return out
}

// gen makes one raw CSV record for h, hostile in every field.
func (h *hostileSchema) gen(rng *rand.Rand, i int) [][]byte {
	fields := make([][]byte, len(h.header))
	set := func(field, v string) { h.set(fields, field, v) }
	id := hostileText(rng)
	if rng.IntN(4) > 0 {
		id = "r"
	}
	set("request_id", fmt.Sprintf("%s#%d", id, i)) // unique: the reducer would merge equal ids
	created := h.timestamp(rng, "created_at")
	set("created_at", created.text)
	if rng.IntN(3) > 0 {
		closed := h.timestamp(rng, "closed_at")
		if rng.IntN(2) == 0 && created.ok {
			// Closed near created: before it, at it, or centuries after.
			d := []time.Duration{-time.Hour, 0, time.Nanosecond, 90 * 24 * time.Hour, 1<<63 - 1}[rng.IntN(5)]
			closed = h.format(rng, "closed_at", created.t.Add(d), created.off)
		}
		set("closed_at", closed.text)
	}
	if rng.IntN(2) == 0 {
		set("updated_at", h.timestamp(rng, "updated_at").text)
	}
	set("status", h.status(rng))
	for _, f := range []string{"agency", "request_type", "request_subtype", "zip", "neighborhood", "channel"} {
		set(f, hostileText(rng))
	}
	if rng.IntN(4) > 0 {
		set("latitude", hostileCoord(rng, 90))
		set("longitude", hostileCoord(rng, 180))
	}
	if rng.IntN(2) == 0 {
		set("point", hostilePoint(rng))
	}
	if h.xy[0] >= 0 && rng.IntN(2) == 0 {
		fields[h.xy[0]], fields[h.xy[1]] = []byte(hostileProjected(rng)), []byte(hostileProjected(rng))
	}
	fields[len(fields)-1] = []byte(hostileText(rng))
	for j := range fields {
		if fields[j] == nil {
			fields[j] = []byte{}
		}
	}
	return fields
}

// set puts v in field's columns; joined columns get its parts between spaces, the last
// one the rest.
func (h *hostileSchema) set(fields [][]byte, field, v string) {
	cols := h.col[field]
	parts := strings.SplitN(v, " ", max(len(cols), 1))
	for j, c := range cols {
		if j < len(parts) {
			fields[c] = []byte(parts[j])
		}
	}
}

// stamp is a timestamp's text and, when known, the instant and offset it was made from.
type stamp struct {
	text string
	t    time.Time
	off  int
	ok   bool
}

// timestamp returns a boundary or random time of field f in one of its layouts.
func (h *hostileSchema) timestamp(rng *rand.Rand, f string) stamp {
	loc := h.s.Location
	var civil time.Time // the wall clock, as a UTC time
	switch rng.IntN(6) {
	case 0: // the ends of the calendar PostgreSQL and the lake share
		civil = []time.Time{
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 23, 59, 59, 0, time.UTC),
			time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(0, 12, 31, 23, 59, 59, 0, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 30, 12, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC),
			time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1582, 10, 10, 12, 0, 0, 0, time.UTC),
			time.Date(2000, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC),
			time.Date(1677, 9, 21, 0, 12, 43, 0, time.UTC),
		}[rng.IntN(15)]
	case 1, 2: // around a change of the zone's offset, skipped and repeated wall clocks included
		if len(h.trans) > 0 {
			tr := h.trans[rng.IntN(len(h.trans))]
			_, before := tr.Add(-time.Second).In(loc).Zone()
			civil = tr.Add(time.Duration(before)*time.Second + time.Duration(rng.IntN(241)-120)*time.Minute).UTC()
			break
		}
		fallthrough
	case 3: // the edges of a month
		y, m := 1+rng.IntN(9999), time.Month(1+rng.IntN(12))
		if rng.IntN(2) == 0 {
			y = 1990 + rng.IntN(40)
		}
		civil = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(48*60)-24*60) * time.Minute)
	default:
		civil = time.Date(1+rng.IntN(9999), time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), rng.IntN(60),
			rng.IntN(60), rng.IntN(1e9), time.UTC)
	}
	off := []int{0, 0, -14 * 3600, 14 * 3600, -(23*3600 + 59*60), 23*3600 + 59*60, 5*3600 + 45*60,
		-(3*3600 + 30*60), rng.IntN(48*3600) - 24*3600}[rng.IntN(9)]
	// The instant of the wall clock in the zone, and in a fixed offset.
	y, mo, d := civil.Date()
	hh, mi, ss := civil.Clock()
	t := time.Date(y, mo, d, hh, mi, ss, civil.Nanosecond(), loc)
	if rng.IntN(2) == 0 {
		t = time.Date(y, mo, d, hh, mi, ss, civil.Nanosecond(), time.FixedZone("", off))
	}
	return h.format(rng, f, t, off)
}

// format writes t in one of field f's layouts: local layouts get t's wall clock in t's own
// location (a fixed offset's wall clock makes a time the zone may not have).
func (h *hostileSchema) format(rng *rand.Rand, f string, t time.Time, off int) stamp {
	layouts := h.layouts[f]
	l := "rfc3339" // a field the schema does not map
	if len(layouts) > 0 {
		l = layouts[rng.IntN(len(layouts))]
	}
	st := stamp{t: t, off: off, ok: true}
	switch l {
	case "unix", "%s":
		sec := t.Unix()
		switch rng.IntN(3) {
		case 0:
			st.text = strconv.FormatInt(sec, 10)
		case 1:
			st.text = fmt.Sprintf("%d.%09d", sec, t.Nanosecond())
		default:
			st.text = []string{"-62135596800", "-62135596801", "253402300799", "253402300800", "-62167219200",
				"0", "-0", "+1", "9223372036", "-9223372036.854775808", "4611686018427387904", "1e9"}[rng.IntN(12)]
		}
	case "unix_ms":
		switch rng.IntN(3) {
		case 0, 1:
			st.text = strconv.FormatInt(t.UnixMilli(), 10)
		default:
			st.text = []string{"-62135596800000", "-62135596800001", "253402300799999", "253402300800000",
				"253402300799000", "253402300799000.0", "9223372036854", "-9223372036854.775", "0.5"}[rng.IntN(9)]
		}
	case "rfc3339":
		st.text = t.In(time.FixedZone("", off)).Format([]string{time.RFC3339, time.RFC3339Nano,
			"2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05-07"}[rng.IntN(4)])
	default:
		if strings.Contains(l, "%") {
			l = strftimeToGo(l)
		}
		z := t.Location()
		if z != h.s.Location {
			z = time.FixedZone("", off)
		}
		st.text = t.In(z).Format(l)
	}
	if rng.IntN(20) == 0 {
		st.text = "  " + st.text + "\t"
	}
	return st
}

// strftimeToGo translates the strftime patterns of the schemas into Go layouts.
func strftimeToGo(l string) string {
	return strings.NewReplacer("%Y", "2006", "%y", "06", "%m", "01", "%d", "02", "%H", "15", "%I", "03",
		"%M", "04", "%S", "05", "%p", "PM", "%z", "-07:00", "%b", "Jan", "%f", "000000", "%T", "15:04:05",
		"%F", "2006-01-02").Replace(l)
}

func (h *hostileSchema) status(rng *rand.Rand) string {
	f, _ := h.s.Field("status")
	vals := append(slices.Clone(f.Open), f.Closed...)
	if len(vals) == 0 || rng.IntN(3) == 0 {
		return hostileText(rng)
	}
	v := vals[rng.IntN(len(vals))]
	switch rng.IntN(4) {
	case 0:
		v = strings.ToUpper(v)
	case 1:
		v = " " + strings.ToLower(v) + " "
	case 2:
		v += "\u00a0"
	}
	return v
}

// hostileText returns a text value from the kinds that have broken text columns somewhere.
func hostileText(rng *rand.Rand) string {
	pieces := []string{`\`, `\\`, `\N`, `\.`, "\t", "\n", "\r", "\r\n", `"`, `""`, `'`, ",", ";", "$$", "%s",
		"é", "Ã©", "Â ", "Ã", "\u00a0", "\u3000", "\ufeff", "\u2028", "\ufffd", "\uffff", "\U0010ffff",
		"\u0301", "\u202e", "😀", "ß", "İ", "\x01", "\x1f", "\x7f", "\x1b[31m", "'; DROP TABLE agency_daily; --",
		"64108.0", "1e308", "-0", "NaN", " ", "NULL", "N/A"}
	// Bytes PostgreSQL refuses, which the normalizer rejects: rarely, so that most
	// records are kept.
	unstorable := []string{"\u0000", "\xff", "\xc3", "\xed\xa0\x80", "\xc0\x80"}
	if rng.IntN(100) == 0 {
		return "x" + unstorable[rng.IntN(len(unstorable))]
	}
	switch rng.IntN(40) {
	case 0:
		return ""
	case 1: // long: around MaxKeyText bytes, and beyond
		n := []int{jobs.MaxKeyText - 1, jobs.MaxKeyText, jobs.MaxKeyText + 1, 1 + rng.IntN(3000), 9000}[rng.IntN(5)]
		unit := []string{"a", "é", "😀", `\`, "\t", "日本", "Ã©"}[rng.IntN(7)]
		s := strings.Repeat(unit, n/len(unit)+1)
		s = s[:n]
		return strings.ToValidUTF8(s, "")
	case 2, 3: // letters that do not compress
		b := make([]byte, 500+rng.IntN(600))
		for j := range b {
			b[j] = byte('!' + rng.IntN(94))
		}
		return string(b)
	default:
		var b strings.Builder
		for range 1 + rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			if rng.IntN(2) == 0 {
				b.WriteString("x")
			}
		}
		return b.String()
	}
}

func hostileCoord(rng *rand.Rand, limit float64) string {
	switch rng.IntN(3) {
	case 0:
		return []string{"90", "-90", "180", "-180", "90.0000000000001", "-180.00000001", "0", "-0", "0.0000001",
			"1e-320", "5e-324", "-5e-324", "1e308", "-1e308", "inf", "NaN", "0x1p-2", "+45.5", "45.", ".5",
			"  40.7  ", "1_0", "89.99999999999999", "-179.999999999999999999", "0.005", "-0.005",
			"12345678901234567890.5", "4.9e-324"}[rng.IntN(28)]
	default:
		return strconv.FormatFloat((rng.Float64()*2-1)*limit*1.01, 'f', -1, 64)
	}
}

func hostilePoint(rng *rand.Rand) string {
	lat, lon := hostileCoord(rng, 90), hostileCoord(rng, 180)
	switch rng.IntN(4) {
	case 0:
		return "(" + lat + ", " + lon + ")"
	case 1:
		return "POINT (" + lon + " " + lat + ")"
	case 2:
		return "123 Main St\n(" + lat + ", " + lon + ")"
	default:
		return hostileText(rng)
	}
}

func hostileProjected(rng *rand.Rand) string {
	switch rng.IntN(3) {
	case 0:
		return []string{"0", "1e308", "-1e308", "1e15", "-1e15", "5e-324", "1164000", "1900000", "NaN",
			"0.0", "1e7", "-1e7", "3.4e38"}[rng.IntN(13)]
	default:
		return strconv.FormatFloat((rng.Float64()*2-1)*2e7, 'f', -1, 64)
	}
}

// fixedHostile are raw records that broke a publish or a map task once, and the boundary
// values beside them that must be kept, as field → value for a schema; every other field is
// empty.
var fixedHostile = []struct {
	name, schema string
	fields       map[string]string
	reject       string // the reason the normalizer must give
}{
	{"year 0 created", "nyc", map[string]string{"request_id": "f-year0", "created_at": "01/01/0000 12:00:00 AM"},
		jobs.ReasonTimeOutOfRange},
	{"agency over an index entry", "nyc", map[string]string{"request_id": "f-long", "created_at": "01/01/2020 12:00:00 AM",
		"agency": strings.Repeat("q", 3000)}, jobs.ReasonValueTooLong},
	// Summer time began in Paraguay at midnight on 2017-10-01: 00:30 that day is a wall
	// clock that never was.
	// The Unix epoch, which the shuffle's encoding reads back as no time.
	{"created at the epoch, unix_ms", "dc", map[string]string{"request_id": "f-epoch", "created_at": "0"}, jobs.ReasonEpochTime},
	{"created at the epoch, rfc3339", "nyc", map[string]string{"request_id": "f-epoch", "created_at": "1969-12-31T19:00:00-05:00"},
		jobs.ReasonEpochTime},
	{"created a microsecond after the epoch", "nyc", map[string]string{"request_id": "f-epoch1",
		"created_at": "1970-01-01T00:00:00.000001Z"}, ""},
	// The widest request_monthly key: the longest city, request type and agency, in letters
	// that do not compress.
	{"widest key", "hostile_np", map[string]string{"request_id": "f-wide", "created_at": "01/31/20 11:59 PM",
		"agency": randomText(jobs.MaxKeyText, 1), "request_type": randomText(jobs.MaxKeyText, 2)}, ""},
	// A record of the split reader's largest size (16 MiB), nearly all of it a request id,
	// in the schema with the longest city and few columns: its shuffle row would pass 16 MiB.
	{"16 MiB request id", "hostile_np", map[string]string{"request_id": strings.Repeat("i", 16<<20-40),
		"created_at": "1/1/20 1:00 AM"}, jobs.ReasonValueTooLong},
	{"longest request id", "hostile_np", map[string]string{"request_id": strings.Repeat("i", jobs.MaxText),
		"created_at": "1/1/20 1:00 AM"}, ""},
	{"skipped first hour of a month", "hostile_py", map[string]string{"request_id": "f-gap", "created_at": "01.10.2017 00:30:00",
		"agency": "A"}, jobs.ReasonSkippedLocalTime},
}

// randomText returns n printable ASCII bytes drawn from seed: text that does not compress.
func randomText(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 311))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('!' + rng.IntN(94))
	}
	return string(b)
}

// acceptedRecord is a hostile record the normalizer kept, with what a failure report needs.
type acceptedRecord struct {
	r   record.Request
	raw string // the record as read: CSV fields, or a SODA object
	h   *hostileSchema
}

// hostileNormalizer reads h's hostile records, as CSV fields or as SODA JSON objects, and
// keeps the accepted ones; every other one must be a reject with a reason, counted.
type hostileNormalizer struct {
	t       *testing.T
	h       *hostileSchema
	csv     *jobs.Normalizer
	json    *jobs.Normalizer
	acc     []acceptedRecord
	rejects map[string]int
}

func newHostileNormalizer(t *testing.T, h *hostileSchema, rejects map[string]int) *hostileNormalizer {
	t.Helper()
	csv, err := h.s.Bind(h.header)
	if err != nil {
		t.Fatalf("schema %s: %v", h.s.Name, err)
	}
	// As the map tasks read: borrowing, each request encoded before the next record.
	json := h.s.BindJSON()
	csv.Borrow()
	json.Borrow()
	return &hostileNormalizer{t: t, h: h, csv: csv, json: json, rejects: rejects}
}

// try normalizes one record as a map task does, as a SODA JSON object when asJSON, and
// returns the reject's reason or "". A record kept goes through the shuffle's encoding, as
// from a map task to a reducer.
func (hn *hostileNormalizer) try(fields [][]byte, asJSON, noise bool, rng *rand.Rand) string {
	var r record.Request
	var err error
	var raw string
	var row []byte
	if asJSON {
		obj := hn.h.object(fields, noise, rng)
		raw = string(obj)
		page := append(append([]byte{'['}, obj...), ']')
		objects := 0
		serr := jobs.ScanSODAObjects(bytes.NewReader(page), func(_ int64, o *jobs.SODAObject) error {
			objects++
			if err = hn.json.NormalizeObject(o, &r); err == nil {
				row = shuffle.AppendRequest(nil, &r)
			}
			return nil
		})
		if serr != nil || objects != 1 {
			hn.t.Fatalf("schema %s: object %s: %d objects scanned: %v", hn.h.s.Name, raw, objects, serr)
		}
	} else {
		raw = fmt.Sprintf("%q", fields)
		if err = hn.csv.Normalize(fields, &r); err == nil {
			row = shuffle.AppendRequest(nil, &r)
		}
	}
	if err != nil {
		var re *jobs.RejectError
		if !errors.As(err, &re) || re.Reason == "" {
			hn.t.Fatalf("schema %s: record %.300s: an error that is not a reject with a reason: %v", hn.h.s.Name, raw, err)
		}
		hn.rejects[re.Reason]++
		return re.Reason
	}
	if len(row) > 16<<20 {
		hn.t.Errorf("schema %s: record %.200s: a %d-byte shuffle row, over the shuffle's 16 MiB", hn.h.s.Name, raw, len(row))
		return ""
	}
	if _, err := shuffle.DecodeRequest(row, &r); err != nil {
		hn.t.Fatalf("schema %s: record %.300s: the shuffle cannot decode its row: %v", hn.h.s.Name, raw, err)
	}
	hn.acc = append(hn.acc, acceptedRecord{r: r, raw: raw, h: hn.h})
	return ""
}

// object writes fields as a SODA JSON object keyed by the header, each value a JSON string
// with some characters escaped (\uXXXX, surrogate pairs), an empty value left out or null.
// With noise, a value gets the odd lone surrogate or escaped control character too.
func (h *hostileSchema) object(fields [][]byte, noise bool, rng *rand.Rand) []byte {
	b := []byte{'{'}
	for i, name := range h.header {
		v := fields[i]
		if len(v) == 0 && rng.IntN(2) == 0 {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, []byte(name), false, rng)
		b = append(b, ':')
		if len(v) == 0 && rng.IntN(2) == 0 {
			b = append(b, "null"...)
			continue
		}
		switch {
		case noise && json.Valid(v) && rng.IntN(3) == 0:
			b = append(b, v...) // a number (or true, false) as SODA may write it
		case noise && rng.IntN(30) == 0: // a value nested in an object or an array
			b = append(b, `{"latitude": `...)
			b = appendJSONString(b, v, noise, rng)
			b = append(b, `, "human_address": "{\"address\": \"1 Main St\"}", "n": [1, -0.5e3, null]}`...)
		case noise && rng.IntN(30) == 0:
			b = append(b, '[')
			b = appendJSONString(b, v, noise, rng)
			b = append(b, ", true]"...)
		default:
			b = appendJSONString(b, v, noise, rng)
		}
	}
	return append(b, '}')
}

func appendJSONString(b, v []byte, noise bool, rng *rand.Rand) []byte {
	b = append(b, '"')
	for len(v) > 0 {
		r, size := utf8.DecodeRune(v)
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = fmt.Appendf(b, `\u%04x`, r)
		case r == utf8.RuneError && size == 1:
			b = append(b, v[0]) // invalid UTF-8 stays invalid
		case rng.IntN(8) == 0:
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				b = fmt.Appendf(b, `\u%04X\u%04x`, r1, r2)
			} else {
				b = fmt.Appendf(b, `\u%04x`, r)
			}
		case noise && rng.IntN(200) == 0:
			b = append(b, []string{`\ud800`, `\udfff`, `\/`, `\b`, `\f`}[rng.IntN(5)]...)
			b = append(b, v[:size]...)
		default:
			b = append(b, v[:size]...)
		}
		v = v[size:]
	}
	return append(b, '"')
}

// TestHostileRecordsPublish: every record the normalizer accepts, of hostile records for every
// built-in schema and two custom ones, as CSV and as SODA JSON, is written to Parquet and
// published into PostgreSQL, and request_monthly counts each exactly once.
func TestHostileRecordsPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server; skipped under -short")
	}
	seed, n := uint64(2026), publishableRecords
	// For exploring: HOSTILE_SEED and HOSTILE_RECORDS (per schema) change the records.
	if v, err := strconv.ParseUint(os.Getenv("HOSTILE_SEED"), 10, 64); err == nil {
		seed = v
	}
	if v, err := strconv.Atoi(os.Getenv("HOSTILE_RECORDS")); err == nil {
		n = v
	}
	rng := rand.New(rand.NewPCG(311, seed))
	start := time.Now()
	rejects := map[string]int{}
	var acc []acceptedRecord
	for _, h := range hostileSchemas(t) {
		hn := newHostileNormalizer(t, h, rejects)
		for _, fc := range fixedHostile {
			if fc.schema != h.s.Name {
				continue
			}
			raw := make([][]byte, len(h.header))
			for j := range raw {
				raw[j] = []byte{}
			}
			for f, v := range fc.fields {
				if len(h.col[f]) == 0 {
					t.Fatalf("fixed case %q: schema %s has no column for %s", fc.name, fc.schema, f)
				}
				h.set(raw, f, v)
			}
			for _, asJSON := range []bool{false, true} {
				if asJSON && len(fc.fields["request_id"]) > jobs.MaxSODAObject/8 {
					// Escaped, the object would pass jobs.MaxSODAObject: a SODA file with
					// such an object is refused whole, by design.
					continue
				}
				if got := hn.try(raw, asJSON, false, rng); got != fc.reject {
					t.Errorf("fixed case %q (JSON %v): reject %q, want %q", fc.name, asJSON, got, fc.reject)
				}
			}
		}
		for i := range n {
			hn.try(h.gen(rng, i), i%3 == 2, true, rng)
		}
		acc = append(acc, hn.acc...)
	}
	t.Logf("%d records accepted; rejects by reason: %v", len(acc), rejects)

	// Group as the reducers do, and check the records themselves.
	groups := map[record.Key][]int{}
	locs := map[string]*time.Location{}
	for i := range acc {
		r := &acc[i].r
		if r.HasLocation && !(math.Abs(r.Latitude) <= 90 && math.Abs(r.Longitude) <= 180) {
			t.Errorf("schema %s: record %.300s: location %v, %v", acc[i].h.s.Name, acc[i].raw, r.Latitude, r.Longitude)
		}
		if y, m, _ := r.CreatedAt.In(acc[i].h.s.Location).Date(); y != r.Year || int(m) != r.Month || y < 1 || y > 9999 {
			t.Errorf("schema %s: record %.300s: created %v (%d-%02d there) in group %d-%02d", acc[i].h.s.Name, acc[i].raw,
				r.CreatedAt, y, m, r.Year, r.Month)
		}
		locs[r.City] = acc[i].h.s.Location
		k := record.Key{City: r.City, Year: r.Year, Month: r.Month}
		groups[k] = append(groups[k], i)
	}
	keys := make([]record.Key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)

	// The lake: each city's records encode as one Parquet file, a row group per group as
	// the reducers write them, and read back whole; its summaries as the reducers stage them.
	tables := map[record.Key]summary.Tables{}
	ctx := context.Background()
	sums, err := lake.NewStage(testStore(t), t.TempDir(), "hostile", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	for len(keys) > 0 {
		city := keys[0].City
		n := 1
		for n < len(keys) && keys[n].City == city {
			n++
		}
		var buf bytes.Buffer
		pw := lake.GetWriter[lake.Row](&buf, 0)
		var batch lake.RowBatch
		var all []record.Request
		var allTabs summary.Tables
		for _, k := range keys[:n] {
			reqs := make([]record.Request, 0, len(groups[k]))
			batch.Reset(len(groups[k]))
			for _, i := range groups[k] {
				reqs = append(reqs, acc[i].r)
				batch.Add(&acc[i].r)
			}
			if _, err := pw.Write(batch.Rows()); err != nil {
				t.Fatalf("group %s: the lake cannot write its %d records: %v", k, len(reqs), err)
			}
			if err := pw.Flush(); err != nil {
				t.Fatalf("group %s: the lake cannot write its %d records: %v", k, len(reqs), err)
			}
			all = append(all, reqs...)
			tab := summary.Compute(k, locs[k.City], reqs)
			tables[k] = tab
			allTabs.Monthly = append(allTabs.Monthly, tab.Monthly...)
			allTabs.AgencyDaily = append(allTabs.AgencyDaily, tab.AgencyDaily...)
			allTabs.Heat = append(allTabs.Heat, tab.Heat...)
			allTabs.Geo = append(allTabs.Geo, tab.Geo...)
		}
		if err := pw.Close(); err != nil {
			t.Fatalf("city %s: the lake cannot write its %d records: %v", city, len(all), err)
		}
		back, err := parquet.Read[lake.Row](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil || len(back) != len(all) {
			t.Fatalf("city %s: read back %d of %d records: %v", city, len(back), len(all), err)
		}
		for j := range back {
			if got := lake.FromRow(keys[0], &back[j]); got.RequestID != all[j].RequestID || got.Agency != all[j].Agency ||
				got.RequestType != all[j].RequestType || !got.CreatedAt.Equal(all[j].CreatedAt.Truncate(time.Microsecond)) {
				t.Errorf("city %s: record %q came back from Parquet as %q", city, all[j].RequestID, got.RequestID)
			}
		}
		if _, err := lake.StageSummaries(ctx, sums, keys[0], allTabs); err != nil {
			t.Errorf("city %s: the summaries do not encode: %v", city, err)
		}
		keys = keys[n:]
	}
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)

	t.Logf("%d groups normalized, written and summarized in %v", len(keys), time.Since(start))
	pg := testenv.Postgres(t)
	db := freshDB(t, pg, "hostile")
	sink := newSink(t, db, 0)
	if err := sink.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	load := func(k record.Key) (summary.Tables, error) { return tables[k], nil }
	job := JobRun{ID: "hostile", Name: "hostile", Status: "succeeded", Started: time.Unix(1700000000, 0)}
	start = time.Now()
	err = sink.Publish(ctx, job, keys, load)
	t.Logf("publish: %v", time.Since(start))
	if err != nil {
		t.Errorf("publish of %d groups: %v", len(keys), err)
		explainPublishFailure(t, sink, keys, load, groups, acc)
		return
	}
	var total int64
	if err := db.QueryRow("SELECT coalesce(sum(requests), 0) FROM request_monthly").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != int64(len(acc)) {
		t.Errorf("request_monthly counts %d requests, the normalizer accepted %d", total, len(acc))
	}

	// Some of the groups the way a job publishes them: their summary files committed to a
	// summaries root and read back by LakeLoader. Every 100th group (committing each takes
	// some milliseconds), and those with the widest text.
	var some []record.Key
	for i, k := range keys {
		if i%100 == 0 || slices.ContainsFunc(tables[k].Monthly, func(m summary.Monthly) bool {
			return len(m.Agency)+len(m.RequestType) > jobs.MaxKeyText
		}) {
			some = append(some, k)
		}
	}
	root := t.TempDir()
	for _, k := range some {
		writeSummaries(t, root, k, tables[k])
	}
	lakeLoad := LakeLoader(ctx, testStore(t), t.TempDir(), summariesManifest(root))
	db2 := freshDB(t, pg, "hostile_lake")
	sink2 := newSink(t, db2, 0)
	if err := sink2.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink2.Publish(ctx, job, some, lakeLoad); err != nil {
		t.Fatalf("publish of %d groups from the lake: %v", len(some), err)
	}
	want := expected(t, some, load)
	if got := dump(t, db2); !equalStrings(got, want) {
		t.Errorf("%d groups published from the lake: %s", len(some), diffRows(got, want))
	}
	t.Logf("%d groups published from the lake, %d rows", len(some), len(want))
}

// explainPublishFailure finds, by halving the groups, one group that fails to publish alone,
// and reports the records of it that fail alone: the minimal repros. A few dozen publishes,
// where one per group would take minutes.
func explainPublishFailure(t *testing.T, sink *Sink, keys []record.Key, load LoadFunc,
	groups map[record.Key][]int, acc []acceptedRecord) {
	t.Helper()
	ctx := context.Background()
	job := JobRun{ID: "explain", Name: "explain", Status: "succeeded", Started: time.Unix(1700000000, 0)}
	fails := func(keys []record.Key, load LoadFunc) error { return sink.Publish(ctx, job, keys, load) }
	for len(keys) > 1 {
		half := len(keys) / 2
		switch {
		case fails(keys[:half], load) != nil:
			keys = keys[:half]
		case fails(keys[half:], load) != nil:
			keys = keys[half:]
		default:
			t.Errorf("groups %s to %s fail together, and neither half of them alone", keys[0], keys[len(keys)-1])
			return
		}
	}
	k, bad := keys[0], 0
	for _, i := range groups[k] {
		a := &acc[i]
		one := summary.Compute(k, a.h.s.Location, []record.Request{a.r})
		if err := fails(keys, func(record.Key) (summary.Tables, error) { return one, nil }); err != nil && bad < 5 {
			bad++
			t.Errorf("schema %s, group %s: one record fails the publish: %v\n  raw: %.300s\n  created %v",
				a.h.s.Name, k, err, a.raw, a.r.CreatedAt)
		}
	}
	if bad == 0 {
		t.Errorf("group %s fails to publish, none of its records alone", k)
	}
}
