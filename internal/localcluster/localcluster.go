// Package localcluster runs a coordinator and workers in this process, on loopback, with
// the cluster's real protocol: it is what `coordinator run` uses, and what tests outside
// package coordinator run a job on.
//
// Package coordinator owns the in-process cluster (coordinator.LocalCluster) but does not
// import package worker; this package composes the two, giving the cluster package worker's
// daemon to start its workers with. Tests inside package coordinator cannot import it (it
// imports coordinator) and start the same daemon with a test helper of their own.
package localcluster

import (
	"context"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/worker"
)

// StartWorker starts a worker.Daemon with worker.LocalConfig's timings and the settings the
// cluster gives it. It is coordinator.LocalClusterConfig's StartWorker.
func StartWorker(cfg coordinator.LocalWorkerConfig) (coordinator.LocalWorker, error) {
	wc := worker.LocalConfig()
	wc.Name, wc.Join, wc.DataDir, wc.Slots = cfg.Name, cfg.Join, cfg.DataDir, cfg.Slots
	wc.Key, wc.Token, wc.Log = cfg.Key, cfg.Token, cfg.Log
	wc.AllowPaths, wc.AnyPath = cfg.AllowPaths, cfg.AnyPath
	d, err := worker.Start(wc)
	if err != nil {
		return nil, err // not a nil *Daemon in a non-nil interface
	}
	return d, nil
}

// Start starts a coordinator and cfg.Workers worker daemons (coordinator.StartLocalCluster
// with StartWorker) and waits until every worker has joined.
func Start(cfg coordinator.LocalClusterConfig) (*coordinator.LocalCluster, error) {
	cfg.StartWorker = StartWorker
	return coordinator.StartLocalCluster(cfg)
}

// Run runs the job described by spec on a local cluster of worker daemons and commits its
// output (coordinator.RunLocal with StartWorker). The Result is always non-nil; the error
// is non-nil when the job did not succeed.
func Run(ctx context.Context, spec *jobs.Spec, cfg coordinator.LocalConfig) (*coordinator.Result, error) {
	cfg.StartWorker = StartWorker
	return coordinator.RunLocal(ctx, spec, cfg)
}
