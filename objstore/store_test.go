package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ireports/ireports/internal/testenv"
)

// fixture is one store under test and the root that its test names live under.
type fixture struct {
	name string
	s    *Router
	root string // a directory path or "s3://bucket"
	// uploads counts the unfinished multipart uploads (S3) or staged files (local)
	// under root, to prove that nothing dangles.
	uploads func(t *testing.T) int
	// fake marks gofakes3, which stores a completed multipart object with a plain MD5
	// ETag, so a repeated Complete cannot recognise its own object there.
	fake bool
}

func (f fixture) at(name string) string {
	if IsS3(f.root) {
		return f.root + "/" + name
	}
	return filepath.Join(f.root, filepath.FromSlash(name))
}

// testOptions keep retries quick: the fakes fail only where a test makes them.
func testOptions(endpoint, key, secret string) Options {
	return Options{
		Endpoint: endpoint, Region: "us-east-1", AccessKeyID: key, SecretAccessKey: secret,
		RetryBaseDelay: 5 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		ReadTimeout: 10 * time.Second, PartSize: MinPartSize,
	}
}

func localFixture(t *testing.T) fixture {
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	return fixture{name: "local", s: r, root: root, uploads: func(t *testing.T) int {
		n := 0
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && finalOf(path) != "" {
				n++
			}
			return nil
		})
		return n
	}}
}

// fakeS3 serves an in-memory gofakes3 with one bucket on loopback.
func fakeS3(t *testing.T) *testenv.MinIOServer {
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	m := &testenv.MinIOServer{Endpoint: srv.URL, AccessKey: "fake", SecretKey: "fakefakefake", Region: "us-east-1", Bucket: "fake"}
	if _, err := m.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &m.Bucket}); err != nil {
		t.Fatal(err)
	}
	return m
}

func fakeS3Fixture(t *testing.T) fixture {
	m := fakeS3(t)
	f := s3Fixture(t, "fakes3", m, m.Endpoint)
	f.fake = true
	return f
}

// s3Fixture addresses m's bucket through endpoint (m's own, or a proxy in front of it).
func s3Fixture(t *testing.T, name string, m *testenv.MinIOServer, endpoint string) fixture {
	r, err := New(testOptions(endpoint, m.AccessKey, m.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	root := "s3://" + m.Bucket + "/" + strings.ReplaceAll(t.Name(), "/", "_")
	return fixture{name: name, s: r, root: root, uploads: func(t *testing.T) int {
		_, prefix, _ := splitS3(root)
		// No Prefix: MinIO lists nothing for a prefix that is not a whole key.
		out, err := m.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &m.Bucket})
		if code, _ := errorCode(err); code == "NoSuchUpload" {
			return 0 // gofakes3, before the bucket's first upload
		}
		if err != nil {
			t.Fatalf("list uploads: %v", err)
		}
		n := 0
		for _, u := range out.Uploads {
			if strings.HasPrefix(*u.Key, prefix+"/") {
				n++
			}
		}
		return n
	}}
}

// The package's tests share one MinIO server, started on first use: starting one takes
// seconds.
var (
	minioOnce sync.Once
	minio     *testenv.MinIOServer
	minioStop func() string
	minioErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if minioStop != nil {
		logs := minioStop()
		if code != 0 && os.Getenv("MINIO_LOG") != "" {
			fmt.Fprintf(os.Stderr, "minio log:\n%s", logs)
		}
	}
	if minio != nil {
		os.RemoveAll(minio.DataDir)
	}
	os.Exit(code)
}

// sharedMinIO returns the package's MinIO server, skipping the test under -short or where
// there is no minio binary (failing instead under CI=true).
func sharedMinIO(t testing.TB) *testenv.MinIOServer {
	if testing.Short() {
		t.Skip("MinIO tests skipped under -short")
	}
	minioOnce.Do(func() {
		dir, err := os.MkdirTemp("", "objstore-minio-")
		if err != nil {
			minioErr = err
			return
		}
		minio, minioStop, minioErr = testenv.StartMinIO(dir)
		if minioErr != nil {
			os.RemoveAll(dir)
		}
	})
	if errors.Is(minioErr, testenv.ErrNoMinIO) && os.Getenv("CI") != "true" {
		t.Skip(minioErr)
	}
	if minioErr != nil {
		t.Fatal(minioErr)
	}
	return minio
}

func minioFixture(t *testing.T) fixture {
	m := sharedMinIO(t)
	return s3Fixture(t, "minio", m, m.Endpoint)
}

