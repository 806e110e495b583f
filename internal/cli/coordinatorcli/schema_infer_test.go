package coordinatorcli

// Tests of `coordinator schema infer` and of schemas whose time dialects are detected
// ("auto"): inferred schemas run unedited on every city's real files, the dialect is the
// file's and not the split's, and the plan says what it detected.

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// independentCounts counts a file's distinct request ids per (city, year, month) of their
// creation, reading the columns testenv.IndependentTruth names with encoding/csv and the
// time package.
func independentCounts(t *testing.T, path, rel, city string, loc *time.Location, into map[record.Key]int) {
	t.Helper()
	truth, ok := testenv.IndependentTruth[rel]
	if !ok {
		t.Fatalf("city %q has no built-in schema and %s no testenv.IndependentTruth", city, rel)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	id, created := -1, -1
	for i, h := range recs[0] {
		switch h {
		case truth.ID:
			id = i
		case truth.Created:
			created = i
		}
	}
	seen := map[string]bool{}
	for _, r := range recs[1:] {
		v := strings.TrimSpace(r[created])
		var ct time.Time
		if truth.Layout == "unix_ms" {
			var ms int64
			if _, err := fmt.Sscan(v, &ms); err != nil {
				t.Fatal(err)
			}
			ct = time.UnixMilli(ms)
		} else if ct, err = time.ParseInLocation(truth.Layout, v, loc); err != nil {
			t.Fatal(err)
		}
		if seen[r[id]] {
			continue // a duplicate row (St. Louis has 76): the run keeps one version
		}
		seen[r[id]] = true
		y, m, _ := ct.In(loc).Date()
		into[record.Key{City: city, Year: y, Month: int(m)}]++
	}
}

// TestInferredSchemasRun infers a schema for every real file, as if its city were unknown,
// and runs one job over all the files with the inferred blocks pasted in unedited: its
// per-(city, month) counts must equal those of the same job with the built-in schemas, and,
// for a city without a built-in schema yet, an independent count; nothing is rejected. Each
// file's records, normalized by its inferred block alone, must equal the built-in schema's
// in every field both take from the same columns (compareWithBuiltin).
func TestInferredSchemasRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two jobs over every real file")
	}
	data := testenv.RealData(t)
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var inferred, builtin jobtest.JobDef
	inferred.Name, builtin.Name = "inferred", "builtin"
	want := map[record.Key]int{}
	for _, rc := range testenv.RealCities {
		c := struct{ city, timezone string }{rc.Name, rc.Timezone}
		loc, err := time.LoadLocation(c.timezone)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(data, c.city, "*"))
		for i, path := range files {
			rel, _ := filepath.Rel(data, path)
			format := jobs.FormatCSV
			if strings.HasSuffix(path, ".json") {
				format = jobs.FormatSODAJSON
			}
			name := fmt.Sprintf("%s_%d", c.city, i)
			inf, err := inferFile(ctx, store, path, jobs.InferOptions{Name: name, City: c.city, Timezone: c.timezone, Format: format, Exclude: []string{c.city}}, DefaultInferRecords)
			if err != nil {
				t.Fatal(err)
			}
			block := inf.HCL()
			inferred.Schemas += string(block)
			in := jobtest.InputDef{Name: name, Path: path, Schema: name, Format: format.String()}
			inferred.Inputs = append(inferred.Inputs, in)
			if _, ok := jobs.Builtin(c.city); ok {
				in.Schema = c.city
				builtin.Inputs = append(builtin.Inputs, in)
				t.Run(rel, func(t *testing.T) { compareWithBuiltin(t, path, format, inf, block) })
			} else {
				t.Logf("%s: no built-in schema %q yet: counted independently", rel, c.city)
				independentCounts(t, path, rel, c.city, loc, want)
			}
		}
	}
	run := func(j jobtest.JobDef) map[record.Key]int {
		j.Parquet, j.Rejects = filepath.Join(dir, j.Name), filepath.Join(dir, j.Name+"_rejects")
		spec := jobtest.WriteSpec(t, dir, j)
		res, err := runJob(t, ctx, spec, coordinator.LocalConfig{Workers: 2})
		if err != nil || res.Status != coordinator.Succeeded {
			t.Fatalf("%s: %s, %v", j.Name, res.Status, err)
		}
		checkAccounting(t, res)
		if res.Rejected != 0 {
			t.Errorf("%s: %d rejected: %v", j.Name, res.Rejected, res.RejectsByReason)
		}
		return jobtest.Counts(jobtest.ReadLake(t, spec.Output.Parquet, jobtest.Zones(spec)))
	}
	for k, n := range run(builtin) {
		want[k] = n
	}
	got := run(inferred)
	if !jobtest.EqualCounts(got, want) {
		t.Errorf("inferred schemas vs built-in schemas and independent counts: %s", jobtest.DiffCounts(got, want))
	}
	t.Logf("%d (city, month) groups, %d cities", len(got), len(testenv.RealCities))
}

