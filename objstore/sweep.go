package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// SweepTrees leaves each tree in prefixes (see Store.List; all in one store, else
// ErrCrossStore) holding only the objects that keep accepts: it deletes the others, then
// discards the unfinished writes in the trees started before `before`, as AbortUploadsIn
// does. keep gets each object's name in the form of its prefix, from several goroutines at
// once. It is what a commit does to the group directories it wrote; on local disk it reads
// each directory once, where List and AbortUploads read it twice and stat it four times,
// for thousands of group directories a job.
func SweepTrees(ctx context.Context, s Store, prefixes []string, keep func(name string) bool, before time.Time) error {
	if len(prefixes) == 0 {
		return nil
	}
	for _, p := range prefixes[1:] {
		if IsS3(p) != IsS3(prefixes[0]) {
			return fmt.Errorf("sweep %s and %s: %w", prefixes[0], p, ErrCrossStore)
		}
	}
	if r, ok := s.(*Router); ok && !IsS3(prefixes[0]) {
		s = r.local
	}
	if l, ok := s.(*localStore); ok {
		return l.sweepTrees(ctx, prefixes, keep, before)
	}
	// One listing per tree, each a round trip (tens of milliseconds on S3) that costs this
	// process next to nothing: a commit's thousands of trees are listed many at a time, as
	// one after another they took minutes.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Parallelism(prefixes[0]))
	for _, p := range prefixes {
		g.Go(func() error {
			objs, err := s.List(gctx, p)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if !keep(o.Name) {
					if err := s.Delete(gctx, o.Name); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err := s.AbortUploadsIn(ctx, prefixes, before)
	return err
}

// S3Parallelism is how many requests a caller with many independent ones keeps in flight
// against S3 (Parallelism), and so how many connections the S3 client keeps open to reuse.
const S3Parallelism = 64

// localParallelism is Parallelism for local disk.
const localParallelism = 16

// Parallelism is how many independent requests a caller that has many of them (a commit's
// completions, a sweep's listings) should keep in flight against the store of name. On S3
// each is a round trip of tens of milliseconds that costs this process next to nothing, so
// many overlap; on local disk each is a system call or two, which more goroutines than a
// few per core do not speed up.
func Parallelism(name string) int {
	if IsS3(name) {
		return S3Parallelism
	}
	return localParallelism
}

// AbortUploadsOutside is AbortUploads of the tree at prefix that may pass over the trees in
// swept (names in the form of prefix): a commit has just swept them (SweepTrees) and aborts
// what the rest of the tree holds; what an attempt still running writes there later is for
// the caller's final Abort, after the attempts stop, as it would be had it come after this
// sweep. Local disk does not enter them, where a walk of every group directory of the job
// was a directory read each; S3 lists the bucket's uploads whatever the trees, and takes
// them too.
func AbortUploadsOutside(ctx context.Context, s Store, prefix string, before time.Time, swept []string) (int, error) {
	if r, ok := s.(*Router); ok && !IsS3(prefix) {
		s = r.local
	}
	l, ok := s.(*localStore)
	if !ok {
		return s.AbortUploads(ctx, prefix, before)
	}
	skip := make(map[string]bool, len(swept))
	for _, d := range swept {
		skip[filepath.Clean(d)] = true
	}
	return l.abortUploads(ctx, prefix, before, skip)
}

// sweepTrees does, for each tree, what List and Delete, then AbortUploads, do, in one walk
// that reads each directory once and stats only the staged files (for their time). A prefix
// that names no directory, or that List would take as a glob, goes to List, Delete and
// AbortUploads themselves, which handle an object, a missing tree and a pattern.
func (l *localStore) sweepTrees(ctx context.Context, prefixes []string, keep func(name string) bool, before time.Time) error {
	for _, prefix := range prefixes {
		root := filepath.Clean(prefix)
		err := errNotDir
		if !strings.ContainsAny(filepath.ToSlash(root), `*?[\`) { // else List takes it as a glob
			_, err = l.sweepDir(ctx, prefix, root, root, false, keep, before)
		}
		if errors.Is(err, errNotDir) {
			err = l.sweepGeneric(ctx, prefix, keep, before)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errNotDir reports a sweep's root that could not be read as a directory.
var errNotDir = errors.New("not a directory")

// sweepGeneric is the sweep of one tree by List, Delete and AbortUploads.
func (l *localStore) sweepGeneric(ctx context.Context, prefix string, keep func(name string) bool, before time.Time) error {
	objs, err := l.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !keep(o.Name) {
			if err := l.Delete(ctx, o.Name); err != nil {
				return err
			}
		}
	}
	_, err = l.AbortUploads(ctx, prefix, before)
	return err
}

// sweepDir sweeps the directory dir of the tree at root and reports whether it removed dir,
// which it does, as AbortUploads, when removing a staged file or a subdirectory left it empty,
// and never for root. Objects are named as List names them, under root; those in a hidden
// (dot) directory are not objects, as List skips them, but staged files there are swept, as
// AbortUploads sweeps them. It returns errNotDir when root cannot be read as a directory.
func (l *localStore) sweepDir(ctx context.Context, prefix, root, dir string, hidden bool, keep func(name string) bool, before time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("sweep %s: %w", prefix, err)
	}
	// In name order, as List's; os.ReadDir opens the directory without the poller's system
	// calls that os.Open makes.
	ents, err := os.ReadDir(dir)
	switch {
	case err != nil && dir == root:
		return false, errNotDir // missing, or not a directory: the generic path says which
	case errors.Is(err, fs.ErrNotExist):
		return false, nil // removed while we walked
	case err != nil:
		return false, fmt.Errorf("sweep %s: %w", prefix, err)
	}
	emptied := false
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() {
			removed, err := l.sweepDir(ctx, prefix, root, path, hidden || isDot(e.Name()), keep, before)
			if err != nil {
				return false, err
			}
			emptied = emptied || removed
			continue
		}
		if finalOf(path) != "" {
			if !before.IsZero() {
				if info, err := e.Info(); err != nil || !info.ModTime().Before(before) {
					continue
				}
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("abort uploads under %s: %w", prefix, err)
			}
			emptied = true
			continue
		}
		if hidden || isDot(e.Name()) || !e.Type().IsRegular() || keep(path) {
			continue
		}
		if err := l.Delete(ctx, path); err != nil {
			return false, err
		}
	}
	return emptied && dir != root && os.Remove(dir) == nil, nil
}

// isDot reports a name that List skips.
func isDot(name string) bool { return len(name) > 0 && name[0] == '.' }
