// Package storetest is the conformance suite of objstore.Store: one set of tests that every
// store must pass, so that the guarantees the Store interface documents hold the same on
// local disk, an in-process fake S3 and a real S3 server (MinIO). objstore's own tests run
// it against all three (objstore/conformance_test.go); a new store runs it too.
//
// The suite writes only under the fixture's root and leaves nothing unfinished there.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/objstore"
)

// Fixture is one store under test.
type Fixture struct {
	// Store is the store under test. On S3 its part size must be objstore.MinPartSize, so
	// that the suite's multipart cases stay small.
	Store objstore.Store
	// Root is an empty tree private to the test: a directory or "s3://bucket/prefix".
	Root string
	// Uploads counts the unfinished writes under Root (staged files on local disk,
	// multipart uploads on S3), to prove that nothing dangles.
	Uploads func(t *testing.T) int
	// Dirs reports whether the store has directories (local disk): the suite then checks
	// that the directories a failed write or Prune empties are gone.
	Dirs bool
	// HidesDotNames reports whether List leaves out names starting with "." (local disk,
	// where staged writes live).
	HidesDotNames bool
	// NoRepeatComplete marks a server that stores a completed multipart object with a plain
	// MD5 ETag (gofakes3), where a repeated Complete cannot recognise its own object.
	NoRepeatComplete bool
	// NoConditionalPut marks a server that ignores If-None-Match (gofakes3), where
	// CreateExclusive cannot be exclusive.
	NoConditionalPut bool
}

// at names rel (slash-separated, a trailing slash kept) under the root, in the root's syntax.
func (f Fixture) at(rel string) string {
	// Run checked the root, and the suite's names are sound: Join cannot fail.
	name, _ := objstore.Join(f.Root, strings.TrimSuffix(rel, "/"))
	if strings.HasSuffix(rel, "/") {
		name += "/"
	}
	return name
}

// Run runs the conformance suite, each test against a fresh fixture from newFixture.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f Fixture)
	}{
		{"WriteRead", testWriteRead},
		{"CreateVisibleOnClose", testCreateVisibleOnClose},
		{"OpenRange", testOpenRange},
		{"NotExist", testNotExist},
		{"List", testList},
		{"DeleteRename", testDeleteRename},
		{"DeletePrefix", testDeletePrefix},
		{"Pending", testPending},
		{"AbortPending", testAbortPending},
		{"WriterAbort", testWriterAbort},
		{"AbortUploads", testAbortUploads},
		{"AbortUploadsIn", testAbortUploadsIn},
		{"ReplaceTree", testReplaceTree},
		{"Prune", testPrune},
		{"CreateExclusive", testCreateExclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := objstore.Join(f.Root, "x"); err != nil {
				t.Fatalf("fixture root %q: %v", f.Root, err)
			}
			tc.fn(t, f)
		})
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

func write(t *testing.T, s objstore.Store, name string, b []byte) {
	t.Helper()
	if err := objstore.WriteAll(context.Background(), s, name, b); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
}

// names returns the listed objects' names relative to root, slash-separated.
func names(infos []objstore.ObjectInfo, root string) []string {
	out := []string{}
	for _, o := range infos {
		rel, ok := objstore.Rel(root, o.Name)
		if !ok {
			rel = "outside the root: " + o.Name
		}
		out = append(out, rel)
	}
	return out
}

