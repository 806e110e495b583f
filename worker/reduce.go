package worker

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/summary"
	"github.com/ireports/ireports/task"
)

// cityZones maps each city of the job to its time zone.
func cityZones(spec *jobs.Spec) map[string]*time.Location {
	z := map[string]*time.Location{}
	for _, in := range spec.Inputs {
		z[in.Schema.City] = in.Schema.Location
	}
	return z
}

// RunReduce executes reduce task t of the job described by spec.
func RunReduce(ctx context.Context, spec *jobs.Spec, env Env, t task.Reduce) (task.ReduceResult, error) {
	res := task.ReduceResult{Index: t.Index, Attempt: t.Attempt}
	stage, sums, err := reduceStages(env.Store, spec, t.Job, t.Index, t.Attempt)
	if err != nil {
		return res, task.Fatal(fmt.Errorf("%s: %w", t, err))
	}
	res.Dir, res.SummaryDir = stage.Dir(), sums.Dir()
	res, err = reduce(ctx, spec, env, t, stage, sums, res)
	if err == nil {
		err = errors.Join(stage.Finish(ctx), sums.Finish(ctx))
	}
	if err != nil {
		// Uploads of a failed attempt would linger in S3 until the job's end; drop them now.
		stage.Discard(context.WithoutCancel(ctx))
		sums.Discard(context.WithoutCancel(ctx))
	}
	return res, err
}

// reduceStages returns the stages of attempt `attempt` of reduce task `index` of job run
// `job`: of the lake and of the summaries root.
func reduceStages(store objstore.Store, spec *jobs.Spec, job string, index, attempt int) (stage, sums *lake.Stage, err error) {
	name := fmt.Sprintf("r-%d", index)
	if stage, err = lake.NewStage(store, spec.Output.Parquet, job, name, attempt); err != nil {
		return nil, nil, err
	}
	if sums, err = lake.NewStage(store, spec.Output.Summaries, job, name, attempt); err != nil {
		return nil, nil, err
	}
	return stage, sums, nil
}

