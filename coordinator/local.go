package coordinator

import (
	"context"
	"runtime"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// LocalExecutor runs tasks in goroutines of this process, reading map outputs from local disk.
type LocalExecutor struct {
	spec  *jobs.Spec
	env   worker.Env
	slots int
}

var _ Executor = (*LocalExecutor)(nil)

// NewLocalExecutor returns an executor for spec that keeps map outputs under dataDir and runs
// up to slots tasks at once (0: one per core).
func NewLocalExecutor(spec *jobs.Spec, dataDir string, slots int, progress *worker.Progress) *LocalExecutor {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	return &LocalExecutor{
		spec:  spec,
		env:   worker.Env{DataDir: dataDir, Fetcher: shuffle.LocalFetcher{}, Progress: progress},
		slots: slots,
	}
}

func (e *LocalExecutor) Map(ctx context.Context, t task.Map) (task.MapResult, error) {
	return worker.RunMap(ctx, e.spec, e.env, t)
}

func (e *LocalExecutor) Reduce(ctx context.Context, t task.Reduce) (task.ReduceResult, error) {
	return worker.RunReduce(ctx, e.spec, e.env, t)
}

func (e *LocalExecutor) Slots() int { return e.slots }
