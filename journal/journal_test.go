package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// fixture is one place journals can live.
type fixture struct {
	name string
	dir  *Dir
	// store and location reach the object backend's objects; nil store for a local dir.
	store    objstore.Store
	location string
}

// backends runs fn against every backend: a local directory; the object backend over
// objstore's local store, over gofakes3, and (unless -short) over a real MinIO.
func backends(t *testing.T, fn func(t *testing.T, f fixture)) {
	for _, b := range []struct {
		name string
		mk   func(t *testing.T) fixture
	}{{"local", localFixture}, {"objects-on-disk", objectsOnDisk}, {"fakes3", fakeS3Fixture}, {"minio", minioFixture}} {
		t.Run(b.name, func(t *testing.T) { fn(t, b.mk(t)) })
	}
}

func localFixture(t *testing.T) fixture {
	loc := t.TempDir()
	d, err := Open(context.Background(), Config{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{name: "local", dir: d, location: loc}
}

func objectsOnDisk(t *testing.T) fixture {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc := t.TempDir()
	d, err := newObjectDir(store, loc, DefaultMaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{name: "objects-on-disk", dir: d, store: store, location: loc}
}

func s3Fixture(t *testing.T, m *testenv.MinIOServer) fixture {
	store, err := objstore.New(objstore.Options{
		Endpoint: m.Endpoint, Region: "us-east-1", AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		RetryBaseDelay: 5 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxAttempts: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	loc := "s3://" + m.Bucket + "/" + strings.ReplaceAll(t.Name(), "/", "_")
	d, err := Open(context.Background(), Config{Location: loc, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{dir: d, store: store, location: loc}
}

func fakeS3Fixture(t *testing.T) fixture {
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	m := &testenv.MinIOServer{Endpoint: srv.URL, AccessKey: "fake", SecretKey: "fakefakefake", Region: "us-east-1", Bucket: "fake"}
	if _, err := m.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &m.Bucket}); err != nil {
		t.Fatal(err)
	}
	f := s3Fixture(t, m)
	f.name = "fakes3"
	return f
}

// The package's tests share one MinIO server, started on first use.
var minio = testenv.SharedMinIO{Prefix: "journal-minio-"}

func TestMain(m *testing.M) {
	code := m.Run()
	minio.Stop(code)
	os.Exit(code)
}

func minioFixture(t *testing.T) fixture {
	f := s3Fixture(t, minio.Get(t))
	f.name = "minio"
	return f
}

var t0 = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

// jobRecords returns one record of each kind, as a job writes them.
func jobRecords(job string) []Record {
	return []Record{
		&Spec{Job: job, Name: "normalize", Submitted: t0, Path: "/jobs/normalize.job", Source: []byte("job \"normalize\" {}\n"),
			Spec: json.RawMessage(`{"name":"normalize","inputs":[{"city":"austin"}]}`)},
		&Phase{State: "planning", At: t0},
		&Plan{Maps: 2, Reducers: 1, Plan: json.RawMessage(`{"splits":[{"file":"a.csv","start":0,"end":100,"state":"unknown"}]}`)},
		&Phase{State: "map", At: t0.Add(time.Second)},
		&TaskAccepted{Worker: "w1", Map: &task.MapResult{Index: 0, Attempt: 1, Assumed: csvsplit.Outside, Parity: 1, Bytes: 100,
			RecordsIn: 3, RecordsOut: 3, Output: shuffle.Location{Worker: "127.0.0.1:7001", Job: job, Map: 0, Path: "/data/m0"}}},
		&MapLost{Map: 0, Attempt: 1, Reason: "worker w1 dead"},
		&TaskAccepted{Worker: "w2", Map: &task.MapResult{Index: 0, Attempt: 2, Output: shuffle.Location{Worker: "127.0.0.1:7002", Job: job}}},
		&Phase{State: "reduce", At: t0.Add(2 * time.Second)},
		&TaskAccepted{Worker: "w2", Reduce: &task.ReduceResult{Index: 0, Attempt: 1, RecordsIn: 3, RecordsOut: 3,
			Groups: []task.Group{{City: "austin", Year: 2024, Month: 5, Rows: 3,
				Files: []task.File{{Path: "city=austin/year=2024/month=5/part-00000.parquet", Bytes: 1234, SHA256: "ab12"}}}},
			Dir: "/lake/_temporary/" + job + "/r-0-1"},
			Pending: json.RawMessage(`[{"name":"s3://b/lake/part-00000.parquet","size":1234,"upload_id":"u1"}]`)},
		&SourceBatch{Source: "austin", Object: "s3://b/raw/austin/0001.json", Records: 1000, Bytes: 52100, SHA256: "cd34",
			Watermark: json.RawMessage(`{"updated_at":"2026-12-01T00:00:00Z","id":"x1"}`)},
		&Commit{Step: CommitBegin},
		&Commit{Step: CommitFiles, Files: []string{"city=austin/year=2024/month=5/part-00000.parquet"}},
		&Commit{Step: CommitSuccess},
		&Published{Groups: 1, Rows: 40, At: t0.Add(3 * time.Second)},
		&Finished{State: "succeeded", At: t0.Add(4 * time.Second)},
	}
}

// appendAll appends recs, every third one Sync.
func appendAll(t *testing.T, j *Journal, recs []Record) {
	t.Helper()
	for i, r := range recs {
		d := Batched
		if i%3 == 0 {
			d = Sync
		}
		if err := j.Append(context.Background(), r, d); err != nil {
			t.Fatalf("append %d (%s): %v", i, r.Kind(), err)
		}
	}
}

// sameRecords fails unless got and want are the same records in the same order.
func sameRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n got %s\nwant %s", len(got), len(want), kinds(got), kinds(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			t.Fatalf("record %d (%s) differs:\n got %s\nwant %s", i, want[i].Kind(), g, w)
		}
	}
}

func kinds(recs []Record) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Kind().String())
	}
	return strings.Join(s, ",")
}

