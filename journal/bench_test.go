package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// jobShape is the size of a job, as the records its journal gets.
type jobShape struct {
	name     string
	maps     int
	reducers int
	groups   int // (city, month) groups written, spread over the reducers
}

// benchShapes: the job of `make bench` (1 GiB corpus of ten cities, 16 MiB splits, 8
// reducers, 576 groups), and a job with a few thousand tasks.
var benchShapes = []jobShape{
	{"1GiB-bench", 64, 8, 576},
	{"3000-tasks", 2500, 500, 2000},
}

// entry is one record and how a coordinator would append it.
type entry struct {
	rec Record
	d   Durability
}

// jobLife returns the records a job of shape s writes, in order. With allSync every record
// is Sync; otherwise only those that gate an action are (see the package doc).
func jobLife(job string, s jobShape, allSync bool) []entry {
	gate := func(r Record) entry { return entry{r, Sync} }
	work := func(r Record) entry {
		if allSync {
			return entry{r, Sync}
		}
		return entry{r, Batched}
	}
	var splits []string
	for i := range s.maps {
		splits = append(splits, fmt.Sprintf(`{"file":"/data/311/city%d/export-%04d.csv","start":%d,"end":%d,"state":"unknown"}`, i%10, i, i*16<<20, (i+1)*16<<20))
	}
	e := []entry{
		gate(&Spec{Job: job, Name: "normalize", Submitted: t0, Path: "/jobs/normalize.job", Source: []byte(strings.Repeat("input \"austin\" { path = \"/data/311/austin/*.csv\" }\n", 40)),
			Spec: json.RawMessage(`{"name":"normalize","inputs":[` + strings.Repeat(`{"city":"austin","path":"/data/311/austin/*.csv","format":"csv"},`, 9) + `{"city":"nyc"}]}`)}),
		gate(&Phase{State: "planning", At: t0}),
		gate(&Plan{Maps: s.maps, Reducers: s.reducers, Plan: json.RawMessage(`{"splits":[` + strings.Join(splits, ",") + `]}`)}),
		gate(&Phase{State: "map", At: t0}),
	}
	for i := range s.maps {
		e = append(e, work(&TaskAccepted{Worker: fmt.Sprintf("worker-%d", i%3), Map: &task.MapResult{
			Index: i, Attempt: 1, Assumed: csvsplit.Outside, Parity: i % 2, Bytes: 16 << 20, RecordsIn: 52000, RecordsOut: 51900, Rejected: 100,
			RejectsByReason: map[string]int64{"bad created_at": 60, "no request id": 40},
			Output:          shuffle.Location{Worker: fmt.Sprintf("10.0.0.%d:7070", i%3), Job: job, Map: i, Path: fmt.Sprintf("/var/lib/ireports/shuffle/%s/%d.out", job, i)},
			Rejects:         fmt.Sprintf("/lake/rejects/_temporary/%s/m-%d-1/rejects.jsonl", job, i),
		}}))
	}
	e = append(e, gate(&Phase{State: "reduce", At: t0}))
	for r := range s.reducers {
		var groups []task.Group
		for g := r; g < s.groups; g += s.reducers {
			city, month := fmt.Sprintf("city%d", g%10), g/10%12+1
			file := func(table string) task.File {
				return task.File{Path: fmt.Sprintf("%scity=%s/year=2024/month=%d/part-00000.parquet", table, city, month), Bytes: 1 << 20, SHA256: strings.Repeat("ab", 32)}
			}
			groups = append(groups, task.Group{City: city, Year: 2024, Month: month, Rows: 90000,
				Files:        []task.File{file("")},
				SummaryFiles: []task.File{file("request_monthly/"), file("agency_daily/"), file("request_heat/"), file("request_geo/")}})
		}
		e = append(e, work(&TaskAccepted{Worker: fmt.Sprintf("worker-%d", r%3), Reduce: &task.ReduceResult{
			Index: r, Attempt: 1, RecordsIn: 400000, RecordsOut: 399000, Duplicates: 1000, Groups: groups,
			Dir: fmt.Sprintf("/lake/_temporary/%s/r-%d-1", job, r), SummaryDir: fmt.Sprintf("/lake/summaries/_temporary/%s/r-%d-1", job, r)}}))
	}
	e = append(e, gate(&Phase{State: "commit", At: t0}), gate(&Commit{Step: CommitBegin}))
	for g := 0; g < s.groups; g += 64 {
		var files []string
		for k := g; k < min(g+64, s.groups); k++ {
			files = append(files, fmt.Sprintf("city=city%d/year=2024/month=%d/part-00000.parquet", k%10, k/10%12+1))
		}
		e = append(e, work(&Commit{Step: CommitFiles, Files: files}))
	}
	e = append(e,
		gate(&Commit{Step: CommitSuccess}),
		gate(&Phase{State: "publish", At: t0}),
		gate(&Published{Groups: s.groups, Rows: int64(s.groups) * 400, At: t0}),
		gate(&Finished{State: "succeeded", At: t0}))
	return e
}

// BenchmarkJobJournal appends a whole job's records to a local journal, as the coordinator
// would in the job of each shape: "gates" syncs only the records that gate an action (the
// package doc's rule), "all-sync" syncs every record, and "gates-no-fsync" is "gates" with
// fsync a no-op, which leaves the CPU cost (encoding, CRC, write calls). Create adds three
// fsyncs (the file and two directories) to the sync records. One op is one job: ns/op is the
// journal's cost per job, to set beside the job's own time (`make bench`) for the ≤ 3 %
// overhead target.
func BenchmarkJobJournal(b *testing.B) {
	ctx := context.Background()
	for _, s := range benchShapes {
		for _, mode := range []string{"gates", "all-sync", "gates-no-fsync"} {
			const job = "normalize-20261202T060000-0a1b"
			life := jobLife(job, s, mode == "all-sync")
			syncs := 0
			for _, e := range life {
				if e.d == Sync {
					syncs++
				}
			}
			b.Run(s.name+"/"+mode, func(b *testing.B) {
				d, err := Open(ctx, Config{Location: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				if mode == "gates-no-fsync" {
					d = &Dir{b: &localDir{fs: noSyncFS{}, dir: b.TempDir()}}
				}
				var bytes int64
				for b.Loop() {
					j, err := d.Create(ctx, job)
					if err != nil {
						b.Fatal(err)
					}
					for _, e := range life {
						if err := j.Append(ctx, e.rec, e.d); err != nil {
							b.Fatal(err)
						}
					}
					bytes = j.Stats().Bytes
					if err := j.Close(ctx); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := d.Remove(ctx, job); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(len(life)), "records/job")
				b.ReportMetric(float64(syncs), "sync-records/job")
				b.ReportMetric(float64(bytes), "journal-bytes/job")
			})
		}
	}
}

// BenchmarkAppend is the cost of one task record, batched and synced.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	rec := jobLife("append", benchShapes[0], false)[5].rec // a map task accepted
	for _, d := range []Durability{Batched, Sync} {
		b.Run(d.String(), func(b *testing.B) {
			dir, err := Open(ctx, Config{Location: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			j, err := dir.Create(ctx, "append")
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close(ctx)
			for b.Loop() {
				if err := j.Append(ctx, rec, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// noSyncFS is the OS file system with fsync a no-op.
type noSyncFS struct{ osFS }

func (noSyncFS) SyncDir(string) error { return nil }

func (f noSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	of, err := f.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{of}, nil
}

type noSyncFile struct{ file }

func (noSyncFile) Sync() error { return nil }
