package objstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// localStore is the Store of plain paths. Unfinished writes (Create's and CreatePending's) are
// staged in dot files beside their final path (see stageMark), which List skips, so that a
// rename publishes them atomically within one file system. Directories are an artefact of
// local disk: the store makes them as writes need them, and removes the ones a write that
// does not complete made (see localPending.made), the ones AbortUploads empties and, on
// request, the ones Prune finds empty, so that a failed run leaves no trail of empty
// directories where S3 would hold nothing.
type localStore struct{}

var _ Store = (*localStore)(nil)

// stageMark separates a staged file's final base name from its random suffix:
// "dir/.part-00001.parquet.pending-123456" becomes "dir/part-00001.parquet".
const stageMark = ".pending-"

// stagePrefix begins the name of a staged file of an object named base (finalOf reads it
// back), its random digits after.
func stagePrefix(base string) string { return "." + base + stageMark }

// finalOf returns the final path of a staged file, or "" if path is not one.
func finalOf(path string) string {
	dir, base := filepath.Split(path)
	i := strings.LastIndex(base, stageMark)
	if !strings.HasPrefix(base, ".") || i < 1 {
		return ""
	}
	return filepath.Join(dir, base[1:i])
}

func (l *localStore) List(ctx context.Context, pat string) ([]ObjectInfo, error) {
	clean := filepath.Clean(pat)
	p, err := parsePattern(filepath.ToSlash(clean))
	if err != nil {
		return nil, err
	}
	var out []ObjectInfo
	add := func(path string, info fs.FileInfo) {
		if info.Mode().IsRegular() {
			out = append(out, ObjectInfo{Name: path, Size: info.Size(), ModTime: info.ModTime()})
		}
	}
	root := clean
	if p.glob {
		// Walk from the deepest directory that has no metacharacter, descending only into
		// directories that match the pattern's leading segments.
		root = filepath.Dir(filepath.FromSlash(p.prefix + "x"))
	} else {
		info, err := os.Stat(root)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", pat, err)
		}
		if !info.IsDir() {
			add(root, info)
			return out, nil
		}
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		slash := filepath.ToSlash(path)
		if d.IsDir() {
			if path != root && p.glob && !p.matchDir(slash) {
				return fs.SkipDir
			}
			return nil
		}
		if !p.match(slash) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we walked
		}
		if err != nil {
			return err
		}
		add(path, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", pat, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// matchDir reports whether a directory may contain matches of a glob pattern: its segments
// match the pattern's leading ones and leave at least one for a file.
func (p pattern) matchDir(dir string) bool {
	segs := strings.Split(dir, "/")
	if len(segs) >= len(p.segs) {
		return false
	}
	for i, s := range segs {
		if ok, _ := path.Match(p.segs[i], s); !ok {
			return false
		}
	}
	return true
}

func (l *localStore) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	info, err := os.Stat(name)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	if !info.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %s: not a regular file: %w", name, fs.ErrNotExist)
	}
	return ObjectInfo{Name: name, Size: info.Size(), ModTime: info.ModTime()}, nil
}

func (l *localStore) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("open %s at offset %d: %w", name, off, ErrBadName)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err // os.Open's error says "open NAME: …"
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("open %s: not a regular file: %w", name, fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if n < 0 {
		n = max(info.Size()-off, 0)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}, nil
}

func (l *localStore) Create(ctx context.Context, name string) (Writer, error) {
	pw, err := l.create(name)
	if err != nil {
		return nil, err
	}
	pw.sync = true // Close publishes it: no SyncPending comes between
	return &localWriter{pw: pw}, nil
}

// localWriter publishes its staged file on Close.
type localWriter struct{ pw *localPending }

func (w *localWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }
func (w *localWriter) Abort() error                { return w.pw.Abort() }

func (w *localWriter) Close() error {
	if w.pw.f == nil {
		return nil
	}
	p, err := w.pw.Close()
	if err != nil {
		return err
	}
	if err := os.Rename(p.Temp, p.Name); err != nil {
		os.Remove(p.Temp)
		pruneUp(filepath.Dir(p.Temp), p.Made)
		return fmt.Errorf("create %s: %w", p.Name, err)
	}
	return nil
}

func (l *localStore) CreatePending(ctx context.Context, name string) (PendingWriter, error) {
	return l.create(name)
}

