package clustertest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/task"
)

// The test environment, set up once by TestMain (empty under -short).
var (
	repoRoot string // the module root (the directory holding go.mod)
	binDir   string // coordinator and worker binaries built from this tree
	corpus   string // the shared generated corpus
	tmpRoot  string // removed when the tests end
)

// Corpus parameters: 24 MiB cut into 256 KiB splits gives about a hundred map tasks, so the
// map phase lasts long enough to hit, and eight reducers that each run for seconds.
const (
	corpusSize  = "24MiB"
	corpusSeed  = "3"
	corpusSplit = "256KiB"
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test skips itself; building would only cost time
	}
	tmp, err := os.MkdirTemp("", "ireports-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	tmpRoot = tmp
	if err := setup(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "clustertest: setup:", err)
		return 1
	}
	return m.Run()
}

// setup builds the binaries and generates the shared corpus under tmp.
func setup(tmp string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	for repoRoot = wd; ; repoRoot = filepath.Dir(repoRoot) {
		if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(repoRoot) == repoRoot {
			return fmt.Errorf("no go.mod above %s", wd)
		}
	}
	binDir = filepath.Join(tmp, "bin")
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the binaries: %w", err)
	}
	build := exec.Command(goTool, "build", "-o", binDir+string(filepath.Separator), "./cmd/...")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/...: %w\n%s", err, out)
	}
	corpus = filepath.Join(tmp, "corpus")
	gen := exec.Command(filepath.Join(binDir, "coordinator"), "gen", "--out", corpus, "--size", corpusSize, "--seed", corpusSeed)
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("coordinator gen: %w\n%s", err, out)
	}
	return nil
}

// slow skips t under -short: every test here starts processes and runs whole jobs.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process cluster test: skipped under -short")
	}
}

// outputs is where a job writes: the lake, its summaries (the default, beside the lake) and
// the rejects root.
type outputs struct {
	Lake, Summaries, Rejects string
}

// writeJob writes a job file whose inputs are given as name → (path, schema, format), its
// output under dir, and returns the file and the outputs.
func writeJob(t *testing.T, dir, split string, reducers int, inputs []input) (string, outputs) {
	t.Helper()
	out := outputs{Lake: filepath.Join(dir, "requests"), Summaries: filepath.Join(dir, "summaries"), Rejects: filepath.Join(dir, "rejects")}
	var b strings.Builder
	fmt.Fprintf(&b, "job \"normalize\" {\n  split_size = %q\n  reducers = %d\n  max_reject_ratio = 0.01\n", split, reducers)
	for _, in := range inputs {
		fmt.Fprintf(&b, "  input %q {\n    path = %q\n    schema = %q\n", in.name, in.path, in.schema)
		if in.format != "" {
			fmt.Fprintf(&b, "    format = %q\n", in.format)
		}
		b.WriteString("  }\n")
	}
	fmt.Fprintf(&b, "  output {\n    parquet = %q\n    rejects = %q\n  }\n}\n", out.Lake, out.Rejects)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "normalize.job")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, out
}

type input struct{ name, path, schema, format string }

// corpusInputs are the inputs of the generated corpus (scripts/corpus.job.in).
func corpusInputs() []input {
	return []input{
		{"nyc_portal", filepath.Join(corpus, "nyc", "portal-*.csv"), "nyc", ""},
		{"nyc_soda_csv", filepath.Join(corpus, "nyc", "soda-*.csv"), "nyc", ""},
		{"nyc_soda_json", filepath.Join(corpus, "nyc", "soda-*.json"), "nyc", "soda-json"},
		{"la", filepath.Join(corpus, "la"), "la", ""},
		{"sf", filepath.Join(corpus, "sf"), "sf", ""},
		{"boston", filepath.Join(corpus, "boston"), "boston", ""},
		{"baltimore", filepath.Join(corpus, "baltimore"), "baltimore", ""},
	}
}

// realInputs are the inputs of normalize.job over the real exports in data.
func realInputs(data string) []input {
	return []input{
		{"nyc_portal", filepath.Join(data, "nyc", "portal_*.csv"), "nyc", ""},
		{"nyc_soda_csv", filepath.Join(data, "nyc", "soda_*.csv"), "nyc", ""},
		{"nyc_soda_json", filepath.Join(data, "nyc", "soda_*.json"), "nyc", "soda-json"},
		{"la", filepath.Join(data, "la"), "la", ""},
		{"sf", filepath.Join(data, "sf"), "sf", ""},
		{"boston", filepath.Join(data, "boston"), "boston", ""},
		{"baltimore", filepath.Join(data, "baltimore"), "baltimore", ""},
	}
}

