package clustertest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/pgsink/pgcopy"
)

// summaryTables are the tables a publish replaces groups of: where the summary tables' rows
// are stored (three of them packed, behind views of their names).
var summaryTables = func() (names []string) {
	for _, t := range pgcopy.Tables {
		names = append(names, t.Name)
	}
	return names
}()

// TestCoordinatorKilledPublishing kills (SIGKILL) the coordinator while its publish
// transaction is open in a real PostgreSQL, with every summary row of the job sent into it,
// and starts it again with the same state. PostgreSQL must roll the killed transaction back
// (no row of it is ever visible), and the resumed job must publish again in one transaction:
// it ends succeeded, with the fault-free run's lake and exactly the fault-free run's summary
// rows, one job_runs row, nothing twice.
//
// To catch the publish at that point every time, however fast it is, the test holds a SHARE
// lock on job_runs: the publish upserts its job_runs row last, after its COPYs, so it waits
// there with its transaction open. Readers are not blocked by that lock; a watcher reads the
// tables all along and must only ever see them empty or complete.
//
// "after the commit" is the other crash: the transaction committed but the coordinator died
// before its journal said so (the Published record is written only after the commit). The
// test makes that state by publishing the job's lake itself (`coordinator publish`, which
// commits the same groups under the same job id) before the restart: the resumed job
// publishes once more, which must replace the rows, not add to them.
func TestCoordinatorKilledPublishing(t *testing.T) {
	slow(t)
	pg := testenv.Postgres(t)
	refDB := pg.CreateDatabase(t, "reference")
	refJob, refOut := postgresCorpusJob(t, filepath.Join(tmpRoot, "reference-postgres"), refDB)
	wantRes, err := runLocal(refJob, 3, corpus)
	if err != nil {
		t.Fatal(err)
	}
	if wantRes.Published != coordinator.Published {
		t.Fatalf("reference run: summaries %q", wantRes.Published)
	}
	want := tableDigests(t, refDB)

	for _, tc := range []struct {
		name           string
		committedFirst bool // the killed publish's transaction is committed before the restart
	}{
		{"in the transaction", false},
		{"after the commit", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := pg.CreateDatabase(t, strings.ReplaceAll(tc.name, " ", "_"))
			migrate(t, db)
			c := startCluster(t, clusterConfig{workers: 3, lease: lease})
			job, got := postgresCorpusJob(t, filepath.Join(c.dir, "out"), db)
			w := watchTables(t, db)
			gate := lockTable(t, db, "job_runs")
			id := c.submitDetached(job)

			pid := c.waitPublishBlocked(id, db)
			c.coord.signal(t, syscall.SIGKILL)
			<-c.coord.done
			checkNotJournaledPublished(t, filepath.Join(c.dir, "coordinator", "state"), id)
			gate.release()
			waitBackendGone(t, db, pid)
			if got := tableDigests(t, db); got.rows != 0 || got.runs != 0 {
				t.Fatalf("after the kill, PostgreSQL holds %d summary rows and %d job runs: the killed transaction was not rolled back", got.rows, got.runs)
			}
			if tc.committedFirst {
				if out, errOut, code := runCLI(t, "publish", job); code != 0 {
					t.Fatalf("coordinator publish: exit %d\n%s%s", code, out, errOut)
				}
				if got := tableDigests(t, db); got.String() != want.String() {
					t.Fatalf("coordinator publish of the killed run's lake:\n got %s\nwant %s", got, want)
				}
			}

			c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
			restarted := time.Now()
			j := c.waitJob(id, jobTimeout)
			t.Logf("the resumed job ended %s in %s after the restart (time lost before it: %s)", j.State, time.Since(restarted).Round(time.Millisecond), j.Lost)
			if j.State != coordinator.Succeeded || j.Result == nil {
				t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
			}
			if j.Resumed != 1 || j.Result.Published != coordinator.Published {
				t.Errorf("job %s: resumed %d times, summaries %q; want resumed once and published", id, j.Resumed, j.Result.Published)
			}
			t.Logf("resumed: %s", strings.Join(resumeLines(c.coord.logText()), "; "))
			checkCounts(t, j.Result, wantRes)
			compareOutputs(t, got, refOut)
			if got := tableDigests(t, db); got.String() != want.String() {
				t.Errorf("summary tables after the resumed publish differ from the fault-free run's:\n got %s\nwant %s", got, want)
			}
			checkJobRun(t, db, id)
			seen := w.stop()
			final := tableCountsOf(want)
			for _, s := range seen {
				if s != (tableCounts{}) && s != final {
					t.Errorf("a reader saw the summary tables half published: %+v (empty is %+v, complete is %+v)", s, tableCounts{}, final)
				}
			}
			t.Logf("a reader saw %d distinct states of the tables: %+v", len(seen), seen)
		})
	}
}

