package clustertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/task"
)

// lease is the coordinator's --lease in these tests. The worker binary heartbeats every 2 s
// (worker.DefaultConfig, not a flag), so the lease must be well above that or healthy
// attempts lapse; 5 s keeps a 2.5× margin on a loaded machine.
const lease = 5 * time.Second

// jobTimeout bounds a whole job on the corpus, faults included (about 15 s unloaded).
const jobTimeout = 3 * time.Minute

// TestFiveCitiesMatchesRun runs the real five-city job on 1 coordinator + 3 worker processes
// through `coordinator submit --json`, and checks that its output is exactly what
// `coordinator run` writes for the same job.
func TestFiveCitiesMatchesRun(t *testing.T) {
	slow(t)
	data := testenv.RealData(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	// 512 KiB splits (normalize.job has 64 MiB) cut every real file into several map tasks
	// spread over the processes, quoted newlines and all.
	job, got := writeJob(t, filepath.Join(c.dir, "cluster"), "512KiB", 8, realInputs(data))
	stdout, stderr, code := c.cli("submit", job, "--json")
	if code != 0 {
		t.Fatalf("coordinator submit: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var res coordinator.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("submit --json printed no JSON result: %v\n%s", err, stdout)
	}
	if res.Status != coordinator.Succeeded || res.RecordsOut == 0 {
		t.Fatalf("cluster job: status %q, %d records out, error %q", res.Status, res.RecordsOut, res.Error)
	}

	localJob, want := writeJob(t, filepath.Join(c.dir, "local"), "512KiB", 8, realInputs(data))
	ref, err := runLocal(localJob, 3, data)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, &res, ref)
	compareOutputs(t, got, want)
}

// TestWorkerKilled kills (SIGKILL) a worker that is running an attempt, in the map phase and
// in the reduce phase. Its attempt is lost and its map outputs die with it: the coordinator
// re-runs those maps when gossip declares the worker dead, or sooner when a reducer fails
// to fetch one. The job succeeds with retries and with the fault-free output.
func TestWorkerKilled(t *testing.T) {
	for _, phase := range []string{"map", "reduce"} {
		t.Run("during "+phase, func(t *testing.T) {
			slow(t)
			want, wantRes := reference(t)
			c := startCluster(t, clusterConfig{workers: 3, lease: lease})
			job, got := corpusJob(t, filepath.Join(c.dir, "out"))
			id := c.submitAPI(job)
			victim := c.waitBusyWorker(id, phase)
			c.workers[victim].signal(t, syscall.SIGKILL)
			select {
			case <-c.workers[victim].done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s survived SIGKILL for 30s", victim)
			}
			t.Logf("killed %s in the %s phase", victim, phase)

			j := c.waitSucceeded(t, id)
			if j.Result.Retries == 0 {
				t.Errorf("job reports 0 retries, though %s died holding an attempt and map outputs", victim)
			}
			checkCounts(t, j.Result, wantRes)
			compareOutputs(t, got, want)
			c.waitMapOutputsGone(id, victim)
			log := c.coord.logText()
			t.Logf("%d map outputs re-run; on gossip's word: %v; after a reducer missed one: %v", j.Progress.MapsRerun,
				logHas(log, "worker declared down; re-running", "worker="+victim), logHas(log, "map output lost; re-running"))
		})
	}
}

// waitBusyWorker waits until job id is in phase (for "map": with a few maps done, so every
// worker likely holds map outputs) and a worker runs an attempt; it returns that worker.
func (c *cluster) waitBusyWorker(id, phase string) string {
	c.t.Helper()
	var victim string
	waitFor(c.t, jobTimeout, fmt.Sprintf("job %s in its %s phase with a worker running an attempt", id, phase), func() (bool, error) {
		j, err := c.job(id)
		if err != nil {
			return false, err
		}
		p := j.Progress
		switch {
		case j.State.Terminal():
			return false, fmt.Errorf("job ended (%s: %+v) before the %s phase could be caught", j.State, j.Result, phase)
		case phase == "map" && (p.Phase == coordinator.Mapping || p.Phase == coordinator.Checking) && p.MapsDone >= 3:
		case phase == "reduce" && p.Phase == coordinator.Reducing:
		case phase == "map" && slices.Contains([]coordinator.State{coordinator.Reducing, coordinator.Committing,
			coordinator.Publishing, coordinator.Consuming, coordinator.CleaningUp}, p.Phase):
			// Past the map phase. (Before it the job is queued, pulling or planning: on a
			// loaded machine the first look may come before the job has started.)
			return false, fmt.Errorf("the map phase ended (now %q) before a busy worker was seen", p.Phase)
		default:
			return false, nil
		}
		ws, err := c.listWorkers()
		if err != nil {
			return false, err
		}
		for _, w := range ws {
			if w.Running > 0 {
				victim = w.Name
				return true, nil
			}
		}
		return false, nil
	})
	return victim
}

// waitMapOutputsGone waits until no live worker's data dir holds map outputs of job id
// (workers delete them on the heartbeat after the job ends). Dead workers are skipped.
func (c *cluster) waitMapOutputsGone(id string, dead ...string) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, "the workers to delete the map outputs of "+id, func() (bool, error) {
		for name := range c.workers {
			if slices.Contains(dead, name) {
				continue
			}
			if _, err := os.Stat(filepath.Join(c.workerDir(name), id)); err == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// TestStoppedWorker stops (SIGSTOP) a worker that holds an attempt: the attempt is lost
// after the lease and re-run elsewhere, and the job succeeds with the fault-free output.
// Continued (SIGCONT) after the job ended, the worker runs the attempt it was given and
// reports it; the coordinator refuses the late result and the output does not change.
//
// The worker is stopped while its long poll is pending at the coordinator, which then hands
// it an attempt it can neither run nor renew — a hung worker holding a task, made
// deterministic (map attempts last milliseconds, too short to stop one mid-run reliably).
// It also means the stopped worker holds no map outputs: a reducer fetching from a stopped
// worker waits out the fetch stall timeout (30 s in the worker binary) before it gives up.
//
// The stopped worker's own reads fail after its --fetch-stall too, the pending poll's
// included: stopped longer than that (the job and the checks below take about that long on
// a loaded machine), it would drop the poll's answer as a hung read and never run the
// attempt, and nothing would be late. So worker-3 gets a stall far longer than the test.
func TestStoppedWorker(t *testing.T) {
	slow(t)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 2, lease: lease})
	job, got := corpusJob(t, filepath.Join(c.dir, "out"))

	// The coordinator stamps a worker's last_seen when it registers it (from gossip), and
	// again when the worker polls or heartbeats. Heartbeats come every 2 s, so a new stamp
	// within a second of registration is the first long poll arriving: stopped then, the
	// worker has a poll pending, and its read deadline (--fetch-stall, an hour here) leaves
	// time to deliver the late result after the job.
	stopped := c.startWorker("worker-3", c.keyFile, "--fetch-stall", "1h")
	c.waitWorkers("worker-3")
	registered := c.workerInfo("worker-3").LastSeen
	waitFor(t, 10*time.Second, "worker-3's first poll", func() (bool, error) {
		return c.workerInfo("worker-3").LastSeen.After(registered), nil
	})
	stopped.signal(t, syscall.SIGSTOP)
	id := c.submitDetached(job)
	waitFor(t, time.Minute, "the stopped worker-3 to be handed an attempt", func() (bool, error) {
		ws, err := c.listWorkers()
		if err != nil {
			return false, err
		}
		if j, err := c.job(id); err != nil || j.State.Terminal() {
			return false, fmt.Errorf("job %s ended (%s) before worker-3 got an attempt: %v", id, j.State, err)
		}
		return slices.ContainsFunc(ws, func(w workerInfo) bool { return w.Name == "worker-3" && w.Running > 0 }), nil
	})
	waitFor(t, time.Minute, "the coordinator to take worker-3's attempt back", func() (bool, error) {
		log := c.coord.logText()
		return logHas(log, "lease lapsed; attempt lost", "worker=worker-3") || logHas(log, "worker gone", "worker=worker-3"), nil
	})

	j := c.waitSucceeded(t, id)
	if j.Result.Retries == 0 {
		t.Errorf("job reports 0 retries, though worker-3's attempt was lost")
	}
	checkCounts(t, j.Result, wantRes)
	compareOutputs(t, got, want)
	if stopped.exited() {
		t.Fatalf("worker-3 exited while stopped: %v", stopped.err)
	}

	stopped.signal(t, syscall.SIGCONT)
	// The worker logs the refusal when the coordinator has answered 409, that is after the
	// coordinator logged it, and before it discards the attempt's files.
	waitFor(t, time.Minute, "worker-3's late result to be refused", func() (bool, error) {
		return logHas(stopped.logText(), "result not accepted"), nil
	})
	if !logHas(c.coord.logText(), "ignoring late result", "worker=worker-3") {
		t.Errorf("worker-3's result was refused, but the coordinator did not log ignoring it")
	}
	// Once the workers have deleted the job's map outputs, which they do only when no
	// attempt of the job runs, the late attempt is over: nothing it wrote may show.
	c.waitMapOutputsGone(id)
	compareOutputs(t, got, want)
}

// workerInfo returns worker name as the coordinator lists it (zero if it does not).
func (c *cluster) workerInfo(name string) workerInfo {
	c.t.Helper()
	ws, err := c.listWorkers()
	if err != nil {
		c.t.Fatal(err)
	}
	for _, w := range ws {
		if w.Name == name {
			return w
		}
	}
	return workerInfo{}
}

// logHas reports whether one line of log holds every part.
func logHas(log string, parts ...string) bool {
	for line := range strings.Lines(log) {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return true
		}
	}
	return false
}

