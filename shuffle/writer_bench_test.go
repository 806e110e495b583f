package shuffle

import (
	"io"
	"testing"
)

// BenchmarkWriterReuse is one map task's output (100,000 records for 8 reducers) written by
// a new Writer ("fresh", whose buffers grow from empty) and by a Writer reused after Reset
// ("reused", as worker.RunMap now does across the map tasks of a process).
func BenchmarkWriterReuse(b *testing.B) {
	const n, reducers = 100_000, 8
	rs := benchRecords(b, n)
	run := func(b *testing.B, next func() *Writer) {
		b.ReportAllocs()
		var raw int64
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
			raw = w.RawBytes()
		}
		b.SetBytes(raw)
	}
	b.Run("fresh", func(b *testing.B) {
		run(b, func() *Writer { w, _ := NewWriter(reducers); return w })
	})
	b.Run("reused", func(b *testing.B) {
		w, _ := NewWriter(reducers)
		run(b, func() *Writer { w.Reset(); return w })
	})
}
