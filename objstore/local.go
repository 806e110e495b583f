package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// localStore is the Store of plain paths. Unfinished writes are staged in dot files beside
// their final path (see stagePrefix), which List skips, so a rename publishes them
// atomically within one file system.
type localStore struct{}

var _ Store = (*localStore)(nil)

// stageMark separates a staged file's final base name from its random suffix:
// "dir/.part-00001.parquet.pending-123456" becomes "dir/part-00001.parquet".
const stageMark = ".pending-"

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
		return nil, fmt.Errorf("open: %w", err)
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
	if err := os.MkdirAll(filepath.Clean(dir), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+base+stageMark+"*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	// CreateTemp makes the file private (0600); the published object is read by other
	// processes, such as the viz server, as os.Create's files are.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &localPending{name: name, f: f}, nil
}

// localPending writes a staged file.
type localPending struct {
	name string
	f    *os.File // nil once closed or aborted
	n    int64
	err  error // the first write error, after which Close aborts
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
	// Sync before the rename that publishes the file: otherwise a power loss after
	// commit can leave a committed name with no data behind it.
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		os.Remove(f.Name())
		return Pending{}, fmt.Errorf("close %s: %w", w.name, err)
	}
	return Pending{Name: w.name, Size: w.n, Temp: f.Name()}, nil
}

func (w *localPending) Abort() error {
	if w.f == nil {
		return nil
	}
	w.f.Close()
	err := os.Remove(w.f.Name())
	w.f = nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort %s: %w", w.name, err)
	}
	return nil
}

func (l *localStore) Complete(ctx context.Context, p Pending) error {
	if p.Temp == "" || filepath.Dir(p.Temp) != filepath.Dir(p.Name) || finalOf(p.Temp) != filepath.Clean(p.Name) {
		return fmt.Errorf("complete %s: %w: staged file %q is not beside it", p.Name, ErrBadPending, p.Temp)
	}
	err := os.Rename(p.Temp, p.Name)
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
	return nil
}

func (l *localStore) AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error) {
	clean := filepath.Clean(prefix)
	root := clean
	if info, err := os.Stat(clean); err != nil || !info.IsDir() {
		root = filepath.Dir(clean) // the staged files of object "a/b" live in "a"
	}
	n := 0
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
			if path != root && !inTree(filepath.ToSlash(path), filepath.ToSlash(clean)) {
				return fs.SkipDir
			}
			return nil
		}
		final := finalOf(path)
		if final == "" || !inTree(filepath.ToSlash(final), filepath.ToSlash(clean)) {
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
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("abort uploads under %s: %w", prefix, err)
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
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
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
