package coordinator

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
	"github.com/ireports/ireports/worker"
)

// realInputs are the inputs of normalize.job, with absolute paths under data.
func realInputs(data string) []inputDef {
	return []inputDef{
		{"nyc_portal", filepath.Join(data, "nyc", "portal_*.csv"), "nyc", ""},
		{"nyc_soda_csv", filepath.Join(data, "nyc", "soda_*.csv"), "nyc", ""},
		{"nyc_soda_json", filepath.Join(data, "nyc", "soda_*.json"), "nyc", "soda-json"},
		{"la", filepath.Join(data, "la"), "la", ""},
		{"sf", filepath.Join(data, "sf"), "sf", ""},
		{"boston", filepath.Join(data, "boston"), "boston", ""},
		{"baltimore", filepath.Join(data, "baltimore"), "baltimore", ""},
		{"chicago", filepath.Join(data, "chicago"), "chicago", ""},
		{"kansas_city", filepath.Join(data, "kansas_city"), "kansas_city", ""},
		{"dc", filepath.Join(data, "dc"), "dc", ""},
		{"st_louis", filepath.Join(data, "st_louis"), "st_louis", ""},
	}
}

// runJob runs spec on a local cluster whose data dirs are in a directory of the test.
//
// It does not check that map outputs are gone when RunLocal returns: workers delete an
// ended job's outputs at their next heartbeat, and RunLocal shuts its cluster down first, so
// with a caller-given Dir the last job's outputs stay until the next cluster's workers
// start there.
func runJob(t testing.TB, ctx context.Context, spec *jobs.Spec, cfg LocalConfig) (*Result, error) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.StartWorker == nil {
		cfg.StartWorker = startWorker
	}
	res, err := RunLocal(ctx, spec, cfg)
	if res == nil {
		t.Fatalf("RunLocal returned a nil Result (err %v)", err)
	}
	return res, err
}

// The helpers shared with the command line's tests are package jobtest's; these names keep
// this package's tests reading as they did.

var (
	copyTree    = jobtest.CopyTree
	zones       = jobtest.Zones
	readLake    = jobtest.ReadLake
	counts      = jobtest.Counts
	equalCounts = jobtest.EqualCounts
	diffCounts  = jobtest.DiffCounts
)

// inputDef is one input block of a job file written by a test (a jobtest.InputDef).
type inputDef struct {
	name, path, schema, format string
}

// jobDef is a job file written by a test (a jobtest.JobDef).
type jobDef struct {
	name     string // default "normalize"
	split    string // default "64MiB"
	reducers int    // default 8
	ratio    float64
	inputs   []inputDef
	parquet  string
	rejects  string
	schemas  string // extra top-level blocks (schema definitions)
	endpoint string // S3 endpoint attribute, if any
	postgres string // output.postgres, if any
}

func (j jobDef) def() jobtest.JobDef {
	d := jobtest.JobDef{Name: j.name, Split: j.split, Reducers: j.reducers, Ratio: j.ratio,
		Parquet: j.parquet, Rejects: j.rejects, Schemas: j.schemas, Endpoint: j.endpoint, Postgres: j.postgres}
	for _, in := range j.inputs {
		d.Inputs = append(d.Inputs, jobtest.InputDef{Name: in.name, Path: in.path, Schema: in.schema, Format: in.format})
	}
	return d
}

// source is the job file's text.
func (j jobDef) source() string { return j.def().Source() }

// writeSpec writes j as a job file in dir and parses it the way `coordinator run` does.
func writeSpec(t testing.TB, dir string, j jobDef) *jobs.Spec {
	t.Helper()
	return jobtest.WriteSpec(t, dir, j.def())
}