// list returns the names of the objects in the tree at rel (relative to the root).
func list(t *testing.T, f Fixture, rel string) []string {
	t.Helper()
	name := f.Root
	if rel != "" {
		name = f.at(rel)
	}
	got, err := f.Store.List(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return names(got, f.Root)
}

func noUploads(t *testing.T, f Fixture, when string) {
	t.Helper()
	if n := f.Uploads(t); n != 0 {
		t.Errorf("%d unfinished uploads left %s", n, when)
	}
}

// absent checks, on a store with directories, that the directory rel is gone.
func absent(t *testing.T, f Fixture, rel, when string) {
	t.Helper()
	if f.Dirs && !objstore.Absent(f.at(rel)) {
		t.Errorf("directory %s left %s", rel, when)
	}
}

func testWriteRead(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 1000},
		{"one_part_exactly", objstore.MinPartSize},
		{"multipart", 2*objstore.MinPartSize + 12345},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := randomBytes(c.size, uint64(c.size))
			name := f.at("rw/" + c.name)
			write(t, f.Store, name, want)
			got, err := objstore.ReadAll(ctx, f.Store, name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want %d identical bytes", len(got), len(want))
			}
			info, err := f.Store.Stat(ctx, name)
			if err != nil || info.Size != int64(c.size) || info.Name != name {
				t.Fatalf("Stat = %+v, %v; want size %d", info, err, c.size)
			}
		})
	}
	noUploads(t, f, "after writes")
}

// testCreateVisibleOnClose: a Create'd object appears whole when Close returns, replacing the
// previous one; until then readers see the previous object, or none.
func testCreateVisibleOnClose(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		previous bool
		size     int
	}{
		{"new_small", false, 100},
		{"new_multipart", false, objstore.MinPartSize + 10},
		{"replace_small", true, 100},
		{"replace_multipart", true, objstore.MinPartSize + 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := f.at("visible/" + c.name)
			if c.previous {
				write(t, f.Store, name, []byte("previous version"))
			}
			w, err := f.Store.Create(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			data := randomBytes(c.size, 9)
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			got, err := objstore.ReadAll(ctx, f.Store, name)
			switch {
			case c.previous && (err != nil || string(got) != "previous version"):
				t.Fatalf("before Close: %d bytes, %v; want the previous version", len(got), err)
			case !c.previous && !errors.Is(err, fs.ErrNotExist):
				t.Fatalf("before Close: %d bytes, %v; want fs.ErrNotExist", len(got), err)
			}
			want := []string{}
			if c.previous {
				want = []string{"visible/" + c.name}
			}
			if g := list(t, f, "visible/"+c.name); !reflect.DeepEqual(g, want) {
				t.Fatalf("before Close List = %q, want %q", g, want)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := objstore.ReadAll(ctx, f.Store, name); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after Close: %d bytes, %v; want %d", len(got), err, len(data))
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close again: %v; want nil", err)
			}
			if _, err := w.Write([]byte("x")); !errors.Is(err, objstore.ErrClosed) {
				t.Errorf("Write after Close: %v; want ErrClosed", err)
			}
		})
	}
	noUploads(t, f, "after Close")
}

