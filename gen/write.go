package gen

import (
	"math"
	"strconv"
)

// quoting is a format's CSV quoting convention.
type quoting uint8

const (
	// quoteMinimal quotes a value only when it holds a comma, quote or line break
	// (portal exports, MyLA311, Boston, Baltimore).
	quoteMinimal quoting = iota
	// quoteNonEmpty quotes every non-empty value; null is nothing between the commas
	// (Socrata's /resource/*.csv).
	quoteNonEmpty
	// quoteStrings quotes every string, empty or not (R's write.csv). Numbers and NA are
	// written bare by the renderer through raw.
	quoteStrings
	// quoteAll quotes every value and every null: "" between the commas (St. Louis's
	// yearly CSB files).
	quoteAll
)

// rowWriter builds one record at a time in buf. It never fails: the caller hands the
// finished record to a bufio.Writer. The hot path appends bytes only — no fmt, no
// allocation once buf has grown to the largest record.
type rowWriter struct {
	buf   []byte
	q     quoting
	eol   string
	n     int // fields written in the current record
	start int // offset where the last field (including its comma) begins

	// json switches the c* column methods to SODA JSON object members named by keys;
	// null members are omitted, every value is a string.
	json bool
	keys []string
}

func (w *rowWriter) reset() { w.buf = w.buf[:0]; w.n = 0; w.start = 0 }

// sep starts a new field.
func (w *rowWriter) sep() {
	w.start = len(w.buf)
	if w.n > 0 {
		w.buf = append(w.buf, ',')
	}
	w.n++
}

// endRecord terminates the record with the format's line end.
func (w *rowWriter) endRecord() { w.buf = append(w.buf, w.eol...) }

// dropLastField removes the last field and its comma: the ragged-row injection.
func (w *rowWriter) dropLastField() {
	w.buf = w.buf[:w.start]
	w.n--
}

func needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			return true
		}
	}
	return false
}

func (w *rowWriter) appendQuoted(s string) {
	w.buf = append(w.buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			w.buf = append(w.buf, '"')
		}
		w.buf = append(w.buf, s[i])
	}
	w.buf = append(w.buf, '"')
}

// str writes a string value under the format's quoting convention.
func (w *rowWriter) str(s string) {
	w.sep()
	switch {
	case w.q == quoteStrings, w.q == quoteAll, w.q == quoteNonEmpty && s != "", needsQuote(s):
		w.appendQuoted(s)
	default:
		w.buf = append(w.buf, s...)
	}
}

// raw writes s as is: numbers in R output, NA, and the malformed-quote injection.
func (w *rowWriter) raw(s string) {
	w.sep()
	w.buf = append(w.buf, s...)
}

// begin starts a value that the renderer appends to buf itself; quoted says whether it is
// enclosed in quotes (the renderer knows whether the value holds a comma). end closes it.
func (w *rowWriter) begin(quoted bool) {
	w.sep()
	if quoted {
		w.buf = append(w.buf, '"')
	}
}

func (w *rowWriter) end(quoted bool) {
	if quoted {
		w.buf = append(w.buf, '"')
	}
}

// valQuoted reports whether a non-empty plain value (a number, a timestamp) is quoted
// under the format's convention.
func (w *rowWriter) valQuoted() bool { return w.q != quoteMinimal }

// num writes an integer value.
// latLon writes a quoted "(lat, lon)" field, the location column of several portals, with
// prec digits after the point (-1: as few as round-trip).
func (w *rowWriter) latLon(lat, lon float64, prec int) {
	w.begin(true)
	w.buf = appendLatLon(w.buf, lat, lon, prec)
	w.end(true)
}

// appendLatLon appends "(lat, lon)" to b.
func appendLatLon(b []byte, lat, lon float64, prec int) []byte {
	b = append(b, '(')
	b = strconv.AppendFloat(b, lat, 'f', prec, 64)
	b = append(b, ", "...)
	b = strconv.AppendFloat(b, lon, 'f', prec, 64)
	return append(b, ')')
}

func (w *rowWriter) num(v int64) {
	q := w.valQuoted()
	w.begin(q)
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.end(q)
}

// float writes a coordinate with prec decimals (-1: shortest exact form).
func (w *rowWriter) float(v float64, prec int) {
	q := w.valQuoted()
	w.begin(q)
	w.buf = strconv.AppendFloat(w.buf, v, 'f', prec, 64)
	w.end(q)
}