// TestAdmission checks the cluster's two gates: gossip encryption keeps out a node with
// another key, and the token keeps out API calls and shuffle fetches without it.
func TestAdmission(t *testing.T) {
	slow(t)
	c := startCluster(t, clusterConfig{workers: 1, lease: lease})
	job, out := corpusJob(t, filepath.Join(c.dir, "out"))

	t.Run("wrong gossip key", func(t *testing.T) {
		other := make([]byte, 32)
		for i := range other {
			other[i] = byte(i)
		}
		intruder := c.startWorker("intruder", c.writeFile("other.key", fmt.Sprintf("%x", other)))
		waitFor(t, time.Minute, "the intruder to give up", func() (bool, error) {
			ws, err := c.listWorkers()
			if err != nil {
				return false, err
			}
			if slices.ContainsFunc(ws, func(w workerInfo) bool { return w.Name == "intruder" }) {
				return false, fmt.Errorf("the coordinator lists the intruder: %+v", ws)
			}
			return intruder.exited(), nil
		})
		if intruder.cmd.ProcessState.ExitCode() == 0 {
			t.Errorf("the intruder exited 0")
		}
		if log := intruder.logText(); !strings.Contains(log, "join") {
			t.Errorf("the intruder's error does not mention the join:\n%s", log)
		}
		ws, err := c.listWorkers()
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 1 || ws[0].Name != "worker-1" {
			t.Errorf("workers after the intruder: %+v, want only worker-1", ws)
		}
	})

	t.Run("api without token", func(t *testing.T) {
		src, err := os.ReadFile(job)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(task.JobSource{Path: job, Source: src})
		poll, _ := json.Marshal(task.PollRequest{Worker: "worker-1", Free: 1})
		for _, tc := range []struct {
			name, method, path, token string
			body                      []byte
		}{
			{"submit without token", http.MethodPost, task.PathJobs, "", body},
			{"submit with wrong token", http.MethodPost, task.PathJobs, "not-" + c.token, body},
			{"list jobs without token", http.MethodGet, task.PathJobs, "", nil},
			{"list workers without token", http.MethodGet, task.PathWorkers, "", nil},
			{"poll for tasks without token", http.MethodPost, task.PathPoll, "", poll},
			{"poll for tasks with wrong token", http.MethodPost, task.PathPoll, c.token + "x", poll},
			{"status page without token", http.MethodGet, "/", "", nil},
			{"pprof without token", http.MethodGet, "/debug/pprof/", "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, b, err := c.call(tc.method, tc.path, tc.token, tc.body)
				if err != nil {
					t.Fatal(err)
				}
				if code != http.StatusUnauthorized {
					t.Errorf("%s %s: %d %s, want 401", tc.method, tc.path, code, b)
				}
			})
		}
		stdout, stderr, code := runCLI(t, "submit", job, "--coordinator", "http://"+c.apiAddr,
			"--token-file", c.writeFile("wrong-token", "wrong"))
		if code == 0 || !strings.Contains(stderr, "401") {
			t.Errorf("submit with a wrong token: exit %d, stdout %q, stderr %q; want non-zero and a 401", code, stdout, stderr)
		}

		// Nothing happened: no job, no output, and the worker was not robbed of anything.
		var jobs []coordinator.JobStatus
		if err := c.get(task.PathJobs, &jobs); err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 0 {
			t.Errorf("the coordinator has %d jobs after unauthorized submits: %+v", len(jobs), jobs)
		}
		for _, dir := range []string{out.Lake, out.Summaries, out.Rejects} {
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s exists after unauthorized submits (stat: %v)", dir, err)
			}
		}
	})

	t.Run("shuffle without token", func(t *testing.T) {
		ws, err := c.listWorkers()
		if err != nil || len(ws) == 0 {
			t.Fatalf("workers: %+v, %v", ws, err)
		}
		url := "http://" + ws[0].Shuffle + "/shuffle/normalize-20260101T000000-0000/0/0"
		for _, tc := range []struct {
			name  string
			token string
			want  int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"wrong token", c.token[1:], http.StatusUnauthorized},
			// The same request with the token passes the gate and finds nothing: it is the
			// token, not the path, that the 401s are about.
			{"right token", c.token, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, b, err := httpCall(http.MethodGet, url, tc.token, nil)
				if err != nil {
					t.Fatal(err)
				}
				if code != tc.want {
					t.Errorf("GET %s: %d %s, want %d", url, code, b, tc.want)
				}
			})
		}
	})
}

