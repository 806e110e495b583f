//go:build !amd64 || purego

package csvsplit

import "testing"

type classifyVersion struct {
	name     string
	classify func(*[64]byte) (quote, comma, nl, cr uint64)
}

func classifyVersions(*testing.T) []classifyVersion {
	return []classifyVersion{{"generic", classify}}
}

// setScanAsm does nothing: scanFast has no assembly here.
func setScanAsm(bool) (restore func()) { return func() {} }
