package jobs

import (
	"bytes"
	"math"
	"strconv"
)

// parseCoord parses one coordinate, refusing NaN and infinities (strconv accepts them, a map
// does not).
func parseCoord(b []byte) (float64, bool) {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
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

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

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
