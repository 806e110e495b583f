package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// frameStarts returns the byte offsets at which data's frames start, and its length.
func frameStarts(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	off := headerSize
	for off < len(data) {
		end, ok := frameAt(data, off)
		if !ok {
			t.Fatalf("no frame at %d", off)
		}
		offs = append(offs, off)
		off = end
	}
	return append(offs, off)
}

// writtenJournal writes recs (all Sync) as job's journal in a fresh directory and returns
// the directory, the file's path and its bytes.
func writtenJournal(t *testing.T, job string, recs []Record) (*Dir, string, []byte) {
	t.Helper()
	ctx := context.Background()
	f := localFixture(t)
	j, err := f.dir.Create(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := j.Append(ctx, r, Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.location, "jobs", job+".journal")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.dir, path, data
}

// TestTornTail cuts the file at every byte offset inside its last record (and inside its
// header): Replay and Resume return the intact prefix, and an append continues right after
// it.
func TestTornTail(t *testing.T) {
	ctx := context.Background()
	const job = "torn"
	recs := jobRecords(job)
	d, path, full := writtenJournal(t, job, recs)
	offs := frameStarts(t, full)
	last := offs[len(offs)-2] // where the last record starts
	extra := &Phase{State: "after-repair", At: t0}

	check := func(t *testing.T, cut []byte, intact []Record, intactLen int) {
		if err := os.WriteFile(path, cut, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := d.Replay(ctx, job)
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		sameRecords(t, got, intact)
		j, got, err := d.Resume(ctx, job)
		if err != nil {
			t.Fatalf("Resume: %v", err)
		}
		sameRecords(t, got, intact)
		if err := j.Append(ctx, extra, Sync); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, err = d.Replay(ctx, job)
		if err != nil {
			t.Fatalf("Replay after the append: %v", err)
		}
		sameRecords(t, got, append(intact[:len(intact):len(intact)], extra))
		st, _ := os.Stat(path)
		frame, _ := appendFrame(nil, extra)
		if want := int64(intactLen + len(frame)); st.Size() != want {
			t.Fatalf("file is %d bytes after the repair and one append; want %d", st.Size(), want)
		}
	}
	for n := last; n < len(full); n++ {
		t.Run(fmt.Sprintf("cut_at_%d", n), func(t *testing.T) { check(t, full[:n], recs[:len(recs)-1], last) })
	}
	for n := 0; n < headerSize; n++ {
		t.Run(fmt.Sprintf("header_cut_at_%d", n), func(t *testing.T) { check(t, full[:n], nil, headerSize) })
	}
	// The shapes a crash leaves besides a short file: a last record whose bytes never
	// reached the disk (zeros), and a file extended by zero blocks.
	zeroed := append([]byte(nil), full...)
	clear(zeroed[last+frameHeader:])
	t.Run("last_record_zeroed", func(t *testing.T) { check(t, zeroed, recs[:len(recs)-1], last) })
	padded := append(append([]byte(nil), full...), make([]byte, 4096)...)
	t.Run("zero_blocks_after", func(t *testing.T) { check(t, padded, recs, len(full)) })
}

// TestCorruptMiddle damages a record that other records follow: reading fails with
// ErrCorrupt naming the record's byte offset, and Resume leaves the file as it was.
func TestCorruptMiddle(t *testing.T) {
	ctx := context.Background()
	const job = "corrupt"
	d, path, full := writtenJournal(t, job, jobRecords(job))
	offs := frameStarts(t, full)
	k := offs[4] // the fifth record: a map task accepted
	cases := []struct {
		name string
		at   int
		want string
	}{
		{"payload byte", k + frameHeader + 10, "CRC mismatch"},
		{"crc byte", k + 5, "CRC mismatch"},
		{"kind byte", k + 8, "CRC mismatch"},
		{"length low byte", k, ""},
		{"length high byte", k + 3, "over MaxRecord"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := append([]byte(nil), full...)
			bad[c.at] ^= 0x40
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := d.Replay(ctx, job)
			wantOff := fmt.Sprintf("byte offset %d", k)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), wantOff) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Replay: %v; want ErrCorrupt at %s (%s)", err, wantOff, c.want)
			}
			if _, _, err := d.Resume(ctx, job); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Resume: %v; want ErrCorrupt", err)
			}
			if now, _ := os.ReadFile(path); string(now) != string(bad) {
				t.Fatal("Resume changed a corrupt journal")
			}
		})
	}
}