// TestRoundTrip writes a job's records, closes, lists, resumes, appends more and replays, on
// every backend.
func TestRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		const job = "normalize-20261202T060000-0a1b"
		if ids, err := f.dir.Jobs(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("Jobs of an empty location = %v, %v", ids, err)
		}
		j, err := f.dir.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		recs := jobRecords(job)
		appendAll(t, j, recs[:10])
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.Create(ctx, job); !errors.Is(err, ErrExist) {
			t.Fatalf("Create of an existing journal: %v; want ErrExist", err)
		}
		if ids, err := f.dir.Jobs(ctx); err != nil || !reflect.DeepEqual(ids, []string{job}) {
			t.Fatalf("Jobs = %v, %v; want [%s]", ids, err, job)
		}

		j, got, err := f.dir.Resume(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, recs[:10])
		appendAll(t, j, recs[10:])
		if err := j.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err = f.dir.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, recs)
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := j.Append(ctx, recs[0], Sync); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close: %v; want ErrClosed", err)
		}

		if err := f.dir.Remove(ctx, job); err != nil {
			t.Fatal(err)
		}
		if err := f.dir.Remove(ctx, job); err != nil {
			t.Fatalf("second Remove: %v", err)
		}
		if ids, err := f.dir.Jobs(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("Jobs after Remove = %v, %v", ids, err)
		}
		if _, _, err := f.dir.Resume(ctx, job); !errors.Is(err, ErrNotExist) {
			t.Fatalf("Resume after Remove: %v; want ErrNotExist", err)
		}
	})
}

// TestJobsMany lists several journals, and no stray file or object under the location.
func TestJobsMany(t *testing.T) {
	backends(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		want := []string{"a-1", "b-2", "c-3"}
		for _, job := range []string{"c-3", "a-1", "b-2"} {
			j, err := f.dir.Create(ctx, job)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Append(ctx, jobRecords(job)[0], Sync); err != nil {
				t.Fatal(err)
			}
			j.Close(ctx)
		}
		stray := f.location + "/jobs/notes.txt"
		if f.store != nil {
			if err := objstore.WriteAll(ctx, f.store, stray, []byte("x")); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if ids, err := f.dir.Jobs(ctx); err != nil || !reflect.DeepEqual(ids, want) {
			t.Fatalf("Jobs = %v, %v; want %v", ids, err, want)
		}
	})
}

// TestConcurrentAppend appends from many goroutines at once: every record is there once,
// and each goroutine's records are in its order.
func TestConcurrentAppend(t *testing.T) {
	backends(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		j, err := f.dir.Create(ctx, "concurrent")
		if err != nil {
			t.Fatal(err)
		}
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					d := Batched
					if i%5 == 4 {
						d = Sync
					}
					rec := &Phase{State: fmt.Sprintf("w%d", w), At: t0.Add(time.Duration(i))}
					if err := j.Append(ctx, rec, d); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := f.dir.Replay(ctx, "concurrent")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != writers*each {
			t.Fatalf("%d records, want %d", len(got), writers*each)
		}
		next := map[string]time.Duration{}
		for _, r := range got {
			p := r.(*Phase)
			if i := p.At.Sub(t0); i != next[p.State] {
				t.Fatalf("writer %s: record %d came where %d was due", p.State, i, next[p.State])
			}
			next[p.State]++
		}
	})
}