// floatTrim writes v rounded to prec decimals without trailing zeros, as exports that
// store coordinates as decimals print them (42.362, not 42.3620).
func (w *rowWriter) floatTrim(v float64, prec int) {
	p := math.Pow10(prec)
	w.float(math.Round(v*p)/p, -1)
}

// ts writes a timestamp in layout, or null when t is zero. Null is written as nullTok,
// which the renderer picks (empty, a space, NA).
func (w *rowWriter) ts(l layout, t stamp, nullTok string) {
	if t.sec == 0 {
		w.null(nullTok)
		return
	}
	q := w.valQuoted()
	w.begin(q)
	w.buf = appendStamp(w.buf, l, t)
	w.end(q)
}

// null writes a null value spelled tok. Under quoteStrings an empty string is still a
// quoted "" (R quotes empty strings) but NA is bare.
func (w *rowWriter) null(tok string) {
	if w.q == quoteAll {
		w.sep()
		w.appendQuoted(tok)
		return
	}
	if w.q == quoteStrings && tok == "" {
		w.raw(`""`)
		return
	}
	w.raw(tok)
}

// stamp is a timestamp as the city's wall clock: seconds since 1970-01-01 00:00 of that
// clock, as if it were UTC, plus milliseconds. Keeping wall-clock time avoids time zone
// arithmetic in the hot loop; only the formats with an explicit offset convert.
// sec == 0 means null.
type stamp struct {
	sec int64
	ms  int32
}

// layout is a timestamp dialect found in the real exports.
type layout uint8

