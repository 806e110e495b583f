package lake

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// escapes are job-run or task names that would leave root/_temporary if joined naively.
var escapes = []string{"..", "../..", "../../victim", "/etc", "", ".", "a/../../..", "a\x00b"}

// TestPathBuildersRefuseEscapes: the builders of staging paths refuse a job or task name
// that escapes, on local disk and S3 alike, with an error rather than a path.
func TestPathBuildersRefuseEscapes(t *testing.T) {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{t.TempDir(), "s3://bucket/lake"} {
		for _, bad := range escapes {
			if d, err := AttemptDir(root, bad, "r-0", 1); !errors.Is(err, objstore.ErrUnsafePath) {
				t.Errorf("AttemptDir(%q, job %q) = %q, %v; want ErrUnsafePath", root, bad, d, err)
			}
			// The attempt suffix makes "..-1" of "..": only names that still escape with it.
			if strings.Contains(bad, "/") || strings.Contains(bad, "\x00") {
				if d, err := AttemptDir(root, "job", bad, 1); !errors.Is(err, objstore.ErrUnsafePath) {
					t.Errorf("AttemptDir(%q, task %q) = %q, %v; want ErrUnsafePath", root, bad, d, err)
				}
			}
			if s, err := NewStage(store, root, bad, "r-0", 1); !errors.Is(err, objstore.ErrUnsafePath) {
				t.Errorf("NewStage(%q, job %q) = %v, %v; want ErrUnsafePath", root, bad, s, err)
			}
		}
		st, err := NewStage(store, root, "job-1", "r-0", 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{"../../../victim", "/etc/passwd", "a/../../x"} {
			if w, err := st.Create(context.Background(), rel); !errors.Is(err, objstore.ErrUnsafePath) {
				t.Errorf("Stage(%s).Create(%q) = %v, %v; want ErrUnsafePath", root, rel, w, err)
			}
		}
	}
}

// TestAbortAndCommitStayUnderRoot: Abort and Commit delete and replace what lies under
// root/_temporary/<job> of the lake and of the summaries root; a job named to climb out of
// it used to take a directory beside the lake with it. Nothing outside the two roots may be
// touched, and a group staged outside the job's staging directory of either root (a
// worker's result names both stages) is refused.
func TestAbortAndCommitStayUnderRoot(t *testing.T) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "lake")
	roots := Roots{Lake: root, Summaries: filepath.Join(dir, "summaries")}
	victim := filepath.Join(dir, "victim")
	k := record.Key{City: "nyc", Year: 2024, Month: 3}
	victimFile := filepath.Join(victim, GroupPath(k), PartFile(0))
	for _, p := range []string{victimFile, filepath.Join(root, TemporaryDir, "keep"), filepath.Join(roots.Summaries, TemporaryDir, "keep")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	intact := func(when string) {
		t.Helper()
		if b, err := os.ReadFile(victimFile); err != nil || string(b) != "precious" {
			t.Fatalf("%s: the directory beside the lake was touched: %v", when, err)
		}
		for _, r := range []string{roots.Lake, roots.Summaries} {
			if _, err := os.Stat(filepath.Join(r, TemporaryDir, "keep")); err != nil {
				t.Fatalf("%s: %s's _temporary was touched: %v", when, r, err)
			}
		}
	}
	for _, job := range []string{"../../victim", "..", "../..", "/" + victim} {
		if err := Abort(ctx, store, root, job); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Abort(job %q) = %v, want ErrUnsafePath", job, err)
		}
		intact("Abort " + job)
		_, err := Commit(ctx, store, roots, job, "j", RunStats{}, []CommitGroup{{Key: k, Rows: 1, AttemptDir: victim, SummaryDir: victim}}, time.Now())
		if !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Commit(job %q) = %v, want ErrUnsafePath", job, err)
		}
		intact("Commit " + job)
	}
	// A sound job name, but a group staged outside its staging directory.
	for _, stage := range []string{victim, filepath.Join(root, TemporaryDir, "job-1", "..", "..", "..", "victim"), filepath.Join(root, TemporaryDir, "job-2", "r-0-1")} {
		_, err := Commit(ctx, store, roots, "job-1", "j", RunStats{}, []CommitGroup{{Key: k, Rows: 1, AttemptDir: stage}}, time.Now())
		if !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Commit of a group staged at %s = %v, want ErrUnsafePath", stage, err)
		}
		intact("Commit from " + stage)
	}
	// A sound lake stage, but the summaries staged outside the job's staging directory of
	// the summaries root (the lake's stage included: its files would land in the wrong tree).
	lakeStage := filepath.Join(root, TemporaryDir, "job-1", "r-0-1")
	for _, stage := range []string{
		victim,
		filepath.Join(roots.Summaries, TemporaryDir, "job-1", "..", "..", "..", "victim"),
		filepath.Join(roots.Summaries, TemporaryDir, "job-2", "r-0-1"),
		lakeStage,
	} {
		_, err := Commit(ctx, store, roots, "job-1", "j", RunStats{}, []CommitGroup{{Key: k, Rows: 1, AttemptDir: lakeStage, SummaryDir: stage}}, time.Now())
		if !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Commit of a group whose summaries are staged at %s = %v, want ErrUnsafePath", stage, err)
		}
		intact("Commit of summaries from " + stage)
	}
	if _, err := os.Stat(filepath.Join(root, GroupPath(k))); !os.IsNotExist(err) {
		t.Errorf("a refused commit wrote the lake: %v", err)
	}
	// S3 roots are refused before any request.
	for _, job := range []string{"../../victim", ".."} {
		if err := Abort(ctx, store, "s3://bucket/lake", job); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Abort(s3, job %q) = %v, want ErrUnsafePath", job, err)
		}
		s3Roots := Roots{Lake: "s3://bucket/lake", Summaries: "s3://bucket/summaries"}
		if _, err := Commit(ctx, store, s3Roots, job, "j", RunStats{}, nil, time.Now()); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Commit(s3, job %q) = %v, want ErrUnsafePath", job, err)
		}
	}
}

