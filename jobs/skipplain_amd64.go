//go:build !purego

package jobs

// skipPlain16 is skipPlain sixteen bytes at a time in SSE2 (skipplain_amd64.s), which every
// amd64 CPU has: it returns the index of the first byte at or after j that is '"' or '\\'
// or, with controls, below 0x20, if one lies in the whole 16-byte blocks from j on; else the
// offset of the first block it did not look at, with fewer than 16 bytes after it.
//
//go:noescape
func skipPlain16(b []byte, j int, controls bool) int

// skipPlain returns the index of the first byte at or after j that is '"' or '\\', or, with
// controls, below 0x20; len(b) when there is none. A SODA object is mostly short strings,
// and the scanner's validator and the normalizer's key reader each find every string's end
// with it: in eight-byte words it was a third of the CPU of a SODA JSON map task.
func skipPlain(b []byte, j int, controls bool) int {
	if len(b)-j >= 16 {
		if j = skipPlain16(b, j, controls); len(b)-j >= 16 {
			return j
		}
	}
	return skipPlainWords(b, j, controls)
}
