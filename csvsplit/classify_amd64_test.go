//go:build !purego

package csvsplit

import "testing"

type classifyVersion struct {
	name     string
	classify func(*[64]byte) (quote, comma, nl, cr uint64)
}

// classifyVersions returns classify with each instruction set this CPU has.
func classifyVersions(t *testing.T) []classifyVersion {
	avx2 := useAVX2
	t.Cleanup(func() { useAVX2 = avx2 })
	with := func(on bool) func(*[64]byte) (uint64, uint64, uint64, uint64) {
		return func(b *[64]byte) (uint64, uint64, uint64, uint64) {
			useAVX2 = on
			return classify(b)
		}
	}
	vs := []classifyVersion{{"SSE2", with(false)}}
	if avx2 {
		vs = append(vs, classifyVersion{"AVX2", with(true)})
	}
	return vs
}
