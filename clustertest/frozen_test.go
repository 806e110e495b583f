package clustertest

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
)

// frozenFor is how long TestWorkerFrozenMidReduce keeps its worker stopped: the issue's
// 60 s, longer than the whole job should take without it.
const frozenFor = 60 * time.Second

// faultFreeFloor is the least fault-free time the frozen job's bound is computed from. The
// corpus job runs in 12–15 s on an idle machine; a run that happened to be quick (a warm
// page cache, a lull in the other tests) would otherwise leave the faulty run, whose
// recovery has fixed costs that do not shrink with the job (gossip declaring the worker
// dead, a lease lapsing, its map tasks re-run), too little room, and the test would fail
// on noise rather than on a wait. The floor keeps the bound (at least 40 s) well below
// frozenFor, so a job that waits for the worker to come back still fails it.
const faultFreeFloor = 20 * time.Second

// TestWorkerFrozenMidReduce stops (SIGSTOP) a worker that runs a reduce attempt and holds
// map outputs, for frozenFor. Gossip declares it dead; the coordinator then re-runs the map
// outputs it held at once, and lists its shuffle address to the other workers' heartbeats,
// whose reducers drop their fetches from it at once rather than each waiting out a read
// deadline. The job succeeds with the fault-free output, within twice the time the same
// job took without the fault, measured just before on the same cluster (so on the same
// loaded machine), floored at faultFreeFloor. Once continued (SIGCONT), the worker rejoins
// and runs attempts of a new job, and what its stale attempt wrote is discarded: the lake
// keeps no _temporary and the outputs do not change.
func TestWorkerFrozenMidReduce(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})

	// The fault-free time. Its own output is checked too: a bound computed from a broken
	// run would mean nothing.
	baseJob, baseOut := corpusJob(t, filepath.Join(c.dir, "fault-free"))
	start := time.Now()
	baseID := c.submitDetached(baseJob)
	if j := c.waitJob(baseID, jobTimeout); j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("fault-free job %s: state %q, result %+v", baseID, j.State, j.Result)
	}
	faultFree := time.Since(start)
	compareOutputs(t, baseOut, want)
	c.waitMapOutputsGone(baseID)

	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	start = time.Now()
	id := c.submitDetached(job)
	victim := c.waitBusyWorker(id, "reduce")
	frozen := c.workers[victim]
	frozen.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	// The worker is continued after frozenFor whatever the job does meanwhile; the timer is
	// stopped, and the worker killed, in the cleanups if the test ends first.
	continued := make(chan struct{})
	timer := time.AfterFunc(frozenFor, func() {
		syscall.Kill(-frozen.cmd.Process.Pid, syscall.SIGCONT)
		close(continued)
	})
	t.Cleanup(func() { timer.Stop() })
	logAtStop := len(frozen.logText())
	t.Logf("stopped %s in the reduce phase, %s after the submit", victim, stopped.Sub(start).Round(time.Millisecond))

	j := c.waitJob(id, jobTimeout)
	took := time.Since(start)
	if j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
	}
	bound := 2 * max(faultFree, faultFreeFloor)
	t.Logf("fault-free job: %s; with %s stopped: %s (%.2f×), of which %s after the stop; bound %s",
		faultFree.Round(time.Millisecond), victim, took.Round(time.Millisecond), took.Seconds()/faultFree.Seconds(),
		time.Since(stopped).Round(time.Millisecond), bound)
	if took > bound {
		t.Errorf("the job with a stopped worker took %s, over twice the fault-free %s (floored at %s)", took.Round(time.Millisecond), faultFree.Round(time.Millisecond), faultFreeFloor)
	}
	if j.Result.Retries == 0 {
		t.Errorf("job reports 0 retries, though %s froze holding an attempt", victim)
	}
	log := c.coord.logText()
	if !logHas(log, "reducers are told to give up its map outputs", "worker="+victim) {
		t.Errorf("the coordinator never told the workers that %s is gone", victim)
	}
	// The victim runs a reducer, so the job still needs every map output when it is
	// declared dead: its own are re-run on gossip's word, not after reducers miss them.
	if !logHas(log, "worker declared down; re-running the map tasks whose outputs it held", "worker="+victim) {
		t.Errorf("the coordinator did not re-run %s's map outputs when gossip declared it dead", victim)
	}
	for line := range strings.Lines(log) {
		if strings.Contains(line, "worker="+victim) && (strings.Contains(line, "worker declared down") || strings.Contains(line, "re-ran the map outputs")) ||
			strings.Contains(line, "map output lost") {
			t.Logf("coordinator: %s", strings.TrimSpace(line))
		}
	}
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)

	<-continued
	t.Logf("continued %s after %s", victim, frozenFor)
	// The attempt it held resumes, finds itself withdrawn or refused, and discards what it
	// staged in the lake. Once it has, and the workers have deleted the job's map outputs,
	// which they do only when no attempt of the job runs, nothing it wrote may show.
	var stale string
	waitFor(t, 2*time.Minute, victim+"'s stale reduce attempt to end", func() (bool, error) {
		if frozen.exited() {
			t.Fatalf("%s exited after SIGCONT: %v", victim, frozen.err)
		}
		for line := range strings.Lines(frozen.logText()[logAtStop:]) {
			if strings.Contains(line, "attempt done") {
				stale = strings.TrimSpace(line)
				return true, nil
			}
		}
		return false, nil
	})
	t.Logf("%s after SIGCONT: %s", victim, stale)
	c.waitMapOutputsGone(id)
	waitFor(t, time.Minute, "the lake's _temporary to be gone", func() (bool, error) {
		return temporaryLeft(got.Lake)+temporaryLeft(got.Summaries)+temporaryLeft(got.Rejects) == "", nil
	})
	compareOutputs(t, got, want)

	// Rejoined: it polls again and takes attempts of a new job, whose output is right.
	c.waitWorkers(victim)
	againJob, againOut := corpusJob(t, filepath.Join(c.dir, "again"))
	logAtAgain := len(frozen.logText())
	againID := c.submitDetached(againJob)
	if j := c.waitJob(againID, jobTimeout); j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("job %s after %s rejoined: state %q, result %+v", againID, victim, j.State, j.Result)
	}
	if !logHas(frozen.logText()[logAtAgain:], "attempt done", "attempt="+againID+"/") {
		t.Errorf("%s ran no attempt of job %s after it was continued", victim, againID)
	}
	compareOutputs(t, againOut, want)
}
