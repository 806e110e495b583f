package coordinator

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/socrata"

	"github.com/ireports/ireports/jobs"
)

// LocalConfig configures a job run on this machine.
type LocalConfig struct {
	// Workers is the number of in-process workers (0: one per core).
	Workers int
	// Slots is the number of task slots per worker (0: 1).
	Slots int
	// Dir holds the coordinator's and workers' data while the job runs ("": a temporary
	// directory, removed after).
	Dir string
	// Log receives the cluster's events (nil: discarded).
	Log *slog.Logger
	// Progress, if set, is called about twice a second while the job runs.
	Progress func(JobStatus)
	// Publish configures publishing summaries to Postgres (nil: pgsink.DefaultConfig).
	Publish *pgsink.Config
	// SourceTuning adjusts each source before its pull (nil: as the job file says).
	SourceTuning func(*socrata.Source)
	// AllowPaths are the roots the job may read and write (empty: any path); `coordinator
	// run` gives the job file's directory and its --allow-path flags.
	AllowPaths []string
	// StartWorker starts each worker (see LocalClusterConfig.StartWorker; required).
	StartWorker func(LocalWorkerConfig) (LocalWorker, error)
}

// RunLocal runs the job described by spec on a local cluster (see LocalCluster) and
// commits its output. The Result is always non-nil; the error is non-nil when the job did
// not succeed.
func RunLocal(ctx context.Context, spec *jobs.Spec, cfg LocalConfig) (*Result, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	c, err := StartLocalCluster(LocalClusterConfig{Workers: cfg.Workers, Slots: cfg.Slots, Dir: cfg.Dir, Log: cfg.Log, Publish: cfg.Publish, SourceTuning: cfg.SourceTuning, AllowPaths: cfg.AllowPaths, StartWorker: cfg.StartWorker})
	if err != nil {
		return &Result{Name: spec.Name, Status: Failed, Error: err.Error()}, err
	}
	defer c.Shutdown(context.WithoutCancel(ctx))
	return c.Run(ctx, spec, 500*time.Millisecond, cfg.Progress)
}
