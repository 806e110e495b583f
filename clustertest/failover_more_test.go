package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// TestCoordinatorTerminated stops the coordinator with SIGTERM (an instance refresh, a
// release upgrade) while the corpus job is in its reduce phase, with a `coordinator submit`
// attached to the job. The coordinator must stop promptly and cleanly, interrupting the job
// rather than cancelling it: its journal kept and ending "interrupted", its claim on the
// lake kept, nothing in the lake, summaries or rejects outside _temporary. Started again on
// the same data dir, it resumes the job (after a shutdown, not a crash), which ends
// succeeded with the fault-free output; the attached submit prints that result. Before,
// SIGTERM cancelled the job and removed its journal: only a crash resumed. (On local disk a
// reducer stages its files hidden beside their final names, as S3 holds multipart uploads:
// "nothing in the lake" is what a reader of the lake sees.)
func TestCoordinatorTerminated(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	sub := c.submitAttached(job)
	id := sub.waitID(t)
	c.waitPhase(id, coordinator.Reducing)

	termAt := time.Now()
	c.coord.signal(t, syscall.SIGTERM)
	select {
	case <-c.coord.done:
	case <-time.After(time.Minute):
		t.Fatal("the coordinator did not exit within a minute of SIGTERM")
	}
	stopped := time.Since(termAt)
	if c.coord.err != nil {
		t.Errorf("the coordinator's exit after SIGTERM: %v, want a clean exit", c.coord.err)
	}
	state := filepath.Join(c.dir, "coordinator", "state")
	recs := replayJournal(t, state, id)
	if p, ok := recs[len(recs)-1].(*journal.Phase); !ok || p.State != coordinator.Interrupted.String() {
		t.Fatalf("after SIGTERM the journal of %s ends with %#v, want the phase interrupted", id, recs[len(recs)-1])
	}
	for _, root := range []string{got.Lake, got.Summaries, got.Rejects} {
		if stray := visible(t, root); len(stray) > 0 {
			t.Errorf("the interrupted job wrote to %s's final places: %v", root, stray)
		}
	}
	if h := holder(t, got.Lake); h != id {
		t.Errorf("the lake's claim after the interruption is %q's, want the job's (%s)", h, id)
	}

	// The client polls twice a second; a restart quicker than that would leave it no gap
	// to tell of, so the next coordinator starts once it has noticed.
	waitFor(t, 30*time.Second, "submit to notice the coordinator is gone", func() (bool, error) {
		if sub.exited() {
			return false, fmt.Errorf("submit exited during the gap: %v\nstderr:\n%s", sub.err, sub.stderr())
		}
		return strings.Contains(sub.stderr(), "across the gap"), nil
	})
	restartAt := time.Now()
	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	answered := time.Since(restartAt)
	j, err := c.job(id)
	if err != nil {
		t.Fatalf("the restarted coordinator does not know job %s: %v", id, err)
	}
	if j.Resumed != 1 || !strings.Contains(c.coord.logText(), `after="a shutdown"`) {
		t.Errorf("job %s: resumed %d times, log %q; want once, after a shutdown", id, j.Resumed, resumeLines(c.coord.logText()))
	}
	workers, running, accepted := c.resumeTimes(id)
	t.Logf("SIGTERM in reduce: the coordinator exited in %s; the next one answered %s after its start; then 3 workers back in %s, "+
		"an attempt running in %s, a new task accepted in %s; lost %s; %s",
		stopped.Round(time.Millisecond), answered.Round(time.Millisecond), workers.Round(time.Millisecond), running.Round(time.Millisecond),
		accepted.Round(time.Millisecond), j.Lost.Round(time.Millisecond), strings.Join(resumeLines(c.coord.logText()), "; "))

	j = c.waitSucceeded(t, id)
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
	noJournals(t, state)
	sub.checkSucceeded(t, wantRes, 1)
}

