package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
)

// splitSizes are the byte-range sizes that the tests cut objects into: a small odd one
// finds off-by-one errors at range edges, a larger one spans S3 read buffers.
var splitSizes = []int64{100_003, 1 << 20}

// mirror uploads every file of the local tree src to dst (an s3:// prefix) with Create,
// streaming from OpenRange, and returns the local objects.
func mirror(t *testing.T, s Store, src, dst string) []ObjectInfo {
	t.Helper()
	ctx := context.Background()
	files, err := s.List(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", src)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(src, f.Name)
		rc, err := s.OpenRange(ctx, f.Name, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Create(ctx, dst+"/"+filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, rc); err != nil {
			t.Fatalf("upload %s: %v", f.Name, err)
		}
		rc.Close()
		if err := w.Close(); err != nil {
			t.Fatalf("upload %s: %v", f.Name, err)
		}
	}
	return files
}

// sameObjects checks that the objects under dst list with the sizes of the local files
// under src, and that every split of every object reads the same bytes from both.
func sameObjects(t *testing.T, s Store, src, dst string, local []ObjectInfo, splits []int64) {
	t.Helper()
	ctx := context.Background()
	remote, err := s.List(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(remote) != len(local) {
		t.Fatalf("%s lists %d objects; %s has %d files", dst, len(remote), src, len(local))
	}
	for i, l := range local {
		rel, _ := filepath.Rel(src, l.Name)
		if want := dst + "/" + filepath.ToSlash(rel); remote[i].Name != want || remote[i].Size != l.Size {
			t.Fatalf("object %d is %s (%d bytes); want %s (%d bytes)", i, remote[i].Name, remote[i].Size, want, l.Size)
		}
		for _, split := range splits {
			for off := int64(0); off < l.Size; off += split {
				want := readRange(t, s, l.Name, off, split)
				got := readRange(t, s, remote[i].Name, off, split)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s bytes [%d, %d): S3 and local disk differ", rel, off, off+split)
				}
			}
		}
	}
}

func readRange(t *testing.T, s Store, name string, off, n int64) []byte {
	t.Helper()
	rc, err := s.OpenRange(context.Background(), name, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s [%d, +%d): %v", name, off, n, err)
	}
	return b
}

// TestRealData copies the five cities' real exports to MinIO and back: the listing and
// every byte range agree with local disk.
func TestRealData(t *testing.T) {
	src := testenv.RealData(t)
	f := minioFixture(t)
	local := mirror(t, f.s, src, f.root+"/311")
	sameObjects(t, f.s, src, f.root+"/311", local, splitSizes)
	if n := f.uploads(t); n != 0 {
		t.Errorf("%d unfinished uploads left", n)
	}
}

// TestFaults runs the same copy and comparison through a proxy that breaks 30% of the
// requests — 503 SlowDown, 500, resets, bodies cut short, stalls — and a lake commit with
// pending uploads: everything succeeds with identical bytes and no upload left behind.
func TestFaults(t *testing.T) {
	src := testenv.RealData(t)
	m := sharedMinIO(t)
	proxy := testenv.FaultProxy(t, m.Endpoint, testenv.FaultPlan{Rate: 0.3, Seed: 1, Stall: 3 * time.Second})
	opt := testOptions(proxy.URL, m.AccessKey, m.SecretKey)
	opt.ReadTimeout = 500 * time.Millisecond // shorter than the stalls
	f := s3Fixture(t, "minio-faults", m, proxy.URL)
	var err error
	if f.s, err = New(opt); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	local := mirror(t, f.s, src, f.root+"/311")
	// One split size: every stall costs a ReadTimeout, and the test has to stay quick.
	sameObjects(t, f.s, src, f.root+"/311", local, splitSizes[1:])

	// A commit: two attempts stage the same multipart file; one is completed, one aborted.
	data := randomBytes(2*MinPartSize+100, 9)
	var pending []Pending
	for range 2 {
		pw, err := f.s.CreatePending(ctx, f.at("lake/part-00000.parquet"))
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
		pending = append(pending, p)
	}
	if err := f.s.Complete(ctx, pending[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AbortPending(ctx, pending[1]); err != nil {
		t.Fatal(err)
	}
	if got := readRange(t, f.s, f.at("lake/part-00000.parquet"), 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("committed file differs: %d bytes, want %d", len(got), len(data))
	}
	if n := f.uploads(t); n != 0 {
		t.Errorf("%d unfinished uploads left", n)
	}
	faults := proxy.Faults()
	t.Logf("%d requests, faults %v", proxy.Requests(), faults)
	for _, k := range []testenv.Fault{testenv.SlowDown, testenv.InternalError, testenv.Reset, testenv.Truncate, testenv.Stall} {
		if faults[k] == 0 {
			t.Errorf("no %v fault was injected; the test proves nothing about it", k)
		}
	}
}

// TestResume cuts every other response body in half, on the in-process fake: reads
// resume from the last byte delivered and return the object intact.
func TestResume(t *testing.T) {
	m := fakeS3(t)
	fake := m.Endpoint
	direct := s3Fixture(t, "fakes3", m, fake)
	cases := []struct {
		name    string
		resumes int
		ok      bool
	}{
		{"resumes", DefaultReadResumes, true},
		{"no_resumes_left", 1, false},
	}
	data := randomBytes(1<<20, 5)
	write(t, direct.s, direct.at("obj"), data)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := testenv.FaultPlan{Every: 1, Kinds: []testenv.Fault{testenv.Truncate}}
			if c.ok {
				plan.Every = 2
			}
			proxy := testenv.FaultProxy(t, fake, plan)
			opt := testOptions(proxy.URL, m.AccessKey, m.SecretKey)
			opt.ReadResumes = c.resumes
			r, err := New(opt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadAll(context.Background(), r, direct.at("obj"))
			if c.ok && (err != nil || !bytes.Equal(got, data)) {
				t.Fatalf("read %d bytes, %v; want %d identical bytes", len(got), err, len(data))
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), "gave up")) {
				t.Fatalf("read with every body cut: %v; want an error that gives up", err)
			}
		})
	}
}

