package lake

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/objstore"
)

// closeFailStore fails the Close of the pending upload to any name ending in fail, as a
// disk that cannot fsync would.
type closeFailStore struct {
	objstore.Store
	fail string
}

var errCloseFailed = errors.New("injected close failure")

func (s closeFailStore) CreatePending(ctx context.Context, name string) (objstore.PendingWriter, error) {
	pw, err := s.Store.CreatePending(ctx, name)
	if err != nil || !strings.HasSuffix(name, s.fail) {
		return pw, err
	}
	return failingClose{pw}, nil
}

type failingClose struct{ objstore.PendingWriter }

func (f failingClose) Close() (objstore.Pending, error) {
	f.PendingWriter.Abort()
	return objstore.Pending{}, errCloseFailed
}

// TestStageBackgroundClose checks what finishing uploads in the background must keep: the
// manifest lists every file in the order it was closed, a failed close fails Finish (not
// silently dropping the file) and Discard then leaves nothing staged.
func TestStageBackgroundClose(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "lake")
	names := []string{"a/part-00000.parquet", "b/part-00000.parquet", "c/part-00000.parquet", "d/part-00000.parquet"}
	for _, tc := range []struct {
		name string
		fail string // the file whose close fails, "" for none
	}{
		{"all closes succeed", ""},
		{"one close fails", "c/part-00000.parquet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := closeFailStore{Store: localStore(t), fail: "\x00"}
			if tc.fail != "" {
				store.fail = tc.fail
			}
			st, err := NewStage(store, root, "job-1", "r-0", 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if _, err := st.Put(ctx, n, []byte(n)); err != nil {
					t.Fatalf("Put %s = %v; a close's error belongs to Finish", n, err)
				}
			}
			err = st.Finish(ctx)
			if tc.fail == "" {
				if err != nil {
					t.Fatal(err)
				}
				files, err := readStage(ctx, store, st.Dir())
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, f := range files {
					if f.Pending == nil {
						t.Errorf("manifest lists %s without its upload", f.Path)
					}
					got = append(got, f.Path)
				}
				if strings.Join(got, " ") != strings.Join(names, " ") {
					t.Errorf("manifest lists %v, want %v in the order closed", got, names)
				}
			} else if !errors.Is(err, errCloseFailed) || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("Finish = %v, want the failed close of %s", err, tc.fail)
			}
			if err := st.Discard(ctx); err != nil {
				t.Fatal(err)
			}
			var left []string
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			if len(left) > 0 {
				t.Errorf("Discard left %v", left)
			}
		})
	}
}
