package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/cputime"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

var (
	mapCorpusOnce sync.Once
	mapCorpus     string
	mapCorpusErr  error
)

// mapBenchCorpus generates, once per machine (cached under the temporary directory), a
// ten-city corpus of BENCH_MAP_SIZE bytes (default 160 MiB: NYC's SODA CSV file is
// then about 15 MB, the other cities' files 3 to 25 MB).
func mapBenchCorpus(b *testing.B) string {
	b.Helper()
	mapCorpusOnce.Do(func() {
		size := int64(160 << 20)
		if s := os.Getenv("BENCH_MAP_SIZE"); s != "" {
			if size, mapCorpusErr = strconv.ParseInt(s, 10, 64); mapCorpusErr != nil {
				return
			}
		}
		mapCorpus = filepath.Join(os.TempDir(), "ireports-bench-map-corpus-v1-"+strconv.FormatInt(size, 10))
		if _, err := os.Stat(filepath.Join(mapCorpus, ".done")); err == nil {
			return
		}
		os.RemoveAll(mapCorpus)
		if _, mapCorpusErr = gen.Generate(context.Background(), gen.Options{Dir: mapCorpus, Size: size, Seed: 1}); mapCorpusErr != nil {
			return
		}
		mapCorpusErr = os.WriteFile(filepath.Join(mapCorpus, ".done"), nil, 0o644)
	})
	if mapCorpusErr != nil {
		b.Fatal(mapCorpusErr)
	}
	return mapCorpus
}

// mapBenchJob reads one file of each layout the generator writes, by the built-in schemas.
const mapBenchJob = `
job "mapbench" {
  input "nyc_soda_csv" {
    path   = "%[1]s/nyc/soda-*.csv"
    schema = "nyc"
  }
  input "nyc_soda_json" {
    path   = "%[1]s/nyc/soda-*.json"
    schema = "nyc"
    format = "soda-json"
  }
  input "nyc_portal" {
    path   = "%[1]s/nyc/portal-*.csv"
    schema = "nyc"
  }
  input "chicago" {
    path   = "%[1]s/chicago/*.csv"
    schema = "chicago"
  }
  input "la" {
    path   = "%[1]s/la/*.csv"
    schema = "la"
  }
  input "baltimore" {
    path   = "%[1]s/baltimore/*.csv"
    schema = "baltimore"
  }
  input "st_louis" {
    path   = "%[1]s/st_louis/*.csv"
    schema = "st_louis"
  }
  output {
    parquet = "%[2]s/out/requests"
    rejects = "%[2]s/out/rejects"
  }
}
`

// BenchmarkMap runs one map task over the whole of one generated file per input layout:
// reading (the split reader or the SODA JSON scanner), normalizing, encoding and
// partitioning the map output, and writing it compressed to local disk. MB/cpu-s is the
// task's throughput per CPU-second (GC on other cores included): the map phase's cost per
// core, which a loaded machine measures far better than wall time.
//
//	go test -run '^$' -bench Map -cpu 1 -count 6 ./worker
func BenchmarkMap(b *testing.B) {
	corpus := mapBenchCorpus(b)
	dir := b.TempDir()
	jobPath := filepath.Join(dir, "map.job")
	if err := os.WriteFile(jobPath, fmt.Appendf(nil, mapBenchJob, corpus, dir), 0o644); err != nil {
		b.Fatal(err)
	}
	spec, err := jobs.ParseFile(jobPath)
	if err != nil {
		b.Fatal(err)
	}
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	env := Env{DataDir: filepath.Join(dir, "data"), Store: store}
	for i, in := range spec.Inputs {
		b.Run(in.Name, func(b *testing.B) {
			t := mapBenchTask(b, ctx, store, spec, i)
			b.SetBytes(t.End - t.Start)
			b.ReportAllocs()
			cpu0 := cputime.Process()
			for b.Loop() {
				t.Attempt++
				if _, err := RunMap(ctx, spec, env, t); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(t.End-t.Start)*float64(b.N)/1e6/(float64(cpu)/1e9), "MB/cpu-s")
			}
		})
	}
}

// mapBenchTask plans input i's first file as one task, as the coordinator's planner would.
func mapBenchTask(b *testing.B, ctx context.Context, store objstore.Store, spec *jobs.Spec, i int) task.Map {
	b.Helper()
	in := spec.Inputs[i]
	paths, err := filepath.Glob(in.Path)
	if err != nil || len(paths) == 0 {
		b.Fatalf("input %s: no file matches %s (%v)", in.Name, in.Path, err)
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		b.Fatal(err)
	}
	t := task.Map{Job: "mapbench", Input: i, File: paths[0], Format: in.Format, End: int64(len(data)), Reducers: 8}
	if in.Format != jobs.FormatSODAJSON {
		header, ds, err := csvsplit.ReadHeader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		t.Header, t.DataStart, t.Start, t.State = header, ds, ds, csvsplit.Outside
	}
	ds, err := mapinput.DetectDialects(ctx, store, in.Schema, t)
	if err != nil {
		b.Fatal(err)
	}
	t.TimeLayouts = jobs.DialectLayouts(ds)
	return t
}