// forEachStore runs fn against local disk, gofakes3 and, unless -short, MinIO: the same
// behaviours hold for every store.
func forEachStore(t *testing.T, fn func(t *testing.T, f fixture)) {
	for _, st := range []struct {
		name string
		mk   func(*testing.T) fixture
	}{{"local", localFixture}, {"fakes3", fakeS3Fixture}, {"minio", minioFixture}} {
		t.Run(st.name, func(t *testing.T) { fn(t, st.mk(t)) })
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func write(t *testing.T, s Store, name string, b []byte) {
	t.Helper()
	if err := WriteAll(context.Background(), s, name, b); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}

func names(infos []ObjectInfo, root string) []string {
	out := []string{}
	for _, o := range infos {
		out = append(out, filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(o.Name, root), "/")))
	}
	return out
}

func TestWriteRead(t *testing.T) {
	cases := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 1000},
		{"one_part_exactly", MinPartSize},
		{"multipart", 2*MinPartSize + 12345},
	}
	forEachStore(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want := randomBytes(c.size, uint64(c.size))
				name := f.at("rw/" + c.name)
				write(t, f.s, name, want)
				got, err := ReadAll(ctx, f.s, name)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes, want %d identical bytes", len(got), len(want))
				}
				info, err := f.s.Stat(ctx, name)
				if err != nil || info.Size != int64(c.size) || info.Name != name {
					t.Fatalf("Stat = %+v, %v; want size %d", info, err, c.size)
				}
			})
		}
		if n := f.uploads(t); n != 0 {
			t.Errorf("%d unfinished uploads left", n)
		}
	})
}

func TestOpenRange(t *testing.T) {
	const size = 1000
	cases := []struct {
		name     string
		off, n   int64
		from, to int // expected bytes [from, to)
	}{
		{"whole", 0, -1, 0, size},
		{"head", 0, 10, 0, 10},
		{"middle", 100, 200, 100, 300},
		{"to_end", 900, -1, 900, size},
		{"past_end", 900, 500, 900, size},
		{"at_end", size, -1, size, size},
		{"beyond_end", size + 10, 5, size, size},
		{"zero", 5, 0, 5, 5},
	}
	forEachStore(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		data := randomBytes(size, 7)
		name := f.at("range/obj")
		write(t, f.s, name, data)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rc, err := f.s.OpenRange(ctx, name, c.off, c.n)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data[c.from:c.to]) {
					t.Fatalf("got %d bytes, want bytes [%d, %d)", len(got), c.from, c.to)
				}
			})
		}
	})
}

func TestNotExist(t *testing.T) {
	forEachStore(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		name := f.at("missing/key.csv")
		_, err := f.s.Stat(ctx, name)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing/key.csv") {
			t.Errorf("Stat: %v; want fs.ErrNotExist naming the key", err)
		}
		for _, n := range []int64{-1, 10, 0} {
			if _, err := f.s.OpenRange(ctx, name, 0, n); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing/key.csv") {
				t.Errorf("OpenRange(n=%d): %v; want fs.ErrNotExist naming the key", n, err)
			}
		}
		if err := f.s.Rename(ctx, name, f.at("elsewhere")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Rename: %v; want fs.ErrNotExist", err)
		}
		if err := f.s.Delete(ctx, name); err != nil {
			t.Errorf("Delete of a missing object: %v; want nil", err)
		}
		if got, err := f.s.List(ctx, f.at("missing")); err != nil || len(got) != 0 {
			t.Errorf("List of a missing tree = %v, %v; want nothing", got, err)
		}
	})
}

