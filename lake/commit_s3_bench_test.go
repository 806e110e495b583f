package lake

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// BenchmarkStageCommitS3 is BenchmarkStageCommit against a real S3 server (MinIO, skipped
// where absent): the wall time per group of a commit, in which every request is a round
// trip (wall-ns/group; the per-group sweep of unfinished uploads was one listing of the
// whole bucket's uploads for each of a group's five directories).
func BenchmarkStageCommitS3(b *testing.B) {
	m := testenv.MinIO(b)
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100
	keys := make([]record.Key, n)
	for i := range keys {
		keys[i] = record.Key{City: fmt.Sprintf("c%d", i%3), Year: 1990 + i/3/12, Month: 1 + i/3%12}
	}
	content := make([]byte, 4096)
	var commit time.Duration
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		roots := Roots{Lake: m.URL(fmt.Sprintf("run%d/lake", run)), Summaries: m.URL(fmt.Sprintf("run%d/summaries", run))}
		job := fmt.Sprintf("job-%d", run)
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
			f, err := st.Put(ctx, filepath.ToSlash(filepath.Join(GroupPath(k), PartFile(0))), content)
			if err != nil {
				b.Fatal(err)
			}
			g.Files = append(g.Files, f)
			for _, table := range SummaryTables {
				f, err := sums.Put(ctx, filepath.ToSlash(filepath.Join(SummaryGroupPath(table, k), PartFile(0))), content)
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
		b.StartTimer()
		t0 := time.Now()
		if _, err := Commit(ctx, store, roots, job, "bench", RunStats{}, groups, time.Now()); err != nil {
			b.Fatal(err)
		}
		commit += time.Since(t0)
	}
	b.ReportMetric(float64(commit)/float64(b.N)/n, "commit-wall-ns/group")
}
