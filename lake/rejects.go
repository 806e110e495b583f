package lake

import (
	"context"
	"fmt"

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
// leave root is refused (objstore.ErrUnsafePath).
func CommitRejects(ctx context.Context, store objstore.Store, root, job, name string, files []RejectsFile) error {
	final, err := objstore.Join(root, name)
	if err != nil {
		return fmt.Errorf("commit rejects: %w", err)
	}
	if _, err := jobTemp(root, job); err != nil {
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
