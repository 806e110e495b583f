package jobs

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Timestamps are most of the normalizer's work: a record has up to three, and time.Parse costs
// an allocation per call and a layout walk per byte. The layouts that real exports use are
// recognized when the schema is bound and parsed by hand; any other Go layout goes through
// time.ParseInLocation. A hand parser accepts a superset of what time.Parse accepts for its
// layout (any number of fraction digits, any UTC-offset spelling: Z, +hh, +hhmm, +hh:mm), so when
// it fails the slow path cannot succeed and is not tried. A strftime pattern (strftime.go) is
// compiled at Bind into steps that are walked without allocating; "auto" (dialect.go) is
// replaced, per file, by the pattern detected from the file's first values before Bind.

type layoutKind uint8

const (
	layoutGo      layoutKind = iota // a Go reference-time layout
	layoutUnix                      // seconds since the epoch, optionally with a fraction
	layoutUnixMS                    // milliseconds since the epoch
	layoutRFC3339                   // RFC 3339 with or without a fraction; an offset is required
	layoutStrf                      // a strftime pattern (strftime.go)
	layoutAuto                      // "auto": detected per file and column (dialect.go); parses nothing itself
)

type fastKind uint8

const (
	fastNone fastKind = iota
	fastUS12          // "01/02/2006 03:04:05 PM", local time
	fastISO           // "2006-01-02T15:04:05[.000][zone]" with 'T' or ' '
	fastStrf          // a compiled strftime pattern
)

type timeLayout struct {
	kind   layoutKind
	layout string
	fast   fastKind
	sep    byte // fastISO: the byte between date and time
	zone   bool // fastISO: the text must carry a UTC offset
	strf   *strfLayout
}

// isoZones are the Go zone elements the ISO fast path recognizes at the end of a layout.
var isoZones = []string{"", "Z07:00", "Z0700", "Z07", "-07:00", "-0700", "-07"}

func compileLayout(l string) (timeLayout, error) {
	switch l {
	case LayoutAuto:
		return timeLayout{kind: layoutAuto, layout: l}, nil
	case "unix":
		return timeLayout{kind: layoutUnix, layout: l}, nil
	case "unix_ms":
		return timeLayout{kind: layoutUnixMS, layout: l}, nil
	case "rfc3339":
		return timeLayout{kind: layoutRFC3339, layout: l, fast: fastISO, sep: 'T', zone: true}, nil
	}
	if strings.IndexByte(l, '%') >= 0 {
		return compileStrf(l)
	}
	// A layout must at least carry the date: formatting the reference time and parsing it back
	// must give the reference date. This catches "YYYY-MM-DD" style and typos up front instead of
	// rejecting every record.
	ref := time.Date(2006, 1, 2, 15, 4, 5, 0, time.FixedZone("", -7*3600))
	back, err := time.Parse(l, ref.Format(l))
	if err != nil || back.Year() != 2006 || back.Month() != 1 || back.Day() != 2 {
		return timeLayout{}, fmt.Errorf("time layout %q is not a Go layout with a date (such as \"2006-01-02 15:04:05\"), nor a strftime pattern (\"%%Y-%%m-%%d %%H:%%M:%%S\"), nor auto, unix, unix_ms or rfc3339", l)
	}
	tl := timeLayout{kind: layoutGo, layout: l}
	if l == "01/02/2006 03:04:05 PM" {
		tl.fast = fastUS12
		return tl, nil
	}
	if len(l) >= 19 && l[:10] == "2006-01-02" && (l[10] == 'T' || l[10] == ' ') && l[11:19] == "15:04:05" {
		rest := l[19:]
		if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
			i := 1
			for i < len(rest) && rest[i] == rest[1] && (rest[1] == '0' || rest[1] == '9') {
				i++
			}
			if i == 1 {
				return tl, nil
			}
			rest = rest[i:]
		}
		for _, z := range isoZones {
			if rest == z {
				tl.fast, tl.sep, tl.zone = fastISO, l[10], z != ""
				break
			}
		}
	}
	return tl, nil
}

// civil is a parsed timestamp: the instant, and when the text was local civil time, its
// calendar year and month (which are then the partition month without a zone conversion).
// The instant is kept as Unix seconds and nanoseconds rather than a time.Time: the parsers
// return it through two or three calls per timestamp, and these four words stay in registers
// where a time.Time's three did not (the copies through the stack were a fifth of the
// parse); time builds the time.Time once, at the end.
type civil struct {
	sec         int64 // seconds since 1970-01-01 UTC
	ns          int32 // 0..999999999
	year, month int32 // 0 when the text carried an offset
}

