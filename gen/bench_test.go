package gen

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// BenchmarkGenerate measures the whole corpus written to disk on GOMAXPROCS goroutines
// (the disk is part of the measure).
func BenchmarkGenerate(b *testing.B) {
	for _, size := range []int64{16 << 20, 64 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("size=%dMiB", size>>20), func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(size)
			for b.Loop() {
				if _, err := Generate(context.Background(), Options{Dir: dir, Size: size, MaxFileSize: 32 << 20}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFormat measures one format on one goroutine into io.Discard: the generator's
// own single-core speed.
func BenchmarkFormat(b *testing.B) {
	opt, err := Options{Dir: "unused", Size: 1}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	for fi, f := range formats {
		for _, size := range []int64{1 << 20, 16 << 20} {
			name := fmt.Sprintf("%s/%s.%s/size=%dMiB", f.city, f.name, f.ext, size>>20)
			b.Run(name, func(b *testing.B) {
				p := &filePlan{f: f, path: name, target: size, seed: fileSeed(1, f.city, fi, 0), idBase: 1, idStride: 1}
				b.SetBytes(size)
				for b.Loop() {
					if _, err := generateFile(context.Background(), opt, p, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
