package jobs

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/cputime"
	"github.com/ireports/ireports/internal/testenv"

	"github.com/ireports/ireports/record"
)

// loadRecords reads a real file's header and records as byte slices, as the split reader will
// hand them to the normalizer.
func loadRecords(b *testing.B, path string) ([]string, [][][]byte) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		b.Fatal(err)
	}
	var recs [][][]byte
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return header, recs
		}
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, bs(rec...))
	}
}

// BenchmarkNormalize measures Normalize per city on the real files, reported in records/s.
// Run: go test -run '^$' -bench Normalize -benchmem ./jobs
func BenchmarkNormalize(b *testing.B) {
	data := testenv.RealData(b)
	for _, tc := range []struct{ city, file string }{
		{"nyc", "nyc/portal_2011_subset.csv"},
		{"nyc-soda", "nyc/soda_erm2-nwe9_page.csv"},
		{"la", "la/myla311_2017_subset.csv"},
		{"sf", "sf/sf311_cases_sample_10000.csv"},
		{"boston", "boston/boston311_2025_cases.csv"},
		{"baltimore", "baltimore/baltimore311_sample_10000.csv"},
		{"chicago", "chicago/chicago311_soda_2021_first5000.csv"},
		{"kansas_city", "kansas_city/kc311_beacon_hills_2007_2020.csv"}, // joined date + time
		{"dc", "dc/dc311_arcgis_2025_page1000.csv"},
		{"st_louis", "st_louis/stl_csb_2011.csv"}, // projected points
	} {
		b.Run(tc.city, func(b *testing.B) {
			header, recs := loadRecords(b, filepath.Join(data, tc.file))
			s, _ := Builtin(filepath.Dir(tc.file))
			n, err := s.Bind(header)
			if err != nil {
				b.Fatal(err)
			}
			var r record.Request
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Process()
			for i := 0; i < b.N; i++ {
				if err := n.Normalize(recs[i%len(recs)], &r); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, cputime.Process()-cpu0)
		})
	}
}

// BenchmarkNormalizeJSON measures the SODA path: scanning and normalizing a page.
func BenchmarkNormalizeJSON(b *testing.B) {
	path := filepath.Join(testenv.RealData(b), "nyc/soda_erm2-nwe9_page.json")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	nyc, _ := Builtin("nyc")
	n := nyc.BindJSON()
	var r record.Request
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	records := 0
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		err := ScanSODA(bytes.NewReader(src), func(_ int64, raw []byte) error {
			records++
			return n.NormalizeJSON(raw, &r)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, records, cputime.Process()-cpu0)
}

// reportRate reports records per second of wall time and, where the platform tells, of CPU time
// (the number that matters on a loaded machine).
func reportRate(b *testing.B, records int, cpu time.Duration) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(float64(records)/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkParseTime compares the fast paths with time.ParseInLocation, per dialect.
func BenchmarkParseTime(b *testing.B) {
	s, _ := Builtin("nyc")
	for _, tc := range []struct{ layout, in string }{
		{"01/02/2006 03:04:05 PM", "12/31/2017 11:59:58 PM"},
		{"2006-01-02T15:04:05.000", "2024-04-16T03:03:15.000"},
		{"2006-01-02 15:04:05-07", "2025-08-01 06:35:06.539+00"},
	} {
		tl, _ := compileLayout(tc.layout)
		in := []byte(tc.in)
		b.Run(fmt.Sprintf("fast/%s", tc.layout), func(b *testing.B) {
			var zc zoneCache
			for i := 0; i < b.N; i++ {
				if _, ok := tl.parse(in, s.Location, &zc); !ok {
					b.Fatal("no parse")
				}
			}
		})
		b.Run(fmt.Sprintf("time.Parse/%s", tc.layout), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := timeParse(tc.layout, string(in), s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseTimeMixed parses timestamps spread over ten years and both halves of the
// day, in random order as a shuffled or merged export holds them: unlike one repeated value
// (BenchmarkParseTime), they defeat the branch predictor on the month and AM/PM.
func BenchmarkParseTimeMixed(b *testing.B) {
	s, _ := Builtin("nyc")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		layout string
		format func(time.Time) string
	}{
		{"01/02/2006 03:04:05 PM", func(t time.Time) string { return t.Format("01/02/2006 03:04:05 PM") }},
		{"2006-01-02T15:04:05.000", func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000") }},
		{"2006-01-02 15:04:05.0", func(t time.Time) string { return t.Format("2006-01-02 15:04:05.") + "123"[:1+rng.IntN(3)] }},
	} {
		tl, _ := compileLayout(tc.layout)
		ins := make([][]byte, 4096)
		for i := range ins {
			t := time.Date(2012, 1, 1, 0, 0, 0, 0, s.Location).Add(time.Duration(rng.Int64N(int64(10 * 365 * 24 * time.Hour))))
			ins[i] = []byte(tc.format(t))
		}
		b.Run(tc.layout, func(b *testing.B) {
			var zc zoneCache
			cpu0 := cputime.Process()
			for i := 0; b.Loop(); i++ {
				if _, ok := tl.parse(ins[i&4095], s.Location, &zc); !ok {
					b.Fatalf("no parse: %q", ins[i&4095])
				}
			}
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func timeParse(layout, in string, s *Schema) (time.Time, error) {
	return time.ParseInLocation(layout, in, s.Location)
}

// BenchmarkParseStrftime compares a compiled strftime pattern (what "auto" detects, and
// what users may write) with the hand parser of the Go layout that means the same.
func BenchmarkParseStrftime(b *testing.B) {
	s, _ := Builtin("nyc")
	for _, tc := range []struct{ strf, goLayout, in string }{
		{"%m/%d/%Y %I:%M:%S %p", "01/02/2006 03:04:05 PM", "12/31/2017 11:59:58 PM"},
		{"%Y-%m-%dT%H:%M:%S", "2006-01-02T15:04:05.000", "2024-04-16T03:03:15.000"},
		{"%Y-%m-%d %H:%M:%S%z", "2006-01-02 15:04:05-07", "2025-08-01 06:35:06.539+00"},
	} {
		in := []byte(tc.in)
		for _, l := range []string{tc.strf, tc.goLayout} {
			tl, err := compileLayout(l)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(l, func(b *testing.B) {
				var zc zoneCache
				for i := 0; i < b.N; i++ {
					if _, ok := tl.parse(in, s.Location, &zc); !ok {
						b.Fatal("no parse")
					}
				}
			})
		}
	}
}
