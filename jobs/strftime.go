package jobs

import (
	"fmt"
	"strings"
	"time"
)

// strftime-style layouts. People who export spreadsheets know "%m/%d/%Y %I:%M %p", not Go's
// reference time, so a layout with a '%' in it is read as a strftime pattern. It is compiled
// once, when the schema is bound, into a list of steps that parseStrf walks without
// allocating; the same compiled form parses the dialects that "auto" detects.
//
// The subset, and how each directive reads a value:
//
//	%Y  year, 4 digits            %y  year, 2 digits: 69–99 → 19xx, 00–68 → 20xx (as POSIX and Go)
//	%m  month, 1 or 2 digits      %b  month name, abbreviated (Jan); %B full (January); %h = %b
//	%d  day, 1 or 2 digits        %e  = %d
//	%H  hour 0–23, 1 or 2 digits  %I  hour 1–12, 1 or 2 digits (needs %p)
//	%M  minute, 2 digits          %S  second, 2 digits, then an optional fraction (.5, ,123)
//	%f  fraction digits (1–9); "%S.%f" is %S: a value without a fraction parses too
//	%p  AM or PM, any case; the space before it may be missing in a value ("11:15AM")
//	%z  UTC offset: Z, ±hh, ±hhmm or ±hh:mm
//	%Z  zone name: UTC, GMT or Z only (any other name is ambiguous)
//	%a  weekday name, abbreviated or full, read and ignored; %A = %a
//	%T  = %H:%M:%S   %R = %H:%M   %D = %m/%d/%y   %F = %Y-%m-%d
//	%s  seconds since the epoch, alone in the pattern (= the named layout unix)
//	%%  a literal %
//
// A space matches one or more spaces; any other byte matches itself. Values without %z or
// %Z are local civil time in the schema's time zone.

type strfKind uint8

const (
	sLit      strfKind = iota // lit, exactly
	sSpace                    // one or more spaces
	sOptSpace                 // zero or more spaces (before %p)
	sYear4
	sYear2
	sMonth
	sMonthName // abbreviated or full, per full
	sDay
	sHour24
	sHour12
	sMinute
	sSecond // two digits, then an optional fraction
	sFrac   // 1–9 digits
	sAMPM
	sOffset
	sZoneName
	sWeekday
)

type strfStep struct {
	kind strfKind
	lit  byte
}

// strfLayout is a compiled strftime pattern.
type strfLayout struct {
	steps []strfStep
	zone  bool // the value carries its offset (%z or %Z)
}

// LayoutError is a time layout that cannot be compiled: Offset is the byte of the layout
// where the problem lies (-1 when it is the layout as a whole), so that the job file's
// diagnostic can point at it.
type LayoutError struct {
	Layout string
	Offset int
	Msg    string
}

func (e *LayoutError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("time layout %q: %s (at byte %d of the layout)", e.Layout, e.Msg, e.Offset)
	}
	return fmt.Sprintf("time layout %q: %s", e.Layout, e.Msg)
}

// strfKnown lists the directives for error messages.
const strfKnown = "%Y %y %m %b %B %h %d %e %H %I %M %S %f %p %z %Z %a %A %T %R %D %F %s %%"

// strfExpand are the directives that stand for others.
var strfExpand = map[byte]string{'T': "%H:%M:%S", 'R': "%H:%M", 'D': "%m/%d/%y", 'F': "%Y-%m-%d", 'h': "%b", 'e': "%d", 'A': "%a"}

