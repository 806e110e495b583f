package lake

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ireports/ireports/objstore"
)

// Stage collects the files one task attempt writes into a lake (or a summaries root) until
// the job commits or drops them. It runs one protocol on every store, objstore's pending
// uploads (see objstore's package documentation): each file is written with CreatePending to
// its FINAL name and left invisible (a multipart upload left incomplete on S3, a hidden
// staged file beside the final name on local disk), and Finish lists the uploads in a small
// manifest at <root>/_temporary/<job>/<name>-<n>.pending. The job's commit completes the
// accepted uploads (no data is copied or rewritten) and aborts the others.
//
// Dir names the manifest; it is what a task result carries to the coordinator.
//
// A StageWriter's Close finishes its upload on S3 in the background (the last part's
// upload), so a reducer encodes its next group meanwhile; Finish and Discard wait for them.
// On local disk, where finishing is only a close, Close does it itself. Finish then makes the stage's files durable at once
// (objstore's SyncPending: on local disk one syncfs, where an fsync a file, five files a
// group, was a journal commit or a disk flush each), before the manifest that lets a commit
// publish them. A Stage is not safe for concurrent use by its callers.
type Stage struct {
	store objstore.Store
	root  string
	dir   string

	closing sync.WaitGroup // the background closes of StageWriters
	slots   chan struct{}  // bounds the closes in flight, so do the buffers they hold on S3

	mu sync.Mutex // guards files' Pending fields and closeErr, which background closes set
	// files are the staged files in the order they were closed; a Pending stays nil while
	// the file's close runs, and for good if it fails.
	files    []StagedFile
	closeErr error // the first failed close
}

// maxClosing bounds the StageWriter closes in flight per Stage.
const maxClosing = 8

// StagedFile is one file of a stage: its description as the manifest will show it, and the
// pending upload that holds its bytes.
type StagedFile struct {
	File
	Pending *objstore.Pending `json:"pending,omitempty"`
}

// NewStage starts the stage of attempt `attempt` of task `name` (e.g. "r-3") of job run
// `job` under root. Like AttemptDir it refuses a job or name that would leave
// root/_temporary (objstore.ErrUnsafePath).
func NewStage(store objstore.Store, root, job, name string, attempt int) (*Stage, error) {
	dir, err := objstore.Join(root, TemporaryDir, job, fmt.Sprintf("%s-%d.pending", name, attempt))
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	return &Stage{store: store, root: root, dir: dir, slots: make(chan struct{}, maxClosing)}, nil
}

// Dir names the stage: its manifest.
func (s *Stage) Dir() string { return s.dir }

// Put stages b as the file at rel (slash-separated, relative to the root) and describes it.
func (s *Stage) Put(ctx context.Context, rel string, b []byte) (File, error) {
	w, err := s.Create(ctx, rel)
	if err != nil {
		return File{}, err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return File{}, err
	}
	return w.Close()
}

// Finish records the stage so that the coordinator can commit it: it waits for the files'
// closes, makes the files durable and writes the manifest of the pending uploads. An error
// of a close or of the sync is returned here; the stage must then be discarded.
func (s *Stage) Finish(ctx context.Context) error {
	s.closing.Wait()
	if s.closeErr != nil {
		return s.closeErr
	}
	ps := make([]objstore.Pending, 0, len(s.files))
	for _, f := range s.files {
		ps = append(ps, *f.Pending)
	}
	// The manifest is what a commit publishes: nothing it lists may still be in memory
	// only.
	if err := s.store.SyncPending(ctx, ps); err != nil {
		return fmt.Errorf("stage %s: %w", s.dir, err)
	}
	b, err := json.Marshal(s.files)
	if err != nil {
		return err
	}
	if err := objstore.WriteAll(ctx, s.store, s.dir, b); err != nil {
		return fmt.Errorf("write stage manifest: %w", err)
	}
	return nil
}

// Discard drops everything the stage holds: the uploads it made (whether or not Finish
// recorded them) and its manifest, once the closes in flight have ended. Never call it for an
// accepted attempt.
func (s *Stage) Discard(ctx context.Context) error {
	s.closing.Wait()
	var errs []error
	for _, f := range s.files {
		if f.Pending != nil {
			errs = append(errs, dropPending(ctx, s.store, s.root, *f.Pending))
		}
	}
	s.files = nil
	errs = append(errs, discardStage(ctx, s.store, s.root, s.dir, nil), s.store.Prune(ctx, s.root, s.dir))
	return errors.Join(errs...)
}

