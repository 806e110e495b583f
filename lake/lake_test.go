package lake

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

func TestRowRoundTrip(t *testing.T) {
	created := time.Date(2024, 5, 27, 6, 8, 51, 0, time.UTC)
	reqs := []record.Request{
		{RequestID: "a", CreatedAt: created, ClosedAt: created.Add(90 * time.Minute), Status: record.StatusClosed,
			Agency: "DOT", Latitude: 40.5, Longitude: -73.9, HasLocation: true},
		{RequestID: "b", CreatedAt: created, Status: record.StatusOpen},
	}
	var rows []Row
	for i := range reqs {
		rows = append(rows, ToRow(&reqs[i]))
	}
	path := filepath.Join(t.TempDir(), "x", "part-00000.parquet")
	if err := WriteParquet(path, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParquet[Row](path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d rows, want 2", len(got))
	}
	if got[0].CreatedAt != created.UnixMicro() || got[0].ClosedAt == nil || *got[0].ResolutionHours != 1.5 ||
		*got[0].Latitude != 40.5 || got[0].Status != "closed" || *got[0].Agency != "DOT" {
		t.Errorf("row 0 = %+v", got[0])
	}
	if got[1].ClosedAt != nil || got[1].Latitude != nil || got[1].Agency != nil || got[1].ResolutionHours != nil {
		t.Errorf("row 1 nulls not preserved: %+v", got[1])
	}
}

// writeAttempt stages, as one reduce attempt of job does, one file of each group of keys in
// the lake and one in each summary dataset, each file holding content, and finishes the
// stages; it returns the groups to commit.
func writeAttempt(t *testing.T, roots Roots, job, content string, keys ...record.Key) []CommitGroup {
	t.Helper()
	return writeAttemptOf(t, roots, job, content, true, keys...)
}

// writeAttemptOf is writeAttempt, the publish files of the groups staged only if publish is
// set (a reducer of an older binary wrote none).
func writeAttemptOf(t *testing.T, roots Roots, job, content string, publish bool, keys ...record.Key) []CommitGroup {
	t.Helper()
	ctx := context.Background()
	st, err := NewStage(localStore(t), roots.Lake, job, "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := NewStage(localStore(t), roots.Summaries, job, "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	var groups []CommitGroup
	for _, k := range keys {
		g := CommitGroup{Key: k, Rows: 1, AttemptDir: st.Dir(), SummaryDir: sums.Dir()}
		f, err := st.Put(ctx, filepath.Join(GroupPath(k), PartFile(0)), []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		g.Files = append(g.Files, f)
		for _, table := range SummaryTables {
			f, err := sums.Put(ctx, filepath.Join(SummaryGroupPath(table, k), PartFile(0)), []byte(content))
			if err != nil {
				t.Fatal(err)
			}
			g.SummaryFiles = append(g.SummaryFiles, f)
		}
		if publish {
			f, err := StagePublishFile(ctx, sums, k, []byte(content))
			if err != nil {
				t.Fatal(err)
			}
			g.SummaryFiles = append(g.SummaryFiles, f)
		}
		groups = append(groups, g)
	}
	if err := errors.Join(st.Finish(ctx), sums.Finish(ctx)); err != nil {
		t.Fatal(err)
	}
	return groups
}

// testRoots returns a lake and its summaries side by side, as a job lays them out by default.
func testRoots(t *testing.T) Roots {
	dir := t.TempDir()
	return Roots{Lake: filepath.Join(dir, "requests"), Summaries: filepath.Join(dir, "summaries")}
}

// readTree maps every file under root (slash path) to its content.
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

func TestCommitReplacesGroups(t *testing.T) {
	roots := testRoots(t)
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	apr := record.Key{City: "nyc", Year: 2024, Month: 4}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	// Both groups come from the same attempt directories, as one reducer's output would.
	first := writeAttempt(t, roots, "job1", "one", mar, apr)
	if _, err := Commit(ctx, localStore(t), roots, "job1", "normalize", RunStats{}, first, now); err != nil {
		t.Fatal(err)
	}
	// A stray file in March's partition of a summary dataset: the next commit of March
	// must not keep it.
	stray := filepath.Join(roots.Summaries, SummaryGroupPath("request_geo", mar), "part-00001.parquet")
	if err := os.WriteFile(stray, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second run rebuilds March only; April must be untouched, March replaced, not added to.
	m, err := Commit(ctx, localStore(t), roots, "job2", "normalize", RunStats{}, writeAttempt(t, roots, "job2", "two", mar), now)
	if err != nil {
		t.Fatal(err)
	}
	wantLake := map[string]string{
		"city=nyc/year=2024/month=3/part-00000.parquet": "two",
		"city=nyc/year=2024/month=4/part-00000.parquet": "one",
	}
	wantSums := map[string]string{
		"_publish/city=nyc/year=2024/month=3/part-00000.pgcopy": "two",
		"_publish/city=nyc/year=2024/month=4/part-00000.pgcopy": "one",
	}
	for _, table := range SummaryTables {
		wantSums[table+"/city=nyc/year=2024/month=3/part-00000.parquet"] = "two"
		wantSums[table+"/city=nyc/year=2024/month=4/part-00000.parquet"] = "one"
	}
	lakeFiles := readTree(t, roots.Lake)
	delete(lakeFiles, SuccessFile)
	if got := lakeFiles; !maps.Equal(got, wantLake) {
		t.Errorf("lake holds %v, want %v", got, wantLake)
	}
	if got := readTree(t, roots.Summaries); !maps.Equal(got, wantSums) {
		t.Errorf("summaries hold %v, want %v", got, wantSums)
	}
	got, err := ReadManifest(roots.Lake)
	if err != nil {
		t.Fatal(err)
	}
	if got.Job != "job2" || len(got.Files) != 1 || len(got.Groups) != 1 || got.Files[0].SHA256 == "" || m.Rows != 1 {
		t.Errorf("manifest = %+v", got)
	}
	if got.Summaries == nil || got.Summaries.Root != "../summaries" || len(got.Summaries.Files) != len(SummaryTables)+1 ||
		!slices.Equal(got.Summaries.Tables, SummaryTables) {
		t.Fatalf("manifest summaries = %+v, want root ../summaries and one file per table and the publish file", got.Summaries)
	}
	for _, f := range got.Summaries.Files {
		if wantSums[f.Path] != "two" || f.Bytes != 3 {
			t.Errorf("manifest summary file %+v: not one of March's", f)
		}
	}
	if root, legacy := got.SummariesRoot(roots.Lake); legacy || root != roots.Summaries {
		t.Errorf("SummariesRoot = %s, %v; want %s", root, legacy, roots.Summaries)
	}
	for _, root := range []string{roots.Lake, roots.Summaries} {
		if _, err := os.Stat(filepath.Join(root, TemporaryDir)); !os.IsNotExist(err) {
			t.Errorf("%s/_temporary left behind: %v", root, err)
		}
	}

	// A run whose reducers wrote no publish file (an older binary's) rebuilds March: the
	// previous run's publish file of March goes with the rest of the group's files.
	if _, err := Commit(ctx, localStore(t), roots, "job3", "normalize", RunStats{}, writeAttemptOf(t, roots, "job3", "three", false, mar), now); err != nil {
		t.Fatal(err)
	}
	delete(wantSums, "_publish/city=nyc/year=2024/month=3/part-00000.pgcopy")
	for _, table := range SummaryTables {
		wantSums[table+"/city=nyc/year=2024/month=3/part-00000.parquet"] = "three"
	}
	if got := readTree(t, roots.Summaries); !maps.Equal(got, wantSums) {
		t.Errorf("summaries after a run without publish files hold %v, want %v", got, wantSums)
	}
}

// TestCommitRemovesOldLayout: a lake of the layout of earlier versions, with its summaries
// inside it and zero-padded months, loses the old copies of each group a commit rewrites,
// and keeps the others (publish and merge jobs read them) until a run rewrites them too.
func TestCommitRemovesOldLayout(t *testing.T) {
	roots := testRoots(t)
	ctx := context.Background()
	store := localStore(t)
	mar := record.Key{City: "new york", Year: 2024, Month: 3}
	apr := record.Key{City: "new york", Year: 2024, Month: 4}
	for _, p := range []string{
		"_summary/new%20york/2024-03/request_monthly.parquet",
		"_summary/new%20york/2024-04/request_monthly.parquet",
		"city=new%20york/year=2024/month=03/part-00000.parquet",
		"city=new%20york/year=2024/month=04/part-00000.parquet",
		"city=new%20york/year=2024/month=11/part-00000.parquet", // two digits either way: today's layout
	} {
		p = filepath.Join(roots.Lake, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := FindOldLayout(ctx, store, roots.Lake); err != nil || old != (OldLayout{SummaryFiles: 2, GroupDirs: 2}) {
		t.Fatalf("FindOldLayout before = %+v, %v; want 2 summary files, 2 group directories", old, err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m, err := Commit(ctx, store, roots, "job1", "n", RunStats{}, writeAttempt(t, roots, "job1", "new", mar), now)
	if err != nil {
		t.Fatal(err)
	}
	if old, ok := m.OldLayoutLeft(); !ok || old != (OldLayout{SummaryFiles: 1, GroupDirs: 1}) {
		t.Errorf("the commit's OldLayoutLeft = %+v, %v; want April's, as FindOldLayout finds it", old, ok)
	}
	if m, err := LoadManifest(ctx, store, roots.Lake); err != nil {
		t.Fatal(err)
	} else if _, ok := m.OldLayoutLeft(); ok {
		t.Error("a manifest read back knows what the lake holds in the old layout; want it to say it does not")
	}
	lakeFiles := readTree(t, roots.Lake)
	delete(lakeFiles, SuccessFile)
	want := map[string]string{
		"_summary/new%20york/2024-04/request_monthly.parquet":   "old",
		"city=new%20york/year=2024/month=04/part-00000.parquet": "old",
		"city=new%20york/year=2024/month=11/part-00000.parquet": "old",
		"city=new%20york/year=2024/month=3/part-00000.parquet":  "new",
	}
	if !maps.Equal(lakeFiles, want) {
		t.Errorf("lake after the March commit: %v, want %v", lakeFiles, want)
	}
	if old, err := FindOldLayout(ctx, store, roots.Lake); err != nil || old != (OldLayout{SummaryFiles: 1, GroupDirs: 1}) {
		t.Errorf("FindOldLayout after March = %+v, %v; want April's", old, err)
	}
	if rows, err := ReadGroup(ctx, store, roots.Lake, apr); err == nil || errors.Is(err, fs.ErrNotExist) {
		// April's old file is not Parquet here; what matters is that it was found.
		t.Errorf("ReadGroup of April in the old layout: %d rows, %v; want the file found", len(rows), err)
	}
	if _, err := Commit(ctx, store, roots, "job2", "n", RunStats{}, writeAttempt(t, roots, "job2", "new", apr), now); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"_summary", "city=new%20york/year=2024/month=03", "city=new%20york/year=2024/month=04"} {
		if _, err := os.Stat(filepath.Join(roots.Lake, filepath.FromSlash(gone))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there once its groups were rewritten: %v", gone, err)
		}
	}
	if old, err := FindOldLayout(ctx, store, roots.Lake); err != nil || !old.Empty() {
		t.Errorf("FindOldLayout after = %+v, %v; want empty", old, err)
	}
}

func TestCommitRefusesRoots(t *testing.T) {
	dir := t.TempDir()
	for _, roots := range []Roots{
		{Lake: filepath.Join(dir, "requests")},
		{Lake: filepath.Join(dir, "requests"), Summaries: "s3://bucket/summaries"},
	} {
		if _, err := Commit(context.Background(), localStore(t), roots, "j", "n", RunStats{}, nil, time.Now()); err == nil {
			t.Errorf("Commit to %+v succeeded", roots)
		}
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	roots := testRoots(t)
	writeAttempt(t, roots, "job1", "x", record.Key{City: "sf", Year: 2020, Month: 1})
	for _, root := range []string{roots.Lake, roots.Summaries} {
		if err := Abort(context.Background(), localStore(t), root, "job1"); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(root)
		if len(entries) != 0 {
			t.Errorf("%s holds %v after abort", root, entries)
		}
	}
}

func localStore(t *testing.T) objstore.Store {
	s, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFromRowRoundTrip(t *testing.T) {
	k := record.Key{City: "nyc", Year: 2024, Month: 5}
	created := time.Date(2024, 5, 3, 14, 0, 0, 123000, time.UTC)
	for _, r := range []record.Request{
		{City: "nyc", Year: 2024, Month: 5, RequestID: "1", CreatedAt: created, Status: record.StatusOpen},
		{City: "nyc", Year: 2024, Month: 5, RequestID: "2", CreatedAt: created, ClosedAt: created.Add(time.Hour),
			UpdatedAt: created.Add(2 * time.Hour), Status: record.StatusClosed, StatusRaw: "Closed", Agency: "DOT",
			RequestType: "Pothole", RequestSubtype: "Street", Latitude: 40.7, Longitude: -74, HasLocation: true,
			Zip: "10001", Neighborhood: "Chelsea", Channel: "phone"},
	} {
		row := ToRow(&r)
		if got := FromRow(k, &row); got != r {
			t.Errorf("FromRow(ToRow(r)) = %+v, want %+v", got, r)
		}
	}
}

// TestEncodeParquetIsDeterministic: the same rows give the same bytes, whatever was encoded
// in between (re-runs must give byte-identical lakes).
func TestEncodeParquetIsDeterministic(t *testing.T) {
	rowsA := []Row{{RequestID: "a", CreatedAt: 1, Status: "open"}, {RequestID: "b", CreatedAt: 2, Status: "closed"}}
	rowsB := []Row{{RequestID: "x", CreatedAt: 5, Status: "other"}}
	var first, second, third bytes.Buffer
	for _, c := range []struct {
		buf  *bytes.Buffer
		rows []Row
	}{{&first, rowsA}, {&second, rowsB}, {&third, rowsA}} {
		if err := EncodeParquet(c.buf, c.rows); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(first.Bytes(), third.Bytes()) {
		t.Error("encoding the same rows again gave different bytes")
	}
	got, err := parquet.Read[Row](bytes.NewReader(second.Bytes()), int64(second.Len()))
	if err != nil || len(got) != 1 || got[0].RequestID != "x" {
		t.Errorf("the second file: %v, %v", got, err)
	}
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	root := t.TempDir()
	claim, err := Lock(ctx, store, root, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(ctx, store, root, "job-2"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "job-1") {
		t.Errorf("second lock: %v, want ErrLocked naming job-1", err)
	}
	claim.Release()
	claim2, err := Lock(ctx, store, root, "job-2")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	claim2.Release()
	if _, err := os.Stat(filepath.Join(root, TemporaryDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("released locks left %s: %v", TemporaryDir, err)
	}
	// A dead run's claim expires.
	os.MkdirAll(filepath.Join(root, TemporaryDir), 0o755)
	stale := `{"job":"job-0","host":"gone","since":"2020-01-01T00:00:00Z","expires":"2020-01-01T00:03:00Z"}`
	os.WriteFile(filepath.Join(root, TemporaryDir, "_lock.json"), []byte(stale), 0o644)
	claim3, err := Lock(ctx, store, root, "job-3")
	if err != nil {
		t.Fatalf("lock over an expired claim: %v", err)
	}
	claim3.Release()
}

// TestLockReleaseRemovesWhatItMade: a claim on a lake that did not exist makes its
// directories, and giving it up removes them again while they hold nothing (a run that
// failed before writing anything leaves no empty lake), but never a directory that was there
// before, even empty, nor one that holds output.
func TestLockReleaseRemovesWhatItMade(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	for _, tc := range []struct {
		name     string
		existing string // made before the claim, relative to the test's directory
		output   bool   // the run wrote a file into root before it gave the claim up
		want     string // the outermost directory left; "" for none
	}{
		{name: "lake and its parent made", want: ""},
		{name: "parent there", existing: "out", want: "out"},
		{name: "empty lake there", existing: "out/requests", want: "out/requests"},
		{name: "output written", output: true, want: "out/requests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "out", "requests")
			if tc.existing != "" {
				if err := os.MkdirAll(filepath.Join(dir, tc.existing), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			claim, err := Lock(ctx, store, root, "job-1")
			if err != nil {
				t.Fatal(err)
			}
			if tc.output {
				if err := os.WriteFile(filepath.Join(root, SuccessFile), []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			claim.Release()
			for _, p := range []string{"out", "out/requests", "out/requests/" + TemporaryDir} {
				_, err := os.Stat(filepath.Join(dir, p))
				want := tc.want != "" && (p == tc.want || strings.HasPrefix(tc.want, p+"/"))
				if got := err == nil; got != want {
					t.Errorf("after release %s exists: %v, want %v (%v)", p, got, want, err)
				}
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("release removed the directory the lake's parent was in: %v", err)
			}
		})
	}
}

// TestLockKeep: a kept claim stays in place, so that no other run takes the lake while its
// run is interrupted, and the same run takes it back when it resumes.
func TestLockKeep(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	root := t.TempDir()
	claim, err := Lock(ctx, store, root, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	claim.Keep()
	if _, err := Lock(ctx, store, root, "job-2"); !errors.Is(err, ErrLocked) {
		t.Errorf("another run locked a kept claim's lake: %v", err)
	}
	again, err := Lock(ctx, store, root, "job-1")
	if err != nil {
		t.Fatalf("the run that kept its claim cannot take it back: %v", err)
	}
	again.Release()
	if h, err := HolderOf(ctx, store, root); h != nil || err != nil {
		t.Errorf("released after a resume: holder %+v, %v", h, err)
	}
}

// TestSummariesRoot resolves where a manifest's summaries are: a relative root (written when
// both trees are on disk) against the lake, wherever the two were moved or copied together.
func TestSummariesRoot(t *testing.T) {
	for _, tc := range []struct {
		name, lake, root, want string
		legacy                 bool
	}{
		{"beside, on disk", "/data/out/requests", "../summaries", "/data/out/summaries", false},
		{"absolute", "/data/out/requests", "/sums", "/sums", false},
		{"on S3", "s3://b/out/requests", "s3://c/sums", "s3://c/sums", false},
		{"copied to S3", "s3://b/out/requests", "../summaries", "s3://b/out/summaries", false},
		{"old layout", "/data/out/requests", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Manifest{}
			if !tc.legacy {
				m.Summaries = &SummaryManifest{Root: tc.root}
			}
			if got, legacy := m.SummariesRoot(tc.lake); got != tc.want || legacy != tc.legacy {
				t.Errorf("SummariesRoot(%s) = %q, %v; want %q, %v", tc.lake, got, legacy, tc.want, tc.legacy)
			}
		})
	}
}

// TestDiscardLeavesNoDirectories drops the uploads of an attempt whose groups share their
// upper directories (one city, two months; every summary table), each way a cancelled or
// failed attempt's files are dropped, and checks that the roots hold nothing after: the
// first upload made city=…/year=…, but its sibling still kept that directory when the first
// was aborted, and the sibling made only its own month.
func TestDiscardLeavesNoDirectories(t *testing.T) {
	keys := []record.Key{{City: "sf", Year: 2020, Month: 1}, {City: "sf", Year: 2020, Month: 2}}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		drop func(t *testing.T, roots Roots)
	}{
		{"Stage.Discard", func(t *testing.T, roots Roots) {
			for _, root := range []string{roots.Lake, roots.Summaries} {
				st, err := NewStage(localStore(t), root, "job1", "r-0", 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range keys {
					if _, err := st.Put(ctx, filepath.Join(GroupPath(k), PartFile(0)), []byte("x")); err != nil {
						t.Fatal(err)
					}
				}
				if err := st.Discard(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"discard by manifest (worker)", func(t *testing.T, roots Roots) {
			writeAttempt(t, roots, "job1", "x", keys...)
			for _, root := range []string{roots.Lake, roots.Summaries} {
				st, err := NewStage(localStore(t), root, "job1", "r-0", 1)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Discard(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"Abort (coordinator)", func(t *testing.T, roots Roots) {
			writeAttempt(t, roots, "job1", "x", keys...)
			for _, root := range []string{roots.Lake, roots.Summaries} {
				if err := Abort(ctx, localStore(t), root, "job1"); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"StageWriter.Abort", func(t *testing.T, roots Roots) {
			st, err := NewStage(localStore(t), roots.Lake, "job1", "r-0", 1)
			if err != nil {
				t.Fatal(err)
			}
			var ws []*StageWriter
			for _, k := range keys {
				w, err := st.Create(ctx, filepath.Join(GroupPath(k), PartFile(0)))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				ws = append(ws, w)
			}
			for _, w := range ws {
				w.Abort()
			}
			if err := st.Discard(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roots := testRoots(t)
			tc.drop(t, roots)
			for _, root := range []string{roots.Lake, roots.Summaries} {
				var left []string
				filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
					if err == nil && p != root {
						left = append(left, p)
					}
					return nil
				})
				if len(left) != 0 {
					t.Errorf("%s holds %v after the attempt's files were dropped", root, left)
				}
			}
		})
	}
}

// TestCommitDropsWhatItDoesNotPublish: the abort that closes a commit, which takes the
// accepted stage manifests as the commit read them, still drops the accepted attempt's
// uploads of groups the commit leaves out and every upload of a losing attempt, and leaves no
// directory that only those held.
func TestCommitDropsWhatItDoesNotPublish(t *testing.T) {
	roots := testRoots(t)
	ctx := context.Background()
	store := localStore(t)
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	apr := record.Key{City: "nyc", Year: 2024, Month: 4}
	may := record.Key{City: "sf", Year: 2024, Month: 5}
	accepted := writeAttempt(t, roots, "job1", "won", mar, apr)
	// A backup attempt of the same task that lost, with a group of its own.
	lake, err := NewStage(store, roots.Lake, "job1", "r-0", 2)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := NewStage(store, roots.Summaries, "job1", "r-0", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []record.Key{mar, may} {
		if _, err := lake.Put(ctx, filepath.Join(GroupPath(k), PartFile(0)), []byte("lost")); err != nil {
			t.Fatal(err)
		}
		for _, table := range SummaryTables {
			if _, err := sums.Put(ctx, filepath.Join(SummaryGroupPath(table, k), PartFile(0)), []byte("lost")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(lake.Finish(ctx), sums.Finish(ctx)); err != nil {
		t.Fatal(err)
	}
	// The job commits March only.
	if _, err := Commit(ctx, store, roots, "job1", "normalize", RunStats{}, accepted[:1], time.Now()); err != nil {
		t.Fatal(err)
	}
	lakeFiles := readTree(t, roots.Lake)
	delete(lakeFiles, SuccessFile)
	if want := map[string]string{"city=nyc/year=2024/month=3/part-00000.parquet": "won"}; !maps.Equal(lakeFiles, want) {
		t.Errorf("lake holds %v, want %v", lakeFiles, want)
	}
	wantSums := map[string]string{"_publish/city=nyc/year=2024/month=3/part-00000.pgcopy": "won"}
	for _, table := range SummaryTables {
		wantSums[table+"/city=nyc/year=2024/month=3/part-00000.parquet"] = "won"
	}
	if got := readTree(t, roots.Summaries); !maps.Equal(got, wantSums) {
		t.Errorf("summaries hold %v, want %v", got, wantSums)
	}
	for _, dir := range []string{
		filepath.Join(roots.Lake, GroupPath(apr)), filepath.Join(roots.Lake, "city=sf"),
		filepath.Join(roots.Summaries, SummaryGroupPath(SummaryTables[0], apr)), filepath.Join(roots.Summaries, SummaryTables[0], "city=sf"),
		filepath.Join(roots.Summaries, SummaryGroupPath(PublishDir, apr)),
	} {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind: %v", dir, err)
		}
	}
}

// TestCommitAbortsUnlistedUploads: uploads that no stage manifest lists (attempts that died
// before theirs), in a committed group and elsewhere in the lake, are gone after Commit
// alone, the committed group's by the sweep before the manifest, the others by the abort
// after it, which passes over the swept group directories.
func TestCommitAbortsUnlistedUploads(t *testing.T) {
	roots := testRoots(t)
	ctx := context.Background()
	store := localStore(t)
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	jun := record.Key{City: "nyc", Year: 2024, Month: 6}
	accepted := writeAttempt(t, roots, "job1", "won", mar)
	for _, name := range []string{
		filepath.Join(roots.Lake, GroupPath(mar), PartFile(1)),
		filepath.Join(roots.Lake, GroupPath(jun), PartFile(0)),
		filepath.Join(roots.Summaries, SummaryGroupPath(SummaryTables[1], mar), PartFile(0)),
	} {
		leaveUpload(t, store, name, "died")
	}
	if _, err := Commit(ctx, store, roots, "job1", "normalize", RunStats{}, accepted, time.Now()); err != nil {
		t.Fatal(err)
	}
	lakeFiles := readTree(t, roots.Lake)
	delete(lakeFiles, SuccessFile)
	if want := map[string]string{"city=nyc/year=2024/month=3/part-00000.parquet": "won"}; !maps.Equal(lakeFiles, want) {
		t.Errorf("lake holds %v, want %v", lakeFiles, want)
	}
	for name := range readTree(t, roots.Summaries) {
		if strings.Contains(name, ".pending-") {
			t.Errorf("summaries hold the unlisted upload %s", name)
		}
	}
	if _, err := os.Stat(filepath.Join(roots.Lake, GroupPath(jun))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("June's directory, made by the unlisted upload only, left behind: %v", err)
	}
}

// TestAbortCommitted: after a commit, AbortCommitted aborts what a later upload left outside
// the committed groups and the job's staging directory, as Abort does, and passes over the
// group directories the commit swept; for a manifest read back, it is Abort.
func TestAbortCommitted(t *testing.T) {
	roots := testRoots(t)
	ctx := context.Background()
	store := localStore(t)
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	jun := record.Key{City: "nyc", Year: 2024, Month: 6}
	accepted := writeAttempt(t, roots, "job1", "won", mar)
	m, err := Commit(ctx, store, roots, "job1", "normalize", RunStats{}, accepted, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Uploads started after the commit: one in June (no group of the job), one in March,
	// which the commit swept and no attempt of such a run writes into again.
	time.Sleep(10 * time.Millisecond) // the uploads start after the commit on any clock
	marFile := filepath.Join(roots.Summaries, SummaryGroupPath(SummaryTables[0], mar), PartFile(1))
	leaveUpload(t, store, filepath.Join(roots.Summaries, SummaryGroupPath(SummaryTables[0], jun), PartFile(0)), "")
	leaveUpload(t, store, marFile, "")
	if err := AbortCommitted(ctx, store, roots.Summaries, "job1", m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(roots.Summaries, SummaryGroupPath(SummaryTables[0], jun))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("June's upload, outside the committed groups, left behind: %v", err)
	}
	staged := func() (n int) {
		for name := range readTree(t, filepath.Join(roots.Summaries, SummaryGroupPath(SummaryTables[0], mar))) {
			if strings.Contains(name, ".pending-") {
				n++
			}
		}
		return n
	}
	if n := staged(); n != 1 {
		t.Errorf("March holds %d staged files, want the one AbortCommitted passes over", n)
	}
	if _, err := os.Stat(filepath.Join(roots.Summaries, TemporaryDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the summaries' _temporary left behind: %v", err)
	}
	readBack, err := LoadManifest(ctx, store, roots.Lake)
	if err != nil {
		t.Fatal(err)
	}
	if err := AbortCommitted(ctx, store, roots.Summaries, "job1", readBack); err != nil {
		t.Fatal(err)
	}
	if n := staged(); n != 0 {
		t.Errorf("March holds %d staged files after AbortCommitted with a manifest read back, want 0 (Abort)", n)
	}
}

// TestCommitOneAttempt: for groups whose task ran one attempt, Commit reads only the group
// directories that its uploads did not make: an earlier run's file in a directory that was
// there is still dropped, and an upload in a directory the accepted one made (which such a
// run cannot hold) is passed over, where a group with more attempts has it aborted.
func TestCommitOneAttempt(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	apr := record.Key{City: "nyc", Year: 2024, Month: 4}
	for _, one := range []bool{true, false} {
		t.Run(map[bool]string{true: "one attempt", false: "more attempts"}[one], func(t *testing.T) {
			roots := testRoots(t)
			// An earlier run's files of March, one of which this run does not write again.
			first := writeAttempt(t, roots, "job1", "old", mar)
			if _, err := Commit(ctx, store, roots, "job1", "normalize", RunStats{}, first, time.Now()); err != nil {
				t.Fatal(err)
			}
			extra := filepath.Join(roots.Lake, GroupPath(mar), PartFile(1))
			if err := os.WriteFile(extra, []byte("older"), 0o644); err != nil {
				t.Fatal(err)
			}
			groups := writeAttempt(t, roots, "job2", "new", mar, apr)
			// An upload in April's new directory that no stage lists.
			leaveUpload(t, store, filepath.Join(roots.Lake, GroupPath(apr), PartFile(1)), "")
			for i := range groups {
				groups[i].OneAttempt = one
			}
			time.Sleep(10 * time.Millisecond) // the upload starts before the commit on any clock
			if _, err := Commit(ctx, store, roots, "job2", "normalize", RunStats{}, groups, time.Now()); err != nil {
				t.Fatal(err)
			}
			lakeFiles := readTree(t, roots.Lake)
			delete(lakeFiles, SuccessFile)
			staged := 0
			for name := range lakeFiles {
				if strings.Contains(name, ".pending-") {
					staged++
					delete(lakeFiles, name)
				}
			}
			want := map[string]string{
				"city=nyc/year=2024/month=3/part-00000.parquet": "new",
				"city=nyc/year=2024/month=4/part-00000.parquet": "new",
			}
			if !maps.Equal(lakeFiles, want) {
				t.Errorf("lake holds %v, want %v", lakeFiles, want)
			}
			if wantStaged := map[bool]int{true: 1, false: 0}[one]; staged != wantStaged {
				t.Errorf("lake holds %d staged files, want %d", staged, wantStaged)
			}
			for table, content := range readTree(t, roots.Summaries) {
				if content != "new" {
					t.Errorf("summary file %s holds %q", table, content)
				}
			}
		})
	}
}

// leaveUpload stages body as an upload to name, finished (closed) but never completed: what
// an attempt that died or lost leaves behind.
func leaveUpload(t *testing.T, store objstore.Store, name, body string) {
	t.Helper()
	pw, err := store.CreatePending(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLockReleaseRemovesUnfinishedClaimWrites: a coordinator killed while it wrote the claim
// (CreateExclusive's staged file, or a renewal's) left that file in _temporary; the run that
// resumes and releases the claim removes it, so the lake ends clean. Other files stay.
func TestLockReleaseRemovesUnfinishedClaimWrites(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	root := filepath.Join(t.TempDir(), "requests")
	tmp := filepath.Join(root, TemporaryDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"._lock.json.407491874", "._lock.json.pending-12345"} {
		if err := os.WriteFile(filepath.Join(tmp, n), []byte(`{"job":"dead"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	claim, err := Lock(ctx, store, root, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	claim.Release()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(tmp)
		t.Errorf("_temporary is still there after the release: %v %v", entries, err)
	}

	// Files that merely look alike are not a claim's writes.
	keep := []string{"._lock.json.bak", "._lock.jsonx.1", "_lock.json.1"}
	for _, n := range keep {
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if claim, err = Lock(ctx, store, root, "job-2"); err != nil {
		t.Fatal(err)
	}
	claim.Release()
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(tmp, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}
