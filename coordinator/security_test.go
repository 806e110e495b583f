package coordinator

// Attack tests of issue 10 against a real in-process coordinator and worker: secrets read
// through env() stay inside, names cannot reach outside the data and output directories,
// and jobs read and write only under the allowed roots.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// syncBuffer is a bytes.Buffer that log handlers may write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secureCluster is a coordinator and one worker with their own configs, their logs captured.
type secureCluster struct {
	srv       *Server
	w         *worker.Daemon
	log       *syncBuffer // the coordinator's
	wlog      *syncBuffer // the worker's
	token     string
	tokenFile string
	client    *Client
}

// startSecureCluster starts a coordinator whose data directory is dataDir, with allowed
// roots serverRoots (nil: any path) and job env jobEnv, and a worker with workerRoots.
func startSecureCluster(t *testing.T, dataDir string, serverRoots, workerRoots, jobEnv []string) *secureCluster {
	t.Helper()
	key, tok := make([]byte, 32), make([]byte, 16)
	rand.Read(key)
	rand.Read(tok)
	c := &secureCluster{log: &syncBuffer{}, wlog: &syncBuffer{}, token: hex.EncodeToString(tok)}
	c.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(c.tokenFile, []byte(c.token), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := LocalServerConfig()
	sc.Name, sc.DataDir, sc.Key, sc.Token = "coordinator", dataDir, key, c.token
	sc.Log = slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sc.AllowPaths, sc.AnyPath, sc.JobEnv = serverRoots, len(serverRoots) == 0, jobEnv
	// One quick attempt: the tests' databases are unreachable on purpose.
	sc.Publish = &pgsink.Config{ConnectTimeout: 5 * time.Second, AttemptTimeout: time.Minute, BatchRows: 1024}
	srv, err := NewServer(sc)
	if err != nil {
		t.Fatal(err)
	}
	c.srv = srv
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	wc := worker.LocalConfig()
	wc.Name, wc.Join, wc.DataDir, wc.Key, wc.Token = "worker-1", []string{srv.GossipAddr()}, t.TempDir(), key, c.token
	wc.Slots, wc.Log = 2, slog.New(slog.NewTextHandler(c.wlog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wc.AllowPaths, wc.AnyPath = workerRoots, len(workerRoots) == 0
	w, err := worker.Start(wc)
	if err != nil {
		t.Fatal(err)
	}
	c.w = w
	t.Cleanup(func() { w.Shutdown(context.Background()) }) // runs before the server's
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Scheduler().Workers()) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not register within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.client = &Client{Base: "http://" + srv.APIAddr(), Token: c.token}
	return c
}

// get GETs path from the coordinator's API with the token and returns the body.
func (c *secureCluster) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.srv.APIAddr()+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
	return string(b)
}

// wait follows job id until it ends and returns its state.
func (c *secureCluster) wait(t *testing.T, id string) JobStatus {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, ok := c.srv.Job(id)
		if !ok {
			t.Fatalf("no job %s", id)
		}
		if j.State.Terminal() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 2 minutes", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submitText submits a job file's text over the API, as `coordinator submit` does.
func (c *secureCluster) submitText(t *testing.T, dir, name, src string) (string, error) {
	t.Helper()
	path := filepath.Join(dir, name+".job")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return c.client.Submit(context.Background(), task.JobSource{Path: path, Source: []byte(src)})
}

// tinyJob is a job file over the tiny schema; inputPath, lake and rejects are HCL string
// contents (they may hold ${env("...")}).
func tinyJob(name, inputPath, lake, rejects, extraOutput string) string {
	return fmt.Sprintf(`%s
job %q {
  split_size       = "64MiB"
  reducers         = 2
  max_reject_ratio = 0.5
  input "tiny" {
    path   = "%s"
    schema = "tiny"
  }
  output {
    parquet = "%s"
    rejects = "%s"
    %s
  }
}
`, tinySchema, name, inputPath, lake, rejects, extraOutput)
}

// TestSecretsStayInside runs a job whose database URL and a path segment come from allowed
// environment variables holding distinctive secrets, and a variant that fails in planning
// with an error naming the secret path. Neither secret appears in `submit`'s output, the
// API's job status and list, the status page, the coordinator's log or the job history;
// and a job reading a variable that is not allowed is refused with its name, not its value.
func TestSecretsStayInside(t *testing.T) {
	const (
		segSecret = "pathSECRET-7f3a9c"
		pgSecret  = "pgSECRET-91c2e4"
		notSecret = "notALLOWED-5d6e7f"
	)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	seg := "seg-" + segSecret
	os.MkdirAll(filepath.Join(in, seg, "bad"), 0o755)
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(in, seg, "a.csv"), []byte(tinyHeader+tinyRow(1)+tinyRow(2)+"3,not a time,open,x\n"), 0o644)
	os.WriteFile(filepath.Join(in, seg, "bad", "wide.csv"), []byte("nothing,useful\n1,2\n"), 0o644)
	dsn := "postgres://ireports:" + pgSecret + "@127.0.0.1:1/ireports?sslmode=disable&connect_timeout=2"
	t.Setenv("IREPORTS_JOB_SEG", seg)
	t.Setenv("CUSTOM_DB", dsn)
	t.Setenv("NOT_ALLOWED_VAR", notSecret)

	dataDir := filepath.Join(dir, "coordinator")
	c := startSecureCluster(t, dataDir, []string{in, out}, []string{in, out}, []string{"CUSTOM_DB"})
	segExpr := `${env("IREPORTS_JOB_SEG")}`

	// The job that succeeds (its summaries cannot be published: the database is not there).
	okFile := filepath.Join(dir, "ok.job")
	os.WriteFile(okFile, []byte(tinyJob("secrets_ok", in+"/"+segExpr+"/*.csv", out+"/"+segExpr+"/lake",
		out+"/"+segExpr+"/rejects", `postgres = env("CUSTOM_DB")`)), 0o644)
	var okOut, okErr bytes.Buffer
	code := runCLI([]string{"submit", okFile, "--coordinator", "http://" + c.srv.APIAddr(), "--token-file", c.tokenFile}, &okOut, &okErr)
	if code != CLIExitUnpublished {
		t.Fatalf("submit ok.job: exit %d, want %d (committed, unpublished)\nstdout:\n%s\nstderr:\n%s", code, CLIExitUnpublished, &okOut, &okErr)
	}
	// The job that fails: its input holds a file whose header the schema does not know.
	failFile := filepath.Join(dir, "fail.job")
	os.WriteFile(failFile, []byte(tinyJob("secrets_fail", in+"/"+segExpr+"/bad/*.csv", out+"/"+segExpr+"/lake2",
		out+"/"+segExpr+"/rejects2", `postgres = env("CUSTOM_DB")`)), 0o644)
	var failOut, failErr bytes.Buffer
	code = runCLI([]string{"submit", failFile, "--json", "--coordinator", "http://" + c.srv.APIAddr(), "--token-file", c.tokenFile}, &failOut, &failErr)
	if code != 1 || !strings.Contains(failOut.String(), "wide.csv") {
		t.Fatalf("submit fail.job: exit %d, want 1 and an error naming wide.csv\nstdout:\n%s\nstderr:\n%s", code, &failOut, &failErr)
	}

	// A variable that is not allowed: refused at submit, named, its value not shown.
	// (Its value is no URL: before the allowlist, the endpoint's error quoted it.)
	_, sneakyErr := c.submitText(t, dir, "sneaky", strings.Replace(tinyJob("sneaky", in+"/"+segExpr+"/*.csv", out+"/sneaky",
		out+"/sneaky_rejects", ""), "  reducers", "  endpoint = env(\"NOT_ALLOWED_VAR\")\n  reducers", 1))
	var apiErr *APIError
	if !errors.As(sneakyErr, &apiErr) || apiErr.Code != http.StatusBadRequest || !strings.Contains(apiErr.Msg, "NOT_ALLOWED_VAR") {
		t.Errorf("a job reading NOT_ALLOWED_VAR: %v, want 400 naming the variable", sneakyErr)
	}

	js, err := c.client.Jobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != 2 {
		t.Fatalf("%d jobs, want the two submitted", len(js))
	}
	seen := map[string]string{ // where → what was read there
		"submit ok.job stdout": okOut.String(), "submit ok.job stderr": okErr.String(),
		"submit fail.job stdout": failOut.String(), "submit fail.job stderr": failErr.String(),
		"GET /jobs": c.get(t, task.PathJobs), "status page": c.get(t, "/"),
	}
	if sneakyErr != nil {
		seen["refused submit"] = sneakyErr.Error()
		t.Logf("refused: %v", sneakyErr)
	}
	for _, j := range js {
		seen["GET /jobs/"+j.ID] = c.get(t, task.PathJobs+"/"+j.ID)
	}
	if !strings.Contains(seen["GET /jobs"], "${env:IREPORTS_JOB_SEG}") {
		t.Errorf("the job list does not show the redacted path segment:\n%s", seen["GET /jobs"])
	}
	c.w.Shutdown(context.Background())
	c.srv.Shutdown(context.Background()) // waits for the job runs to write their history
	seen["coordinator log"], seen["worker log"] = c.log.String(), c.wlog.String()
	hist, _ := filepath.Glob(filepath.Join(dataDir, "jobs", "*.json"))
	if len(hist) != 2 {
		t.Errorf("%d history files, want 2: %v", len(hist), hist)
	}
	for _, h := range hist {
		b, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		seen["history "+filepath.Base(h)] = string(b)
		if strings.Contains(string(b), "postgres://") || strings.Contains(string(b), "job \"") {
			t.Errorf("history %s stores the database URL or the job file's text:\n%s", h, b)
		}
	}
	for where, text := range seen {
		for _, secret := range []string{segSecret, pgSecret, notSecret} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s shows the secret %s: …%s…", where, secret, text[max(0, i-120):min(len(text), i+60)])
			}
		}
	}
	if !strings.Contains(seen["coordinator log"], "job finished") {
		t.Errorf("the captured log has no job lines:\n%s", seen["coordinator log"])
	}
}