func (l *localStore) create(name string) (*localPending, error) {
	dir, base := filepath.Split(name)
	if base == "" {
		return nil, fmt.Errorf("create %q: %w: no file name", name, ErrBadName)
	}
	dir = filepath.Clean(dir)
	prefix := filepath.Join(dir, stagePrefix(base))
	// The file is opened first and the directories made only when that fails: a reducer
	// stages five files a group, each in a directory it has not made yet, and a probe of
	// each level (Lstat, then MkdirAll's Stat walk) cost five system calls a file more
	// than the one failed open. A concurrent Prune or sweep may remove a directory between
	// mkdirs and the open (another attempt's abort emptied it): make it again.
	made := ""
	var f *os.File
	var err error
	for try := 0; try < 3; try++ {
		if f, err = openStaged(prefix); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		top, merr := mkdirs(dir)
		if merr != nil {
			err = merr
			break
		}
		if top != "" && (made == "" || InTree(filepath.ToSlash(made), filepath.ToSlash(top))) {
			made = top
		}
	}
	if err != nil {
		pruneUp(dir, made)
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &localPending{name: name, f: f, made: made}, nil
}

// openStaged creates a new staged file named prefix followed by a random number, as
// os.CreateTemp does, but with the mode of os.Create's files less the group's and others'
// write bits (0644 under the usual umask), since the published object is read by other
// processes, such as the viz server: no chmod follows.
func openStaged(prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		f, err := openExcl(name, 0o644)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// mkdirs makes dir and its missing parents, as os.MkdirAll does, and returns the outermost
// directory it made, or "" when dir was there. It tries dir first and walks up only while a
// parent is missing, so that making the one missing level costs one system call.
func mkdirs(dir string) (string, error) {
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return dir, nil
	case errors.Is(err, fs.ErrExist):
		return "", nil // a directory, or a file that the open will refuse as one
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	parent := filepath.Dir(dir)
	if parent == dir {
		return "", err
	}
	top, err := mkdirs(parent)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		pruneUp(parent, top)
		return "", err
	}
	return cmp.Or(top, dir), nil
}

// pruneUp removes dir and its parents while they are empty, up to and including top; it
// does nothing when top is "" or not dir or one of its parents. It removes only what a
// write made (top), so that it never takes a directory that was there before.
func pruneUp(dir, top string) {
	if top == "" || !InTree(filepath.ToSlash(dir), filepath.ToSlash(top)) {
		return
	}
	for d := dir; ; d = filepath.Dir(d) {
		if os.Remove(d) != nil || d == top || filepath.Dir(d) == d {
			return
		}
	}
}

// localPending writes a staged file.
type localPending struct {
	name string
	f    *os.File // nil once closed or aborted
	made string   // the outermost directory create made, or ""; see mkdirs
	n    int64
	err  error // the first write error, after which Close aborts
	// sync makes Close fsync the file (Create's, which a rename publishes next); a
	// CreatePending's file is synced later with its siblings (SyncPending).
	sync bool
}

func (w *localPending) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("write %s: %w", w.name, ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write %s at offset %d: %w", w.name, w.n, err)
	}
	return n, w.err
}

func (w *localPending) Close() (Pending, error) {
	if w.f == nil {
		return Pending{}, fmt.Errorf("close %s: %w", w.name, ErrClosed)
	}
	if w.err != nil {
		err := w.err
		w.Abort()
		return Pending{}, err
	}
	f := w.f
	var err error
	if w.sync {
		// Sync before the rename that publishes the file: otherwise a power loss after
		// it can leave the name with no data behind it.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		os.Remove(f.Name())
		pruneUp(filepath.Dir(f.Name()), w.made)
		return Pending{}, fmt.Errorf("close %s: %w", w.name, err)
	}
	return Pending{Name: w.name, Size: w.n, Temp: f.Name(), Made: w.made}, nil
}

func (w *localPending) Abort() error {
	if w.f == nil {
		return nil
	}
	w.f.Close()
	err := os.Remove(w.f.Name())
	pruneUp(filepath.Dir(w.f.Name()), w.made)
	w.f = nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort %s: %w", w.name, err)
	}
	return nil
}