func testOpenRange(t *testing.T, f Fixture) {
	const size = 1000
	ctx := context.Background()
	data := randomBytes(size, 7)
	name := f.at("range/obj")
	write(t, f.Store, name, data)
	for _, c := range []struct {
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
	} {
		t.Run(c.name, func(t *testing.T) {
			rc, err := f.Store.OpenRange(ctx, name, c.off, c.n)
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
	if _, err := f.Store.OpenRange(ctx, name, -1, 10); !errors.Is(err, objstore.ErrBadName) {
		t.Errorf("OpenRange at offset -1: %v; want ErrBadName", err)
	}
	if info, err := f.Store.Stat(ctx, name); err != nil || info.Size != size {
		t.Errorf("Stat = %+v, %v; want %d bytes", info, err, size)
	}
}

func testNotExist(t *testing.T, f Fixture) {
	ctx := context.Background()
	name := f.at("missing/key.csv")
	_, err := f.Store.Stat(ctx, name)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing/key.csv") {
		t.Errorf("Stat: %v; want fs.ErrNotExist naming the key", err)
	}
	for _, n := range []int64{-1, 10, 0} {
		if _, err := f.Store.OpenRange(ctx, name, 0, n); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing/key.csv") {
			t.Errorf("OpenRange(n=%d): %v; want fs.ErrNotExist naming the key", n, err)
		}
	}
	if _, err := objstore.ReadAll(ctx, f.Store, name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAll: %v; want fs.ErrNotExist", err)
	}
	if err := f.Store.Rename(ctx, name, f.at("elsewhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename: %v; want fs.ErrNotExist", err)
	}
	if err := f.Store.Delete(ctx, name); err != nil {
		t.Errorf("Delete of a missing object: %v; want nil", err)
	}
	if err := f.Store.DeletePrefix(ctx, f.at("missing")); err != nil {
		t.Errorf("DeletePrefix of a missing tree: %v; want nil", err)
	}
	if got, err := f.Store.List(ctx, f.at("missing")); err != nil || len(got) != 0 {
		t.Errorf("List of a missing tree = %v, %v; want nothing", got, err)
	}
	if got, err := f.Store.List(ctx, f.at("missing/*.csv")); err != nil || len(got) != 0 {
		t.Errorf("List of a glob under a missing tree = %v, %v; want nothing", got, err)
	}
	// A directory (local disk) or a prefix (S3) is not an object.
	write(t, f.Store, f.at("dir/obj"), []byte("x"))
	if _, err := f.Store.Stat(ctx, f.at("dir")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a tree: %v; want fs.ErrNotExist", err)
	}
}

func testList(t *testing.T, f Fixture) {
	ctx := context.Background()
	objects := []string{"in/a.csv", "in/b.json", "in/sub/c.csv", "in/sub/deep/d.csv", "inx/e.csv", "in.csv"}
	for i, o := range objects {
		write(t, f.Store, f.at(o), []byte(strings.Repeat("x", i)))
	}
	// A staged write is not an object yet, nor is an unfinished Create.
	pw, err := f.Store.CreatePending(ctx, f.at("in/pending.csv"))
	if err != nil {
		t.Fatal(err)
	}
	pw.Write([]byte("not yet"))
	p, err := pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Store.AbortPending(ctx, p)
	w, err := f.Store.Create(ctx, f.at("in/unfinished.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("not yet"))
	defer w.Abort()
	for _, c := range []struct {
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
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.Store.List(ctx, f.at(c.pattern))
			if err != nil {
				t.Fatal(err)
			}
			if g := names(got, f.Root); !reflect.DeepEqual(g, c.want) {
				t.Fatalf("List(%q) = %q, want %q", c.pattern, g, c.want)
			}
			for _, o := range got {
				if info, err := f.Store.Stat(ctx, o.Name); err != nil || info.Size != o.Size {
					t.Errorf("List gave %+v, Stat of its name gives %+v, %v", o, info, err)
				}
			}
		})
	}
	if _, err := f.Store.List(ctx, f.at("in/[")); !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("List of a bad pattern: %v; want ErrBadPattern", err)
	}
	t.Run("dot_names", func(t *testing.T) {
		for _, o := range []string{"dots/.hidden", "dots/.dir/x", "dots/visible"} {
			write(t, f.Store, f.at(o), []byte("x"))
		}
		want := []string{"dots/.dir/x", "dots/.hidden", "dots/visible"}
		if f.HidesDotNames {
			want = []string{"dots/visible"}
		}
		if g := list(t, f, "dots"); !reflect.DeepEqual(g, want) {
			t.Errorf("List(dots) = %q, want %q", g, want)
		}
		if err := f.Store.DeletePrefix(ctx, f.at("dots")); err != nil {
			t.Fatal(err)
		}
	})
}

