package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/socrata"

	"github.com/ireports/ireports/jobs"
)

// LocalCluster is a coordinator and workers in this process, on loopback, speaking the
// cluster's real protocol: gossip, long-polled task pulls, leases, shuffle over HTTP. It is
// what `coordinator run` uses, so one machine exercises the production code path.
//
// This package does not know what a worker is: the cluster starts each one with
// LocalClusterConfig.StartWorker, which internal/localcluster fills with package worker's
// daemon. The coordinator and the worker are composed there, above both packages.
type LocalCluster struct {
	Server  *Server
	Workers []LocalWorker
	Token   string
	dir     string
	ownDir  bool
}

// LocalWorker is a worker a LocalCluster runs in this process (a *worker.Daemon).
// Shutdown stops it; the cluster calls it once, before it stops its coordinator.
type LocalWorker interface {
	Shutdown(ctx context.Context) error
}

// LocalWorkerConfig is what a LocalCluster gives each worker it starts: the worker joins
// the coordinator's gossip at Join with the cluster's fresh Key and Token, and keeps its data
// under DataDir.
type LocalWorkerConfig struct {
	Name    string   // gossip node name: worker-1, worker-2, …
	Join    []string // the coordinator's gossip address
	DataDir string
	Slots   int    // task slots
	Key     []byte // gossip encryption key
	Token   string // cluster token
	Log     *slog.Logger
	// AllowPaths are the roots the worker lets a task read and write; AnyPath lets it use
	// any path instead (set when AllowPaths is empty).
	AllowPaths []string
	AnyPath    bool
}

// LocalClusterConfig configures StartLocalCluster.
type LocalClusterConfig struct {
	Workers int    // number of workers (0: 2)
	Slots   int    // task slots per worker (0: 1)
	Dir     string // coordinator and worker data dirs ("": a temporary directory, removed at Shutdown)
	Log     *slog.Logger
	// Publish configures publishing summaries to Postgres (nil: pgsink.DefaultConfig).
	Publish *pgsink.Config
	// SourceTuning adjusts each source before its pull (nil: as the job file says).
	SourceTuning func(*socrata.Source)
	// Schedules are job files the coordinator runs on their schedules.
	Schedules []string
	// AllowPaths are the roots jobs may read and write, checked by the coordinator and the
	// workers (see ServerConfig.AllowPaths); empty: any path.
	AllowPaths []string
	// StartWorker starts one in-process worker (required; internal/localcluster.StartWorker
	// starts a worker.Daemon). It must return once the worker is started, not when it stops.
	StartWorker func(LocalWorkerConfig) (LocalWorker, error)
}

