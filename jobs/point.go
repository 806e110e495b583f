package jobs

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
)

// parseCoord parses one coordinate, refusing NaN and infinities (strconv accepts them, a map
// does not).
func parseCoord(b []byte) (float64, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	if f, ok := parseDecimal(b); ok {
		return f, true
	}
	// ParseFloat's grammar is Go's: it also reads hex mantissas ("0x1p5" is 32) and digits
	// separated by underscores, which no export writes for a coordinate.
	if bytes.ContainsAny(b, "xX_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal parses what coordinates are written as, [+-]digits[.digits] with at most 19
// digits, to the float64 nearest to it (ties to even), as strconv.ParseFloat does; ok is
// false for anything else (an exponent, more digits, inf), which ParseFloat then reads.
// Coordinates carry 16 or 17 significant digits, beyond the 15 of ParseFloat's own fast
// path, and its general path (Eisel-Lemire with a 128-bit table, after a grammar of
// underscores, hex and specials) cost a tenth of a CSV record's normalization. The value is
// m/10^k for integers m < 2^64 and k ≤ 19: when both are exact in float64 one correctly
// rounded division gives it (Clinger's fast path); otherwise an exact 128-by-64-bit integer
// division gives 63 or 64 quotient bits and a remainder, enough to round to 53 bits by hand.
func parseDecimal(b []byte) (float64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var m uint64
	i := 0
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		m = m*10 + uint64(c)
	}
	digits, k := i, 0 // k: digits after the point
	if i < len(b) && b[i] == '.' {
		start := i + 1
		i = start
		// Coordinates have 6 to 15 digits after the point: eight at a time, then one by one.
		for ; len(b)-i >= 8; i += 8 {
			v, ok := eightDigits(b[i:])
			if !ok {
				break
			}
			m = m*1e8 + v
		}
		for ; i < len(b); i++ {
			c := b[i] - '0'
			if c > 9 {
				break
			}
			m = m*10 + uint64(c)
		}
		k = i - start
		digits += k
	}
	if i != len(b) || digits == 0 || digits > 19 {
		return 0, false
	}
	var f float64
	switch {
	case m == 0:
	case m < 1<<53:
		f = float64(m) / pow10[k]
	default:
		f = divRound(m, uint64(pow10[k]))
	}
	if neg {
		f = -f
	}
	return f, true
}

// eightDigits returns the value of b[:8] when those bytes are all ASCII digits. A byte
// is a digit when its high nibble is 3 and adding 6 keeps it so; no carry crosses from one
// byte to the next but from a byte of 0xfa and above, which is no digit already. The value
// is then built by pairs, quads and the whole (Lemire's SWAR parse): three multiplications
// instead of eight dependent ones.
func eightDigits(b []byte) (uint64, bool) {
	const ones = 0x0101010101010101
	x := binary.LittleEndian.Uint64(b)
	if x&(0xf0*ones) != 0x30*ones || (x+0x06*ones)&(0xf0*ones) != 0x30*ones {
		return 0, false
	}
	x -= 0x30 * ones
	x = x*10 + x>>8 // byte 2i: the pair's value
	x = ((x&0x000000ff000000ff)*(100+1000000<<32) + (x>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
	return x, true
}

// divRound returns the float64 nearest to m/d (m, d > 0, d < 2^64), ties to even, for a
// quotient in float64's normal range.
func divRound(m, d uint64) float64 {
	// Scale m by 2^s so that the quotient q = ⌊m·2^s/d⌋ lies in [2^62, 2^64): the shifted
	// m's high word is then below d, as bits.Div64 requires.
	s := 63 - bits.Len64(m) + bits.Len64(d)
	var hi, lo uint64
	if s >= 64 {
		hi, lo = m<<(s-64), 0
	} else {
		hi, lo = m>>(64-s), m<<s
	}
	q, rem := bits.Div64(hi, lo, d)
	n := bits.Len64(q) // 63 or 64
	drop := uint(n - 53)
	mant := q >> drop
	rest, half := q&(1<<drop-1), uint64(1)<<(drop-1)
	if rest > half || (rest == half && (rem != 0 || mant&1 == 1)) {
		mant++ // a carry to 2^53 is still exact in float64
	}
	// mant·2^e is exact in float64: mant has at most 53 bits, and the power of two is
	// normal (parseDecimal's quotients lie between 2^-11 and 2^64, so e is between -63
	// and 11), which makes the product math.Ldexp's without its general case.
	if e := int(drop) - s; e >= -1022 && e <= 1023 {
		return float64(mant) * math.Float64frombits(uint64(1023+e)<<52)
	}
	return math.Ldexp(float64(mant), int(drop)-s)
}

// parsePoint reads a location written as "(lat, lon)" (possibly after other text: the NYC SODA
// CSV writes an empty human address, then the point), "POINT (lon lat)" (WKT), "lat, lon",
// GeoJSON {"type":"Point","coordinates":[lon,lat]} or SODA's legacy
// {"latitude":"..","longitude":".."}. It returns ok=false when the text is none of these.
func parsePoint(b []byte) (lat, lon float64, ok bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] == '{' {
		return parseJSONPoint(b)
	}
	open := bytes.LastIndexByte(b, '(')
	if open >= 0 {
		if b[len(b)-1] != ')' {
			return 0, 0, false
		}
		inner := b[open+1 : len(b)-1]
		if prefix := trimSpace(b[:open]); len(prefix) == 5 && bytes.EqualFold(prefix, []byte("POINT")) {
			// WKT: x y, that is lon lat, separated by spaces.
			inner = trimSpace(inner)
			sp := bytes.IndexAny(inner, " \t")
			if sp < 0 {
				return 0, 0, false
			}
			lon, ok1 := parseCoord(inner[:sp])
			lat, ok2 := parseCoord(inner[sp+1:])
			return lat, lon, ok1 && ok2
		}
		b = inner
	}
	comma := bytes.IndexByte(b, ',')
	if comma < 0 {
		return 0, 0, false
	}
	lat, ok1 := parseCoord(b[:comma])
	lon, ok2 := parseCoord(b[comma+1:])
	return lat, lon, ok1 && ok2
}

// parseJSONPoint reads a GeoJSON point or a SODA legacy location object.
func parseJSONPoint(b []byte) (lat, lon float64, ok bool) {
	var latRaw, lonRaw, coords []byte
	var scratch []byte
	err := eachMember(b, &scratch, func(key, val []byte, kind valueKind) bool {
		switch string(key) {
		case "latitude":
			latRaw = val
		case "longitude":
			lonRaw = val
		case "coordinates":
			if kind == kindOther {
				coords = val
			}
		}
		return true
	})
	if err != nil {
		return 0, 0, false
	}
	if latRaw != nil && lonRaw != nil {
		lat, ok1 := parseCoord(latRaw)
		lon, ok2 := parseCoord(lonRaw)
		return lat, lon, ok1 && ok2
	}
	coords = trimSpace(coords)
	if len(coords) < 2 || coords[0] != '[' || coords[len(coords)-1] != ']' {
		return 0, 0, false
	}
	inner := coords[1 : len(coords)-1]
	comma := bytes.IndexByte(inner, ',')
	if comma < 0 || bytes.IndexByte(inner[comma+1:], ',') >= 0 {
		return 0, 0, false
	}
	lon, ok1 := parseCoord(inner[:comma])
	lat, ok2 := parseCoord(inner[comma+1:])
	return lat, lon, ok1 && ok2
}

// placeholderEps is how close a point must be to a declared placeholder to be one: placeholders
// are written as round numbers ("39", "-77", "(39.0, -77.0)"), so only float noise needs room.
const placeholderEps = 1e-9

// usableLocation reports whether a parsed point is a real location: inside the coordinate ranges
// and not a placeholder.
func (n *Normalizer) usableLocation(lat, lon float64) bool {
	if math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return false
	}
	if math.Abs(lat) < placeholderEps && math.Abs(lon) < placeholderEps {
		return false
	}
	for _, p := range n.placeholders {
		if math.Abs(lat-p[0]) < placeholderEps && math.Abs(lon-p[1]) < placeholderEps {
			return false
		}
	}
	return true
}

// isSpace tests one comparison for the usual byte, above ' ', and a mask for the rest.
func isSpace(c byte) bool {
	return c <= ' ' && (1<<' '|1<<'\t'|1<<'\r'|1<<'\n')&(uint64(1)<<c) != 0
}

// trimSpace trims ASCII white space (the only kind exports pad with) without decoding runes.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