// time returns the instant in UTC.
func (c civil) time() time.Time { return time.Unix(c.sec, int64(c.ns)).UTC() }

// civilOf returns t as an instant without a civil month.
func civilOf(t time.Time) civil { return civil{sec: t.Unix(), ns: int32(t.Nanosecond())} }

// zoneCache remembers periods of constant UTC offset of a location, each shrunk by a day at
// each end so that no civil time inside it is ambiguous or skipped. A file's records span
// years in no particular order, so one remembered period (half a year, in a zone with summer
// time) would miss at nearly every year or season change; the periods seen so far, up to
// maxZonePeriods, convert nearly every local timestamp with a binary search and one
// subtraction instead of time.Date's two zone lookups. The zero value is empty.
type zoneCache struct {
	loc     *time.Location
	periods []zonePeriod // sorted by lo; disjoint
	last    int          // index in periods of the last hit
	// months holds, by (year-monthYear0)*12 + month-1, 1 + 2 × the Unix time of the month's
	// first civil second when one period holds the whole month, or 0: a record's timestamps
	// fall in any month of a decade, so the last period hit rarely holds the next one, and
	// the binary search among the periods, a branch missed at nearly every step, was half
	// of converting a local time. A month in the table converts without civilSeconds too.
	// A month that no one period holds (a change of offset falls in it: two months a year
	// with summer time, a sixth of a file's local timestamps) is 2 × (i+1) instead, i
	// indexing splits, which holds the parts of the month the periods seen so far hold.
	months []int64
	splits []monthSplit
}

// monthSplit holds two parts of a month, each the part one period holds: [lo, hi) in
// seconds from the month's first civil second, converted by adding base (0 <= lo < hi
// when known; lo == hi when not yet). A time in neither, within a day of the change,
// converts through the periods.
type monthSplit struct {
	part [2]struct{ lo, hi, base int64 }
}

// The months a zoneCache's months table covers.
const (
	monthYear0 = 1900
	monthSlots = 256 * 12
)

// zonePeriod is one period of constant offset, as civil seconds (civilSeconds) [lo, hi).
type zonePeriod struct {
	lo, hi int64
	offset int64 // seconds east of UTC
}

// maxZonePeriods bounds a cache's periods: two a year, for the two centuries any record falls in.
const maxZonePeriods = 400

func (p *zonePeriod) holds(civ int64) bool { return civ >= p.lo && civ < p.hi }

// offset returns loc's UTC offset, in seconds east, at the instant sec: the offset of the
// period last hit when it holds the instant, else a zone lookup's.
func (zc *zoneCache) offset(sec int64, loc *time.Location) int64 {
	if zc.loc == loc && zc.last < len(zc.periods) {
		if p := &zc.periods[zc.last]; p.holds(sec + p.offset) {
			return p.offset
		}
	}
	_, off := time.Unix(sec, 0).In(loc).Zone()
	return int64(off)
}

// date is time.Date(y, mo, d, h, mi, s, ns, loc).UTC(), through the cache.
func (zc *zoneCache) date(y, mo, d, h, mi, s, ns int, loc *time.Location) time.Time {
	return time.Unix(zc.unix(y, mo, d, h, mi, s, loc), int64(ns)).UTC()
}

