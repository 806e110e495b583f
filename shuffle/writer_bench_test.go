package shuffle

import (
	"io"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/cputime"
)

// reportCPU reports the process's CPU time per op since cpu0, taken after the setup: with
// other work on the machine, wall time varies far more than the CPU a Writer spends.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkWriterReuse is one map task's output (100,000 records for 8 reducers) written by
// a new Writer ("fresh", whose buffers grow from empty) and by a Writer reused after Reset
// ("reused", as worker.RunMap now does across the map tasks of a process). held-B is the
// memory the Writer holds for rows at the end (Writer.Held).
func BenchmarkWriterReuse(b *testing.B) {
	const n, reducers = 100_000, 8
	rs := benchRecords(b, n)
	run := func(b *testing.B, next func() *Writer) {
		b.ReportAllocs()
		var raw, held int64
		cpu0 := cputime.Process()
		for b.Loop() {
			w := next()
			for i := range rs {
				if err := w.Add(&rs[i]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := w.writeTo(io.Discard); err != nil {
				b.Fatal(err)
			}
			raw, held = w.RawBytes(), w.Held()
		}
		reportCPU(b, cpu0)
		b.SetBytes(raw)
		b.ReportMetric(float64(held), "held-B")
	}
	b.Run("fresh", func(b *testing.B) {
		run(b, func() *Writer { w, _ := NewWriter(reducers); return w })
	})
	b.Run("reused", func(b *testing.B) {
		w, _ := NewWriter(reducers)
		run(b, func() *Writer { w.Reset(); return w })
	})
}

// BenchmarkWriterSpill is a map task four times as large as BenchmarkWriterReuse's, written
// by a reused Writer that holds it all ("memory") and by one limited to 8 MiB, which spills
// runs and merges them ("spill"): what bounding a task's memory costs when a task exceeds
// the bound. held-B is the most the Writer held at once (Writer.Held after each Add).
func BenchmarkWriterSpill(b *testing.B) {
	const reducers = 8
	base := benchRecords(b, 100_000)
	for _, bc := range []struct {
		name  string
		spill int64
	}{
		{name: "memory", spill: 1 << 40},
		{name: "spill", spill: 8 << 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := NewWriterConfig(WriterConfig{Reducers: reducers, SpillBytes: bc.spill, SpillDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var raw, held int64
			runs := 0
			cpu0 := cputime.Process()
			for b.Loop() {
				w.Reset()
				for k := range 4 {
					for i := range base {
						r := base[i]
						r.Ord = uint64(k*len(base) + i)
						if err := w.Add(&r); err != nil {
							b.Fatal(err)
						}
						held = max(held, w.Held())
					}
				}
				if _, err := w.writeTo(io.Discard); err != nil {
					b.Fatal(err)
				}
				raw, runs = w.RawBytes(), w.Runs()
			}
			reportCPU(b, cpu0)
			w.Reset()
			b.SetBytes(raw)
			b.ReportMetric(float64(held), "held-B")
			b.ReportMetric(float64(runs), "runs")
		})
	}
}
