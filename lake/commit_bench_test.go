package lake

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/cputime"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// BenchmarkStageCommit stages and commits, on local disk, the files of many small groups as
// a reduce task writes them (one lake file and one file per summary table, each in a new
// group directory) with no Parquet encoding, so that what it measures is the file-system
// work per group: cpu-ns/group of the stage (create, write, close with its fsync, the
// manifest) and of the commit (renames, the sweep of each group directory, the final
// abort's walk) apart.
func BenchmarkStageCommit(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			benchStageCommit(b, n)
		})
	}
}

func benchStageCommit(b *testing.B, n int) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]record.Key, n)
	for i := range keys {
		keys[i] = record.Key{City: fmt.Sprintf("c%d", i%3), Year: 1990 + i/3/12, Month: 1 + i/3%12}
	}
	content := make([]byte, 4096)
	var stageCPU, commitCPU time.Duration
	// Every run's trees stay until the end: ext4 without a journal passes over the inodes
	// freed in the last few minutes when it allocates one, a scan of the group's bitmap
	// that removing a run's thousands of files before the next would add to its creates.
	base := b.TempDir()
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		dir := filepath.Join(base, fmt.Sprint(run))
		roots := Roots{Lake: filepath.Join(dir, "lake"), Summaries: filepath.Join(dir, "summaries")}
		job := fmt.Sprintf("job-%d", run)
		b.StartTimer()
		cpu0 := cputime.Process()
		st, err := NewStage(store, roots.Lake, job, "r-0", 1)
		if err != nil {
			b.Fatal(err)
		}
		sums, err := NewStage(store, roots.Summaries, job, "r-0", 1)
		if err != nil {
			b.Fatal(err)
		}
		groups := make([]CommitGroup, 0, n)
		for _, k := range keys {
			g := CommitGroup{Key: k, Rows: 1, AttemptDir: st.Dir(), SummaryDir: sums.Dir()}
			f, err := st.Put(ctx, filepath.Join(GroupPath(k), PartFile(0)), content)
			if err != nil {
				b.Fatal(err)
			}
			g.Files = append(g.Files, f)
			for _, table := range SummaryTables {
				f, err := sums.Put(ctx, filepath.Join(SummaryGroupPath(table, k), PartFile(0)), content)
				if err != nil {
					b.Fatal(err)
				}
				g.SummaryFiles = append(g.SummaryFiles, f)
			}
			groups = append(groups, g)
		}
		if err := st.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		if err := sums.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		cpu1 := cputime.Process()
		if _, err := Commit(ctx, store, roots, job, "bench", RunStats{}, groups, time.Now()); err != nil {
			b.Fatal(err)
		}
		cpu2 := cputime.Process()
		stageCPU += cpu1 - cpu0
		commitCPU += cpu2 - cpu1
	}
	b.ReportMetric(float64(stageCPU)/float64(b.N)/float64(n), "stage-cpu-ns/group")
	b.ReportMetric(float64(commitCPU)/float64(b.N)/float64(n), "commit-cpu-ns/group")
}
