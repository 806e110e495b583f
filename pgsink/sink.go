package pgsink

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// PublishLockKey is the pg_advisory_xact_lock key that serializes publishers. Without it two
// transactions replacing the same group would both delete the old rows and then collide on
// each other's new ones. A publish holds it until its commit (viz looks for it in pg_locks).
const PublishLockKey = migrationLockKey + 1

// Config sets how a Sink retries and batches. Start from DefaultConfig.
type Config struct {
	// RetryDeadline is how long one operation keeps retrying while Postgres is unreachable,
	// counted from its first attempt; then it fails with ErrUnavailable. Zero means a single
	// attempt.
	RetryDeadline time.Duration
	// BackoffInitial is the pause after the first failed attempt. Pauses double up to
	// BackoffMax; each is drawn uniformly from [pause/2, pause].
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// ConnectTimeout bounds getting a connection at the start of an attempt: a server
	// behind a firewall that drops packets would otherwise hang the attempt far past
	// RetryDeadline. Zero means unbounded.
	ConnectTimeout time.Duration
	// AttemptTimeout bounds one whole attempt (connect, load, COPY, commit), so a server
	// that hangs mid-transaction is retried too. It must exceed the time a whole publish
	// takes. Zero means unbounded.
	AttemptTimeout time.Duration
	// BatchRows is how many summary rows Publish buffers before it copies them to the
	// server; it encodes the next batch while the server loads one, and reads as many rows
	// ahead from the lake: memory stays bounded (about three batches) however many groups
	// a job has, round trips are few, and neither side waits for the other.
	BatchRows int
	// Readers is how many groups Publish reads at once (load calls in flight); zero or one:
	// one at a time. A lake on S3 wants many: each of a group's four summary files is a
	// request, and one at a time a publish would wait for thousands of round trips. On a
	// local disk the reads are CPU, and more readers only take the cores the server needs:
	// on a 2-core machine the COPY of `make demo`'s publish took 8.4-13.3 s with four
	// readers, 6.4-9.4 s with one.
	Readers int
	// Log receives a warning per retried failure. Nil means slog.Default().
	Log *slog.Logger
	// Progress, if set, is called on Publish's goroutine after each group's rows are loaded
	// (read and sent or queued for COPY), and once more when every row is copied (Finishing),
	// so that a long publish can show how far it has come. It must not block.
	Progress func(PublishProgress)
}

// PublishProgress is how far one attempt of Publish has come. A retried attempt starts
// again from no group, with Attempt one higher.
type PublishProgress struct {
	Attempt     int   // 1 for the first attempt
	Groups      int   // groups loaded so far
	GroupsTotal int   // groups the publish replaces
	Rows        int64 // summary rows of the groups loaded
	// Finishing: every row is copied, and the indexes dropped for the load are being built
	// and the transaction committed, a third of a large publish's time.
	Finishing bool
}

// DefaultConfig retries for two minutes, pausing 0.2 s at first and at most 10 s, gives one
// attempt ten seconds to connect and ten minutes in all, and reads one group at a time.
func DefaultConfig() Config {
	return Config{
		RetryDeadline:  2 * time.Minute,
		BackoffInitial: 200 * time.Millisecond,
		BackoffMax:     10 * time.Second,
		ConnectTimeout: 10 * time.Second,
		AttemptTimeout: 10 * time.Minute,
		BatchRows:      64 << 10,
		Readers:        1,
	}
}

func (c Config) validate() error {
	switch {
	case c.RetryDeadline < 0:
		return fmt.Errorf("%w: RetryDeadline %v < 0", ErrConfig, c.RetryDeadline)
	case c.BackoffInitial <= 0:
		return fmt.Errorf("%w: BackoffInitial %v must be > 0", ErrConfig, c.BackoffInitial)
	case c.BackoffMax < c.BackoffInitial:
		return fmt.Errorf("%w: BackoffMax %v < BackoffInitial %v", ErrConfig, c.BackoffMax, c.BackoffInitial)
	case c.ConnectTimeout < 0:
		return fmt.Errorf("%w: ConnectTimeout %v < 0", ErrConfig, c.ConnectTimeout)
	case c.AttemptTimeout < 0:
		return fmt.Errorf("%w: AttemptTimeout %v < 0", ErrConfig, c.AttemptTimeout)
	case c.BatchRows <= 0:
		return fmt.Errorf("%w: BatchRows %d must be > 0", ErrConfig, c.BatchRows)
	case c.Readers < 0:
		return fmt.Errorf("%w: Readers %d < 0", ErrConfig, c.Readers)
	}
	return nil
}

