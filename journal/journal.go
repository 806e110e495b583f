package journal

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ireports/ireports/objstore"
)

// Errors returned by the package. Those about a journal's content name the file or object
// and the byte offset.
var (
	// ErrCorrupt reports a journal that cannot be read: a bad record in the middle of a file
	// (a torn tail is repaired, not reported), any bad record of an object segment, or a
	// missing segment.
	ErrCorrupt = errors.New("journal: corrupt")
	// ErrVersion reports a journal of a newer format than this build reads, or a record kind
	// it does not know.
	ErrVersion = errors.New("journal: unsupported format version")
	// ErrNotJournal reports a file or object under the journal's directory that does not
	// start with the journal header.
	ErrNotJournal = errors.New("journal: not a journal")
	// ErrBadRecord reports a record that Append refuses (a field out of range, raw JSON that
	// is not JSON, a payload over MaxRecord); the journal is unchanged.
	ErrBadRecord = errors.New("journal: bad record")
	// ErrBadJob reports a job id that cannot name a journal.
	ErrBadJob = errors.New("journal: bad job id")
	// ErrExist reports Create of a job that has a journal already.
	ErrExist = errors.New("journal: job has a journal already")
	// ErrNotExist reports Resume or Replay of a job that has no journal.
	ErrNotExist = errors.New("journal: job has no journal")
	// ErrFenced reports that another writer wrote the segment this one was about to write:
	// two coordinators drive the same job, and this one must stop.
	ErrFenced = errors.New("journal: another writer owns this journal")
	// ErrBroken reports an Append after a failed write or fsync: what reached the disk is
	// unknown, so the journal refuses to write more until it is resumed (which re-reads it).
	ErrBroken = errors.New("journal: broken by an earlier write failure")
	// ErrClosed reports a use of a Journal after Close.
	ErrClosed = errors.New("journal: closed")
)

// Durability says when Append returns.
type Durability uint8

const (
	// Batched: the record is ordered after every earlier one and is made durable by the next
	// Sync record, Flush, Compact or Close. A crash may lose it (on local disk a process
	// crash does not, a machine crash may; on an object store it is held in memory), so it
	// is for records whose loss costs work, not correctness: accepted map tasks, commit
	// progress.
	Batched Durability = iota
	// Sync: Append returns once the record and every earlier one are durable (fsync on local
	// disk, a completed PUT on an object store). For records that gate an action.
	Sync
)

