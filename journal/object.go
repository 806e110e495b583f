package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ireports/ireports/objstore"
)

// objectDir keeps each job's journal as numbered segment objects under a prefix,
// <root>/<job>/<n>.seg, n zero-padded to 20 digits so that names sort as numbers. Objects
// have no append: each segment is a batch of records written whole by one PUT, so a torn
// segment cannot exist and any bad frame in one is corruption.
//
// A segment is created only if its name is free (objstore's CreateExclusive, a conditional
// PUT on S3): two coordinators that both believe they drive a job cannot interleave their
// records, the second one fails with ErrFenced.
type objectDir struct {
	store    objstore.Store
	root     string // <Location>/jobs
	maxBatch int
}

var _ backend = (*objectDir)(nil)

const segExt = ".seg"

// segment is one listed segment object.
type segment struct {
	n    int64
	name string
	size int64
}

func segmentBase(n int64) string { return fmt.Sprintf("%020d%s", n, segExt) }

// parseSegment reads the number of a segment's base name, or false for another name.
func parseSegment(base string) (int64, bool) {
	digits, ok := strings.CutSuffix(base, segExt)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

func (d *objectDir) jobPrefix(job string) (string, error) { return objstore.Join(d.root, job) }

func (d *objectDir) segmentName(job string, n int64) (string, error) {
	return objstore.Join(d.root, job, segmentBase(n))
}

// relative returns name's slash-separated path below root.
func relative(root, name string) (string, bool) {
	r, n := filepath.ToSlash(root), filepath.ToSlash(name)
	return strings.CutPrefix(n, strings.TrimSuffix(r, "/")+"/")
}

func (d *objectDir) jobs(ctx context.Context) ([]string, error) {
	objs, err := d.store.List(ctx, d.root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("journal: list %s: %w", d.root, err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, o := range objs {
		rel, ok := relative(d.root, o.Name)
		if !ok {
			continue
		}
		job, base, ok := strings.Cut(rel, "/")
		if _, isSeg := parseSegment(base); ok && isSeg && !seen[job] && CheckJobID(job) == nil {
			seen[job] = true
			ids = append(ids, job)
		}
	}
	return ids, nil
}

// segments lists a job's segments in order of their numbers.
func (d *objectDir) segments(ctx context.Context, job string) ([]segment, error) {
	prefix, err := d.jobPrefix(job)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	objs, err := d.store.List(ctx, prefix)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("journal: list %s: %w", prefix, err)
	}
	var segs []segment
	for _, o := range objs {
		rel, ok := relative(prefix, o.Name)
		if !ok || strings.Contains(rel, "/") {
			continue
		}
		if n, ok := parseSegment(path.Base(rel)); ok {
			segs = append(segs, segment{n: n, name: o.Name, size: o.Size})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
	return segs, nil
}

func (d *objectDir) create(ctx context.Context, job string) (segmentLog, error) {
	segs, err := d.segments(ctx, job)
	if err != nil {
		return nil, err
	}
	if len(segs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrExist, segs[0].name)
	}
	// Nothing is written until the first flush: an object journal exists once it holds a
	// record. Segment 1's conditional PUT decides between two creators.
	return &objectLog{d: d, job: job, next: 1}, nil
}

// open reads the segments from the last snapshot on. It reads backwards from the newest
// segment until one that starts with a Snapshot (or segment 1): segments before a snapshot
// are superseded, left by a compaction that a crash interrupted before it deleted them. The
// numbers from there to the newest must have no gap: one missing segment is lost records.
func (d *objectDir) open(ctx context.Context, job string, forAppend bool) (segmentLog, []Record, error) {
	segs, err := d.segments(ctx, job)
	if err != nil {
		return nil, nil, err
	}
	if len(segs) == 0 {
		prefix, _ := d.jobPrefix(job)
		return nil, nil, fmt.Errorf("%w: %s", ErrNotExist, prefix)
	}
	var chain [][]Record // segments' records, newest first
	var size int64
	for i := len(segs) - 1; ; i-- {
		s := segs[i]
		if i < len(segs)-1 && segs[i+1].n != s.n+1 {
			missing, _ := d.segmentName(job, s.n+1)
			return nil, nil, fmt.Errorf("%w: %s is missing (segments %d to %d are there)", ErrCorrupt, missing, segs[i+1].n, segs[len(segs)-1].n)
		}
		data, err := objstore.ReadAll(ctx, d.store, s.name)
		if err != nil {
			return nil, nil, fmt.Errorf("journal: %w", err)
		}
		recs, _, err := decode(s.name, data, false)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, recs)
		size += int64(len(data))
		if len(recs) > 0 && recs[0].Kind() == KindSnapshot {
			break
		}
		if i == 0 {
			if s.n != 1 {
				first, _ := d.segmentName(job, 1)
				return nil, nil, fmt.Errorf("%w: %s is missing and no later segment holds a snapshot", ErrCorrupt, first)
			}
			break
		}
	}
	var recs []Record
	for i := len(chain) - 1; i >= 0; i-- {
		recs = append(recs, chain[i]...)
	}
	if !forAppend {
		return nil, recs, nil
	}
	return &objectLog{d: d, job: job, next: segs[len(segs)-1].n + 1, n: size}, recs, nil
}

func (d *objectDir) remove(ctx context.Context, job string) error {
	prefix, err := d.jobPrefix(job)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := d.store.DeletePrefix(ctx, prefix); err != nil {
		return fmt.Errorf("journal: remove %s: %w", prefix, err)
	}
	return nil
}

// objectLog writes one job's segments. Batched records wait in buf until a Sync record,
// a flush or MaxBatch bytes; then they become one segment.
type objectLog struct {
	d    *objectDir
	job  string
	next int64 // the number of the next segment to write

	buf []byte // frames not yet written
	// unsure is a segment whose PUT failed: it may have landed (a lost response) or not.
	// It is retried, byte for byte under the same number, before anything else is
	// written, so that a landed one is recognised rather than taken for another writer's.
	unsure     []byte
	unsureSnap bool  // unsure starts with a Snapshot
	n          int64 // bytes of the segments since the last snapshot
}

var _ segmentLog = (*objectLog)(nil)

func (l *objectLog) append(ctx context.Context, frames []byte, sync bool) error {
	l.buf = append(l.buf, frames...)
	if sync || len(l.buf) >= l.d.maxBatch {
		return l.flush(ctx)
	}
	return nil
}

func (l *objectLog) flush(ctx context.Context) error {
	if err := l.settle(ctx); err != nil {
		return err
	}
	if len(l.buf) == 0 {
		return nil
	}
	l.unsure = append(header(), l.buf...)
	l.buf = l.buf[:0]
	return l.settle(ctx)
}

// settle writes the unsure segment, if any.
func (l *objectLog) settle(ctx context.Context) error {
	if l.unsure == nil {
		return nil
	}
	if err := l.put(ctx, l.next, l.unsure); err != nil {
		return err
	}
	l.next++
	if l.unsureSnap {
		l.n = 0
	}
	l.n += int64(len(l.unsure))
	l.unsure, l.unsureSnap = nil, false
	return nil
}

// put writes segment n from data if no segment n exists. Finding one with the same bytes is
// success: it is this writer's own earlier PUT whose response was lost.
func (l *objectLog) put(ctx context.Context, n int64, data []byte) error {
	name, err := l.d.segmentName(l.job, n)
	if err != nil {
		return err
	}
	err = l.d.store.CreateExclusive(ctx, name, data)
	if errors.Is(err, fs.ErrExist) {
		got, rerr := objstore.ReadAll(ctx, l.d.store, name)
		if rerr == nil && bytes.Equal(got, data) {
			return nil
		}
		return fmt.Errorf("%w: %s was written by another writer", ErrFenced, name)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// compact writes the snapshot as the next segment, then deletes every segment before it.
// Until the snapshot's PUT completes the journal reads as before; after it, Replay starts at
// the snapshot whether or not the deletes ran. Batched records not yet written are dropped
// first: the snapshot holds what they said. A failed PUT leaves the snapshot as the unsure
// segment, written before anything else, so what follows it is never older than it.
func (l *objectLog) compact(ctx context.Context, frame []byte) error {
	if err := l.settle(ctx); err != nil {
		return err
	}
	l.buf = l.buf[:0]
	l.unsure, l.unsureSnap = append(header(), frame...), true
	snap := l.next
	if err := l.settle(ctx); err != nil {
		return err
	}
	return l.sweep(ctx, snap)
}

// sweep deletes the job's segments numbered below snap, oldest first.
func (l *objectLog) sweep(ctx context.Context, snap int64) error {
	segs, err := l.d.segments(ctx, l.job)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s.n >= snap {
			break
		}
		if err := l.d.store.Delete(ctx, s.name); err != nil {
			return fmt.Errorf("delete superseded %s: %w", s.name, err)
		}
	}
	return nil
}

func (l *objectLog) close(ctx context.Context) error { return l.flush(ctx) }

func (l *objectLog) size() int64 { return l.n + int64(len(l.buf)) }