// discardStage drops the stage under root whose manifest is at dir (a Stage's Dir), together
// with the uploads it lists. A stage whose manifest was never written (the attempt died
// before Finish) leaves uploads that only Abort's sweep of the job's output finds. A
// commit's abort passes done (else nil): the uploads in done.completed were just completed
// (renamed into place, made objects), and aborting them would only fail to find them (a
// round trip each on S3) and to empty their directories; a manifest in done.stages was read
// by the commit.
func discardStage(ctx context.Context, store objstore.Store, root, dir string, done *committed) error {
	var files []StagedFile
	var completed map[pendingKey]bool
	read := false
	if done != nil {
		completed = done.completed
		files, read = done.stages[objstore.Clean(dir)]
	}
	if !read {
		var err error
		if files, err = readStage(ctx, store, dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	var errs []error
	for _, f := range files {
		if f.Pending != nil && !completed[keyOf(f.Pending)] {
			errs = append(errs, dropPending(ctx, store, root, *f.Pending))
		}
	}
	errs = append(errs, store.Delete(ctx, dir))
	return errors.Join(errs...)
}

// dropPending aborts the pending upload p of a stage under root, then removes the
// directories on its way up to root that this left empty (local disk; S3 has none). The
// upload's own abort removes only the directories that upload made (Pending.Made), and an
// upload whose city and year directories were already there, made by a sibling upload of
// the same or another attempt, made only its month's: aborted after that sibling, it would
// leave them behind in the lake. A directory that holds anything (committed data, another
// attempt's staged file) stops the pruning.
func dropPending(ctx context.Context, store objstore.Store, root string, p objstore.Pending) error {
	return errors.Join(store.AbortPending(ctx, p), store.Prune(ctx, root, p.Name))
}

func readStage(ctx context.Context, store objstore.Store, manifest string) ([]StagedFile, error) {
	b, err := objstore.ReadAll(ctx, store, manifest)
	if err != nil {
		return nil, err
	}
	var files []StagedFile
	if err := json.Unmarshal(b, &files); err != nil {
		return nil, fmt.Errorf("stage manifest %s: %w", manifest, err)
	}
	return files, nil
}

// underGroup reports whether the lake-relative path rel belongs to one of the groups.
func underGroup(rel string, prefixes map[string]bool) bool {
	for dir := filepath.ToSlash(rel); ; {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			return false
		}
		dir = dir[:i]
		if prefixes[dir] {
			return true
		}
	}
}

// StageWriter streams one staged file; Close stages it and describes it, Abort drops it.
type StageWriter struct {
	s    *Stage
	rel  string
	name string // the final name in the store
	h    hash.Hash
	n    int64
	pw   objstore.PendingWriter
	done bool
}

// Create starts streaming the file at rel (slash-separated, relative to the root) into the
// stage, for files too large to hold in memory whole. A rel that would leave the root is
// refused (objstore.ErrUnsafePath).
func (s *Stage) Create(ctx context.Context, rel string) (*StageWriter, error) {
	name, err := objstore.Join(s.root, rel)
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	pw, err := s.store.CreatePending(ctx, name)
	if err != nil {
		return nil, err
	}
	return &StageWriter{s: s, rel: filepath.ToSlash(rel), name: name, h: sha256.New(), pw: pw}, nil
}

func (w *StageWriter) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Close describes the file and stages it. The upload is finished in the background (see
// Stage), unless finishing it is only closing a local file (objstore.ClosesInline): an
// error of finishing it is returned by the Stage's Finish, which fails the attempt. Close
// waits only while the Stage has maxClosing closes in flight.
func (w *StageWriter) Close() (File, error) {
	f := StagedFile{File: File{Path: w.rel, Bytes: w.n, SHA256: hex.EncodeToString(w.h.Sum(nil))}}
	if w.done {
		return f.File, fmt.Errorf("close %s: already closed", w.rel)
	}
	w.done = true
	s := w.s
	s.mu.Lock()
	i := len(s.files)
	s.files = append(s.files, f)
	s.mu.Unlock()
	if objstore.ClosesInline(w.pw) {
		w.finish(i)
		return f.File, nil
	}
	s.slots <- struct{}{}
	s.closing.Add(1)
	// Owned by the Stage: Finish and Discard wait for it; it ends when the upload's Close
	// returns.
	go func() {
		defer func() { <-s.slots; s.closing.Done() }()
		w.finish(i)
	}()
	return f.File, nil
}

// finish closes the upload of the i-th staged file and records its Pending, or the Stage's
// first close error.
func (w *StageWriter) finish(i int) {
	s := w.s
	p, err := w.pw.Close()
	if err != nil {
		w.prune() // the failed Close aborted the upload
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.closeErr = cmp.Or(s.closeErr, fmt.Errorf("stage %s: %w", w.rel, err))
		return
	}
	s.files[i].Pending = &p
}

// Abort drops the file, and the directories up to the stage's root that this left empty
// (see dropPending).
func (w *StageWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.pw.Abort()
	w.prune()
}

// prune removes the directories on the way to the writer's file that are empty, up to the
// stage's root. Prune does its work on local disk, where it does not wait on the network,
// and nothing on S3, so it needs no caller's context.
func (w *StageWriter) prune() {
	w.s.store.Prune(context.Background(), w.s.root, w.name)
}
