package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/cputime"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// benchReduceJob is a job of three cities for reduce benchmarks (the schemas only name the
// cities and their time zones: the records are made directly, not read).
const benchReduceJob = `
schema "big" {
  city = "big"
  timezone = "America/New_York"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
}
schema "mid" {
  city = "mid"
  timezone = "America/Chicago"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
}
schema "small" {
  city = "small"
  timezone = "America/Los_Angeles"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
}
job "bench" {
  input "big" {
    path   = "in/big"
    schema = "big"
  }
  input "mid" {
    path   = "in/mid"
    schema = "mid"
  }
  input "small" {
    path   = "in/small"
    schema = "small"
  }
  output {
    parquet = "out/requests"
    rejects = "out/rejects"
  }
}
`

// benchRequests makes n normalized requests shaped like the generated corpus: three cities
// (one far larger, as NYC is), 60 months, low-cardinality agencies, types, zips and channels,
// most requests closed and located, and about 1 % of them repeated as later versions.
func benchRequests(n int) []record.Request {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(prefix string, card int) string { return prefix + strconv.Itoa(rng.IntN(card)) }
	cities := []string{"big", "big", "big", "big", "mid", "mid", "small"}
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]record.Request, 0, n+n/100)
	for i := range n {
		city := cities[rng.IntN(len(cities))]
		created := base.Add(time.Duration(rng.Int64N(int64(5 * 365 * 24 * time.Hour)))).Truncate(time.Second)
		r := record.Request{
			City: city, RequestID: fmt.Sprintf("%s-%09d", city, i), CreatedAt: created,
			UpdatedAt:   created.Add(time.Duration(rng.IntN(1000)) * time.Hour),
			Status:      record.StatusOpen,
			StatusRaw:   "Open",
			Agency:      pick("agency ", 20),
			RequestType: pick("request type ", 150), RequestSubtype: pick("subtype ", 40),
			Zip: pick("1", 300), Neighborhood: pick("district ", 60), Channel: pick("channel ", 5),
		}
		if rng.IntN(10) < 8 {
			r.Status, r.StatusRaw = record.StatusClosed, "Closed"
			r.ClosedAt = created.Add(time.Duration(rng.IntN(500)) * time.Hour)
		}
		if rng.IntN(10) < 9 {
			r.Latitude, r.Longitude, r.HasLocation = 40+rng.Float64(), -74+rng.Float64(), true
		}
		// The zone's calendar month is the partition; UTC is close enough for a benchmark
		// as long as Year and Month agree with the key the reducer groups on.
		r.Year, r.Month = created.Year(), int(created.Month())
		r.Ord = uint64(i)
		out = append(out, r)
		if i%100 == 0 {
			v := r
			v.UpdatedAt = v.UpdatedAt.Add(time.Hour)
			v.Ord = uint64(n + i)
			out = append(out, v)
		}
	}
	return out
}

// benchMapOutputs writes reqs as `maps` map outputs of one reducer under dir and returns
// their locations.
func benchMapOutputs(b testing.TB, dir, job string, reqs []record.Request, maps int) []shuffle.Location {
	b.Helper()
	var locs []shuffle.Location
	per := (len(reqs) + maps - 1) / maps
	for m := range maps {
		w, err := shuffle.NewWriter(1)
		if err != nil {
			b.Fatal(err)
		}
		for i := m * per; i < min(len(reqs), (m+1)*per); i++ {
			if err := w.Add(&reqs[i]); err != nil {
				b.Fatal(err)
			}
		}
		path, err := shuffle.MapOutputPath(dir, job, m)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.Fatal(err)
		}
		if _, err := w.WriteFile(path); err != nil {
			b.Fatal(err)
		}
		locs = append(locs, shuffle.Location{Job: job, Map: m, Path: path})
	}
	return locs
}

