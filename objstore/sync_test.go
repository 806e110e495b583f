package objstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLocalSyncPending checks what SyncPending accepts on local disk: the staged files of
// closed pending writers, and nothing that is not one, so that a stage never records an
// upload it could not sync.
func TestLocalSyncPending(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mangle func(ps []Pending) []Pending // makes the records bad, or nil
		want   error                        // nil, or what the error wraps
	}{
		{"staged files", nil, nil},
		{"no files", func([]Pending) []Pending { return nil }, nil},
		{"staged file gone", func(ps []Pending) []Pending { os.Remove(ps[1].Temp); return ps }, fs.ErrNotExist},
		{"not a staged file", func(ps []Pending) []Pending { ps[0].Temp = ps[0].Name; return ps }, ErrBadPending},
		{"staged file of another name", func(ps []Pending) []Pending { ps[0].Temp = ps[1].Temp; return ps }, ErrBadPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			l := &localStore{}
			var ps []Pending
			for _, rel := range []string{"a/x/part", "a/y/part", "b/part"} {
				pw, err := l.CreatePending(ctx, filepath.Join(root, rel))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pw.Write([]byte(rel)); err != nil {
					t.Fatal(err)
				}
				p, err := pw.Close()
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			if tc.mangle != nil {
				ps = tc.mangle(ps)
			}
			err := l.SyncPending(ctx, ps)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("SyncPending = %v; want %v", err, tc.want)
			}
			if tc.want == nil {
				for _, p := range ps {
					if err := l.Complete(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestAbortUploadsInCrossStore: one sweep does not span local disk and S3, and says so
// before it touches either.
func TestAbortUploadsInCrossStore(t *testing.T) {
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.AbortUploadsIn(context.Background(), []string{filepath.Join(t.TempDir(), "lake"), "s3://bucket/lake"}, time.Time{})
	if !errors.Is(err, ErrCrossStore) {
		t.Fatalf("AbortUploadsIn of a local and an S3 tree = %v; want ErrCrossStore", err)
	}
}