// TestInferSpreadsheetRun infers the LA export as a spreadsheet saves it (times as
// "1/3/20 11:15", which the built-in LA schema cannot read) and runs it: no record is
// rejected and the months are the built-in schema's on the original file.
func TestInferSpreadsheetRun(t *testing.T) {
	data := testenv.RealData(t)
	ctx := context.Background()
	dir := t.TempDir()
	orig := filepath.Join(data, "la", "myla311_2017_subset.csv")
	header, rows := readAll(t, orig)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	for _, r := range rows {
		for i, h := range header {
			if strings.HasSuffix(h, "Date") && r[i] != "" {
				tm, err := time.Parse("01/02/2006 03:04:05 PM", r[i])
				if err != nil {
					t.Fatal(err)
				}
				r[i] = tm.Format("1/2/06 15:04")
			}
		}
		w.Write(r)
	}
	w.Flush()
	sheet := filepath.Join(dir, "in", "la.csv")
	writeFile(t, sheet, buf.String())

	var out, errb bytes.Buffer
	if code := Main([]string{"schema", "infer", sheet, "--city", "la", "--timezone", "America/Los_Angeles", "--name", "sheet"}, &out, &errb); code != 0 {
		t.Fatalf("schema infer: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"%m/%d/%y %H:%M"`) {
		t.Errorf("the printed schema does not name the spreadsheet's dialect:\n%s", out.String())
	}
	j := jobtest.JobDef{Name: "sheet", Schemas: out.String(), Inputs: []jobtest.InputDef{{Name: "la", Path: sheet, Schema: "sheet"}},
		Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "rejects"), Split: "256KiB"}
	spec := jobtest.WriteSpec(t, dir, j)
	res, err := runJob(t, ctx, spec, coordinator.LocalConfig{Workers: 2})
	if err != nil || res.Status != coordinator.Succeeded || res.Rejected != 0 {
		t.Fatalf("status %s, %d rejected %v, error %v", res.Status, res.Rejected, res.RejectsByReason, err)
	}
	if res.MapTasks < 10 {
		t.Errorf("%d map tasks: the file should be cut in many splits", res.MapTasks)
	}
	got := jobtest.Counts(jobtest.ReadLake(t, spec.Output.Parquet, jobtest.Zones(spec)))

	b := jobtest.JobDef{Name: "builtin", Inputs: []jobtest.InputDef{{Name: "la", Path: orig, Schema: "la"}},
		Parquet: filepath.Join(dir, "lake_b"), Rejects: filepath.Join(dir, "rejects_b")}
	bspec := jobtest.WriteSpec(t, dir, b)
	bres, err := runJob(t, ctx, bspec, coordinator.LocalConfig{Workers: 2})
	if err != nil || bres.Status != coordinator.Succeeded {
		t.Fatalf("built-in: %s %v", bres.Status, err)
	}
	if want := jobtest.Counts(jobtest.ReadLake(t, bspec.Output.Parquet, jobtest.Zones(bspec))); !jobtest.EqualCounts(got, want) {
		t.Errorf("spreadsheet vs original: %s", jobtest.DiffCounts(got, want))
	}
}

