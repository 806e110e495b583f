package lake

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/ireports/ireports/objstore"
)

// TestCommitRejects: the accepted attempts' rejects replace the previous run's whole, and
// nothing of the job's staging is left; a job or name that would leave the root is refused
// before anything moves.
func TestCommitRejects(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	root := filepath.Join(t.TempDir(), "rejects")
	stageRejects := func(job string, index int, content string) RejectsFile {
		dir, err := AttemptDir(root, job, "m-"+string(rune('0'+index)), 1)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, "rejects.jsonl")
		if err := objstore.WriteAll(ctx, store, name, []byte(content)); err != nil {
			t.Fatal(err)
		}
		return RejectsFile{Index: index, Path: name}
	}
	first := []RejectsFile{stageRejects("job1", 0, "a\n"), stageRejects("job1", 1, "b\n")}
	if err := CommitRejects(ctx, store, root, "job1", "normalize", first); err != nil {
		t.Fatal(err)
	}
	second := []RejectsFile{stageRejects("job2", 2, "c\n")}
	if err := CommitRejects(ctx, store, root, "job2", "normalize", second); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"normalize/part-m-00002.jsonl": "c\n"}
	if got := readTree(t, root); !maps.Equal(got, want) {
		t.Errorf("rejects root holds %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, TemporaryDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("_temporary left behind: %v", err)
	}
	third := []RejectsFile{stageRejects("job3", 3, "d\n")}
	for _, c := range []struct{ job, name string }{{"../..", "normalize"}, {"job3", "../victim"}, {"job3", ".."}} {
		if err := CommitRejects(ctx, store, root, c.job, c.name, third); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("CommitRejects(job %q, name %q) = %v, want ErrUnsafePath", c.job, c.name, err)
		}
	}
	if got := readTree(t, filepath.Join(root, "normalize")); !maps.Equal(got, map[string]string{"part-m-00002.jsonl": "c\n"}) {
		t.Errorf("a refused commit changed the rejects: %v", got)
	}
}