// TestCancel cancels a job in its reduce phase — map outputs on every worker, reduce
// attempts writing into the lake's _temporary — with `coordinator cancel`: the job ends
// cancelled, the lake holds no group and no _SUCCESS, neither the lake nor the rejects root
// keeps a _temporary, and the workers delete the job's map outputs.
func TestCancel(t *testing.T) {
	slow(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})
	job, out := corpusJob(t, filepath.Join(c.dir, "out"))
	id := c.submitDetached(job)
	c.waitBusyWorker(id, "reduce")
	waitFor(t, time.Minute, "a reduce attempt to write into the lake's _temporary", func() (bool, error) {
		if j, err := c.job(id); err != nil || j.State.Terminal() {
			return false, fmt.Errorf("job %s ended (%s) before it could be cancelled in its reduce phase: %v", id, j.State, err)
		}
		_, err := os.Stat(filepath.Join(out.Lake, lake.TemporaryDir))
		return err == nil, nil
	})

	stdout, stderr, code := c.cli("cancel", id)
	if code != 0 || !strings.Contains(stdout, id) {
		t.Fatalf("coordinator cancel: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	j := c.waitJob(id, time.Minute)
	if j.State != coordinator.Cancelled || j.Result == nil || j.Result.Status != coordinator.Cancelled {
		t.Fatalf("job %s after cancel: state %q, result %+v", id, j.State, j.Result)
	}
	if stdout, _, _ := c.cli("status", id); !strings.Contains(stdout, "cancelled") || !strings.Contains(stdout, "error: "+j.Result.Error+"\n") {
		t.Errorf("coordinator status %s does not say cancelled, and why (%q):\n%s", id, j.Result.Error, stdout)
	}

	// Attempts that were running when the job was cancelled stop at their workers' next
	// heartbeat; by the time the workers have deleted the map outputs, they are done.
	c.waitMapOutputsGone(id)
	for _, root := range []string{out.Lake, out.Summaries} {
		entries, err := os.ReadDir(root)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("%s holds %s after the job was cancelled", root, e.Name())
		}
	}
	noTemporary(t, out)
}

