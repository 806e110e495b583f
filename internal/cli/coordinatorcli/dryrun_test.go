package coordinatorcli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/socrata"
)

// runPlan runs `coordinator plan args…` and returns its exit code and output.
func runPlan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(append([]string{"plan"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// planJSON runs `coordinator plan --json file flags…` and decodes its report.
func planJSON(t *testing.T, file string, flags ...string) (int, *DryRunReport) {
	t.Helper()
	code, out, errOut := runPlan(t, append([]string{"--json", file}, flags...)...)
	var rep DryRunReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("plan --json: exit %d, output is not one JSON report: %v\n%s%s", code, err, out, errOut)
	}
	if rep.OK != (code == 0) {
		t.Errorf("plan --json: exit %d but ok %v", code, rep.OK)
	}
	return code, &rep
}

func (r *DryRunReport) input(t *testing.T, name string) PlannedInput {
	t.Helper()
	for _, in := range r.Inputs {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no input %q in the report", name)
	return PlannedInput{}
}

// columnOf is the column a field takes in a planned file ("" for none).
func columnOf(f PlannedFile, field string) string {
	if f.Match == nil {
		return ""
	}
	for _, m := range f.Match.Fields {
		if m.Field == field {
			return m.Column
		}
	}
	return ""
}

// TestPlanRealData dry-runs the repository's normalize.job over the real exports: it would
// run, each input's files map their columns as the built-in schemas intend, every input
// samples records, the splits are the run planner's, and nothing is written.
func TestPlanRealData(t *testing.T) {
	data := testenv.RealData(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "normalize.job")
	spec, err := jobs.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, outBefore := os.Stat(spec.Output.Parquet)

	// As coordinator run would, plan refuses the inputs outside the job's directory until
	// --allow-path names their place.
	code, out, errOut := runPlan(t, file)
	if code != 1 || !strings.Contains(out, "is outside the allowed paths") || !strings.Contains(out, "--allow-path") {
		t.Errorf("plan normalize.job without --allow-path: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runPlan(t, file, "--allow-path", data)
	if code != 0 || !strings.Contains(out, "the job would run") {
		t.Fatalf("plan normalize.job: exit %d\n%s%s", code, out, errOut)
	}
	for _, in := range spec.Inputs {
		if !strings.Contains(out, "\ninput "+in.Name+": schema "+in.SchemaName) {
			t.Errorf("the output has no block for input %s", in.Name)
		}
	}
	for _, want := range []string{`request_id\s+← Unique Key`, `created_at\s+← CreatedDate`, `request_id\s+← case_id`, `unread\s+\d+ columns: `, `sample\s+5 normalized`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the output shows no line matching %q", want)
		}
	}

	code, rep := planJSON(t, file, "--allow-path", data)
	if code != 0 || len(rep.Problems) != 0 {
		t.Fatalf("plan --json: exit %d, problems %q", code, rep.Problems)
	}
	// The columns each built-in schema is meant to take in the real files; boston's two
	// exports spell them differently, and the SODA page's keys are read past its first
	// objects (which are all open: no closed_date).
	want := map[string]map[string]string{
		"nyc_portal":    {"request_id": "Unique Key", "created_at": "Created Date", "closed_at": "Closed Date", "agency": "Agency"},
		"nyc_soda_csv":  {"request_id": "unique_key", "created_at": "created_date"},
		"nyc_soda_json": {"request_id": "unique_key", "created_at": "created_date", "closed_at": "closed_date"},
		"la":            {"request_id": "SRNumber", "created_at": "CreatedDate", "request_type": "RequestType"},
		"sf":            {"request_id": "CaseID", "created_at": "Opened", "point": "Point"},
		"baltimore":     {"request_id": "ServiceRequestNum", "created_at": "CreatedDate"},
	}
	for _, in := range rep.Inputs {
		if len(in.Files) == 0 || in.Splits == 0 || len(in.Sample) != DefaultSampleRecords {
			t.Errorf("input %s: %d files, %d splits, %d sampled records", in.Name, len(in.Files), in.Splits, len(in.Sample))
		}
		for _, f := range in.Files {
			if f.Size <= 0 || f.Match == nil || f.Error != "" {
				t.Errorf("input %s: file %s: size %d, match %v, error %q", in.Name, f.Path, f.Size, f.Match != nil, f.Error)
				continue
			}
			for field, col := range want[in.Name] {
				if got := columnOf(f, field); got != col {
					t.Errorf("input %s: %s: %s takes %q, want %q", in.Name, filepath.Base(f.Path), field, got, col)
				}
			}
		}
		for _, s := range in.Sample {
			if s.Record == nil || s.Record.RequestID == "" || s.Record.CreatedAt == "" {
				t.Errorf("input %s: sampled record at %d: %+v, reject %+v", in.Name, s.Offset, s.Record, s.Reject)
			}
		}
	}
	boston := rep.input(t, "boston")
	if len(boston.Files) != 2 || columnOf(boston.Files[0], "request_id") != "case_enquiry_id" || columnOf(boston.Files[1], "request_id") != "case_id" {
		t.Errorf("boston: files %d, request_id from %q and %q", len(boston.Files), columnOf(boston.Files[0], "request_id"), columnOf(boston.Files[len(boston.Files)-1], "request_id"))
	}

	// The splits are the run's: PlanJob cuts the same files into the same tasks.
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := coordinator.PlanJob(context.Background(), store, spec, "run")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Splits != len(p.Maps) || rep.Files != p.Files || rep.Bytes != p.Bytes {
		t.Errorf("dry run: %d splits, %d files, %d bytes; PlanJob: %d, %d, %d", rep.Splits, rep.Files, rep.Bytes, len(p.Maps), p.Files, p.Bytes)
	}
	if _, err := os.Stat(spec.Output.Parquet); errors.Is(outBefore, fs.ErrNotExist) && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dry run created the lake %s", spec.Output.Parquet)
	}
}

// planSchema is a small city schema for the jobs the tests write.
const planSchema = `
schema "t" {
  city     = "t"
  timezone = "UTC"
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["opened"] }
  field "status" {
    columns = ["status"]
    open    = ["open"]
    closed  = ["closed"]
  }
}
schema "wrong" {
  city     = "t"
  timezone = "UTC"
  field "request_id" { columns = ["Key", "Case"] }
  field "created_at" { columns = ["Created"] }
  field "agency"     { columns = ["Dept"] }
}
`

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlanListsEveryProblem dry-runs a job that a run would stop at its first problem, and
// checks that the dry run names them all: a schema whose required fields find no column, an
// input without files, records mostly rejected, a header that cannot be read, a lake another
// run holds, an output path under a file.
func TestPlanListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.csv"), "id,opened,status\n1,2024-01-01T00:00:00Z,open\n2,2024-01-02T00:00:00Z,closed\n")
	writeFile(t, filepath.Join(dir, "bad", "b.csv"), "id,opened,status\n1,soon,open\n2,2024-01-02T00:00:00Z,open\n3,later,open\n,2024-01-04T00:00:00Z,open\n5,2024-01-05T00:00:00Z,open\n6,x,open\n")
	writeFile(t, filepath.Join(dir, "not-a-dir"), "")
	writeFile(t, filepath.Join(dir, "export.csv.gz"), "id,opened,status\n") // not gzip
	j := jobtest.JobDef{Schemas: planSchema, Ratio: 0.01, Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "not-a-dir", "rejects"),
		Inputs: []jobtest.InputDef{
			{Name: "good", Path: filepath.Join(dir, "good.csv"), Schema: "t"},
			{Name: "wrong", Path: filepath.Join(dir, "good.csv"), Schema: "wrong"},
			{Name: "missing", Path: filepath.Join(dir, "nowhere", "*.csv"), Schema: "t"},
			{Name: "bad", Path: filepath.Join(dir, "bad"), Schema: "t"},
			{Name: "unreadable", Path: filepath.Join(dir, "export.csv.gz"), Schema: "t"},
		}}
	spec := jobtest.WriteSpec(t, dir, j)
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := lake.Lock(context.Background(), store, spec.Output.Parquet, "other-job")
	if err != nil {
		t.Fatal(err)
	}
	defer claim.Release()

	wantProblems := []string{
		`input "wrong": ` + filepath.Join(dir, "good.csv") + `: schema "wrong" finds no column for request_id (tried "Key", "Case"), created_at (tried "Created")`,
		`input "missing": path ` + filepath.Join(dir, "nowhere", "*.csv") + `: file does not exist: no file matches`,
		`input "bad": 3 of the 5 sampled records rejected (60%, max_reject_ratio 1%): bad_timestamp 2, missing_request_id 1`,
		`input "unreadable": ` + filepath.Join(dir, "export.csv.gz") + `: gzip: invalid header`,
		`output ` + spec.Output.Parquet + ` is in use: job other-job on `,
		`output rejects: ` + filepath.Join(dir, "not-a-dir") + ` is a file, not a directory`,
	}
	code, out, errOut := runPlan(t, spec.File)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("problems (%d): the job would not run", len(wantProblems))) {
		t.Errorf("the output does not count %d problems:\n%s", len(wantProblems), out)
	}
	for _, p := range wantProblems {
		if !strings.Contains(out, "  "+p) {
			t.Errorf("the output does not list the problem %q:\n%s", p, out)
		}
	}

	code, rep := planJSON(t, spec.File)
	if code != 1 || len(rep.Problems) != len(wantProblems) {
		t.Fatalf("plan --json: exit %d, problems:\n%s", code, strings.Join(rep.Problems, "\n"))
	}
	for i, p := range wantProblems {
		if !strings.HasPrefix(rep.Problems[i], p) {
			t.Errorf("problem %d: %q, want %q…", i, rep.Problems[i], p)
		}
	}
	// The wrong schema's mapping is still shown: what it looked for and what is there.
	wrong := rep.input(t, "wrong")
	if len(wrong.Files) != 1 || wrong.Files[0].Match == nil || !equalStrings(wrong.Files[0].Match.Unread, []string{"id", "opened", "status"}) ||
		!equalStrings(wrong.Files[0].Match.Unmatched(false), []string{"request_id", "created_at", "agency"}) {
		t.Errorf("input wrong: %+v", wrong.Files)
	}
	// Each sampled reject carries the run's reason, field, column and offset.
	bad := rep.input(t, "bad")
	if len(bad.Sample) != 5 || bad.SampleRejected != 3 {
		t.Fatalf("input bad: %d sampled, %d rejected", len(bad.Sample), bad.SampleRejected)
	}
	r := bad.Sample[0].Reject
	if r == nil || r.Reason != jobs.ReasonBadTimestamp || r.Field != "created_at" || r.Column != "opened" || r.Value != "soon" ||
		r.Offset != int64(len("id,opened,status\n")) || r.Raw != "1,soon,open" {
		t.Errorf("first sampled record of bad: %+v", r)
	}
	if good := rep.input(t, "good"); len(good.Sample) != 2 || good.Sample[0].Record == nil || good.Sample[0].Record.Status != "open" {
		t.Errorf("input good: %+v", good.Sample)
	}
	if rep.Outputs.InUse == nil || rep.Outputs.InUse.Job != "other-job" {
		t.Errorf("outputs: %+v", rep.Outputs)
	}
	// Nothing written: not the rejects, not the lake beyond the other run's claim.
	ents, err := os.ReadDir(filepath.Join(dir, "lake"))
	if err != nil || len(ents) != 1 || ents[0].Name() != lake.TemporaryDir {
		t.Errorf("the lake holds %v (%v), want only the other run's claim", ents, err)
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

// TestPlanS3 dry-runs a job whose inputs and lake are in S3 (an in-process fake S3 on
// loopback): objects listed with their sizes, split as a run would split them, headers
// read and records sampled through ranged reads; a prefix without objects is a problem.
func TestPlanS3(t *testing.T) {
	fake := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(fake.Close)
	m := &testenv.MinIOServer{Endpoint: fake.URL, AccessKey: "fake", SecretKey: "fakefakefake", Region: "us-east-1", Bucket: "city"}
	ctx := context.Background()
	if _, err := m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &m.Bucket}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_REGION", m.Region)
	t.Setenv("S3_ENDPOINT", "")
	store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("id,opened,status\n")
	for i := range 200 {
		fmt.Fprintf(&csv, "%d,2024-01-%02dT10:00:00Z,\"open\"\n", i, i%28+1)
	}
	soda := `[{"id": "a", "opened": "2024-02-01T00:00:00Z", "status": "closed"}, {"id": "b", "opened": "2024-02-02T00:00:00Z"}]`
	for key, text := range map[string]string{"raw/csv/2024-01.csv": csv.String(), "raw/csv/2024-02.csv": csv.String()[:2000], "raw/json/page-1.json": soda} {
		if err := objstore.WriteAll(ctx, store, m.URL(key), []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	j := jobtest.JobDef{Schemas: planSchema, Split: "1KiB", Ratio: 0.01, Endpoint: m.Endpoint,
		Parquet: m.URL("lake/requests"), Rejects: m.URL("lake/rejects"),
		Inputs: []jobtest.InputDef{
			{Name: "csv", Path: m.URL("raw/csv/*.csv"), Schema: "t"},
			{Name: "json", Path: m.URL("raw/json"), Schema: "t", Format: "soda-json"},
		}}
	spec := jobtest.WriteSpec(t, dir, j)
	code, rep := planJSON(t, spec.File, "--allow-path", "s3://"+m.Bucket)
	if code != 0 {
		t.Fatalf("exit %d, problems %q", code, rep.Problems)
	}
	csvIn := rep.input(t, "csv")
	if len(csvIn.Files) != 2 || csvIn.Files[0].Path != m.URL("raw/csv/2024-01.csv") || csvIn.Files[0].Size != int64(csv.Len()) || csvIn.Files[1].Size != 2000 {
		t.Fatalf("csv files: %+v", csvIn.Files)
	}
	dataBytes := int64(csv.Len() - len("id,opened,status\n"))
	if want := int((dataBytes + 1023) / 1024); csvIn.Files[0].Splits != want {
		t.Errorf("%s: %d splits, want %d", csvIn.Files[0].Path, csvIn.Files[0].Splits, want)
	}
	if columnOf(csvIn.Files[0], "request_id") != "id" || len(csvIn.Sample) != 5 || csvIn.Sample[4].Record == nil || csvIn.Sample[4].Record.RequestID != "4" {
		t.Errorf("csv: match %+v, sample %+v", csvIn.Files[0].Match, csvIn.Sample)
	}
	jsonIn := rep.input(t, "json")
	if len(jsonIn.Files) != 1 || jsonIn.Splits != 1 || columnOf(jsonIn.Files[0], "status") != "status" || len(jsonIn.Sample) != 2 {
		t.Errorf("json: %+v", jsonIn)
	}
	p, err := coordinator.PlanJob(ctx, store, spec, "run")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Splits != len(p.Maps) || rep.Bytes != p.Bytes {
		t.Errorf("dry run: %d splits, %d bytes; PlanJob: %d, %d", rep.Splits, rep.Bytes, len(p.Maps), p.Bytes)
	}
	if objs, err := store.List(ctx, m.URL("lake/")); err != nil || len(objs) != 0 {
		t.Errorf("the dry run wrote to the lake: %v, %v", objs, err)
	}

	j.Inputs = append(j.Inputs, jobtest.InputDef{Name: "none", Path: m.URL("raw/none/"), Schema: "t"})
	spec = jobtest.WriteSpec(t, dir, j)
	code, out, _ := runPlan(t, spec.File)
	if want := `input "none": path ` + m.URL("raw/none/") + `: file does not exist: no object at or under it`; code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 1 with %q:\n%s", code, want, out)
	}
}

// sourceJob writes a job that pulls from a source into raw under dir.
func sourceJob(t *testing.T, dir, db string) *jobs.Spec {
	t.Helper()
	src := fmt.Sprintf(`
source "nyc_api" {
  kind      = "socrata"
  endpoint  = "https://data.example.org/resource/abcd-1234.json?$$app_token=tok3n"
  schema    = "nyc"
  page_size = 1000
  start     = "2024-01-01T00:00:00"
  raw       = "raw/nyc"
}
job "nyc_daily" {
  input "nyc" { source = "nyc_api" }
  output {
    parquet  = "lake/requests"
    postgres = %q
  }
}
`, db)
	writeFile(t, filepath.Join(dir, "nyc_daily.job"), src)
	spec, err := jobs.ParseFile(filepath.Join(dir, "nyc_daily.job"))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestPlanSources dry-runs a job that pulls from a source: it pulls nothing, says from where
// and from which watermark it would, reads the batches stored but not yet consumed, and
// writes nothing to Postgres. An unreachable Postgres makes the watermark unknown and is a
// problem (a run keeps the watermark there), named without the password.
func TestPlanSources(t *testing.T) {
	data := testenv.RealData(t)
	page, err := os.ReadFile(filepath.Join(data, "nyc", "soda_erm2-nwe9_page.json"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("postgres unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		dir := t.TempDir()
		spec := sourceJob(t, dir, "postgres://ireports:pa55word@"+addr+"/ireports?sslmode=disable")
		writeFile(t, filepath.Join(dir, "raw", "nyc", "batch-1-2-abc.json"), string(page))
		code, out, errOut := runPlan(t, spec.File)
		if code != 1 || strings.Contains(out+errOut, "pa55word") || strings.Contains(out+errOut, "tok3n") {
			t.Fatalf("exit %d, want 1 without the password or the token:\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"source nyc_api: socrata https://data.example.org/resource/abcd-1234.json, schema nyc",
			"would pull  records updated since the watermark (unknown: Postgres is unreachable), in pages of 1000",
			"(1 batch stored, not read by a run yet)",
			"  postgres " + addr + "/ireports: ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the output lacks %q:\n%s", want, out)
			}
		}
		_, rep := planJSON(t, spec.File)
		if len(rep.Sources) != 1 || rep.Sources[0].Watermark != "" || rep.Sources[0].Pending != 1 || len(rep.Problems) != 1 {
			t.Errorf("sources %+v, problems %q", rep.Sources, rep.Problems)
		}
		if in := rep.input(t, "nyc"); len(in.Files) != 1 || len(in.Sample) != DefaultSampleRecords || columnOf(in.Files[0], "request_id") != "unique_key" {
			t.Errorf("the stored batch: %+v", in)
		}
	})

	t.Run("watermark", func(t *testing.T) {
		pg := testenv.Postgres(t)
		dir := t.TempDir()
		spec := sourceJob(t, dir, pg.URL)
		code, out, errOut := runPlan(t, spec.File)
		if code != 0 || !strings.Contains(out, "would pull  records updated since start 2024-01-01T00:00:00 (no watermark: the first pull)") ||
			!strings.Contains(out, "none stored yet") {
			t.Fatalf("fresh database: exit %d\n%s%s", code, out, errOut)
		}
		db, err := sql.Open("postgres", pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tables int
		if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("the dry run created %d tables (%v); it must write nothing", tables, err)
		}
		ctx := context.Background()
		if err := pgsink.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		w := socrata.Watermark{UpdatedAt: "2024-05-27T06:10:11.123Z", ID: "row-ab3k~9xq2"}
		if err := socrata.NewPGWatermarks(db).Advance(ctx, "nyc_api", socrata.Watermark{}, w); err != nil {
			t.Fatal(err)
		}
		code, rep := planJSON(t, spec.File)
		if code != 0 || len(rep.Sources) != 1 || rep.Sources[0].Watermark != w.String() || rep.Sources[0].Pending != 0 {
			t.Fatalf("exit %d, sources %+v, problems %q", code, rep.Sources, rep.Problems)
		}
		if _, out, _ := runPlan(t, spec.File); !strings.Contains(out, "would pull  records updated after the watermark "+w.String()+", in pages of 1000") {
			t.Errorf("the output does not show the watermark:\n%s", out)
		}
	})
}

// TestPlanUsage checks the exit codes around the dry run itself: 2 for a usage error, 0 for
// -h, 1 with every diagnostic listed for a job file that does not parse.
func TestPlanUsage(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.job")
	writeFile(t, broken, "job \"j\" {\n  reducers = 0\n  colour = \"red\"\n  input \"i\" { path = \"x\" }\n}\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stdout or stderr
	}{
		{"no job file", nil, 2, []string{"usage: coordinator plan FILE.job"}},
		{"two job files", []string{"a.job", "b.job"}, 2, []string{"want one job file, got 2"}},
		{"unknown flag", []string{"--bogus", "a.job"}, 2, []string{"flag provided but not defined: -bogus"}},
		{"negative records", []string{"--records", "-1", "a.job"}, 2, []string{"--records must be 0 or more"}},
		{"help", []string{"-h"}, 0, []string{"usage: coordinator plan FILE.job"}},
		{"no such file", []string{filepath.Join(dir, "none.job")}, 1, []string{"no such file or directory", "problems (1)"}},
		{"broken job file", []string{broken}, 1, []string{"broken.job:2:", "Bad reducers", "broken.job:3:", "colour", "Missing schema", "Missing output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runPlan(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

// TestPlanReadsEnvironment: a job whose output names env("…") plans as coordinator run runs
// it, reading this process's environment (plan refused every variable once), and an unset
// variable is a problem of the job file.
func TestPlanReadsEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.csv"), "id,opened,status\n1,2024-01-01T00:00:00Z,open\n2,2024-01-02T00:00:00Z,closed\n")
	j := jobtest.JobDef{Schemas: planSchema, Ratio: 0.01, Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "rejects"),
		Postgres: "@DB@", Inputs: []jobtest.InputDef{{Name: "good", Path: filepath.Join(dir, "good.csv"), Schema: "t"}}}
	file := filepath.Join(dir, "env.job")
	writeFile(t, file, strings.Replace(j.Source(), `"@DB@"`, `env("IREPORTS_PLAN_TEST_DB")`, 1))

	t.Setenv("IREPORTS_PLAN_TEST_DB", "postgres://reader:s3cret@127.0.0.1:1/summaries")
	code, rep := planJSON(t, file)
	if code != 0 || rep.Outputs.Postgres == "" || strings.Contains(rep.Outputs.Postgres, "s3cret") {
		t.Errorf("plan with the variable set: exit %d, postgres %q, problems %q", code, rep.Outputs.Postgres, rep.Problems)
	}
	os.Unsetenv("IREPORTS_PLAN_TEST_DB")
	code, rep = planJSON(t, file)
	if code != 1 || !strings.Contains(strings.Join(rep.Problems, "\n"), "IREPORTS_PLAN_TEST_DB") {
		t.Errorf("plan with the variable unset: exit %d, problems %q", code, rep.Problems)
	}
}