func (d Durability) String() string {
	switch d {
	case Batched:
		return "batched"
	case Sync:
		return "sync"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

// Config says where journals live.
type Config struct {
	// Location is a local directory (the coordinator's data dir: journals go to
	// <Location>/jobs/<job>.journal) or an object-store prefix "s3://bucket/prefix"
	// (segments go to <Location>/jobs/<job>/<n>.seg), which a replacement host can resume
	// from.
	Location string
	// Store reaches an s3:// Location. Required for one; unused for a directory.
	Store objstore.Store
	// MaxBatch is how many bytes of Batched records an object-store journal holds before it
	// writes them as one segment; 0 means DefaultMaxBatch. (On local disk every record is
	// written at once and only the fsync is batched.)
	MaxBatch int
}

// DefaultMaxBatch is Config.MaxBatch's default: about a thousand task records.
const DefaultMaxBatch = 1 << 20

// Dir is the set of job journals at one location. It is safe for concurrent use; a job's
// journal must have one writer (one Journal) at a time, which is the coordinator that drives
// the job.
type Dir struct {
	b backend
}

// backend stores the journals of one location: a local directory, or an object-store
// prefix. It is the only place the two differ. Its methods are safe for concurrent use on
// different jobs.
type backend interface {
	// jobs lists the ids of the jobs that have a journal, sorted.
	jobs(ctx context.Context) ([]string, error)
	// create starts the journal of a job that has none (ErrExist otherwise).
	create(ctx context.Context, job string) (segmentLog, error)
	// open reads a job's journal (ErrNotExist when it has none) and returns its records. For
	// writing (forAppend) it also repairs a torn tail and returns the log positioned after
	// the last good record; otherwise it changes nothing and the log is nil.
	open(ctx context.Context, job string, forAppend bool) (segmentLog, []Record, error)
	// remove deletes a job's journal; removing a missing one succeeds.
	remove(ctx context.Context, job string) error
}

// segmentLog is one job's journal open for writing. Its caller (Journal) serialises calls.
type segmentLog interface {
	// append writes frames (whole, encoded records) after everything written before. With
	// sync it returns once they and all before them are durable.
	append(ctx context.Context, frames []byte, sync bool) error
	// flush makes everything appended durable.
	flush(ctx context.Context) error
	// compact replaces the journal with frame (a Snapshot) atomically: after a crash at any
	// point the journal reads either as before or as the snapshot alone (plus later appends).
	compact(ctx context.Context, frame []byte) error
	// close flushes and releases the log.
	close(ctx context.Context) error
	// size is the bytes written since the journal was created or last compacted.
	size() int64
}

// Open returns the journals at cfg.Location, creating nothing until a journal is created.
func Open(ctx context.Context, cfg Config) (*Dir, error) {
	if cfg.MaxBatch < 0 {
		return nil, fmt.Errorf("journal: MaxBatch = %d is negative", cfg.MaxBatch)
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Location == "" {
		return nil, errors.New("journal: empty Location")
	}
	if objstore.IsS3(cfg.Location) {
		if cfg.Store == nil {
			return nil, fmt.Errorf("journal: Location %s needs a Store", cfg.Location)
		}
		return newObjectDir(cfg.Store, cfg.Location, cfg.MaxBatch)
	}
	return &Dir{b: &localDir{fs: osFS{}, dir: cfg.Location}}, nil
}

// newObjectDir keeps journals under prefix in store. Open calls it for s3:// locations; the
// tests also call it with a local prefix, where objstore.Store has the same contract.
func newObjectDir(store objstore.Store, prefix string, maxBatch int) (*Dir, error) {
	root, err := objstore.Join(prefix, jobsDir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Dir{b: &objectDir{store: store, root: root, maxBatch: maxBatch}}, nil
}

// jobsDir is the directory or prefix under Location that holds the journals.
const jobsDir = "jobs"

// Jobs lists the ids of the jobs that have a journal, sorted. At start-up these are the jobs
// a coordinator resumes (or removes, when the journal ends with Finished or holds no Spec).
func (d *Dir) Jobs(ctx context.Context) ([]string, error) {
	ids, err := d.b.jobs(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	return ids, nil
}

// Create starts the journal of a new job. It fails with ErrExist when the job has one.
func (d *Dir) Create(ctx context.Context, job string) (*Journal, error) {
	if err := CheckJobID(job); err != nil {
		return nil, err
	}
	l, err := d.b.create(ctx, job)
	if err != nil {
		return nil, err
	}
	return &Journal{job: job, log: l}, nil
}

// Resume opens a job's journal to go on writing it, and returns its records in the order
// they were appended (from the last snapshot on). A torn last record on local disk is cut
// off here, so appends continue after the intact prefix. It fails with ErrNotExist when
// the job has no journal, ErrCorrupt or ErrVersion when it cannot be read whole.
func (d *Dir) Resume(ctx context.Context, job string) (*Journal, []Record, error) {
	if err := CheckJobID(job); err != nil {
		return nil, nil, err
	}
	l, recs, err := d.b.open(ctx, job, true)
	if err != nil {
		return nil, nil, err
	}
	return &Journal{job: job, log: l}, recs, nil
}

// Replay returns a job's records in order without changing the journal (a torn tail is
// left in place and not returned). It is for readers such as a status command; the
// coordinator that drives the job uses Resume.
func (d *Dir) Replay(ctx context.Context, job string) ([]Record, error) {
	if err := CheckJobID(job); err != nil {
		return nil, err
	}
	_, recs, err := d.b.open(ctx, job, false)
	return recs, err
}

// Remove deletes a job's journal once the job has ended and its end is recorded where the
// coordinator keeps history (job_runs). Removing a missing journal succeeds.
func (d *Dir) Remove(ctx context.Context, job string) error {
	if err := CheckJobID(job); err != nil {
		return err
	}
	return d.b.remove(ctx, job)
}

// Journal is one job's journal open for appending. It is safe for concurrent use: appends
// are serialised, in the order their calls take the lock.
type Journal struct {
	job string

	mu     sync.Mutex // guards log, err, recs, closed and the calls into log
	log    segmentLog
	err    error // sticky: the write failure that broke the journal
	recs   int   // records since creation or the last Compact
	closed bool
}

// Job is the id of the job the journal belongs to.
func (j *Journal) Job() string { return j.job }

// Append adds rec after every record appended before it and returns once it is written as d
// says. The caller acts on the record only after Append returns nil: that is what makes the
// journal a record of what happened, never of what was about to.
//
// A record that fails validation, or a Spec of another job, is refused with ErrBadRecord and
// the journal is unchanged.
// A failed write or fsync breaks the journal (ErrBroken from then on): resume it to go on.
func (j *Journal) Append(ctx context.Context, rec Record, d Durability) error {
	if s, ok := rec.(*Spec); ok && s != nil && s.Job != j.job {
		return fmt.Errorf("journal %s: %w: spec of job %q", j.job, ErrBadRecord, s.Job)
	}
	// Encode outside the lock: concurrent callers marshal in parallel.
	frame, err := appendFrame(nil, rec)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.job, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if err := j.log.append(ctx, frame, d == Sync); err != nil {
		return j.fail(err)
	}
	j.recs++
	return nil
}

// Flush makes every record appended so far durable, as a Sync append would.
func (j *Journal) Flush(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if err := j.log.flush(ctx); err != nil {
		return j.fail(err)
	}
	return nil
}

// Compact replaces everything appended so far with one Snapshot of state, atomically: after
// a crash at any point Replay returns either the old records or the snapshot (followed by
// what is appended after it). state must be the job's whole state, including what records
// appended Batched and not yet flushed said: they are dropped. Call it when Stats says the
// journal has grown (say past 4 MiB or 10,000 records), at a point where state is consistent.
func (j *Journal) Compact(ctx context.Context, state *Snapshot) error {
	if state != nil && state.At.IsZero() {
		s := *state
		s.At = time.Now().UTC()
		state = &s
	}
	frame, err := appendFrame(nil, state)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.job, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if err := j.log.compact(ctx, frame); err != nil {
		// compact leaves the journal as it was when it fails, except on a failed write of
		// the journal itself, which it reports as ErrBroken.
		if errors.Is(err, ErrBroken) || errors.Is(err, ErrFenced) {
			j.err = err
		}
		return fmt.Errorf("journal %s: compact: %w", j.job, err)
	}
	j.recs = 1
	return nil
}

// Stats describes a journal's size since it was created or last compacted.
type Stats struct {
	Records int   // appended by this Journal (after Resume: since the Resume), plus the snapshot
	Bytes   int64 // of the file, or of the segments since the last snapshot
}

// Stats returns the journal's size, for the caller's decision to Compact.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Stats{Records: j.recs, Bytes: j.log.size()}
}

// Close flushes the journal and releases it. Closing twice succeeds.
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if err := j.log.close(ctx); err != nil {
		return fmt.Errorf("journal %s: close: %w", j.job, err)
	}
	return nil
}

// usable returns why the journal cannot be written, or nil. j.mu must be held.
func (j *Journal) usable() error {
	if j.closed {
		return fmt.Errorf("journal %s: %w", j.job, ErrClosed)
	}
	if j.err != nil {
		// j.err wraps ErrBroken, or ErrFenced.
		return fmt.Errorf("journal %s: %w", j.job, j.err)
	}
	return nil
}

// fail records a write failure: what reached the store is unknown, so the journal stops
// taking records (an object-store log that knows nothing was written says so by not
// wrapping ErrBroken, and stays usable). j.mu must be held.
func (j *Journal) fail(err error) error {
	if errors.Is(err, ErrBroken) || errors.Is(err, ErrFenced) {
		j.err = err
	}
	return fmt.Errorf("journal %s: %w", j.job, err)
}

// CheckJobID refuses a job id that cannot name a journal file or object: empty, longer than
// 200 bytes, starting with a dot, or holding anything but ASCII letters, digits, '.', '_'
// and '-'. Job ids come from job names, which a job file chooses.
func CheckJobID(job string) error {
	if job == "" || len(job) > 200 {
		return fmt.Errorf("%w: %q: must be 1 to 200 bytes", ErrBadJob, job)
	}
	if job[0] == '.' {
		return fmt.Errorf("%w: %q starts with a dot", ErrBadJob, job)
	}
	for i := 0; i < len(job); i++ {
		c := job[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q: byte %d (%q) is not a letter, digit, '.', '_' or '-'", ErrBadJob, job, i, c)
		}
	}
	return nil
}
