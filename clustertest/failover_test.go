package clustertest

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
)

// TestCoordinatorKilled kills (SIGKILL) the coordinator daemon while the corpus job is in
// its map, reduce or commit phase, and starts it again with the same data dir (so the same
// state: the job journals under <data-dir>/state). The restarted coordinator must resume the
// job under its id, the workers must ride through the gap, and the job must end succeeded
// with the fault-free run's output: the same _SUCCESS file list, rows equal file by file, no
// _temporary left (compareOutputs).
func TestCoordinatorKilled(t *testing.T) {
	for _, phase := range []coordinator.State{coordinator.Mapping, coordinator.Reducing, coordinator.Committing} {
		t.Run("during "+phase.String(), func(t *testing.T) {
			slow(t)
			want, wantRes := reference(t)
			c := startCluster(t, clusterConfig{workers: 3, lease: lease})
			job, got := corpusJob(t, filepath.Join(c.dir, "out"))
			id := c.submitDetached(job)
			c.waitPhase(id, phase)
			c.coord.signal(t, syscall.SIGKILL)
			<-c.coord.done
			killed := time.Now()

			c.restartCoordinator(lease)
			j, err := c.job(id)
			if err != nil {
				t.Fatalf("the restarted coordinator does not know job %s: %v", id, err)
			}
			if j.Resumed != 1 {
				t.Errorf("job %s: resumed %d times, want 1", id, j.Resumed)
			}
			restarted := time.Now()
			t.Logf("killed in %s; restarted in %s; the job was resumed in state %q (time lost %s)",
				phase, restarted.Sub(killed).Round(time.Millisecond), j.State, j.Lost)
			// A measurement for the report, not an assertion: how soon the resumed job does
			// new work (a task accepted beyond what the journal kept, or a later phase).
			kept := j.Progress.MapsDone + j.Progress.ReducesDone
			waitFor(t, jobTimeout, "the resumed job to make progress", func() (bool, error) {
				j, err := c.job(id)
				if err != nil {
					return false, err
				}
				return j.State.Terminal() || j.Progress.MapsDone+j.Progress.ReducesDone > kept || j.State == coordinator.Publishing, nil
			})
			t.Logf("the resumed job made progress %s after the restart; %s", time.Since(restarted).Round(time.Millisecond),
				strings.Join(resumeLines(c.coord.logText()), "; "))

			j = c.waitJob(id, jobTimeout)
			if j.State != coordinator.Succeeded || j.Result == nil {
				t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
			}
			checkCounts(t, j.Result, wantRes)
			compareOutputs(t, got, want)
			if left, err := filepath.Glob(filepath.Join(c.dir, "coordinator", "state", "jobs", "*")); err != nil || len(left) > 0 {
				t.Errorf("journals left after the job finished: %v %v", left, err)
			}
		})
	}
}

// waitPhase waits until job id is in state phase (for Mapping: with a few maps done, so
// that some are journaled; for Reducing: with a reducer accepted, so that some are kept).
func (c *cluster) waitPhase(id string, phase coordinator.State) {
	c.t.Helper()
	waitFor(c.t, jobTimeout, fmt.Sprintf("job %s in its %s phase", id, phase), func() (bool, error) {
		j, err := c.job(id)
		if err != nil {
			return false, err
		}
		p := j.Progress
		switch {
		case j.State.Terminal():
			return false, fmt.Errorf("job ended (%s: %+v) before its %s phase was caught", j.State, j.Result, phase)
		case p.Phase != phase:
			return false, nil
		case phase == coordinator.Mapping:
			return p.MapsDone >= 3 && p.MapsDone < p.MapsTotal, nil
		case phase == coordinator.Reducing:
			return p.ReducesDone >= 1, nil
		}
		return true, nil
	})
}

// restartCoordinator starts the coordinator again on the same addresses and data dir, and
// waits until its API answers.
func (c *cluster) restartCoordinator(lease time.Duration) {
	c.t.Helper()
	c.coord = c.start(fmt.Sprintf("coordinator-%d", len(c.procs)), filepath.Join(binDir, "coordinator"), "serve",
		"--bind", c.gossip, "--api", c.apiAddr, "--data-dir", filepath.Join(c.dir, "coordinator"),
		"--gossip-key-file", c.keyFile, "--token-file", c.tokenFile, "--lease", lease.String(), "--name", "coordinator",
		"--allow-any-path")
	waitFor(c.t, 30*time.Second, "the restarted coordinator's API to answer", func() (bool, error) {
		if c.coord.exited() {
			return false, fmt.Errorf("coordinator exited: %v", c.coord.err)
		}
		code, _, err := c.call(http.MethodGet, "/healthz", "", nil)
		return err == nil && code == http.StatusOK, nil
	})
}

// resumeLines returns the coordinator's log lines about what a resume kept.
func resumeLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "resumed:") || strings.Contains(l, "job resumed") {
			out = append(out, l)
		}
	}
	return out
}
