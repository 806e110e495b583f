// Package mapinput opens the input of a map task — the byte range of its file, or a gzip
// file's decompressed data from its first data byte — and detects the dialects of its
// schema's "auto" time fields from the file's first values.
//
// The planner (package coordinator) and the worker both read a task's input with it, so that
// the dialects the planner detects once per file and puts in every task are the ones a
// worker would detect from the same bytes when a task carries none.
package mapinput

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// Open opens the byte range of t's file from off to the end of the task's split, plus
// room for the split's last record to run past End (a plain CSV file); a SODA JSON or gzip
// file is opened from off to its end.
func Open(ctx context.Context, store objstore.Store, t task.Map, off int64) (io.ReadCloser, error) {
	n := int64(-1)
	if t.Format == jobs.FormatCSV && !t.Gzip {
		n = t.End - off + csvsplit.DefaultMaxRecordBytes + 2
	}
	return store.OpenRange(ctx, t.File, off, n)
}

// OpenGzipData opens t's gzip-compressed file positioned at its first data byte (offsets
// are in the decompressed stream).
func OpenGzipData(ctx context.Context, store objstore.Store, t task.Map) (io.ReadCloser, error) {
	f, err := store.OpenRange(ctx, t.File, 0, -1)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", t.File, err)
	}
	if _, err := io.CopyN(io.Discard, zr, t.DataStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: skip header: %w", t.File, err)
	}
	return readCloser{zr, f.Close}, nil
}

// readCloser closes a decompressor's underlying stream.
type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