const (
	layoutUS12     layout = iota // 01/02/2006 03:04:05 PM
	layoutSODA                   // 2006-01-02T15:04:05.000
	layoutSQL                    // 2006-01-02 15:04:05
	layoutPGUTC                  // 2006-01-02 15:04:05.999+00 (fraction trimmed, absent when zero)
	layoutISODay                 // 2006-01-02T00:00:00: date-only precision, always midnight
	layoutUSDate                 // 01/02/2006
	layoutUSTime                 // 03:04 PM
	layoutEpochMS                // Unix milliseconds of an Eastern wall-clock time: 1735708943000
	layoutEpochMSF               // the same as pandas writes a nullable column: 1735708943000.0
	layoutCSB                    // 2006-01-02 15:04:05.7: the fraction trimmed but never absent
	layoutAustin                 // 2006 Jan 02 03:04:05 PM
)

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Hinnant's
// days-to-civil, exact for every day after 1970 without a time.Time).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := int64(y) / 400
	yoe := int64(y) - era*400
	mm := int64(m)
	if mm > 2 {
		mm -= 3
	} else {
		mm += 9
	}
	doy := (153*mm+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

var monthAbbr = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

func appendStamp(b []byte, l layout, t stamp) []byte {
	switch l {
	case layoutEpochMS, layoutEpochMSF:
		b = strconv.AppendInt(b, (t.sec+easternToUTC(t.sec))*1000+int64(t.ms), 10)
		if l == layoutEpochMSF {
			b = append(b, ".0"...)
		}
		return b
	case layoutISODay, layoutUSDate:
		t = stamp{sec: t.sec / 86400 * 86400}
	}
	sec := t.sec
	if l == layoutPGUTC {
		sec += easternToUTC(sec)
	}
	days := sec / 86400
	rem := int(sec - days*86400)
	y, m, d := civil(days)
	hh, mi, ss := rem/3600, rem/60%60, rem%60
	switch l {
	case layoutUSDate:
		b = append2(b, m)
		b = append(b, '/')
		b = append2(b, d)
		b = append(b, '/')
		return append4(b, y)
	case layoutUSTime:
		b = append2(b, (hh+11)%12+1)
		b = append(b, ':')
		b = append2(b, mi)
		if hh < 12 {
			return append(b, " AM"...)
		}
		return append(b, " PM"...)
	case layoutAustin:
		b = append4(b, y)
		b = append(b, ' ')
		b = append(b, monthAbbr[m-1]...)
		b = append(b, ' ')
		b = append2(b, d)
		b = append(b, ' ')
		b = append2(b, (hh+11)%12+1)
		b = append(b, ':')
		b = append2(b, mi)
		b = append(b, ':')
		b = append2(b, ss)
		if hh < 12 {
			return append(b, " AM"...)
		}
		return append(b, " PM"...)
	case layoutUS12:
		b = append2(b, m)
		b = append(b, '/')
		b = append2(b, d)
		b = append(b, '/')
		b = append4(b, y)
		b = append(b, ' ')
		h12 := hh % 12
		if h12 == 0 {
			h12 = 12
		}
		b = append2(b, h12)
		b = append(b, ':')
		b = append2(b, mi)
		b = append(b, ':')
		b = append2(b, ss)
		if hh < 12 {
			b = append(b, " AM"...)
		} else {
			b = append(b, " PM"...)
		}
	default:
		b = append4(b, y)
		b = append(b, '-')
		b = append2(b, m)
		b = append(b, '-')
		b = append2(b, d)
		if l == layoutSODA || l == layoutISODay {
			b = append(b, 'T')
		} else {
			b = append(b, ' ')
		}
		b = append2(b, hh)
		b = append(b, ':')
		b = append2(b, mi)
		b = append(b, ':')
		b = append2(b, ss)
		switch l {
		case layoutSODA:
			// Socrata's floating timestamps carry a fraction that is always zero.
			b = append(b, ".000"...)
		case layoutCSB:
			// A ragged fraction that keeps at least one digit: .0, .54, .703.
			ms := int(t.ms)
			digits := [3]byte{byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}
			n := 3
			for n > 1 && digits[n-1] == '0' {
				n--
			}
			b = append(b, '.')
			b = append(b, digits[:n]...)
		case layoutPGUTC:
			// Postgres trims trailing zeros of the fraction: .539, .71, .5 or nothing.
			if ms := int(t.ms); ms > 0 {
				digits := [3]byte{byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}
				n := 3
				for n > 0 && digits[n-1] == '0' {
					n--
				}
				b = append(b, '.')
				b = append(b, digits[:n]...)
			}
			b = append(b, "+00"...)
		}
	}
	return b
}

// easternToUTC returns the seconds to add to a US Eastern wall-clock time to get UTC
// under the post-2007 rules (DST from the second Sunday of March to the first Sunday of
// November, at 02:00). Computed by hand so that the package needs no tz database.
func easternToUTC(local int64) int64 {
	days := local / 86400
	y, _, _ := civil(days)
	start := nthSunday(y, 3, 2)*86400 + 2*3600
	end := nthSunday(y, 11, 1)*86400 + 2*3600
	if local >= start && local < end {
		return 4 * 3600
	}
	return 5 * 3600
}

// nthSunday returns the day number (since 1970-01-01) of the n-th Sunday of month m.
func nthSunday(y, m, n int) int64 {
	first := daysFromCivil(y, m, 1)
	wd := weekday(first)
	off := (7 - wd) % 7
	return first + int64(off) + int64(7*(n-1))
}

// weekday returns 0 for Sunday … 6 for Saturday (1970-01-01 was a Thursday).
func weekday(days int64) int { return int((days + 4) % 7) }

// The c* methods write column i of a format that exists both as CSV and as SODA JSON
// (NYC): the renderer is written once against them.

func (w *rowWriter) key(i int) {
	if w.n > 0 {
		w.buf = append(w.buf, ',')
	}
	w.n++
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, w.keys[i]...)
	w.buf = append(w.buf, '"', ':')
}

func (w *rowWriter) cStr(i int, s string) {
	if !w.json {
		w.str(s)
		return
	}
	if s == "" {
		return
	}
	w.key(i)
	w.buf = appendJSONString(w.buf, s)
}

func (w *rowWriter) cNull(i int) {
	if !w.json {
		w.null("")
	}
}

func (w *rowWriter) cNum(i int, v int64) {
	if !w.json {
		w.num(v)
		return
	}
	w.key(i)
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.buf = append(w.buf, '"')
}

func (w *rowWriter) cFloat(i int, v float64, prec int) {
	if !w.json {
		w.float(v, prec)
		return
	}
	w.key(i)
	w.buf = append(w.buf, '"')
	w.buf = strconv.AppendFloat(w.buf, v, 'f', prec, 64)
	w.buf = append(w.buf, '"')
}

func (w *rowWriter) cTs(i int, l layout, t stamp) {
	if !w.json {
		w.ts(l, t, "")
		return
	}
	if t.sec == 0 {
		return
	}
	w.key(i)
	w.buf = append(w.buf, '"')
	w.buf = appendStamp(w.buf, l, t)
	w.buf = append(w.buf, '"')
}

// appendJSONString appends s as a JSON string. The vocabularies are plain ASCII, so the
// escape loop is the slow path.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
