package coordinator

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
)

// TestFailedPlanWritesNothing: a run that fails while planning (an input without files)
// leaves no output directory it made — not the lake, its summaries, the rejects, nor their
// parent — and keeps the directories that were there before, even empty, and another run's
// claim on a lake it could not take.
func TestFailedPlanWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []string // directories made before the run, relative to the test's
		claimed  bool     // another run holds the lake
		want     []string // the directories under "out" after the run
	}{
		{name: "nothing there"},
		{name: "parent there", existing: []string{"out"}, want: []string{"out"}},
		{name: "empty lake there", existing: []string{"out/requests"}, want: []string{"out", "out/requests"}},
		{name: "lake in use", claimed: true, want: []string{"out", "out/requests", "out/requests/" + lake.TemporaryDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range tc.existing {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			spec := writeSpec(t, dir, jobDef{schemas: tinySchema, ratio: 1, reducers: 2,
				inputs:  []inputDef{{"tiny", filepath.Join(dir, "data", "*.csv"), "tiny", ""}},
				parquet: filepath.Join(dir, "out", "requests"), rejects: filepath.Join(dir, "out", "rejects")})
			if tc.claimed {
				store, err := objstore.New(objstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				claim, err := lake.Lock(context.Background(), store, spec.Output.Parquet, "other-job")
				if err != nil {
					t.Fatal(err)
				}
				defer claim.Release()
			}
			res, err := runJob(t, context.Background(), spec, LocalConfig{Workers: 1})
			if err == nil || res.Status != Failed {
				t.Fatalf("run of a job without input files: %s, %v; want it to fail", res.Status, err)
			}
			if tc.claimed != errors.Is(err, ErrOutputBusy) {
				t.Fatalf("run failed with %v", err)
			}
			var got []string
			filepath.WalkDir(filepath.Join(dir, "out"), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					got = append(got, filepath.ToSlash(rel))
				}
				return nil
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("after the failed run the directories are %q, want %q", got, tc.want)
			}
		})
	}
}

// TestOutputInUse: a submitted job's outputs conflict with a running job's when one lies in
// the other, and the answer names the running job's path that conflicts (it named the new
// job's lake, though the two shared only their summaries root).
func TestOutputInUse(t *testing.T) {
	s := &Server{jobs: map[string]*JobStatus{
		"done":    {State: Succeeded, outputs: []string{"/d/out/requests", "/d/out/summaries"}},
		"running": {State: Mapping, outputs: []string{"/d/a/requests", "/d/out/summaries", "/d/a/rejects"}},
	}, order: []string{"done", "running"}}
	for _, tc := range []struct {
		outputs  []string
		id, path string
	}{
		{[]string{"/d/b/requests", "/d/out/summaries"}, "running", "/d/out/summaries"},
		{[]string{"/d/a/requests/x"}, "running", "/d/a/requests"},
		{[]string{"/d/a"}, "running", "/d/a/requests"},
		{[]string{"/d/out/requests"}, "", ""}, // the job writing there has finished
		{[]string{"/d/a/requests2"}, "", ""},
	} {
		if id, path := s.outputInUse(tc.outputs); id != tc.id || path != tc.path {
			t.Errorf("outputInUse(%q) = %q, %q; want %q, %q", tc.outputs, id, path, tc.id, tc.path)
		}
	}
}
