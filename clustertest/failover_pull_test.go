package clustertest

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/socrata/sodatest"
)

// The incremental job's source: 300 generated NYC records in pages of 40, eight pages.
const (
	pullRecords  = 300
	pullPageSize = 40
	pullKilledAt = 3 // pages stored before the kill
)

// TestCoordinatorKilledPulling kills (SIGKILL) the coordinator of an incremental Socrata
// job at three points and starts it again with the same state:
//
//   - waiting for a page: three pages are stored, journaled and under the watermark, and
//     the fake API holds the request for the fourth;
//   - advancing the watermark: the first page is stored and journaled, and its watermark
//     advance (held by a lock on ingest_watermarks) never reaches PostgreSQL;
//   - publishing: the pull has ended and the job is in its publish transaction (held by a
//     lock on job_runs).
//
// Each time the resumed job must read the batches the journal names where they were stored,
// finish the watermark's advance over the last one exactly once, and go on from there: the
// fake API serves every page exactly as often as to one uninterrupted pull (a resumed job
// that pulled again would fetch a page twice, or ask once more for the empty page at the
// end). The job ends succeeded with the uninterrupted run's batches, lake, summaries and
// watermark; and the next run, after five new records, pulls exactly those five.
//
// The fake Socrata API runs in this process (the one fake the integration tests allow: the
// cities' APIs are out of reach); the coordinator, its workers and PostgreSQL are real
// processes on loopback.
func TestCoordinatorKilledPulling(t *testing.T) {
	slow(t)
	pg := testenv.Postgres(t)
	for i, point := range []string{"waiting for a page", "advancing the watermark", "publishing"} {
		t.Run(point, func(t *testing.T) {
			newAPI := func() *sodatest.Server {
				s, err := sodatest.New(sodatest.Config{Generate: pullRecords, Seed: 11})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				return s
			}
			// The reference: `coordinator run` of the same job over an identical API.
			refAPI, refDB := newAPI(), pg.CreateDatabase(t, fmt.Sprintf("reference_%d", i))
			refDir := filepath.Join(t.TempDir(), "reference")
			refJob, refOut := pullJob(t, refDir, refAPI.Endpoint, refDB)
			wantRes, err := runLocal(refJob, 3, refDir)
			if err != nil {
				t.Fatal(err)
			}
			refPages := refAPI.Pages()
			if wantRes.RecordsIn != pullRecords || len(wantRes.Pulls) != 1 || refPages != pullRecords/pullPageSize+2 {
				t.Fatalf("reference run: %d records in %d pages; want %d in %d", wantRes.RecordsIn, refPages, pullRecords, pullRecords/pullPageSize+2)
			}

			api, db := newAPI(), pg.CreateDatabase(t, fmt.Sprintf("failover_%d", i))
			migrate(t, db)
			c := startCluster(t, clusterConfig{workers: 3, lease: lease})
			dir := filepath.Join(c.dir, "out")
			job, got := pullJob(t, dir, api.Endpoint, db)
			var id string
			var journaled int  // batches journaled when the coordinator is killed
			var advanced bool  // whether the last of them is under the watermark then
			var release func() // lets PostgreSQL go on once the coordinator is dead
			switch point {
			case "waiting for a page":
				api.FailAfter(pullKilledAt, sodatest.Slow(time.Hour), -1)
				id = c.submitDetached(job)
				waitFor(t, jobTimeout, "the pull to ask for its fourth page", func() (bool, error) {
					return api.Requests() > pullKilledAt, nil
				})
				journaled, advanced, release = pullKilledAt, true, api.Recover
			case "advancing the watermark":
				gate := lockTable(t, db, "ingest_watermarks")
				id = c.submitDetached(job)
				pid := waitBlocked(t, db, "INSERT INTO ingest_watermarks")
				journaled, advanced = 1, false
				release = func() {
					// The statement was sent but must not run: as if the coordinator died
					// just before sending it.
					terminateBackend(t, db, pid)
					gate.release()
				}
			case "publishing":
				gate := lockTable(t, db, "job_runs")
				id = c.submitDetached(job)
				pid := c.waitPublishBlocked(id, db)
				journaled, advanced = wantRes.Pulls[0].Batches, true
				release = func() {
					gate.release()
					waitBackendGone(t, db, pid)
				}
			}
			if j, err := c.job(id); err != nil || j.State.Terminal() {
				t.Fatalf("job %s: %v %v, want it running", id, j.State, err)
			}
			c.coord.signal(t, syscall.SIGKILL)
			<-c.coord.done
			release()
			batches := journaledBatches(t, filepath.Join(c.dir, "coordinator", "state"), id)
			if len(batches) != journaled {
				t.Fatalf("the killed coordinator journaled %d batches, want %d", len(batches), journaled)
			}
			var last struct {
				From, To struct {
					UpdatedAt string `json:"updated_at"`
					ID        string `json:"id"`
				}
			}
			if err := json.Unmarshal(batches[len(batches)-1].Watermark, &last); err != nil {
				t.Fatal(err)
			}
			want := last.To.UpdatedAt + " " + last.To.ID
			if !advanced {
				want = "" // the first batch: no watermark yet
			}
			if wm := watermark(t, db); wm != want {
				t.Fatalf("watermark %q after the kill, want %q", wm, want)
			}

			c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
			restarted := time.Now()
			j := c.waitJob(id, jobTimeout)
			t.Logf("the resumed job ended %s in %s after the restart (time lost before it: %s)", j.State, time.Since(restarted).Round(time.Millisecond), j.Lost)
			if j.State != coordinator.Succeeded || j.Result == nil {
				t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
			}
			t.Logf("resumed: %s", strings.Join(resumeLines(c.coord.logText()), "; "))
			if j.Resumed != 1 || len(j.Result.Pulls) != 1 || j.Result.Pulls[0].Records != pullRecords || j.Result.Pulls[0].Batches != wantRes.Pulls[0].Batches {
				t.Errorf("job %s: resumed %d times, pulls %+v; want resumed once, one pull of %d records in %d batches", id, j.Resumed, j.Result.Pulls, pullRecords, wantRes.Pulls[0].Batches)
			}
			if got := api.Pages(); got != refPages {
				t.Errorf("the API served %d pages to the killed and the resumed run, %d to one uninterrupted run: the resumed run pulled again", got, refPages)
			}
			if maps, reduces, _ := keptTasks(c.coord.logText()); point == "publishing" && maps+reduces != wantRes.MapTasks+wantRes.ReduceTasks {
				t.Errorf("the resumed job kept %d tasks, want all %d: its pull had ended, so its plan and tasks stand", maps+reduces, wantRes.MapTasks+wantRes.ReduceTasks)
			}
			checkCounts(t, j.Result, wantRes)
			compareOutputs(t, got, refOut)
			compareIngest(t, dir, refDir, db, refDB)

			// The next daily run pulls what came since, from where the resumed one ended.
			at := time.Date(2024, 7, 2, 10, 0, 0, 0, time.UTC)
			api.Add(5, at)
			refAPI.Add(5, at)
			if _, err := runLocal(refJob, 3, refDir); err != nil {
				t.Fatal(err)
			}
			pages := api.Pages()
			next := c.waitJob(c.submitDetached(job), jobTimeout)
			if next.State != coordinator.Succeeded || next.Result == nil || len(next.Result.Pulls) != 1 || next.Result.Pulls[0].Records != 5 {
				t.Fatalf("next run: %s, result %+v; want it to pull the 5 new records", next.State, next.Result)
			}
			if n := api.Pages() - pages; n != 2 {
				t.Errorf("the next run fetched %d pages, want 2 (the new records, then the empty page)", n)
			}
			// The lake now holds the groups of both runs, and _SUCCESS lists the second run's.
			for _, root := range [][2]string{{got.Lake, refOut.Lake}, {got.Summaries, refOut.Summaries}, {got.Rejects, refOut.Rejects}} {
				g, w := hashTree(t, root[0]), hashTree(t, root[1])
				delete(g, lake.SuccessFile)
				delete(w, lake.SuccessFile)
				if d := diffLines(mapLines(g), mapLines(w)); d != "" {
					t.Errorf("after the next run, %s differs from the uninterrupted runs' %s:\n%s", root[0], root[1], d)
				}
			}
			if gm, wm := readManifest(t, got.Lake), readManifest(t, refOut.Lake); !reflect.DeepEqual(gm.Groups, wm.Groups) || gm.Rows != wm.Rows {
				t.Errorf("after the next run, _SUCCESS lists %d groups, %d rows; the uninterrupted runs' %d groups, %d rows", len(gm.Groups), gm.Rows, len(wm.Groups), wm.Rows)
			}
			noTemporary(t, got)
			compareIngest(t, dir, refDir, db, refDB)
		})
	}
}

