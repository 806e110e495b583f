package clustertest

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/task"
)

// This file injects the faults of issue 13 that are not the coordinator's own death (see
// failover_test.go) nor a frozen worker (frozen_test.go): a worker whose disk is full, a
// worker that dies while the coordinator is down, and a journal damaged on disk.

// TestWorkerDiskFull gives one of three workers a data dir on a tiny tmpfs, so that its map
// outputs fail with ENOSPC after the first one or two. The coordinator must route those
// tasks' retries to the healthy workers and exclude the sick one from the job (its reason,
// naming the full disk, in the job's status), and the job must succeed with the fault-free
// output. Before exclusion, retries went back to the sick worker while two healthy ones
// idled, and most such jobs failed.
//
// Mounting needs root (CAP_SYS_ADMIN): without it the test is skipped with a message, and
// fails under CI=true, where the runner is root (as a missing MinIO or PostgreSQL does).
func TestWorkerDiskFull(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 2, lease: lease})
	const sick = "worker-3"
	// 128 KiB holds about one map output of the corpus job: the worker starts and registers
	// (it writes nothing before its first task), then its disk is full.
	mountTmpfs(t, c.workerDir(sick), "128k")
	c.startWorker(sick, c.keyFile)
	c.waitWorkers(sick)

	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitDetached(job)
	j := c.waitSucceeded(t, id)
	i := slices.IndexFunc(j.Excluded, func(e coordinator.Exclusion) bool { return e.Worker == sick })
	if i < 0 {
		t.Fatalf("job %s: %s is not excluded (excluded: %+v)", id, sick, j.Excluded)
	}
	if e := j.Excluded[i]; !strings.Contains(e.Reason, "no space left on device") {
		t.Errorf("%s is excluded for %q, which does not name the full disk", sick, e.Reason)
	}
	if len(j.Excluded) != 1 {
		t.Errorf("healthy workers were excluded too: %+v", j.Excluded)
	}
	t.Logf("%s excluded: %s; %d retries", sick, j.Excluded[i].Reason, j.Result.Retries)
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
	c.waitMapOutputsGone(id)
}

// mountTmpfs mounts a tmpfs of the given size at dir (created if need be) and unmounts it in
// t.Cleanup. Call it before starting the processes that use dir: cleanups run last first,
// so they are killed, and their files closed, before the unmount.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("mounting a %s tmpfs at %s needs root (CAP_SYS_ADMIN) and mount(8): %v: %s", size, dir, err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI runs as root and must be able to)")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run() // detach it at least, so TempDir's removal does not descend into it
		}
	})
}

// TestWorkerKilledWhileCoordinatorDown kills (SIGKILL) the coordinator in the map phase or
// the reduce phase, then, while it is down, kills a worker that holds accepted map outputs
// of the job, and restarts the coordinator with the same state. The journal says those
// outputs are on the dead worker: the resumed job must run those map tasks again on the two
// workers left (the reducers cannot fetch them) and succeed with the fault-free output.
func TestWorkerKilledWhileCoordinatorDown(t *testing.T) {
	for _, phase := range []coordinator.State{coordinator.Mapping, coordinator.Reducing} {
		t.Run("during "+phase.String(), func(t *testing.T) {
			slow(t)
			want, wantRes := reference(t)
			c := startCluster(t, clusterConfig{workers: 3, lease: lease})
			ws, err := c.listWorkers()
			if err != nil {
				t.Fatal(err)
			}
			job, got := corpusJob(t, filepath.Join(c.dir, "out"))
			id := c.submitAPI(job)
			c.waitPhase(id, phase)
			c.coord.signal(t, syscall.SIGKILL)
			<-c.coord.done

			// The victim is the worker holding the most map outputs that the journal says
			// were accepted: those are what the resumed job must not count on.
			held := c.journaledMapOutputs(id)
			victim, shuffle := "", ""
			for _, w := range ws {
				if victim == "" || len(held[w.Shuffle]) > len(held[shuffle]) {
					victim, shuffle = w.Name, w.Shuffle
				}
			}
			lost := held[shuffle]
			if len(lost) == 0 {
				t.Fatalf("the journal lists no accepted map output on any worker: %v", held)
			}
			c.workers[victim].signal(t, syscall.SIGKILL)
			<-c.workers[victim].done
			t.Logf("killed the coordinator in %s, then %s, which held %d accepted map outputs", phase, victim, len(lost))

			c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
			restarted := time.Now()
			if j, err := c.job(id); err != nil || j.Resumed != 1 {
				t.Fatalf("the restarted coordinator does not show job %s resumed once: %+v, %v", id, j, err)
			}
			j := c.waitJob(id, jobTimeout)
			t.Logf("the resumed job ended %s after the restart", time.Since(restarted).Round(time.Millisecond))
			if j.State != coordinator.Succeeded || j.Result == nil {
				t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
			}
			checkCounts(t, j.Result, wantRes)
			compareOutputs(t, got, want)

			// Every output the dead worker held was computed again, by an attempt of the
			// resumed run (numbered from attemptsPerRun on), on a worker still alive.
			rerun := map[int]bool{}
			for name, p := range c.workers {
				if name != victim {
					for m := range mapAttemptsDone(p.logText(), id, 1000) {
						rerun[m] = true
					}
				}
			}
			var missing []int
			for m := range lost {
				if !rerun[m] {
					missing = append(missing, m)
				}
			}
			if len(missing) > 0 {
				slices.Sort(missing)
				t.Errorf("map tasks %v, whose outputs died with %s, were not run again after the restart", missing, victim)
			}
			// The surviving workers' copies of the job's map outputs are not waited for here:
			// after an outage of the coordinator longer than a few heartbeats a worker keeps
			// the outputs of jobs the coordinator does not list for OrphanGrace (10 min), in
			// case it is still resuming them (worker.Config.OrphanGrace).
		})
	}
}

