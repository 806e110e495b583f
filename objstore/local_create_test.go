//go:build unix

package objstore

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLocalCreateMade checks what the local CreatePending, which opens first and makes only
// the missing directories, reports as made (the directories an abort may remove), the mode
// of the staged file, and that an abort leaves the tree as it found it.
func TestLocalCreateMade(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name     string
		existing string // a directory there before, relative to the root
		file     string // the object, relative to the root
		made     string // want Pending.Made, relative to the root, or ""
	}{
		{"directory there", "a/b/c", "a/b/c/part", ""},
		{"leaf missing", "a/b", "a/b/c/part", "a/b/c"},
		{"two levels missing", "a", "a/b/c/part", "a/b"},
		{"all missing", "", "a/b/c/part", "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.existing != "" {
				if err := os.MkdirAll(filepath.Join(root, tc.existing), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			l := &localStore{}
			name := filepath.Join(root, tc.file)
			pw, err := l.CreatePending(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pw.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			p, err := pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tc.made != "" {
				want = filepath.Join(root, tc.made)
			}
			if p.Made != want {
				t.Errorf("Made = %q, want %q", p.Made, want)
			}
			info, err := os.Stat(p.Temp)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o644 {
				t.Errorf("staged file mode %v, want 0644", info.Mode().Perm())
			}
			if err := l.AbortPending(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			var left []string
			filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
				if rel, _ := filepath.Rel(root, path); rel != "." {
					left = append(left, filepath.ToSlash(rel))
				}
				return nil
			})
			var before []string
			for d := tc.existing; d != "" && d != "."; d = filepath.Dir(d) {
				before = append([]string{d}, before...)
			}
			if len(left) != len(before) {
				t.Errorf("after the abort the root holds %q, want %q", left, before)
			}
		})
	}
}

// TestLocalCreateFileInTheWay checks that a file where a directory of the name should be
// fails the create and leaves nothing behind.
func TestLocalCreateFileInTheWay(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &localStore{}
	if _, err := l.CreatePending(context.Background(), filepath.Join(root, "a", "b", "part")); err == nil {
		t.Fatal("CreatePending under a file succeeded")
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("root holds %d entries, want the file alone", len(entries))
	}
}