// TestResumePinned replaces an object while a reader streams it: the resumed GET is pinned
// to the first version's ETag and fails instead of splicing two versions.
func TestResumePinned(t *testing.T) {
	f := minioFixture(t)
	ctx := context.Background()
	name := f.at("pinned")
	old := randomBytes(1<<20, 1)
	write(t, f.s, name, old)
	rc, err := f.s.OpenRange(ctx, name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	write(t, f.s, name, randomBytes(1<<20, 2))
	rc.(*rangeReader).body.Close() // the connection drops
	rest, err := io.ReadAll(rc)
	if err == nil {
		t.Fatalf("read on across a replaced object: %d more bytes, no error", len(rest))
	}
	if !bytes.Equal(append(head, rest...), old[:len(head)+len(rest)]) {
		t.Fatal("bytes of the new version were delivered")
	}
}

// TestRenameMultipartCopy lowers the CopyObject limit so that Rename takes the multipart
// copy path that objects over 5 GiB need. gofakes3 has no UploadPartCopy: MinIO only.
func TestRenameMultipartCopy(t *testing.T) {
	f := minioFixture(t)
	defer func(l, p int64) { copyLimit, copyPartSize = l, p }(copyLimit, copyPartSize)
	copyLimit, copyPartSize = MinPartSize, MinPartSize
	ctx := context.Background()
	data := randomBytes(2*MinPartSize+777, 4)
	write(t, f.s, f.at("big"), data)
	if err := f.s.Rename(ctx, f.at("big"), f.at("moved/big")); err != nil {
		t.Fatal(err)
	}
	if got := readRange(t, f.s, f.at("moved/big"), 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("renamed object differs: %d bytes, want %d", len(got), len(data))
	}
	if _, err := f.s.Stat(ctx, f.at("big")); err == nil {
		t.Fatal("Rename left its source")
	}
	if n := f.uploads(t); n != 0 {
		t.Errorf("%d unfinished uploads left", n)
	}
}

// BenchmarkOpenRange measures streaming reads of whole objects of several sizes from
// MinIO on loopback, with local disk as the baseline.
func BenchmarkOpenRange(b *testing.B) {
	sizes := []int64{1 << 20, 16 << 20, 64 << 20}
	for _, store := range []string{"local", "minio"} {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("store=%s/size=%dMiB", store, size>>20), func(b *testing.B) {
				var s *Router
				var name string
				if store == "local" {
					s, _ = New(Options{})
					name = filepath.Join(b.TempDir(), "obj")
				} else {
					m := sharedMinIO(b)
					var err error
					if s, err = New(testOptions(m.Endpoint, m.AccessKey, m.SecretKey)); err != nil {
						b.Fatal(err)
					}
					name = m.URL(fmt.Sprintf("bench/%d", size))
				}
				ctx := context.Background()
				if err := WriteAll(ctx, s, name, randomBytes(int(size), 1)); err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 256<<10)
				b.SetBytes(size)
				b.ResetTimer()
				for b.Loop() {
					rc, err := s.OpenRange(ctx, name, 0, -1)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.CopyBuffer(io.Discard, rc, buf)
					rc.Close()
					if err != nil || n != size {
						b.Fatalf("read %d bytes, %v", n, err)
					}
				}
			})
		}
	}
}