// compileStrf compiles a strftime pattern (one with a '%'). "%s" alone is the unix layout.
func compileStrf(l string) (timeLayout, error) {
	if l == "%s" {
		return timeLayout{kind: layoutUnix, layout: l}, nil
	}
	sl := &strfLayout{}
	seen := map[strfKind]int{} // directive kind → its byte offset, to refuse repeats
	add := func(k strfKind, at int) error {
		if k != sLit && k != sSpace && k != sOptSpace {
			if _, dup := seen[k]; dup {
				return &LayoutError{Layout: l, Offset: at, Msg: "a directive for the same part of the time appears twice"}
			}
			seen[k] = at
		}
		sl.steps = append(sl.steps, strfStep{kind: k})
		return nil
	}
	var walk func(p string, base int, top bool) error
	walk = func(p string, base int, top bool) error {
		for i := 0; i < len(p); i++ {
			at := i
			if top {
				at = base + i
			} else {
				at = base
			}
			c := p[i]
			if c == ' ' {
				// A space before %p may be missing in a value: "11:15AM".
				if strings.HasPrefix(p[i:], " %p") {
					sl.steps = append(sl.steps, strfStep{kind: sOptSpace})
				} else {
					sl.steps = append(sl.steps, strfStep{kind: sSpace})
				}
				for i+1 < len(p) && p[i+1] == ' ' {
					i++
				}
				continue
			}
			if c != '%' {
				sl.steps = append(sl.steps, strfStep{kind: sLit, lit: c})
				continue
			}
			if i+1 >= len(p) {
				return &LayoutError{Layout: l, Offset: at, Msg: "a lone % ends the layout (write %% for a literal %)"}
			}
			i++
			d := p[i]
			if exp, ok := strfExpand[d]; ok {
				if err := walk(exp, at, false); err != nil {
					return err
				}
				continue
			}
			var k strfKind
			switch d {
			case '%':
				sl.steps = append(sl.steps, strfStep{kind: sLit, lit: '%'})
				continue
			case 'Y':
				k = sYear4
			case 'y':
				k = sYear2
			case 'm':
				k = sMonth
			case 'b':
				k = sMonthName
			case 'B':
				k = sMonthName
			case 'd':
				k = sDay
			case 'H':
				k = sHour24
			case 'I':
				k = sHour12
			case 'M':
				k = sMinute
			case 'S':
				k = sSecond
			case 'f':
				// "%S.%f" and "%S,%f" are %S, whose fraction is optional.
				if n := len(sl.steps); n >= 2 && sl.steps[n-2].kind == sSecond && sl.steps[n-1].kind == sLit &&
					(sl.steps[n-1].lit == '.' || sl.steps[n-1].lit == ',') {
					sl.steps = sl.steps[:n-1]
					continue
				}
				k = sFrac
			case 'p':
				k = sAMPM
			case 'z':
				k, sl.zone = sOffset, true
			case 'Z':
				k, sl.zone = sZoneName, true
			case 'a':
				k = sWeekday
			case 's':
				return &LayoutError{Layout: l, Offset: at, Msg: "%s (seconds since the epoch) must be the whole layout"}
			default:
				name := string(rune(d))
				if d >= 0x80 || d < 0x20 {
					name = fmt.Sprintf("\\x%02x", d)
				}
				return &LayoutError{Layout: l, Offset: at, Msg: fmt.Sprintf("unknown directive %%%s (known: %s)", name, strfKnown)}
			}
			if err := add(k, at); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(l, 0, true); err != nil {
		return timeLayout{}, err
	}
	has := func(ks ...strfKind) bool {
		for _, k := range ks {
			if _, ok := seen[k]; ok {
				return true
			}
		}
		return false
	}
	switch {
	case has(sYear4) && has(sYear2):
		return timeLayout{}, &LayoutError{Layout: l, Offset: seen[sYear2], Msg: "both %Y and %y give the year"}
	case has(sOffset) && has(sZoneName):
		return timeLayout{}, &LayoutError{Layout: l, Offset: seen[sZoneName], Msg: "both %z and %Z give the zone"}
	case has(sHour24) && has(sHour12):
		return timeLayout{}, &LayoutError{Layout: l, Offset: seen[sHour12], Msg: "both %H and %I give the hour"}
	case has(sHour12) && !has(sAMPM):
		return timeLayout{}, &LayoutError{Layout: l, Offset: seen[sHour12], Msg: "%I (12-hour clock) needs %p (AM/PM)"}
	case has(sAMPM) && !has(sHour12):
		return timeLayout{}, &LayoutError{Layout: l, Offset: seen[sAMPM], Msg: "%p (AM/PM) goes with %I, not %H"}
	case !has(sYear4, sYear2) || !has(sMonth, sMonthName) || !has(sDay):
		return timeLayout{}, &LayoutError{Layout: l, Offset: -1, Msg: "a layout must give the date: a year (%Y or %y), a month (%m or %b) and a day (%d)"}
	case has(sMinute) && !has(sHour24, sHour12), has(sSecond) && !has(sMinute):
		return timeLayout{}, &LayoutError{Layout: l, Offset: -1, Msg: "a time of day needs its larger parts: %S needs %M, %M needs %H or %I"}
	}
	tl := timeLayout{kind: layoutStrf, layout: l, fast: fastStrf, strf: sl}
	// The common dialects have hand parsers (timeparse.go) that read their usual spelling
	// (two-digit fields) twice as fast, with the same result: try them first.
	if f, ok := strfFast[strings.Replace(l, ".%f", "", 1)]; ok {
		tl.fast, tl.sep, tl.zone = f.fast, f.sep, f.zone
	}
	return tl, nil
}

// strfFast maps the strftime patterns whose usual values a hand parser reads to it.
var strfFast = map[string]struct {
	fast fastKind
	sep  byte
	zone bool
}{
	"%m/%d/%Y %I:%M:%S %p": {fast: fastUS12},
	"%Y-%m-%dT%H:%M:%S":    {fast: fastISO, sep: 'T'},
	"%Y-%m-%d %H:%M:%S":    {fast: fastISO, sep: ' '},
	"%Y-%m-%dT%H:%M:%S%z":  {fast: fastISO, sep: 'T', zone: true},
	"%Y-%m-%d %H:%M:%S%z":  {fast: fastISO, sep: ' ', zone: true},
}

// digits reads between min and max ASCII digits at b[i:], returning the number and the
// index after it, or -1.
func digits(b []byte, i, min, max int) (int, int) {
	v, j := 0, i
	for j < len(b) && j-i < max && b[j] >= '0' && b[j] <= '9' {
		v = v*10 + int(b[j]-'0')
		j++
	}
	if j-i < min {
		return 0, -1
	}
	return v, j
}

var monthNames = [12]string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
var weekdayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// name reads a month or weekday name at b[i:], full or abbreviated to three letters, in any
// case. It returns the name's index and the index after it, or -1.
func name(b []byte, i int, names []string) (int, int) {
	if len(b)-i < 3 {
		return 0, -1
	}
	for k, n := range names {
		if lowerEq(b[i:i+3], n[:3]) {
			if len(b)-i >= len(n) && lowerEq(b[i:i+len(n)], n) {
				return k, i + len(n)
			}
			return k, i + 3
		}
	}
	return 0, -1
}

func lowerEq(b []byte, s string) bool {
	for k := range len(s) {
		if b[k]|0x20 != s[k] {
			return false
		}
	}
	return true
}

// parseStrf parses b (trimmed, non-empty) with a compiled strftime pattern.
func parseStrf(sl *strfLayout, b []byte, loc *time.Location, zc *zoneCache) (civil, bool) {
	y, mo, d, h, mi, s, ns := -1, 0, 0, 0, 0, 0, 0
	pm, off := -1, 0
	i := 0
	for _, st := range sl.steps {
		switch st.kind {
		case sLit:
			if i >= len(b) || b[i] != st.lit {
				return civil{}, false
			}
			i++
		case sSpace, sOptSpace:
			if st.kind == sSpace && (i >= len(b) || b[i] != ' ') {
				return civil{}, false
			}
			for i < len(b) && b[i] == ' ' {
				i++
			}
		case sYear4:
			y, i = digits(b, i, 4, 4)
		case sYear2:
			y, i = digits(b, i, 2, 2)
			if i >= 0 {
				if y >= 69 {
					y += 1900
				} else {
					y += 2000
				}
			}
		case sMonth:
			mo, i = digits(b, i, 1, 2)
		case sMonthName:
			mo, i = name(b, i, monthNames[:])
			mo++
		case sDay:
			d, i = digits(b, i, 1, 2)
		case sHour24:
			h, i = digits(b, i, 1, 2)
			if h > 23 {
				return civil{}, false
			}
		case sHour12:
			h, i = digits(b, i, 1, 2)
			if h > 12 {
				return civil{}, false
			}
		case sMinute:
			mi, i = digits(b, i, 2, 2)
			if mi > 59 {
				return civil{}, false
			}
		case sSecond:
			s, i = digits(b, i, 2, 2)
			if i < 0 || s > 59 {
				return civil{}, false
			}
			if i+1 < len(b) && (b[i] == '.' || b[i] == ',') && b[i+1] >= '0' && b[i+1] <= '9' {
				ns, i = fraction(b, i+1)
			}
		case sFrac:
			if i >= len(b) || b[i] < '0' || b[i] > '9' {
				return civil{}, false
			}
			ns, i = fraction(b, i)
		case sAMPM:
			if len(b)-i < 2 || b[i+1]|0x20 != 'm' {
				return civil{}, false
			}
			switch b[i] | 0x20 {
			case 'a':
				pm = 0
			case 'p':
				pm = 1
			default:
				return civil{}, false
			}
			i += 2
		case sOffset:
			var ok bool
			if off, i, ok = offsetPrefix(b, i); !ok {
				return civil{}, false
			}
		case sZoneName:
			switch {
			case len(b)-i >= 3 && (lowerEq(b[i:i+3], "utc") || lowerEq(b[i:i+3], "gmt")):
				i += 3
			case i < len(b) && b[i]|0x20 == 'z':
				i++
			default:
				return civil{}, false
			}
		case sWeekday:
			_, i = name(b, i, weekdayNames[:])
		}
		if i < 0 {
			return civil{}, false
		}
	}
	if i != len(b) || !validDate(y, mo, d) {
		return civil{}, false
	}
	switch pm {
	case 1:
		if h < 12 {
			h += 12
		}
	case 0:
		if h == 12 {
			h = 0
		}
	}
	if sl.zone {
		return civil{sec: civilSeconds(y, mo, d, h, mi, s) - int64(off), ns: int32(ns)}, true
	}
	return civil{sec: zc.unix(y, mo, d, h, mi, s, loc), ns: int32(ns), year: int32(y), month: int32(mo)}, true
}

// fraction reads fraction digits at b[i:] (at least one, as the caller checked) as
// nanoseconds; digits past the ninth are read and dropped.
func fraction(b []byte, i int) (int, int) {
	ns, n := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n < 9 {
			ns = ns*10 + int(b[i]-'0')
			n++
		}
	}
	return ns * int(pow10int[9-n]), i
}

// pow10int holds the powers of ten up to a second's nanoseconds.
var pow10int = [...]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// offsetPrefix reads Z, ±hh, ±hhmm or ±hh:mm at b[i:] as seconds east of UTC.
func offsetPrefix(b []byte, i int) (off, next int, ok bool) {
	if i < len(b) && (b[i] == 'Z' || b[i] == 'z') {
		return 0, i + 1, true
	}
	if len(b)-i < 3 || (b[i] != '+' && b[i] != '-') {
		return 0, -1, false
	}
	j := i + 3
	switch {
	case len(b)-j >= 3 && b[j] == ':':
		j += 3
	case len(b)-j >= 2 && b[j] >= '0' && b[j] <= '9':
		j += 2
	}
	off, ok = parseOffset(b[i:j])
	return off, j, ok
}