// TestTraversalJobName submits `job "../../victim"` to a coordinator whose data directory
// and output directory sit next to a victim directory: the job is refused, and nothing outside
// the data and output directories is touched. (Before names were checked, the job's run id
// named a history file two levels up, and its rejects replaced the victim directory.)
func TestTraversalJobName(t *testing.T) {
	dir := t.TempDir()
	in, out, victim := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "victim")
	for _, d := range []string{in, out, victim} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(in, "a.csv"), []byte(tinyHeader+tinyRow(1)+"2,bad,open,x\n"), 0o644)
	os.WriteFile(filepath.Join(victim, "keep.txt"), []byte("precious"), 0o644)
	dataDir := filepath.Join(dir, "coordinator")
	c := startSecureCluster(t, dataDir, []string{in, out}, []string{in, out}, nil)

	// rejects/../../victim is the victim directory.
	src := tinyJob("../../victim", in+"/*.csv", out+"/lake", out+"/rejects", "")
	_, err := c.submitText(t, in, "victim", src)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusBadRequest {
		t.Errorf("submitting job \"../../victim\": %v, want 400", err)
	}

	// Past the parser (as a spec built in process), the coordinator refuses the name itself.
	good, err := jobs.Parse([]byte(tinyJob("victim", in+"/*.csv", out+"/lake", out+"/rejects", "")), filepath.Join(in, "victim.job"))
	if err != nil {
		t.Fatal(err)
	}
	bad := *good
	bad.Name = "../../victim"
	if _, err := c.srv.SubmitSpec(&bad); !errors.Is(err, ErrUnsafeName) {
		t.Errorf("SubmitSpec of a spec named ../../victim: %v, want ErrUnsafeName", err)
	}
	res, err := RunJob(context.Background(), &bad, c.srv.Scheduler(), "victim-1", RunOptions{})
	if !errors.Is(err, ErrUnsafeName) || !errors.Is(err, task.ErrFatal) || res.Status != Failed {
		t.Errorf("RunJob of a spec named ../../victim: %v (%s), want a fatal ErrUnsafeName", err, res.Status)
	}
	if _, err := RunJob(context.Background(), good, c.srv.Scheduler(), "../../victim-1", RunOptions{}); !errors.Is(err, ErrUnsafeName) {
		t.Errorf("RunJob with run id ../../victim-1: %v, want ErrUnsafeName", err)
	}

	c.w.Shutdown(context.Background())
	c.srv.Shutdown(context.Background())
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"coordinator", "in", "out", "victim"}; !slices.Equal(names, want) {
		t.Errorf("the test directory holds %v, want %v: something was written outside the data and output directories", names, want)
	}
	ve, _ := os.ReadDir(victim)
	b, err := os.ReadFile(filepath.Join(victim, "keep.txt"))
	if len(ve) != 1 || err != nil || string(b) != "precious" {
		t.Errorf("the victim directory was touched: %d entries, keep.txt %q (%v)", len(ve), b, err)
	}
	if hist, _ := os.ReadDir(filepath.Join(dataDir, "jobs")); len(hist) != 0 {
		t.Errorf("refused jobs left history files: %v", hist)
	}
}

