package clustertest

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ireports/ireports/coordinator"
)

// TestWorkerFrozenMidReduce stops (SIGSTOP) a worker that runs a reduce attempt and holds
// map outputs, and leaves it stopped. Gossip declares it dead; the coordinator then lists its
// shuffle address to the other workers' heartbeats, whose reducers drop their fetches from
// it at once (as lost map outputs, re-run elsewhere) rather than each waiting out a read
// deadline. The job succeeds with the fault-free output.
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
	if !logHas(c.coord.logText(), "reducers are told to give up its map outputs", "worker="+victim) {
		t.Errorf("the coordinator never told the workers that %s is gone", victim)
	}
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
}
