package coordinator

// End-to-end tests of the normalize job (issue 2): RunLocal over the real exports of five
// cities, over malformed inputs and over a generated corpus, each checked against what the
// test works out without the engine. The heavier runs are skipped under -short.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"

	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/worker"
)

// checkRun checks a succeeded run of spec against the expectation computed from its inputs,
// reads its lake back and returns the lake's groups.
func checkRun(t *testing.T, spec *jobs.Spec, res *Result, err error, exp expectation) map[record.Key][]lake.Row {
	t.Helper()
	if err != nil || res.Status != Succeeded {
		t.Fatalf("job %s: status %s, error %v", spec.Name, res.Status, err)
	}
	checkAccounting(t, res)
	if res.RecordsIn != exp.in || res.Rejected != exp.rejected || res.DuplicatesRemoved != exp.dups {
		t.Errorf("records_in %d, rejected %d, duplicates_removed %d; computed from the files: %d, %d, %d",
			res.RecordsIn, res.Rejected, res.DuplicatesRemoved, exp.in, exp.rejected, exp.dups)
	}
	root := spec.Output.Parquet
	groups := readLake(t, root, zones(spec))
	compareGroups(t, "lake vs. files", groups, exp.groups)
	var rows int64
	for _, g := range groups {
		rows += int64(len(g))
	}
	if rows != res.RecordsOut || len(groups) != res.Groups {
		t.Errorf("the lake holds %d rows in %d groups; Result says records_out %d, groups %d", rows, len(groups), res.RecordsOut, res.Groups)
	}
	m := checkManifest(t, root, counts(groups))
	if m.Job != res.Job || m.Name != spec.Name || m.Rows != rows {
		t.Errorf("manifest job %q name %q rows %d; want %q %q %d", m.Job, m.Name, m.Rows, res.Job, spec.Name, rows)
	}
	checkSummaries(t, root, groups)
	checkRejects(t, res)
	noTemporary(t, root)
	noTemporary(t, spec.Output.Summaries)
	noTemporary(t, spec.Output.Rejects)
	return groups
}

// cities are the built-in schemas that the real inputs use, one per city.
var cities = []string{"nyc", "la", "sf", "boston", "baltimore", "chicago", "kansas_city", "dc", "st_louis"}

func inputsOf(in []inputDef, city string) []inputDef {
	return slices.DeleteFunc(slices.Clone(in), func(d inputDef) bool { return d.schema != city })
}

