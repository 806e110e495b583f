package coordinator

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/socrata"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/auth"
	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/task"
)

// ServerConfig configures the coordinator daemon.
type ServerConfig struct {
	// Name is the coordinator's gossip node name ("": derived from host and port).
	Name string
	// Bind is the gossip address, host:port (TCP and UDP). Port 0 picks a free one.
	Bind string
	// API is the HTTP API and status page address, host:port. Port 0 picks a free one.
	API string
	// DataDir keeps the job history across restarts.
	DataDir string
	// MaxHistory bounds the finished jobs the history keeps, in memory and in DataDir: the
	// oldest go first (0: DefaultMaxHistory). A job submitted every minute would otherwise
	// grow it, and the jobs list the API answers with, without end.
	MaxHistory int
	// State is where the journals of running jobs live, from which a restarted coordinator
	// resumes them (package journal): a directory, or "s3://bucket/prefix" so that a
	// replacement on another host resumes them. "": <DataDir>/state.
	State string
	// Key is the 32-byte gossip key; nil requires Insecure.
	Key      []byte
	Insecure bool
	// Token is the cluster's bearer token; every API call and shuffle fetch must carry it.
	Token string
	// Lease is how long a task attempt survives without a heartbeat from its worker.
	Lease time.Duration
	// PollWait bounds a worker's long poll.
	PollWait time.Duration
	// Fast shortens gossip failure detection, for loopback clusters.
	Fast bool
	Log  *slog.Logger
	// Publish configures publishing summaries to Postgres (nil: pgsink.DefaultConfig).
	Publish *pgsink.Config
	// SourceTuning adjusts each source before its pull (nil: as the job file says).
	SourceTuning func(*socrata.Source)
	// Schedules are job files whose jobs run on their schedule attribute.
	Schedules []string
	// AllowPaths are the roots every job's inputs, outputs and sources' raw batches must lie
	// in: local directories and s3://bucket/prefix (see package allowpath). A job with a path
	// outside them is refused when submitted. Required unless AnyPath.
	AllowPaths []string
	// AnyPath lets jobs read and write anywhere this process can (--allow-any-path), for a
	// coordinator whose token holders may all act as its user. Ignored when AllowPaths is set.
	AnyPath bool
	// JobEnv names the environment variables that job files may read with env(), besides
	// those starting with jobs.DefaultEnvPrefix; reading any other is an error at submit.
	JobEnv []string
	// Profiling pushes this process's profiles to Pyroscope when its ServerURL is set;
	// NewServer fills in the role and node.
	Profiling obs.ProfilingConfig
	// PyroscopeUI is the Pyroscope UI the status page links each job to ("": the
	// Profiling.ServerURL; no links when both are empty).
	PyroscopeUI string
	// HTTP bounds the API's connections (zero fields: httpserve.DefaultLimits). A worker's
	// long poll lifts them for itself, up to PollWait.
	HTTP httpserve.Limits
	// TLS, if set, serves the API over HTTPS (httpserve.ServerTLS); the coordinator then
	// advertises its API to the workers as https://host:port.
	TLS *tls.Config
}

// DefaultServerConfig is the production preset: memberlist's LAN timings, a 10 s lease.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{Bind: "0.0.0.0:7946", API: "0.0.0.0:8080", Lease: 10 * time.Second, PollWait: 20 * time.Second}
}

// LocalServerConfig is the preset for a cluster on loopback (tests, `coordinator run`):
// free ports, fast failure detection, a short lease, and jobs may use any path (the
// caller runs its own jobs; set AllowPaths to confine them, as `coordinator run` does).
func LocalServerConfig() ServerConfig {
	return ServerConfig{Bind: "127.0.0.1:0", API: "127.0.0.1:0", Lease: 3 * time.Second, PollWait: 5 * time.Second, Fast: true, AnyPath: true}
}