// TestFormatErrors covers the header and a record kind from the future.
func TestFormatErrors(t *testing.T) {
	ctx := context.Background()
	const job = "format"
	d, path, full := writtenJournal(t, job, jobRecords(job)[:3])
	withVersion := func(v uint32) []byte {
		b := append([]byte(nil), full...)
		binary.LittleEndian.PutUint32(b[len(magic):], v)
		return b
	}
	unknownKind := append([]byte(nil), full...)
	unknownKind = append(unknownKind, 2, 0, 0, 0, 0, 0, 0, 0, 200, '{', '}')
	binary.LittleEndian.PutUint32(unknownKind[len(full)+4:], frameCRC(unknownKind[len(full):]))
	badJSON := append([]byte(nil), full...)
	badJSON = append(badJSON, 2, 0, 0, 0, 0, 0, 0, 0, byte(KindPhase), '[', ']')
	binary.LittleEndian.PutUint32(badJSON[len(full)+4:], frameCRC(badJSON[len(full):]))
	invalid := append([]byte(nil), full...)
	invalid = append(invalid, 2, 0, 0, 0, 0, 0, 0, 0, byte(KindPhase), '{', '}')
	binary.LittleEndian.PutUint32(invalid[len(full)+4:], frameCRC(invalid[len(full):]))
	cases := []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"newer version", withVersion(2), ErrVersion, "format version 2; this build reads versions up to 1"},
		{"version 0", withVersion(0), ErrCorrupt, "format version 0"},
		{"not a journal", []byte("id,city\n1,austin\n"), ErrNotJournal, "no journal header"},
		{"unknown kind", unknownKind, ErrVersion, fmt.Sprintf("byte offset %d: journal: unsupported format version: record kind 200", len(full))},
		{"payload not an object", badJSON, ErrCorrupt, fmt.Sprintf("byte offset %d", len(full))},
		{"payload fails validation", invalid, ErrCorrupt, "phase record: empty state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := d.Replay(ctx, job)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Replay: %v; want %v with %q", err, c.is, c.want)
			}
			if _, _, err := d.Resume(ctx, job); !errors.Is(err, c.is) {
				t.Fatalf("Resume: %v; want %v", err, c.is)
			}
		})
	}
}

// fakeFS is the OS file system with its fsyncs counted and chosen calls failing.
type fakeFS struct {
	osFS
	mu         sync.Mutex         // guards everything below
	syncs      map[string]int     // file fsyncs by base name
	dirSyncs   map[string]int     // directory fsyncs by path
	failSync   error              // returned by every file fsync when set
	failRename error              // returned by Rename when set
	failDir    func(string) error // called before each directory fsync
}

func newFakeFS() *fakeFS {
	return &fakeFS{syncs: map[string]int{}, dirSyncs: map[string]int{}}
}

func (f *fakeFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	of, err := f.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &fakeFile{file: of, fs: f, name: filepath.Base(name)}, nil
}

func (f *fakeFS) Rename(from, to string) error {
	f.mu.Lock()
	err := f.failRename
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.osFS.Rename(from, to)
}

func (f *fakeFS) SyncDir(dir string) error {
	f.mu.Lock()
	fail := f.failDir
	f.dirSyncs[dir]++
	f.mu.Unlock()
	if fail != nil {
		if err := fail(dir); err != nil {
			return err
		}
	}
	return f.osFS.SyncDir(dir)
}

func (f *fakeFS) counts(name, dir string) (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs[name], f.dirSyncs[dir]
}

type fakeFile struct {
	file
	fs   *fakeFS
	name string
}

func (f *fakeFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.failSync
	if err == nil {
		f.fs.syncs[f.name]++
	}
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.file.Sync()
}

func fakeDir(t *testing.T) (*Dir, *fakeFS, string) {
	loc := t.TempDir()
	ffs := newFakeFS()
	return &Dir{b: &localDir{fs: ffs, dir: loc}}, ffs, loc
}

// TestFsync counts the fsyncs: the file and both directories at Create, one per Sync
// record or Flush with something unsynced, none for Batched records; the temporary file and
// the directory at Compact.
func TestFsync(t *testing.T) {
	ctx := context.Background()
	d, ffs, loc := fakeDir(t)
	jobs := filepath.Join(loc, "jobs")
	const job = "fsync"
	name := job + ".journal"
	step := func(what string, fn func() error, wantFile, wantDir int) {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if f, dir := ffs.counts(name, jobs); f != wantFile || dir != wantDir {
			t.Fatalf("after %s: %d file fsyncs, %d of %s; want %d and %d", what, f, dir, jobs, wantFile, wantDir)
		}
	}
	var j *Journal
	step("Create", func() (err error) { j, err = d.Create(ctx, job); return err }, 1, 1)
	if _, dir := ffs.counts("", loc); dir != 1 {
		t.Fatalf("Create fsynced %s %d times; want 1 (the new jobs directory's entry)", loc, dir)
	}
	rec := &Phase{State: "map", At: t0}
	step("3 Batched appends", func() error {
		for range 3 {
			if err := j.Append(ctx, rec, Batched); err != nil {
				return err
			}
		}
		return nil
	}, 1, 1)
	step("a Sync append", func() error { return j.Append(ctx, rec, Sync) }, 2, 1)
	step("Flush with nothing new", func() error { return j.Flush(ctx) }, 2, 1)
	step("Batched then Flush", func() error {
		if err := j.Append(ctx, rec, Batched); err != nil {
			return err
		}
		return j.Flush(ctx)
	}, 3, 1)
	step("Compact", func() error { return j.Compact(ctx, &Snapshot{State: json.RawMessage(`{}`)}) }, 3, 2)
	if f, _ := ffs.counts("."+job+".compact", jobs); f != 1 {
		t.Fatalf("the snapshot's temporary file was fsynced %d times; want 1", f)
	}
	step("Batched then Close", func() error {
		if err := j.Append(ctx, rec, Batched); err != nil {
			return err
		}
		return j.Close(ctx)
	}, 4, 2)
}

