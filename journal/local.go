package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// localDir keeps one file per job, <dir>/jobs/<job>.journal, written with appends. A
// journal is coordinator state, not job data, so it uses os files directly rather than
// objstore: it needs appends and fsync, which objects do not have.
type localDir struct {
	fs  fsys
	dir string
}

var _ backend = (*localDir)(nil)

// fsys is the file system calls the local backend makes, so that a test can count the
// fsyncs and fail a rename as a crash would interrupt it.
type fsys interface {
	MkdirAll(dir string) error
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	ReadDir(dir string) ([]fs.DirEntry, error)
	Rename(from, to string) error
	Remove(name string) error
	// SyncDir fsyncs a directory, which makes the entries created or renamed in it durable.
	SyncDir(dir string) error
}

// file is an open journal file.
type file interface {
	io.Reader
	io.Writer
	io.Closer
	Sync() error
	Truncate(size int64) error
}

// osFS is fsys on the operating system.
type osFS struct{}

func (osFS) MkdirAll(dir string) error                 { return os.MkdirAll(dir, 0o700) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (osFS) Rename(from, to string) error              { return os.Rename(from, to) }
func (osFS) Remove(name string) error                  { return os.Remove(name) }

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	return os.OpenFile(name, flag, perm)
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

const (
	localExt     = ".journal"
	localTempExt = ".compact" // <jobs>/.<job>.compact: a snapshot being written
)

func (d *localDir) jobsDir() string        { return filepath.Join(d.dir, jobsDir) }
func (d *localDir) path(job string) string { return filepath.Join(d.jobsDir(), job+localExt) }
func (d *localDir) tempPath(job string) string {
	return filepath.Join(d.jobsDir(), "."+job+localTempExt)
}

func (d *localDir) jobs(ctx context.Context) ([]string, error) {
	ents, err := d.fs.ReadDir(d.jobsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: list %s: %w", d.jobsDir(), err)
	}
	var ids []string
	for _, e := range ents {
		job, ok := strings.CutSuffix(e.Name(), localExt)
		if ok && !e.IsDir() && CheckJobID(job) == nil {
			ids = append(ids, job)
		}
	}
	return ids, nil
}

func (d *localDir) create(ctx context.Context, job string) (segmentLog, error) {
	if err := d.fs.MkdirAll(d.jobsDir()); err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", d.jobsDir(), err)
	}
	name := d.path(job)
	f, err := d.fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ErrExist, name)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", name, err)
	}
	// The header, then fsync of the file and of the directories: the journal's entry must
	// survive a machine crash as its first Sync record will, or Jobs would not find it.
	_, err = f.Write(header())
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = d.fs.SyncDir(d.jobsDir())
	}
	if err == nil {
		err = d.fs.SyncDir(d.dir)
	}
	if err != nil {
		f.Close()
		d.fs.Remove(name)
		return nil, fmt.Errorf("journal: create %s: %w", name, err)
	}
	return &localLog{fs: d.fs, f: f, path: name, temp: d.tempPath(job), dir: d.jobsDir(), n: int64(headerSize)}, nil
}

func (d *localDir) open(ctx context.Context, job string, forAppend bool) (segmentLog, []Record, error) {
	name := d.path(job)
	flag := os.O_RDONLY
	if forAppend {
		flag = os.O_RDWR | os.O_APPEND
		// A snapshot that a crash left unrenamed never replaced the journal: drop it.
		if err := d.fs.Remove(d.tempPath(job)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("journal: remove %s: %w", d.tempPath(job), err)
		}
	}
	f, err := d.fs.OpenFile(name, flag, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotExist, name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journal: open %s: %w", name, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	var recs []Record
	good := 0
	if len(data) < headerSize && bytes.HasPrefix(header(), data) {
		// A crash inside create, before its fsync returned: no record was ever appended.
	} else if recs, good, err = decode(name, data, true); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !forAppend {
		f.Close()
		return nil, recs, nil
	}
	l := &localLog{fs: d.fs, f: f, path: name, temp: d.tempPath(job), dir: d.jobsDir(), n: int64(good)}
	if good < len(data) || good == 0 {
		// Cut the torn tail (or rewrite the torn header) so that appends follow the intact
		// prefix, and make the cut durable before anything is appended after it.
		err := f.Truncate(int64(good))
		if err == nil && good == 0 {
			_, err = f.Write(header())
			l.n = int64(headerSize)
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("journal: repair %s: %w", name, err)
		}
	}
	return l, recs, nil
}

func (d *localDir) remove(ctx context.Context, job string) error {
	for _, name := range []string{d.path(job), d.tempPath(job)} {
		if err := d.fs.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("journal: remove %s: %w", name, err)
		}
	}
	if err := d.fs.SyncDir(d.jobsDir()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: remove %s: %w", d.path(job), err)
	}
	return nil
}

// localLog appends to one job's file. Every record is written at once, so it survives the
// process; Sync and flush add the fsync that makes it survive the machine.
type localLog struct {
	fs   fsys
	f    file
	path string
	temp string // where compact writes the snapshot before renaming it over path
	dir  string // the directory holding path, fsynced after a rename

	n     int64 // bytes in the file
	dirty bool  // written since the last fsync
}

var _ segmentLog = (*localLog)(nil)

func (l *localLog) append(ctx context.Context, frames []byte, sync bool) error {
	if _, err := l.f.Write(frames); err != nil {
		// Part of the frames may be in the file. Cut them off if we can; if not, the next
		// Resume sees a torn tail and cuts it. Either way the journal stops here.
		l.f.Truncate(l.n)
		return fmt.Errorf("%w: write %s: %w", ErrBroken, l.path, err)
	}
	l.n += int64(len(frames))
	l.dirty = true
	if sync {
		return l.flush(ctx)
	}
	return nil
}

func (l *localLog) flush(ctx context.Context) error {
	if !l.dirty {
		return nil
	}
	// After a failed fsync the kernel may have dropped the dirty pages and cleared the error:
	// a second fsync would succeed over lost data. So a failure breaks the journal.
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("%w: fsync %s: %w", ErrBroken, l.path, err)
	}
	l.dirty = false
	return nil
}

// compact writes the snapshot to a temporary file, fsyncs it, renames it over the journal
// and fsyncs the directory. A crash before the rename leaves the old journal (and a
// temporary file that the next open removes); after it, the snapshot.
func (l *localLog) compact(ctx context.Context, frame []byte) error {
	t, err := l.fs.OpenFile(l.temp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", l.temp, err)
	}
	data := append(header(), frame...)
	_, err = t.Write(data)
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.fs.Rename(l.temp, l.path)
	}
	if err != nil {
		l.fs.Remove(l.temp)
		return fmt.Errorf("write %s: %w", l.temp, err)
	}
	// From here the journal is the snapshot; l.f is the replaced file's inode.
	old := l.f
	l.f = nil
	old.Close()
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fmt.Errorf("%w: fsync %s after renaming the snapshot: %w", ErrBroken, l.dir, err)
	}
	f, err := l.fs.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("%w: reopen %s: %w", ErrBroken, l.path, err)
	}
	l.f, l.n, l.dirty = f, int64(len(data)), false
	return nil
}

func (l *localLog) close(ctx context.Context) error {
	if l.f == nil {
		return nil
	}
	err := l.flush(ctx)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

func (l *localLog) size() int64 { return l.n }
