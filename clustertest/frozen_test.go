package clustertest

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ireports/ireports/coordinator"
)

// TestWorkerFrozenMidReduce stops (SIGSTOP) a worker that runs a reduce attempt and holds
// map outputs, and leaves it stopped. Gossip declares it dead; the coordinator then re-runs
// the map outputs it held at once, and lists its shuffle address to the other workers'
// heartbeats, whose reducers drop their fetches from it at once rather than each waiting
// out a read deadline. The job succeeds with the fault-free output.
func TestWorkerFrozenMidReduce(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitDetached(job)
	victim := c.waitBusyWorker(id, "reduce")
	c.workers[victim].signal(t, syscall.SIGSTOP)
	t.Logf("stopped %s in the reduce phase", victim)

	j := c.waitJob(id, jobTimeout)
	if j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
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
}
