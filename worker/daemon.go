package worker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/auth"
	"github.com/ireports/ireports/internal/httpserve"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// Config configures a worker process.
type Config struct {
	// Name is the gossip node name; it must be unique ("": derived from host and port).
	Name string
	// Join lists gossip addresses (host:port) of cluster members; the coordinator's will do.
	Join []string
	// Bind is the gossip address, host:port (TCP and UDP). Port 0 picks a free one.
	Bind string
	// Listen is the HTTP address serving this worker's map outputs, /healthz, /metrics and
	// /debug/pprof (all but /healthz need the cluster token). Port 0 picks a free one.
	Listen string
	// Slots is how many tasks run at once (0: one per core).
	Slots int
	// DataDir holds map outputs, under DataDir/<job>/, deleted when the job ends.
	DataDir string
	// AllowPaths are the roots a task's paths must lie in (local directories and
	// s3://bucket/prefix, see package allowpath): the worker refuses, as a fatal failure, a
	// task whose job reads or writes elsewhere, whoever sent it. Required unless AnyPath.
	AllowPaths []string
	// AnyPath lets tasks read and write anywhere this process can (--allow-any-path).
	// Ignored when AllowPaths is set.
	AnyPath bool
	// Key is the 32-byte gossip key; nil requires Insecure.
	Key      []byte
	Insecure bool
	// Token is the cluster token, required by the coordinator and by other workers' shuffle.
	Token string
	// Heartbeat is the interval of lease renewals; keep it well under the coordinator's lease.
	Heartbeat time.Duration
	// FetchStall fails a shuffle fetch that receives no byte for this long (a hung peer).
	// It bounds every read of the worker's HTTP client, the calls to the coordinator too,
	// so it must exceed the coordinator's poll wait; a worker stopped for longer than it
	// drops the answer of the poll it had pending (--fetch-stall in the worker binary).
	FetchStall time.Duration
	// OrphanGrace is how long after the coordinator comes back from an outage the worker
	// keeps map outputs of jobs the coordinator does not list as active (a resumed job may
	// still need them), and how long it keeps trying to report a finished attempt's result
	// to an unreachable coordinator (0: DefaultOrphanGrace).
	OrphanGrace time.Duration
	// ServeStall cuts off a reducer that has read nothing of a shuffle stream for this long
	// (a stopped or partitioned peer would otherwise hold a connection and a map output
	// file open for ever). It must exceed the longest a reducer's merge may leave one of its
	// streams unread while it works through the others' keys (0: DefaultServeStall).
	ServeStall time.Duration
	// HTTP bounds the listener's connections (zero fields: httpserve.DefaultLimits).
	HTTP httpserve.Limits
	// TLS, if set, serves the listener over HTTPS (httpserve.ServerTLS); the worker then
	// advertises its addresses as https://host:port.
	TLS *tls.Config
	// ClientTLS, if set, is what calls to the coordinator and shuffle fetches from other
	// workers trust (httpserve.ClientTLS); nil trusts the system's CAs.
	ClientTLS *tls.Config
	// Fast shortens gossip failure detection, for loopback clusters.
	Fast bool
	Log  *slog.Logger
	// MapSpillBytes bounds the memory a map task holds for its output: beyond it the task
	// writes sorted runs to disk and merges them (shuffle.WriterConfig.SpillBytes; 0:
	// shuffle.DefaultSpillBytes, 48 MiB).
	MapSpillBytes int64
	// MemoryLimit is the worker's share, in bytes, of its process's soft memory limit
	// (runtime/debug.SetMemoryLimit): while the worker runs, the process's limit is the sum
	// of its running workers' shares. The runtime collects more often as the heap nears it,
	// which caps the garbage collector's headroom (the heap grows to twice the live heap
	// between collections) when the live heap is large; below it nothing changes. 0:
	// DefaultMemoryLimit(Slots); negative: none. A GOMEMLIMIT in the environment wins.
	MemoryLimit int64
	// Profiling pushes this process's profiles to Pyroscope when its ServerURL is set;
	// Start fills in the role and node. A process profiles once: give it to one worker.
	Profiling obs.ProfilingConfig

	shuffleToken string // tests only (export_test.go): the token of the shuffle alone
	// wrapFetcher, if set, wraps the fetcher of the reduce tasks' input: tests only
	// (export_test.go), to inject faults at the boundary of worker and shuffle.
	wrapFetcher func(shuffle.Fetcher) shuffle.Fetcher
}