// TestAllowPathAtSubmit: a job with an input or output outside the coordinator's roots is
// refused at submit with 400 and an error naming the input or output and the path (its
// env()-read part redacted); a job inside them runs.
func TestAllowPathAtSubmit(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	secret, sibling := filepath.Join(dir, "secret"), filepath.Join(dir, "in2")
	for _, d := range []string{in, out, secret, sibling} {
		os.MkdirAll(d, 0o755)
	}
	for _, d := range []string{in, secret, sibling} {
		os.WriteFile(filepath.Join(d, "a.csv"), []byte(tinyHeader+tinyRow(1)), 0o644)
	}
	if err := os.Symlink(secret, filepath.Join(in, "link")); err != nil {
		t.Fatal(err)
	}
	const envSecret = "outsideSECRET-3e4f"
	t.Setenv("IREPORTS_JOB_ELSEWHERE", filepath.Join(dir, envSecret))
	c := startSecureCluster(t, filepath.Join(dir, "coordinator"), []string{in, out, "s3://lake-bucket/lake"}, nil, nil)

	for _, tc := range []struct {
		name                 string
		input, lake, rejects string
		want                 []string // substrings of the 400's message
	}{
		{"an input outside", "/etc/*", out + "/l1", out + "/r1", []string{`input "tiny" path: /etc/*`, "outside the allowed paths"}},
		{"an output outside", in + "/*.csv", dir + "/elsewhere/lake", out + "/r2", []string{"output parquet: " + dir + "/elsewhere/lake"}},
		{"rejects outside", in + "/*.csv", out + "/l3", "/tmp/rejects", []string{"output rejects: /tmp/rejects"}},
		{"a dot-dot escape", in + "/../secret/*.csv", out + "/l4", out + "/r4", []string{`input "tiny" path: ` + in + "/../secret/*.csv"}},
		{"a symlink escape", in + "/link/*.csv", out + "/l5", out + "/r5", []string{`input "tiny" path: ` + in + "/link/*.csv"}},
		{"a prefix sibling", sibling + "/*.csv", out + "/l6", out + "/r6", []string{`input "tiny" path: ` + sibling}},
		{"an s3 bucket outside", in + "/*.csv", "s3://other-bucket/lake", out + "/r7", []string{"output parquet: s3://other-bucket/lake"}},
		{"an s3 prefix sibling", in + "/*.csv", "s3://lake-bucket/lake2", out + "/r8", []string{"output parquet: s3://lake-bucket/lake2"}},
		{"a path read through env()", `${env("IREPORTS_JOB_ELSEWHERE")}/*.csv`, out + "/l9", out + "/r9", []string{`input "tiny" path: ${env:IREPORTS_JOB_ELSEWHERE}/*.csv`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.submitText(t, dir, "j", tinyJob("j", tc.input, tc.lake, tc.rejects, ""))
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != http.StatusBadRequest {
				t.Fatalf("submit: %v, want 400", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(apiErr.Msg, w) {
					t.Errorf("the error lacks %q:\n%s", w, apiErr.Msg)
				}
			}
			if strings.Contains(apiErr.Msg, envSecret) {
				t.Errorf("the error shows what env() read:\n%s", apiErr.Msg)
			}
		})
	}
	if n := len(c.srv.Jobs()); n != 0 {
		t.Errorf("%d refused jobs were started", n)
	}
	id, err := c.submitText(t, dir, "inside", tinyJob("inside", in+"/*.csv", out+"/lake", out+"/rejects", ""))
	if err != nil {
		t.Fatalf("a job inside the roots: %v", err)
	}
	if j := c.wait(t, id); j.State != Succeeded {
		t.Errorf("the job inside the roots: %s: %+v", j.State, j.Result)
	}
}

// TestWorkerRefusesTaskOutsideItsRoots: a worker whose roots do not hold a job's input
// refuses its tasks, and the job fails at once with a message saying so, even though the
// coordinator (here allowing any path) sent them. The input's directory was read through
// env(): neither the worker's log nor the job's error shows it.
func TestWorkerRefusesTaskOutsideItsRoots(t *testing.T) {
	const secret = "workerSECRET-0a1b2c"
	dir := t.TempDir()
	in, out := filepath.Join(dir, secret), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.csv"), []byte(tinyHeader+tinyRow(1)), 0o644)
	t.Setenv("IREPORTS_JOB_IN", in)
	c := startSecureCluster(t, filepath.Join(dir, "coordinator"), nil, []string{out}, nil)
	id, err := c.submitText(t, dir, "j", tinyJob("j", `${env("IREPORTS_JOB_IN")}/*.csv`, out+"/lake", out+"/rejects", ""))
	if err != nil {
		t.Fatal(err)
	}
	j := c.wait(t, id)
	if j.State != Failed || j.Result == nil || !strings.Contains(j.Result.Error, "worker-1 refuses") ||
		!strings.Contains(j.Result.Error, "${env:IREPORTS_JOB_IN}") || !strings.Contains(j.Result.Error, "outside the allowed paths") {
		t.Fatalf("job %s: %+v, want it failed by the worker's refusal naming ${env:IREPORTS_JOB_IN}", j.State, j.Result)
	}
	c.w.Shutdown(context.Background())
	for where, text := range map[string]string{"the job's error": j.Result.Error, "the worker's log": c.wlog.String(), "the coordinator's log": c.log.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the secret:\n%s", where, text)
		}
	}
	if !strings.Contains(c.wlog.String(), "refuses") {
		t.Errorf("the worker did not log its refusal:\n%s", c.wlog.String())
	}
	if j.Result.Retries != 0 {
		t.Errorf("the refused task was retried %d times: a refusal is fatal", j.Result.Retries)
	}
}