func readAll(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[0], recs[1:]
}

// TestSchemaInferCLI runs `coordinator schema infer` as a user does: -h, usage errors, a
// local file with and without --timezone, and a file in S3.
func TestSchemaInferCLI(t *testing.T) {
	data := testenv.RealData(t)
	la := filepath.Join(data, "la", "myla311_2017_subset.csv")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"schema", "infer"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	t.Run("-h", func(t *testing.T) {
		code, out, errb := run("-h")
		if code != 0 || out != "" || !strings.HasPrefix(errb, "usage: coordinator schema infer FILE") ||
			!strings.Contains(errb, "-timezone") || strings.Contains(errb, "help requested") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errb)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int // ExitUsage for the command line's mistakes, ExitFailure for the file's
			want string
		}{
			{nil, ExitUsage, "want one file, got 0"},
			{[]string{la, la}, ExitUsage, "want one file, got 2"},
			{[]string{la, "--records", "0"}, ExitUsage, "--records must be 1 or more"},
			{[]string{la, "--format", "xml"}, ExitUsage, "--format"},
			{[]string{la, "--nope"}, ExitUsage, "flag provided but not defined"},
			{[]string{la, "--timezone", "America/Springfield"}, ExitFailure, `unknown time zone "America/Springfield"`},
			{[]string{filepath.Join(data, "nope.csv")}, ExitFailure, "nope.csv"},
			{[]string{filepath.Join(data, "SOURCES.md")}, ExitFailure, "no column can be"},
		} {
			code, _, errb := run(tc.args...)
			if code != tc.code || !strings.Contains(errb, tc.want) {
				t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, errb, tc.code, tc.want)
			}
		}
	})
	t.Run("placeholder time zone", func(t *testing.T) {
		code, out, errb := run(la)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb)
		}
		s := parseSchemaBlock(t, out, "la")
		if s.City != "la" || s.Timezone != "UTC" || !strings.Contains(out, "# TODO: the city's IANA time zone") {
			t.Errorf("city %q, zone %q:\n%s", s.City, s.Timezone, out)
		}
	})
	t.Run("with a time zone", func(t *testing.T) {
		code, out, errb := run(la, "--timezone", "America/Los_Angeles", "--city", "la_test")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb)
		}
		s := parseSchemaBlock(t, out, "la_test")
		if f, _ := s.Field("request_id"); s.Timezone != "America/Los_Angeles" || candidateList(f.Columns) != "SRNumber" {
			t.Errorf("zone %q, request_id %v", s.Timezone, f.Columns)
		}
		for _, want := range []string{"confidence", "Runner-up", "time_layouts = [\"auto\"]", "%m/%d/%Y %I:%M:%S %p"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})
	t.Run("SODA JSON", func(t *testing.T) {
		code, out, errb := run(filepath.Join(data, "nyc", "soda_erm2-nwe9_page.json"), "--timezone", "America/New_York")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb)
		}
		s := parseSchemaBlock(t, out, "nyc")
		if f, _ := s.Field("created_at"); candidateList(f.Columns) != "created_date" {
			t.Errorf("created_at %v", f.Columns)
		}
	})
	t.Run("s3", func(t *testing.T) {
		m := testenv.MinIO(t)
		t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
		t.Setenv("AWS_REGION", m.Region)
		store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(la)
		if err != nil {
			t.Fatal(err)
		}
		url := m.URL("exports/la/2017.csv")
		if err := objstore.WriteAll(context.Background(), store, url, b); err != nil {
			t.Fatal(err)
		}
		code, out, errb := run(url, "--endpoint", m.Endpoint, "--timezone", "America/Los_Angeles")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb)
		}
		_, local, _ := run(la, "--timezone", "America/Los_Angeles")
		// The same schema; only the first comment, which names the file, differs.
		_, fromS3, _ := strings.Cut(out, "\nschema ")
		_, fromDisk, _ := strings.Cut(local, "\nschema ")
		if fromS3 == "" || fromS3 != fromDisk || !strings.Contains(out, url) {
			t.Errorf("from S3:\n%s\nlocal:\n%s", out, local)
		}
	})
}

