package coordinator

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

// TestPruneHistory: the history keeps the MaxHistory newest finished jobs, in memory and in
// the data directory; running jobs and one whose journal is kept for the user stay whatever
// their age, and what a restart loads beyond a smaller bound goes at the next job's end.
func TestPruneHistory(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "jobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: ServerConfig{DataDir: dir, MaxHistory: 3}, log: slog.New(slog.DiscardHandler), jobs: map[string]*JobStatus{}}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	add := func(id string, st State, kept bool) {
		run := &JobStatus{ID: id, State: st, Submitted: base.Add(time.Duration(len(s.order)) * time.Minute), journalKept: kept}
		s.jobs[id], s.order = run, append(s.order, id)
		if err := writeJSONFile(filepath.Join(dir, "jobs", id+".json"), run); err != nil {
			t.Fatal(err)
		}
	}
	add("j-1", Succeeded, false)
	add("j-2", Mapping, false) // running: stays
	add("j-3", Failed, true)   // its journal kept: stays
	add("j-4", Failed, false)
	add("j-5", Succeeded, false)
	add("j-6", Cancelled, false)
	add("j-7", Succeeded, false)
	s.pruneHistory()
	want := []string{"j-2", "j-3", "j-5", "j-6", "j-7"}
	if !slices.Equal(s.order, want) || len(s.jobs) != len(want) {
		t.Errorf("history %q (%d jobs), want %q", s.order, len(s.jobs), want)
	}
	files, _ := os.ReadDir(filepath.Join(dir, "jobs"))
	if len(files) != len(want) {
		t.Errorf("%d history files left, want %d", len(files), len(want))
	}
	// A restart with a smaller bound loads the files, and the next job's end prunes them
	// (the restart has marked the journal it could not resume by then).
	s2 := &Server{cfg: ServerConfig{DataDir: dir, MaxHistory: 1}, log: slog.New(slog.DiscardHandler), jobs: map[string]*JobStatus{}}
	s2.loadHistory()
	if !slices.Equal(s2.order, want) {
		t.Errorf("after a restart: %q, want %q", s2.order, want)
	}
	s2.jobs["j-3"].journalKept = true
	s2.pruneHistory()
	if got := []string{"j-2", "j-3", "j-7"}; !slices.Equal(s2.order, got) {
		t.Errorf("after a restart with MaxHistory 1: %q, want %q", s2.order, got)
	}
}
