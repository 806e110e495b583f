package lake

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestHolderOf checks the read-only view of a lake's claim that a dry run relies on: it sees
// a live claim, and neither an expired one, one released, nor none at all.
func TestHolderOf(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	root := t.TempDir()
	if h, err := HolderOf(ctx, store, root); h != nil || err != nil {
		t.Fatalf("free lake: holder %+v, %v", h, err)
	}
	claim, err := Lock(ctx, store, root, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	h, err := HolderOf(ctx, store, root)
	if err != nil || h == nil || h.Job != "job-1" || h.Since.IsZero() {
		t.Fatalf("locked lake: holder %+v, %v; want job-1", h, err)
	}
	// Looking does not take or disturb the claim.
	if _, err := Lock(ctx, store, root, "job-2"); err == nil {
		t.Error("job-2 locked the lake job-1 holds after HolderOf")
	}
	claim.Release()
	if h, err := HolderOf(ctx, store, root); h != nil || err != nil {
		t.Errorf("released lake: holder %+v, %v", h, err)
	}
	os.MkdirAll(filepath.Join(root, TemporaryDir), 0o755)
	stale := `{"job":"job-0","host":"gone","since":"2020-01-01T00:00:00Z","expires":"2020-01-01T00:03:00Z"}`
	os.WriteFile(filepath.Join(root, TemporaryDir, "_lock.json"), []byte(stale), 0o644)
	if h, err := HolderOf(ctx, store, root); h != nil || err != nil {
		t.Errorf("expired claim: holder %+v, %v; a run would take it over", h, err)
	}
}