// TestCoordinatorKilledPlanning kills (SIGKILL) the coordinator the moment it has admitted
// the job — its spec journaled, its run started, its plan not yet journaled — and starts
// it again on the same data dir: the job must be planned again, under its own id and its
// own claim, and end with the fault-free output. The corpus plans in tens of milliseconds,
// so the test submits through the API itself and kills as the answer arrives; the journal
// left behind says whether the kill came before the plan was journaled, and a try where it
// did not (a slow machine) is run to its end and tried again, up to three times.
func TestCoordinatorKilledPlanning(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	state := filepath.Join(c.dir, "coordinator", "state")
	const tries = 3
	for try := 1; ; try++ {
		job, got := corpusJob(t, filepath.Join(c.dir, fmt.Sprintf("out-%d", try)))
		src, err := os.ReadFile(job)
		if err != nil {
			t.Fatal(err)
		}
		body, err := json.Marshal(task.JobSource{Path: job, Source: src})
		if err != nil {
			t.Fatal(err)
		}
		code, answer, err := c.call(http.MethodPost, "/api/v1/jobs", c.token, body)
		c.coord.signal(t, syscall.SIGKILL)
		<-c.coord.done
		var sub struct{ ID string }
		if err != nil || code != http.StatusCreated || json.Unmarshal(answer, &sub) != nil || sub.ID == "" {
			t.Fatalf("submit: %d %s (%v)", code, answer, err)
		}
		id := sub.ID
		var kinds []string
		planned := false
		for _, r := range replayJournal(t, state, id) {
			kinds = append(kinds, r.Kind().String())
			if _, ok := r.(*journal.Plan); ok {
				planned = true
			}
		}

		c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
		j := c.waitJob(id, jobTimeout)
		if j.State != coordinator.Succeeded || j.Result == nil || j.Resumed != 1 {
			t.Fatalf("job %s: state %q, resumed %d, result %+v", id, j.State, j.Resumed, j.Result)
		}
		checkCounts(t, j.Result, wantRes)
		compareOutputs(t, got, want)
		if !planned {
			log := c.coord.logText()
			if strings.Contains(log, "the plan is the journaled one") || !strings.Contains(log, `msg=planned`) {
				t.Errorf("the journal held no plan (%s), but the restart did not plan the job again: %q", strings.Join(kinds, " "), resumeLines(log))
			}
			t.Logf("try %d: killed with the journal holding %q; the restart planned again and the job succeeded", try, strings.Join(kinds, " "))
			break
		}
		if try == tries {
			t.Fatalf("in %d tries the kill never came before the plan was journaled (last journal: %s)", tries, strings.Join(kinds, " "))
		}
		t.Logf("try %d: the plan was journaled before the kill landed (%s); trying again", try, strings.Join(kinds, " "))
	}
	noJournals(t, state)
}

// TestCoordinatorKilledTwice kills (SIGKILL) the coordinator twice in one job, in its map
// phase and then in its reduce phase, each time starting it again on the same data dir (the
// journal on local disk): the job resumes both times, counts both, keeps what the journal
// holds, and ends with the fault-free output.
func TestCoordinatorKilledTwice(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitAPI(job)
	for n, phase := range []coordinator.State{coordinator.Mapping, coordinator.Reducing} {
		c.waitPhase(id, phase)
		c.coord.signal(t, syscall.SIGKILL)
		<-c.coord.done
		c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
		j, err := c.job(id)
		if err != nil {
			t.Fatalf("restart %d does not know job %s: %v", n+1, id, err)
		}
		if j.Resumed != n+1 {
			t.Errorf("after kill %d in %s: resumed %d times", n+1, phase, j.Resumed)
		}
		t.Logf("killed in %s; resumed in %q; %s", phase, j.State, strings.Join(resumeLines(c.coord.logText()), "; "))
	}
	j := c.waitSucceeded(t, id)
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
	noJournals(t, filepath.Join(c.dir, "coordinator", "state"))
}

// TestSubmitFollowsRestart: a `coordinator submit` attached to a job keeps following it while
// its coordinator is killed (SIGKILL) in the map phase and started again, says once that
// the coordinator is unreachable and then that it is back, and prints the job's final
// result (succeeded, the fault-free counts) with exit code 0. Before, submit failed at the
// first refused connection, though the job went on.
func TestSubmitFollowsRestart(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	sub := c.submitAttached(job)
	id := sub.waitID(t)
	c.waitPhase(id, coordinator.Mapping)
	c.coord.signal(t, syscall.SIGKILL)
	<-c.coord.done
	// The client polls twice a second: it notices the gap before the restart.
	waitFor(t, 30*time.Second, "submit to notice the coordinator is gone", func() (bool, error) {
		if sub.exited() {
			return false, fmt.Errorf("submit exited during the gap: %v\nstderr:\n%s", sub.err, sub.stderr())
		}
		return strings.Contains(sub.stderr(), "unreachable"), nil
	})
	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	sub.checkSucceeded(t, wantRes, 1)
	compareOutputs(t, got, want)
}

// attached is a `coordinator submit` process following its job.
type attached struct {
	cmd            *exec.Cmd
	stdout, errLog string        // files holding its stdout and stderr
	done           chan struct{} // closed when it has exited; err is then set
	err            error
}