func (l *localStore) SyncPending(ctx context.Context, ps []Pending) error {
	names := make([]string, len(ps))
	for i, p := range ps {
		if p.Temp == "" || finalOf(p.Temp) != filepath.Clean(p.Name) {
			return fmt.Errorf("sync %s: %w: staged file %q is not beside it", p.Name, ErrBadPending, p.Temp)
		}
		names[i] = p.Temp
	}
	if err := syncFileSystems(ctx, names); err != nil {
		return err
	}
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sync %s: %w", ps[i].Name, err)
		}
		if err := syncFile(name); err != nil {
			return fmt.Errorf("sync %s: %w", ps[i].Name, err)
		}
	}
	return nil
}

func (l *localStore) Complete(ctx context.Context, p Pending) error {
	if p.Temp == "" || filepath.Dir(p.Temp) != filepath.Dir(p.Name) || finalOf(p.Temp) != filepath.Clean(p.Name) {
		return fmt.Errorf("complete %s: %w: staged file %q is not beside it", p.Name, ErrBadPending, p.Temp)
	}
	err := renameFile(p.Temp, p.Name)
	if errors.Is(err, fs.ErrNotExist) {
		// A repeated Complete: the staged file is already in place.
		if info, serr := os.Stat(p.Name); serr == nil && info.Size() == p.Size {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("complete %s: %w", p.Name, err)
	}
	return nil
}

func (l *localStore) AbortPending(ctx context.Context, p Pending) error {
	if p.Temp == "" || finalOf(p.Temp) != filepath.Clean(p.Name) {
		return fmt.Errorf("abort %s: %w: staged file %q is not beside it", p.Name, ErrBadPending, p.Temp)
	}
	if err := os.Remove(p.Temp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort %s: %w", p.Name, err)
	}
	// Made comes from a manifest another process wrote: only a directory on the way to the
	// staged file, which is beside Name, is pruned.
	if p.Made != "" && InTree(filepath.ToSlash(filepath.Dir(p.Temp)), filepath.ToSlash(filepath.Clean(p.Made))) {
		pruneUp(filepath.Dir(p.Temp), filepath.Clean(p.Made))
	}
	return nil
}

func (l *localStore) AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error) {
	return l.abortUploads(ctx, prefix, before, nil)
}