// parseSchemaBlock parses a printed schema block in a job file.
func parseSchemaBlock(t *testing.T, block, name string) *jobs.Schema {
	t.Helper()
	src := block + fmt.Sprintf("job \"j\" {\n  input \"i\" {\n    path = \"x\"\n    schema = %q\n  }\n  output { parquet = \"o\" }\n}\n", name)
	spec, err := jobs.Parse([]byte(src), "inferred.job")
	if err != nil {
		t.Fatalf("the printed schema does not parse: %v\n%s", err, block)
	}
	return spec.Schemas[name]
}

// dialectSchema detects its time dialects; its date_order is dmy.
const dialectSchema = `
schema "d" {
  city       = "d"
  timezone   = "America/Chicago"
  date_order = "dmy"
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["created"] }
  field "closed_at"  { columns = ["closed"] }
}
`

// TestDialectIsTheFiles cuts a file into many splits whose later records alone would read
// as day/month (no day above 12, and date_order = "dmy"), while its first records show
// month/day (days up to 28): every split must parse month/day, as the file's start says.
// Detecting per split would put the later records in the wrong month.
func TestDialectIsTheFiles(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,created,closed\n")
	want := map[record.Key]int{}
	n := 0
	for i := range 1200 { // days 1..28 of January: the first records are unambiguous
		fmt.Fprintf(&b, "a%d,01/%02d/2020 10:00,\n", i, 1+i%28)
		n++
	}
	want[record.Key{City: "d", Year: 2020, Month: 1}] = 1200
	for i := range 3000 { // "02/03/2020": February 3 as month/day, 2 March as day/month
		fmt.Fprintf(&b, "b%d,02/03/2020 10:00,\n", i)
		n++
	}
	want[record.Key{City: "d", Year: 2020, Month: 2}] = 3000
	path := filepath.Join(dir, "in", "d.csv")
	writeFile(t, path, b.String())
	j := jobtest.JobDef{Name: "d", Schemas: dialectSchema, Split: "4KiB", Inputs: []jobtest.InputDef{{Name: "d", Path: path, Schema: "d"}},
		Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "rejects")}
	spec := jobtest.WriteSpec(t, dir, j)

	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := coordinator.PlanJob(context.Background(), store, spec, "j")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Maps) < 20 {
		t.Fatalf("%d splits, want many", len(plan.Maps))
	}
	for _, m := range plan.Maps {
		// closed has no value: it takes created's dialect.
		if fmt.Sprint(m.TimeLayouts) != "map[closed_at:%m/%d/%Y %H:%M created_at:%m/%d/%Y %H:%M]" {
			t.Fatalf("split %d carries %v", m.Index, m.TimeLayouts)
		}
	}
	// A worker given a late split without the layouts detects the same, from the file's start.
	late := plan.Maps[len(plan.Maps)-1]
	late.TimeLayouts = nil
	ds, err := mapinput.DetectDialects(context.Background(), store, spec.Inputs[0].Schema, late)
	if err != nil || fmt.Sprint(jobs.DialectLayouts(ds)) != fmt.Sprint(plan.Maps[0].TimeLayouts) {
		t.Fatalf("worker detection on split %d: %v, %v", late.Index, ds, err)
	}

	res, err := runJob(t, context.Background(), spec, coordinator.LocalConfig{Workers: 2})
	if err != nil || res.Status != coordinator.Succeeded || res.Rejected != 0 || res.RecordsIn != int64(n) {
		t.Fatalf("status %s, %d in, %d rejected %v, error %v", res.Status, res.RecordsIn, res.Rejected, res.RejectsByReason, err)
	}
	if got := jobtest.Counts(jobtest.ReadLake(t, spec.Output.Parquet, jobtest.Zones(spec))); !jobtest.EqualCounts(got, want) {
		t.Errorf("%s", jobtest.DiffCounts(got, want))
	}
}

