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
	// for the next progress tick.
	return WaitJob(ctx, id, 20*time.Millisecond, interval, func(ctx context.Context, id string) (JobStatus, error) {
		j, ok := c.Server.Job(id)
		if !ok {
			return j, fmt.Errorf("job %s vanished", id)
		}
		return j, nil
	}, func(ctx context.Context, id string) error { return c.Server.Cancel(id) }, progress)
}

// WaitJob follows job id until it ends, cancelling it when ctx ends. It reads the job's
// state every poll and reports progress every interval: get and cancel are a Client's Job
// and Cancel for `coordinator submit`, a Server's in this process for a LocalCluster.
func WaitJob(ctx context.Context, id string, poll, interval time.Duration,
	get func(context.Context, string) (JobStatus, error),
	cancel func(context.Context, string) error,
	progress func(JobStatus)) (*Result, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	cancelled := false
	var reported time.Time
	for {
		j, err := get(context.WithoutCancel(ctx), id)
		if err != nil {
			return &Result{Job: id, Status: Failed, Error: err.Error()}, err
		}
		if j.State.Terminal() {
			res := j.Result
			if res == nil {
				res = &Result{Job: id, Name: j.Name, Status: j.State}
			}
			switch {
			case res.Status == Succeeded, res.Status == SourceUnavailable:
			case j.err != nil: // in-process: the error keeps its wrapping
				return res, j.err
			case res.Status == Cancelled && ctx.Err() != nil:
				return res, fmt.Errorf("%s: %w", res.Error, ctx.Err())
			default:
				return res, errors.New(res.Error)
			}
			return res, nil
		}
		if progress != nil && time.Since(reported) >= interval {
			progress(j)
			reported = time.Now()
		}
		if ctx.Err() != nil && !cancelled {
			cancelled = true
			cancel(context.WithoutCancel(ctx), id)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}
