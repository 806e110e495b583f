//go:build !purego

package csvsplit

// fastScan is whether classify is fast enough for scanFast to beat the scan by
// IndexByte and Count: on amd64, where SSE2 is always present, it is.
const fastScan = true

// classify is classifyGeneric in SSE2 (classify_amd64.s): four compares of 16 bytes per
// byte value instead of 64 branches.
//
//go:noescape
func classify(b *[64]byte) (quote, comma, nl, cr uint64)
