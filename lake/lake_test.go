package lake

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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

// writeAttempt makes an attempt directory holding one file for group k.
func writeAttempt(t *testing.T, root, job string, k record.Key, content string) CommitGroup {
	t.Helper()
	dir, err := AttemptDir(root, job, "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{filepath.Join(GroupPath(k), PartFile(0)), filepath.Join(SummaryPath(k), "request_monthly.parquet")} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return CommitGroup{Key: k, Rows: 1, AttemptDir: dir}
}

func TestCommitReplacesGroups(t *testing.T) {
	root := t.TempDir()
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	apr := record.Key{City: "nyc", Year: 2024, Month: 4}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Both groups come from the same attempt directory, as one reducer's output would.
	first := []CommitGroup{writeAttempt(t, root, "job1", mar, "one"), writeAttempt(t, root, "job1", apr, "one")}
	if _, err := Commit(context.Background(), localStore(t), root, "job1", "normalize", RunStats{}, first, now); err != nil {
		t.Fatal(err)
	}
	// A second run rebuilds March only; April must be untouched, March replaced, not added to.
	m, err := Commit(context.Background(), localStore(t), root, "job2", "normalize", RunStats{}, []CommitGroup{writeAttempt(t, root, "job2", mar, "two")}, now)
	if err != nil {
		t.Fatal(err)
	}
	read := func(k record.Key) string {
		b, err := os.ReadFile(filepath.Join(root, GroupPath(k), PartFile(0)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if read(mar) != "two" || read(apr) != "one" {
		t.Errorf("after second commit: march %q april %q, want two, one", read(mar), read(apr))
	}
	entries, _ := os.ReadDir(filepath.Join(root, GroupPath(mar)))
	if len(entries) != 1 {
		t.Errorf("march holds %d files, want 1", len(entries))
	}
	if _, err := os.Stat(filepath.Join(root, TemporaryDir)); !os.IsNotExist(err) {
		t.Errorf("_temporary left behind: %v", err)
	}
	got, err := ReadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if got.Job != "job2" || len(got.Files) != 2 || len(got.Groups) != 1 || got.Files[0].SHA256 == "" || m.Rows != 1 {
		t.Errorf("manifest = %+v", got)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	root := t.TempDir()
	writeAttempt(t, root, "job1", record.Key{City: "sf", Year: 2020, Month: 1}, "x")
	if err := Abort(context.Background(), localStore(t), root, "job1"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("root holds %v after abort", entries)
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
	release, err := Lock(ctx, store, root, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(ctx, store, root, "job-2"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "job-1") {
		t.Errorf("second lock: %v, want ErrLocked naming job-1", err)
	}
	release()
	release2, err := Lock(ctx, store, root, "job-2")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
	if _, err := os.Stat(filepath.Join(root, TemporaryDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("released locks left %s: %v", TemporaryDir, err)
	}
	// A dead run's claim expires.
	os.MkdirAll(filepath.Join(root, TemporaryDir), 0o755)
	stale := `{"job":"job-0","host":"gone","since":"2020-01-01T00:00:00Z","expires":"2020-01-01T00:03:00Z"}`
	os.WriteFile(filepath.Join(root, TemporaryDir, "_lock.json"), []byte(stale), 0o644)
	release3, err := Lock(ctx, store, root, "job-3")
	if err != nil {
		t.Fatalf("lock over an expired claim: %v", err)
	}
	release3()
}
