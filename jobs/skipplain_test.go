package jobs

import (
	"math/rand/v2"
	"testing"
)

// TestSkipPlainBlocks checks skipPlain (SSE2 on amd64) against skipPlainWords at every start
// offset of buffers of every length up to 80 with the sought bytes planted anywhere.
func TestSkipPlainBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, 'a'}
	for n := 0; n <= 80; n++ {
		for trial := 0; trial < 40; trial++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte('a' + rng.IntN(26))
			}
			for k := rng.IntN(3); k > 0 && n > 0; k-- {
				b[rng.IntN(n)] = special[rng.IntN(len(special))]
			}
			for j := 0; j <= n; j++ {
				for _, controls := range []bool{false, true} {
					if got, want := skipPlain(b, j, controls), skipPlainWords(b, j, controls); got != want {
						t.Fatalf("skipPlain(%q, %d, %v) = %d, want %d", b, j, controls, got, want)
					}
				}
			}
		}
	}
}