func reduce(ctx context.Context, spec *jobs.Spec, env Env, t task.Reduce, stage, sums *lake.Stage, res task.ReduceResult) (task.ReduceResult, error) {
	zones := cityZones(spec)

	spill := ""
	if env.DataDir != "" {
		spill = filepath.Join(env.DataDir, t.Job)
		if err := os.MkdirAll(spill, 0o755); err != nil {
			return res, fmt.Errorf("%s: %w", t, err)
		}
	}
	merged, err := shuffle.OpenInput(ctx, env.Fetcher, t.MapOutput, t.Index, shuffle.InputConfig{SpillDir: spill})
	if err != nil {
		return res, reduceInputErr(ctx, t, err)
	}
	defer merged.Close()

	var (
		key   record.Key
		r     record.Request
		gw    *groupWriter     // the group being written, nil between groups
		group []record.Request // the job's records of the group not yet spilled (merge mode)
		merge *groupMerge      // merge mode
		// every group is written by this one writer, which keeps its buffers
		writer = &groupWriter{}
	)
	defer func() {
		if gw != nil {
			gw.abort()
		}
	}()
	if spec.Merge {
		dir := spill
		if dir == "" {
			dir = os.TempDir()
		}
		dir, err := os.MkdirTemp(dir, fmt.Sprintf("merge-r%d-*", t.Index))
		if err != nil {
			return res, fmt.Errorf("%s: %w", t, err)
		}
		if merge, err = newGroupMerge(dir); err != nil {
			return res, fmt.Errorf("%s: %w", t, err)
		}
		defer merge.close()
	}
	// finish ends the current group.
	finish := func() error {
		if spec.Merge && (len(group) > 0 || len(merge.runs) > 0) {
			if err := writer.start(ctx, stage, sums, key, zones[key.City]); err != nil {
				return fmt.Errorf("%s: group %s: %w", t, key, err)
			}
			gw = writer
			if err := merge.finish(ctx, env.Store, spec.Output.Parquet, key, group, gw, &res); err != nil {
				return fmt.Errorf("%s: group %s: %w", t, key, err)
			}
			group = group[:0]
		}
		if gw == nil {
			return nil
		}
		g, err := gw.close(ctx)
		gw = nil
		if err != nil {
			return fmt.Errorf("%s: group %s: %w", t, key, err)
		}
		res.Groups = append(res.Groups, g)
		res.RecordsOut += g.Rows
		return nil
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		err := merged.Next(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, reduceInputErr(ctx, t, err)
		}
		res.RecordsIn++
		if k := r.Key(); n == 0 || k != key { // the first record, or a new group
			if err := finish(); err != nil {
				return res, err
			}
			key = k
			if zones[key.City] == nil {
				return res, task.Fatal(fmt.Errorf("%s: group %s: city not in the job's schemas", t, key))
			}
			if !spec.Merge {
				if err := writer.start(ctx, stage, sums, key, zones[key.City]); err != nil {
					return res, fmt.Errorf("%s: group %s: %w", t, key, err)
				}
				gw = writer
			}
		}
		if spec.Merge {
			// Versions of a request arrive adjacent and oldest first (the shuffle sorts by
			// key, request id, updated_at, ord), so the newest replaces the one before it.
			last := len(group) - 1
			if last >= 0 && group[last].RequestID == r.RequestID {
				group[last] = r
				res.Duplicates++
				continue
			}
			if merge.full(len(group)) {
				// Spill all but the last record, which a later version may still replace.
				if err := merge.spill(group[:last], 1); err != nil {
					return res, fmt.Errorf("%s: group %s: %w", t, key, err)
				}
				group[0] = group[last]
				clear(group[1:])
				group = group[:1]
			}
			group = append(group, r)
			merge.note(len(group))
			continue
		}
		if gw.replaceLast(&r) {
			res.Duplicates++
			continue
		}
		if err := gw.add(&r); err != nil {
			return res, fmt.Errorf("%s: group %s: %w", t, key, err)
		}
	}
	if err := finish(); err != nil {
		return res, err
	}
	return res, nil
}

// reduceInputErr classifies an error of reading the reduce input (the classes of package
// shuffle's doc). A worker that refuses this one's token, speaks another shuffle protocol or
// shows a certificate this one does not trust fails the job at once (task.Fatal): the
// cluster is misconfigured, and re-running map tasks would only hide that behind four rounds
// of retries. So does a plan that names a map output or a segment that cannot exist
// (shuffle.ErrBadName, ErrReducers): a re-run would name it again. A fault of one map output
// (unreachable, missing, truncated, corrupt, or of another format version: left by another
// release of its worker) becomes a task.LostError naming it, so that the coordinator re-runs
// that map task; anything else (cancellation, a full local disk, running out of file
// descriptors) is this attempt's own failure.
func reduceInputErr(ctx context.Context, t task.Reduce, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se *shuffle.SegmentError
	if errors.As(err, &se) {
		if why := peerMisconfigured(se.Loc.Worker, err); why != "" {
			return task.Fatal(fmt.Errorf("%s: map output %d: %s: %w", t, se.Loc.Map, why, err))
		}
		if errors.Is(err, shuffle.ErrBadName) || errors.Is(err, shuffle.ErrReducers) {
			return task.Fatal(fmt.Errorf("%s: map output %d: the job's plan names a segment that cannot exist (a coordinator bug: re-running cannot help): %w", t, se.Loc.Map, err))
		}
		if !isLocalResourceErr(err) {
			return fmt.Errorf("%s: %w", t, &task.LostError{Map: se.Loc.Map, Err: err})
		}
	}
	return fmt.Errorf("%s: read input: %w", t, err)
}