func (c *ServerConfig) validate() error {
	switch {
	case c.Token == "":
		return auth.ErrNoToken
	case c.Key == nil && !c.Insecure:
		return cluster.ErrNoKey
	case c.DataDir == "":
		return errors.New("no data directory: give --data-dir")
	case c.Lease <= 0 || c.PollWait <= 0:
		return errors.New("lease and poll wait must be positive")
	case len(c.AllowPaths) == 0 && !c.AnyPath:
		return allowpath.ErrNoRoots
	}
	for _, name := range c.JobEnv {
		if !ValidEnvName(name) {
			return fmt.Errorf("job env: %q is not an environment variable name (letters, digits and _, not starting with a digit)", name)
		}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.MaxHistory <= 0 {
		c.MaxHistory = DefaultMaxHistory
	}
	return nil
}

// DefaultMaxHistory is ServerConfig.MaxHistory's default: a year of a daily job and its
// hourly retries fit, and the jobs list stays about a megabyte.
const DefaultMaxHistory = 1000

// roots returns the allowed paths of c.
func (c *ServerConfig) roots() (*allowpath.Roots, error) {
	if len(c.AllowPaths) == 0 {
		return allowpath.Any(), nil
	}
	return allowpath.New(c.AllowPaths)
}

// Server is the coordinator daemon: a gossip member, the scheduler of the cluster's task
// attempts, the HTTP API and status page, and the owner of every job run.
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	sched   *Scheduler
	members *cluster.Membership
	http    *http.Server
	ln      net.Listener
	started time.Time
	prof    *obs.Profiler // nil unless profiling
	roots   *allowpath.Roots
	env     jobs.EnvPolicy // what submitted and scheduled job files may read with env()
	// journals holds the running jobs' journals (resume.go).
	journals *journal.Dir

	stopping chan struct{}  // closed when Shutdown begins: ends the schedule loops
	left     chan struct{}  // closed by Shutdown once out of the gossip cluster: ends the event loop
	wg       sync.WaitGroup // the event loop, the HTTP server and the schedule loops
	runs     sync.WaitGroup // the job runs; each is cancelled or interrupted through its JobStatus.cancel

	shutdownOnce sync.Once
	shutdownErr  error // Shutdown's result, for every call

	mu     sync.Mutex // guards jobs, order and closed
	jobs   map[string]*JobStatus
	order  []string // job ids, oldest first
	closed bool     // set by Shutdown: no job starts any more
}

// JobStatus is one submitted job. Its fields are guarded by Server.mu, except tracker, which
// has its own lock. It encodes in the API's form (jobStatusJSON, state.go).
type JobStatus struct {
	ID   string
	Name string
	// State is the run's State. A snapshot (Server.Job) of a running job has its current
	// phase, the same as Progress.Phase; the job is finished once State is Terminal, and
	// Result is then set.
	State     State
	Submitted time.Time
	Finished  *time.Time
	Progress  Progress
	Result    *Result
	// Resumed counts the times a restarted coordinator resumed the run from its journal;
	// Lost is the time between the last journaled event and the latest restart (an upper
	// bound on the time the restart cost).
	Resumed int
	Lost    time.Duration
	// Excluded are the workers the scheduler excluded from this run, each with why (see
	// ExcludeAfter).
	Excluded []Exclusion

	tracker *Tracker
	cancel  context.CancelCauseFunc // Cancel's cause is nil, Shutdown's ErrInterrupted
	err     error                   // the run's error, with its wrapping; in-process callers only
	outputs []string                // where the run writes: its lake and its rejects
	// scheduled is the time a scheduled run is for (zero: a submitted job), journaled so
	// that its schedule knows the run when a restart resumes it (schedule.go).
	scheduled time.Time
	// journalKept: the run failed to resume and its journal is kept until a Cancel
	// (failResumed).
	journalKept bool
}

// outputInUse returns the id of a running job that writes to one of outputs (or to a
// directory inside one, or around one) and the path of that job's it conflicts with, or
// "". s.mu must be held.
func (s *Server) outputInUse(outputs []string) (id, path string) {
	for _, id := range s.order {
		run := s.jobs[id]
		if run.State.Terminal() {
			continue
		}
		for _, a := range run.outputs {
			for _, b := range outputs {
				if nested(a, b) || nested(b, a) {
					return id, a
				}
			}
		}
	}
	return "", ""
}

// nested reports whether path b is a or lies under it.
func nested(a, b string) bool {
	a = strings.TrimSuffix(a, "/")
	return a != "" && (b == a || strings.HasPrefix(b, a+"/"))
}