// TestSubmitExitCodes checks `coordinator submit`'s contract with scripts: exit 0 and the
// JSON result on stdout on success; non-zero and a message naming the problem on failure.
func TestSubmitExitCodes(t *testing.T) {
	slow(t)
	c := startCluster(t, clusterConfig{workers: 2, lease: lease})
	missing := filepath.Join(c.dir, "no-such-input")
	for _, tc := range []struct {
		name    string
		input   string // the job's one input directory
		json    bool
		wantOK  bool
		wantMsg string // must appear in stdout or stderr
	}{
		{name: "success with json", input: filepath.Join(corpus, "baltimore"), json: true, wantOK: true},
		{name: "missing input with json", input: missing, json: true, wantMsg: missing},
		{name: "missing input", input: missing, wantMsg: missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, out := writeJob(t, filepath.Join(c.dir, strings.ReplaceAll(tc.name, " ", "-")), corpusSplit, 2,
				[]input{{"baltimore", tc.input, "baltimore", ""}})
			args := []string{"submit", job}
			if tc.json {
				args = append(args, "--json")
			}
			stdout, stderr, code := c.cli(args...)
			if (code == 0) != tc.wantOK {
				t.Fatalf("exit %d, want success %v\nstdout:\n%s\nstderr:\n%s", code, tc.wantOK, stdout, stderr)
			}
			if tc.wantMsg != "" && !strings.Contains(stdout+stderr, tc.wantMsg) {
				t.Errorf("the output does not name %q\nstdout:\n%s\nstderr:\n%s", tc.wantMsg, stdout, stderr)
			}
			if !tc.json || stdout == "" && !tc.wantOK {
				return // a job refused at submission prints no result
			}
			var res coordinator.Result
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("stdout is not one JSON result: %v\n%s", err, stdout)
			}
			wantStatus := map[bool]coordinator.State{true: coordinator.Succeeded, false: coordinator.Failed}[tc.wantOK]
			if res.Status != wantStatus {
				t.Errorf("result status %q, want %q (error %q)", res.Status, wantStatus, res.Error)
			}
			if tc.wantOK {
				if res.RecordsOut == 0 || res.Outputs.Manifest == "" {
					t.Errorf("result: %d records out, manifest %q", res.RecordsOut, res.Outputs.Manifest)
				}
				if m := readManifest(t, out.Lake); m.Job != res.Job || m.Rows != res.RecordsOut {
					t.Errorf("manifest job %q rows %d, result job %q rows %d", m.Job, m.Rows, res.Job, res.RecordsOut)
				}
			}
		})
	}
}
