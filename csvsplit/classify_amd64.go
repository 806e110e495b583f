//go:build !purego

package csvsplit

import "golang.org/x/sys/cpu"

// fastScan is whether classify is fast enough for scanFast to beat the scan by
// IndexByte and Count: on amd64, where SSE2 is always present, it is.
const fastScan = true

// useAVX2 selects the AVX2 half of classify, which does in two compares per byte
// value what SSE2 does in four; the other half is for older CPUs and the tests.
var useAVX2 = cpu.X86.HasAVX2

// classify is classifyGeneric in SSE2 or AVX2 (classify_amd64.s).
//
//go:noescape
func classify(b *[64]byte) (quote, comma, nl, cr uint64)
