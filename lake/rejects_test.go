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

// TestCommitRejectsKeepsForeignFiles: a rejects directory that holds anything but a run's
// rejects files (output.rejects = "." for a job named after its inputs' directory, or a lake
// beside it) is refused, before the job and at the commit, and nothing in it is deleted; on
// local disk and on S3.
func TestCommitRejectsKeepsForeignFiles(t *testing.T) {
	ctx := context.Background()
	s3store, m := fakeS3(t)
	for _, tc := range []struct {
		name  string
		store objstore.Store
		root  string
	}{
		{"local", localStore(t), t.TempDir()},
		{"s3", s3store, m.URL("proj")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root
			for _, f := range []string{"victim/b.csv", "victim/sub/part-m-00001.jsonl"} {
				if err := objstore.WriteAll(ctx, tc.store, mustJoin(t, root, f), []byte("precious")); err != nil {
					t.Fatal(err)
				}
			}
			dir := mustJoin(t, root, "victim")
			if err := CheckRejectsDir(ctx, tc.store, dir); !errors.Is(err, ErrNotRejects) {
				t.Errorf("CheckRejectsDir of a directory of inputs = %v, want ErrNotRejects", err)
			}
			staged, err := AttemptDir(root, "job1", "m-0", 1)
			if err != nil {
				t.Fatal(err)
			}
			name := mustJoin(t, staged, "rejects.jsonl")
			if err := objstore.WriteAll(ctx, tc.store, name, []byte("r\n")); err != nil {
				t.Fatal(err)
			}
			err = CommitRejects(ctx, tc.store, root, "job1", "victim", []RejectsFile{{Index: 0, Path: name}})
			if !errors.Is(err, ErrNotRejects) {
				t.Errorf("CommitRejects into a directory of inputs = %v, want ErrNotRejects", err)
			}
			for _, f := range []string{"victim/b.csv", "victim/sub/part-m-00001.jsonl"} {
				if b, err := objstore.ReadAll(ctx, tc.store, mustJoin(t, root, f)); err != nil || string(b) != "precious" {
					t.Errorf("%s after the refused commit: %q, %v", f, b, err)
				}
			}
			// A directory of rejects files only, or none, is a previous run's: replaced.
			if err := CheckRejectsDir(ctx, tc.store, mustJoin(t, root, "normalize")); err != nil {
				t.Errorf("CheckRejectsDir of a directory that is not there: %v", err)
			}
			if err := CommitRejects(ctx, tc.store, root, "job1", "normalize", []RejectsFile{{Index: 0, Path: name}}); err != nil {
				t.Fatal(err)
			}
			if err := CheckRejectsDir(ctx, tc.store, mustJoin(t, root, "normalize")); err != nil {
				t.Errorf("CheckRejectsDir of a run's rejects: %v", err)
			}
		})
	}
}
