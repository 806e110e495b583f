package jobs

import (
	"os"
	"path/filepath"
	"testing"
)

// dataDir returns the shared 311 fixtures (../shared/data/311 next to the repository root) or
// skips the test when they are absent.
func dataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the package directory; cannot locate ../shared/data/311")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data", "311")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("real 311 fixtures not found at %s: %v", data, err)
	}
	return data
}