func testDeleteRename(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, o := range []string{"t/a", "t/b/c", "t/b/d", "tt/e"} {
		write(t, f.Store, f.at(o), []byte(o))
	}
	if err := f.Store.Rename(ctx, f.at("t/a"), f.at("moved/a2")); err != nil {
		t.Fatal(err)
	}
	if got, err := objstore.ReadAll(ctx, f.Store, f.at("moved/a2")); err != nil || string(got) != "t/a" {
		t.Fatalf("after Rename: %q, %v", got, err)
	}
	if _, err := f.Store.Stat(ctx, f.at("t/a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Rename left its source: %v", err)
	}
	// Rename replaces.
	if err := f.Store.Rename(ctx, f.at("t/b/c"), f.at("moved/a2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := objstore.ReadAll(ctx, f.Store, f.at("moved/a2")); string(got) != "t/b/c" {
		t.Fatalf("Rename onto an object left %q", got)
	}
	if err := f.Store.Delete(ctx, f.at("moved/a2")); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.Delete(ctx, f.at("moved/a2")); err != nil {
		t.Fatalf("Delete again: %v; want nil", err)
	}
	if err := f.Store.DeletePrefix(ctx, f.at("t")); err != nil {
		t.Fatal(err)
	}
	if g := list(t, f, ""); !reflect.DeepEqual(g, []string{"tt/e"}) {
		t.Fatalf("after DeletePrefix(t): %q; want only tt/e", g)
	}
}

// testDeletePrefix: a tree is the object of that name and everything under it, never a
// sibling sharing its first letters.
func testDeletePrefix(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, o := range []string{"p/a", "p/b/c", "pq/d", "pq.txt", "q/p"} {
		write(t, f.Store, f.at(o), []byte(o))
	}
	if err := f.Store.DeletePrefix(ctx, f.at("p/")); err != nil {
		t.Fatal(err)
	}
	if g, want := list(t, f, ""), []string{"pq.txt", "pq/d", "q/p"}; !reflect.DeepEqual(g, want) {
		t.Fatalf("after DeletePrefix(p/): %q; want %q", g, want)
	}
	if err := f.Store.DeletePrefix(ctx, f.at("pq")); err != nil {
		t.Fatal(err)
	}
	if g, want := list(t, f, ""), []string{"pq.txt", "q/p"}; !reflect.DeepEqual(g, want) {
		t.Fatalf("after DeletePrefix(pq): %q; want %q", g, want)
	}
	bad := []string{"", "."} // the working directory
	if objstore.IsS3(f.Root) {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(f.Root, objstore.S3Scheme), "/")
		bad = []string{objstore.S3Scheme + bucket + "/"} // a whole bucket
	}
	for _, bad := range bad {
		if err := f.Store.DeletePrefix(ctx, bad); !errors.Is(err, objstore.ErrBadName) {
			t.Errorf("DeletePrefix(%q): %v; want ErrBadName", bad, err)
		}
	}
}

