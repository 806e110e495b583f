package csvsplit

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/cputime"
)

// benchData returns size bytes of 311-like CSV data rows: the data rows of the real
// fixtures, in a fixed order, repeated; or, without them, synthetic rows shaped like
// them (mostly unquoted fields, quoted addresses and points, a few quoted multi-line
// notes, one record in ten fully quoted with a newline in its location, as in NYC's
// SODA export).
func benchData(b *testing.B, size int) []byte {
	b.Helper()
	var body []byte
	if dir, ok := fixtureDir(); ok {
		paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.csv"))
		slices.Sort(paths)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			_, ds, err := ReadHeader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			body = append(body, data[ds:]...)
			if !bytes.HasSuffix(body, []byte("\n")) {
				body = append(body, '\n')
			}
		}
	} else {
		body = syntheticRows(4 << 20)
	}
	out := make([]byte, 0, size+len(body))
	for len(out) < size {
		out = append(out, body...)
	}
	// Cut at a record boundary so that every run reads the same records.
	out = out[:size]
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 && bytes.Count(out[:i], quote)%2 == 0 {
		out = out[:i+1]
	}
	return out
}

// fixtureDir finds ../shared/data/311 above the package directory.
func fixtureDir() (string, bool) {
	dir, err := os.Getwd()
	for err == nil {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data", "311")
			_, err := os.Stat(d)
			return d, err == nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	return "", false
}

func syntheticRows(size int) []byte {
	rng := rand.New(rand.NewPCG(311, 1))
	types := []string{"Pothole", "Graffiti Removal", "Street Light Out", "Illegal Dumping", "Noise - Residential"}
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		lat, lon := 40+rng.Float64(), -74+rng.Float64()
		switch {
		case i%10 == 0:
			fmt.Fprintf(&buf, "\"%d\",\"2024-04-%02dT%02d:17:56.000\",\"DSNY\",\"%s\",\"%d MAIN ST\",\"{'latitude': '%.6f',\n 'longitude': '%.6f'}\"\n",
				5e7+i, 1+i%28, i%24, types[i%5], i%9000, lat, lon)
		case i%50 == 1:
			fmt.Fprintf(&buf, "%d,04/%02d/2018 11:11:26 AM,Closed,%s,\"Caller says \"\"urgent\"\"\nsecond line\",\"%d MAIN ST, CITY, ST\",%.6f,%.6f,\"(%.6f, %.6f)\"\n",
				1e8+i, 1+i%28, types[i%5], i%9000, lat, lon, lat, lon)
		default:
			fmt.Fprintf(&buf, "%d,04/%02d/2018 11:11:26 AM,04/%02d/2018 12:45:48 PM,Closed,Phone,%s,Transportation,,,\"%d GARRISON BLVD, BALTIMORE, MD, 21215\",21215,Dorchester,6,%.6f,%.6f,\"(%.6f, %.6f)\"\n",
				1e8+i, 1+i%28, 1+i%28, types[i%5], i%9000, lat, lon, lat, lon)
		}
	}
	return buf.Bytes()
}

var benchSizes = []struct {
	name string
	size int
}{{"1MiB", 1 << 20}, {"16MiB", 16 << 20}, {"64MiB", 64 << 20}}

// BenchmarkReader reads one split holding all of the data, from a bytes.Reader.
func BenchmarkReader(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			data := benchData(b, bs.size)
			benchRead(b, data, Options{End: int64(len(data))})
		})
	}
}

// BenchmarkReaderColumns is BenchmarkReader/16MiB for a caller that reads six fields of
// each record (Options.Columns), as a schema maps a third or less of an export's columns.
func BenchmarkReaderColumns(b *testing.B) {
	data := benchData(b, 16<<20)
	benchRead(b, data, Options{End: int64(len(data)), Columns: []int{0, 1, 2, 5, 8, 13}})
}

// benchRead is the body of a benchmark that reads every record of data with opts.
func benchRead(b *testing.B, data []byte, opts Options) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	var n int
	for b.Loop() {
		n += readFields(b, data, opts)
	}
	_ = n
	reportCPU(b, cpu0, len(data))
}

// readFields reads every record of data with opts and returns how many fields they hold.
func readFields(b *testing.B, data []byte, opts Options) int {
	rd, err := NewReader(bytes.NewReader(data), opts)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n += len(rec.Fields)
	}
}

// BenchmarkSplits reads 64 MiB as splits of several sizes, each speculating over the
// default lookahead: the cost of speculation relative to the split size.
func BenchmarkSplits(b *testing.B) {
	data := benchData(b, 64<<20)
	for _, split := range []struct {
		name string
		size int64
	}{{"256KiB", 256 << 10}, {"4MiB", 4 << 20}, {"64MiB", 64 << 20}} {
		b.Run(split.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			cpu0 := cputime.Process()
			for b.Loop() {
				for start := int64(0); start < int64(len(data)); start += split.size {
					end := min(start+split.size, int64(len(data)))
					from := max(start-1, 0)
					rd, err := NewReader(bytes.NewReader(data[from:]), Options{Start: start, End: end})
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
			}
			reportCPU(b, cpu0, len(data))
		})
	}
}

// reportCPU reports the MB read per CPU-second since cpu0, which a machine shared with
// other work measures far better than wall time.
func reportCPU(b *testing.B, cpu0 time.Duration, bytesPerOp int) {
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/1e6/(float64(cpu)/1e9), "MB/cpu-s")
	}
}
