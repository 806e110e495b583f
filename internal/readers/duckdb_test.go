package readers

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/localcluster"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// job is a job over gen's corpus at corpus (every city and format) writing under out; its
// summaries go to the default place beside the lake.
func job(corpus, out string) string {
	var b strings.Builder
	b.WriteString("job \"normalize\" {\n  reducers = 4\n  max_reject_ratio = 0.05\n")
	for _, in := range []struct{ name, path, schema, format string }{
		{"nyc_portal", "nyc/portal-*.csv", "nyc", ""},
		{"nyc_soda_csv", "nyc/soda-*.csv", "nyc", ""},
		{"nyc_soda_json", "nyc/soda-*.json", "nyc", "soda-json"},
		{"la", "la", "la", ""},
		{"sf", "sf", "sf", ""},
		{"boston", "boston", "boston", ""},
		{"baltimore", "baltimore", "baltimore", ""},
	} {
		fmt.Fprintf(&b, "  input %q {\n    path = %q\n    schema = %q\n", in.name, filepath.Join(corpus, in.path), in.schema)
		if in.format != "" {
			fmt.Fprintf(&b, "    format = %q\n", in.format)
		}
		b.WriteString("  }\n")
	}
	fmt.Fprintf(&b, "  output {\n    parquet = %q\n    rejects = %q\n  }\n}\n", filepath.Join(out, "requests"), filepath.Join(out, "rejects"))
	return b.String()
}