// TestPlanReportsDialects dry-runs a job whose files use three dialects for one schema,
// and a file whose column mixes two: the plan shows each file's dialect per column and
// names the mixed file, its column and a value of each dialect.
func TestPlanReportsDialects(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in", "a.csv"), "id,created,closed\n1,2024-01-05T10:00:00,\n2,2024-01-06T11:00:00.5,2024-01-07T00:00:00\n")
	writeFile(t, filepath.Join(dir, "in", "b.csv"), "id,created,closed\n1,01/02/2024 10:00 AM,\n2,01/03/2024 11:00 PM,\n")
	writeFile(t, filepath.Join(dir, "in", "c.json"), `[{"id":"1","created":1704448800000},{"id":"2","created":"1704448801000.0"}]`)
	writeFile(t, filepath.Join(dir, "bad", "m.csv"), "id,created,closed\n1,2024-01-05T10:00:00,\n2,1/6/2024 10:00,\n")
	j := jobtest.JobDef{Name: "p", Schemas: dialectSchema, Inputs: []jobtest.InputDef{
		{Name: "csv", Path: filepath.Join(dir, "in", "*.csv"), Schema: "d"},
		{Name: "json", Path: filepath.Join(dir, "in", "*.json"), Schema: "d", Format: "soda-json"},
		{Name: "bad", Path: filepath.Join(dir, "bad"), Schema: "d"},
	}, Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "rejects")}
	spec := jobtest.WriteSpec(t, dir, j)
	rep, err := DryRun(context.Background(), spec, DryRunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	printDryRun(&text, rep)
	out := text.String()
	for _, want := range []string{
		"  times   of a.csv\n          created_at ← created: ISO 8601, local time (%Y-%m-%dT%H:%M:%S), from 2 values\n",
		"          closed_at ← closed: ISO 8601, local time (%Y-%m-%dT%H:%M:%S), from 1 values",
		"  times   of b.csv\n          created_at ← created: day/month/year, 12-hour clock, no seconds (%d/%m/%Y %I:%M %p), from 2 values; ambiguous (no day above 12): date_order decided",
		"          closed_at ← closed: day/month/year, 12-hour clock, no seconds (%d/%m/%Y %I:%M %p), no value in the sample: created_at's dialect",
		"  times   created_at ← created: milliseconds since the epoch (unix_ms), from 2 values",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks\n%s\n---\n%s", want, out)
		}
	}
	if rep.OK || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], `input "bad": `+filepath.Join(dir, "bad", "m.csv")+`: field created_at, column "created": values in two dialects: "2024-01-05T10:00:00"`) ||
		!strings.Contains(rep.Problems[0], `"1/6/2024 10:00"`) {
		t.Errorf("problems: %q", rep.Problems)
	}
	// The run stops at the same problem, before any task.
	res, err := runJob(t, context.Background(), spec, coordinator.LocalConfig{Workers: 1})
	if err == nil || res.Status != coordinator.Failed || !strings.Contains(res.Error, `values in two dialects`) || !strings.Contains(res.Error, "m.csv") {
		t.Errorf("run: status %s, error %v / %s", res.Status, err, res.Error)
	}
}

// candidateList spells a field's candidates as one comma-separated string ("a,b"; a joined
// candidate as "a + b").
func candidateList(cs []jobs.Candidate) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.String()
	}
	return strings.Join(names, ",")
}

