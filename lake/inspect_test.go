package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// fakeS3 serves an in-memory S3 (gofakes3) with one bucket on loopback, and returns a store
// for it and the server, for counting multipart uploads.
func fakeS3(t *testing.T) (objstore.Store, *testenv.MinIOServer) {
	store, m, _ := fakeS3Logged(t)
	return store, m
}

// s3Log records the requests a fake S3 served that name a multipart upload.
type s3Log struct {
	mu      sync.Mutex
	uploads map[string][]string // upload ID → its requests' methods, in order
}

// requests returns the IDs of the uploads with a request of method ("POST": completed,
// "DELETE": aborted) and how many such requests there were.
func (l *s3Log) requests(method string) (ids map[string]bool, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids = map[string]bool{}
	for id, ms := range l.uploads {
		for _, m := range ms {
			if m == method {
				ids[id] = true
				n++
			}
		}
	}
	return ids, n
}

// fakeS3Logged is fakeS3 whose server also counts the requests it serves.
func fakeS3Logged(t *testing.T) (objstore.Store, *testenv.MinIOServer, *s3Log) {
	t.Helper()
	log := &s3Log{uploads: map[string][]string{}}
	fake := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.URL.Query().Get("uploadId"); id != "" {
			log.mu.Lock()
			log.uploads[id] = append(log.uploads[id], r.Method)
			log.mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	m := &testenv.MinIOServer{Endpoint: srv.URL, AccessKey: "fake", SecretKey: "fakefakefake", Region: "us-east-1", Bucket: "fake"}
	if _, err := m.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &m.Bucket}); err != nil {
		t.Fatal(err)
	}
	store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, Region: m.Region, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		RetryBaseDelay: 5 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PartSize: objstore.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	return store, m, log
}