// NewServer validates cfg, starts the API listener and joins (starts) the gossip cluster.
// Call Serve... it is already serving when NewServer returns; call Shutdown to stop.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	roots, err := cfg.roots()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "jobs"), 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.API)
	if err != nil {
		return nil, fmt.Errorf("api listen: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Log, ln: ln, jobs: map[string]*JobStatus{}, started: time.Now(), roots: roots,
		env: jobs.EnvPolicy{Allow: cfg.JobEnv, Prefix: jobs.DefaultEnvPrefix}}
	s.stopping, s.left = make(chan struct{}), make(chan struct{})
	s.loadHistory()
	if err := s.openJournals(context.Background()); err != nil {
		ln.Close()
		return nil, err
	}
	s.sched = NewScheduler(cfg.Lease, cfg.Log)
	s.members, err = cluster.Join(cluster.Config{
		Name: cfg.Name, Bind: cfg.Bind, Key: cfg.Key, Insecure: cfg.Insecure, Fast: cfg.Fast, Logger: cfg.Log,
		Meta: cluster.Meta{Role: cluster.RoleCoordinator, API: httpserve.URL(ln.Addr().String(), cfg.TLS), Version: version.Version(), Protocol: version.Protocol},
	}, nil)
	if err != nil {
		ln.Close()
		s.sched.Shutdown()
		return nil, err
	}
	prof := cfg.Profiling
	prof.Role, prof.Node, prof.Log = "coordinator", s.members.Name(), cfg.Log
	if s.prof, err = obs.StartProfiling(prof); err != nil {
		s.members.Shutdown()
		ln.Close()
		s.sched.Shutdown()
		return nil, err
	}
	// Before the API answers: a worker's heartbeat must find the resumed jobs active, or it
	// would delete their map outputs.
	s.resumeJobs(context.Background())
	s.http = httpserve.NewServer(obs.HTTPMetrics("coordinator", httpserve.SecurityHeaders(httpserve.StrictCSP, serverHeader(s.routes()))), cfg.HTTP)
	s.http.TLSConfig = cfg.TLS
	s.wg.Add(2)
	go s.watchMembers()
	go func() {
		defer s.wg.Done()
		if err := httpserve.Serve(s.http, ln); err != nil {
			s.log.Error("api server", "err", err)
		}
	}()
	if err := s.startSchedules(cfg.Schedules); err != nil {
		s.Shutdown(context.Background())
		return nil, err
	}
	s.log.Info("coordinator up", "api", s.APIAddr(), "gossip", s.members.Addr(), "version", version.Version(), "protocol", version.Protocol, "allowed_paths", roots.String())
	return s, nil
}

// APIAddr is the API's host:port.
func (s *Server) APIAddr() string { return s.ln.Addr().String() }

// GossipAddr is the gossip host:port workers join.
func (s *Server) GossipAddr() string { return s.members.Addr() }

// Scheduler exposes the scheduler (for tests and the status page).
func (s *Server) Scheduler() *Scheduler { return s.sched }

// Shutdown stops the daemon, in this order:
//
//  1. refuse new jobs (Submit fails) and stop the schedules;
//  2. answer every worker's long poll at once with no task, and every later one without
//     waiting (503): a waiting poll would hold the HTTP server's shutdown for up to
//     PollWait, before anything else could stop;
//  3. interrupt the running jobs (ErrInterrupted) and wait, until ctx ends, for their
//     drivers to stop. An interrupted job is not cleaned up: its journal, staged output,
//     accepted map outputs and lake claim stay, and a coordinator started on the same
//     state resumes it as after a crash. Its drivers return at once, except in the middle
//     of a commit, which is finished first. The API still serves meanwhile, showing the job
//     interrupted, and the heartbeats tell the workers to stop the withdrawn attempts
//     (while keeping the interrupted jobs' map outputs);
//  4. stop the HTTP server, which now has only short requests in flight;
//  5. fail what is left in the scheduler (the attempts of a job whose clean-up outlived ctx);
//  6. leave the gossip cluster, then end the event loop;
//  7. wait for the job runs and the server's goroutines, then push the last profiles.
//
// Idempotent and safe for concurrent use: every call returns when the first has finished,
// with its error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var cancels []context.CancelCauseFunc
	for _, run := range s.jobs {
		if !run.State.Terminal() && run.cancel != nil {
			cancels = append(cancels, run.cancel)
		}
	}
	s.mu.Unlock()
	close(s.stopping)
	s.sched.StopPolls()
	for _, cancel := range cancels {
		cancel(ErrInterrupted)
	}
	runsDone := make(chan struct{})
	go func() { // owned here: waited for below, whatever ctx says
		s.runs.Wait()
		close(runsDone)
	}()
	var err error
	select {
	case <-runsDone:
	case <-ctx.Done():
		err = fmt.Errorf("jobs still stopping: %w", ctx.Err())
	}
	if herr := s.http.Shutdown(ctx); herr != nil {
		s.http.Close()
		err = cmp.Or(err, herr)
	}
	s.sched.Shutdown()
	s.members.Shutdown()
	close(s.left)
	s.wg.Wait()
	<-runsDone
	if perr := s.prof.Stop(ctx); perr != nil {
		err = cmp.Or(err, perr)
	}
	return err
}