// abortUploads is AbortUploads, passing over the directories in skip (clean paths).
func (l *localStore) abortUploads(ctx context.Context, prefix string, before time.Time, skip map[string]bool) (int, error) {
	clean := filepath.Clean(prefix)
	root := clean
	if info, err := os.Stat(clean); err != nil || !info.IsDir() {
		root = filepath.Dir(clean) // the staged files of object "a/b" live in "a"
	}
	n := 0
	emptied := map[string]bool{} // directories a removal may have emptied
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (skip[path] || !InTree(filepath.ToSlash(path), filepath.ToSlash(clean))) {
				return fs.SkipDir
			}
			return nil
		}
		final := finalOf(path)
		if final == "" || !InTree(filepath.ToSlash(final), filepath.ToSlash(clean)) {
			return nil
		}
		if !before.IsZero() {
			if info, err := d.Info(); err != nil || !info.ModTime().Before(before) {
				return nil
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		emptied[filepath.Dir(path)] = true
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("abort uploads under %s: %w", prefix, err)
	}
	// Remove the directories the sweep left empty, deepest first, within the tree at prefix
	// and below the walk's root, which was there before.
	dirs := make([]string, 0, len(emptied))
	for d := range emptied {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		for ; d != root && InTree(filepath.ToSlash(d), filepath.ToSlash(clean)); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	return n, nil
}

func (l *localStore) AbortUploadsIn(ctx context.Context, prefixes []string, before time.Time) (int, error) {
	n := 0
	for _, p := range prefixes {
		m, err := l.AbortUploads(ctx, p, before)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (l *localStore) Delete(ctx context.Context, name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

func (l *localStore) DeletePrefix(ctx context.Context, prefix string) error {
	clean := filepath.Clean(prefix)
	if prefix == "" || clean == "." || clean == string(filepath.Separator) {
		return fmt.Errorf("delete tree %q: %w: refusing to delete a whole file system or working directory", prefix, ErrBadName)
	}
	if err := os.RemoveAll(clean); err != nil {
		return fmt.Errorf("delete tree: %w", err)
	}
	return nil
}

func (l *localStore) Prune(ctx context.Context, root, name string) error {
	root, d := filepath.Clean(root), filepath.Clean(name)
	if d == root || !InTree(filepath.ToSlash(d), filepath.ToSlash(root)) {
		return nil
	}
	for ; d != root; d = filepath.Dir(d) {
		info, err := os.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("prune %s: %w", name, err)
		}
		if !info.IsDir() {
			return nil // an object: never removed here, and the directories above hold it
		}
		if os.Remove(d) != nil {
			return nil // not empty (or not ours to remove): nor are the directories above
		}
	}
	return nil
}

// ReplaceTree moves the objects into a hidden directory beside prefix, then exchanges the two
// directories (see exchange); where the platform cannot, it renames prefix away and the new
// tree in, and prefix is briefly absent.
func (l *localStore) ReplaceTree(ctx context.Context, prefix string, moves []Move) error {
	dst := filepath.Clean(prefix)
	if prefix == "" || dst == "." || dst == string(filepath.Separator) {
		return fmt.Errorf("replace tree %q: %w: refusing to replace a whole file system or working directory", prefix, ErrBadName)
	}
	rels := make([]string, len(moves))
	for i, m := range moves {
		rel, err := filepath.Rel(dst, filepath.Clean(m.To))
		if err != nil || rel == "." || !filepath.IsLocal(rel) {
			return fmt.Errorf("replace tree %s: %w: %s is not under it", prefix, ErrBadName, m.To)
		}
		rels[i] = rel
	}
	parent, base := filepath.Split(dst)
	if err := os.MkdirAll(filepath.Clean(parent), 0o755); err != nil {
		return fmt.Errorf("replace tree %s: %w", prefix, err)
	}
	stage, err := os.MkdirTemp(filepath.Clean(parent), "."+base+".replace-*")
	if err != nil {
		return fmt.Errorf("replace tree %s: %w", prefix, err)
	}
	// After the exchange stage holds the old tree; after a failure, what was moved so far.
	defer os.RemoveAll(stage)
	if err := os.Chmod(stage, 0o755); err != nil { // MkdirTemp's 0700 would hide the tree
		return fmt.Errorf("replace tree %s: %w", prefix, err)
	}
	for i, m := range moves {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("replace tree %s: %w", prefix, err)
		}
		to := filepath.Join(stage, rels[i])
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return fmt.Errorf("replace tree %s: %w", prefix, err)
		}
		if err := os.Rename(m.From, to); err != nil {
			return fmt.Errorf("replace tree %s: %w", prefix, err)
		}
	}
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(stage, dst); err != nil {
			return fmt.Errorf("replace tree %s: %w", prefix, err)
		}
		return nil
	}
	if exchange(stage, dst) == nil {
		return nil
	}
	old := stage + ".old"
	if err := os.Rename(dst, old); err != nil {
		return fmt.Errorf("replace tree %s: %w", prefix, err)
	}
	defer os.RemoveAll(old)
	if err := os.Rename(stage, dst); err != nil {
		return fmt.Errorf("replace tree %s: %w", prefix, err)
	}
	return nil
}

func (l *localStore) Rename(ctx context.Context, from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}

func (l *localStore) CreateExclusive(ctx context.Context, name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), exclusivePrefix(filepath.Base(name))+"*")
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	// A hard link, unlike a rename, fails when the name exists: the whole object appears at
	// once, or not at all.
	if err := os.Link(tmp.Name(), name); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

// RemoveUnfinished deletes the files that unfinished local writes of name left beside it: a
// staged file of Create (".<base>.pending-N") or of CreateExclusive (".<base>.N"), which a
// process killed in the middle of the write never removes. A write of name under way at
// that moment loses its file and fails (Create's rename, CreateExclusive's link), as if it
// had been killed. A name on S3 has none: an unfinished upload there is no object.
func RemoveUnfinished(name string) {
	if IsS3(name) {
		return
	}
	dir, base := filepath.Split(filepath.Clean(name))
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return
	}
	for _, e := range entries {
		for _, prefix := range []string{stagePrefix(base), exclusivePrefix(base)} {
			if rest, ok := strings.CutPrefix(e.Name(), prefix); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// exclusivePrefix begins the name of CreateExclusive's staged file of an object named base,
// its random digits after.
func exclusivePrefix(base string) string { return "." + base + "." }

// ClosesInline reports whether w's Close only closes a local file: a caller that finishes
// uploads in the background, so that S3's last part overlaps its next file, gains nothing
// from it on local disk, and pays a goroutine and the thread wake-ups it costs per file.
func ClosesInline(w PendingWriter) bool {
	_, ok := w.(*localPending)
	return ok
}