// TestDuckDBReadsTheOutput runs a job over a generated five-city corpus and reads its output
// with DuckDB as an analyst would, each tree at its root with
// read_parquet('<root>/**/*.parquet', hive_partitioning=true): the lake holds exactly the
// job's rows in its groups, timestamps are TIMESTAMP WITH TIME ZONE holding the same instants
// the lake's own reader sees, the partition columns year and month are integers, and every
// summary dataset reads the same way and adds up to the lake. With the summaries inside the
// lake (its old _summary/), DuckDB refused the lake's root ("Hive partition mismatch").
func TestDuckDBReadsTheOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a job over a generated corpus: skipped under -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	if _, err := gen.Generate(ctx, gen.Options{Dir: corpus, Size: 4 << 20, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "normalize.job")
	if err := os.WriteFile(path, []byte(job(corpus, filepath.Join(dir, "out"))), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.ParseFile(path)
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

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	scan := func(query string, dest ...any) {
		t.Helper()
		if err := db.QueryRowContext(ctx, query).Scan(dest...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	dataset := func(root string) string {
		return fmt.Sprintf("read_parquet('%s', hive_partitioning=true)", filepath.Join(root, "**", "*.parquet"))
	}
	types := func(from string) map[string]string {
		t.Helper()
		rows, err := db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+from)
		if err != nil {
			t.Fatalf("DESCRIBE %s: %v", from, err)
		}
		defer rows.Close()
		out := map[string]string{}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprint(vals[0])] = fmt.Sprint(vals[1])
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	checkTypes := func(what string, got map[string]string, want map[string]string) {
		t.Helper()
		for col, typ := range want {
			if got[col] != typ {
				t.Errorf("%s: column %s is %q, want %s (all: %v)", what, col, got[col], typ, got)
			}
		}
	}
	partitions := map[string]string{"city": "VARCHAR", "year": "BIGINT", "month": "BIGINT"}

	// The lake at its root.
	requests := dataset(spec.Output.Parquet)
	checkTypes("lake", types(requests), map[string]string{
		"city": "VARCHAR", "year": "BIGINT", "month": "BIGINT", "request_id": "VARCHAR", "status": "VARCHAR",
		"created_at": "TIMESTAMP WITH TIME ZONE", "closed_at": "TIMESTAMP WITH TIME ZONE", "updated_at": "TIMESTAMP WITH TIME ZONE",
		"latitude": "DOUBLE", "resolution_hours": "DOUBLE",
	})
	var rows, groups, located int64
	scan("SELECT count(*), count(DISTINCT (city, year, month)), count(latitude) FROM "+requests, &rows, &groups, &located)
	if rows != res.RecordsOut || groups != int64(res.Groups) || rows != m.Rows {
		t.Errorf("DuckDB reads %d rows in %d groups; the job wrote %d rows in %d groups (manifest: %d rows)", rows, groups, res.RecordsOut, res.Groups, m.Rows)
	}
	perGroup := map[record.Key]int64{}
	query(db, t, "SELECT city, year, month, count(*) FROM "+requests+" GROUP BY ALL", func(scan func(...any) error) {
		var k record.Key
		var n int64
		if err := scan(&k.City, &k.Year, &k.Month, &n); err != nil {
			t.Fatal(err)
		}
		perGroup[k] = n
	})
	for _, g := range m.Groups {
		k := record.Key{City: g.City, Year: g.Year, Month: g.Month}
		if perGroup[k] != g.Rows {
			t.Errorf("group %s: DuckDB reads %d rows, the manifest says %d", k, perGroup[k], g.Rows)
		}
	}
	// The instants are the lake's: compare one group's rows with the lake's own reader.
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := m.Groups[len(m.Groups)/2]
	k := record.Key{City: g.City, Year: g.Year, Month: g.Month}
	head, err := lake.Head(ctx, store, spec.Output.Parquet, k, int(g.Rows))
	if err != nil {
		t.Fatal(err)
	}
	type instants struct{ created, closed sql.NullInt64 }
	seen := map[string]instants{}
	query(db, t, fmt.Sprintf("SELECT request_id, epoch_us(created_at), epoch_us(closed_at) FROM %s WHERE city = '%s' AND year = %d AND month = %d",
		requests, g.City, g.Year, g.Month), func(scan func(...any) error) {
		var id string
		var in instants
		if err := scan(&id, &in.created, &in.closed); err != nil {
			t.Fatal(err)
		}
		seen[id] = in
	})
	if len(seen) != len(head) {
		t.Errorf("group %s: DuckDB reads %d requests, the lake's reader %d", k, len(seen), len(head))
	}
	for _, r := range head {
		in := seen[r.RequestID]
		if in.created.Int64 != r.CreatedAt || in.closed.Valid != (r.ClosedAt != nil) || r.ClosedAt != nil && in.closed.Int64 != *r.ClosedAt {
			t.Errorf("request %s of %s: DuckDB reads created %v closed %v; the lake holds %d, %v", r.RequestID, k, in.created, in.closed, r.CreatedAt, r.ClosedAt)
		}
	}

	// Each summary dataset at its root: the same partitions, and totals that add up to the lake.
	sums, _ := m.SummariesRoot(spec.Output.Parquet)
	for _, tc := range []struct {
		table string
		total string // an aggregate that must equal want
		want  int64
		types map[string]string
	}{
		{summary.TableMonthly, "sum(requests)", rows, map[string]string{"request_type": "VARCHAR", "requests": "BIGINT", "median_resolution_hours": "DOUBLE"}},
		{summary.TableAgencyDaily, "sum(opened)", rows, map[string]string{"agency": "VARCHAR", "day": "DATE", "opened": "BIGINT"}},
		{summary.TableHeat, "sum(requests)", rows, map[string]string{"weekday": "INTEGER", "hour": "INTEGER"}},
		{summary.TableGeo, "sum(requests)", located, map[string]string{"lat_bin": "DOUBLE", "lon_bin": "DOUBLE"}},
	} {
		t.Run(tc.table, func(t *testing.T) {
			from := dataset(filepath.Join(sums, tc.table))
			got := types(from)
			checkTypes(tc.table, got, partitions)
			checkTypes(tc.table, got, tc.types)
			var total, groupsThere int64
			scan(fmt.Sprintf("SELECT %s, count(DISTINCT (city, year, month)) FROM %s", tc.total, from), &total, &groupsThere)
			if total != tc.want || groupsThere > groups {
				t.Errorf("%s: %s = %d over %d groups; want %d over at most the lake's %d groups", tc.table, tc.total, total, groupsThere, tc.want, groups)
			}
			var strays int64
			scan(fmt.Sprintf("SELECT count(*) FROM (SELECT DISTINCT city, year, month FROM %s) s ANTI JOIN (SELECT DISTINCT city, year, month FROM %s) l USING (city, year, month)", from, requests), &strays)
			if strays != 0 {
				t.Errorf("%s: %d groups that the lake does not hold", tc.table, strays)
			}
		})
	}
}

// query runs q on db and calls row for each result row with its Scan.
func query(db *sql.DB, t *testing.T, q string, row func(scan func(...any) error)) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		row(rows.Scan)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