// TestInferAsTheBuiltin runs `coordinator schema infer` as a user does, with the built-in
// schemas' names known, on the files whose integers pandas wrote as floats (Kansas City's
// "ZIP CODE" 64108.0, DC's "ZIPCODE" 20003.0) and whose creation time is a date column and
// a time-of-day column (Kansas City), and whose only location is projected x/y (St. Louis's
// SRX/SRY): the block sets integer_floats, joins the two, reads x/y in the built-in's system
// (DC's latitude/longitude stay its location), and its records equal the built-in schema's
// in every field both take from the same columns.
func TestInferAsTheBuiltin(t *testing.T) {
	data := testenv.RealData(t)
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, zone string
		want       []string // in the printed block
		created    string   // created_at's dialect
	}{
		{"kansas_city/kc311_beacon_hills_2007_2020.csv", "America/Chicago", []string{
			"  integer_floats = true\n",
			`  field "created_at" { columns = [["CREATION DATE", "CREATION TIME"]] }` + "\n",
		}, "%m/%d/%Y %I:%M %p"},
		// DC's LATITUDE/LONGITUDE stay the location: its XCOORD/YCOORD (Maryland metres, and
		// lon/lat in 16 records) are not read.
		{"dc/dc311_arcgis_2025_page1000.csv", "America/New_York", []string{"  integer_floats = true\n",
			`  field "latitude" { columns = ["LATITUDE"] }` + "\n", `  field "longitude" { columns = ["LONGITUDE"] }` + "\n"}, "unix_ms"},
		// St. Louis's only location is SRX/SRY in Missouri East feet, which also land in
		// central Illinois under Illinois East feet: its zip codes settle it.
		{"st_louis/stl_csb_2011.csv", "America/Chicago", []string{
			"  field \"point\" {\n    x   = \"SRX\"\n    y   = \"SRY\"\n    crs = \"ESRI:102696\" # NAD 1983 StatePlane Missouri East FIPS 2401 Feet\n  }\n",
		}, "%Y-%m-%d %H:%M:%S"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(data, tc.file)
			var out, errb bytes.Buffer
			if code := Main([]string{"schema", "infer", path, "--timezone", tc.zone}, &out, &errb); code != 0 {
				t.Fatalf("schema infer: exit %d: %s", code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the block lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), `x   = "XCOORD"`) {
				t.Errorf("the block reads XCOORD/YCOORD beside latitude/longitude:\n%s", out.String())
			}
			if _, unread, _ := strings.Cut(out.String(), "Columns no field reads"); strings.Contains(unread, "CREATION TIME") || strings.Contains(unread, `"SRX"`) || strings.Contains(out.String(), "local midnight") {
				t.Errorf("the block calls the time of day unread, or keeps the day only:\n%s", out.String())
			}
			inf, err := inferFile(ctx, store, path, jobs.InferOptions{Timezone: tc.zone}, DefaultInferRecords)
			if err != nil {
				t.Fatal(err)
			}
			if d := inf.Fields[1].Dialect; inf.Fields[1].Field != "created_at" || d == nil || d.Layout != tc.created {
				t.Errorf("created_at's dialect %+v, want %q", d, tc.created)
			}
			block := inf.HCL()
			if _, b, _ := strings.Cut(string(block), "\nschema "); !strings.HasSuffix(out.String(), b) {
				t.Fatalf("inferFile's block is not the command's:\n%s", block)
			}
			compareWithBuiltin(t, path, jobs.FormatCSV, inf, block)
		})
	}
}

