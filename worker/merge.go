package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// Merge mode (jobs.Spec.Merge) rebuilds a group from the job's newest version of each of its
// requests and the rows the lake already holds for it. The job's records arrive in request id
// order; the committed rows do not (each row group of a lake file is sorted by creation
// time). Matching them by a map of the whole group held the whole group — the committed one
// and the job's — in memory. groupMerge instead sorts one chunk at a time into runs on local
// disk (shuffle map output files of one segment, which sort by request id and then by
// version) and merges the runs: a reducer holds a chunk of the group, never the group, as in
// replace mode.
//
// Versions are told apart by Ord in the runs: 0 for a committed row, 1 for the job's record.
// The shuffle orders the versions of a request by updated_at and then Ord, so the last one
// is the one that stays: the job's, unless the lake's was updated later — the rule of a
// merge.
type groupMerge struct {
	dir  string // the runs' directory, private to this reduce attempt
	runs []shuffle.Location
	w    *shuffle.Writer  // reused for every run
	conv []record.Request // one committed chunk as records, reused
	// held is the largest number of records this merge has held in memory at once (the
	// job's pending records plus a committed chunk being sorted, or the groupWriter's
	// buffer): what TestMergeModeStreams checks.
	held int
}

// testHookMergeClosed, if set, is called with groupMerge.held when a reduce task's merges end.
var testHookMergeClosed func(held int)

// newGroupMerge starts the merges of reduce attempt dir's groups; dir is removed by close.
func newGroupMerge(dir string) (*groupMerge, error) {
	w, err := shuffle.NewWriter(1)
	if err != nil {
		return nil, err
	}
	return &groupMerge{dir: dir, w: w}, nil
}

// full reports whether the job's pending records of the group should be spilled.
func (m *groupMerge) full(pending int) bool { return pending >= chunkRows }

// note records that n records are held at once.
func (m *groupMerge) note(n int) { m.held = max(m.held, n) }

// spill writes reqs as one sorted run, marked as the job's (ord 1) or the lake's (ord 0).
func (m *groupMerge) spill(reqs []record.Request, ord uint64) error {
	m.w.Reset()
	for i := range reqs {
		r := &reqs[i]
		saved := r.Ord
		r.Ord = ord
		err := m.w.Add(r)
		r.Ord = saved
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(m.dir, "run-"+strconv.Itoa(len(m.runs)))
	if _, err := m.w.WriteFile(path); err != nil {
		return fmt.Errorf("merge run: %w", err)
	}
	m.runs = append(m.runs, shuffle.Location{Job: "merge", Map: len(m.runs), Path: path})
	m.w.Reset()
	return nil
}

// finish writes group k with gw (started on k): the job's records, spilled by the caller
// into runs and the rest in pending (request id order, one version of each), merged with
// the rows the lake at root holds for k. It counts the committed rows as carried, and each
// version that loses as a duplicate.
func (m *groupMerge) finish(ctx context.Context, store objstore.Store, root string, k record.Key, pending []record.Request, gw *groupWriter, res *task.ReduceResult) error {
	defer m.clean()
	err := lake.ReadGroupChunks(ctx, store, root, k, chunkRows, func(rows []lake.Row) error {
		m.conv = m.conv[:0]
		for i := range rows {
			m.conv = append(m.conv, lake.FromRow(k, &rows[i]))
		}
		m.note(len(pending) + len(m.conv))
		return m.spill(m.conv, 0)
	})
	if errors.Is(err, fs.ErrNotExist) && len(m.runs) == 0 {
		// A group the lake does not hold, and that fits in a chunk: nothing to merge.
		for i := range pending {
			if err := gw.add(&pending[i]); err != nil {
				return err
			}
		}
		m.note(len(pending) + len(gw.buf))
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the committed group to merge: %w", err)
	}
	if len(pending) > 0 {
		if err := m.spill(pending, 1); err != nil {
			return err
		}
	}
	in, err := shuffle.OpenInput(ctx, shuffle.LocalFetcher{}, m.runs, 0, shuffle.InputConfig{SpillDir: m.dir})
	if err != nil {
		return fmt.Errorf("merge runs: %w", err)
	}
	defer in.Close()
	var cur, next record.Request
	have := false
	emit := func() error {
		cur.Ord = 0
		return gw.add(&cur)
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		err := in.Next(&next)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("merge runs: %w", err)
		}
		if next.Ord == 0 {
			res.Carried++
		}
		if have && next.RequestID == cur.RequestID {
			// A later version of the same request: the one before it loses.
			res.Duplicates++
			cur = next
			continue
		}
		if have {
			if err := emit(); err != nil {
				return err
			}
		}
		cur, have = next, true
		m.note(len(gw.buf))
	}
	if have {
		return emit()
	}
	return nil
}

// clean removes the group's runs.
func (m *groupMerge) clean() {
	for _, r := range m.runs {
		os.Remove(r.Path)
	}
	m.runs = m.runs[:0]
}

// close removes the merge's directory.
func (m *groupMerge) close() {
	if testHookMergeClosed != nil {
		testHookMergeClosed(m.held)
	}
	os.RemoveAll(m.dir)
}