// corpusJob writes the shared corpus's job with its output under dir.
func corpusJob(t *testing.T, dir string) (string, outputs) {
	return writeJob(t, dir, corpusSplit, 8, corpusInputs())
}

// The fault-free reference output of the corpus job, computed once by `coordinator run`.
var (
	refOnce sync.Once
	refOut  outputs
	refRes  *coordinator.Result
	refErr  error
)

// reference returns the output of `coordinator run` on the corpus job, running it on first use.
func reference(t *testing.T) (outputs, *coordinator.Result) {
	t.Helper()
	refOnce.Do(func() {
		var job string
		job, refOut = corpusJob(t, filepath.Join(tmpRoot, "reference"))
		refRes, refErr = runLocal(job, 3, corpus)
	})
	if refErr != nil {
		t.Fatalf("reference run of the corpus job: %v", refErr)
	}
	return refOut, refRes
}

// runLocal runs `coordinator run JOB --workers n --json --allow-path data` (the job's
// inputs are under data, outside the job file's directory) and returns its result.
func runLocal(job string, workers int, data string) (*coordinator.Result, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "coordinator"), "run", job, "--workers", fmt.Sprint(workers), "--json", "--allow-path", data)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var res coordinator.Result
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil && err == nil {
		err = fmt.Errorf("result is not JSON: %w", jerr)
	}
	if err == nil && res.Status != coordinator.Succeeded {
		err = fmt.Errorf("status %q: %s", res.Status, res.Error)
	}
	if err != nil {
		return nil, fmt.Errorf("coordinator run %s: %w\nstdout:\n%s\nstderr:\n%s", job, err, stdout.Bytes(), stderr.Bytes())
	}
	return &res, nil
}

// proc is a daemon started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string        // its stdout and stderr
	done chan struct{} // closed when it has exited; err is then set
	err  error
}

// signal sends sig to the process's whole group.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logText returns what the process has logged so far.
func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// cluster is a coordinator daemon and its workers, all separate processes on loopback.
type cluster struct {
	t         *testing.T
	dir       string
	token     string
	keyFile   string
	tokenFile string
	apiAddr   string // host:port of the coordinator's API
	gossip    string // host:port workers join
	coord     *proc
	coordArgs []string // the coordinator's command line, for a restart
	workers   map[string]*proc
	procs     []*proc // every process, in start order
}

// clusterConfig is what a test varies.
type clusterConfig struct {
	workers int           // started and awaited by startCluster, named worker-1…
	lease   time.Duration // the coordinator's --lease
}

// startCluster starts a coordinator and cfg.workers workers and waits until every worker is
// registered with its shuffle address.
func startCluster(t *testing.T, cfg clusterConfig) *cluster {
	t.Helper()
	slow(t)
	c := &cluster{t: t, dir: t.TempDir(), workers: map[string]*proc{}}
	// Registered first, so it runs last: after every process has been killed and its log
	// file is complete.
	t.Cleanup(c.dumpLogsOnFailure)
	key, tok := make([]byte, 32), make([]byte, 16)
	rand.Read(key)
	rand.Read(tok)
	c.token = hex.EncodeToString(tok)
	c.keyFile = c.writeFile("gossip.key", hex.EncodeToString(key))
	c.tokenFile = c.writeFile("token", c.token)
	c.gossip, c.apiAddr = freeAddr(t, true), freeAddr(t, false)
	c.coordArgs = []string{"serve",
		"--bind", c.gossip, "--api", c.apiAddr, "--data-dir", filepath.Join(c.dir, "coordinator"),
		"--gossip-key-file", c.keyFile, "--token-file", c.tokenFile, "--lease", cfg.lease.String(), "--name", "coordinator",
		"--allow-any-path"} // the tests' own jobs; the coordinator package tests the roots
	c.startCoordinator("coordinator")
	var names []string
	for i := range cfg.workers {
		name := fmt.Sprintf("worker-%d", i+1)
		c.startWorker(name, c.keyFile)
		names = append(names, name)
	}
	c.waitWorkers(names...)
	return c
}

