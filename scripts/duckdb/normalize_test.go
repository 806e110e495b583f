//go:build cgo

package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/localcluster"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
)

func TestStatements(t *testing.T) {
	script := "-- a comment; not a statement\n\nSET x = 1;\nSELECT 1,\n  2; -- trailing\n  \n" +
		"COPY (SELECT ';') TO 'f';\nSELECT '--;' -- not the end\n  , 4;\nSELECT 3"
	got := statements(script)
	want := []statement{
		{"SET x = 1;", 3},
		{"SELECT 1,\n  2; -- trailing", 4},
		{"COPY (SELECT ';') TO 'f';", 7},
		{"SELECT '--;' -- not the end\n  , 4;", 8},
		{"SELECT 3", 10},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements =\n%+v\nwant\n%+v", got, want)
	}
}

// TestNormalizeSQLMatchesTheJob runs normalize.sql and the job of scripts/corpus.job.in on one
// generated corpus: the same (city, year, month) groups, and per city the same requests to
// within 1 % (DuckDB keeps the few records the job rejects for a malformed closing time or
// coordinate). A benchmark against DuckDB means something only while the two do the same work.
func TestNormalizeSQLMatchesTheJob(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the job and DuckDB over a generated corpus: skipped under -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := gen.Generate(ctx, gen.Options{Dir: filepath.Join(dir, "data"), Size: 3 << 20, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join("..", "corpus.job.in"))
	if err != nil {
		t.Fatal(err)
	}
	jobPath := filepath.Join(dir, "bench.job")
	if err := os.WriteFile(jobPath, []byte(strings.ReplaceAll(string(tmpl), "@CORPUS@", "data")), 0o644); err != nil {
		t.Fatal(err)
	}
	// As `coordinator run` reads it, with DATABASE_URL empty: the template publishes when set.
	spec, err := jobs.ParseFileWith(jobPath, jobs.ParseOptions{Env: jobs.EnvPolicy{AllowAll: true,
		Lookup: func(string) (string, bool) { return "", false }}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := localcluster.Run(ctx, spec, coordinator.LocalConfig{Workers: 2, Dir: filepath.Join(dir, "cluster")})
	if err != nil || res.Status != coordinator.Succeeded {
		t.Fatalf("job: status %s: %v", res.Status, err)
	}
	m, err := lake.ReadManifest(spec.Output.Parquet)
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]int64{}
	ourGroups := map[string]bool{}
	for _, g := range m.Groups {
		ours[g.City] += g.Rows
		ourGroups[g.City+"/"+itoa(g.Year)+"/"+itoa(g.Month)] = true
	}

	out := filepath.Join(dir, "duckdb-out")
	dres, err := run(ctx, "normalize.sql", filepath.Join(dir, "data"), out, 2)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT city, year, month, count(*) FROM read_parquet('"+
		filepath.Join(out, "requests", "**", "*.parquet")+"', hive_partitioning = true) GROUP BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	duck := map[string]int64{}
	duckGroups := map[string]bool{}
	var total int64
	for rows.Next() {
		var city string
		var year, month int
		var n int64
		if err := rows.Scan(&city, &year, &month, &n); err != nil {
			t.Fatal(err)
		}
		duck[city] += n
		total += n
		duckGroups[city+"/"+itoa(year)+"/"+itoa(month)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if total != dres.Rows || int64(len(duckGroups)) != dres.Groups {
		t.Errorf("the runner counted %d rows in %d groups, the lake holds %d in %d", dres.Rows, dres.Groups, total, len(duckGroups))
	}
	if !reflect.DeepEqual(ourGroups, duckGroups) {
		t.Errorf("groups differ: the job wrote %d, DuckDB %d", len(ourGroups), len(duckGroups))
	}
	if len(ours) != len(gen.Cities()) {
		t.Errorf("the job wrote %d cities, want %d", len(ours), len(gen.Cities()))
	}
	for city, n := range ours {
		if d := duck[city] - n; d < 0 || d > n/100+3 {
			t.Errorf("%s: DuckDB kept %d requests, the job %d: want the same to within 1 %% (DuckDB's extra ones at most)", city, duck[city], n)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