// watchMembers feeds gossip events to the scheduler until the server has left the cluster.
// It owns the membership event channel.
func (s *Server) watchMembers() {
	defer s.wg.Done()
	for {
		select {
		case <-s.left:
			return
		case e := <-s.members.Events():
			m := e.Member
			if m.Meta.Role != cluster.RoleWorker {
				continue
			}
			switch e.Kind {
			case cluster.EventJoin, cluster.EventUpdate:
				w := workerSlot{Name: m.Name, API: m.Meta.API, Shuffle: m.Meta.Shuffle, Slots: m.Meta.Slots, Version: m.Meta.Version, Protocol: m.Meta.Protocol}
				if w.Refused = refusal(m.Meta); w.Refused != "" {
					s.log.Error("worker refused", "worker", m.Name, "reason", w.Refused)
				} else {
					s.log.Info("worker up", "worker", m.Name, "api", m.Meta.API, "slots", m.Meta.Slots, "version", m.Meta.Version)
				}
				s.sched.WorkerUp(w)
			case cluster.EventLeave:
				s.log.Warn("worker gone (left or declared dead)", "worker", m.Name)
				s.sched.WorkerDown(m.Name, "left or was declared dead")
			}
		}
	}
}

// Submit validates and starts a job; it returns the job run's id. The job file's env()
// calls may read only the variables the server's config allows.
func (s *Server) Submit(src task.JobSource) (string, error) {
	spec, err := jobs.ParseWith(src.Source, src.Path, jobs.ParseOptions{Env: s.env})
	if err != nil {
		return "", cleaner{}.err(err)
	}
	return s.start(spec, time.Time{})
}

// SubmitSpec starts a parsed job; it returns the job run's id.
func (s *Server) SubmitSpec(spec *jobs.Spec) (string, error) { return s.start(spec, time.Time{}) }

// start admits a job — its name can name files, its paths lie in the allowed roots, its
// output is not in use — and runs it. From here on, every message about the job passes
// its cleaner (guard.go). scheduled is the time a scheduled run is for (zero: submitted).
func (s *Server) start(spec *jobs.Spec, scheduled time.Time) (string, error) {
	clean := cleanerFor(spec)
	if err := checkComponent("job name", spec.Name); err != nil {
		return "", clean.err(err)
	}
	if err := s.roots.CheckSpec(spec); err != nil {
		return "", clean.err(fmt.Errorf("job %q: %w", spec.Name, err))
	}
	id := NewJobID(spec.Name, time.Now())
	if _, err := dataFile(filepath.Join(s.cfg.DataDir, "jobs"), "job run id", id, ".json"); err != nil {
		return "", clean.err(err)
	}
	log := clean.logger(s.log)
	run := s.newRun(id, spec, time.Now().UTC())
	run.scheduled = scheduled
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", ErrShuttingDown
	}
	if other, path := s.outputInUse(run.outputs); other != "" {
		s.mu.Unlock()
		return "", clean.err(fmt.Errorf("%w: job %s is writing to %s; wait for it or cancel it", ErrOutputBusy, other, path))
	}
	s.jobs[id] = run
	s.order = append(s.order, id)
	s.runs.Add(1)
	s.mu.Unlock()
	// The spec is durable before the job is planned: from here on a restart runs it.
	jj, err := s.createJournal(context.Background(), id, spec, run.Submitted, scheduled)
	if err != nil {
		s.mu.Lock()
		delete(s.jobs, id)
		s.order = slices.DeleteFunc(s.order, func(o string) bool { return o == id })
		s.mu.Unlock()
		s.runs.Done()
		return "", clean.err(err)
	}
	log.Info("job submitted", "job", id, "file", spec.File)
	s.launch(run, spec, jj, nil)
	return id, nil
}