// JobRun is a job_runs row: one run of a job and its outcome.
type JobRun struct {
	ID              string    // job run id, the primary key
	Name            string    // the job's name
	Status          string    // running, succeeded, failed, cancelled
	Started         time.Time // required
	Finished        time.Time // zero: not finished
	RecordsIn       int64
	RecordsOut      int64
	RecordsRejected int64
	Duplicates      int64 // duplicate versions removed by de-duplication
	Groups          int   // (city, month) groups produced
	Error           string
}

// LoadFunc returns the summary rows of group k, every row carrying k's city, year and month.
// Publish calls it once per group per attempt, inside its transaction, so it must return the
// same rows each time. The calls come from goroutines of Publish's, up to Config.Readers at
// once, so it must be safe for concurrent use; they take the groups in group order, a few
// groups ahead of the COPY, and none outlives its attempt.
type LoadFunc func(k record.Key) (summary.Tables, error)

// Sink publishes summaries to one database. It is safe for concurrent use; it does not own
// the *sql.DB.
type Sink struct {
	db  *sql.DB
	cfg Config
}

// New returns a Sink writing to db, or ErrConfig when cfg is invalid.
func New(db *sql.DB, cfg Config) (*Sink, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Sink{db: db, cfg: cfg}, nil
}

// Migrate applies the pending schema migrations (see the package function Migrate), retrying
// while Postgres is unreachable.
func (s *Sink) Migrate(ctx context.Context) error {
	return s.cfg.retry(ctx, "update the schema", func(ctx context.Context) error {
		conn, err := s.conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return migrate(ctx, conn)
	})
}

// conn takes a connection from the pool, dialing within ConnectTimeout if it must.
func (s *Sink) conn(ctx context.Context) (*sql.Conn, error) {
	if s.cfg.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ConnectTimeout)
		defer cancel()
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// RecordRun upserts job's job_runs row without publishing anything, and leaves its
// published_at as it was: for runs that failed, are still running, or whose summaries could
// not be published yet.
func (s *Sink) RecordRun(ctx context.Context, job JobRun) error {
	return s.cfg.retry(ctx, "record job run "+job.ID, func(ctx context.Context) error {
		conn, err := s.conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.ExecContext(ctx, upsertRun(false), runArgs(job)...)
		return err
	})
}

// Publish replaces the summary rows of exactly the given groups with the rows load returns,
// and upserts job's job_runs row with published_at set, in one transaction. Retried attempts
// start over, so a failed Publish leaves the tables as they were.
// A group listed twice is published once.
func (s *Sink) Publish(ctx context.Context, job JobRun, groups []record.Key, load LoadFunc) error {
	return s.PublishEncoded(ctx, job, groups, nil, load)
}

// EncodedFunc returns group k's rows as its reducer encoded them for the publish (its
// publish file: see lake.PublishDir and LakeEncoded), or ok false when there are none.
type EncodedFunc func(k record.Key) (g *pgcopy.Group, ok bool, err error)

// PublishEncoded is Publish for groups whose rows may come encoded already: the groups for
// which encoded returns rows are sent as they are, the others are loaded with load and
// encoded here. A group whose encoded rows cannot be read (an error) is loaded with load, with
// a warning. encoded may be nil.
func (s *Sink) PublishEncoded(ctx context.Context, job JobRun, groups []record.Key, encoded EncodedFunc, load LoadFunc) error {
	// The first unusable publish file of an attempt is logged, the others counted: a lake
	// whose _publish/ was deleted would log a line per group.
	var unusable atomic.Int64
	read := func(k record.Key) loaded {
		if encoded != nil {
			g, ok, err := encoded(k)
			if err == nil && ok {
				return loaded{k: k, enc: g, rows: g.SummaryRows}
			}
			if err != nil && unusable.Add(1) == 1 {
				s.cfg.Log.Warn("publish: the group's publish file is unusable; its summary files are read instead (so for every such group; the count follows)",
					"job", cleanText(job.ID), "group", cleanText(k.String()), "err", err)
			}
		}
		return loadRows(k, load)
	}
	defer func() {
		if n := unusable.Load(); n > 0 {
			s.cfg.Log.Warn("publish: groups read from their summary files because their publish files were unusable",
				"job", cleanText(job.ID), "groups", n)
		}
	}()
	groups = slices.Clone(groups)
	slices.SortFunc(groups, compareKeys)
	groups = slices.Compact(groups)
	pr := PublishProgress{GroupsTotal: len(groups)}
	return s.cfg.retry(ctx, "publish job "+job.ID, func(ctx context.Context) error {
		pr.Attempt, pr.Groups, pr.Rows, pr.Finishing = pr.Attempt+1, 0, 0, false
		unusable.Store(0)
		conn, err := s.conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return s.publish(ctx, conn, job, groups, read, &pr)
	})
}

func compareKeys(a, b record.Key) int {
	return cmp.Or(cmp.Compare(a.City, b.City), cmp.Compare(a.Year, b.Year), cmp.Compare(a.Month, b.Month))
}

