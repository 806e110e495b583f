package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ireports/ireports/objstore"
)

// faultStore is a Store whose chosen calls fail as a crash or an outage would make them.
type faultStore struct {
	objstore.Store
	mu sync.Mutex // guards the fields below
	// failPut fails CreateExclusive before writing (the request never arrived).
	failPut error
	// losePut writes and then fails (the response was lost).
	losePut error
	// failDelete fails Delete.
	failDelete error
	puts       int
}

func (s *faultStore) CreateExclusive(ctx context.Context, name string, b []byte) error {
	s.mu.Lock()
	fail, lose := s.failPut, s.losePut
	s.puts++
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	if err := s.Store.CreateExclusive(ctx, name, b); err != nil {
		return err
	}
	return lose
}

func (s *faultStore) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	err := s.failDelete
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.Delete(ctx, name)
}

func (s *faultStore) set(fn func(s *faultStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// objectFixtures runs fn on the object backend over local disk and over gofakes3, through
// a faultStore.
func objectFixtures(t *testing.T, fn func(t *testing.T, d *Dir, fs *faultStore, f fixture)) {
	for _, mk := range []func(*testing.T) fixture{objectsOnDisk, fakeS3Fixture} {
		f := mk(t)
		t.Run(f.name, func(t *testing.T) {
			fs := &faultStore{Store: f.store}
			d, err := newObjectDir(fs, f.location, 256)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, d, fs, f)
		})
	}
}

func segName(t *testing.T, f fixture, job string, n int64) string {
	t.Helper()
	name, err := objstore.Join(f.location, jobsDir, job, segmentBase(n))
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// TestObjectBatching: Batched records wait for a Sync record or MaxBatch bytes, and each
// flush is one segment.
func TestObjectBatching(t *testing.T) {
	objectFixtures(t, func(t *testing.T, d *Dir, fs *faultStore, f fixture) {
		ctx := context.Background()
		j, err := d.Create(ctx, "batch")
		if err != nil {
			t.Fatal(err)
		}
		small := &Phase{State: "m", At: t0}
		if err := j.Append(ctx, small, Batched); err != nil {
			t.Fatal(err)
		}
		if fs.puts != 0 {
			t.Fatalf("%d PUTs after one Batched record; want 0", fs.puts)
		}
		if _, _, err := d.Resume(ctx, "batch"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("Resume before the first flush: %v; want ErrNotExist", err)
		}
		if err := j.Append(ctx, small, Sync); err != nil {
			t.Fatal(err)
		}
		if fs.puts != 1 {
			t.Fatalf("%d PUTs after a Sync record; want 1", fs.puts)
		}
		// MaxBatch is 256 bytes here: a few records fill it.
		for range 10 {
			if err := j.Append(ctx, &Phase{State: strings.Repeat("x", 100), At: t0}, Batched); err != nil {
				t.Fatal(err)
			}
		}
		if fs.puts < 3 {
			t.Fatalf("%d PUTs after 10 Batched records of 100+ bytes with MaxBatch 256; want at least 3", fs.puts)
		}
		if err := j.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := d.Replay(ctx, "batch")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 12 {
			t.Fatalf("%d records, want 12", len(got))
		}
	})
}

// TestObjectLostResponse: a PUT that landed but whose response was lost is recognised on the
// retry, not taken for another writer's segment, and no record is lost or doubled.
func TestObjectLostResponse(t *testing.T) {
	objectFixtures(t, func(t *testing.T, d *Dir, fs *faultStore, f fixture) {
		ctx := context.Background()
		j, err := d.Create(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		a, b := &Phase{State: "a", At: t0}, &Phase{State: "b", At: t0}
		fs.set(func(s *faultStore) { s.losePut = errors.New("connection reset") })
		if err := j.Append(ctx, a, Sync); err == nil || errors.Is(err, ErrBroken) {
			t.Fatalf("Append with a lost response: %v; want a retryable error", err)
		}
		fs.set(func(s *faultStore) { s.losePut = nil })
		if err := j.Append(ctx, b, Sync); err != nil {
			t.Fatalf("Append after the lost response: %v", err)
		}
		j.Close(ctx)
		got, err := d.Replay(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{a, b})
	})
}

// TestObjectPutFailure: a PUT that never arrived is retried with the next flush.
func TestObjectPutFailure(t *testing.T) {
	objectFixtures(t, func(t *testing.T, d *Dir, fs *faultStore, f fixture) {
		ctx := context.Background()
		j, err := d.Create(ctx, "outage")
		if err != nil {
			t.Fatal(err)
		}
		a, b := &Phase{State: "a", At: t0}, &Phase{State: "b", At: t0}
		fs.set(func(s *faultStore) { s.failPut = errors.New("503 SlowDown") })
		if err := j.Append(ctx, a, Sync); err == nil {
			t.Fatal("Append succeeded with every PUT failing")
		}
		fs.set(func(s *faultStore) { s.failPut = nil })
		if err := j.Append(ctx, b, Sync); err != nil {
			t.Fatal(err)
		}
		j.Close(ctx)
		got, err := d.Replay(ctx, "outage")
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{a, b})
	})
}

// TestObjectFenced: two coordinators on one job; the one that writes second is fenced off
// and stays so.
func TestObjectFenced(t *testing.T) {
	objectFixtures(t, func(t *testing.T, d *Dir, fs *faultStore, f fixture) {
		ctx := context.Background()
		old, err := d.Create(ctx, "twice")
		if err != nil {
			t.Fatal(err)
		}
		first := &Phase{State: "map", At: t0}
		if err := old.Append(ctx, first, Sync); err != nil {
			t.Fatal(err)
		}
		// A replacement coordinator resumes while the old one is still alive.
		repl, got, err := d.Resume(ctx, "twice")
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{first})
		mine := &Phase{State: "reduce", At: t0}
		if err := repl.Append(ctx, mine, Sync); err != nil {
			t.Fatal(err)
		}
		if err := old.Append(ctx, &Phase{State: "stale", At: t0}, Sync); !errors.Is(err, ErrFenced) {
			t.Fatalf("the old writer's Append: %v; want ErrFenced", err)
		}
		if err := old.Append(ctx, &Phase{State: "stale", At: t0}, Sync); !errors.Is(err, ErrFenced) {
			t.Fatalf("the old writer's next Append: %v; want ErrFenced", err)
		}
		got, err = d.Replay(ctx, "twice")
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{first, mine})
	})
}