// Cancel stops a running job; its partial output is removed. For a job that failed to
// resume from its journal, it acknowledges the failure and removes the journal.
func (s *Server) Cancel(id string) error {
	if ok, err := s.dropUnresumable(id); ok {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.jobs[id]
	if run == nil {
		return fmt.Errorf("%w %q", ErrNoJob, id)
	}
	if run.State.Terminal() {
		return fmt.Errorf("job %s already %s", id, run.State)
	}
	if s.closed {
		// The run is (being) interrupted, and its clean-up would race the restart's resume.
		return fmt.Errorf("job %s is interrupted: %w; cancel it once a coordinator has resumed it", id, ErrShuttingDown)
	}
	if run.cancel == nil {
		return fmt.Errorf("job %s is starting; cancel it again in a moment", id)
	}
	run.cancel(nil)
	return nil
}

// Job returns a snapshot of a job run.
func (s *Server) Job(id string) (JobStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.jobs[id]
	if run == nil {
		return JobStatus{}, false
	}
	snap := *run
	snap.Excluded = s.sched.Excluded(id)
	if !run.State.Terminal() {
		snap.Progress = run.tracker.Snapshot()
		if snap.Progress.Phase.Terminal() {
			// The driver gives its tracker the outcome just before RunJob returns; to its
			// clients the job ends when its result is recorded (with it), not before.
			snap.Progress.Phase = CleaningUp
		}
		snap.State = snap.Progress.Phase
	}
	return snap, true
}

// Jobs returns snapshots of every job run, newest first.
func (s *Server) Jobs() []JobStatus {
	s.mu.Lock()
	ids := slices.Clone(s.order)
	s.mu.Unlock()
	slices.Reverse(ids)
	var out []JobStatus
	for _, id := range ids {
		if j, ok := s.Job(id); ok {
			out = append(out, j)
		}
	}
	return out
}

// activeJobs lists running jobs: workers keep those jobs' map outputs and delete the rest.
func (s *Server) activeJobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, j := range s.jobs {
		if !j.State.Terminal() {
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *Server) loadHistory() {
	entries, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, "jobs"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(s.cfg.DataDir, "jobs", e.Name()))
		if err != nil {
			continue
		}
		var run JobStatus
		if json.Unmarshal(b, &run) != nil || run.ID == "" {
			continue
		}
		run.tracker = &Tracker{}
		s.jobs[run.ID] = &run
		s.order = append(s.order, run.ID)
	}
	slices.SortFunc(s.order, func(a, b string) int { return s.jobs[a].Submitted.Compare(s.jobs[b].Submitted) })
}

// pruneHistory drops the oldest finished jobs beyond cfg.MaxHistory from the history, in
// memory and on disk. A job still running, or whose journal is kept for the user to see
// why it could not resume, stays. It runs as each job ends, not at start-up, where the
// journals that could not be resumed are not yet known.
func (s *Server) pruneHistory() {
	prunable := func(id string) bool { return s.jobs[id].State.Terminal() && !s.jobs[id].journalKept }
	s.mu.Lock()
	finished := 0
	for _, id := range s.order {
		if prunable(id) {
			finished++
		}
	}
	var drop []string
	if over := finished - s.cfg.MaxHistory; over > 0 {
		s.order = slices.DeleteFunc(s.order, func(id string) bool {
			if over > 0 && prunable(id) {
				over--
				drop = append(drop, id)
				delete(s.jobs, id)
				return true
			}
			return false
		})
	}
	s.mu.Unlock()
	for _, id := range drop {
		if f, err := dataFile(filepath.Join(s.cfg.DataDir, "jobs"), "job run id", id, ".json"); err == nil {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("pruning the job history", "job", id, "err", err)
			}
		}
	}
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