// DefaultServeStall is Config.ServeStall when it is 0.
const DefaultServeStall = 10 * time.Minute

// DefaultConfig is the production preset.
func DefaultConfig() Config {
	return Config{Bind: "0.0.0.0:7947", Listen: "0.0.0.0:7070", Heartbeat: 2 * time.Second, FetchStall: 30 * time.Second}
}

// LocalConfig is the preset for a worker on loopback (tests, `coordinator run`); tasks may
// use any path unless AllowPaths is set.
func LocalConfig() Config {
	return Config{Bind: "127.0.0.1:0", Listen: "127.0.0.1:0", Heartbeat: 500 * time.Millisecond, FetchStall: 5 * time.Second, Fast: true, AnyPath: true}
}

// outageGrace is, in heartbeat intervals, how long heartbeats must fail for the
// coordinator to count as having been away (see Config.OrphanGrace).
const outageGrace = 5

// DefaultOrphanGrace is Config.OrphanGrace when unset.
const DefaultOrphanGrace = 10 * time.Minute

func (c *Config) validate() error {
	switch {
	case c.Token == "":
		return auth.ErrNoToken
	case c.Key == nil && !c.Insecure:
		return cluster.ErrNoKey
	case c.DataDir == "":
		return errors.New("no data directory: give --data-dir")
	case len(c.Join) == 0:
		return errors.New("nothing to join: give --join HOST:PORT (the coordinator's gossip address)")
	case c.Heartbeat <= 0 || c.FetchStall <= 0:
		return errors.New("heartbeat and fetch stall must be positive")
	case len(c.AllowPaths) == 0 && !c.AnyPath:
		return allowpath.ErrNoRoots
	}
	if c.Slots <= 0 {
		c.Slots = runtime.NumCPU()
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit(c.Slots)
	}
	if c.OrphanGrace <= 0 {
		c.OrphanGrace = DefaultOrphanGrace
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// Daemon is a worker process: a gossip member that pulls task attempts from the
// coordinator, runs up to Slots of them at once, renews their leases, and serves its map
// outputs to reducers.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	members *cluster.Membership
	http    *http.Server
	ln      net.Listener
	client  *http.Client // to the coordinator
	env     Env
	stores  *objstore.Stores // by the job's S3 endpoint
	slots   chan struct{}    // one token per running attempt
	guard   *fetchGuard      // the reducers' remote fetches; heartbeats tell it of dead peers
	prof    *obs.Profiler    // nil unless profiling
	roots   *allowpath.Roots // where tasks may read and write

	// cancel ends the context that Start gives the loops, and they to the attempts: Shutdown
	// calls it to stop pulling and to cancel the running attempts.
	cancel context.CancelFunc
	wg     sync.WaitGroup // the HTTP server, the loops and the attempts

	shutdownOnce sync.Once
	shutdownErr  error // Shutdown's result, for every call
	// releaseMemory takes the worker's share out of the process's memory limit (Shutdown).
	releaseMemory func()

	lastRefusal string    // the last protocol refusal logged; the poll loop's own
	warned      time.Time // when a misconfiguration was last logged; the poll loop's own
	// lostSince is when the coordinator stopped answering polls (zero: it answers),
	// unreachableWarned when that was last logged; the poll loop's own.
	lostSince, unreachableWarned time.Time
	noCoordinator                bool // the last warning was that gossip knows no coordinator
	// rejoinRequested is when the coordinator last had this worker join the seeds again
	// (rejoinAsked), the heartbeat loop's own; joining is set while that join runs.
	rejoinRequested time.Time
	joining         atomic.Bool

	rejoinMu  sync.Mutex // guards rejoined and unreached
	rejoined  time.Time  // when the seeds were last joined again (rejoin)
	unreached bool       // a call found the coordinator unreachable, none has reached it since

	mu      sync.Mutex                    // guards running, specs, held and reconnected
	running map[string]context.CancelFunc // attempt id → cancel
	specs   map[string]*jobs.Spec         // job id → parsed spec
	// held is, by job and map task, the attempt whose output the task's map output file is
	// (the last to finish writing it): the inventory a restarted coordinator asks for
	// (task.Inventory). A worker process starts with none, so it never vouches for files an
	// earlier process left behind.
	held map[string]map[int]int
	// reconnected is when the coordinator answered again after an outage: for OrphanGrace
	// after it, cleanJobs deletes nothing.
	reconnected time.Time
}

// Start starts a worker: it listens, joins the cluster and begins pulling tasks.
func Start(cfg Config) (*Daemon, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	roots := allowpath.Any()
	if len(cfg.AllowPaths) > 0 {
		var err error
		if roots, err = allowpath.New(cfg.AllowPaths); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	d := &Daemon{
		cfg: cfg, log: cfg.Log, ln: ln, roots: roots,
		client:  &http.Client{Transport: stallTransport(cfg.FetchStall, cfg.ClientTLS)},
		slots:   make(chan struct{}, cfg.Slots),
		running: map[string]context.CancelFunc{},
		specs:   map[string]*jobs.Spec{},
		held:    map[string]map[int]int{},
	}
	shuffleToken := cmp.Or(cfg.shuffleToken, cfg.Token)
	handler, err := shuffle.NewHandler(cfg.DataDir, shuffleToken)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	// A segment streams for as long as its reducer keeps reading, past the server's limits.
	mux.Handle("/shuffle/", httpserve.Stream(cmp.Or(cfg.ServeStall, DefaultServeStall), obs.CountShuffleServed(handler)))
	// Metrics and profiles tell a lot about the cluster's work, so they take the token like
	// the rest; a scraper sends it as a bearer token (or basic auth password). A CPU profile
	// answers after its duration, which pprof caps below the server's WriteTimeout.
	mux.Handle("GET /metrics", auth.RequireToken(cfg.Token, obs.Handler()))
	mux.Handle("/debug/pprof/", auth.RequireToken(cfg.Token, httpserve.Stream(2*time.Minute, obs.PprofHandler())))
	d.http = httpserve.NewServer(obs.HTTPMetrics("worker", httpserve.SecurityHeaders(httpserve.StrictCSP, mux)), cfg.HTTP)
	d.http.TLSConfig = cfg.TLS

	d.members, err = cluster.Join(cluster.Config{
		Name: cfg.Name, Bind: cfg.Bind, Key: cfg.Key, Insecure: cfg.Insecure, Fast: cfg.Fast, Logger: cfg.Log,
		Meta: cluster.Meta{Role: cluster.RoleWorker, Slots: cfg.Slots, Version: version.Version(), Protocol: version.Protocol},
	}, cfg.Join)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// Advertise an address others can reach: the listener's, with the gossip address's host
	// when listening on all interfaces.
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host, _, _ = net.SplitHostPort(d.members.Addr())
	}
	addr := httpserve.URL(net.JoinHostPort(host, port), cfg.TLS)
	d.stores = objstore.NewStores(objstore.DefaultOptions())
	// This worker's own map outputs are read from its disk, the others over HTTP.
	d.guard = newFetchGuard(&shuffle.HTTPFetcher{Client: d.client, Token: shuffleToken}, max(cfg.FetchStall/4, time.Second), cfg.Log)
	var fetcher shuffle.Fetcher = shuffle.NearFetcher{Self: addr, Remote: d.guard}
	if cfg.wrapFetcher != nil {
		fetcher = cfg.wrapFetcher(fetcher)
	}
	d.env = Env{DataDir: cfg.DataDir, ShuffleAddr: addr, Fetcher: shuffle.Observe(fetcher, obs.ShuffleFetches{}), MapSpillBytes: cfg.MapSpillBytes}
	if err := d.members.UpdateMeta(cluster.Meta{Role: cluster.RoleWorker, API: addr, Shuffle: addr, Slots: cfg.Slots, Version: version.Version(), Protocol: version.Protocol}, 5*time.Second); err != nil {
		d.members.Shutdown()
		ln.Close()
		return nil, fmt.Errorf("advertise: %w", err)
	}
	prof := cfg.Profiling
	prof.Role, prof.Node, prof.Log = "worker", d.members.Name(), cfg.Log
	if d.prof, err = obs.StartProfiling(prof); err != nil {
		d.members.Shutdown()
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(3)
	go func() {
		defer d.wg.Done()
		if err := httpserve.Serve(d.http, ln); err != nil {
			d.log.Error("shuffle server", "err", err)
		}
	}()
	go d.pollLoop(ctx)
	go d.heartbeatLoop(ctx)
	d.releaseMemory = shareMemoryLimit(cfg.MemoryLimit)
	d.log.Info("worker up", "name", d.members.Name(), "gossip", d.members.Addr(), "shuffle", addr, "slots", cfg.Slots, "version", version.Version(), "protocol", version.Protocol)
	return d, nil
}

// Name is the worker's node name.
func (d *Daemon) Name() string { return d.members.Name() }

// Shutdown stops the worker, in this order:
//
//  1. stop pulling and cancel the running attempts: their results are lost, and each
//     removes what it wrote into the job's outputs;
//  2. leave the gossip cluster, so that the coordinator reschedules those attempts at once
//     rather than after their leases;
//  3. stop serving map outputs, letting the segments in flight finish until ctx ends (a
//     reducer that gets its segment need not have the map task re-run);
//  4. wait for the loops and the attempts, then push the last profiles.
//
// Idempotent and safe for concurrent use: every call returns when the first has finished,
// with its error.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.shutdownOnce.Do(func() { d.shutdownErr = d.shutdown(ctx) })
	return d.shutdownErr
}

func (d *Daemon) shutdown(ctx context.Context) error {
	d.cancel()
	err := d.members.Shutdown()
	if herr := d.http.Shutdown(ctx); err == nil {
		err = herr
	}
	d.wg.Wait()
	if perr := d.prof.Stop(ctx); err == nil {
		err = perr
	}
	d.releaseMemory() // last: the tasks that needed the share have ended
	return err
}

// call POSTs req to the coordinator and decodes the response into resp (if not nil).
func (d *Daemon) call(ctx context.Context, path string, req, resp any) error {
	api, err := d.coordinatorAPI()
	if errors.Is(err, errNoCoordinator) {
		d.rejoin()
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, httpserve.BaseURL(api)+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+d.cfg.Token)
	r.Header.Set("Content-Type", "application/json")
	res, err := d.client.Do(r)
	if err != nil {
		err = httpserve.ClassifyTLS(err)
		if ctx.Err() == nil && !errors.Is(err, httpserve.ErrUntrusted) {
			d.coordinatorUnreached()
		}
		return err
	}
	d.coordinatorReached()
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return &statusError{code: res.StatusCode, msg: string(bytes.TrimSpace(msg))}
	}
	if resp == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(resp)
}

