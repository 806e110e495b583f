package jobs

import (
	"encoding/binary"
	"math/bits"
)

// validJSON reports whether b is one JSON value between optional white space: exactly what
// encoding/json.Valid reports (FuzzValidJSON compares the two). ScanSODA checks every object
// with its validValue (and validObject, which FuzzSODAObjects holds to it); encoding/json's
// scanner takes an indirect call per byte, and was half of the CPU of reading and
// normalizing a SODA JSON file in a profile of the map task.
//
// Like encoding/json, it does not check that strings are UTF-8 (the normalizer's storable
// does, per kept field), and it refuses more than maxJSONDepth nested arrays and objects.
func validJSON(b []byte) bool {
	i, ok := validValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, i) == len(b)
}

// maxJSONDepth is encoding/json's limit on nesting (its scanner's maxNestingDepth).
const maxJSONDepth = 10000

// validValue checks the value at b[i], inside depth open arrays and objects, and returns the
// index after it. What follows the value is the caller's to check.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return validNumber(b, i)
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return i, false
		}
		return validContainer(b, i, depth+1)
	case c == 't':
		return validLiteral(b, i, "true")
	case c == 'f':
		return validLiteral(b, i, "false")
	case c == 'n':
		return validLiteral(b, i, "null")
	}
	return i, false
}

// validContainer checks the object or array that opens at b[i]; depth counts it.
func validContainer(b []byte, i, depth int) (int, bool) {
	closer, object := byte(']'), b[i] == '{'
	if object {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, true
	}
	for {
		var ok bool
		if object {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			if i, ok = validString(b, i); !ok {
				return i, false
			}
			if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipSpace(b, i+1)
		}
		if i, ok = validValue(b, i, depth); !ok {
			return i, false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case closer:
			return i + 1, true
		case ',':
			i = skipSpace(b, i+1)
		default:
			return i, false
		}
	}
}

// validString checks the string whose opening quote is b[i]: no control byte unescaped, and
// only JSON's escapes.
func validString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); {
		j = skipPlain(b, j, true)
		if j == len(b) {
			break
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		case c != '\\':
			j++
			continue
		}
		if j+1 >= len(b) {
			return j, false
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if _, k, ok := hex4(b, j+2); ok {
				j = k
				continue
			}
			return j, false
		default:
			return j, false
		}
	}
	return len(b), false
}

// validNumber checks the number at b[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func validLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// Eight bytes at a time: SODA objects are mostly string contents, and the byte loops over
// them (the scanner's, the validator's, the key reader's) were most of the JSON path's
// CPU. Each mask below has a byte's high bit set for the first byte of w that matches
// (borrows may also mark bytes above it, never below), so a zero mask skips the word
// whole and the lowest set bit of a nonzero one is the match.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// byteMask marks the bytes of w equal to c.
func byteMask(w uint64, c byte) uint64 {
	x := w ^ (ones * uint64(c))
	return (x - ones) &^ x & highs
}

// belowMask marks the bytes of w below c (c ≤ 0x80).
func belowMask(w uint64, c byte) uint64 { return (w - ones*uint64(c)) &^ w & highs }

// hasBelow reports whether a byte of w is below c (c ≤ 0x80).
func hasBelow(w uint64, c byte) bool { return belowMask(w, c) != 0 }

// skipPlainWords is skipPlain eight bytes at a time, in Go.
func skipPlainWords(b []byte, j int, controls bool) int {
	for ; j+8 <= len(b); j += 8 {
		w := binary.LittleEndian.Uint64(b[j:])
		m := byteMask(w, '"') | byteMask(w, '\\')
		if controls {
			m |= belowMask(w, 0x20)
		}
		if m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' || (controls && c < 0x20) {
			return j
		}
	}
	return j
}