// mustJoin is objstore.Join of names the test built.
func mustJoin(t *testing.T, base string, elem ...string) string {
	t.Helper()
	name, err := objstore.Join(base, elem...)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// commitJob stages groups as one reducer attempt of job run `job` would (a Parquet file per
// group in the lake's stage, the summary tables in the summaries' stage) and commits them.
func commitJob(t *testing.T, store objstore.Store, roots Roots, job string, groups map[record.Key][]record.Request) *Manifest {
	t.Helper()
	ctx := context.Background()
	st, err := NewStage(store, roots.Lake, job, "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := NewStage(store, roots.Summaries, job, "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	var cgs []CommitGroup
	for _, k := range slices.SortedFunc(func(yield func(record.Key) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	}, compareKeys) {
		reqs := groups[k]
		var rows []Row
		for i := range reqs {
			rows = append(rows, ToRow(&reqs[i]))
		}
		slices.SortFunc(rows, func(a, b Row) int { return int(a.CreatedAt - b.CreatedAt) })
		f, err := StageParquet(ctx, st, filepath.Join(GroupPath(k), PartFile(0)), rows)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := StageSummaries(ctx, sums, k, summary.Compute(k, time.UTC, reqs))
		if err != nil {
			t.Fatal(err)
		}
		pf, err := StagePublishFile(ctx, sums, k, []byte("the group's rows encoded for the publish"))
		if err != nil {
			t.Fatal(err)
		}
		sf = append(sf, pf)
		cgs = append(cgs, CommitGroup{Key: k, Rows: int64(len(reqs)), AttemptDir: st.Dir(), SummaryDir: sums.Dir(), Files: []File{f}, SummaryFiles: sf})
	}
	if err := errors.Join(st.Finish(ctx), sums.Finish(ctx)); err != nil {
		t.Fatal(err)
	}
	m, err := Commit(ctx, store, roots, job, "normalize", RunStats{Started: time.Unix(1700000000, 0), RecordsIn: 9, Version: "v1.2.3"}, cgs, time.Unix(1700000060, 0))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// requests makes n requests of group k, created an hour apart in reverse order.
func requests(k record.Key, n int) []record.Request {
	var out []record.Request
	for i := range n {
		created := time.Date(k.Year, time.Month(k.Month), 1, n-i, 0, 0, 0, time.UTC)
		out = append(out, record.Request{City: k.City, Year: k.Year, Month: k.Month, RequestID: fmt.Sprint(i),
			CreatedAt: created, Status: record.StatusOpen, Agency: "DOT", RequestType: "Noise"})
	}
	return out
}

// TestInspect commits two runs to a lake, on local disk and on S3 (the second rewrites one
// group, as a merge job or a job over one city does) and checks what Inspect and Head read
// back: every group with its files and sizes, rows from the last run's manifest, the summary
// datasets; and that the S3 commit left no upload pending and no stale file.
func TestInspect(t *testing.T) {
	mar := record.Key{City: "new york", Year: 2024, Month: 3}
	apr := record.Key{City: "new york", Year: 2024, Month: 4}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (objstore.Store, Roots, func() int)
	}{
		{"local", func(t *testing.T) (objstore.Store, Roots, func() int) {
			return localStore(t), testRoots(t), func() int { return 0 }
		}},
		{"s3", func(t *testing.T) (objstore.Store, Roots, func() int) {
			store, m := fakeS3(t)
			uploads := func() int {
				out, err := m.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &m.Bucket})
				if err != nil {
					return 0 // gofakes3 before the bucket's first upload
				}
				return len(out.Uploads)
			}
			return store, Roots{Lake: m.URL("out/requests"), Summaries: m.URL("out/summaries")}, uploads
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store, roots, uploads := tc.setup(t)
			commitJob(t, store, roots, "job1", map[record.Key][]record.Request{mar: requests(mar, 2), apr: requests(apr, 1)})
			// A stale file in March's partition of a summary dataset goes with the next commit of March.
			stale := mustJoin(t, roots.Summaries, SummaryGroupPath(summary.TableGeo, mar), "part-00001.parquet")
			if err := objstore.WriteAll(ctx, store, stale, []byte("stale")); err != nil {
				t.Fatal(err)
			}
			m := commitJob(t, store, roots, "job2", map[record.Key][]record.Request{mar: requests(mar, 3)})
			if n := uploads(); n != 0 {
				t.Errorf("%d multipart uploads left pending", n)
			}
			if _, err := store.Stat(ctx, stale); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("stale summary file still there: %v", err)
			}

			c, err := Inspect(ctx, store, roots.Lake+"/")
			if err != nil {
				t.Fatal(err)
			}
			if c.Root != roots.Lake || c.Manifest == nil || c.Manifest.Job != "job2" || c.Manifest.Run.Version != "v1.2.3" {
				t.Errorf("root %s, manifest %+v", c.Root, c.Manifest)
			}
			sizes := map[string]int64{}
			for _, f := range m.Files {
				sizes[f.Path] = f.Bytes
			}
			objs, _ := store.List(ctx, mustJoin(t, roots.Lake, GroupPath(apr))+"/")
			if len(objs) != 1 {
				t.Fatalf("April: %d files", len(objs))
			}
			want := []GroupContents{
				{Key: mar, Dir: "city=new%20york/year=2024/month=3", Rows: 3, Files: 1, Bytes: sizes["city=new%20york/year=2024/month=3/part-00000.parquet"]},
				{Key: apr, Dir: "city=new%20york/year=2024/month=4", Rows: -1, Files: 1, Bytes: objs[0].Size},
			}
			if !slices.Equal(c.Groups, want) {
				t.Errorf("groups %+v, want %+v", c.Groups, want)
			}
			if c.SummariesRoot != roots.Summaries {
				t.Errorf("summaries root %s, want %s", c.SummariesRoot, roots.Summaries)
			}
			if len(c.Summaries) != len(summaryDirs) {
				t.Fatalf("summaries %+v", c.Summaries)
			}
			for i, d := range c.Summaries {
				if d.Table != summaryDirs[i] || d.Groups != 2 || d.Files != 2 || d.Bytes <= 0 {
					t.Errorf("summary dataset %+v, want %s with 2 groups and 2 files", d, summaryDirs[i])
				}
			}
			if c.Temporary || !c.Old.Empty() || len(c.Stray) != 0 || len(c.Missing) != 0 {
				t.Errorf("temporary %v, old layout %+v, stray %v, missing %v", c.Temporary, c.Old, c.Stray, c.Missing)
			}

			rows, err := Head(ctx, store, roots.Lake, mar, 2)
			if err != nil || len(rows) != 2 || rows[0].CreatedAt > rows[1].CreatedAt {
				t.Errorf("Head 2: %+v, %v; want 2 rows in creation order", rows, err)
			}
			if rows, err := Head(ctx, store, roots.Lake, mar, 10); err != nil || len(rows) != 3 {
				t.Errorf("Head 10: %d rows, %v; want the group's 3", len(rows), err)
			}
			if _, err := Head(ctx, store, roots.Lake, record.Key{City: "nyc", Year: 2024, Month: 3}, 1); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Head of a group not in the lake: %v, want fs.ErrNotExist", err)
			}
		})
	}
}

