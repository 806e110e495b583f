//go:build !amd64 || purego

package jobs

// skipPlain returns the index of the first byte at or after j that is '"' or '\\', or, with
// controls, below 0x20; len(b) when there is none.
func skipPlain(b []byte, j int, controls bool) int { return skipPlainWords(b, j, controls) }
