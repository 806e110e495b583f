package jobs

import "unicode/utf8"

// cp1252 maps the runes that Windows-1252 puts in 0x80..0x9F back to their bytes. Mojibake made
// by a Windows-1252 decoder ("â€™" for "’") holds these runes instead of C1 controls.
var cp1252 = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88,
	'‰': 0x89, 'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E, '‘': 0x91, '’': 0x92, '“': 0x93,
	'”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97, '˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B,
	'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// repairMojibake undoes one round of "UTF-8 bytes decoded as Latin-1/Windows-1252 and encoded
// as UTF-8 again". It maps every rune back to one byte and keeps the result only if that is
// valid UTF-8 with at least one multi-byte sequence: genuine Latin-1 text ("café") maps to
// invalid UTF-8 and is left alone. It reports whether b was repaired.
func repairMojibake(b []byte) ([]byte, bool) {
	// Every double-encoded lead byte (0xC2..0xF4) becomes a rune U+00C2..U+00F4, whose UTF-8
	// starts with 0xC3 or 0xC2: without those bytes there is nothing to repair.
	found := false
	for _, c := range b {
		if c == 0xC2 || c == 0xC3 {
			found = true
			break
		}
	}
	if !found {
		return b, false
	}
	out := make([]byte, 0, len(b))
	multi := false
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		i += size
		switch {
		case r < 0x80:
			out = append(out, byte(r))
		case r <= 0xFF:
			out = append(out, byte(r))
			multi = true
		default:
			c, ok := cp1252[r]
			if !ok {
				return b, false
			}
			out = append(out, c)
			multi = true
		}
	}
	if !multi || !utf8.Valid(out) {
		return b, false
	}
	return out, true
}