// postgresCorpusJob writes the corpus job with its output under dir and its summaries
// published to the database db.
func postgresCorpusJob(t *testing.T, dir, db string) (string, outputs) {
	t.Helper()
	file, out := corpusJob(t, dir)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "  output {\n", fmt.Sprintf("  output {\n    postgres = %q\n", db), 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, out
}

// migrate creates the summary tables in db, so that the test can lock one before the job
// runs.
func migrate(t *testing.T, db string) {
	t.Helper()
	h, _, err := coordinator.OpenSink(context.Background(), db, pgsink.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
}

// tableLock is a transaction holding a lock on a table.
type tableLock struct {
	t    *testing.T
	db   *sql.DB
	tx   *sql.Tx
	once sync.Once
}

// lockTable takes a SHARE lock on table in db: readers go on, writers wait until release.
func lockTable(t *testing.T, db, table string) *tableLock {
	t.Helper()
	h, err := sql.Open("postgres", db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := h.Begin()
	if err == nil {
		_, err = tx.Exec("LOCK TABLE " + table + " IN SHARE MODE")
	}
	if err != nil {
		h.Close()
		t.Fatalf("lock %s: %v", table, err)
	}
	l := &tableLock{t: t, db: h, tx: tx}
	t.Cleanup(l.release)
	return l
}

func (l *tableLock) release() {
	l.once.Do(func() {
		if err := l.tx.Commit(); err != nil {
			l.t.Errorf("release the table lock: %v", err)
		}
		l.db.Close()
	})
}

// waitPublishBlocked waits until job id is publishing and its transaction waits for the
// job_runs lock after loading the summaries (it holds the summary tables' write locks), and
// returns the PostgreSQL backend's pid.
func (c *cluster) waitPublishBlocked(id, db string) int {
	c.t.Helper()
	h := openDB(c.t, db)
	pid := waitBlocked(c.t, db, "INSERT INTO job_runs")
	if j, err := c.job(id); err != nil || j.State != coordinator.Publishing {
		c.t.Fatalf("job %s is %s (%v) while its job_runs row waits", id, j.State, err)
	}
	var tables []string
	rows, err := h.Query(`SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE l.pid = $1 AND l.granted AND l.mode IN ('RowExclusiveLock', 'AccessExclusiveLock') AND c.relname = ANY($2)`,
		pid, "{"+strings.Join(summaryTables, ",")+"}")
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	slices.Sort(tables)
	if len(tables) != len(summaryTables) {
		c.t.Fatalf("the publish transaction (pid %d) holds write locks on %v only: it did not load every table before its job_runs row", pid, tables)
	}
	c.t.Logf("publish caught: backend %d waits on job_runs with its writes to %v uncommitted", pid, tables)
	return pid
}

// checkNotJournaledPublished checks that job id's journal under state, as the killed
// coordinator left it, has the commit done and no Published record: the transaction was
// still open.
func checkNotJournaledPublished(t *testing.T, state, id string) {
	t.Helper()
	var committed, publishing bool
	for _, r := range replayJournal(t, state, id) {
		switch r := r.(type) {
		case *journal.Commit:
			committed = committed || r.Step == journal.CommitSuccess
		case *journal.Phase:
			publishing = publishing || r.State == coordinator.Publishing.String()
		case *journal.Published:
			t.Errorf("the journal says the summaries were published while their transaction was open")
		}
	}
	if !committed || !publishing {
		t.Errorf("journal of a job killed while publishing: commit success %v, publish phase %v", committed, publishing)
	}
}

// openDB opens the database at URL db for the test.
func openDB(t *testing.T, db string) *sql.DB {
	t.Helper()
	h, err := sql.Open("postgres", db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// replayJournal reads job id's journal under state, as a killed coordinator left it.
func replayJournal(t *testing.T, state, id string) []journal.Record {
	t.Helper()
	ctx := context.Background()
	dir, err := journal.Open(ctx, journal.Config{Location: state})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := dir.Replay(ctx, id)
	if err != nil {
		t.Fatalf("journal of %s: %v", id, err)
	}
	return recs
}

// waitBackendGone waits until PostgreSQL has ended backend pid (and so rolled back its
// transaction).
func waitBackendGone(t *testing.T, db string, pid int) {
	t.Helper()
	h := openDB(t, db)
	waitFor(t, time.Minute, fmt.Sprintf("backend %d of the killed coordinator to end", pid), func() (bool, error) {
		var n int
		err := h.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n)
		return n == 0, err
	})
}

// tableSet is the content of the summary tables: a digest of each, and the totals.
type tableSet struct {
	digests map[string]string // table → "rows:md5 of its rows in order"
	rows    int64             // summary rows in all
	runs    int64             // job_runs rows
}

func (s tableSet) String() string {
	var parts []string
	for _, tab := range summaryTables {
		parts = append(parts, tab+"="+s.digests[tab])
	}
	return strings.Join(parts, " ")
}

// tableDigests reads the summary tables of db.
func tableDigests(t *testing.T, db string) tableSet {
	t.Helper()
	h := openDB(t, db)
	s := tableSet{digests: map[string]string{}}
	for _, tab := range summaryTables {
		var n int64
		var d sql.NullString
		if err := h.QueryRow(`SELECT count(*), md5(string_agg(r, E'\n' ORDER BY r)) FROM (SELECT t::text AS r FROM `+tab+` t) x`).Scan(&n, &d); err != nil {
			t.Fatalf("%s: %v", tab, err)
		}
		s.digests[tab] = fmt.Sprintf("%d:%s", n, d.String)
		s.rows += n
	}
	if err := h.QueryRow(`SELECT count(*) FROM job_runs`).Scan(&s.runs); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkJobRun checks that db records exactly one run, job id's, succeeded and published.
func checkJobRun(t *testing.T, db, id string) {
	t.Helper()
	h := openDB(t, db)
	var ids []string
	rows, err := h.Query(`SELECT job_id || ' ' || status || ' ' || (published_at IS NOT NULL) FROM job_runs ORDER BY job_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		ids = append(ids, s)
	}
	if want := id + " succeeded true"; len(ids) != 1 || ids[0] != want {
		t.Errorf("job_runs: %q, want [%q]", ids, want)
	}
}

// tableCounts is what a reader sees of the summary tables at one moment.
type tableCounts struct {
	Monthly, Daily, Heat, Geo int64
	Published                 int64 // job_runs rows with published_at
}

// tableCounts of a tableSet: the counts of its digests.
func tableCountsOf(s tableSet) tableCounts {
	n := func(tab string) int64 {
		var v int64
		fmt.Sscanf(s.digests[tab], "%d:", &v)
		return v
	}
	return tableCounts{n(summaryTables[0]), n(summaryTables[1]), n(summaryTables[2]), n(summaryTables[3]), s.runs}
}

// watcher reads the summary tables over and over, one snapshot per read, and keeps every
// distinct state it saw.
type watcher struct {
	stopCh chan struct{}
	done   chan struct{}
	mu     sync.Mutex // guards seen
	seen   []tableCounts
}

// watchTables starts a watcher on db; stop ends it and returns what it saw.
func watchTables(t *testing.T, db string) *watcher {
	t.Helper()
	h, err := sql.Open("postgres", db)
	if err != nil {
		t.Fatal(err)
	}
	// A publish that truncates holds its tables' ACCESS EXCLUSIVE lock until it commits:
	// a read waits for it, which is the opposite of seeing a half state; give up on it and
	// read again.
	conn, err := h.Conn(context.Background())
	if err == nil {
		_, err = conn.ExecContext(context.Background(), `SET statement_timeout = '500ms'`)
	}
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	w := &watcher{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer h.Close()
		defer conn.Close()
		for {
			var s tableCounts
			err := conn.QueryRowContext(context.Background(), `SELECT (SELECT count(*) FROM request_monthly), (SELECT count(*) FROM agency_daily_packed),
				(SELECT count(*) FROM request_heat_packed), (SELECT count(*) FROM request_geo_packed),
				(SELECT count(*) FROM job_runs WHERE published_at IS NOT NULL)`).Scan(&s.Monthly, &s.Daily, &s.Heat, &s.Geo, &s.Published)
			if err == nil {
				w.mu.Lock()
				if !slices.Contains(w.seen, s) {
					w.seen = append(w.seen, s)
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stopCh:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// stop ends the watcher and returns the states it saw; it is idempotent.
func (w *watcher) stop() []tableCounts {
	select {
	case <-w.stopCh:
	default:
		close(w.stopCh)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}
