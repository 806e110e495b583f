package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
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
	stage := lake.NewStage(env.Store, spec.Output.Parquet, t.Job, fmt.Sprintf("r-%d", t.Index), t.Attempt)
	res.Dir = stage.Dir()
	res, err := reduce(ctx, spec, env, t, stage, res)
	if err == nil {
		err = stage.Finish(ctx)
	}
	if err != nil {
		// Uploads of a failed attempt would linger in S3 until the job's end; drop them now.
		stage.Discard(context.WithoutCancel(ctx))
	}
	return res, err
}

func reduce(ctx context.Context, spec *jobs.Spec, env Env, t task.Reduce, stage *lake.Stage, res task.ReduceResult) (task.ReduceResult, error) {
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
		group []record.Request
		key   record.Key
		r     record.Request
	)
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		loc := zones[key.City]
		if loc == nil {
			return task.Fatal(fmt.Errorf("%s: group %s: city not in the job's schemas", t, key))
		}
		if spec.Merge {
			var err error
			if group, err = mergeLake(ctx, env.Store, spec.Output.Parquet, key, group, &res); err != nil {
				return fmt.Errorf("%s: group %s: %w", t, key, err)
			}
		}
		g, err := writeGroup(ctx, stage, key, loc, group)
		if err != nil {
			return fmt.Errorf("%s: group %s: %w", t, key, err)
		}
		res.Groups = append(res.Groups, g)
		res.RecordsOut += int64(len(group))
		group = group[:0]
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
		if k := r.Key(); k != key {
			if err := flush(); err != nil {
				return res, err
			}
			key = k
		}
		// Versions of a request arrive adjacent and oldest first (the shuffle sorts by key,
		// request id, updated_at, ord), so the newest replaces the one before it.
		if last := len(group) - 1; last >= 0 && group[last].RequestID == r.RequestID {
			group[last] = r
			res.Duplicates++
			continue
		}
		group = append(group, r)
	}
	if err := flush(); err != nil {
		return res, err
	}
	return res, nil
}

// mergeLake adds to group, the job's newest version of each request of group k, the rows
// the lake holds for k: a request's committed row is replaced when the job has a version
// updated at the same time or later, and kept (counted as carried) otherwise.
func mergeLake(ctx context.Context, store objstore.Store, root string, k record.Key, group []record.Request, res *task.ReduceResult) ([]record.Request, error) {
	rows, err := lake.ReadParquetFrom[lake.Row](ctx, store, objstore.Join(root, lake.GroupPath(k), lake.PartFile(0)))
	if errors.Is(err, fs.ErrNotExist) {
		return group, nil // a new group
	}
	if err != nil {
		return nil, fmt.Errorf("read the committed group to merge: %w", err)
	}
	byID := make(map[string]int, len(group))
	for i := range group {
		byID[group[i].RequestID] = i
	}
	for i := range rows {
		old := lake.FromRow(k, &rows[i])
		if j, ok := byID[old.RequestID]; ok {
			if old.UpdatedAt.After(group[j].UpdatedAt) {
				// The lake's version is newer than the job's: the job's is the duplicate.
				group[j] = old
			}
			res.Duplicates++
			res.Carried++
			continue
		}
		group = append(group, old)
		res.Carried++
	}
	return group, nil
}

// reduceInputErr classifies an error of reading the reduce input. A fault of one map
// output (unreachable, truncated, corrupt) becomes a task.LostError naming it, so that the
// coordinator re-runs that map task; anything else (cancellation, a full local disk, running
// out of file descriptors) is this attempt's own failure.
func reduceInputErr(ctx context.Context, t task.Reduce, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se *shuffle.SegmentError
	if errors.As(err, &se) && !isLocalResourceErr(err) {
		return fmt.Errorf("%s: %w", t, &task.LostError{Map: se.Loc.Map, Err: err})
	}
	return fmt.Errorf("%s: read input: %w", t, err)
}

// isLocalResourceErr reports whether err is this process running out of a local resource
// rather than a fault of the remote side.
func isLocalResourceErr(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOSPC)
}

// writeGroup stages one group's lake file, sorted by creation time, and its summary tables,
// and describes them.
func writeGroup(ctx context.Context, stage *lake.Stage, k record.Key, loc *time.Location, reqs []record.Request) (task.Group, error) {
	// Sort an index, not the records: a record is a few hundred bytes to move.
	order := make([]int32, len(reqs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &reqs[i], &reqs[j]
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.RequestID, b.RequestID)
	})
	g := task.Group{City: k.City, Year: k.Year, Month: k.Month, Rows: int64(len(reqs))}
	rows := make([]lake.Row, len(reqs))
	for i, j := range order {
		rows[i] = lake.ToRow(&reqs[j])
	}
	add := func(f lake.File) {
		g.Files = append(g.Files, task.File{Path: f.Path, Bytes: f.Bytes, SHA256: f.SHA256})
	}
	rel := filepath.Join(lake.GroupPath(k), lake.PartFile(0))
	f, err := lake.StageParquet(ctx, stage, rel, rows)
	if err != nil {
		return g, err
	}
	add(f)

	t := summary.Compute(k, loc, reqs)
	sdir := lake.SummaryPath(k)
	for _, w := range []struct {
		name  string
		write func(string) (lake.File, error)
	}{
		{summary.TableMonthly, func(p string) (lake.File, error) { return lake.StageParquet(ctx, stage, p, t.Monthly) }},
		{summary.TableAgencyDaily, func(p string) (lake.File, error) { return lake.StageParquet(ctx, stage, p, t.AgencyDaily) }},
		{summary.TableHeat, func(p string) (lake.File, error) { return lake.StageParquet(ctx, stage, p, t.Heat) }},
		{summary.TableGeo, func(p string) (lake.File, error) { return lake.StageParquet(ctx, stage, p, t.Geo) }},
	} {
		f, err := w.write(filepath.Join(sdir, w.name+".parquet"))
		if err != nil {
			return g, err
		}
		add(f)
	}
	return g, nil
}
