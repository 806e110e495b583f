package objstore

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSweepTreesLocal checks that local disk's one-walk sweep leaves a tree as List, Delete
// and AbortUploads leave it (sweepGeneric): kept and stale objects, staged files before and
// after the cut-off, hidden directories, nested directories the sweep empties, a file and a
// missing tree as the prefix.
func TestSweepTreesLocal(t *testing.T) {
	old := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name   string
		files  []string // relative to the root; a name containing ".pending-" is a staged file
		fresh  []string // staged files written after the cut-off
		dirs   []string // empty directories
		prefix string   // relative to the root
	}{
		{name: "kept and stale", files: []string{"g/part-0", "g/stale", "g/.part-0.pending-1"}, prefix: "g"},
		{name: "trailing slash", files: []string{"g/part-0", "g/stale"}, prefix: "g/"},
		{name: "only staged", files: []string{"g/x/.a.pending-1", "g/x/y/.b.pending-2"}, prefix: "g"},
		{name: "fresh staged stays", files: []string{"g/part-0"}, fresh: []string{"g/.c.pending-3"}, prefix: "g"},
		{name: "hidden directory", files: []string{"g/.h/stale", "g/.h/.d.pending-4", "g/.hidden"}, prefix: "g"},
		{name: "stale in subdirectory", files: []string{"g/sub/stale", "g/sub/.e.pending-5", "g/keep-me"}, prefix: "g"},
		{name: "empty directories stay", dirs: []string{"g/empty"}, files: []string{"g/part-0"}, prefix: "g"},
		{name: "prefix is a file", files: []string{"g/stale", "g/.stale.pending-6"}, prefix: "g/stale"},
		{name: "missing tree", files: []string{"h/part-0"}, prefix: "g"},
		{name: "sibling untouched", files: []string{"g/part-0", "gh/stale", "gh/.f.pending-7"}, prefix: "g"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast, slow := t.TempDir(), t.TempDir()
			for _, root := range []string{fast, slow} {
				for _, d := range tc.dirs {
					if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				for i, f := range append(slices.Clone(tc.files), tc.fresh...) {
					p := filepath.Join(root, f)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
						t.Fatal(err)
					}
					if i < len(tc.files) {
						if err := os.Chtimes(p, old, old); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			keep := func(name string) bool {
				base := filepath.Base(name)
				return strings.HasPrefix(base, "part-") || strings.HasPrefix(base, "keep-")
			}
			cut := time.Now().Add(-time.Minute)
			ctx := context.Background()
			l := &localStore{}
			var asked []string
			if err := SweepTrees(ctx, l, []string{filepath.Join(fast, tc.prefix)}, func(name string) bool {
				asked = append(asked, strings.TrimPrefix(name, fast))
				return keep(name)
			}, cut); err != nil {
				t.Fatal(err)
			}
			var askedSlow []string
			if err := l.sweepGeneric(ctx, filepath.Join(slow, tc.prefix), func(name string) bool {
				askedSlow = append(askedSlow, strings.TrimPrefix(name, slow))
				return keep(name)
			}, cut); err != nil {
				t.Fatal(err)
			}
			if got, want := tree(t, fast), tree(t, slow); !slices.Equal(got, want) {
				t.Errorf("one-walk sweep left %q, List and AbortUploads leave %q", got, want)
			}
			if !slices.Equal(asked, askedSlow) {
				t.Errorf("keep was asked about %q, want %q (List's names)", asked, askedSlow)
			}
		})
	}
}

// tree lists everything under root, directories with a trailing slash.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAbortUploadsOutsideLocal: local disk's AbortUploadsOutside does not enter the swept
// trees and sweeps the rest of the tree as AbortUploads does.
func TestAbortUploadsOutsideLocal(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a/m=1/.p.pending-1", "a/m=2/.p.pending-2", "a/m=2/part", "b/.q.pending-3"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := AbortUploadsOutside(context.Background(), r, root+"/", time.Now().Add(time.Minute), []string{filepath.Join(root, "a/m=1") + "/"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/", "a/m=1/", "a/m=1/.p.pending-1", "a/m=2/", "a/m=2/part"}
	if got := tree(t, root); n != 2 || !slices.Equal(got, want) {
		t.Errorf("aborted %d, left %q; want 2 aborted, %q left", n, got, want)
	}
}