// testPending: a pending object is invisible until Complete, which publishes it whole,
// replacing the previous version, and is idempotent; the record survives JSON.
func testPending(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		size int
	}{{"empty", 0}, {"small", 4096}, {"multipart", objstore.MinPartSize + 1}} {
		t.Run(c.name, func(t *testing.T) {
			data := randomBytes(c.size, 3)
			name := f.at("lake/" + c.name + "/part-00000.parquet")
			write(t, f.Store, name, []byte("previous version"))
			pw, err := f.Store.CreatePending(ctx, name)
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
			if p.Name != name || p.Size != int64(c.size) {
				t.Errorf("Pending = %s, %d bytes; want %s, %d", p.Name, p.Size, name, c.size)
			}
			if got, _ := objstore.ReadAll(ctx, f.Store, name); string(got) != "previous version" {
				t.Fatalf("a pending object is visible before Complete")
			}
			if g, want := list(t, f, "lake/"+c.name), []string{"lake/" + c.name + "/part-00000.parquet"}; !reflect.DeepEqual(g, want) {
				t.Fatalf("List before Complete = %q, want %q", g, want)
			}
			// The record travels through a JSON manifest to the committer.
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var back objstore.Pending
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if err := f.Store.Complete(ctx, back); err != nil {
				t.Fatal(err)
			}
			if !f.NoRepeatComplete {
				if err := f.Store.Complete(ctx, back); err != nil {
					t.Fatalf("Complete again: %v; want nil (idempotent)", err)
				}
			}
			got, err := objstore.ReadAll(ctx, f.Store, name)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after Complete: %d bytes, %v; want %d", len(got), err, len(data))
			}
			// Aborting a completed object leaves it.
			if err := f.Store.AbortPending(ctx, back); err != nil {
				t.Fatalf("AbortPending after Complete: %v; want nil", err)
			}
			if got, _ := objstore.ReadAll(ctx, f.Store, name); !bytes.Equal(got, data) {
				t.Fatal("AbortPending after Complete changed the object")
			}
			noUploads(t, f, "after Complete")
		})
	}
	t.Run("bad_record", func(t *testing.T) {
		if err := f.Store.Complete(ctx, objstore.Pending{Name: f.at("lake/forged"), Size: 10}); !errors.Is(err, objstore.ErrBadPending) {
			t.Errorf("Complete of a record naming no upload: %v; want ErrBadPending", err)
		}
	})
	t.Run("closed_writer", func(t *testing.T) {
		pw, err := f.Store.CreatePending(ctx, f.at("lake/closed"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := pw.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Store.AbortPending(ctx, p)
		if _, err := pw.Write([]byte("x")); !errors.Is(err, objstore.ErrClosed) {
			t.Errorf("Write after Close: %v; want ErrClosed", err)
		}
		if _, err := pw.Close(); !errors.Is(err, objstore.ErrClosed) {
			t.Errorf("Close again: %v; want ErrClosed", err)
		}
		if err := pw.Abort(); err != nil {
			t.Errorf("Abort after Close: %v; want nil", err)
		}
	})
}

func testAbortPending(t *testing.T, f Fixture) {
	ctx := context.Background()
	name := f.at("lake/aborted/deep/part-00000.parquet")
	pw, err := f.Store.CreatePending(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(randomBytes(objstore.MinPartSize+10, 1))
	p, err := pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // AbortPending is idempotent
		if err := f.Store.AbortPending(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Store.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("aborted object exists: %v", err)
	}
	if err := f.Store.Complete(ctx, p); err == nil {
		t.Error("Complete of an aborted upload succeeded")
	}
	noUploads(t, f, "after AbortPending")
	absent(t, f, "lake", "by the aborted write that made it")
}

func testWriterAbort(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		pending bool
	}{{"create", false}, {"create_pending", true}} {
		t.Run(c.name, func(t *testing.T) {
			name := f.at(c.name + "/sub/obj")
			var w interface {
				io.Writer
				Abort() error
			}
			var err error
			if c.pending {
				w, err = f.Store.CreatePending(ctx, name)
			} else {
				w, err = f.Store.Create(ctx, name)
			}
			if err != nil {
				t.Fatal(err)
			}
			w.Write(randomBytes(objstore.MinPartSize+10, 1)) // one part uploaded
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort again: %v; want nil", err)
			}
			if _, err := w.Write([]byte("x")); !errors.Is(err, objstore.ErrClosed) {
				t.Errorf("Write after Abort: %v; want ErrClosed", err)
			}
			if cw, ok := w.(objstore.Writer); ok {
				if err := cw.Close(); err != nil {
					t.Errorf("Close after Abort: %v; want nil", err)
				}
			}
			if _, err := f.Store.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("aborted object exists: %v", err)
			}
			noUploads(t, f, "after Abort")
			absent(t, f, c.name, "by the aborted write that made it")
		})
	}
}

