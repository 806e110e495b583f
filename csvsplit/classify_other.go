//go:build !amd64 || purego

package csvsplit

// fastScan is false where classify is the byte loop: there the scan by IndexByte and
// Count, which the runtime vectorizes, is faster.
const fastScan = false

func classify(b *[64]byte) (quote, comma, nl, cr uint64) { return classifyGeneric(b) }

func scanBlocks([]byte, []int32, *scanState) int { return 0 }