// startWorker starts a worker.Daemon for a LocalCluster, as internal/localcluster's
// StartWorker does for `coordinator run` (which this package's tests cannot import: it
// imports this package).
func startWorker(cfg LocalWorkerConfig) (LocalWorker, error) {
	wc := worker.LocalConfig()
	wc.Name, wc.Join, wc.DataDir, wc.Slots = cfg.Name, cfg.Join, cfg.DataDir, cfg.Slots
	wc.Key, wc.Token, wc.Log = cfg.Key, cfg.Token, cfg.Log
	wc.AllowPaths, wc.AnyPath = cfg.AllowPaths, cfg.AnyPath
	d, err := worker.Start(wc)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// checkAccounting checks the invariant every job run must keep.
func checkAccounting(t testing.TB, res *Result) {
	t.Helper()
	if out := res.RecordsOut + res.Rejected + res.DuplicatesRemoved; res.RecordsIn+res.RecordsCarried != out {
		t.Errorf("records_in %d + records_carried %d != records_out %d + rejected %d + duplicates_removed %d",
			res.RecordsIn, res.RecordsCarried, res.RecordsOut, res.Rejected, res.DuplicatesRemoved)
	}
	var byReason int64
	for _, n := range res.RejectsByReason {
		byReason += n
	}
	if byReason != res.Rejected {
		t.Errorf("rejects_by_reason %v sums to %d, rejected is %d", res.RejectsByReason, byReason, res.Rejected)
	}
	if res.Version != version.Version() {
		t.Errorf("result version %q, want this build's %q", res.Version, version.Version())
	}
}

// expectation is what a job must produce, computed without the engine: files read whole
// with encoding/csv (or encoding/json and ScanSODA), normalized with the schemas,
// de-duplicated by (city, request_id) keeping the newest version, grouped by Key.
type expectation struct {
	in, rejected, dups int64
	groups             map[record.Key][]lake.Row // sorted as the lake sorts them
}

// listFiles resolves an input path the way job files document it: a glob, a directory
// (recursively, without hidden or underscore names) or a file; sorted.
func listFiles(t testing.TB, path string) []string {
	t.Helper()
	var files []string
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			t.Fatal(err)
		}
		files = m
	} else if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if !fi.IsDir() {
		files = []string{path}
	} else {
		filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != path && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
	}
	slices.Sort(files)
	return files
}

// expect computes the expectation of spec from its input files.
func expect(t testing.TB, spec *jobs.Spec) expectation {
	t.Helper()
	type idKey struct{ city, id string }
	var (
		e      = expectation{groups: map[record.Key][]lake.Row{}}
		newest = map[idKey]*record.Request{}
		order  []idKey // first-seen order, so the result does not depend on map iteration
	)
	keep := func(r *record.Request) {
		k := idKey{r.City, r.RequestID}
		old, ok := newest[k]
		switch {
		case !ok:
			order = append(order, k)
			newest[k] = r
		case r.Newer(old):
			newest[k] = r
			e.dups++
		default:
			e.dups++
		}
	}
	fileIndex := 0
	for _, in := range spec.Inputs {
		for _, file := range listFiles(t, in.Path) {
			fi := uint64(fileIndex)
			fileIndex++
			if in.Format.String() == "soda-json" {
				expectSODA(t, file, in.Schema, fi, &e, keep)
				continue
			}
			expectCSV(t, file, in.Schema, fi, &e, keep)
		}
	}
	for _, k := range order {
		r := newest[k]
		e.groups[r.Key()] = append(e.groups[r.Key()], lake.ToRow(r))
	}
	for _, rows := range e.groups {
		slices.SortFunc(rows, func(a, b lake.Row) int {
			return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), strings.Compare(a.RequestID, b.RequestID))
		})
	}
	return e
}

func expectCSV(t testing.TB, file string, s *jobs.Schema, fileIndex uint64, e *expectation, keep func(*record.Request)) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1 // ragged records are the normalizer's to reject
	header, err := cr.Read()
	if err == io.EOF {
		return
	}
	if err != nil {
		t.Fatalf("%s: header: %v", file, err)
	}
	norm, err := s.Bind(header)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for i := uint64(0); ; i++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: encoding/csv cannot read record %d: %v", file, i, err)
		}
		fields := make([][]byte, len(rec))
		for j, v := range rec {
			fields[j] = []byte(v)
		}
		e.in++
		r := new(record.Request)
		if err := norm.Normalize(fields, r); err != nil {
			e.rejected++
			continue
		}
		// The record index orders versions within a file as the byte offset does.
		r.Ord = fileIndex<<40 | i
		keep(r)
	}
}