// testAbortUploads: the crash-recovery sweep discards writers abandoned without Close or
// Abort, in the tree at its prefix only, and only those started before its cutoff.
func testAbortUploads(t *testing.T, f Fixture) {
	ctx := context.Background()
	write(t, f.Store, f.at("lake/crash/kept"), []byte("a finished object"))
	for i, name := range []string{"lake/crash/a", "lake/crash/sub/b", "lakeside/c"} {
		pw, err := f.Store.CreatePending(ctx, f.at(name))
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(randomBytes(objstore.MinPartSize, uint64(i)))
	}
	if n, err := f.Store.AbortUploads(ctx, f.at("lake/crash"), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("AbortUploads of uploads younger than its cutoff = %d, %v; want 0", n, err)
	}
	n, err := f.Store.AbortUploads(ctx, f.at("lake/crash"), time.Time{})
	if err != nil || n != 2 {
		t.Fatalf("AbortUploads = %d, %v; want 2", n, err)
	}
	if n, _ := f.Store.AbortUploads(ctx, f.at("lakeside"), time.Time{}); n != 1 {
		t.Fatalf("AbortUploads(lakeside) = %d; want 1", n)
	}
	noUploads(t, f, "after the sweep")
	if g := list(t, f, ""); !reflect.DeepEqual(g, []string{"lake/crash/kept"}) {
		t.Errorf("after the sweep the root holds %q; want only the finished object", g)
	}
	absent(t, f, "lake/crash/sub", "by the sweep that emptied it")
}

// testAbortUploadsIn: the sweep of several trees at once discards the abandoned writers in
// those trees, their sub-trees included, and in no other, as AbortUploads of each would.
func testAbortUploadsIn(t *testing.T, f Fixture) {
	ctx := context.Background()
	for i, name := range []string{"lake/a/x", "lake/b/sub/y", "lake/c/z", "lake/bb/w"} {
		pw, err := f.Store.CreatePending(ctx, f.at(name))
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(randomBytes(objstore.MinPartSize, uint64(i)))
	}
	trees := []string{f.at("lake/a/"), f.at("lake/b")}
	if n, err := f.Store.AbortUploadsIn(ctx, trees, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("AbortUploadsIn of uploads younger than its cutoff = %d, %v; want 0", n, err)
	}
	if n, err := f.Store.AbortUploadsIn(ctx, trees, time.Time{}); err != nil || n != 2 {
		t.Fatalf("AbortUploadsIn = %d, %v; want 2", n, err)
	}
	if n, err := f.Store.AbortUploadsIn(ctx, nil, time.Time{}); err != nil || n != 0 {
		t.Fatalf("AbortUploadsIn of no trees = %d, %v; want 0", n, err)
	}
	for _, tree := range []string{"lake/c", "lake/bb"} {
		if n, err := f.Store.AbortUploads(ctx, f.at(tree), time.Time{}); err != nil || n != 1 {
			t.Fatalf("AbortUploads(%s) after AbortUploadsIn = %d, %v; want its 1 upload left", tree, n, err)
		}
	}
	noUploads(t, f, "after the sweeps")
}

