package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// ReadGroupChunks calls fn with the committed rows of group k of the lake at root, on local
// disk or S3, in file order and at most max rows at a time (a row group of the lake's files,
// RowGroupRows, when max <= 0), where ReadGroup returns the whole group: a merging reducer
// holds one chunk of a group, never the group. The rows passed to fn are valid only until fn
// returns. The group is found as ReadGroup finds it (today's directory, else the old layout's
// zero-padded one); a group the lake does not hold gives an error wrapping fs.ErrNotExist,
// before fn is called.
func ReadGroupChunks(ctx context.Context, store objstore.Store, root string, k record.Key, max int, fn func(rows []Row) error) error {
	if max <= 0 {
		max = RowGroupRows
	}
	name, err := objstore.Join(root, GroupPath(k), PartFile(0))
	if err != nil {
		return err
	}
	info, err := store.Stat(ctx, name)
	if errors.Is(err, fs.ErrNotExist) && paddedGroupPath(k) != GroupPath(k) {
		// paddedGroupPath escapes the city as GroupPath does, so this join cannot fail either.
		name, _ = objstore.Join(root, paddedGroupPath(k), PartFile(0))
		info, err = store.Stat(ctx, name)
	}
	if err != nil {
		return err
	}
	f, err := parquet.OpenFile(rangeReader(ctx, store, name), info.Size,
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	var buf []Row
	for i, rg := range f.RowGroups() {
		if n := int(min(rg.NumRows(), int64(max))); cap(buf) < n {
			buf = make([]Row, n)
		}
		r := parquet.NewGenericRowGroupReader[Row](rg)
		for {
			clear(buf) // the reader may fill pointers it finds set
			n, err := r.Read(buf[:cap(buf)])
			if n > 0 {
				if err := fn(buf[:n]); err != nil {
					r.Close()
					return err
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return fmt.Errorf("read %s: row group %d: %w", name, i, err)
			}
		}
		if err := r.Close(); err != nil {
			return fmt.Errorf("read %s: row group %d: %w", name, i, err)
		}
	}
	return nil
}

// readAtFunc is an io.ReaderAt.
type readAtFunc func(p []byte, off int64) (int, error)

func (f readAtFunc) ReadAt(p []byte, off int64) (int, error) { return f(p, off) }

// rangeReader reads object name of store at offsets, one ranged read per call, so that a
// Parquet file on S3 is read by its column chunks rather than downloaded whole.
func rangeReader(ctx context.Context, store objstore.Store, name string) io.ReaderAt {
	return readAtFunc(func(p []byte, off int64) (int, error) {
		rc, err := store.OpenRange(ctx, name, off, int64(len(p)))
		if err != nil {
			return 0, err
		}
		defer rc.Close()
		n, err := io.ReadFull(rc, p)
		if err == io.ErrUnexpectedEOF || (err == io.EOF && len(p) > 0) {
			err = io.EOF // a read past the end: io.ReaderAt's convention
		}
		return n, err
	})
}
