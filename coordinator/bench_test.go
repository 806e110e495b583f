package coordinator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// directExecutor runs tasks as plain function calls in this process, map outputs read from
// local disk: the map and reduce work itself, without the cluster's protocol (gossip, polls,
// leases, heartbeats) and without the HTTP shuffle. It exists only to measure that overhead.
type directExecutor struct {
	spec  *jobs.Spec
	env   worker.Env
	slots int
}

func (e *directExecutor) Map(ctx context.Context, _ json.RawMessage, t task.Map) (task.MapResult, error) {
	return worker.RunMap(ctx, e.spec, e.env, t)
}

func (e *directExecutor) Reduce(ctx context.Context, _ json.RawMessage, t task.Reduce) (task.ReduceResult, error) {
	return worker.RunReduce(ctx, e.spec, e.env, t)
}

func (e *directExecutor) Slots() int { return e.slots }

var (
	benchOnce   sync.Once
	benchCorpus string
	benchBytes  int64
)

// benchSpec generates a synthetic corpus once per process (BENCH_JOB_SIZE: bytes or a size
// such as 1GiB; default 128 MiB) and returns a job over it writing under dir.
func benchSpec(b *testing.B, dir string) *jobs.Spec {
	b.Helper()
	benchOnce.Do(func() {
		size := int64(128 << 20)
		if s := os.Getenv("BENCH_JOB_SIZE"); s != "" {
			n, err := units.ParseBytes(s)
			if err != nil || n <= 0 {
				b.Fatalf("BENCH_JOB_SIZE=%q: want a size such as 1GiB or 134217728 (%v)", s, err)
			}
			size = n
		}
		// v2: ten cities; a corpus cached by an older version lacks some of genInputs.
		benchCorpus = filepath.Join(os.TempDir(), "ireports-bench-corpus-v2-"+strconv.FormatInt(size, 10))
		if _, err := os.Stat(filepath.Join(benchCorpus, ".done")); err != nil {
			os.RemoveAll(benchCorpus)
			if _, err := gen.Generate(context.Background(), gen.Options{Dir: benchCorpus, Size: size, Seed: 1}); err != nil {
				b.Fatal(err)
			}
			os.WriteFile(filepath.Join(benchCorpus, ".done"), nil, 0o644)
		}
	})
	spec := writeSpec(b, dir, jobDef{schemas: gen.AustinSchema, inputs: genInputs(benchCorpus), ratio: 0.05, split: "16MiB",
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
	return spec
}

// BenchmarkJob runs the normalize job over a generated corpus four ways, to compare in one
// run (ratios, not absolute times, on a shared machine):
//
//	direct-2   the tasks as function calls on 2 slots: the work itself
//	cluster-1  a local cluster of 1 worker with 1 slot
//	cluster-2  a local cluster of 2 workers with 1 slot each
//
// cluster-2 / cluster-1 is the scaling from one worker to two; cluster-2 / direct-2 - 1 is
// what the protocol and the HTTP shuffle add.
func BenchmarkJob(b *testing.B) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, exec func(spec *jobs.Spec, dir string) (*Result, error)) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			spec := benchSpec(b, dir)
			b.StartTimer()
			res, err := exec(spec, dir)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(res.Bytes)
			b.ReportMetric(float64(res.RecordsIn)/res.Seconds, "records/s")
			b.ReportMetric(res.Seconds, "job-s")
			b.ReportMetric(res.PhaseSeconds["map"], "map-s")
			b.ReportMetric(res.PhaseSeconds["reduce"], "reduce-s")
		}
	}
	b.Run("direct-2", func(b *testing.B) {
		run(b, func(spec *jobs.Spec, dir string) (*Result, error) {
			exec := &directExecutor{spec: spec, slots: 2, env: worker.Env{DataDir: filepath.Join(dir, "data"), Fetcher: shuffle.LocalFetcher{}, Store: store}}
			return RunJob(ctx, spec, exec, NewJobID(spec.Name, time.Now()), RunOptions{Store: store})
		})
	})
	for _, w := range []int{1, 2} {
		b.Run("cluster-"+strconv.Itoa(w), func(b *testing.B) {
			run(b, func(spec *jobs.Spec, dir string) (*Result, error) {
				return RunLocal(ctx, spec, LocalConfig{Workers: w, Slots: 1, Dir: filepath.Join(dir, "cluster"), StartWorker: startWorker})
			})
		})
	}
}
