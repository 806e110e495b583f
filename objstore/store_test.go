package objstore

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
var minio = testenv.SharedMinIO{Prefix: "objstore-minio-"}

func TestMain(m *testing.M) {
	code := m.Run()
	minio.Stop(code)
	os.Exit(code)
}

// sharedMinIO returns the package's MinIO server, skipping the test under -short or where
// there is no minio binary (failing instead under CI=true).
func sharedMinIO(t testing.TB) *testenv.MinIOServer { return minio.Get(t) }

func minioFixture(t *testing.T) fixture {
	m := sharedMinIO(t)
	return s3Fixture(t, "minio", m, m.Endpoint)
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
