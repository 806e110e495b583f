package csvsplit

// classifyGeneric returns bitmasks of the '"', ',', '\n' and '\r' bytes of b: bit i is
// set when b[i] is that byte. It defines what classify computes, and is classify
// itself where no assembly version exists.
func classifyGeneric(b *[64]byte) (quote, comma, nl, cr uint64) {
	for i, c := range b {
		bit := uint64(1) << i
		switch c {
		case '"':
			quote |= bit
		case ',':
			comma |= bit
		case '\n':
			nl |= bit
		case '\r':
			cr |= bit
		}
	}
	return quote, comma, nl, cr
}