// TestObjectCorrupt: a segment that fails its CRC anywhere, even in its last record (a PUT
// is atomic, so nothing is torn), a missing segment and a newer version are errors naming
// the object.
func TestObjectCorrupt(t *testing.T) {
	objectFixtures(t, func(t *testing.T, d *Dir, fs *faultStore, f fixture) {
		ctx := context.Background()
		const job = "damaged"
		j, err := d.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range jobRecords(job)[:3] {
			if err := j.Append(ctx, r, Sync); err != nil {
				t.Fatal(err)
			}
		}
		j.Close(ctx)
		seg2 := segName(t, f, job, 2)
		orig, err := objstore.ReadAll(ctx, f.store, seg2)
		if err != nil {
			t.Fatal(err)
		}
		put := func(b []byte) {
			t.Helper()
			if err := objstore.WriteAll(ctx, f.store, seg2, b); err != nil {
				t.Fatal(err)
			}
		}
		flipped := append([]byte(nil), orig...)
		flipped[len(flipped)-2] ^= 1
		newer := append([]byte(nil), orig...)
		binary.LittleEndian.PutUint32(newer[len(magic):], Version+1)
		cases := []struct {
			name string
			data []byte // segment 2's bytes; nil deletes it
			is   error
			want string
		}{
			{"last byte flipped", flipped, ErrCorrupt, fmt.Sprintf("%s: byte offset %d: CRC mismatch", seg2, headerSize)},
			{"cut short", orig[:len(orig)-3], ErrCorrupt, fmt.Sprintf("%s: byte offset %d: record length", seg2, headerSize)},
			{"newer version", newer, ErrVersion, seg2 + " is format version 2"},
			{"missing", nil, ErrCorrupt, seg2 + " is missing"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if c.data == nil {
					if err := f.store.Delete(ctx, seg2); err != nil {
						t.Fatal(err)
					}
				} else {
					put(c.data)
				}
				_, err := d.Replay(ctx, job)
				if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Replay: %v; want %v with %q", err, c.is, c.want)
				}
				if _, _, err := d.Resume(ctx, job); !errors.Is(err, c.is) {
					t.Fatalf("Resume: %v; want %v", err, c.is)
				}
				put(orig)
			})
		}
		// Without segment 1 and no snapshot after it, the start of the journal is lost.
		if err := f.store.Delete(ctx, segName(t, f, job, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Replay(ctx, job); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "no later segment holds a snapshot") {
			t.Fatalf("Replay without segment 1: %v; want ErrCorrupt", err)
		}
	})
}