// compareWithBuiltin runs a job over one file with its inferred block and one with its
// city's built-in schema, and compares the lakes record by record in every field both
// schemas take from the same columns (or joined columns) of the file. Two differences the
// sample cannot avoid are allowed, counted and logged: a status value the sampled records do
// not hold ("other" to the inferred block, listed by the built-in), and a placeholder point
// that the built-in lists and the sample did not show twice (a location to the block, none
// to the built-in).
func compareWithBuiltin(t *testing.T, path string, format jobs.Format, inf *jobs.Inferred, block []byte) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	city := inf.Options.City
	run := func(name, schema, schemas string) (*jobs.Spec, map[string]lake.Row) {
		j := jobtest.JobDef{Name: name, Schemas: schemas, Inputs: []jobtest.InputDef{{Name: "in", Path: path, Schema: schema, Format: format.String()}},
			Parquet: filepath.Join(dir, name), Rejects: filepath.Join(dir, name+"_rejects")}
		spec := jobtest.WriteSpec(t, dir, j)
		res, err := runJob(t, ctx, spec, coordinator.LocalConfig{Workers: 2})
		if err != nil || res.Status != coordinator.Succeeded {
			t.Fatalf("%s: %s, %v", name, res.Status, err)
		}
		if res.Rejected != 0 {
			t.Errorf("%s: %d rejected: %v", name, res.Rejected, res.RejectsByReason)
		}
		rows := map[string]lake.Row{}
		for _, group := range jobtest.ReadLake(t, spec.Output.Parquet, jobtest.Zones(spec)) {
			for _, r := range group {
				rows[r.RequestID] = r
			}
		}
		return spec, rows
	}
	ispec, got := run("inferred", inf.Options.Name, string(block))
	bspec, want := run("builtin", city, "")
	is, bs := ispec.Schemas[inf.Options.Name], bspec.Schemas[city]
	if len(got) != len(want) {
		t.Errorf("%d records with the inferred block, %d with the built-in schema", len(got), len(want))
	}

	// The fields both take from the same columns, as a run binds them.
	header := inf.Header
	match := func(s *jobs.Schema) map[string]string {
		m := s.MatchHeader(header)
		if format == jobs.FormatSODAJSON {
			m = s.MatchKeys(header)
		}
		src := map[string]string{}
		for _, f := range m.Fields {
			src[f.Field] = strings.ToLower(f.Source())
		}
		return src
	}
	isrc, bsrc := match(is), match(bs)
	same := func(fields ...string) bool {
		for _, f := range fields {
			if isrc[f] != bsrc[f] {
				return false
			}
		}
		return isrc[fields[0]] != ""
	}
	var compared []string
	checks := map[string]func(lake.Row) string{}
	for _, f := range []string{"created_at", "closed_at", "updated_at", "status", "agency", "request_type", "request_subtype", "zip", "neighborhood", "channel"} {
		if same(f) {
			compared = append(compared, f)
		}
	}
	if same("latitude", "longitude", "point") || same("point", "latitude", "longitude") {
		compared = append(compared, "location")
	}
	// A built-in schema that locates records by projected x/y alone (St. Louis's SRX/SRY in
	// Missouri East feet): the inferred block must read the same columns in the same system.
	for _, f := range bs.MatchHeader(header).Fields {
		if f.Field == "point" && f.X != "" && bsrc["latitude"] == "" && !slices.Contains(compared, "location") {
			t.Errorf("the built-in schema locates records by %s alone, the inferred block by %q", bsrc["point"], isrc["point"])
		}
	}
	for _, f := range compared {
		switch f {
		case "created_at":
			checks[f] = func(r lake.Row) string { return fmt.Sprint(r.CreatedAt) }
		case "closed_at":
			checks[f] = func(r lake.Row) string { return opt(r.ClosedAt) }
		case "updated_at":
			checks[f] = func(r lake.Row) string { return opt(r.UpdatedAt) }
		case "status":
			checks[f] = func(r lake.Row) string { return r.Status + " " + opt(r.StatusRaw) }
		case "agency":
			checks[f] = func(r lake.Row) string { return opt(r.Agency) }
		case "request_type":
			checks[f] = func(r lake.Row) string { return opt(r.RequestType) }
		case "request_subtype":
			checks[f] = func(r lake.Row) string { return opt(r.RequestSubtype) }
		case "zip":
			checks[f] = func(r lake.Row) string { return opt(r.Zip) }
		case "neighborhood":
			checks[f] = func(r lake.Row) string { return opt(r.Neighborhood) }
		case "channel":
			checks[f] = func(r lake.Row) string { return opt(r.Channel) }
		case "location":
			checks[f] = func(r lake.Row) string { return opt(r.Latitude) + "," + opt(r.Longitude) }
		}
	}
	if same("created_at") && same("closed_at") {
		compared = append(compared, "resolution_hours")
		checks["resolution_hours"] = func(r lake.Row) string { return opt(r.ResolutionHours) }
	}

	sampled := map[string]bool{}
	st := inf.Fields[slices.IndexFunc(inf.Fields, func(f jobs.InferredField) bool { return f.Field == "status" })]
	for _, v := range slices.Concat(st.Closed, st.Open, st.Other) {
		sampled[strings.ToLower(v)] = true
	}
	unseen, placeholders, differ := map[string]int{}, 0, map[string]int{}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("request %s: not in the inferred block's lake", id)
			continue
		}
		for _, f := range compared {
			gv, wv := checks[f](g), checks[f](w)
			switch {
			case gv == wv:
			case f == "status" && g.Status == "other" && g.StatusRaw != nil && !sampled[strings.ToLower(*g.StatusRaw)]:
				unseen[*g.StatusRaw]++
			case f == "location" && w.Latitude == nil && g.Latitude != nil && slices.Contains(bs.PlaceholderPoints, [2]float64{*g.Latitude, *g.Longitude}):
				placeholders++
			default:
				if differ[f]++; differ[f] <= 3 {
					t.Errorf("request %s, %s from %q: %s with the inferred block, %s with the built-in schema", id, f, isrc[f], gv, wv)
				}
			}
		}
	}
	if len(differ) > 0 {
		t.Errorf("records that differ, per field: %v", differ)
	}
	if len(unseen) > 0 || placeholders > 0 {
		t.Logf("not in the sample: status values %v (\"other\" to the inferred block); %d records at a placeholder point of the built-in", unseen, placeholders)
	}
	t.Logf("%d records equal in %s", len(want), strings.Join(compared, ", "))
}

