package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// mergeSchema is the schema of the merge tests' "inc" inputs.
const mergeSchema = jobtest.MergeSchema

// TestMergeMode runs a merge job twice: the second run's records update exactly the groups
// they touch — a request closed later replaces its open version, a new request is added,
// a stale version loses to the lake's newer one — and leave the other groups untouched.
func TestMergeMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("id,created,updated,closed,status,type\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	day1 := write("day1.csv", ""+
		"1,2024-01-05 10:00:00,2024-01-05 10:00:00,,open,pothole\n"+
		"2,2024-02-01 09:00:00,2024-02-01 09:00:00,,open,noise\n"+
		"3,2024-02-02 09:00:00,2024-02-03 09:00:00,2024-02-03 09:00:00,closed,noise\n")
	day2 := write("day2.csv", ""+
		"2,2024-02-01 09:00:00,2024-02-04 12:00:00,2024-02-04 12:00:00,closed,noise\n"+ // closed later
		"3,2024-02-02 09:00:00,2024-02-02 10:00:00,,open,noise\n"+ // stale: the lake's is newer
		"4,2024-02-05 08:00:00,2024-02-05 08:00:00,,open,graffiti\n") // new
	job := func(input string) jobDef {
		return jobDef{schemas: mergeSchema, ratio: 0, inputs: []inputDef{{"inc", input, "inc", ""}},
			parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")}
	}
	src := func(j jobDef) string {
		return strings.Replace(j.source(), "  split_size", "  mode = \"merge\"\n  split_size", 1)
	}
	run := func(j jobDef) *Result {
		t.Helper()
		p := filepath.Join(dir, "merge.job")
		os.WriteFile(p, []byte(src(j)), 0o644)
		spec, err := jobs.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := runJob(t, ctx, spec, LocalConfig{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, res)
		return res
	}

	run(job(day1))
	// January's lake partition and its summaries.
	janKey := record.Key{City: "inc", Year: 2024, Month: 1}
	jan := []string{filepath.Join(dir, "lake", lake.GroupPath(janKey))}
	for _, table := range lake.SummaryTables {
		jan = append(jan, filepath.Join(dir, "summaries", lake.SummaryGroupPath(table, janKey)))
	}
	hashJan := func() map[string]string {
		out := map[string]string{}
		for _, d := range jan {
			for rel, sum := range hashTree(t, d) {
				out[filepath.Join(d, rel)] = sum
			}
		}
		return out
	}
	janBefore := hashJan()
	if len(janBefore) != 1+len(lake.SummaryTables) {
		t.Fatalf("January: %d files, want a lake file and %d summary files", len(janBefore), len(lake.SummaryTables))
	}

	res := run(job(day2))
	if res.RecordsIn != 3 || res.RecordsCarried != 2 || res.DuplicatesRemoved != 2 || res.RecordsOut != 3 || res.Groups != 1 {
		t.Errorf("second run: in %d carried %d duplicates %d out %d groups %d; want 3 2 2 3 1",
			res.RecordsIn, res.RecordsCarried, res.DuplicatesRemoved, res.RecordsOut, res.Groups)
	}
	equalHashes(t, "January, which the second run did not touch", hashJan(), janBefore)
	rows, err := lake.ReadParquet[lake.Row](filepath.Join(dir, "lake", lake.GroupPath(record.Key{City: "inc", Year: 2024, Month: 2}), lake.PartFile(0)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.RequestID] = r.Status
	}
	want := map[string]string{"2": "closed", "3": "closed", "4": "open"}
	if len(got) != len(want) {
		t.Errorf("February holds %v, want %v", got, want)
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("February request %s is %q, want %q (all: %v)", id, got[id], st, got)
		}
	}
	m, err := lake.ReadManifest(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Groups) != 1 || m.Groups[0].Month != 2 || m.Groups[0].Rows != 3 {
		t.Errorf("manifest groups %+v, want February with 3 rows", m.Groups)
	}
	// February's summaries count the merged group: requests 2 and 3 closed, 4 open.
	sums, _ := m.SummariesRoot(filepath.Join(dir, "lake"))
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := lake.ReadSummaries(ctx, store, sums, record.Key{City: "inc", Year: 2024, Month: 2})
	if err != nil {
		t.Fatal(err)
	}
	var requests, closed int64
	for _, r := range tables.Monthly {
		requests, closed = requests+r.Requests, closed+r.Closed
	}
	if requests != 3 || closed != 2 {
		t.Errorf("February's request_monthly counts %d requests, %d closed; want 3, 2", requests, closed)
	}
}
