// Package mapinput opens the input of a map task — the byte range of its file, or a gzip
// file's decompressed data from its first data byte — and detects the dialects of its
// schema's "auto" time fields from the file's first values.
//
// The planner (package coordinator) and the worker both read a task's input with it, so that
// the dialects the planner detects once per file and puts in every task are the ones a
// worker would detect from the same bytes when a task carries none.
//
// It also keeps a task to the file its plan saw. A task carries the file's size and
// modification time as the plan listed them (task.Map.Seen); Open checks them first, and
// fails with ErrInputChanged, fatally, when the file is no longer that one. A file that
// changes while a task reads it is caught where it shows: a read that ends before the
// bytes the plan promised fails the same way, and no read goes past the planned size, so
// data appended meanwhile is never taken for records. A rewrite that keeps the size and
// lands while a task reads (after its check) is not seen by that task; every task opened
// after it fails.
package mapinput

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// ErrInputChanged reports an input file that is not the one the plan saw: resized,
// modified, deleted, or ending before the split that was cut from it. It comes wrapped in
// task.Fatal with the file's name and what changed: no retry reads the planned file again,
// and a job that went on would commit part of the file as if it were all of it.
var ErrInputChanged = errors.New("input changed since the plan")

// Open opens the byte range of t's file from off to the end of the task's split, plus
// room for the split's last record to run past End (a plain CSV file); a SODA JSON or gzip
// file is opened from off to its end. It first checks the file against t.Seen (Check); the
// stream it returns fails with ErrInputChanged if the file ends before the range's planned
// end, and stops at the planned size.
func Open(ctx context.Context, store objstore.Store, t task.Map, off int64) (io.ReadCloser, error) {
	return open(ctx, store, t, off, true)
}

// open is Open; a stream that need not reach the end of its range (a detection sample,
// whose range may run past the file's end) passes whole=false.
func open(ctx context.Context, store objstore.Store, t task.Map, off int64, whole bool) (io.ReadCloser, error) {
	if err := Check(ctx, store, t); err != nil {
		return nil, err
	}
	n := int64(-1)
	if t.Format == jobs.FormatCSV && !t.Gzip {
		n = t.End - off + csvsplit.DefaultMaxRecordBytes + 2
	}
	// need is where the stream must end: the range's end, cut at the planned size.
	need := int64(-1)
	if t.Seen != nil {
		if n < 0 || off+n > t.Seen.Size {
			n = max(t.Seen.Size-off, 0)
		}
		need = off + n
	} else if t.Format == jobs.FormatCSV && !t.Gzip || t.Format == jobs.FormatSODAJSON {
		need = t.End // a task from an older plan: its split, at least, was in the file
	}
	src, err := store.OpenRange(ctx, t.File, off, n)
	if err != nil {
		return nil, err
	}
	if !whole || need <= off {
		return src, nil
	}
	return &sizedReader{ReadCloser: src, file: t.File, off: off, need: need}, nil
}

// OpenGzipData opens t's gzip-compressed file positioned at its first data byte (offsets
// are in the decompressed stream). It checks the file as Open does; the compressed
// stream must reach the planned size.
func OpenGzipData(ctx context.Context, store objstore.Store, t task.Map) (io.ReadCloser, error) {
	if err := Check(ctx, store, t); err != nil {
		return nil, err
	}
	n := int64(-1)
	if t.Seen != nil {
		n = t.Seen.Size
	}
	f, err := store.OpenRange(ctx, t.File, 0, n)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		f = &sizedReader{ReadCloser: f, file: t.File, need: n}
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		if errors.Is(err, ErrInputChanged) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", t.File, err)
	}
	if _, err := io.CopyN(io.Discard, zr, t.DataStart); err != nil {
		f.Close()
		if errors.Is(err, ErrInputChanged) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: skip header: %w", t.File, err)
	}
	return readCloser{zr, f.Close}, nil
}

// Check reports, as a fatal error wrapping ErrInputChanged, whether t's file is no longer
// the one its plan saw (t.Seen): another size, another modification time, or gone. A task
// without Seen (planned by an older release) passes. Modification times are compared at
// the coarser precision of the two: an S3 listing gives milliseconds where a HEAD gives
// whole seconds.
func Check(ctx context.Context, store objstore.Store, t task.Map) error {
	if t.Seen == nil {
		return nil
	}
	fi, err := store.Stat(ctx, t.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return task.Fatal(fmt.Errorf("%s: %w: the file is gone", t.File, ErrInputChanged))
	case err != nil:
		return err // retryable: the store did not answer
	case fi.Size != t.Seen.Size:
		return task.Fatal(fmt.Errorf("%s: %w: size %d → %d", t.File, ErrInputChanged, t.Seen.Size, fi.Size))
	case !sameTime(fi.ModTime, t.Seen.ModTime):
		return task.Fatal(fmt.Errorf("%s: %w: modified %s → %s", t.File, ErrInputChanged,
			t.Seen.ModTime.UTC().Format(time.RFC3339Nano), fi.ModTime.UTC().Format(time.RFC3339Nano)))
	}
	return nil
}

// sameTime compares two modification times at the coarser precision of the two: a time
// with no fraction of a second is taken to be known to the second only.
func sameTime(a, b time.Time) bool {
	if a.Nanosecond() == 0 || b.Nanosecond() == 0 {
		a, b = a.Truncate(time.Second), b.Truncate(time.Second)
	}
	return a.Equal(b)
}

// sizedReader is a stream of a file from byte off that must reach byte need: an end of
// file before it means that the file shrank since the plan, and is ErrInputChanged rather
// than the end of a shorter split.
type sizedReader struct {
	io.ReadCloser
	file      string
	off, need int64 // off: the file offset of the next byte read
}

func (r *sizedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.off += int64(n)
	if err == io.EOF && r.off < r.need {
		return n, task.Fatal(fmt.Errorf("%s: %w: it ends at byte %d, the plan read it to byte %d", r.file, ErrInputChanged, r.off, r.need))
	}
	return n, err
}

// readCloser closes a decompressor's underlying stream.
type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