type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("coordinator: %d %s", e.code, e.msg) }

// misconfigured reports whether err from a call to the coordinator means that this worker
// and the coordinator disagree on the cluster's settings (its token, or TLS trust), with
// what to do about it: retrying will not help until an operator acts.
func misconfigured(err error) (string, bool) {
	var se *statusError
	switch {
	case errors.As(err, &se) && (se.code == http.StatusUnauthorized || se.code == http.StatusForbidden):
		return fmt.Sprintf("the coordinator refused this worker's cluster token (%d): check --token-file on every node", se.code), true
	case errors.Is(err, httpserve.ErrUntrusted):
		return "this worker does not trust the coordinator's TLS certificate: check --tls-ca", true
	}
	return "", false
}

// sleep waits for dur, with ±50% jitter so that workers do not retry in step, or until ctx
// ends; it reports whether ctx is still live.
func sleep(ctx context.Context, dur time.Duration) bool {
	dur = dur/2 + rand.N(dur)
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pollLoop pulls attempts whenever a slot is free, until ctx (the daemon's) ends. It owns
// the acquisition of slots.
func (d *Daemon) pollLoop(ctx context.Context) {
	defer d.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		// Wait for a free slot, holding it while polling so the poll asks for what we can run.
		select {
		case d.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1
		for len(d.slots) < cap(d.slots) {
			d.slots <- struct{}{}
			free++
		}
		var as []task.Assignment
		err := d.call(ctx, task.PathPoll, task.PollRequest{Worker: d.members.Name(), Free: free}, &as)
		// Give back the slots the coordinator did not fill.
		for range free - len(as) {
			<-d.slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.pollFailed(err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		d.pollSucceeded()
		for _, a := range as {
			d.wg.Add(1)
			go d.execute(ctx, a)
		}
	}
}

// execute runs one attempt in a slot the poll loop acquired, and reports its outcome.
// daemon is the daemon's context: the attempt runs under a child of it, which the
// coordinator may cancel, while its report and clean-up need only the daemon to live.
func (d *Daemon) execute(daemon context.Context, a task.Assignment) {
	defer d.wg.Done()
	defer func() { <-d.slots }()
	ctx, cancel := context.WithCancel(daemon)
	defer cancel()
	d.mu.Lock()
	d.running[a.ID] = cancel
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.running, a.ID)
		d.mu.Unlock()
	}()

	req := task.CompleteRequest{Worker: d.members.Name(), ID: a.ID}
	start := time.Now()
	spec, err := d.spec(a)
	env := d.env
	if err == nil {
		env.Store, err = d.stores.For(spec.Endpoint)
	}
	if err == nil {
		switch a.Kind {
		case task.KindMap:
			var res task.MapResult
			if res, err = labelled(ctx, a, func(ctx context.Context) (task.MapResult, error) { return RunMap(ctx, spec, env, *a.Map) }); err == nil {
				req.Map = &res
				d.wrote(*a.Map)
			}
		case task.KindReduce:
			var res task.ReduceResult
			if res, err = labelled(ctx, a, func(ctx context.Context) (task.ReduceResult, error) { return RunReduce(ctx, spec, env, *a.Reduce) }); err == nil {
				req.Reduce = &res
			}
		default:
			err = task.Fatal(fmt.Errorf("unknown task kind %v", a.Kind))
		}
	}
	if err != nil {
		// The message leaves this process (the log, the coordinator): keep out what the job
		// file read through env(), a path built from a secret.
		err = spec.RedactError(err)
		req.Failure = task.FailureOf(err)
	}
	d.log.Info("attempt done", "attempt", a.ID, "seconds", time.Since(start).Seconds(), "err", err)
	// Count the work done, whether or not the coordinator takes it (it refuses a result that
	// came too late): the job's result has the accepted counts.
	switch {
	case req.Map != nil:
		obs.CountMap(obs.MapCounts{Bytes: req.Map.Bytes, RecordsIn: req.Map.RecordsIn, RecordsOut: req.Map.RecordsOut, RejectsByReason: req.Map.RejectsByReason})
	case req.Reduce != nil:
		obs.CountReduce(obs.ReduceCounts{RecordsIn: req.Reduce.RecordsIn, RecordsOut: req.Reduce.RecordsOut, Duplicates: req.Reduce.Duplicates})
	}
	if refused := d.report(daemon, req); (refused || err != nil) && spec != nil {
		// Nobody reads what a failed or refused attempt wrote into the job's outputs, and the
		// coordinator may already have cleaned up the job (cancelled, or done without this
		// late attempt): left here, it would stay in the lake's _temporary forever.
		discardAttempt(daemon, env.Store, spec, a)
	}
}

// labelled runs the body of attempt a under obs.Do, so that its CPU samples carry the
// job and task kind, and its duration is observed.
func labelled[R any](ctx context.Context, a task.Assignment, run func(context.Context) (R, error)) (R, error) {
	var res R
	err := obs.Do(ctx, a.JobID(), a.Kind.String(), func(ctx context.Context) (err error) {
		res, err = run(ctx)
		return err
	})
	return res, err
}

// discardAttempt removes the files attempt a wrote under its job's outputs (a map attempt's
// rejects, a reduce attempt's stage), then the job's _temporary directories if that left
// them empty. Never call it for an attempt the coordinator may have accepted.
func discardAttempt(ctx context.Context, store objstore.Store, spec *jobs.Spec, a task.Assignment) {
	if store == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	switch {
	case a.Kind == task.KindMap && a.Map != nil:
		dir, err := lake.AttemptDir(spec.Output.Rejects, a.Map.Job, fmt.Sprintf("m-%d", a.Map.Index), a.Map.Attempt)
		if err != nil {
			return // nothing can have been written under a name that cannot be built
		}
		store.DeletePrefix(ctx, dir)
		store.Prune(ctx, spec.Output.Rejects, dir) // the job's _temporary, if that emptied it
	case a.Kind == task.KindReduce && a.Reduce != nil:
		st, sums, err := reduceStages(store, spec, a.Reduce.Job, a.Reduce.Index, a.Reduce.Attempt)
		if err != nil {
			return // nothing can have been staged under a name that cannot be built
		}
		st.Discard(ctx)
		sums.Discard(ctx)
	}
}

// report delivers an attempt's outcome, retrying with backoff (capped at 5 s) while the
// coordinator is unreachable, for up to OrphanGrace: a result that never arrives costs a
// re-run, and a coordinator that restarts takes it when it is back. It returns true when
// the coordinator refused the outcome (the attempt was no longer this worker's), and only
// then. It gives up when ctx ends.
func (d *Daemon) report(ctx context.Context, req task.CompleteRequest) (refused bool) {
	backoff := 100 * time.Millisecond
	var warned time.Time
	for deadline := time.Now().Add(d.cfg.OrphanGrace); time.Now().Before(deadline); {
		err := d.call(ctx, task.PathComplete, req, nil)
		var se *statusError
		switch {
		case err == nil:
			return false
		case errors.As(err, &se) && se.code == http.StatusConflict:
			d.log.Info("result not accepted (attempt lost or cancelled meanwhile)", "attempt", req.ID)
			return true
		case ctx.Err() != nil:
			return false
		}
		obs.CoordinatorUnreachable()
		if time.Since(warned) >= unreachableWarnEvery {
			warned = time.Now()
			d.log.Warn("reporting result; holding it until the coordinator answers", "attempt", req.ID, "err", err)
		}
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	d.log.Warn("gave up reporting result: the coordinator did not answer", "attempt", req.ID, "for", d.cfg.OrphanGrace.String())
	return false
}

// spec parses (once per job) the job an assignment belongs to, and checks that the job's
// paths and the assignment's input file lie in the worker's allowed roots: the coordinator
// checked them, but anyone with the token can hand this worker a task.
func (d *Daemon) spec(a task.Assignment) (*jobs.Spec, error) {
	job := a.JobID()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.specs[job]
	if s == nil {
		s = new(jobs.Spec)
		if err := json.Unmarshal(a.Spec, s); err != nil {
			return nil, task.Fatal(fmt.Errorf("job %s: spec: %w", job, err))
		}
		if err := d.roots.CheckSpec(s); err != nil {
			return nil, task.Fatal(s.RedactError(fmt.Errorf("job %s: worker %s refuses it: %w", job, d.members.Name(), err)))
		}
		d.specs[job] = s
	}
	if a.Map != nil {
		if err := d.roots.Check(a.Map.File); err != nil {
			return nil, task.Fatal(s.RedactError(fmt.Errorf("job %s: worker %s refuses map task %d: input file %w", job, d.members.Name(), a.Map.Index, err)))
		}
	}
	return s, nil
}

// heartbeatLoop renews the leases of running attempts, cancels those the coordinator
// withdrew, and deletes the map outputs of jobs that ended, until ctx (the daemon's) ends.
func (d *Daemon) heartbeatLoop(ctx context.Context) {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.Heartbeat)
	defer t.Stop()
	var outage time.Time // when heartbeats began to fail; zero while they succeed
	// report: the coordinator asked for the inventory, which goes with the next heartbeat;
	// at once, not at the next tick, when the last heartbeat did not carry one (a restarted
	// coordinator waits for the inventories before it resumes its jobs).
	var report, now bool
	for {
		if !now {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		now = false
		d.mu.Lock()
		ids := make([]string, 0, len(d.running))
		for id := range d.running {
			ids = append(ids, id)
		}
		d.mu.Unlock()
		req := task.HeartbeatRequest{Worker: d.members.Name(), Running: ids}
		if report {
			req.Held = d.inventory()
		}
		hctx, cancel := context.WithTimeout(ctx, 4*d.cfg.Heartbeat)
		var resp task.HeartbeatResponse
		err := d.call(hctx, task.PathHeartbeat, req, &resp)
		cancel()
		if err != nil {
			d.log.Debug("heartbeat", "err", err)
			if outage.IsZero() {
				outage = time.Now()
			}
			continue
		}
		d.mu.Lock()
		if !outage.IsZero() && time.Since(outage) >= outageGrace*d.cfg.Heartbeat {
			// Back from an outage: the coordinator may have restarted and not yet resumed
			// its jobs, so cleanJobs keeps what it does not list for a grace period. (A
			// heartbeat or two lost on a busy machine is no outage.)
			d.reconnected = time.Now()
		}
		outage = time.Time{}
		for _, id := range resp.Cancel {
			if c := d.running[id]; c != nil {
				d.log.Info("cancelling attempt at the coordinator's request", "attempt", id)
				c()
			}
		}
		d.mu.Unlock()
		report = resp.ReportHeld
		now = report && req.Held == nil
		if resp.Rejoin {
			d.rejoinAsked(ctx)
		}
		d.guard.PeersLost(resp.LostPeers)
		d.cleanJobs(resp.ActiveJobs)
	}
}

// cleanJobs deletes the map outputs and cached specs of jobs that are no longer active
// and have no attempt running here.
func (d *Daemon) cleanJobs(active []string) {
	entries, err := os.ReadDir(d.cfg.DataDir)
	if err != nil {
		return
	}
	d.mu.Lock()
	if !d.reconnected.IsZero() && time.Since(d.reconnected) < d.cfg.OrphanGrace {
		// The coordinator came back from an outage: a job it does not list yet may be one
		// it is resuming, whose map outputs are here.
		d.mu.Unlock()
		return
	}
	busy := map[string]bool{}
	for id := range d.running {
		busy[jobOfAttempt(id)] = true
	}
	for job := range d.specs {
		if !slices.Contains(active, job) && !busy[job] {
			delete(d.specs, job)
		}
	}
	for job := range d.held {
		if !slices.Contains(active, job) && !busy[job] {
			delete(d.held, job) // its directory goes below
		}
	}
	d.mu.Unlock()
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(active, e.Name()) && !busy[e.Name()] {
			d.log.Info("deleting map outputs of ended job", "job", e.Name())
			os.RemoveAll(filepath.Join(d.cfg.DataDir, e.Name()))
		}
	}
}

// jobOfAttempt extracts the job id from an attempt id "<job>/<kind>-<index>-<attempt>".
func jobOfAttempt(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '/' {
			return id[:i]
		}
	}
	return id
}

// stallTransport is an HTTP transport whose connections fail a read that waits longer than
// stall: a peer that is stopped (SIGSTOP) or partitioned accepts connections in its kernel
// but never answers, and without this a fetch from it would wait forever. It trusts
// tlsConfig's CAs for https:// peers (nil: the system's).
func stallTransport(stall time.Duration, tlsConfig *tls.Config) *http.Transport {
	t := httpserve.ClientTransport(tlsConfig)
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, stall: stall}, nil
	}
	t.MaxIdleConnsPerHost = 16
	return t
}

type stallConn struct {
	net.Conn
	stall time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.stall))
	return c.Conn.Read(p)
}
