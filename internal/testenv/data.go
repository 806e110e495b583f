package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RealData returns the directory of the real 311 exports, ../shared/data/311 beside the
// repository. They live outside the repository: where the folder is absent (a user's
// clone) the test is skipped with a message saying so; CI always has it, and under CI=true
// its absence fails the test.
func RealData(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "..", "shared", "data", "311")
	if _, err := os.Stat(data); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("real 311 fixtures not found at %s (CI must have them): %v", data, err)
		}
		t.Skipf("real 311 fixtures not found at %s (they live outside the repository): %v", data, err)
	}
	return data
}
