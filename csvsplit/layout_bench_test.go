package csvsplit_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/cputime"
)

var (
	sodaOnce sync.Once
	sodaData []byte
	sodaErr  error
)

// nycSODA returns the data rows of a generated NYC SODA CSV export (the layout the issue's
// target names: every field quoted, a newline inside most records' location), about 48 MiB.
func nycSODA(b *testing.B) []byte {
	b.Helper()
	sodaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "csvsplit-soda-")
		if err != nil {
			sodaErr = err
			return
		}
		defer os.RemoveAll(dir)
		if _, sodaErr = gen.Generate(context.Background(), gen.Options{Dir: dir, Size: 160 << 20, Seed: 1, Cities: []string{"nyc"}}); sodaErr != nil {
			return
		}
		paths, _ := filepath.Glob(filepath.Join(dir, "nyc", "soda-*.csv"))
		if len(paths) == 0 {
			sodaErr = os.ErrNotExist
			return
		}
		data, err := os.ReadFile(paths[0])
		if err != nil {
			sodaErr = err
			return
		}
		_, ds, err := csvsplit.ReadHeader(bytes.NewReader(data))
		sodaData, sodaErr = data[ds:], err
	})
	if sodaErr != nil {
		b.Fatal(sodaErr)
	}
	return sodaData
}

// BenchmarkReaderNYCSODA reads a generated NYC SODA CSV export as one split (from memory,
// so that only the reader is measured): the split reader's target layout.
func BenchmarkReaderNYCSODA(b *testing.B) {
	data := nycSODA(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		rd, err := csvsplit.NewReader(bytes.NewReader(data), csvsplit.Options{End: int64(len(data))})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := rd.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
	// Throughput per CPU-second: what "per core" means, and what a loaded machine
	// measures far better than wall time.
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(len(data))*float64(b.N)/1e6/(float64(cpu)/1e9), "MB/cpu-s")
	}
}