// TestGroupPathsStayInTheLake: whatever a key's city holds, its group directory is under
// the lake root, and its partition of each summary dataset under that table's directory of
// the summaries root, never the root itself or a sibling of a directory another group owns.
func TestGroupPathsStayInTheLake(t *testing.T) {
	root := filepath.FromSlash("/srv/lake")
	sums := filepath.FromSlash("/srv/summaries")
	sep := string(filepath.Separator)
	for _, city := range []string{"nyc", "..", ".", "", "...", "a/../..", "../../etc", "x\x00y"} {
		k := record.Key{City: city, Year: 2024, Month: 1}
		g := filepath.Join(root, GroupPath(k))
		if !strings.HasPrefix(g, filepath.Join(root, "city=")) || strings.Count(g[len(root):], sep) != 3 {
			t.Errorf("city %q: group path %s", city, g)
		}
		for _, table := range SummaryTables {
			s := filepath.Join(sums, SummaryGroupPath(table, k))
			if !strings.HasPrefix(s, filepath.Join(sums, table, "city=")) || strings.Count(s[len(sums):], sep) != 4 {
				t.Errorf("city %q: %s path %s", city, table, s)
			}
		}
		l := filepath.Join(root, legacySummaryPath(k))
		if !strings.HasPrefix(l, filepath.Join(root, LegacySummaryDir)+sep) || strings.Count(l[len(root):], sep) != 3 {
			t.Errorf("city %q: old layout's summary path %s", city, l)
		}
	}
	if got := GroupPath(record.Key{City: "nyc", Year: 2024, Month: 3}); got != filepath.FromSlash("city=nyc/year=2024/month=3") {
		t.Errorf("GroupPath changed for a valid city: %s", got)
	}
	if got := SummaryGroupPath("request_monthly", record.Key{City: "new-york_2", Year: 2024, Month: 3}); got != filepath.FromSlash("request_monthly/city=new-york_2/year=2024/month=3") {
		t.Errorf("SummaryGroupPath changed for a valid city: %s", got)
	}
}

// TestCommitRefusesForgedUpload: a stage manifest comes from a worker, and Commit completes
// the uploads it lists. One that lists a file of the group but an upload to another name
// (beside the lake, or another group's file) is refused, and nothing is published there.
func TestCommitRefusesForgedUpload(t *testing.T) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	roots := Roots{Lake: filepath.Join(dir, "lake"), Summaries: filepath.Join(dir, "summaries")}
	k := record.Key{City: "nyc", Year: 2024, Month: 3}
	other := record.Key{City: "nyc", Year: 2024, Month: 4}
	for _, target := range []string{
		filepath.Join(dir, "victim", "precious"),
		filepath.Join(roots.Lake, GroupPath(other), PartFile(0)),
	} {
		pw, err := store.CreatePending(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte("forged"))
		p, err := pw.Close()
		if err != nil {
			t.Fatal(err)
		}
		rel := filepath.ToSlash(filepath.Join(GroupPath(k), PartFile(0)))
		manifest, err := json.Marshal([]StagedFile{{File: File{Path: rel, Bytes: 6}, Pending: &p}})
		if err != nil {
			t.Fatal(err)
		}
		st, err := NewStage(store, roots.Lake, "job-1", "r-0", 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := objstore.WriteAll(ctx, store, st.Dir(), manifest); err != nil {
			t.Fatal(err)
		}
		_, err = Commit(ctx, store, roots, "job-1", "j", RunStats{}, []CommitGroup{{Key: k, Rows: 1, AttemptDir: st.Dir()}}, time.Now())
		if !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Commit of a manifest uploading to %s = %v, want ErrUnsafePath", target, err)
		}
		if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the forged upload was published at %s: %v", target, err)
		}
		store.AbortPending(ctx, p)
	}
}