// unix is time.Date(y, mo, d, h, mi, s, 0, loc).Unix(), through the cache. Outside the cached
// periods it calls time.Date and caches the period around the result.
func (zc *zoneCache) unix(y, mo, d, h, mi, s int, loc *time.Location) int64 {
	if zc.loc != loc {
		zc.loc, zc.periods, zc.last = loc, zc.periods[:0], 0
		clear(zc.months)
		zc.splits = zc.splits[:0]
	}
	mi0 := uint((y-monthYear0)*12 + mo - 1)
	if mi0 < monthSlots && zc.months != nil {
		secs := int64((d-1)*86400 + h*3600 + mi*60 + s)
		if v := zc.months[mi0]; v&1 != 0 {
			return v>>1 + secs
		} else if v != 0 {
			sp := &zc.splits[v>>1-1]
			for i := range sp.part {
				if q := &sp.part[i]; secs >= q.lo && secs < q.hi {
					return q.base + secs
				}
			}
		}
	}
	civ := civilSeconds(y, mo, d, h, mi, s)
	if zc.last < len(zc.periods) && zc.periods[zc.last].holds(civ) {
		zc.noteMonth(mi0, civ, y, mo, d, h, mi, s, &zc.periods[zc.last])
		return civ - zc.periods[zc.last].offset
	}
	// The first period whose hi is above civ: the only one that can hold it.
	lo, hi := 0, len(zc.periods)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if zc.periods[m].hi <= civ {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(zc.periods) && zc.periods[lo].holds(civ) {
		zc.last = lo
		zc.noteMonth(mi0, civ, y, mo, d, h, mi, s, &zc.periods[lo])
		return civ - zc.periods[lo].offset
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	p := zonePeriod{lo: math.MinInt64, hi: math.MaxInt64, offset: int64(off)}
	if !start.IsZero() {
		p.lo = start.Unix() + 86400 + p.offset
	}
	if !end.IsZero() {
		p.hi = end.Unix() - 86400 + p.offset
	}
	if p.lo < p.hi && len(zc.periods) < maxZonePeriods {
		j, found := slices.BinarySearchFunc(zc.periods, p.lo, func(q zonePeriod, lo int64) int { return cmp.Compare(q.lo, lo) })
		if !found {
			zc.periods = slices.Insert(zc.periods, j, p)
		}
	}
	return t.Unix()
}

// noteMonth records in months[mi0] the offset of p, which holds civ (civilSeconds(y, mo,
// d, h, mi, s)), when p holds the whole of civ's month, and otherwise the part of the
// month that p holds, in the month's split.
func (zc *zoneCache) noteMonth(mi0 uint, civ int64, y, mo, d, h, mi, s int, p *zonePeriod) {
	if mi0 >= monthSlots {
		return
	}
	start := civ - int64((d-1)*86400+h*3600+mi*60+s)
	end := start + int64(daysIn(y, mo))*86400
	if zc.months == nil {
		zc.months = make([]int64, monthSlots)
	}
	if p.holds(start) && p.holds(end-1) {
		zc.months[mi0] = (start-p.offset)<<1 | 1
		return
	}
	v := zc.months[mi0]
	if v&1 != 0 {
		return
	}
	if v == 0 {
		zc.splits = append(zc.splits, monthSplit{})
		v = int64(len(zc.splits)) << 1
		zc.months[mi0] = v
	}
	// The part of the month p holds, relative to start; it holds civ, so it is not empty.
	q := struct{ lo, hi, base int64 }{max(p.lo, start) - start, min(p.hi, end) - start, start - p.offset}
	sp := &zc.splits[v>>1-1]
	for i := range sp.part {
		switch {
		case sp.part[i] == q:
			return
		case sp.part[i].lo == sp.part[i].hi:
			sp.part[i] = q
			return
		}
	}
	// A third period in one month (two changes of offset within it): its times convert
	// through the periods.
}

// civilSeconds counts the seconds from 1970-01-01 00:00:00 to a civil date and time, ignoring
// zones (Howard Hinnant's days_from_civil, with unsigned divisions for years from 1 on and the
// days before each month from a table).
func civilSeconds(y, mo, d, h, mi, s int) int64 {
	if mo <= 2 {
		y--
	}
	var days int64
	if y >= 0 {
		uy := uint(y)
		era := uy / 400
		yoe := uy - era*400
		doe := yoe*365 + yoe/4 - yoe/100 + uint(marchDays[mo&15]) + uint(d) - 1
		days = int64(era)*146097 + int64(doe) - 719468
	} else {
		era := y / 400
		if y%400 != 0 {
			era--
		}
		yoe := y - era*400
		doe := yoe*365 + yoe/4 - yoe/100 + int(marchDays[mo&15]) + d - 1
		days = int64(era)*146097 + int64(doe) - 719468
	}
	return days*86400 + int64(h*3600+mi*60+s)
}

// marchDays[mo] is the days from March 1 to the first of month mo (1..12) in a year that
// starts in March, as days_from_civil counts: (153*m+2)/5 for m = (mo+9) mod 12.
var marchDays = [16]uint16{1: 306, 2: 337, 3: 0, 4: 31, 5: 61, 6: 92, 7: 122, 8: 153, 9: 184, 10: 214, 11: 245, 12: 275}

// parse parses b (already trimmed and non-empty) in loc.
func (tl *timeLayout) parse(b []byte, loc *time.Location, zc *zoneCache) (civil, bool) {
	switch tl.fast {
	case fastUS12:
		// A strftime pattern with a hand parser (strfFast) also reads one-digit fields:
		// what the hand parser refuses, its steps may read.
		if c, ok := parseUS12(b, loc, zc); ok || tl.strf == nil {
			return c, ok
		}
		return parseStrf(tl.strf, b, loc, zc)
	case fastISO:
		if c, ok := parseISO(b, tl.sep, tl.zone, loc, zc); ok || tl.strf == nil {
			return c, ok
		}
		return parseStrf(tl.strf, b, loc, zc)
	case fastStrf:
		return parseStrf(tl.strf, b, loc, zc)
	}
	switch tl.kind {
	case layoutUnix:
		return parseUnix(b, 1e9)
	case layoutUnixMS:
		return parseUnix(b, 1e6)
	case layoutAuto:
		return civil{}, false // a schema bound without its file's dialect (Bind refuses that)
	}
	t, err := time.ParseInLocation(tl.layout, string(b), loc)
	if err != nil {
		return civil{}, false
	}
	return civilOf(t), true
}

func digit2(b []byte) int {
	d0, d1 := int(b[0])-'0', int(b[1])-'0'
	if uint(d0) > 9 || uint(d1) > 9 {
		return -1
	}
	return d0*10 + d1
}

func digit4(b []byte) int {
	hi, lo := digit2(b[0:2]), digit2(b[2:4])
	if hi < 0 || lo < 0 {
		return -1
	}
	return hi*100 + lo
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func validDate(y, mo, d int) bool {
	return y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo)
}

// parseUS12 parses "01/02/2006 03:04:05 PM" with Go's rules for the 12-hour clock (hour 0..12,
// 12 AM is midnight).
func parseUS12(b []byte, loc *time.Location, zc *zoneCache) (civil, bool) {
	if len(b) != 22 || b[2] != '/' || b[5] != '/' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || b[19] != ' ' || b[21]|0x20 != 'm' {
		return civil{}, false
	}
	mo, d, y := digit2(b[0:2]), digit2(b[3:5]), digit4(b[6:10])
	h, mi, s := digit2(b[11:13]), digit2(b[14:16]), digit2(b[17:19])
	if !validDate(y, mo, d) || h < 0 || h > 12 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return civil{}, false
	}
	switch b[20] | 0x20 {
	case 'p':
		if h < 12 {
			h += 12
		}
	case 'a':
		if h == 12 {
			h = 0
		}
	default:
		return civil{}, false
	}
	return civil{sec: zc.unix(y, mo, d, h, mi, s, loc), year: int32(y), month: int32(mo)}, true
}

// parseISO parses "2006-01-02<sep>15:04:05[.fraction][zone]".
func parseISO(b []byte, sep byte, zone bool, loc *time.Location, zc *zoneCache) (civil, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != sep || b[13] != ':' || b[16] != ':' {
		return civil{}, false
	}
	y, mo, d := digit4(b[0:4]), digit2(b[5:7]), digit2(b[8:10])
	h, mi, s := digit2(b[11:13]), digit2(b[14:16]), digit2(b[17:19])
	if !validDate(y, mo, d) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return civil{}, false
	}
	i, ns := 19, 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		start := i + 1
		if ns, i = fraction(b, start); i == start {
			return civil{}, false
		}
	}
	if !zone {
		if i != len(b) {
			return civil{}, false
		}
		return civil{sec: zc.unix(y, mo, d, h, mi, s, loc), ns: int32(ns), year: int32(y), month: int32(mo)}, true
	}
	off, ok := parseOffset(b[i:])
	if !ok {
		return civil{}, false
	}
	return civil{sec: civilSeconds(y, mo, d, h, mi, s) - int64(off), ns: int32(ns)}, true
}

