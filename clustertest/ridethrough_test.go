package clustertest

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
)

// TestWorkersRejoinRestartedCoordinator kills the coordinator (SIGKILL) and keeps the
// workers running until their gossip has given it up ("no coordinator in the cluster"), then
// starts a new coordinator on the same addresses: the workers, which joined through the old
// one, must find it again through their join address and run a new job. Before workers
// rejoined their seeds, gossip forgot the dead coordinator and nothing ever led them back:
// the new coordinator listed no worker and a job hung at map 0.
func TestWorkersRejoinRestartedCoordinator(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	c.coord.signal(t, syscall.SIGKILL)
	select {
	case <-c.coord.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the coordinator survived SIGKILL for 30s")
	}
	names := []string{"worker-1", "worker-2", "worker-3"}
	waitFor(t, 2*time.Minute, "every worker's gossip to give up the coordinator", func() (bool, error) {
		for _, n := range names {
			if c.workers[n].exited() {
				t.Fatalf("%s exited while the coordinator was down: %v", n, c.workers[n].err)
			}
			if !logHas(c.workers[n].logText(), "cannot reach the coordinator", "no coordinator in the cluster") {
				return false, nil
			}
		}
		return true, nil
	})

	c.startCoordinator("coordinator-2")
	c.waitWorkers(names...)
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitDetached(job)
	j := c.waitJob(id, jobTimeout)
	if j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("job %s after the restart: state %q, result %+v", id, j.State, j.Result)
	}
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
}