// TestScheduledJobOutsideRoots: a scheduled job file whose input lies outside the roots keeps
// the coordinator from starting, with an error naming the file and the path.
func TestScheduledJobOutsideRoots(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := strings.Replace(tinyJob("nightly", "/etc/*", out+"/lake", out+"/rejects", ""), "  split_size", "  schedule = \"daily 02:00 UTC\"\n  split_size", 1)
	file := filepath.Join(dir, "nightly.job")
	os.WriteFile(file, []byte(src), 0o644)
	cfg := LocalServerConfig()
	cfg.DataDir, cfg.Insecure, cfg.Token, cfg.Log = filepath.Join(dir, "coordinator"), true, "t", slog.New(slog.DiscardHandler)
	cfg.AllowPaths, cfg.AnyPath, cfg.Schedules = []string{out}, false, []string{file}
	s, err := NewServer(cfg)
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatal("the coordinator started with a scheduled job outside its roots")
	}
	if !errors.Is(err, allowpath.ErrOutside) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "/etc/*") {
		t.Errorf("error %v: want ErrOutside naming %s and /etc/*", err, file)
	}
}

// TestServeFlagsNeedRoots: `coordinator serve` needs --allow-path or --allow-any-path (not
// both), and reads --job-env as comma-separated, repeatable names.
func TestServeFlagsNeedRoots(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("t"), 0o600)
	base := []string{"--insecure", "--token-file", tok, "--data-dir", dir}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // "" = the config validates
		env     []string
	}{
		{"no roots", nil, "--allow-path", nil},
		{"both", []string{"--allow-path", dir, "--allow-any-path"}, "not both", nil},
		{"roots", []string{"--allow-path", dir, "--allow-path", "s3://b/lake"}, "", nil},
		{"any path", []string{"--allow-any-path"}, "", nil},
		{"job env", []string{"--allow-any-path", "--job-env", "A_1, B", "--job-env", "C"}, "", []string{"A_1", "B", "C"}},
		{"a bad job env name", []string{"--allow-any-path", "--job-env", "1X"}, "not an environment variable name", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flagSet()
			build := CLIServeFlags(fs)
			err := fs.Parse(append(slices.Clone(base), tc.args...))
			var cfg ServerConfig
			if err == nil {
				cfg, err = build()
			}
			if err == nil {
				err = cfg.validate()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
			if tc.env != nil && !slices.Equal(cfg.JobEnv, tc.env) {
				t.Errorf("JobEnv %q, want %q", cfg.JobEnv, tc.env)
			}
		})
	}
}

func flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// TestRunAllowsJobDirAndFlags: `coordinator run` lets a job use its file's directory and the
// --allow-path roots, and refuses, before starting anything, a job reading elsewhere.
func TestRunAllowsJobDirAndFlags(t *testing.T) {
	dir := t.TempDir()
	data, jobDir := filepath.Join(dir, "data"), filepath.Join(dir, "job")
	os.MkdirAll(data, 0o755)
	os.MkdirAll(jobDir, 0o755)
	os.WriteFile(filepath.Join(data, "a.csv"), []byte(tinyHeader+tinyRow(1)+tinyRow(2)), 0o644)
	file := filepath.Join(jobDir, "run.job")
	os.WriteFile(file, []byte(tinyJob("run", data+"/*.csv", "out/lake", "out/rejects", "")), 0o644)

	var stdout, stderr bytes.Buffer
	// --json: the refusal is the result object's error, as any failed run's.
	var res Result
	if code := runCLI([]string{"run", file, "--workers", "1", "--json"}, &stdout, &stderr); code != 1 ||
		json.Unmarshal(stdout.Bytes(), &res) != nil || res.Status != Failed ||
		!strings.Contains(res.Error, data+"/*.csv") || !strings.Contains(res.Error, "--allow-path") {
		t.Fatalf("run with the input outside the job's directory: exit %d, want 1 and a failed result naming the input and --allow-path\n%s%s", code, &stdout, &stderr)
	}
	if _, err := os.Stat(filepath.Join(jobDir, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused run wrote its output: %v", err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := runCLI([]string{"run", file, "--workers", "1", "--json", "--allow-path", data}, &stdout, &stderr); code != 0 {
		t.Fatalf("run with --allow-path %s: exit %d\n%s\n%s", data, code, &stdout, &stderr)
	}
	if _, err := os.Stat(filepath.Join(jobDir, "out", "lake", "_SUCCESS")); err != nil {
		t.Errorf("the run committed nothing in the job's directory: %v", err)
	}
}