// TestInspectNotALake: each kind of path that holds no lake gets an error that says what it
// holds instead; a lake with leftovers is described with them.
func TestInspectNotALake(t *testing.T) {
	ctx := context.Background()
	store := localStore(t)
	roots := testRoots(t)
	k := record.Key{City: "sf", Year: 2020, Month: 1}
	commitJob(t, store, roots, "job1", map[record.Key][]record.Request{k: requests(k, 1)})
	dir := t.TempDir()
	file := filepath.Join(dir, "x.job")
	os.WriteFile(file, []byte("job"), 0o644)
	other := filepath.Join(dir, "other")
	os.MkdirAll(filepath.Join(other, "data"), 0o755)
	os.WriteFile(filepath.Join(other, "data", "a.csv"), []byte("a"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "no such directory"},
		{"file", file, "it is a file"},
		{"empty", empty, "it holds nothing"},
		{"summaries root", roots.Summaries, "it holds summary datasets (agency_daily, request_geo, request_heat, request_monthly)"},
		{"other files", other, "no _SUCCESS manifest and no city=…/year=…/month=… group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(ctx, store, tc.path)
			if !errors.Is(err, ErrNotLake) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("Inspect(%s): %v; want ErrNotLake naming the path and saying %q", tc.path, err, tc.want)
			}
		})
	}

	t.Run("unreadable manifest", func(t *testing.T) {
		bad := t.TempDir()
		os.WriteFile(filepath.Join(bad, SuccessFile), []byte("{"), 0o644)
		if _, err := Inspect(ctx, store, bad); err == nil || !strings.Contains(err.Error(), "unreadable manifest") {
			t.Errorf("Inspect: %v, want an unreadable manifest", err)
		}
	})

	t.Run("leftovers", func(t *testing.T) {
		for _, p := range []string{
			filepath.Join(roots.Lake, "_summary", "sf", "2019-12", "request_monthly.parquet"),
			filepath.Join(roots.Lake, "city=sf", "year=2019", "month=02", "part-00000.parquet"),
			filepath.Join(roots.Lake, TemporaryDir, "job9", "r-0-1", "x"),
			filepath.Join(roots.Lake, "notes.txt"),
		} {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("x"), 0o644)
		}
		os.RemoveAll(filepath.Join(roots.Lake, GroupPath(k)))
		c, err := Inspect(ctx, store, roots.Lake)
		if err != nil {
			t.Fatal(err)
		}
		old := []GroupContents{{Key: record.Key{City: "sf", Year: 2019, Month: 2}, Dir: "city=sf/year=2019/month=02", Rows: -1, Files: 1, Bytes: 1}}
		if c.Old != (OldLayout{SummaryFiles: 1, GroupDirs: 1}) || !c.Temporary || !slices.Equal(c.Stray, []string{"notes.txt"}) ||
			!slices.Equal(c.Missing, []record.Key{k}) || !slices.Equal(c.Groups, old) {
			t.Errorf("old layout %+v, temporary %v, stray %v, missing %v, groups %+v", c.Old, c.Temporary, c.Stray, c.Missing, c.Groups)
		}
	})
}

func TestParseGroup(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want record.Key
		ok   bool
	}{
		{"city=nyc/year=2024/month=05", record.Key{City: "nyc", Year: 2024, Month: 5}, true},
		{"city=new%20york/year=2024/month=12/", record.Key{City: "new york", Year: 2024, Month: 12}, true},
		{"nyc/2024/05", record.Key{}, false},
		{"city=nyc/year=2024/month=13", record.Key{}, false},
		{"city=/year=2024/month=01", record.Key{}, false},
		{"city=nyc/year=2024", record.Key{}, false},
		{"city=%zz/year=2024/month=01", record.Key{}, false},
	} {
		got, err := ParseGroup(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseGroup(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
