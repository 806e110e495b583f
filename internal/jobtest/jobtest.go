// Package jobtest holds what end-to-end tests of a job share: a job file written from a
// JobDef, and readers that check a committed lake. It is imported by tests only (package
// coordinator's and the command line's); it imports no engine package that imports it back,
// so package coordinator's own tests can use it.
package jobtest

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/record"
)

// InputDef is one input block of a job file written by a test.
type InputDef struct {
	Name, Path, Schema, Format string
}

// JobDef is a job file written by a test: everything absolute, so it runs from anywhere.
type JobDef struct {
	Name     string // default "normalize"
	Split    string // default "64MiB"
	Reducers int    // default 8
	Ratio    float64
	Inputs   []InputDef
	Parquet  string
	Rejects  string
	Schemas  string // extra top-level blocks (schema definitions)
	Endpoint string // S3 endpoint attribute, if any
	Postgres string // output.postgres, if any
}

// Source is the job file's text.
func (j JobDef) Source() string {
	var b strings.Builder
	b.WriteString(j.Schemas)
	fmt.Fprintf(&b, "job %q {\n  split_size = %q\n  reducers = %d\n  max_reject_ratio = %s\n",
		cmp.Or(j.Name, "normalize"), cmp.Or(j.Split, "64MiB"), cmp.Or(j.Reducers, 8),
		strconv.FormatFloat(j.Ratio, 'g', -1, 64))
	if j.Endpoint != "" {
		fmt.Fprintf(&b, "  endpoint = %q\n", j.Endpoint)
	}
	for _, in := range j.Inputs {
		fmt.Fprintf(&b, "  input %q {\n    path = %q\n    schema = %q\n", in.Name, in.Path, in.Schema)
		if in.Format != "" {
			fmt.Fprintf(&b, "    format = %q\n", in.Format)
		}
		b.WriteString("  }\n")
	}
	fmt.Fprintf(&b, "  output {\n    parquet = %q\n    rejects = %q\n", j.Parquet, j.Rejects)
	if j.Postgres != "" {
		fmt.Fprintf(&b, "    postgres = %q\n", j.Postgres)
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// WriteSpec writes j as a job file in dir and parses it the way `coordinator run` does.
func WriteSpec(t testing.TB, dir string, j JobDef) *jobs.Spec {
	t.Helper()
	path := filepath.Join(dir, cmp.Or(j.Name, "normalize")+".job")
	if err := os.WriteFile(path, []byte(j.Source()), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.ParseFile(path)
	if err != nil {
		t.Fatalf("parse job file:\n%s\n%v", j.Source(), err)
	}
	return spec
}

// CopyTree copies the regular files under src to dst.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Zones maps each city of spec to its time zone.
func Zones(spec *jobs.Spec) map[string]*time.Location {
	z := map[string]*time.Location{}
	for _, s := range spec.Schemas {
		z[s.City] = s.Location
	}
	return z
}

// ReadLake reads every group's Parquet file under root and checks what holds for any group:
// one part file, rows sorted by created_at, every created_at in the group's local month,
// request ids unique.
func ReadLake(t testing.TB, root string, zones map[string]*time.Location) map[record.Key][]lake.Row {
	t.Helper()
	groups := map[record.Key][]lake.Row{}
	dirs, err := filepath.Glob(filepath.Join(root, "city=*", "year=*", "month=*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		k, err := keyOf(root, dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if want := filepath.Join(dir, lake.PartFile(0)); len(files) != 1 || files[0] != want {
			t.Errorf("group %s: files %v, want just %s", k, files, want)
		}
		rows, err := lake.ReadParquet[lake.Row](filepath.Join(dir, lake.PartFile(0)))
		if err != nil {
			t.Fatalf("group %s: %v", k, err)
		}
		checkGroupRows(t, k, zones[k.City], rows)
		groups[k] = rows
	}
	return groups
}

// keyOf parses a group directory's city=/year=/month= path.
func keyOf(root, dir string) (record.Key, error) {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return record.Key{}, err
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) != 3 {
		return record.Key{}, fmt.Errorf("not a group directory")
	}
	city, err := url.PathUnescape(strings.TrimPrefix(parts[0], "city="))
	if err != nil {
		return record.Key{}, err
	}
	y, err1 := strconv.Atoi(strings.TrimPrefix(parts[1], "year="))
	m, err2 := strconv.Atoi(strings.TrimPrefix(parts[2], "month="))
	if err := errors.Join(err1, err2); err != nil {
		return record.Key{}, err
	}
	k := record.Key{City: city, Year: y, Month: m}
	if lake.GroupPath(k) != filepath.FromSlash(rel) {
		return k, fmt.Errorf("group path %s is not the canonical %s", rel, lake.GroupPath(k))
	}
	return k, nil
}

// checkGroupRows checks what holds for any group's rows (see ReadLake).
func checkGroupRows(t testing.TB, k record.Key, loc *time.Location, rows []lake.Row) {
	t.Helper()
	if loc == nil {
		t.Errorf("group %s: city not in the job", k)
		return
	}
	if len(rows) == 0 {
		t.Errorf("group %s: empty file", k)
	}
	ids := make(map[string]bool, len(rows))
	for i, r := range rows {
		if i > 0 && r.CreatedAt < rows[i-1].CreatedAt {
			t.Errorf("group %s: row %d (%s) created before row %d: not sorted by created_at", k, i, r.RequestID, i-1)
		}
		local := time.UnixMicro(r.CreatedAt).In(loc)
		if local.Year() != k.Year || int(local.Month()) != k.Month {
			t.Errorf("group %s: row %d (%s) created %s, outside the group's month", k, i, r.RequestID, local)
		}
		if ids[r.RequestID] {
			t.Errorf("group %s: request id %q twice", k, r.RequestID)
		}
		ids[r.RequestID] = true
	}
}

// Counts returns each group's row count.
func Counts(groups map[record.Key][]lake.Row) map[record.Key]int {
	c := make(map[record.Key]int, len(groups))
	for k, rows := range groups {
		c[k] = len(rows)
	}
	return c
}

// EqualCounts reports whether two per-group counts are the same.
func EqualCounts(a, b map[record.Key]int) bool { return reflect.DeepEqual(a, b) }

// DiffCounts describes how two per-group counts differ, a few groups at most.
func DiffCounts(got, want map[record.Key]int) string {
	var keys []record.Key
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b record.Key) int { return strings.Compare(a.String(), b.String()) })
	var parts []string
	for _, k := range keys {
		if got[k] != want[k] {
			parts = append(parts, fmt.Sprintf("%s got %d want %d", k, got[k], want[k]))
		}
	}
	if len(parts) > 8 {
		parts = append(parts[:8], fmt.Sprintf("… %d more", len(parts)-8))
	}
	return fmt.Sprintf("%d groups differ: %s", len(parts), strings.Join(parts, "; "))
}

