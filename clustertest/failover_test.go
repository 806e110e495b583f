package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/testenv"
)

// TestCoordinatorKilled kills (SIGKILL) the coordinator daemon while the corpus job is in
// its map, reduce or commit phase, and starts it again with the same data dir (so the same
// state: the job journals under <data-dir>/state). The restarted coordinator must resume the
// job under its id, the workers must ride through the gap, and the job must end succeeded
// with the fault-free run's output: the same _SUCCESS file list, rows equal file by file, no
// _temporary left (compareOutputs). Every map output the journal kept is either re-adopted
// from the worker that reports holding it or run again; the test logs how many of each.
func TestCoordinatorKilled(t *testing.T) {
	for _, phase := range []coordinator.State{coordinator.Mapping, coordinator.Reducing, coordinator.Committing} {
		t.Run("during "+phase.String(), func(t *testing.T) {
			slow(t)
			want, wantRes := reference(t)
			c := startCluster(t, clusterConfig{workers: 3, lease: lease})
			job, got := corpusJob(t, filepath.Join(c.dir, "out"))
			id := c.submitAPI(job)
			c.waitPhase(id, phase)
			c.coord.signal(t, syscall.SIGKILL)
			<-c.coord.done
			killed := time.Now()

			c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
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
			// Measurements for the report, not assertions: how soon the workers are back, and
			// how soon the resumed job does new work (a task accepted beyond those the journal
			// kept).
			var keptMaps, keptReduces int
			waitFor(t, jobTimeout, "the resume to be logged", func() (bool, error) {
				var ok bool
				keptMaps, keptReduces, ok = keptTasks(c.coord.logText())
				return ok, nil
			})
			kept := keptMaps + keptReduces
			var back time.Duration
			waitFor(t, jobTimeout, "the resumed job to make progress", func() (bool, error) {
				if back == 0 {
					if ws, err := c.listWorkers(); err == nil && len(ws) == 3 {
						back = time.Since(restarted)
					}
				}
				j, err := c.job(id)
				if err != nil {
					return false, err
				}
				return j.State.Terminal() || j.Progress.MapsDone+j.Progress.ReducesDone > kept, nil
			})
			t.Logf("after the restart: 3 workers back in %s, a new task accepted in %s; %s", back.Round(time.Millisecond),
				time.Since(restarted).Round(time.Millisecond), strings.Join(resumeLines(c.coord.logText()), "; "))

			j = c.waitSucceeded(t, id)
			// What the restart kept of the finished work. Once the commit has begun, no reducer
			// reads the map outputs, and none is asked for.
			p := j.Progress
			t.Logf("killed in %s: of %d map outputs the journal kept, %d were re-adopted from their workers and %d re-run; %d reduce tasks kept",
				phase, keptMaps, p.MapsReadopted, p.MapsRerun, keptReduces)
			if phase != coordinator.Committing && (p.MapsReadopted > keptMaps || p.MapsReadopted+p.MapsRerun < keptMaps) {
				t.Errorf("%d map outputs kept by the journal, but %d re-adopted and %d re-run", keptMaps, p.MapsReadopted, p.MapsRerun)
			}
			checkCounts(t, j.Result, wantRes)
			compareOutputs(t, got, want)
			if left, err := filepath.Glob(filepath.Join(c.dir, "coordinator", "state", "jobs", "*")); err != nil || len(left) > 0 {
				t.Errorf("journals left after the job finished: %v %v", left, err)
			}
		})
	}
}

// TestCoordinatorReplaced keeps the journals on MinIO (--state s3://…) and kills the
// coordinator twice in one job, in its map phase and then in its reduce phase, each time
// starting the next one on a fresh data dir, as a replacement host would: the job resumes
// from the object-store journal both times and ends with the fault-free output, and its
// journal's segments are gone.
func TestCoordinatorReplaced(t *testing.T) {
	slow(t)
	m := testenv.MinIO(t)
	t.Setenv("S3_ENDPOINT", m.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_REGION", m.Region)
	state := m.URL("state")
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	// The first coordinator of startCluster has no --state: start the job on one that has.
	c.coord.signal(t, syscall.SIGKILL)
	<-c.coord.done
	c.restartCoordinator(lease, filepath.Join(c.dir, "host-0"), "--state", state)
	c.waitWorkers("worker-1", "worker-2", "worker-3")
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitAPI(job) // the map phase is over before `coordinator submit` returns on a loaded machine
	for n, phase := range []coordinator.State{coordinator.Mapping, coordinator.Reducing} {
		c.waitPhase(id, phase)
		c.coord.signal(t, syscall.SIGKILL)
		<-c.coord.done
		c.restartCoordinator(lease, filepath.Join(c.dir, fmt.Sprintf("host-%d", n+1)), "--state", state)
		j, err := c.job(id)
		if err != nil {
			t.Fatalf("replacement %d does not know job %s: %v", n+1, id, err)
		}
		if j.Resumed != n+1 {
			t.Errorf("after kill %d in %s: resumed %d times", n+1, phase, j.Resumed)
		}
		t.Logf("killed in %s; the replacement resumed the job in %q; %s", phase, j.State, strings.Join(resumeLines(c.coord.logText()), "; "))
	}
	j := c.waitSucceeded(t, id)
	t.Logf("the last resume re-adopted %d map outputs from their workers and re-ran %d", j.Progress.MapsReadopted, j.Progress.MapsRerun)
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
	out, err := m.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &m.Bucket, Prefix: aws.String("state/")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		t.Errorf("journal object left after the job finished: %s", *o.Key)
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

// restartCoordinator starts the coordinator again on the same addresses with data dir
// dataDir and the extra flags, and waits until its API answers.
func (c *cluster) restartCoordinator(lease time.Duration, dataDir string, extra ...string) {
	c.t.Helper()
	args := append([]string{"serve",
		"--bind", c.gossip, "--api", c.apiAddr, "--data-dir", dataDir,
		"--gossip-key-file", c.keyFile, "--token-file", c.tokenFile, "--lease", lease.String(), "--name", "coordinator",
		"--allow-any-path"}, extra...)
	c.coord = c.start(fmt.Sprintf("coordinator-%d", len(c.procs)), filepath.Join(binDir, "coordinator"), args...)
	waitFor(c.t, 30*time.Second, "the restarted coordinator's API to answer", func() (bool, error) {
		if c.coord.exited() {
			return false, fmt.Errorf("coordinator exited: %v", c.coord.err)
		}
		code, _, err := c.call(http.MethodGet, "/healthz", "", nil)
		return err == nil && code == http.StatusOK, nil
	})
}

// resumeLines returns the coordinator's log lines about what a resume kept (and re-adopted).
func resumeLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "resumed:") || strings.Contains(l, "job resumed") {
			out = append(out, l)
		}
	}
	return out
}

// keptTasks reads the map and reduce tasks a resume kept from the coordinator's log line
// "job resumed from its journal".
func keptTasks(log string) (maps, reduces int, ok bool) {
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "job resumed from its journal") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "maps_kept="); ok {
				fmt.Sscan(v, &maps)
			}
			if v, ok := strings.CutPrefix(f, "reduces_kept="); ok {
				fmt.Sscan(v, &reduces)
			}
		}
		return maps, reduces, true
	}
	return 0, 0, false
}