func TestNormalizeRealData(t *testing.T) {
	data := testenv.RealData(t)
	ctx := context.Background()
	inputs := realInputs(data)
	parent := t.TempDir()

	// base is the all-cities job at the default split size, run once and shared by the
	// subtests that compare against it (read-only: a subtest that writes copies its lake).
	type baseline struct {
		spec   *jobs.Spec
		res    *Result
		groups map[record.Key][]lake.Row
	}
	var base *baseline
	getBase := func(t *testing.T) *baseline {
		t.Helper()
		if base != nil {
			return base
		}
		dir := filepath.Join(parent, "all")
		os.MkdirAll(dir, 0o755)
		spec := writeSpec(t, dir, jobDef{inputs: inputs, ratio: 0.01,
			parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
		exp := expect(t, spec)
		res, err := runJob(t, ctx, spec, LocalConfig{})
		groups := checkRun(t, spec, res, err, exp)
		if t.Failed() {
			t.FailNow()
		}
		base = &baseline{spec, res, groups}
		return base
	}

	t.Run("all", func(t *testing.T) {
		b := getBase(t)
		t.Logf("%d records in %d files: %d groups, %d maps, %.1fs", b.res.RecordsIn, b.res.Files, b.res.Groups, b.res.MapTasks, b.res.Seconds)
	})

	for _, city := range cities {
		t.Run("city="+city, func(t *testing.T) {
			if testing.Short() {
				t.Skip("one job per city: skipped under -short (the all-cities job covers the same files)")
			}
			dir := t.TempDir()
			spec := writeSpec(t, dir, jobDef{inputs: inputsOf(inputs, city), ratio: 0.01,
				parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
			res, err := runJob(t, ctx, spec, LocalConfig{})
			groups := checkRun(t, spec, res, err, expect(t, spec))
			// A city alone gives exactly its part of the all-cities lake.
			want := map[record.Key][]lake.Row{}
			for k, rows := range getBase(t).groups {
				if k.City == city {
					want[k] = rows
				}
			}
			compareGroups(t, "city alone vs. all cities", groups, want)
		})
	}

	t.Run("rerun", func(t *testing.T) {
		if testing.Short() {
			t.Skip("re-runs the all-cities job: skipped under -short")
		}
		b := getBase(t)
		dir := t.TempDir()
		root, sums := filepath.Join(dir, "requests"), filepath.Join(dir, "summaries")
		copyTree(t, b.spec.Output.Parquet, root)
		copyTree(t, b.spec.Output.Summaries, sums)
		before := hashOutput(t, root, sums)
		job := jobDef{inputs: inputs, ratio: 0.01, parquet: root, rejects: filepath.Join(dir, "rejects")}

		spec := writeSpec(t, dir, job)
		res, err := runJob(t, ctx, spec, LocalConfig{})
		checkRun(t, spec, res, err, expect(t, spec))
		if after := hashOutput(t, root, sums); !equalHashes(t, "second run", after, before) {
			t.FailNow()
		}

		// A job over one city replaces that city's groups only.
		stats := map[string]os.FileInfo{}
		for rel := range before {
			fi, err := os.Stat(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			stats[rel] = fi
		}
		job.name, job.inputs = "normalize_boston", inputsOf(inputs, "boston")
		spec = writeSpec(t, dir, job)
		res, err = runJob(t, ctx, spec, LocalConfig{})
		if err != nil {
			t.Fatalf("boston job: %v", err)
		}
		checkAccounting(t, res)
		equalHashes(t, "after the boston job", hashOutput(t, root, sums), before)
		replaced := 0
		for rel, old := range stats {
			fi, err := os.Stat(filepath.Join(dir, rel))
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			isBoston := strings.Contains(rel, "/city=boston/")
			switch same := os.SameFile(old, fi) && old.ModTime().Equal(fi.ModTime()); {
			case isBoston && same:
				t.Errorf("%s: not replaced by the boston job", rel)
			case isBoston:
				replaced++
			case !same:
				t.Errorf("%s: touched by a job that does not read its city", rel)
			}
		}
		groups := readLake(t, root, zones(b.spec))
		compareGroups(t, "lake after the boston job", groups, b.groups)
		// _SUCCESS describes the last job only: boston's groups.
		want := map[record.Key]int{}
		for k, n := range counts(groups) {
			if k.City == "boston" {
				want[k] = n
			}
		}
		checkManifest(t, root, want)
		if replaced == 0 {
			t.Error("the boston job replaced no file")
		}
	})

	// The splits at 1KiB are checked on the files whose record boundaries are hardest to find
	// (NYC's SODA CSV, a quoted newline in 977 of 1,000 records; Boston 2025's CRLF ends): all
	// cities at 1KiB are 13,000 map tasks, half a minute on two cores, so that case is opt-in.
	tricky := slices.DeleteFunc(slices.Clone(inputs), func(d inputDef) bool { return d.name != "nyc_soda_csv" && d.name != "boston" })
	for _, tc := range []struct {
		name   string
		split  string
		inputs []inputDef
		long   bool
	}{
		{"4KiB", "4KiB", inputs, false},
		{"1KiB", "1KiB", tricky, false},
		{"1KiB_all", "1KiB", inputs, true},
	} {
		t.Run("split="+tc.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("thousands of map tasks: skipped under -short")
			}
			if tc.long && os.Getenv("IREPORTS_LONG_TESTS") == "" {
				t.Skip("13,000 map tasks: set IREPORTS_LONG_TESTS=1 to run")
			}
			dir := t.TempDir()
			spec := writeSpec(t, dir, jobDef{inputs: tc.inputs, ratio: 0.01, split: tc.split,
				parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
			res, err := runJob(t, ctx, spec, LocalConfig{})
			// The expectation does not depend on the split size: it is what the 64MiB job
			// gives (the "all" subtest checks that on the same inputs).
			checkRun(t, spec, res, err, expect(t, spec))
			if res.Respeculated < 0 || res.MapTasks <= res.Files {
				t.Errorf("respeculated %d; %d map tasks for %d files", res.Respeculated, res.MapTasks, res.Files)
			}
			t.Logf("split %s: %d map tasks, %d re-speculated, %d retries, %.1fs", tc.split, res.MapTasks, res.Respeculated, res.Retries, res.Seconds)
			if slices.Equal(tc.inputs, inputs) {
				compareGroups(t, "split "+tc.split+" vs. 64MiB", readLake(t, spec.Output.Parquet, zones(spec)), getBase(t).groups)
			}
		})
	}
}

// equalHashes reports whether two trees' file hashes are equal, and fails the test naming a
// few differences if not.
func equalHashes(t *testing.T, what string, got, want map[string]string) bool {
	t.Helper()
	var diffs []string
	for p, h := range want {
		switch g, ok := got[p]; {
		case !ok:
			diffs = append(diffs, p+" missing")
		case g != h:
			diffs = append(diffs, p+" differs")
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, p+" added")
		}
	}
	if len(diffs) == 0 {
		return true
	}
	slices.Sort(diffs)
	t.Errorf("%s: %d of %d files differ: %s", what, len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 8)], ", "))
	return false
}

// tinySchema is a schema for the hand-written files of the bad-input tests.
const tinySchema = `
schema "tiny" {
  city         = "tiny"
  timezone     = "UTC"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id"   { columns = ["id"] }
  field "created_at"   { columns = ["created"] }
  field "request_type" { columns = ["type"] }
  field "status" {
    columns = ["status"]
    closed  = ["closed"]
    open    = ["open"]
  }
}
`

const tinyHeader = "id,created,status,type\n"

func tinyRow(id int) string { return fmt.Sprintf("%d,2024-01-05 10:%02d:00,open,pothole\n", id, id%60) }

func TestNormalizeBadInput(t *testing.T) {
	good := tinyHeader + tinyRow(1) + tinyRow(2)
	tiny := record.Key{City: "tiny", Year: 2024, Month: 1}
	for _, tc := range []struct {
		name   string
		files  map[string]string // name in the input directory → content
		input  string            // the input's path relative to the directory ("": the directory)
		format string

		// For a job that must fail: substrings of its error ("{dir}" is the input directory).
		wantErr []string

		// For a job that must succeed.
		in, out  int64
		byReason map[string]int64
		warning  string
		check    func(t *testing.T, rows []lake.Row)
		// checkRejects, if set, checks the reject lines.
		checkRejects func(t *testing.T, rejects []worker.Reject)
	}{
		{
			name: "text after a closing quote",
			files: map[string]string{"a.csv": tinyHeader + tinyRow(1) +
				"2,2024-01-05 10:00:00,open,\"pot\"hole\n" + tinyRow(3)},
			in: 3, out: 2, byReason: map[string]int64{worker.ReasonMalformed: 1},
		},
		{
			// A quote in an unquoted field opens a quoted section all the same: the newline
			// is not a record end until the next quote closes it (csvsplit's parity rule,
			// which makes splits composable), so rows 2 to 4 are one malformed record by the
			// rule. It is read again line by line, as encoding/csv reads a file: rows 2 and 4
			// are rejects, row 3 a record (it was lost in one reject of rows 2 to 4).
			name: "bare quotes in unquoted fields",
			files: map[string]string{"a.csv": tinyHeader + tinyRow(1) +
				"2,2024-01-05 10:00:00,op\"en,pothole\n" + tinyRow(3) + "4,2024-01-05 10:00:00,open,12\" pipe\n" + tinyRow(5)},
			in: 5, out: 3, byReason: map[string]int64{worker.ReasonMalformed: 2},
			checkRejects: func(t *testing.T, rejects []worker.Reject) {
				if len(rejects) != 2 || rejects[0].Raw != "2,2024-01-05 10:00:00,op\"en,pothole" || rejects[1].Raw != "4,2024-01-05 10:00:00,open,12\" pipe" {
					t.Errorf("rejects %+v; want rows 2 and 4, each alone", rejects)
				}
			},
		},
		{
			name: "ragged rows",
			files: map[string]string{"a.csv": tinyHeader + tinyRow(1) +
				"2,2024-01-05 10:00:00,open\n" + "3,2024-01-05 10:00:00,open,pothole,extra\n" + tinyRow(4)},
			in: 4, out: 2, byReason: map[string]int64{jobs.ReasonFieldCount: 2},
		},
		{
			name:  "invalid UTF-8",
			files: map[string]string{"a.csv": tinyHeader + tinyRow(1) + "2,2024-01-05 10:00:00,open,pot\xffhole\n"},
			in:    2, out: 1, byReason: map[string]int64{jobs.ReasonInvalidUTF8: 1},
		},
		{
			name:  "unterminated quote at EOF",
			files: map[string]string{"a.csv": tinyHeader + tinyRow(1) + "2,2024-01-05 10:00:00,open,\"never closed\n3,x,y,z\n"},
			in:    2, out: 1, byReason: map[string]int64{worker.ReasonMalformed: 1},
		},
		{
			name:  "empty file",
			files: map[string]string{"a.csv": "", "b.csv": good},
			in:    2, out: 2, warning: "a.csv is empty",
		},
		{
			name:  "header-only file",
			files: map[string]string{"a.csv": tinyHeader, "b.csv": strings.TrimSuffix(tinyHeader, "\n"), "c.csv": good},
			in:    2, out: 2,
		},
		{
			name:    "missing file",
			files:   map[string]string{"a.csv": good},
			input:   "nope.csv",
			wantErr: []string{"{dir}/nope.csv"},
		},
		{
			name:    "schema names no present column",
			files:   map[string]string{"a.csv": "foo,bar\n1,2\n"},
			wantErr: []string{`schema "tiny"`, "{dir}/a.csv"},
		},
		{
			name:    "SODA JSON that is not JSON",
			files:   map[string]string{"a.json": `[{"id": "1", "created": "2024-01-05 10:00:00"}, nope]`},
			format:  "soda-json",
			wantErr: []string{"{dir}/a.json", "offset 48"},
		},
		{
			name: "CRLF and BOM",
			files: map[string]string{"a.csv": "\xef\xbb\xbf" + strings.ReplaceAll(tinyHeader+tinyRow(1), "\n", "\r\n") +
				"2,2024-01-05 10:02:00,closed,\"two\nlines\"\r\n" + "3,2024-01-05 10:03:00,open,\r\n"},
			in: 3, out: 3,
			check: func(t *testing.T, rows []lake.Row) {
				var got []string
				for _, r := range rows {
					got = append(got, fmt.Sprintf("%s|%s|%s", r.RequestID, r.Status, deref(r.RequestType)))
				}
				want := []string{"1|open|pothole", "2|closed|two\nlines", "3|open|"}
				if !slices.Equal(got, want) {
					t.Errorf("rows %q, want %q", got, want)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			os.MkdirAll(in, 0o755)
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(in, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path := in
			if tc.input != "" {
				path = filepath.Join(in, tc.input)
			}
			spec := writeSpec(t, dir, jobDef{schemas: tinySchema, ratio: 1, reducers: 2,
				inputs:  []inputDef{{"tiny", path, "tiny", tc.format}},
				parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
			res, err := runJob(t, context.Background(), spec, LocalConfig{})

			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("job succeeded (%d records in); want an error", res.RecordsIn)
				}
				t.Logf("error: %v", err)
				for _, s := range tc.wantErr {
					if s = strings.ReplaceAll(s, "{dir}", in); !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if res.Status != Failed || res.Error != err.Error() {
					t.Errorf("Result status %q error %q; want failed with the error", res.Status, res.Error)
				}
				for _, root := range []string{spec.Output.Parquet, spec.Output.Summaries} {
					if entries, _ := os.ReadDir(root); len(entries) > 0 {
						t.Errorf("a failed job left %d entries in %s, e.g. %s", len(entries), root, entries[0].Name())
					}
				}
				noTemporary(t, spec.Output.Rejects)
				return
			}

			if err != nil {
				t.Fatalf("job failed: %v", err)
			}
			checkAccounting(t, res)
			if res.RecordsIn != tc.in || res.RecordsOut != tc.out {
				t.Errorf("records in %d out %d; want %d, %d", res.RecordsIn, res.RecordsOut, tc.in, tc.out)
			}
			if want := tc.byReason; !mapsEqual(res.RejectsByReason, want) {
				t.Errorf("rejects by reason %v, want %v", res.RejectsByReason, want)
			}
			rejects := checkRejects(t, res)
			for _, r := range rejects {
				if !strings.HasPrefix(r.File, in) || r.Offset < int64(len(tinyHeader)) {
					t.Errorf("reject %+v: file or offset wrong", r)
				}
			}
			if tc.checkRejects != nil {
				tc.checkRejects(t, rejects)
			}
			if tc.warning != "" && !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, tc.warning) }) {
				t.Errorf("warnings %q, want one containing %q", res.Warnings, tc.warning)
			}
			groups := readLake(t, spec.Output.Parquet, zones(spec))
			if len(groups) != 1 || len(groups[tiny]) != int(tc.out) {
				t.Errorf("lake groups %v, want %s with %d rows", counts(groups), tiny, tc.out)
			}
			checkManifest(t, spec.Output.Parquet, counts(groups))
			checkSummaries(t, spec.Output.Parquet, groups)
			noTemporary(t, spec.Output.Parquet)
			noTemporary(t, spec.Output.Summaries)
			noTemporary(t, spec.Output.Rejects)
			if tc.check != nil {
				tc.check(t, groups[tiny])
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNormalizeRejectBudget(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	content := tinyHeader
	for i := 1; i <= 8; i++ {
		if i%2 == 0 {
			content += fmt.Sprintf("%d,2024-01-05 10:00:00,open\n", i) // ragged
			continue
		}
		content += tinyRow(i)
	}
	if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	job := jobDef{schemas: tinySchema, reducers: 2, ratio: 1,
		inputs:  []inputDef{{"tiny", in, "tiny", ""}},
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")}
	ctx := context.Background()

	// A first, successful run: the over-budget run must leave its lake as it was.
	res, err := runJob(t, ctx, writeSpec(t, dir, job), LocalConfig{})
	if err != nil {
		t.Fatalf("within budget: %v", err)
	}
	sums := filepath.Join(dir, "summaries")
	before := hashOutput(t, job.parquet, sums)
	firstManifest, _ := os.ReadFile(filepath.Join(job.parquet, lake.SuccessFile))

	job.ratio = 0.25
	spec := writeSpec(t, dir, job)
	res, err = runJob(t, ctx, spec, LocalConfig{})
	if err == nil {
		t.Fatal("over budget, the job succeeded")
	}
	if !errors.Is(err, ErrRejectBudget) {
		t.Errorf("error %q does not wrap ErrRejectBudget", err)
	}
	t.Logf("error: %v", err)
	for _, s := range []string{"4 of 8 records rejected", "field_count 4", res.Outputs.Rejects} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if res.Status != Failed || res.RecordsIn != 8 || res.Rejected != 4 || res.Groups != 0 {
		t.Errorf("Result status %s, in %d, rejected %d, groups %d; want failed, 8, 4, 0", res.Status, res.RecordsIn, res.Rejected, res.Groups)
	}
	equalHashes(t, "lake and summaries after the failed job", hashOutput(t, job.parquet, sums), before)
	if m, _ := os.ReadFile(filepath.Join(job.parquet, lake.SuccessFile)); string(m) != string(firstManifest) {
		t.Error("the failed job rewrote _SUCCESS")
	}
	noTemporary(t, job.parquet)
	noTemporary(t, sums)
	noTemporary(t, job.rejects)
	// The rejects are committed all the same, for the user to see why.
	for _, r := range checkRejects(t, res) {
		if r.Reason != jobs.ReasonFieldCount || r.File != in || !strings.HasSuffix(r.Raw, ",open") {
			t.Errorf("reject %+v", r)
		}
	}

	// With no lake before it, the failed job commits no group at all.
	job.parquet, job.rejects = filepath.Join(dir, "requests2"), filepath.Join(dir, "rejects2")
	res, err = runJob(t, ctx, writeSpec(t, dir, job), LocalConfig{})
	if err == nil || !strings.Contains(err.Error(), ErrRejectBudget.Error()) {
		t.Fatalf("error %v, want the reject budget exceeded", err)
	}
	if entries, _ := os.ReadDir(job.parquet); len(entries) > 0 {
		t.Errorf("the failed job left %d entries in a new lake, e.g. %s", len(entries), entries[0].Name())
	}
	checkRejects(t, res)
}

// genInputs are the inputs of a job over a gen corpus in dir, one per format.
func genInputs(dir string) []inputDef {
	return []inputDef{
		{"nyc_portal", filepath.Join(dir, "nyc", "portal-*.csv"), "nyc", ""},
		{"nyc_soda_csv", filepath.Join(dir, "nyc", "soda-*.csv"), "nyc", ""},
		{"nyc_soda_json", filepath.Join(dir, "nyc", "soda-*.json"), "nyc", "soda-json"},
		{"la", filepath.Join(dir, "la"), "la", ""},
		{"sf", filepath.Join(dir, "sf"), "sf", ""},
		{"boston", filepath.Join(dir, "boston"), "boston", ""},
		{"baltimore", filepath.Join(dir, "baltimore"), "baltimore", ""},
		{"chicago", filepath.Join(dir, "chicago"), "chicago", ""},
		{"kansas_city", filepath.Join(dir, "kansas_city"), "kansas_city", ""},
		{"dc", filepath.Join(dir, "dc"), "dc", ""},
		{"st_louis", filepath.Join(dir, "st_louis"), "st_louis", ""},
		{"austin", filepath.Join(dir, "austin"), "austin", ""}, // schema: gen.AustinSchema
	}
}

// genReason is the reject reason a correct normalizer gives each kind of gen's injected rows.
var genReason = map[string]string{
	gen.BadMissingID: jobs.ReasonMissingRequestID,
	gen.BadDate:      jobs.ReasonBadTimestamp,
	gen.BadRagged:    jobs.ReasonFieldCount,
	gen.BadQuote:     worker.ReasonMalformed,
}

func TestNormalizeGenerated(t *testing.T) {
	ctx := context.Background()
	corpus := t.TempDir()
	st, err := gen.Generate(ctx, gen.Options{Dir: corpus, Size: 8 << 20, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("counts", func(t *testing.T) {
		dir := t.TempDir()
		spec := writeSpec(t, dir, jobDef{schemas: gen.AustinSchema, inputs: genInputs(corpus), ratio: 0.05, split: "1MiB",
			parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
		res, err := runJob(t, ctx, spec, LocalConfig{})
		if err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, res)
		if res.Files != len(st.Files) {
			t.Errorf("the job read %d files, gen wrote %d", res.Files, len(st.Files))
		}
		var records, bad, dups int64
		wantReasons := map[string]int64{}
		wantBad := map[[2]string]int64{} // city, reason
		for _, c := range gen.Cities() {
			records += st.Records[c]
			dups += st.Duplicates[c]
			for kind, n := range st.Bad[c] {
				bad += n
				wantReasons[genReason[kind]] += n
				wantBad[[2]string{c, genReason[kind]}] += n
			}
		}
		t.Logf("gen: %d records, %d bad, %d duplicates; job: in %d, out %d, rejected %d, duplicates removed %d, %d maps, %.1fs",
			records, bad, dups, res.RecordsIn, res.RecordsOut, res.Rejected, res.DuplicatesRemoved, res.MapTasks, res.Seconds)
		if res.RecordsIn != records+bad {
			t.Errorf("records_in %d, gen wrote %d records + %d bad rows", res.RecordsIn, records, bad)
		}
		if res.Rejected != bad {
			t.Errorf("rejected %d, gen injected %d bad rows", res.Rejected, bad)
		}
		if res.DuplicatesRemoved != dups {
			t.Errorf("duplicates_removed %d, gen wrote %d later versions", res.DuplicatesRemoved, dups)
		}
		if res.RecordsOut != records-dups {
			t.Errorf("records_out %d, want gen's records %d - duplicates %d = %d", res.RecordsOut, records, dups, records-dups)
		}
		if !mapsEqual(res.RejectsByReason, wantReasons) {
			t.Errorf("rejects by reason %v; gen's bad rows by the reason they should get %v", res.RejectsByReason, wantReasons)
		}
		gotBad := map[[2]string]int64{}
		for _, r := range checkRejects(t, res) {
			rel, _ := filepath.Rel(corpus, r.File)
			city, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
			gotBad[[2]string{city, r.Reason}]++
		}
		for k, n := range wantBad {
			if gotBad[k] != n {
				t.Errorf("city %s: %d rejects for %s, gen injected %d", k[0], gotBad[k], k[1], n)
			}
		}
		for k, n := range gotBad {
			if _, ok := wantBad[k]; !ok {
				t.Errorf("city %s: %d unexpected rejects for %s", k[0], n, k[1])
			}
		}
		groups := readLake(t, spec.Output.Parquet, zones(spec))
		perCity := map[string]int64{}
		for k, rows := range groups {
			perCity[k.City] += int64(len(rows))
		}
		for _, c := range gen.Cities() {
			if want := st.Records[c] - st.Duplicates[c]; perCity[c] != want {
				t.Errorf("city %s: %d rows in the lake, gen's records - duplicates = %d", c, perCity[c], want)
			}
		}
		checkManifest(t, spec.Output.Parquet, counts(groups))
		checkSummaries(t, spec.Output.Parquet, groups)
	})

}

// TestNormalizeCancel cancels a job through RunLocal's context in its map phase and in its
// reduce phase: the run ends cancelled, and neither the lake nor the rejects output holds
// anything of it — no _temporary, no group, no rejects.
func TestNormalizeCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("a 32 MiB corpus: skipped under -short")
	}
	// RunLocal reports progress every 500ms; a corpus of this size keeps each phase busy for
	// longer than that even on an idle machine.
	corpus := t.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Dir: corpus, Size: 32 << 20, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		phase string
		split string // small splits draw the map phase out, large ones the reduce phase
	}{
		{"map", "16KiB"},
		{"reduce", "256KiB"},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			dir := t.TempDir()
			spec := writeSpec(t, dir, jobDef{schemas: gen.AustinSchema, inputs: genInputs(corpus), ratio: 0.05, split: tc.split,
				parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var (
				at       Progress  // the progress report at which the test cancelled
				cancelAt time.Time // when
			)
			res, err := runJob(t, ctx, spec, LocalConfig{Progress: func(j JobStatus) {
				p := j.Progress
				// The chain check is map work: it counts as the map phase, as in the result.
				if ph := p.Phase.timedAs(); ctx.Err() != nil || ph == Queued || ph == Planning || ph == Mapping && (p.MapsDone == 0 || tc.phase != "map") {
					return
				}
				at, cancelAt = p, time.Now()
				cancel()
			}})
			if at.Phase.timedAs().String() != tc.phase {
				t.Fatalf("no progress report in the %s phase before the job ended (%s; cancelled at %+v)", tc.phase, res.Status, at)
			}
			t.Logf("cancelled in phase %s after %d of %d map tasks, %d of %d reduce tasks; RunLocal returned %.1fs later",
				at.Phase, at.MapsDone, at.MapsTotal, at.ReducesDone, at.ReducesTotal, time.Since(cancelAt).Seconds())
			if err == nil || res.Status != Cancelled || !strings.Contains(err.Error(), context.Canceled.Error()) {
				t.Fatalf("status %s, error %v; want cancelled", res.Status, err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %q does not wrap context.Canceled (it crossed the cluster protocol as text)", err)
			}
			noTemporary(t, spec.Output.Parquet)
			noTemporary(t, spec.Output.Rejects)
			for _, root := range []string{spec.Output.Parquet, spec.Output.Summaries} {
				if entries, _ := os.ReadDir(root); len(entries) > 0 {
					t.Errorf("a cancelled job left %d entries in %s, e.g. %s", len(entries), root, entries[0].Name())
				}
			}
			if _, err := os.Stat(res.Outputs.Rejects); err == nil {
				// coordinator/job.go: countMaps calls commitRejects before the reduce phase, so
				// a job that ends after its map phase has replaced the rejects of the last
				// successful run with its own.
				t.Errorf("a cancelled job committed its rejects to %s", res.Outputs.Rejects)
			}
		})
	}
}

// A reduce task opens every map output at once (worker.RunReduce fetches all sources before
// merging), so a job with more map tasks than the process may open files fails — and the
// EMFILE is taken for a lost map output, so map tasks that are fine are re-run first.
// The test lowers the open-file limit so that a few hundred map tasks show it.
func TestNormalizeManyMapOutputsFewFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of map tasks: skipped under -short")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString(tinyHeader)
	for i := 0; b.Len() < 400<<10; i++ {
		b.WriteString(tinyRow(i))
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := writeSpec(t, dir, jobDef{schemas: tinySchema, reducers: 1, ratio: 0, split: "1KiB",
		inputs:  []inputDef{{"tiny", in, "tiny", ""}},
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	lim := old
	lim.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)

	res, err := runJob(t, context.Background(), spec, LocalConfig{Workers: 1})
	if err != nil {
		t.Fatalf("%d map tasks under a limit of %d open files: %v (retries %d)", res.MapTasks, lim.Cur, err, res.Retries)
	}
	if res.RecordsOut != res.RecordsIn || res.Retries != 0 {
		t.Errorf("records in %d out %d, retries %d", res.RecordsIn, res.RecordsOut, res.Retries)
	}
}

// BenchmarkRunLocal runs the normalize job end to end over generated corpora of several
// sizes: a local cluster started per run, every format of every city, the lake and the
// rejects committed. b.SetBytes makes the MB/s the input read per second.
func BenchmarkRunLocal(b *testing.B) {
	for _, size := range []int64{1 << 20, 4 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("size=%dMiB", size>>20), func(b *testing.B) {
			corpus := b.TempDir()
			st, err := gen.Generate(context.Background(), gen.Options{Dir: corpus, Size: size, Seed: 7})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Bytes)
			for b.Loop() {
				dir := b.TempDir()
				spec := writeSpec(b, dir, jobDef{schemas: gen.AustinSchema, inputs: genInputs(corpus), ratio: 0.05, split: "4MiB",
					parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
				if _, err := RunLocal(context.Background(), spec, LocalConfig{Dir: dir, StartWorker: startWorker}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
