//go:build !purego

package csvsplit

import (
	"math"

	"golang.org/x/sys/cpu"
)

// fastScan is whether classify is fast enough for scanFast to beat the scan by
// IndexByte and Count: on amd64, where SSE2 is always present, it is.
const fastScan = true

// useAVX2 selects the AVX2 half of classify, which does in two compares per byte
// value what SSE2 does in four; the other half is for older CPUs and the tests.
var useAVX2 = cpu.X86.HasAVX2

// useScanAsm selects scanBlocksAVX2, which also needs PCLMULQDQ, POPCNT, TZCNT and BLSR.
var useScanAsm = cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ && cpu.X86.HasPOPCNT && cpu.X86.HasBMI1

// classify is classifyGeneric in SSE2 or AVX2 (classify_amd64.s).
//
//go:noescape
func classify(b *[64]byte) (quote, comma, nl, cr uint64)

// scanBlocks advances st over the blocks of data from st.base on, as st.block would,
// while a whole block is left, ends has room for its 64 possible separators and the
// terminator is not found, in AVX2 (classify_amd64.s) where the CPU has it. It returns
// how many offsets it put in ends; when st.base has not moved, the caller goes on with
// st.block (the last, partial block, or a CPU without the instructions).
func scanBlocks(data []byte, ends []int32, st *scanState) int {
	if !useScanAsm || len(data) > math.MaxInt32 {
		return 0
	}
	return scanBlocksAVX2(data, ends, st)
}

//go:noescape
func scanBlocksAVX2(data []byte, ends []int32, st *scanState) int