// peerMisconfigured says what is wrong when err shows that the worker at addr and this one
// disagree on the cluster's settings, or "" when it does not.
func peerMisconfigured(addr string, err error) string {
	switch {
	case errors.Is(err, shuffle.ErrUnauthorized):
		return fmt.Sprintf("worker %s refused the cluster token (401): check --token-file on every node", addr)
	case errors.Is(err, shuffle.ErrProtocol):
		return fmt.Sprintf("worker %s speaks another shuffle protocol: run one release on every worker", addr)
	case errors.Is(err, shuffle.ErrUntrusted):
		return fmt.Sprintf("this worker does not trust the TLS certificate of worker %s: check --tls-ca on every node", addr)
	}
	return ""
}

// isLocalResourceErr reports whether err is this process running out of a local resource
// rather than a fault of the remote side.
func isLocalResourceErr(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOSPC)
}

// groupWriter writes one group as its records arrive, so that a reducer never holds a whole
// group: records are kept in chunks of chunkRows (lake.RowGroupRows); each full chunk is sorted by
// creation time and written as one row group of the group's Parquet file, and counted into
// the summaries. A group of up to RowGroupRows requests is thus one row group sorted by
// creation time; a larger one is several, each sorted.
//
// A reducer keeps one groupWriter for all its groups (start begins the next): its buffers
// grow to the largest chunk once and are reused, where a writer per group grew them from
// empty for every group — a quarter of the job's CPU went to growslice, memmove and memclr.
type groupWriter struct {
	sums *lake.Stage // the attempt's stage of the summaries root
	g    task.Group
	sw   *lake.StageWriter
	// bw buffers the Parquet writer's output to sw; it is the reducer's one buffer, where
	// each Parquet writer allocated its own.
	bw *bufio.Writer
	// pw is taken from lake's pool when the group's first chunk is written (nil before): a
	// group that is one chunk is then known whole, and its writer's buffers sized to it
	// (lake.PageBufferFor). It goes back to the pool when the group's file is closed.
	pw    *lake.Writer[lake.Row]
	sum   *summary.Builder
	buf   []record.Request
	order []chunkKey
	batch lake.RowBatch
}

// chunkRows is the records a reducer holds of a group at once: a chunk of the job's records
// (a row group of the group's file) or of a committed group being merged. Tests make it
// small.
var chunkRows = lake.RowGroupRows

// chunkKey sorts a chunk by creation time without moving its records (a few hundred bytes
// each) and without decoding time.Time in every comparison.
type chunkKey struct {
	sec  int64
	nsec int32
	i    int32 // index into the chunk
}

// writeBuffer is the size of a reducer's write buffer in front of its groups' Parquet files.
const writeBuffer = 64 << 10

// writeBatch is how many rows go to the Parquet writer in one call: the rows converted for
// it are reused, so a chunk never exists twice in full.
const writeBatch = 4096

func newGroupWriter(ctx context.Context, stage, sums *lake.Stage, k record.Key, loc *time.Location) (*groupWriter, error) {
	w := &groupWriter{}
	if err := w.start(ctx, stage, sums, k, loc); err != nil {
		return nil, err
	}
	return w, nil
}

// start begins group k, keeping the buffers of the groups before it. The previous group
// must have been closed or aborted.
func (w *groupWriter) start(ctx context.Context, stage, sums *lake.Stage, k record.Key, loc *time.Location) error {
	sw, err := stage.Create(ctx, filepath.Join(lake.GroupPath(k), lake.PartFile(0)))
	if err != nil {
		return err
	}
	w.sums, w.sw = sums, sw
	w.g = task.Group{City: k.City, Year: k.Year, Month: k.Month}
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(sw, writeBuffer)
	}
	w.bw.Reset(sw)
	w.pw = nil
	w.sum = summary.NewBuilder(k, loc)
	w.buf = w.buf[:0]
	return nil
}

// replaceLast replaces the last record added with r if r is a newer version of it.
func (w *groupWriter) replaceLast(r *record.Request) bool {
	if last := len(w.buf) - 1; last >= 0 && w.buf[last].RequestID == r.RequestID {
		w.buf[last] = *r
		return true
	}
	return false
}