// waitBlocked waits until a backend of db waits for a lock in a statement that begins with
// query, and returns its pid.
func waitBlocked(t *testing.T, db, query string) int {
	t.Helper()
	h := openDB(t, db)
	var pid int
	waitFor(t, jobTimeout, "a statement "+query+"… to wait for its lock", func() (bool, error) {
		err := h.QueryRow(`SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, query+"%").Scan(&pid)
		if err == sql.ErrNoRows {
			return false, nil
		}
		return err == nil, err
	})
	return pid
}

// terminateBackend ends backend pid of db and waits until it is gone.
func terminateBackend(t *testing.T, db string, pid int) {
	t.Helper()
	h := openDB(t, db)
	if _, err := h.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	waitBackendGone(t, db, pid)
}

// pullJob writes the daily job of a Socrata source at endpoint, its files under dir and its
// summaries and watermark in db.
func pullJob(t *testing.T, dir, endpoint, db string) (string, outputs) {
	t.Helper()
	src := fmt.Sprintf(`
source "nyc_api" {
  kind      = "socrata"
  endpoint  = %q
  schema    = "nyc"
  page_size = %d
  start     = "2000-01-01T00:00:00"
  raw       = "raw/nyc"
  retry_for = "10m"
}
job "nyc_daily" {
  reducers = 3
  input "nyc" { source = "nyc_api" }
  output {
    parquet  = "lake/requests"
    rejects  = "rejects"
    postgres = %q
  }
}
`, endpoint, pullPageSize, db)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "nyc_daily.job")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, outputs{Lake: filepath.Join(dir, "lake", "requests"), Summaries: filepath.Join(dir, "lake", "summaries"), Rejects: filepath.Join(dir, "rejects")}
}

// journaledBatches returns the SourceBatch records of job id's journal under state.
func journaledBatches(t *testing.T, state, id string) []*journal.SourceBatch {
	t.Helper()
	var out []*journal.SourceBatch
	for _, r := range replayJournal(t, state, id) {
		if b, ok := r.(*journal.SourceBatch); ok {
			out = append(out, b)
		}
	}
	return out
}

// watermark returns the source's watermark in db as "updated_at id".
func watermark(t *testing.T, db string) string {
	t.Helper()
	h := openDB(t, db)
	var wm string
	if err := h.QueryRow(`SELECT updated_at || ' ' || id FROM ingest_watermarks WHERE source = 'nyc_api'`).Scan(&wm); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return wm
}

// compareIngest checks that the raw batches under dir (consumed or not), the summary tables
// and the watermark equal the reference's.
func compareIngest(t *testing.T, dir, refDir, db, refDB string) {
	t.Helper()
	gotRaw, wantRaw := hashTree(t, filepath.Join(dir, "raw")), hashTree(t, filepath.Join(refDir, "raw"))
	if d := diffLines(mapLines(gotRaw), mapLines(wantRaw)); d != "" {
		t.Errorf("raw batches differ from the uninterrupted run's:\n%s", d)
	}
	if got, want := tableDigests(t, db), tableDigests(t, refDB); got.String() != want.String() {
		t.Errorf("summary tables differ from the uninterrupted run's:\n got %s\nwant %s", got, want)
	}
	if got, want := watermark(t, db), watermark(t, refDB); got != want || got == "" {
		t.Errorf("watermark %q, the uninterrupted run's %q", got, want)
	}
}