func expectSODA(t testing.TB, file string, s *jobs.Schema, fileIndex uint64, e *expectation, keep func(*record.Request)) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var all []json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	e.in += int64(len(all))
	norm := s.BindJSON()
	n := 0
	err = jobs.ScanSODA(strings.NewReader(string(b)), func(offset int64, raw []byte) error {
		n++
		r := new(record.Request)
		if err := norm.NormalizeJSON(raw, r); err != nil {
			e.rejected++
			return nil
		}
		r.Ord = fileIndex<<40 | uint64(offset)
		keep(r)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: ScanSODA: %v", file, err)
	}
	if n != len(all) {
		t.Fatalf("%s: ScanSODA saw %d objects, encoding/json %d", file, n, len(all))
	}
}

// checkManifest checks root's _SUCCESS: it lists exactly the groups want (with their row
// counts), and for them every file on disk — data and summaries, each in its tree — with a
// matching size and sha256, and no file that is not there.
func checkManifest(t testing.TB, root string, want map[record.Key]int) *lake.Manifest {
	t.Helper()
	m, err := lake.ReadManifest(root)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	got := map[record.Key]int{}
	for _, g := range m.Groups {
		got[record.Key{City: g.City, Year: g.Year, Month: g.Month}] = int(g.Rows)
	}
	if !equalCounts(got, want) {
		t.Errorf("manifest groups differ from the lake's: %s", diffCounts(got, want))
	}
	sums, legacy := m.SummariesRoot(root)
	if legacy {
		t.Fatalf("manifest of %s names no summaries", root)
	}
	if !slices.Equal(m.Summaries.Tables, lake.SummaryTables) {
		t.Errorf("manifest summary tables %v, want %v", m.Summaries.Tables, lake.SummaryTables)
	}
	for _, tree := range []struct {
		root  string
		files []lake.File
		dirs  func(record.Key) []string
	}{
		{root, m.Files, func(k record.Key) []string { return []string{lake.GroupPath(k)} }},
		{sums, m.Summaries.Files, func(k record.Key) (dirs []string) {
			for _, table := range lake.SummaryTables {
				dirs = append(dirs, lake.SummaryGroupPath(table, k))
			}
			return dirs
		}},
	} {
		listed := map[string]bool{}
		for _, f := range tree.files {
			listed[f.Path] = true
			sum, n := hashFile(t, filepath.Join(tree.root, filepath.FromSlash(f.Path)))
			if sum != f.SHA256 || n != f.Bytes {
				t.Errorf("manifest file %s: sha256 %s, %d bytes; on disk %s, %d bytes", f.Path, f.SHA256, f.Bytes, sum, n)
			}
		}
		for k := range want {
			for _, dir := range tree.dirs(k) {
				files, _ := filepath.Glob(filepath.Join(tree.root, dir, "*"))
				if len(files) == 0 {
					t.Errorf("group %s: nothing in %s", k, filepath.Join(tree.root, dir))
				}
				for _, f := range files {
					rel, _ := filepath.Rel(tree.root, f)
					if !listed[filepath.ToSlash(rel)] {
						t.Errorf("file %s is not in the manifest", f)
					}
				}
			}
		}
	}
	return m
}

// checkSummaries checks each group's request_monthly table against the group's rows.
func checkSummaries(t testing.TB, root string, groups map[record.Key][]lake.Row) {
	t.Helper()
	m, err := lake.ReadManifest(root)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	sums, _ := m.SummariesRoot(root)
	for k, rows := range groups {
		path := filepath.Join(sums, lake.SummaryGroupPath(summary.TableMonthly, k), lake.PartFile(0))
		monthly, err := lake.ReadParquet[lake.MonthlyRow](path)
		if err != nil {
			t.Errorf("group %s: %v", k, err)
			continue
		}
		var requests, closed int64
		for _, m := range monthly {
			requests += m.Requests
			closed += m.Closed
		}
		var wantClosed int64
		for _, r := range rows {
			if r.Status == "closed" {
				wantClosed++
			}
		}
		if requests != int64(len(rows)) || closed != wantClosed {
			t.Errorf("group %s: request_monthly sums to %d requests, %d closed; the group has %d rows, %d closed",
				k, requests, closed, len(rows), wantClosed)
		}
	}
}