func TestList(t *testing.T) {
	objects := []string{"in/a.csv", "in/b.json", "in/sub/c.csv", "in/sub/deep/d.csv", "inx/e.csv", "in.csv"}
	cases := []struct {
		name    string
		pattern string
		want    []string
	}{
		{"tree", "in", []string{"in/a.csv", "in/b.json", "in/sub/c.csv", "in/sub/deep/d.csv"}},
		{"tree_slash", "in/", []string{"in/a.csv", "in/b.json", "in/sub/c.csv", "in/sub/deep/d.csv"}},
		{"one_object", "in/a.csv", []string{"in/a.csv"}},
		{"object_not_prefix", "in/a", []string{}},
		{"glob_one_level", "in/*.csv", []string{"in/a.csv"}},
		{"glob_dir", "in/*/*.csv", []string{"in/sub/c.csv"}},
		{"glob_prefix_star", "in*/*.csv", []string{"in/a.csv", "inx/e.csv"}},
		{"glob_class", "in/[ab].*", []string{"in/a.csv", "in/b.json"}},
		{"glob_question", "in?csv", []string{"in.csv"}},
		{"glob_none", "in/*.parquet", []string{}},
	}
	forEachStore(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for i, o := range objects {
			write(t, f.s, f.at(o), []byte(strings.Repeat("x", i)))
		}
		// A staged write is not an object yet.
		pw, err := f.s.CreatePending(ctx, f.at("in/pending.csv"))
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte("not yet"))
		p, err := pw.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer f.s.AbortPending(ctx, p)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := f.s.List(ctx, f.at(c.pattern))
				if err != nil {
					t.Fatal(err)
				}
				if g := names(got, f.root); !reflect.DeepEqual(g, c.want) {
					t.Fatalf("List(%q) = %q, want %q", c.pattern, g, c.want)
				}
				for _, o := range got {
					if info, err := f.s.Stat(ctx, o.Name); err != nil || info.Size != o.Size {
						t.Errorf("List gave %+v, Stat of its name gives %+v, %v", o, info, err)
					}
				}
			})
		}
		if _, err := f.s.List(ctx, f.at("in/[")); !errors.Is(err, path.ErrBadPattern) {
			t.Errorf("List of a bad pattern: %v; want ErrBadPattern", err)
		}
	})
}

func TestDeleteRename(t *testing.T) {
	forEachStore(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for _, o := range []string{"t/a", "t/b/c", "t/b/d", "tt/e"} {
			write(t, f.s, f.at(o), []byte(o))
		}
		if err := f.s.Rename(ctx, f.at("t/a"), f.at("moved/a2")); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadAll(ctx, f.s, f.at("moved/a2")); err != nil || string(got) != "t/a" {
			t.Fatalf("after Rename: %q, %v", got, err)
		}
		if _, err := f.s.Stat(ctx, f.at("t/a")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Rename left its source: %v", err)
		}
		// Rename replaces.
		if err := f.s.Rename(ctx, f.at("t/b/c"), f.at("moved/a2")); err != nil {
			t.Fatal(err)
		}
		if got, _ := ReadAll(ctx, f.s, f.at("moved/a2")); string(got) != "t/b/c" {
			t.Fatalf("Rename onto an object left %q", got)
		}
		if err := f.s.Delete(ctx, f.at("moved/a2")); err != nil {
			t.Fatal(err)
		}
		if err := f.s.DeletePrefix(ctx, f.at("t")); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.List(ctx, f.root)
		if err != nil {
			t.Fatal(err)
		}
		if g := names(got, f.root); !reflect.DeepEqual(g, []string{"tt/e"}) {
			t.Fatalf("after DeletePrefix(t): %q; want only tt/e", g)
		}
	})
}

func TestPending(t *testing.T) {
	sizes := []struct {
		name string
		size int
	}{{"empty", 0}, {"small", 4096}, {"multipart", MinPartSize + 1}}
	forEachStore(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		for _, c := range sizes {
			t.Run(c.name, func(t *testing.T) {
				data := randomBytes(c.size, 3)
				name := f.at("lake/" + c.name + "/part-00000.parquet")
				write(t, f.s, name, []byte("previous version"))
				pw, err := f.s.CreatePending(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pw.Write(data); err != nil {
					t.Fatal(err)
				}
				p, err := pw.Close()
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := ReadAll(ctx, f.s, name); string(got) != "previous version" {
					t.Fatalf("a pending object is visible before Complete")
				}
				// The record travels through a JSON manifest to the committer.
				b, err := json.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				var back Pending
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				if err := f.s.Complete(ctx, back); err != nil {
					t.Fatal(err)
				}
				if !f.fake {
					if err := f.s.Complete(ctx, back); err != nil {
						t.Fatalf("Complete again: %v; want nil (idempotent)", err)
					}
				}
				got, err := ReadAll(ctx, f.s, name)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("after Complete: %d bytes, %v; want %d", len(got), err, len(data))
				}
				if n := f.uploads(t); n != 0 {
					t.Errorf("%d unfinished uploads after Complete", n)
				}
			})
		}
		t.Run("abort", func(t *testing.T) {
			name := f.at("lake/aborted/part-00000.parquet")
			pw, err := f.s.CreatePending(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			pw.Write(randomBytes(MinPartSize+10, 1))
			p, err := pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // AbortPending is idempotent
				if err := f.s.AbortPending(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.s.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("aborted object exists: %v", err)
			}
			if n := f.uploads(t); n != 0 {
				t.Errorf("%d unfinished uploads after AbortPending", n)
			}
		})
		t.Run("writer_abort", func(t *testing.T) {
			name := f.at("lake/writer-abort")
			w, err := f.s.Create(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(randomBytes(MinPartSize+10, 1)) // one part uploaded
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Abort: %v; want ErrClosed", err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close after Abort: %v; want nil", err)
			}
			if _, err := f.s.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("aborted object exists: %v", err)
			}
			if n := f.uploads(t); n != 0 {
				t.Errorf("%d unfinished uploads after Abort", n)
			}
		})
		t.Run("crash_sweep", func(t *testing.T) {
			// Writers abandoned without Close or Abort, as by a crashed worker.
			for i, name := range []string{"lake/crash/a", "lake/crash/sub/b", "lakeside/c"} {
				pw, err := f.s.CreatePending(ctx, f.at(name))
				if err != nil {
					t.Fatal(err)
				}
				pw.Write(randomBytes(MinPartSize, uint64(i)))
			}
			if n, err := f.s.AbortUploads(ctx, f.at("lake/crash"), time.Now().Add(-time.Hour)); err != nil || n != 0 {
				t.Fatalf("AbortUploads of uploads younger than its cutoff = %d, %v; want 0", n, err)
			}
			n, err := f.s.AbortUploads(ctx, f.at("lake/crash"), time.Time{})
			if err != nil || n != 2 {
				t.Fatalf("AbortUploads = %d, %v; want 2", n, err)
			}
			if n, _ := f.s.AbortUploads(ctx, f.at("lakeside"), time.Time{}); n != 1 {
				t.Fatalf("AbortUploads(lakeside) = %d; want 1", n)
			}
			if n := f.uploads(t); n != 0 {
				t.Errorf("%d unfinished uploads after the sweep", n)
			}
		})
	})
}