// TestCompact replaces a journal with a snapshot: Replay returns the snapshot then what was
// appended after it, and the journal's size drops.
func TestCompact(t *testing.T) {
	backends(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		const job = "compact"
		j, err := f.dir.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		recs := jobRecords(job)
		for range 5 {
			appendAll(t, j, recs[:9])
		}
		before := j.Stats()
		snap := &Snapshot{State: json.RawMessage(`{"phase":"reduce","maps_done":2}`), At: t0}
		if err := j.Compact(ctx, snap); err != nil {
			t.Fatal(err)
		}
		after := j.Stats()
		if after.Records != 1 || after.Bytes >= before.Bytes {
			t.Fatalf("stats %+v before compaction, %+v after: want 1 record and fewer bytes", before, after)
		}
		appendAll(t, j, recs[9:])
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		want := append([]Record{snap}, recs[9:]...)
		got, err := f.dir.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, want)

		// Twice more, after a Resume: the older snapshots are gone.
		j, got, err = f.dir.Resume(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, want)
		snap2 := &Snapshot{State: json.RawMessage(`{"phase":"done"}`), At: t0}
		if err := j.Compact(ctx, snap2); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, err = f.dir.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{snap2})
		if f.store != nil {
			if segs, err := f.dir.b.(*objectDir).segments(ctx, job); err != nil || len(segs) != 1 {
				t.Fatalf("%d segments after compaction (%v); want 1", len(segs), err)
			}
		}
	})
}

// TestBadRecord refuses records that could not be replayed, and leaves the journal as it was.
func TestBadRecord(t *testing.T) {
	cases := []struct {
		name string
		rec  Record
	}{
		{"nil", nil},
		{"typed nil", (*Phase)(nil)},
		{"spec without job", &Spec{Spec: json.RawMessage(`{}`)}},
		{"spec with unsafe job", &Spec{Job: "../x", Spec: json.RawMessage(`{}`)}},
		{"spec not JSON", &Spec{Job: "bad", Spec: json.RawMessage(`{`)}},
		{"spec of another job", &Spec{Job: "other", Spec: json.RawMessage(`{}`)}},
		{"plan negative", &Plan{Maps: -1, Plan: json.RawMessage(`{}`)}},
		{"phase empty", &Phase{}},
		{"accepted neither", &TaskAccepted{Worker: "w"}},
		{"accepted both", &TaskAccepted{Map: &task.MapResult{Attempt: 1}, Reduce: &task.ReduceResult{Attempt: 1}}},
		{"accepted attempt 0", &TaskAccepted{Map: &task.MapResult{}}},
		{"accepted pending not JSON", &TaskAccepted{Reduce: &task.ReduceResult{Attempt: 1}, Pending: json.RawMessage(`nope`)}},
		{"map lost negative", &MapLost{Map: -1, Attempt: 1}},
		{"commit step 0", &Commit{}},
		{"commit step 9", &Commit{Step: 9}},
		{"published negative", &Published{Rows: -1}},
		{"source batch unnamed", &SourceBatch{Object: "x"}},
		{"finished empty", &Finished{}},
		{"snapshot empty", &Snapshot{}},
	}
	ctx := context.Background()
	f := localFixture(t)
	j, err := f.dir.Create(ctx, "bad")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(ctx)
	good := &Phase{State: "map", At: t0}
	if err := j.Append(ctx, good, Sync); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := j.Append(ctx, c.rec, Sync); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("Append: %v; want ErrBadRecord", err)
			}
		})
	}
	if err := j.Compact(ctx, nil); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("Compact(nil): %v; want ErrBadRecord", err)
	}
	got, err := f.dir.Replay(ctx, "bad")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, []Record{good})
}

// TestBadJobID refuses ids that would not stay a single name under the location.
func TestBadJobID(t *testing.T) {
	ctx := context.Background()
	backends(t, func(t *testing.T, f fixture) {
		for _, job := range []string{"", ".hidden", "..", "a/b", "../escape", `a\b`, "a b", "a\x00b", strings.Repeat("x", 201)} {
			if _, err := f.dir.Create(ctx, job); !errors.Is(err, ErrBadJob) {
				t.Errorf("Create(%q): %v; want ErrBadJob", job, err)
			}
			if _, _, err := f.dir.Resume(ctx, job); !errors.Is(err, ErrBadJob) {
				t.Errorf("Resume(%q): %v; want ErrBadJob", job, err)
			}
			if err := f.dir.Remove(ctx, job); !errors.Is(err, ErrBadJob) {
				t.Errorf("Remove(%q): %v; want ErrBadJob", job, err)
			}
		}
	})
}

func TestOpenConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"no location", Config{}},
		{"s3 without store", Config{Location: "s3://bucket/state"}},
		{"negative batch", Config{Location: t.TempDir(), MaxBatch: -1}},
		{"s3 without bucket", Config{Location: "s3://", Store: &objstore.Router{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Open(ctx, c.cfg); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
}