// MergeSchema is a schema for small hand-written CSV inputs of the merge tests: city "inc",
// columns id, created, updated, closed, status, type, times as "2006-01-02 15:04:05" UTC.
const MergeSchema = `
schema "inc" {
  city         = "inc"
  timezone     = "UTC"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id"   { columns = ["id"] }
  field "created_at"   { columns = ["created"] }
  field "updated_at"   { columns = ["updated"] }
  field "closed_at"    { columns = ["closed"] }
  field "request_type" { columns = ["type"] }
  field "status" {
    columns = ["status"]
    closed  = ["closed"]
    open    = ["open"]
  }
}
`

// GroupDigests is a digest of each (city, year, month) group's request_monthly and
// agency_daily rows in the PostgreSQL database at url: two publishes of the same groups
// compare equal group by group. It fails the test when nothing is published. The caller
// registers the driver (lib/pq).
func GroupDigests(t *testing.T, url string) map[string]string {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`
SELECT g, md5(string_agg(r, '|' ORDER BY r)) FROM (
  SELECT city || '/' || year || '-' || month AS g, t::text AS r FROM request_monthly t
  UNION ALL
  SELECT city || '/' || year || '-' || month, t::text FROM agency_daily t
) x GROUP BY g`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var g, d string
		if err := rows.Scan(&g, &d); err != nil {
			t.Fatal(err)
		}
		out[g] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no summaries published", url)
	}
	return out
}