// submitAttached starts `coordinator submit JOB --json` against the cluster, following the
// job for up to three minutes of coordinator gap; it is killed in t.Cleanup if still there.
func (c *cluster) submitAttached(job string) *attached {
	t := c.t
	t.Helper()
	a := &attached{stdout: filepath.Join(c.dir, "submit.out"), errLog: filepath.Join(c.dir, "submit.err"), done: make(chan struct{})}
	out, err := os.Create(a.stdout)
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(a.errLog)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command(filepath.Join(binDir, "coordinator"), "submit", job, "--json", "--follow-timeout", "3m",
		"--coordinator", "http://"+c.apiAddr, "--token-file", c.tokenFile)
	a.cmd.Stdout, a.cmd.Stderr = out, errf
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.err = a.cmd.Wait()
		out.Close()
		errf.Close()
		close(a.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.done
		if t.Failed() {
			t.Logf("==== coordinator submit (exited: %v, %v) ====\nstdout:\n%s\nstderr:\n%s", a.exited(), a.err, readFile(a.stdout), a.stderr())
		}
	})
	return a
}

func (a *attached) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *attached) stderr() string { return readFile(a.errLog) }

// waitID waits for the line "submitted ID" and returns the job id.
func (a *attached) waitID(t *testing.T) string {
	t.Helper()
	var id string
	waitFor(t, 30*time.Second, "coordinator submit to print the job id", func() (bool, error) {
		for _, l := range strings.Split(a.stderr(), "\n") {
			if v, ok := strings.CutPrefix(l, "submitted "); ok && strings.TrimSpace(v) != "" {
				id = strings.TrimSpace(v)
				return true, nil
			}
		}
		if a.exited() {
			return false, fmt.Errorf("submit exited: %v\nstderr:\n%s", a.err, a.stderr())
		}
		return false, nil
	})
	return id
}

// checkSucceeded waits for the submit to end and checks that it exited 0 with the job's
// result, succeeded with want's counts, and that it said `gaps` times that the coordinator
// was unreachable (or shutting down) and as often that it was back.
func (a *attached) checkSucceeded(t *testing.T, want *coordinator.Result, gaps int) {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(jobTimeout):
		t.Fatalf("coordinator submit still follows the job after %s\nstderr:\n%s", jobTimeout, a.stderr())
	}
	if a.err != nil {
		t.Fatalf("coordinator submit: %v\nstdout:\n%s\nstderr:\n%s", a.err, readFile(a.stdout), a.stderr())
	}
	var res coordinator.Result
	if err := json.Unmarshal([]byte(readFile(a.stdout)), &res); err != nil || res.Status != coordinator.Succeeded {
		t.Fatalf("coordinator submit printed %q (%v), want the succeeded result", readFile(a.stdout), err)
	}
	checkCounts(t, &res, want)
	stderr := a.stderr()
	if n, m := strings.Count(stderr, "across the gap"), strings.Count(stderr, "the coordinator is back after"); n != gaps || m != gaps {
		t.Errorf("coordinator submit told of %d gaps and %d returns, want %d of each:\n%s", n, m, gaps, stderr)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// resumeTimes measures how soon resumed job id gets going again after its coordinator
// answered: all three workers registered, an attempt of it running on a worker, and a task
// accepted beyond those its journal kept (or the job ended).
func (c *cluster) resumeTimes(id string) (workers, running, accepted time.Duration) {
	c.t.Helper()
	start := time.Now()
	var kept int
	waitFor(c.t, jobTimeout, "the resume to be logged", func() (bool, error) {
		maps, reduces, ok := keptTasks(c.coord.logText())
		kept = maps + reduces
		return ok, nil
	})
	waitFor(c.t, jobTimeout, "the resumed job to make progress", func() (bool, error) {
		if ws, err := c.listWorkers(); err == nil {
			busy := 0
			for _, w := range ws {
				busy += w.Running
			}
			if workers == 0 && len(ws) == 3 {
				workers = time.Since(start)
			}
			if running == 0 && busy > 0 {
				running = time.Since(start)
			}
		}
		j, err := c.job(id)
		if err != nil {
			return false, err
		}
		return j.State.Terminal() || j.Progress.MapsDone+j.Progress.ReducesDone > kept, nil
	})
	return workers, running, time.Since(start)
}

// noJournals fails t if a journal is left at state.
func noJournals(t *testing.T, state string) {
	t.Helper()
	if left, err := filepath.Glob(filepath.Join(state, "jobs", "*")); err != nil || len(left) > 0 {
		t.Errorf("journals left after the job finished: %v %v", left, err)
	}
}

// visible lists the objects a reader of root sees outside its _temporary directory: the
// store lists finished objects only, not the pending writes that a commit completes.
func visible(t *testing.T, root string) []string {
	t.Helper()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := store.List(context.Background(), root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	var out []string
	for _, o := range objs {
		rel, err := filepath.Rel(root, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); first != lake.TemporaryDir {
			out = append(out, rel)
		}
	}
	return out
}

// holder returns the job run that holds the claim on the lake at root, or "".
func holder(t *testing.T, root string) string {
	t.Helper()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := lake.HolderOf(context.Background(), store, root)
	if err != nil {
		t.Fatalf("claim on %s: %v", root, err)
	}
	if h == nil {
		return ""
	}
	return h.Job
}