// opt spells an optional lake value, "null" when absent.
func opt[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// TestInferCompletes runs `coordinator schema infer` on small files that show, or almost
// show, integers written as floats and a date with its time of day in two columns. The
// printed block parses, and joins only what every sampled record pairs and it can name.
func TestInferCompletes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, csv string
		intFloats bool
		created   string // created_at's columns, as candidateList spells them
		want      string // in the block
	}{
		{"date and time", "id,created date,created time,zip\n1,01/05/2024,10:00,64108\n2,01/06/2024,23:15,64109\n",
			false, "created date + created time", `"%m/%d/%Y %H:%M"`},
		{"12-hour time, floats", "id,created date,created time,zip\n1,01/05/2024,10:00 AM,64108.0\n2,01/06/2024,11:15 PM,\n",
			true, "created date + created time", `("64108.0" as "64108")`},
		{"a date without its time", "id,created date,created time,zip\n1,01/05/2024,10:00,64108\n2,01/06/2024,,64109\n",
			false, "created date", "keeps the day only (local midnight)"},
		{"a closing date, which shares no word with the time", "id,created date,created time,closed date\n1,01/05/2024,10:00,\n2,01/06/2024,11:00,01/07/2024\n3,01/06/2024,12:00,\n",
			false, "created date + created time", `field "closed_at" { columns = ["closed date"] }`},
		{"a name HCL quotes otherwise", "id,created date,created time ${x},zip\n1,01/05/2024,10:00,64108\n2,01/06/2024,23:15,64109\n",
			false, "created date + created time ${x}", `columns = [["created date", "created time $${x}"]]`},
		{"a time column in another case first", "id,created date,CREATED TIME,created time\n1,01/05/2024,x,10:00\n2,01/06/2024,y,23:15\n",
			false, "created date", "a schema block cannot name both columns"},
		{"an id written as a float", "id,created\n101.0,2024-01-05T10:00:00\n102.0,2024-01-05T11:00:00\n",
			true, "created", `in "id" ("101.0", 2 of 2 values)`},
		{"a real fraction", "id,created,zip\n1,2024-01-05T10:00:00,64108.5\n2,2024-01-05T11:00:00,64108\n",
			false, "created", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"), "c.csv")
			writeFile(t, path, tc.csv)
			var out, errb bytes.Buffer
			if code := Main([]string{"schema", "infer", path, "--timezone", "America/Chicago", "--name", "c"}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			block := out.String()
			s := parseSchemaBlock(t, block, "c")
			if f, _ := s.Field("created_at"); candidateList(f.Columns) != tc.created || s.IntegerFloats != tc.intFloats {
				t.Errorf("created_at %q, integer_floats %v; want %q, %v:\n%s", candidateList(f.Columns), s.IntegerFloats, tc.created, tc.intFloats, block)
			}
			if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(block, "#", "")), " "), tc.want) {
				t.Errorf("the block lacks %q:\n%s", tc.want, block)
			}
		})
	}
}