// add adds the next request of the group (newest version; a later version of it may still
// replace it with replaceLast).
func (w *groupWriter) add(r *record.Request) error {
	if len(w.buf) == chunkRows {
		if err := w.writeChunk(false); err != nil {
			return err
		}
		// End the row group with the chunk (with chunkRows = lake.RowGroupRows the writer
		// would end it at the next row anyway).
		if err := w.pw.Flush(); err != nil {
			return err
		}
	}
	if w.buf == nil {
		// The first group of a reducer: most groups are small, so grow from a modest
		// start; the buffer is kept for the groups after.
		w.buf = make([]record.Request, 0, 1024)
	}
	w.buf = append(w.buf, *r)
	return nil
}

// writeChunk writes the buffered requests, sorted by creation time, as one row group; last
// says they are the last of the group.
func (w *groupWriter) writeChunk(last bool) error {
	reqs := w.buf
	w.order = slices.Grow(w.order[:0], len(reqs))
	var strBytes int64
	for i := range reqs {
		r := &reqs[i]
		t := r.CreatedAt
		w.order = append(w.order, chunkKey{sec: t.Unix(), nsec: int32(t.Nanosecond()), i: int32(i)})
		w.sum.Add(r)
		strBytes += int64(lake.StringBytes(r))
	}
	if w.pw == nil {
		size := 0 // parquet-go's default
		if last { // the group is this chunk: size the writer's buffers to it
			size = lake.PageBufferFor(len(reqs), strBytes)
		}
		w.pw = lake.GetWriter[lake.Row](w.bw, size)
	}
	slices.SortFunc(w.order, func(a, b chunkKey) int {
		if a.sec != b.sec {
			return cmp.Compare(a.sec, b.sec)
		}
		if a.nsec != b.nsec {
			return cmp.Compare(a.nsec, b.nsec)
		}
		return strings.Compare(reqs[a.i].RequestID, reqs[b.i].RequestID)
	})
	for order := w.order; len(order) > 0; {
		n := min(len(order), writeBatch)
		w.batch.Reset(n)
		for _, k := range order[:n] {
			w.batch.Add(&reqs[k.i])
		}
		if _, err := w.pw.Write(w.batch.Rows()); err != nil {
			return err
		}
		order = order[n:]
	}
	w.batch.Reset(0)
	w.g.Rows += int64(len(reqs))
	w.buf = w.buf[:0]
	return nil
}

// close writes the rest, stages the group's Parquet file and its summary tables (into the
// summaries root's stage), and describes them.
func (w *groupWriter) close(ctx context.Context) (task.Group, error) {
	if err := w.writeChunk(true); err != nil {
		w.abort()
		return w.g, err
	}
	if err := w.pw.Close(); err != nil {
		w.abort()
		return w.g, err
	}
	w.pw.Release()
	w.pw = nil
	if err := w.bw.Flush(); err != nil {
		w.abort()
		return w.g, err
	}
	f, err := w.sw.Close()
	if err != nil {
		return w.g, err
	}
	files := func(fs ...lake.File) (out []task.File) {
		for _, f := range fs {
			out = append(out, task.File{Path: f.Path, Bytes: f.Bytes, SHA256: f.SHA256})
		}
		return out
	}
	w.g.Files = files(f)
	k, tables := record.Key{City: w.g.City, Year: w.g.Year, Month: w.g.Month}, w.sum.Tables()
	sf, err := lake.StageSummaries(ctx, w.sums, k, tables)
	if err != nil {
		return w.g, err
	}
	// The group's rows encoded for the PostgreSQL publish, which then sends them as they are
	// instead of reading the summary files back. A group Marshal refuses (rows the publish
	// would refuse or change) gets no publish file: the publish reads its summary files and
	// reports it.
	if data, err := pgcopy.Marshal(k, &tables); err == nil {
		pf, err := lake.StagePublishFile(ctx, w.sums, k, data)
		if err != nil {
			return w.g, err
		}
		sf = append(sf, pf)
	}
	w.g.SummaryFiles = files(sf...)
	return w.g, nil
}

// abort drops the group's unfinished Parquet file.
func (w *groupWriter) abort() { w.sw.Abort() }