// TestObjectCompactCrash interrupts a compaction: a snapshot PUT that fails leaves the old
// records (and is written by the next flush if the process lives); deletes that fail leave
// superseded segments that Replay skips and the next Compact removes.
func TestObjectCompactCrash(t *testing.T) {
	objectFixtures(t, func(t *testing.T, d *Dir, fs *faultStore, f fixture) {
		ctx := context.Background()
		const job = "ccrash"
		recs := jobRecords(job)[:6]
		snap := &Snapshot{State: json.RawMessage(`{"phase":"map"}`), At: t0}
		more := &Phase{State: "reduce", At: t0}

		j, err := d.Create(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, j, recs)
		if err := j.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		pending := &Phase{State: "batched-before-compact", At: t0}
		if err := j.Append(ctx, pending, Batched); err != nil {
			t.Fatal(err)
		}
		fs.set(func(s *faultStore) { s.failPut = errors.New("killed before the PUT") })
		if err := j.Compact(ctx, snap); err == nil {
			t.Fatal("Compact succeeded with the PUT failing")
		}
		// Killed here: the journal reads as before the compaction.
		got, err := d.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, recs)

		// Not killed: the next flush writes the snapshot, then what followed it.
		fs.set(func(s *faultStore) { s.failPut = nil; s.failDelete = errors.New("killed before the deletes") })
		if err := j.Append(ctx, more, Sync); err != nil {
			t.Fatal(err)
		}
		got, err = d.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{snap, more})

		// A compaction whose deletes fail: the snapshot stands, the old segments stay.
		snap2 := &Snapshot{State: json.RawMessage(`{"phase":"reduce"}`), At: t0}
		if err := j.Compact(ctx, snap2); err == nil || !strings.Contains(err.Error(), "killed before the deletes") {
			t.Fatalf("Compact with failing deletes: %v", err)
		}
		j.Close(ctx)
		j, got, err = d.Resume(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{snap2})
		segs, _ := d.b.(*objectDir).segments(ctx, job)
		if len(segs) < 2 {
			t.Fatalf("%d segments; the failed deletes should have left superseded ones", len(segs))
		}
		fs.set(func(s *faultStore) { s.failDelete = nil })
		snap3 := &Snapshot{State: json.RawMessage(`{"phase":"commit"}`), At: t0}
		if err := j.Compact(ctx, snap3); err != nil {
			t.Fatal(err)
		}
		j.Close(ctx)
		if segs, _ := d.b.(*objectDir).segments(ctx, job); len(segs) != 1 {
			t.Fatalf("%d segments after a clean compaction; want 1", len(segs))
		}
		got, err = d.Replay(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, []Record{snap3})
	})
}