// compareGroups reports the first differing row of each group that differs.
func compareGroups(t testing.TB, what string, got, want map[record.Key][]lake.Row) {
	t.Helper()
	if !equalCounts(counts(got), counts(want)) {
		t.Errorf("%s: %s", what, diffCounts(counts(got), counts(want)))
	}
	bad := 0
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			continue // reported above
		}
		for i := range w {
			if !reflect.DeepEqual(g[i], w[i]) {
				if bad++; bad <= 5 {
					t.Errorf("%s: group %s row %d:\n got %s\nwant %s", what, k, i, rowString(g[i]), rowString(w[i]))
				}
				break
			}
		}
	}
}

func rowString(r lake.Row) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// hashFile returns the sha256 and size of a file.
func hashFile(t testing.TB, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// hashOutput hashes the trees of a job's lake and summaries (see hashTree), by slash path
// relative to their parent, so "requests/city=…" and "summaries/request_monthly/city=…".
func hashOutput(t testing.TB, lakeRoot, summaries string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range []string{lakeRoot, summaries} {
		for rel, sum := range hashTree(t, root) {
			out[filepath.Base(root)+"/"+rel] = sum
		}
	}
	return out
}

// hashTree returns the sha256 of every file under root but the _SUCCESS manifest (its job id
// and time differ between runs), by slash path relative to root.
func hashTree(t testing.TB, root string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != lake.SuccessFile {
			sums[filepath.ToSlash(rel)], _ = hashFile(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// readRejects reads every line of the job's committed rejects files and checks that each
// names its file, offset, reason and raw text.
func readRejects(t testing.TB, dir string) []worker.Reject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var all []worker.Reject
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if line == "" {
				continue
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &fields); err != nil {
				t.Fatalf("%s line %d: %v", f, i+1, err)
			}
			for _, name := range []string{"file", "offset", "reason", "raw"} {
				if _, ok := fields[name]; !ok {
					t.Errorf("%s line %d: no %q: %s", f, i+1, name, line)
				}
			}
			var r worker.Reject
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s line %d: %v", f, i+1, err)
			}
			if r.File == "" || r.Reason == "" || r.Raw == "" || r.Offset < 0 {
				t.Errorf("%s line %d: empty file, reason or raw, or negative offset: %s", f, i+1, line)
			}
			all = append(all, r)
		}
	}
	return all
}

// checkRejects checks the committed rejects of a run against its Result.
func checkRejects(t testing.TB, res *Result) []worker.Reject {
	t.Helper()
	rejects := readRejects(t, res.Outputs.Rejects)
	if int64(len(rejects)) != res.Rejected {
		t.Errorf("%d reject lines in %s, Result.Rejected %d", len(rejects), res.Outputs.Rejects, res.Rejected)
	}
	byReason := map[string]int64{}
	for _, r := range rejects {
		byReason[r.Reason]++
	}
	if !reflect.DeepEqual(byReason, res.RejectsByReason) && (len(byReason) > 0 || len(res.RejectsByReason) > 0) {
		t.Errorf("reject lines by reason %v, Result.RejectsByReason %v", byReason, res.RejectsByReason)
	}
	return rejects
}

// noTemporary fails the test if root holds a _temporary directory.
func noTemporary(t testing.TB, root string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, lake.TemporaryDir)); !errors.Is(err, fs.ErrNotExist) {
		entries, _ := os.ReadDir(filepath.Join(root, lake.TemporaryDir))
		t.Errorf("%s/%s left behind (%d entries; stat: %v)", root, lake.TemporaryDir, len(entries), err)
	}
}