func TestOptions(t *testing.T) {
	cases := []struct {
		name string
		opt  Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"defaults", DefaultOptions(), true},
		{"small_parts", Options{PartSize: 1 << 20}, false},
		{"negative_attempts", Options{MaxAttempts: -1}, false},
		{"negative_timeout", Options{ReadTimeout: -time.Second}, false},
		{"half_credentials", Options{AccessKeyID: "a"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.opt)
			if (err == nil) != c.ok {
				t.Fatalf("New: %v; want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrBadOptions) {
				t.Fatalf("New: %v; want ErrBadOptions", err)
			}
		})
	}
	r, err := New(Options{Endpoint: "127.0.0.1:9000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Stat(context.Background(), "s3://b/k"); !errors.Is(err, ErrBadOptions) {
		t.Errorf("an endpoint without a scheme: %v; want ErrBadOptions", err)
	}
}

func TestBadNames(t *testing.T) {
	r, err := New(testOptions("http://127.0.0.1:1", "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"s3://", "s3:///key"} {
		if _, err := r.Stat(ctx, name); !errors.Is(err, ErrBadName) {
			t.Errorf("Stat(%q): %v; want ErrBadName", name, err)
		}
	}
	if err := r.DeletePrefix(ctx, "s3://bucket/"); !errors.Is(err, ErrBadName) {
		t.Errorf("DeletePrefix of a whole bucket: %v; want ErrBadName", err)
	}
	if err := r.DeletePrefix(ctx, "."); !errors.Is(err, ErrBadName) {
		t.Errorf("DeletePrefix(.): %v; want ErrBadName", err)
	}
	if err := r.Rename(ctx, "s3://b/k", filepath.Join(t.TempDir(), "k")); !errors.Is(err, ErrCrossStore) {
		t.Errorf("Rename across stores: %v; want ErrCrossStore", err)
	}
	if _, err := os.Stat("."); err != nil {
		t.Fatal("DeletePrefix(.) removed the working directory")
	}
}

func TestCreateExclusive(t *testing.T) {
	for _, st := range []struct {
		name string
		mk   func(*testing.T) fixture
	}{{"local", localFixture}, {"minio", minioFixture}} { // gofakes3 ignores If-None-Match
		t.Run(st.name, func(t *testing.T) {
			f := st.mk(t)
			ctx := context.Background()
			name := f.at("claims/lock.json")
			if err := f.s.CreateExclusive(ctx, name, []byte("first")); err != nil {
				t.Fatal(err)
			}
			if err := f.s.CreateExclusive(ctx, name, []byte("second")); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("second create: %v, want fs.ErrExist", err)
			}
			if b, err := ReadAll(ctx, f.s, name); err != nil || string(b) != "first" {
				t.Fatalf("object holds %q (%v), want the first writer's", b, err)
			}
			if err := f.s.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
			if err := f.s.CreateExclusive(ctx, name, []byte("third")); err != nil {
				t.Fatalf("create after delete: %v", err)
			}
		})
	}
}