// testReplaceTree: the tree at a prefix ends up holding exactly the objects moved into it.
func testReplaceTree(t *testing.T, f Fixture) {
	ctx := context.Background()
	for _, o := range []string{"rej/job/part-m-00000.jsonl", "rej/job/old/stale", "rej/jobx/keep", "tmp/m-1/rejects.jsonl", "tmp/m-2/rejects.jsonl"} {
		write(t, f.Store, f.at(o), []byte(o))
	}
	moves := []objstore.Move{
		{From: f.at("tmp/m-1/rejects.jsonl"), To: f.at("rej/job/part-m-00001.jsonl")},
		{From: f.at("tmp/m-2/rejects.jsonl"), To: f.at("rej/job/part-m-00002.jsonl")},
	}
	if err := f.Store.ReplaceTree(ctx, f.at("rej/job"), moves); err != nil {
		t.Fatal(err)
	}
	want := []string{"rej/job/part-m-00001.jsonl", "rej/job/part-m-00002.jsonl", "rej/jobx/keep"}
	if g := list(t, f, ""); !reflect.DeepEqual(g, want) {
		t.Fatalf("after ReplaceTree the root holds %q; want %q", g, want)
	}
	if got, _ := objstore.ReadAll(ctx, f.Store, f.at("rej/job/part-m-00002.jsonl")); string(got) != "tmp/m-2/rejects.jsonl" {
		t.Errorf("moved object holds %q", got)
	}
	// A tree that does not exist yet, and an empty set of moves, which empties the tree.
	write(t, f.Store, f.at("tmp/m-3/rejects.jsonl"), []byte("3"))
	if err := f.Store.ReplaceTree(ctx, f.at("fresh/job"), []objstore.Move{{From: f.at("tmp/m-3/rejects.jsonl"), To: f.at("fresh/job/part-m-00003.jsonl")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.ReplaceTree(ctx, f.at("rej/job"), nil); err != nil {
		t.Fatal(err)
	}
	want = []string{"fresh/job/part-m-00003.jsonl", "rej/jobx/keep"}
	if g := list(t, f, ""); !reflect.DeepEqual(g, want) {
		t.Fatalf("after two more ReplaceTrees the root holds %q; want %q", g, want)
	}
	// A move whose destination is outside the tree is refused before anything changes.
	write(t, f.Store, f.at("tmp/m-4/rejects.jsonl"), []byte("4"))
	for _, to := range []string{f.at("rej/jobx/part"), f.at("fresh/job")} {
		err := f.Store.ReplaceTree(ctx, f.at("fresh/job"), []objstore.Move{{From: f.at("tmp/m-4/rejects.jsonl"), To: to}})
		if !errors.Is(err, objstore.ErrBadName) {
			t.Errorf("ReplaceTree moving to %s: %v; want ErrBadName", to, err)
		}
	}
	want = []string{"fresh/job/part-m-00003.jsonl", "rej/jobx/keep", "tmp/m-4/rejects.jsonl"}
	if g := list(t, f, ""); !reflect.DeepEqual(g, want) {
		t.Fatalf("a refused ReplaceTree changed the root: %q; want %q", g, want)
	}
}

// testPrune: Prune never removes an object, and on a store with directories removes the
// empty ones from a name up to its root.
func testPrune(t *testing.T, f Fixture) {
	ctx := context.Background()
	write(t, f.Store, f.at("a/keep"), []byte("keep"))
	write(t, f.Store, f.at("a/b/c/x"), []byte("x"))
	if err := f.Store.Delete(ctx, f.at("a/b/c/x")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{f.at("a/b/c/x"), f.at("a/keep"), f.at("a"), f.Root, "elsewhere"} {
		if err := f.Store.Prune(ctx, f.at("a"), name); err != nil {
			t.Fatalf("Prune(%s): %v", name, err)
		}
	}
	if g := list(t, f, ""); !reflect.DeepEqual(g, []string{"a/keep"}) {
		t.Fatalf("after Prune the root holds %q; want only a/keep", g)
	}
	absent(t, f, "a/b", "by Prune")
	if f.Dirs && objstore.Absent(f.at("a")) {
		t.Error("Prune removed its root")
	}
}

func testCreateExclusive(t *testing.T, f Fixture) {
	if f.NoConditionalPut {
		t.Skip("the server ignores If-None-Match")
	}
	ctx := context.Background()
	name := f.at("claims/lock.json")
	if err := f.Store.CreateExclusive(ctx, name, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.CreateExclusive(ctx, name, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want fs.ErrExist", err)
	}
	if b, err := objstore.ReadAll(ctx, f.Store, name); err != nil || string(b) != "first" {
		t.Fatalf("object holds %q (%v), want the first writer's", b, err)
	}
	if err := f.Store.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.CreateExclusive(ctx, name, []byte("third")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	if g := list(t, f, ""); !reflect.DeepEqual(g, []string{"claims/lock.json"}) {
		t.Errorf("the root holds %q; want only the claim", g)
	}
}