// startCoordinator starts (or restarts, under a new log name) the cluster's coordinator with
// its arguments and waits until its API answers.
func (c *cluster) startCoordinator(logName string) {
	t := c.t
	t.Helper()
	c.coord = c.start(logName, filepath.Join(binDir, "coordinator"), c.coordArgs...)
	waitFor(t, 30*time.Second, "the coordinator's API to answer", func() (bool, error) {
		if c.coord.exited() {
			return false, fmt.Errorf("coordinator exited: %v", c.coord.err)
		}
		code, _, err := c.call(http.MethodGet, "/healthz", "", nil)
		return err == nil && code == http.StatusOK, nil
	})
}

func (c *cluster) writeFile(name, content string) string {
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// start runs a daemon in its own process group, logging to a file, and kills the group in
// t.Cleanup.
func (c *cluster) start(name, path string, args ...string) *proc {
	t := c.t
	t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // SIGKILL also ends a stopped process
		<-p.done
	})
	c.procs = append(c.procs, p)
	return p
}

// startWorker starts worker name with one slot, its own data dir, and the given key file.
func (c *cluster) startWorker(name, keyFile string, extra ...string) *proc {
	c.t.Helper()
	p := c.start(name, filepath.Join(binDir, "worker"), append([]string{
		"--join", c.gossip, "--bind", freeAddr(c.t, true), "--listen", freeAddr(c.t, false),
		"--slots", "1", "--data-dir", c.workerDir(name), "--name", name,
		"--gossip-key-file", keyFile, "--token-file", c.tokenFile, "--allow-any-path"}, extra...)...)
	c.workers[name] = p
	return p
}

func (c *cluster) workerDir(name string) string { return filepath.Join(c.dir, name+"-data") }

// dumpLogsOnFailure prints the tail of every process's log when the test failed.
func (c *cluster) dumpLogsOnFailure() {
	if !c.t.Failed() {
		return
	}
	for _, p := range c.procs {
		lines := strings.Split(strings.TrimRight(p.logText(), "\n"), "\n")
		if len(lines) > 120 {
			lines = append([]string{fmt.Sprintf("… (%d earlier lines)", len(lines)-120)}, lines[len(lines)-120:]...)
		}
		c.t.Logf("==== log of %s (exited: %v, %v) ====\n%s", p.name, p.exited(), p.err, strings.Join(lines, "\n"))
	}
}

// freeAddr returns 127.0.0.1:port with port free for TCP and, when udp is set, for UDP too
// (gossip uses both on one port).
func freeAddr(t *testing.T, udp bool) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		if udp {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				ln.Close()
				continue
			}
			pc.Close()
		}
		ln.Close()
		return addr
	}
	t.Fatal("no free TCP+UDP port on 127.0.0.1")
	return ""
}

// waitFor polls cond every 20 ms until it is true, fails, or timeout passes; it fails the
// test with what it was waiting for.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends a request to the coordinator's API with the given bearer token ("": none).
func (c *cluster) call(method, path, token string, body []byte) (int, []byte, error) {
	return httpCall(method, "http://"+c.apiAddr+path, token, body)
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpCall(method, url, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// get GETs path with the cluster token and decodes the JSON answer into v.
func (c *cluster) get(path string, v any) error {
	code, b, err := c.call(http.MethodGet, path, c.token, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, b)
	}
	return json.Unmarshal(b, v)
}

// workerInfo is a worker as GET /api/v1/workers shows it.
type workerInfo struct {
	Name     string    `json:"name"`
	Shuffle  string    `json:"shuffle"`
	Slots    int       `json:"slots"`
	Running  int       `json:"running"`
	LastSeen time.Time `json:"last_seen"`
}

func (c *cluster) listWorkers() ([]workerInfo, error) {
	var ws []workerInfo
	err := c.get("/api/v1/workers", &ws)
	return ws, err
}

// waitWorkers waits until the coordinator lists every named worker with its shuffle address.
func (c *cluster) waitWorkers(names ...string) {
	c.t.Helper()
	waitFor(c.t, 60*time.Second, fmt.Sprintf("workers %v to register", names), func() (bool, error) {
		for _, n := range names {
			if c.workers[n].exited() {
				return false, fmt.Errorf("%s exited: %v", n, c.workers[n].err)
			}
		}
		ws, err := c.listWorkers()
		if err != nil {
			return false, err
		}
		for _, n := range names {
			if !slices.ContainsFunc(ws, func(w workerInfo) bool { return w.Name == n && w.Shuffle != "" }) {
				return false, nil
			}
		}
		return true, nil
	})
}

// job returns job id's state from the API.
func (c *cluster) job(id string) (coordinator.JobStatus, error) {
	var j coordinator.JobStatus
	err := c.get("/api/v1/jobs/"+id, &j)
	return j, err
}

// waitJob waits until job id has ended and returns its final state.
func (c *cluster) waitJob(id string, timeout time.Duration) coordinator.JobStatus {
	c.t.Helper()
	var j coordinator.JobStatus
	waitFor(c.t, timeout, "job "+id+" to end", func() (bool, error) {
		var err error
		j, err = c.job(id)
		return err == nil && j.State.Terminal(), err
	})
	return j
}

// waitSucceeded waits up to jobTimeout for job id to end and fails t unless it succeeded
// with a result.
func (c *cluster) waitSucceeded(t *testing.T, id string) coordinator.JobStatus {
	t.Helper()
	j := c.waitJob(id, jobTimeout)
	if j.State != coordinator.Succeeded || j.Result == nil {
		t.Fatalf("job %s: state %q, result %+v", id, j.State, j.Result)
	}
	return j
}

// cli runs the coordinator binary's client command against this cluster and returns its
// stdout, stderr and exit code.
func (c *cluster) cli(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	args = append(args, "--coordinator", "http://"+c.apiAddr, "--token-file", c.tokenFile)
	return runCLI(c.t, args...)
}

// runCLI runs the coordinator binary with args, bounded to five minutes.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "coordinator"), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Minute, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer timer.Stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("coordinator %s: %v", args[0], err)
	}
	return out.String(), errb.String(), code
}

