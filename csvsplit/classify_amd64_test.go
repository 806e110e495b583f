//go:build !purego

package csvsplit

import (
	"slices"
	"testing"
	"unsafe"
)

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

// TestScanStateLayout checks the offsets at which scanBlocksAVX2 reads and writes the
// fields of a scanState.
func TestScanStateLayout(t *testing.T) {
	var st scanState
	got := []uintptr{unsafe.Offsetof(st.base), unsafe.Offsetof(st.inside), unsafe.Offsetof(st.fieldAt),
		unsafe.Offsetof(st.stray), unsafe.Offsetof(st.carry), unsafe.Offsetof(st.x), unsafe.Offsetof(st.end)}
	if want := []uintptr{0, 8, 16, 24, 32, 40, 48}; !slices.Equal(got, want) {
		t.Fatalf("scanState offsets %v, want %v (classify_amd64.s)", got, want)
	}
}

// setScanAsm turns scanBlocksAVX2 on or off for scanFast, so that the tests cover the
// Go block loop too, and returns the function that restores it.
func setScanAsm(on bool) (restore func()) {
	old := useScanAsm
	useScanAsm = on && old
	return func() { useScanAsm = old }
}