// StartLocalCluster starts a coordinator and cfg.Workers workers, with a fresh random
// gossip key and token, and waits until every worker has joined.
func StartLocalCluster(cfg LocalClusterConfig) (*LocalCluster, error) {
	if cfg.StartWorker == nil {
		return nil, ErrNoStartWorker
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &LocalCluster{dir: cfg.Dir}
	if c.dir == "" {
		dir, err := os.MkdirTemp("", "ireports-cluster-")
		if err != nil {
			return nil, err
		}
		c.dir, c.ownDir = dir, true
	}
	key := make([]byte, 32)
	tok := make([]byte, 16)
	rand.Read(key)
	rand.Read(tok)
	c.Token = hex.EncodeToString(tok)

	sc := LocalServerConfig()
	sc.DataDir, sc.Key, sc.Token, sc.Log, sc.Name = filepath.Join(c.dir, "coordinator"), key, c.Token, cfg.Log, "coordinator"
	sc.Publish, sc.SourceTuning, sc.Schedules = cfg.Publish, cfg.SourceTuning, cfg.Schedules
	sc.AllowPaths, sc.AnyPath = cfg.AllowPaths, len(cfg.AllowPaths) == 0
	srv, err := NewServer(sc)
	if err != nil {
		c.cleanup()
		return nil, err
	}
	c.Server = srv
	for i := range cfg.Workers {
		name := fmt.Sprintf("worker-%d", i+1)
		wc := LocalWorkerConfig{
			Name: name, Join: []string{srv.GossipAddr()}, DataDir: filepath.Join(c.dir, name),
			Slots: cfg.Slots, Key: key, Token: c.Token, Log: cfg.Log,
			AllowPaths: cfg.AllowPaths, AnyPath: len(cfg.AllowPaths) == 0,
		}
		w, err := cfg.StartWorker(wc)
		if err != nil {
			c.Shutdown(context.Background())
			return nil, fmt.Errorf("%s: %w", wc.Name, err)
		}
		c.Workers = append(c.Workers, w)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Scheduler().Workers()) < cfg.Workers {
		if time.Now().After(deadline) {
			c.Shutdown(context.Background())
			return nil, errors.New("local cluster: workers did not register within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c, nil
}

// Shutdown stops the workers, then the coordinator, and removes a temporary directory.
func (c *LocalCluster) Shutdown(ctx context.Context) {
	for _, w := range c.Workers {
		w.Shutdown(ctx)
	}
	if c.Server != nil {
		c.Server.Shutdown(ctx)
	}
	c.cleanup()
}

func (c *LocalCluster) cleanup() {
	if c.ownDir {
		os.RemoveAll(c.dir)
	}
}

// Run submits spec to the cluster and waits for it to end. progress, if not nil, is called
// about every interval with the job's state while it runs. Cancelling ctx cancels the job.
func (c *LocalCluster) Run(ctx context.Context, spec *jobs.Spec, interval time.Duration, progress func(JobStatus)) (*Result, error) {
	id, err := c.Server.SubmitSpec(spec)
	if err != nil {
		return &Result{Name: spec.Name, Status: Failed, Error: err.Error()}, err
	}
	// In process, a status read is cheap: poll often so a short job ends without waiting
	// for the next progress tick. There is no gap to follow across: the server is here, and
	// a job it interrupted is as far as this process takes it.
	return WaitJob(ctx, id, Follow{
		Poll: 20 * time.Millisecond, Interval: interval, Progress: progress,
		Get: func(ctx context.Context, id string) (JobStatus, error) {
			j, ok := c.Server.Job(id)
			switch {
			case !ok:
				return j, fmt.Errorf("job %s vanished", id)
			case j.State == Interrupted:
				return j, fmt.Errorf("job %s: %w", id, ErrInterrupted)
			}
			return j, nil
		},
		Cancel: func(ctx context.Context, id string) error { return c.Server.Cancel(id) },
	})
}

// Follow says how WaitJob follows a job.
type Follow struct {
	// Poll is how often the job's state is read while the coordinator answers; Interval how
	// often Progress is called.
	Poll, Interval time.Duration
	// Get reads the job's state and Cancel asks for its cancellation: a Client's Job and
	// Cancel for `coordinator submit`, a Server's in this process for a LocalCluster. Each
	// call gets at most RequestTimeout.
	Get    func(ctx context.Context, id string) (JobStatus, error)
	Cancel func(ctx context.Context, id string) error
	// Progress, if set, is called about every Interval with the job's state while it runs.
	Progress func(JobStatus)
	// Gap is how long WaitJob goes on following the job while the coordinator cannot tell
	// it the job's state — Get fails with an error Transient calls passing (the coordinator
	// restarts, or a replacement comes up on its address), or the job shows Interrupted
	// (the coordinator shuts down) — retrying with a backoff from Poll up to MaxBackoff. 0:
	// WaitJob ends at the first error.
	Gap time.Duration
	// Notify, if set, is told in a sentence when a gap begins (once per gap) and when the
	// coordinator is back with the job.
	Notify func(msg string)
}

// Limits of following a job across a gap.
const (
	// RequestTimeout bounds each Get and Cancel: a coordinator whose host vanished may never
	// answer, nor refuse.
	RequestTimeout = 30 * time.Second
	// MaxBackoff is the longest wait between two tries in a gap.
	MaxBackoff = 5 * time.Second
)

// WaitJob follows job id until it ends and returns its result, cancelling the job when ctx
// ends. It reads the job's state every f.Poll and reports progress every f.Interval. A gap
// in which the coordinator cannot answer is followed for up to f.Gap (see Follow): the job
// keeps its id across a restart of its coordinator, which resumes it. When ctx ends during
// a gap, the job cannot be cancelled, and WaitJob returns at once saying so.
func WaitJob(ctx context.Context, id string, f Follow) (*Result, error) {
	fail := func(err error) (*Result, error) { return &Result{Job: id, Status: Failed, Error: err.Error()}, err }
	notify := func(msg string) {
		if f.Notify != nil {
			f.Notify(msg)
		}
	}
	call := func(fn func(context.Context) error) error {
		// Not ctx: once it is cancelled, the job's cancellation is still to be seen through.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RequestTimeout)
		defer cancel()
		return fn(rctx)
	}
	var (
		cancelled bool      // the job's cancellation was asked for
		reported  time.Time // when Progress was last called
		gapSince  time.Time // when the current gap began; zero: no gap
		wait      = f.Poll
	)
	for {
		var j JobStatus
		err := call(func(ctx context.Context) (err error) { j, err = f.Get(ctx, id); return err })
		switch {
		case err != nil && (f.Gap <= 0 || !Transient(err)):
			if !gapSince.IsZero() {
				err = fmt.Errorf("%w (after the coordinator was unreachable for %s: was it restarted on another state, without --state?)",
					err, time.Since(gapSince).Round(time.Second))
			}
			return fail(err)
		case err != nil || j.State == Interrupted && f.Gap > 0:
			why := "the coordinator is shutting down; the job is interrupted"
			if err != nil {
				why = fmt.Sprintf("the coordinator is unreachable (%v)", err)
			}
			if gapSince.IsZero() {
				gapSince = time.Now()
				notify(fmt.Sprintf("%s; following job %s across the gap for up to %s", why, id, f.Gap))
			}
			if ctx.Err() != nil && !cancelled {
				return fail(fmt.Errorf("%w while %s: job %s was not cancelled; once the coordinator is back: coordinator cancel %s", ctx.Err(), why, id, id))
			}
			if time.Since(gapSince) > f.Gap {
				return fail(fmt.Errorf("%s for %s: gave up following job %s, which may still run; see: coordinator status %s", why, f.Gap, id, id))
			}
			wait = min(2*wait, MaxBackoff)
		default:
			if !gapSince.IsZero() {
				msg := fmt.Sprintf("the coordinator is back after %s; job %s is %s", time.Since(gapSince).Round(100*time.Millisecond), id, j.State)
				if j.Resumed > 0 {
					msg += fmt.Sprintf(" (resumed %d×, %s lost)", j.Resumed, j.Lost.Round(100*time.Millisecond))
				}
				notify(msg)
				gapSince, wait = time.Time{}, f.Poll
			}
			if j.State.Terminal() {
				return finalResult(ctx, id, j)
			}
			if f.Progress != nil && time.Since(reported) >= f.Interval {
				f.Progress(j)
				reported = time.Now()
			}
			if ctx.Err() != nil && !cancelled {
				cerr := call(func(rctx context.Context) error { return f.Cancel(rctx, id) })
				// A cancel that failed for a passing reason is asked again next time; any
				// other answer (the job ended meanwhile) leaves it to the job's state.
				cancelled = cerr == nil || !Transient(cerr)
			}
		}
		next := time.After(wait)
		if ctx.Err() == nil {
			select {
			case <-next:
			case <-ctx.Done(): // cancel the job at once
			}
		} else {
			<-next
		}
	}
}

// finalResult is WaitJob's result for job id, which ended as j says.
func finalResult(ctx context.Context, id string, j JobStatus) (*Result, error) {
	res := j.Result
	if res == nil {
		res = &Result{Job: id, Name: j.Name, Status: j.State}
	}
	switch {
	case res.Status == Succeeded, res.Status == SourceUnavailable:
		return res, nil
	case j.err != nil: // in-process: the error keeps its wrapping
		return res, j.err
	case res.Status == Cancelled && ctx.Err() != nil:
		return res, fmt.Errorf("%s: %w", res.Error, ctx.Err())
	default:
		return res, errors.New(res.Error)
	}
}