// BenchmarkReduce runs one reduce task over map outputs of n requests (replace mode): the
// merge of the segments, de-duplication, the groups' Parquet files and their summaries.
// Allocations per op show what the reducer allocates per group and per row.
func BenchmarkReduce(b *testing.B) {
	for _, n := range []int{50_000, 400_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			dir, spec, env, locs, _ := reduceBenchSetup(b, benchRequests(n))
			attempt := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				attempt++
				res, err := RunReduce(ctx, spec, env, task.Reduce{Job: "bench", Index: 0, Attempt: attempt, MapOutput: locs})
				if err != nil {
					b.Fatal(err)
				}
				if res.RecordsOut != int64(n) {
					b.Fatalf("%d records out, want %d", res.RecordsOut, n)
				}
				b.StopTimer()
				// Each attempt stages its own files; drop them so the file system does not fill.
				os.RemoveAll(filepath.Join(dir, "out"))
				b.StartTimer()
			}
			// CPU time is what a loaded machine measures least badly (and what the cores
			// cost); it includes the removal of each iteration's output.
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// benchRequestsMonths is benchRequests with the creation times spread over `months` months
// from 1990 instead of 60, so that the same n requests make 3×months groups.
func benchRequestsMonths(n, months int) []record.Request {
	reqs := benchRequests(n)
	base := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	moved := map[string]time.Time{}
	for i := range reqs {
		r := &reqs[i]
		// A request's later version keeps the first version's move.
		created, ok := moved[r.RequestID]
		if !ok {
			created = base.AddDate(0, rng.IntN(months), 0).Add(time.Duration(rng.Int64N(int64(27 * 24 * time.Hour)))).Truncate(time.Second)
			moved[r.RequestID] = created
		}
		d := created.Sub(r.CreatedAt)
		r.CreatedAt, r.UpdatedAt = created, r.UpdatedAt.Add(d)
		if !r.ClosedAt.IsZero() {
			r.ClosedAt = r.ClosedAt.Add(d)
		}
		r.Year, r.Month = created.Year(), int(created.Month())
	}
	return reqs
}

// BenchmarkReduceGroups runs one reduce task over the same 120,000 requests cut into few
// large groups or many small ones (three cities × months), so that the cost a reducer pays
// per group, whatever its size, shows apart from its cost per row: cpu-ns/group at many
// groups is mostly that fixed cost, and the difference of cpu-ns/op between the sizes
// divided by the difference in groups measures it.
func BenchmarkReduceGroups(b *testing.B) {
	const n = 120_000
	for _, months := range []int{4, 40, 400} {
		b.Run(fmt.Sprintf("groups=%d", 3*months), func(b *testing.B) {
			benchReduce(b, benchRequestsMonths(n, months), n)
		})
	}
}

// benchReduce runs one reduce task over reqs (n requests after de-duplication) in a loop
// and reports its CPU time per op, per group and per MB of input.
func benchReduce(b *testing.B, reqs []record.Request, n int) {
	ctx := context.Background()
	dir, spec, env, locs, bytes := reduceBenchSetup(b, reqs)
	attempt, groups := 0, 0
	var cpu time.Duration
	for b.Loop() {
		attempt++
		cpu0 := cputime.Process()
		res, err := RunReduce(ctx, spec, env, task.Reduce{Job: "bench", Index: 0, Attempt: attempt, MapOutput: locs})
		cpu += cputime.Process() - cpu0
		if err != nil {
			b.Fatal(err)
		}
		if res.RecordsOut != int64(n) {
			b.Fatalf("%d records out, want %d", res.RecordsOut, n)
		}
		groups = len(res.Groups)
		b.StopTimer()
		os.RemoveAll(filepath.Join(dir, "out"))
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(groups), "cpu-ns/group")
	b.ReportMetric(float64(cpu)/float64(b.N)/(float64(bytes)/1e6), "cpu-ns/MB")
}

// reduceBenchSetup writes benchReduceJob into a temporary directory and reqs as the map
// outputs of 4 map tasks for reducer 0 of it, sets the benchmark's bytes to their size and
// returns the directory (the job writes under dir/out), the job, the reducer's environment,
// the map outputs and their size.
func reduceBenchSetup(b *testing.B, reqs []record.Request) (dir string, spec *jobs.Spec, env Env, locs []shuffle.Location, bytes int64) {
	b.Helper()
	dir = b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.job"), []byte(benchReduceJob), 0o644); err != nil {
		b.Fatal(err)
	}
	spec, err := jobs.ParseFile(filepath.Join(dir, "job.job"))
	if err != nil {
		b.Fatal(err)
	}
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	env = Env{DataDir: filepath.Join(dir, "data"), Store: store, Fetcher: shuffle.LocalFetcher{}}
	locs = benchMapOutputs(b, env.DataDir, "bench", reqs, 4)
	for _, l := range locs {
		st, err := os.Stat(l.Path)
		if err != nil {
			b.Fatal(err)
		}
		bytes += st.Size()
	}
	b.SetBytes(bytes)
	return dir, spec, env, locs, bytes
}