type submitResponse struct {
	ID string `json:"id"`
}

// serverHeader marks every answer of h as a coordinator's (ServerHeader).
func serverHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", ServerHeader)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	api := http.NewServeMux()
	api.HandleFunc("POST "+task.PathJobs, s.handleSubmit)
	api.HandleFunc("GET "+task.PathJobs, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Jobs()) })
	api.HandleFunc("GET "+task.PathJobs+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		j, ok := s.Job(r.PathValue("id"))
		if !ok {
			httpError(w, http.StatusNotFound, "%v %q", ErrNoJob, r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, j)
	})
	api.HandleFunc("POST "+task.PathJobs+"/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Cancel(r.PathValue("id")); err != nil {
			code := http.StatusConflict
			switch {
			case errors.Is(err, ErrShuttingDown):
				code = http.StatusServiceUnavailable // ask again once a coordinator is back
			case errors.Is(err, ErrNoJob):
				code = http.StatusNotFound // as GET of the job answers
			}
			httpError(w, code, "%v", err)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "cancelling"})
	})
	api.HandleFunc("GET "+task.PathWorkers, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.sched.Workers()) })
	api.HandleFunc("POST "+task.PathPoll, s.handlePoll)
	api.HandleFunc("POST "+task.PathHeartbeat, s.handleHeartbeat)
	api.HandleFunc("POST "+task.PathComplete, s.handleComplete)
	api.HandleFunc("GET /{$}", s.handleStatusPage)
	api.Handle("GET /metrics", obs.Handler())
	// A CPU profile or trace answers after its duration, which pprof itself caps below the
	// server's WriteTimeout.
	api.Handle("/debug/pprof/", httpserve.Stream(2*time.Minute, obs.PprofHandler()))
	// Refusals are logged: a worker with another token retries for ever, and its log is not
	// the only place an operator looks.
	mux.Handle("/", (&auth.Guard{Token: s.cfg.Token, Log: s.log}).Handler(api))
	return mux
}

const maxBody = 8 << 20

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, "bad request body: %v", err)
		return false
	}
	return true
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var src task.JobSource
	if !decodeBody(w, r, &src) {
		return
	}
	id, err := s.Submit(src)
	if errors.Is(err, ErrOutputBusy) {
		httpError(w, http.StatusConflict, "%v", err)
		return
	}
	if errors.Is(err, ErrShuttingDown) {
		httpError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, submitResponse{ID: id})
}

func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request) {
	var req task.PollRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if why := s.sched.Refused(req.Worker); why != "" {
		httpError(w, http.StatusConflict, "%s", why)
		return
	}
	// The poll may wait longer than the server's limits allow a request.
	httpserve.Hold(w, s.cfg.PollWait+pollAnswerTime)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PollWait)
	defer cancel()
	as := s.sched.Poll(ctx, req.Worker, req.Free)
	if as == nil && s.isClosed() {
		// An error, not an empty answer, so that the worker backs off instead of polling
		// again at once until the listener closes.
		httpError(w, http.StatusServiceUnavailable, "%v", ErrShuttingDown)
		return
	}
	if as == nil {
		as = []task.Assignment{}
	}
	writeJSON(w, http.StatusOK, as)
}

// isClosed reports whether Shutdown has begun.
func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// pollAnswerTime is what a long poll has to write its answer once its wait is over.
const pollAnswerTime = 10 * time.Second

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var req task.HeartbeatRequest
	if !decodeBody(w, r, &req) {
		return
	}
	resp := task.HeartbeatResponse{Cancel: s.sched.Heartbeat(req.Worker, req.Running), ActiveJobs: s.activeJobs(), LostPeers: s.sched.LostPeers()}
	resp.ReportHeld, resp.Rejoin = s.sched.Inventory(req.Worker, req.Held)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleComplete(w http.ResponseWriter, r *http.Request) {
	var req task.CompleteRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := s.sched.Complete(req.Worker, req.ID, req.Map, req.Reduce, req.Failure); err != nil {
		httpError(w, http.StatusConflict, "%v", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": capMessage(fmt.Sprintf(format, args...))})
}