// submitDetached submits job with the binary and returns the job id.
func (c *cluster) submitDetached(job string) string {
	c.t.Helper()
	stdout, stderr, code := c.cli("submit", job, "--detach")
	id := strings.TrimSpace(stdout)
	if code != 0 || id == "" || strings.ContainsAny(id, " \n") {
		c.t.Fatalf("coordinator submit --detach: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	return id
}

// submitAPI submits job through the coordinator's API itself and returns its id: a test
// that must catch the job's map phase, which lasts a few hundred milliseconds on the corpus,
// cannot wait for `coordinator submit` (a process to start and exit, slow on a loaded
// machine) before it starts looking.
func (c *cluster) submitAPI(job string) string {
	c.t.Helper()
	src, err := os.ReadFile(job)
	if err != nil {
		c.t.Fatal(err)
	}
	body, err := json.Marshal(task.JobSource{Path: job, Source: src})
	if err != nil {
		c.t.Fatal(err)
	}
	code, answer, err := c.call(http.MethodPost, task.PathJobs, c.token, body)
	var sub struct{ ID string }
	if err != nil || code != http.StatusCreated || json.Unmarshal(answer, &sub) != nil || sub.ID == "" {
		c.t.Fatalf("submit %s: %d %s (%v)", job, code, answer, err)
	}
	return sub.ID
}

// compareOutputs checks that got holds exactly what want holds: the same _SUCCESS group list
// and files (path, size, sha256), files on disk that match their manifest, no other file in
// the lake, the same rows in every Parquet file, the same rejects, and no _temporary.
func compareOutputs(t *testing.T, got, want outputs) {
	t.Helper()
	gm, wm := readManifest(t, got.Lake), readManifest(t, want.Lake)
	if !reflect.DeepEqual(gm.Groups, wm.Groups) {
		t.Errorf("manifest groups differ: got %d groups, want %d\n%s", len(gm.Groups), len(wm.Groups), diffLines(jsonLines(gm.Groups), jsonLines(wm.Groups)))
	}
	if gm.Rows != wm.Rows {
		t.Errorf("manifest rows: got %d, want %d", gm.Rows, wm.Rows)
	}
	sortFiles := func(fs []lake.File) []lake.File {
		return slices.SortedFunc(slices.Values(fs), func(a, b lake.File) int { return strings.Compare(a.Path, b.Path) })
	}
	gf, wf := sortFiles(gm.Files), sortFiles(wm.Files)
	if !reflect.DeepEqual(gf, wf) {
		t.Errorf("manifest files differ (%d vs %d files):\n%s", len(gf), len(wf), diffLines(jsonLines(gf), jsonLines(wf)))
	}
	// The manifest must describe the lake as it is: every file present with its checksum,
	// and nothing else (no stray attempt, no _temporary).
	onDisk := hashTree(t, got.Lake)
	delete(onDisk, lake.SuccessFile)
	inManifest := map[string]string{}
	for _, f := range gm.Files {
		inManifest[f.Path] = f.SHA256
	}
	if !reflect.DeepEqual(onDisk, inManifest) {
		t.Errorf("lake %s does not match its manifest:\n%s", got.Lake, diffLines(mapLines(onDisk), mapLines(inManifest)))
	}
	// The same for the summary datasets, which must also be byte-identical to the reference.
	if gm.Summaries == nil || wm.Summaries == nil {
		t.Fatalf("a manifest names no summaries: got %+v, want %+v", gm.Summaries, wm.Summaries)
	}
	if gs, ws := sortFiles(gm.Summaries.Files), sortFiles(wm.Summaries.Files); !reflect.DeepEqual(gs, ws) {
		t.Errorf("manifest summary files differ (%d vs %d files):\n%s", len(gs), len(ws), diffLines(jsonLines(gs), jsonLines(ws)))
	}
	onDisk, inManifest = hashTree(t, got.Summaries), map[string]string{}
	for _, f := range gm.Summaries.Files {
		inManifest[f.Path] = f.SHA256
	}
	if !reflect.DeepEqual(onDisk, inManifest) {
		t.Errorf("summaries %s do not match the manifest:\n%s", got.Summaries, diffLines(mapLines(onDisk), mapLines(inManifest)))
	}
	for _, f := range wf {
		if !strings.HasPrefix(f.Path, "city=") || !strings.HasSuffix(f.Path, ".parquet") {
			continue
		}
		gr, err := lake.ReadParquet[lake.Row](filepath.Join(got.Lake, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("read %s: %v", f.Path, err)
			continue
		}
		wr, err := lake.ReadParquet[lake.Row](filepath.Join(want.Lake, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatalf("read reference %s: %v", f.Path, err)
		}
		if !reflect.DeepEqual(gr, wr) {
			t.Errorf("%s: rows differ (%d vs %d rows)", f.Path, len(gr), len(wr))
		}
	}
	if gr, wr := hashTree(t, got.Rejects), hashTree(t, want.Rejects); !reflect.DeepEqual(gr, wr) {
		t.Errorf("rejects differ:\n%s", diffLines(mapLines(gr), mapLines(wr)))
	}
	noTemporary(t, got)
}

// noTemporary fails t if the lake, the summaries or the rejects root holds a _temporary
// directory.
func noTemporary(t *testing.T, out outputs) {
	t.Helper()
	for _, root := range []string{out.Lake, out.Summaries, out.Rejects} {
		if left := temporaryLeft(root); left != "" {
			t.Errorf("%s: %s", root, left)
		}
	}
}

// temporaryLeft describes what is left under root/_temporary, or returns "".
func temporaryLeft(root string) string {
	tmp := filepath.Join(root, lake.TemporaryDir)
	if _, err := os.Stat(tmp); errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	var left []string
	filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			left = append(left, rel)
		}
		return nil
	})
	if len(left) > 5 {
		left = append(left[:5], fmt.Sprintf("… and %d more", len(left)-5))
	}
	return fmt.Sprintf("%s is still there; files: %v", lake.TemporaryDir, left)
}

func readManifest(t *testing.T, root string) *lake.Manifest {
	t.Helper()
	m, err := lake.ReadManifest(root)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return m
}

// hashTree maps every file under root (slash-separated, relative) to its sha256; a missing
// root is empty.
func hashTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, bufio.NewReader(f)); err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatalf("hash %s: %v", root, err)
	}
	return out
}

func jsonLines[T any](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return out
}

func mapLines(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+" "+v)
	}
	slices.Sort(out)
	return out
}

// diffLines lists up to ten lines only in got ("+") or only in want ("-").
func diffLines(got, want []string) string {
	var b strings.Builder
	n := 0
	for _, l := range got {
		if !slices.Contains(want, l) && n < 10 {
			fmt.Fprintf(&b, "  + %s\n", l)
			n++
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) && n < 10 {
			fmt.Fprintf(&b, "  - %s\n", l)
			n++
		}
	}
	return b.String()
}

// checkCounts fails t unless the two results counted the same records and groups.
func checkCounts(t *testing.T, got, want *coordinator.Result) {
	t.Helper()
	type counts struct{ In, Out, Rejected, Dups int64 }
	g := counts{got.RecordsIn, got.RecordsOut, got.Rejected, got.DuplicatesRemoved}
	w := counts{want.RecordsIn, want.RecordsOut, want.Rejected, want.DuplicatesRemoved}
	if g != w || got.Groups != want.Groups {
		t.Errorf("counts: got %+v and %d groups, want %+v and %d groups", g, got.Groups, w, want.Groups)
	}
}
