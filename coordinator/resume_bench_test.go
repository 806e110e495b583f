package coordinator

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/worker"
)

// BenchmarkJournalCost runs the bench job (BENCH_JOB_SIZE, as BenchmarkJob) on the direct
// executor with and without a job journal on local disk, alternating which goes first in
// each iteration so that the machine's load falls on both alike, and reports the ratio of
// their total times (journal-ratio; the target is at most 1.03).
func BenchmarkJournalCost(b *testing.B) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var with, without float64
	one := func(b *testing.B, journaled bool) {
		dir := b.TempDir()
		spec := benchSpec(b, dir)
		id := NewJobID(spec.Name, time.Now())
		opt := RunOptions{Store: store}
		if journaled {
			jd, err := journal.Open(ctx, journal.Config{Location: filepath.Join(dir, "state")})
			if err != nil {
				b.Fatal(err)
			}
			j, err := jd.Create(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			wire, _ := wireSpec(spec)
			if err := j.Append(ctx, &journal.Spec{Job: id, Name: spec.Name, Source: spec.Source, Spec: wire}, journal.Sync); err != nil {
				b.Fatal(err)
			}
			opt.journal = &jobJournal{j: j, log: slog.New(slog.DiscardHandler)}
			defer opt.journal.finish(&Result{Status: Succeeded})
		}
		exec := &directExecutor{spec: spec, slots: 2, env: worker.Env{DataDir: filepath.Join(dir, "data"), Fetcher: shuffle.LocalFetcher{}, Store: store}}
		start := time.Now()
		if _, err := RunJob(ctx, spec, exec, id, opt); err != nil {
			b.Fatal(err)
		}
		if journaled {
			with += time.Since(start).Seconds()
		} else {
			without += time.Since(start).Seconds()
		}
	}
	i := 0
	for b.Loop() {
		first := i%2 == 0
		one(b, first)
		one(b, !first)
		i++
	}
	b.ReportMetric(with/without, "journal-ratio")
	b.ReportMetric(with/float64(i), "with-s")
	b.ReportMetric(without/float64(i), "without-s")
}