// journaledMapOutputs replays job id's journal (the coordinator must be down) and returns
// the map tasks whose accepted output it places on each worker, by shuffle address.
func (c *cluster) journaledMapOutputs(id string) map[string]map[int]bool {
	c.t.Helper()
	recs := replayJournal(c.t, c.stateDir(), id)
	accepted := map[int]task.MapResult{}
	for _, r := range recs {
		switch r := r.(type) {
		case *journal.Plan:
			clear(accepted) // a new plan voids the maps accepted before it
		case *journal.TaskAccepted:
			if r.Map != nil {
				accepted[r.Map.Index] = *r.Map
			}
		case *journal.MapLost:
			if m, ok := accepted[r.Map]; ok && m.Attempt == r.Attempt {
				delete(accepted, r.Map)
			}
		}
	}
	out := map[string]map[int]bool{}
	for i, m := range accepted {
		w := m.Output.Worker
		if out[w] == nil {
			out[w] = map[int]bool{}
		}
		out[w][i] = true
	}
	return out
}

// stateDir is the coordinator's journal location (its data dir's state/, the default).
func (c *cluster) stateDir() string { return filepath.Join(c.dir, "coordinator", "state") }

// journalFile is job id's journal file under stateDir (see package journal).
func (c *cluster) journalFile(id string) string {
	return filepath.Join(c.stateDir(), "jobs", id+".journal")
}

// mapAttemptsDone returns the map tasks of job id of which log (a worker's) shows an attempt
// numbered minAttempt or above done without error.
func mapAttemptsDone(log, id string, minAttempt int) map[int]bool {
	out := map[int]bool{}
	for line := range strings.Lines(log) {
		if !strings.Contains(line, "attempt done") || !strings.Contains(line, "err=<nil>") {
			continue
		}
		_, rest, ok := strings.Cut(line, "attempt="+id+"/m-")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, " ")
		idx, attempt, ok := strings.Cut(strings.TrimSpace(rest), "-")
		i, err1 := strconv.Atoi(idx)
		a, err2 := strconv.Atoi(attempt)
		if ok && err1 == nil && err2 == nil && a >= minAttempt {
			out[i] = true
		}
	}
	return out
}

// TestJournalTornTail kills (SIGKILL) the coordinator in the map phase and cuts the last
// record of the job's journal short by a few bytes, as a crash in the middle of its write
// would leave it. The restarted coordinator must drop the torn record, resume the job from
// the records before it (the work the torn record described is done again) and end it with
// the fault-free output.
func TestJournalTornTail(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitAPI(job)
	c.waitPhase(id, coordinator.Mapping)
	c.coord.signal(t, syscall.SIGKILL)
	<-c.coord.done

	path := c.journalFile(id)
	before := replayJournal(t, c.stateDir(), id)
	frames := journalFrames(t, path)
	last := frames[len(frames)-1]
	if len(frames) != len(before) {
		t.Fatalf("%s: %d frames, but the journal package reads %d records", path, len(frames), len(before))
	}
	if err := os.Truncate(path, last.end-3); err != nil {
		t.Fatal(err)
	}
	after := replayJournal(t, c.stateDir(), id)
	if len(after) != len(before)-1 {
		t.Fatalf("after tearing the last record, the journal reads %d records, want %d", len(after), len(before)-1)
	}
	t.Logf("tore the last of %d records (a %s record, bytes %d–%d) by 3 bytes", len(before), before[len(before)-1].Kind(), last.start, last.end)

	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	restarted := time.Now()
	if j, err := c.job(id); err != nil || j.Resumed != 1 {
		t.Fatalf("the restarted coordinator does not show job %s resumed once: %+v, %v", id, j, err)
	}
	j := c.waitJob(id, jobTimeout)
	t.Logf("the resumed job ended %s after the restart", time.Since(restarted).Round(time.Millisecond))
	if j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
	}
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the journal %s is still there after the job finished (stat: %v)", path, err)
	}
}

