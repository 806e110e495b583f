package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ireports/ireports/gen"
)

// corpusInfo is what benchrun keeps of a generated corpus, in its directory's corpus.json.
type corpusInfo struct {
	Bytes    int64            `json:"bytes"`
	Records  int64            `json:"records"` // valid rows written, duplicate versions included
	ByCity   map[string]int64 `json:"records_by_city"`
	NYCShare float64          `json:"nyc_share"`
	Files    int              `json:"files"`
}

// ensureCorpus generates a corpus of size bytes under dir/data unless dir/.done says one is
// there (make bench's cache layout: the same directory serves make bench and bench-duckdb),
// and writes dir/bench.job, the job of scripts/corpus.job.in over it. The job file lives in
// dir, so the job reads and writes only under dir.
func ensureCorpus(ctx context.Context, dir, template string, size, seed int64, nycShare float64) (corpusInfo, error) {
	var info corpusInfo
	done := filepath.Join(dir, ".done")
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			return info, err
		}
		fmt.Fprintf(os.Stderr, "== generating %s (seed %d, NYC share %g) in %s\n", fmtBytes(size), seed, nycShare, dir)
		start := time.Now()
		st, err := gen.Generate(ctx, gen.Options{Dir: filepath.Join(dir, "data"), Size: size, Seed: seed, NYCShare: nycShare})
		if err != nil {
			return info, err
		}
		info = corpusInfo{Bytes: st.Bytes, ByCity: st.Records, NYCShare: nycShare, Files: len(st.Files)}
		for _, n := range st.Records {
			info.Records += n
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "corpus.json"), b, 0o644); err != nil {
			return info, err
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			return info, err
		}
		fmt.Fprintf(os.Stderr, "== %s in %d files, %d records, generated in %.0f s\n", fmtBytes(st.Bytes), len(st.Files), info.Records, time.Since(start).Seconds())
	} else if b, err := os.ReadFile(filepath.Join(dir, "corpus.json")); err == nil {
		if err := json.Unmarshal(b, &info); err != nil {
			return info, fmt.Errorf("%s: %w", filepath.Join(dir, "corpus.json"), err)
		}
	} else {
		// A corpus bench.sh generated: no corpus.json; its size is what is on disk.
		info.Bytes = dirSize(filepath.Join(dir, "data"))
	}
	t, err := os.ReadFile(template)
	if err != nil {
		return info, err
	}
	job := strings.ReplaceAll(string(t), "@CORPUS@", "data")
	return info, os.WriteFile(filepath.Join(dir, "bench.job"), []byte(job), 0o644)
}

// fmtBytes prints a size as the issue does: decimal GB or MB.
func fmtBytes(b int64) string {
	if b >= 1e9 {
		return fmt.Sprintf("%.2f GB", float64(b)/1e9)
	}
	return fmt.Sprintf("%.0f MB", float64(b)/1e6)
}