// parseOffset parses Z, ±hh, ±hhmm or ±hh:mm into seconds east of UTC.
func parseOffset(b []byte) (int, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	h, m := digit2(b[1:3]), 0
	switch rest := b[3:]; len(rest) {
	case 0:
	case 2:
		m = digit2(rest)
	case 3:
		if rest[0] != ':' {
			return 0, false
		}
		m = digit2(rest[1:])
	default:
		return 0, false
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// parseUnix parses a (possibly negative, possibly fractional) count of units of unitNS
// nanoseconds since the epoch.
func parseUnix(b []byte, unitNS int64) (civil, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var whole int64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if whole > (1<<62)/10 {
			return civil{}, false
		}
		whole = whole*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 {
		return civil{}, false
	}
	var frac int64 // nanoseconds
	if i < len(b) && b[i] == '.' {
		var ns int
		ns, i = fraction(b, i+1)
		frac = int64(ns) / (1e9 / unitNS) // digits beyond a nanosecond are dropped
	}
	if i != len(b) {
		return civil{}, false
	}
	// Beyond ±292 years of nanoseconds the arithmetic below would overflow; no 311 record is there.
	if whole > (1<<62)/unitNS {
		return civil{}, false
	}
	ns := whole*unitNS + frac
	if neg {
		ns = -ns
	}
	sec, rem := ns/1e9, ns%1e9
	if rem < 0 {
		sec, rem = sec-1, rem+1e9
	}
	return civil{sec: sec, ns: int32(rem)}, true
}
