package lake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ireports/ireports/objstore"
)

// RejectsFile is one accepted map attempt's rejects file, as its task result names it.
type RejectsFile struct {
	Index int    // the map task's index: the file is committed as part-m-<index>.jsonl
	Path  string // the attempt's rejects object, under AttemptDir of the rejects root
}

// CommitRejects gathers the accepted map attempts' rejects files into <root>/<name>/, as
// part-m-<index>.jsonl, replacing the previous run's, then drops what job run `job` left
// under root/_temporary (Abort). The replacement is objstore's ReplaceTree: on local disk
// the directory is swapped atomically; on S3, where rejects are small diagnostic files, the
// previous run's are deleted and the new ones moved into place. A name or job that would
// leave root is refused (objstore.ErrUnsafePath), and so is a directory holding anything
// but a run's rejects files (CheckRejectsDir).
func CommitRejects(ctx context.Context, store objstore.Store, root, job, name string, files []RejectsFile) error {
	final, err := objstore.Join(root, name)
	if err != nil {
		return fmt.Errorf("commit rejects: %w", err)
	}
	if _, err := jobTemp(root, job); err != nil {
		return fmt.Errorf("commit rejects: %w", err)
	}
	if err := CheckRejectsDir(ctx, store, final); err != nil {
		return fmt.Errorf("commit rejects: %w", err)
	}
	moves := make([]objstore.Move, 0, len(files))
	for _, f := range files {
		to, err := objstore.Join(final, fmt.Sprintf("part-m-%05d.jsonl", f.Index))
		if err != nil {
			return fmt.Errorf("commit rejects: %w", err)
		}
		moves = append(moves, objstore.Move{From: f.Path, To: to})
	}
	if err := store.ReplaceTree(ctx, final, moves); err != nil {
		return fmt.Errorf("commit rejects: %w", err)
	}
	return Abort(ctx, store, root, job)
}

// ErrNotRejects: the directory a job's rejects would replace holds files no run's rejects
// wrote.
var ErrNotRejects = errors.New("holds files that are not a job's rejects")

// rejectsPart matches the name of a committed rejects file, part-m-<index>.jsonl.
var rejectsPart = regexp.MustCompile(`^part-m-[0-9]{5,}\.jsonl$`)

// CheckRejectsDir refuses dir, the directory CommitRejects replaces whole, when it holds
// anything but rejects files directly inside it (on local disk, files whose names start with
// "." are not seen): an input, a lake or a project that a mistyped output.rejects points
// into (output.rejects = "." and a job named after its inputs' directory) would be deleted.
// A job checks it before it starts, and again at the commit.
func CheckRejectsDir(ctx context.Context, store objstore.Store, dir string) error {
	objs, err := store.List(ctx, strings.TrimSuffix(dir, "/")+"/")
	if err != nil {
		return err
	}
	for _, o := range objs {
		rel, ok := objstore.Rel(dir, o.Name)
		if !ok || !rejectsPart.MatchString(rel) {
			return fmt.Errorf("%s %w (%s): a job replaces that directory with its rejects, so it must hold nothing else; set output.rejects to a directory of its own",
				dir, ErrNotRejects, cmp.Or(rel, o.Name))
		}
	}
	return nil
}