// TestJournalCorrupt damages a record in the middle of a job's journal (one byte of its
// payload, so its CRC fails and valid records follow it) while the coordinator is down. The
// restarted coordinator must start all the same, show the job failed with a reason that
// names the journal's byte offset, and keep the journal for inspection, shown failed at
// every restart, until the user cancels the job: that removes the journal and records the
// failure in the job history, where it stays.
func TestJournalCorrupt(t *testing.T) {
	slow(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, _ := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitDetached(job)
	c.waitPhase(id, coordinator.Mapping)
	c.coord.signal(t, syscall.SIGKILL)
	<-c.coord.done

	path := c.journalFile(id)
	frames := journalFrames(t, path)
	if len(frames) < 4 {
		t.Fatalf("%s: %d records, too few to damage one in the middle", path, len(frames))
	}
	bad := frames[len(frames)/2]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[bad.start+journalFrameHeader+1] ^= 0x01 // a payload byte: still a frame, wrong CRC
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	offset := fmt.Sprintf("byte offset %d", bad.start)

	checkFailed := func(when string) {
		t.Helper()
		j, err := c.job(id)
		if err != nil {
			t.Fatalf("%s: the coordinator does not show job %s: %v", when, id, err)
		}
		if j.State != coordinator.Failed || j.Result == nil || !strings.Contains(j.Result.Error, offset) {
			t.Fatalf("%s: job %s is %q with result %+v; want failed, naming %q", when, id, j.State, j.Result, offset)
		}
	}
	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	checkFailed("after the restart")
	c.waitWorkers("worker-1", "worker-2", "worker-3")
	j, _ := c.job(id)
	t.Logf("job %s after the restart: %s", id, j.Result.Error)
	// The job's map outputs are not waited for: after a coordinator outage longer than a
	// few heartbeats the workers keep unlisted jobs' outputs for OrphanGrace (10 min).
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the damaged journal was not kept for inspection: %v", err)
	}

	// Another restart shows the same: nothing was lost or half-cleaned.
	c.coord.signal(t, syscall.SIGKILL)
	<-c.coord.done
	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	checkFailed("after a second restart")

	// Cancelling the failed job acknowledges it: the journal goes, the failure stays.
	if stdout, stderr, code := c.cli("cancel", id); code != 0 {
		t.Fatalf("coordinator cancel %s: exit %d\nstdout:\n%s\nstderr:\n%s", id, code, stdout, stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the journal %s is still there after the job was cancelled (stat: %v)", path, err)
	}
	checkFailed("after the cancel")
	if code, b, err := c.call(http.MethodPost, task.PathJobs+"/"+id+"/cancel", c.token, nil); err != nil || code != http.StatusConflict {
		t.Errorf("a second cancel: %d %s, %v; want 409 (the job is over)", code, b, err)
	}
	c.coord.signal(t, syscall.SIGTERM)
	<-c.coord.done
	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	checkFailed("after a restart that followed the cancel")
}

// journalFrameHeader is the bytes before a record's payload: length, CRC-32C, kind (see
// package journal).
const journalFrameHeader = 9

// frame is one record's bytes in a journal file.
type frame struct{ start, end int64 }

// journalFrames returns the records' frames in the local journal file at path, read by the
// format the journal package documents (a 12-byte header, then length-prefixed frames).
func journalFrames(t *testing.T, path string) []frame {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const header = 12
	var out []frame
	for off := int64(header); off < int64(len(data)); {
		if int64(len(data))-off < journalFrameHeader {
			t.Fatalf("%s: %d bytes at offset %d, short of a frame header", path, int64(len(data))-off, off)
		}
		end := off + journalFrameHeader + int64(binary.LittleEndian.Uint32(data[off:]))
		if end > int64(len(data)) {
			t.Fatalf("%s: the frame at offset %d runs past the end", path, off)
		}
		out = append(out, frame{off, end})
		off = end
	}
	return out
}