// TestFsyncFailure: a failed fsync breaks the journal, since a retried fsync could succeed
// over pages the kernel dropped; Resume re-reads it and goes on.
func TestFsyncFailure(t *testing.T) {
	ctx := context.Background()
	d, ffs, _ := fakeDir(t)
	j, err := d.Create(ctx, "broken")
	if err != nil {
		t.Fatal(err)
	}
	first := &Phase{State: "map", At: t0}
	if err := j.Append(ctx, first, Sync); err != nil {
		t.Fatal(err)
	}
	ffs.failSync = errors.New("EIO")
	second := &Phase{State: "reduce", At: t0}
	if err := j.Append(ctx, second, Sync); !errors.Is(err, ErrBroken) {
		t.Fatalf("Append with a failing fsync: %v; want ErrBroken", err)
	}
	ffs.failSync = nil
	if err := j.Append(ctx, second, Batched); !errors.Is(err, ErrBroken) {
		t.Fatalf("Append after a failed fsync: %v; want ErrBroken", err)
	}
	j.Close(ctx)
	j, got, err := d.Resume(ctx, "broken")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(ctx)
	// The second record's write reached the file; only its durability was in doubt.
	sameRecords(t, got, []Record{first, second})
	if err := j.Append(ctx, first, Sync); err != nil {
		t.Fatalf("Append after Resume: %v", err)
	}
}

// TestCompactCrashLocal interrupts a compaction at each step: before the rename the old
// journal stands; after it, the snapshot.
func TestCompactCrashLocal(t *testing.T) {
	ctx := context.Background()
	const job = "crash"
	recs := jobRecords(job)[:6]
	snap := &Snapshot{State: json.RawMessage(`{"phase":"map"}`), At: t0}
	more := &Phase{State: "reduce", At: t0}

	t.Run("rename fails", func(t *testing.T) {
		d, ffs, loc := fakeDir(t)
		j, err := d.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, j, recs)
		ffs.failRename = errors.New("crash before rename")
		if err := j.Compact(ctx, snap); err == nil || errors.Is(err, ErrBroken) {
			t.Fatalf("Compact with a failing rename: %v; want an error that does not break the journal", err)
		}
		if _, err := os.Stat(filepath.Join(loc, "jobs", "."+job+".compact")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the snapshot's temporary file is left: %v", err)
		}
		if err := j.Append(ctx, more, Sync); err != nil {
			t.Fatal(err)
		}
		j.Close(ctx)
		got, err := d.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, append(recs[:len(recs):len(recs)], more))
	})

	t.Run("killed before rename", func(t *testing.T) {
		d, _, loc := fakeDir(t)
		j, err := d.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, j, recs)
		j.Close(ctx)
		// What a kill between writing the snapshot and renaming it leaves.
		temp := filepath.Join(loc, "jobs", "."+job+".compact")
		frame, _ := appendFrame(header(), snap)
		if err := os.WriteFile(temp, frame, 0o600); err != nil {
			t.Fatal(err)
		}
		if ids, _ := d.Jobs(ctx); len(ids) != 1 {
			t.Fatalf("Jobs = %v; the temporary file must not list as a job", ids)
		}
		j, got, err := d.Resume(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		j.Close(ctx)
		sameRecords(t, got, recs)
		if _, err := os.Stat(temp); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Resume left the stale snapshot: %v", err)
		}
	})

	t.Run("directory fsync fails after rename", func(t *testing.T) {
		d, ffs, _ := fakeDir(t)
		j, err := d.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, j, recs)
		ffs.failDir = func(string) error { return errors.New("EIO") }
		if err := j.Compact(ctx, snap); !errors.Is(err, ErrBroken) {
			t.Fatalf("Compact: %v; want ErrBroken", err)
		}
		if err := j.Append(ctx, more, Sync); !errors.Is(err, ErrBroken) {
			t.Fatalf("Append after a broken compaction: %v; want ErrBroken", err)
		}
		j.Close(ctx)
		ffs.failDir = nil
		j, got, err := d.Resume(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close(ctx)
		sameRecords(t, got, []Record{snap})
	})
}

// TestCreateFailure: a Create whose directory fsync fails leaves no journal behind.
func TestCreateFailure(t *testing.T) {
	ctx := context.Background()
	d, ffs, _ := fakeDir(t)
	ffs.failDir = func(string) error { return errors.New("EIO") }
	if _, err := d.Create(ctx, "nodir"); err == nil {
		t.Fatal("Create succeeded with a failing directory fsync")
	}
	ffs.failDir = nil
	if ids, err := d.Jobs(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("Jobs = %v, %v after a failed Create; want none", ids, err)
	}
}
