package shuffle

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/ireports/ireports/record"
)

// BenchmarkInputFanIn is a reducer's input at several fan-ins: OpenInput over `maps` map
// outputs on local disk (spilled beyond DefaultMaxStreams, as a large job's reducer is),
// merged to the end. Besides the time it reports held-B/map: the heap the open merge holds
// per map output once every segment has a block decoded, which is what grows a reducer's
// memory with the input's size, until MaxFanIn bounds it.
func BenchmarkInputFanIn(b *testing.B) {
	const perMap = 1500 // over 128 KiB of rows: every segment fills a block of either size
	for _, c := range []struct{ maps, fanIn int }{{16, 0}, {64, 0}, {256, 0}, {256, 64}} {
		maps := c.maps
		name := fmt.Sprintf("maps=%d", maps)
		if c.fanIn > 0 {
			name += fmt.Sprintf("/fanin=%d", c.fanIn) // pre-merged: bounded memory for a pass more
		}
		b.Run(name, func(b *testing.B) {
			rs := randRequests(uint64(maps), maps*perMap)
			dir := b.TempDir()
			locs := make([]Location, maps)
			var raw int64
			for m := range maps {
				path, x := writeMapOutput(b, dir, fmt.Sprintf("map-%06d.shuffle", m), 1, rs[m*perMap:(m+1)*perMap])
				locs[m] = Location{Job: "bench", Map: m, Path: path}
				raw += x.Segments[0].RawBytes
			}
			ctx := context.Background()
			b.SetBytes(raw)
			b.ReportAllocs()
			var held float64
			var r record.Request
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				in, err := OpenInput(ctx, LocalFetcher{}, locs, 0, InputConfig{SpillDir: dir, MaxFanIn: c.fanIn})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for ; ; n++ {
					if err := in.Next(&r); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
					if n == 0 {
						runtime.GC()
						runtime.ReadMemStats(&after)
						held = float64(after.HeapAlloc-before.HeapAlloc) / float64(maps)
					}
				}
				if err := in.Close(); err != nil {
					b.Fatal(err)
				}
				if n != len(rs) {
					b.Fatalf("merged %d records, want %d", n, len(rs))
				}
			}
			b.ReportMetric(held, "held-B/map")
		})
	}
}