func (s *Sink) publish(ctx context.Context, conn *sql.Conn, job JobRun, groups []record.Key, read func(record.Key) loaded, pr *PublishProgress) (err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// Reading the lake's summaries overlaps with the server's work from here on.
	next, done, stop := prefetch(groups, read, s.cfg.BatchRows, s.cfg.Readers)
	defer stop()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", PublishLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	// Where the attempt's time goes, for the log line of a successful publish.
	start := time.Now()
	var took [4]time.Duration // clear, load, index, commit
	lap := func(i int) { took[i] = time.Since(start) - took[0] - took[1] - took[2] - took[3] }
	rb, err := clearGroups(ctx, tx, groups)
	if err != nil {
		return err
	}
	lap(0)
	// The batch being filled, and the one being copied meanwhile by a goroutine of this
	// attempt (see sendAsync); the server loads one while the next is encoded.
	b, spare := newBatch(rb.truncated), newBatch(rb.truncated)
	var sending *sender
	defer func() {
		if sending != nil {
			sending.wait()
		}
	}()
	// flush hands b over for copying once the previous batch is in.
	flush := func() error {
		if sending != nil {
			done := sending
			sending = nil
			if err := done.wait(); err != nil {
				return err
			}
			spare = done.b
		}
		sending = sendAsync(ctx, conn, b)
		b, spare = spare, nil
		return nil
	}
	encoded := 0 // groups sent as their publish files encoded them
	for range groups {
		g := next()
		k, t := g.k, &g.t
		if g.err != nil {
			return fmt.Errorf("load group %s: %w", k, g.err)
		}
		queued := b.rows()
		if g.enc != nil {
			b.Append(g.enc)
			encoded++
		} else {
			if err := pgcopy.CheckGroup(k, t); err != nil {
				return err
			}
			if n := cleanGroup(t); n > 0 {
				s.cfg.Log.Warn("publish: summary text that PostgreSQL cannot store (NUL or invalid UTF-8) was replaced by U+FFFD",
					"job", cleanText(job.ID), "group", cleanText(k.String()), "rows", n)
			}
			if err := b.Encode(k, t); err != nil {
				return err
			}
		}
		done(g.rows)
		pr.Groups, pr.Rows = pr.Groups+1, pr.Rows+int64(b.rows()-queued)
		if b.rows() >= s.cfg.BatchRows {
			if err := flush(); err != nil {
				return err
			}
		}
		if s.cfg.Progress != nil {
			s.cfg.Progress(*pr)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	err, sending = sending.wait(), nil
	if err != nil {
		return err
	}
	lap(1)
	if s.cfg.Progress != nil {
		pr.Finishing = true
		s.cfg.Progress(*pr)
	}
	if err := rb.restore(ctx, tx); err != nil {
		return err
	}
	lap(2)
	if _, err := tx.ExecContext(ctx, upsertRun(true), runArgs(job)...); err != nil {
		return fmt.Errorf("record job run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	lap(3)
	s.cfg.Log.Info("publish: summaries loaded", "job", cleanText(job.ID), "groups", pr.Groups, "encoded_groups", encoded, "rows", pr.Rows,
		"rebuilt_tables", len(rb.truncated), "indexes_rebuilt", len(rb.indexes),
		"clear", took[0].Round(time.Millisecond), "copy", took[1].Round(time.Millisecond),
		"index", took[2].Round(time.Millisecond), "commit", took[3].Round(time.Millisecond))
	return nil
}

// sender is one batch being copied to the server by a goroutine of its own.
type sender struct {
	b    *batch
	err  error
	done chan struct{}
}

// sendAsync copies b's rows to their tables on conn in a new goroutine and returns at once;
// wait returns the outcome. Until then the caller must not touch conn, its transaction or
// b: it encodes the next batch meanwhile, which the server would otherwise wait for. The
// goroutine ends when the COPYs do, which ctx bounds.
func sendAsync(ctx context.Context, conn *sql.Conn, b *batch) *sender {
	s := &sender{b: b, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = b.send(ctx, conn)
	}()
	return s
}

// wait waits for the copy to end and returns its error.
func (s *sender) wait() error {
	<-s.done
	return s.err
}

// loaded is one group's summaries, as rows or encoded, or why they could not be read.
type loaded struct {
	k    record.Key
	t    summary.Tables
	enc  *pgcopy.Group // the group's rows encoded already, when set; t is empty then
	rows int           // the summary rows read: what done gives back
	err  error
}

// loadRows loads group k's rows with load.
func loadRows(k record.Key, load LoadFunc) loaded {
	t, err := load(k)
	return loaded{k: k, t: t, rows: len(t.Monthly) + len(t.AgencyDaily) + len(t.Heat) + len(t.Geo), err: err}
}

// prefetch calls read for each group on readers goroutines of its own and hands the
// results to next in group order, one per call, up to the first error. More than one reader
// is for stores where a read is mostly waiting (see Config.Readers).
//
// A reader takes the next group only while the groups read and not yet done (see done) hold
// fewer than aheadRows rows: with aheadRows a batch, the next batch is read while the server
// loads this one, and at most readers groups more are held. The caller must call done for
// each group next returns before it asks for more than aheadRows rows ahead. After an error
// no more groups are taken; next returns the groups before it, then the error. stop ends the
// readers and waits for them (a read under way finishes first), so no call of read outlives
// the attempt that made it; it is idempotent.
func prefetch(groups []record.Key, read func(record.Key) loaded, aheadRows, readers int) (next func() loaded, done func(rows int), stop func()) {
	var (
		mu      sync.Mutex
		changed = sync.NewCond(&mu) // broadcast on every change of the fields below
		taken   int                 // groups a reader has taken
		given   int                 // groups next has returned
		ready   = map[int]loaded{}  // read, not yet returned, by index in groups
		ahead   int                 // rows of the groups read and not yet done
		failed  bool                // a load failed: no more groups are taken
		stopped bool
		wg      sync.WaitGroup
	)
	reader := func() {
		mu.Lock()
		defer mu.Unlock()
		for {
			for !stopped && !failed && taken < len(groups) && ahead >= aheadRows {
				changed.Wait()
			}
			if stopped || failed || taken == len(groups) {
				return
			}
			i := taken
			taken++
			mu.Unlock()
			g := read(groups[i])
			mu.Lock()
			ready[i] = g
			ahead += g.rows
			failed = failed || g.err != nil
			changed.Broadcast()
		}
	}
	for range max(readers, 1) {
		wg.Go(reader)
	}
	next = func() loaded {
		mu.Lock()
		defer mu.Unlock()
		for {
			if g, ok := ready[given]; ok {
				delete(ready, given)
				given++
				return g
			}
			changed.Wait()
		}
	}
	done = func(rows int) {
		mu.Lock()
		ahead -= rows
		mu.Unlock()
		changed.Broadcast()
	}
	stop = func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		changed.Broadcast()
		wg.Wait()
	}
	return next, done, stop
}

// upsertRun is the statement that inserts or updates a job_runs row from runArgs. When
// publish is set it stamps published_at with the transaction's time; otherwise it leaves
// the column as it was.
func upsertRun(publish bool) string {
	insert, update := "NULL", "job_runs.published_at"
	if publish {
		insert, update = "now()", "now()"
	}
	return `INSERT INTO job_runs (job_id, name, status, started_at, finished_at,
	records_in, records_out, records_rejected, duplicates, groups, error, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, ` + insert + `)
ON CONFLICT (job_id) DO UPDATE SET name = excluded.name, status = excluded.status,
	started_at = excluded.started_at, finished_at = excluded.finished_at,
	records_in = excluded.records_in, records_out = excluded.records_out,
	records_rejected = excluded.records_rejected, duplicates = excluded.duplicates,
	groups = excluded.groups, error = excluded.error, published_at = ` + update
}

func runArgs(j JobRun) []any {
	var finished *time.Time
	if !j.Finished.IsZero() {
		finished = &j.Finished
	}
	return []any{cleanText(j.ID), cleanText(j.Name), cleanText(j.Status), j.Started, finished,
		j.RecordsIn, j.RecordsOut, j.RecordsRejected, j.Duplicates, j.Groups, cleanText(j.Error)}
}

// batch holds the encoded rows of several groups, one buffer per stored table, for one COPY
// per table.
type batch struct {
	pgcopy.Batch
	freeze [len(pgcopy.Tables)]bool
}

// newBatch returns an empty batch. The tables of truncated, emptied earlier in the
// transaction, are loaded with COPY … FREEZE: their rows are written frozen and their pages
// all-visible, so the first readers and vacuum need not visit every page again to set hint
// bits. (The freeze is invisible to readers, which the TRUNCATE's lock keeps out until the
// commit.)
func newBatch(truncated map[string]bool) *batch {
	b := &batch{}
	for i, t := range pgcopy.Tables {
		b.freeze[i] = truncated[t.Name]
	}
	return b
}

// rows returns how many summary rows the batch holds, packed or not.
func (b *batch) rows() int { return b.SummaryRows() }

// send copies the buffered rows to their tables and empties the batch.
func (b *batch) send(ctx context.Context, conn *sql.Conn) error {
	for i, t := range pgcopy.Tables {
		if err := copyTable(ctx, conn, t, b.freeze[i], &b.Bufs[i]); err != nil {
			return err
		}
	}
	b.Reset()
	return nil
}
