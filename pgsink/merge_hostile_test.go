package pgsink_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/internal/localcluster"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
)

// The property of this file: an incremental (merge mode) run over hostile records leaves the
// lake and the published summaries exactly as one full run over all the records would. A
// full job writes the first day's hostile records of every schema; a merge job then reads
// the second day's: new versions of existing requests (updated later, at the same time,
// earlier, with no updated_at, and one created in another month), new requests in existing
// groups and in new ones, all with hostile values. A third job, a full run over both days
// into its own lake and database, is the reference.

// mergeHostileRecords is how many first-day records each schema gets.
const mergeHostileRecords = 80

// versionKinds are the ways a second-day version of a first-day request differs from it.
// "twice" is two second-day versions, the later one updated at the same time as the first:
// the one read last wins. "since" is a version with an updated_at of a request first seen
// without one; "rejected" one the normalizer rejects (an agency too long for PostgreSQL's
// index), which must leave the lake's version alone.
var versionKinds = []string{"later", "equal", "earlier", "missing", "since", "twice", "rejected", "moved"}

// hostileDay is one day's records of one schema, as written to its CSV file.
type hostileDay struct {
	h    *pgsink.HostileSchema
	recs [][][]byte
	// json, if set, is the records as a SODA JSON page, the file written instead of CSV.
	json []byte
}

func TestHostileMergeMatchesFullRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and local clusters: skipped under -short")
	}
	pg := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	seed := uint64(7)
	// For exploring: HOSTILE_SEED changes the records.
	if v, err := strconv.ParseUint(os.Getenv("HOSTILE_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewPCG(311, seed))

	var day1, day2 []hostileDay
	for i, h := range pgsink.HostileSchemas(t) {
		d1, d2 := hostileDays(rng, h, mergeHostileRecords)
		if i%2 == 1 {
			// The second day as SODA JSON, as a daily pull stores it.
			d2.json = append(d2.json, '[')
			for j, r := range d2.recs {
				if j > 0 {
					d2.json = append(d2.json, ",\n"...)
				}
				d2.json = append(d2.json, h.Object(r, true, rng)...)
			}
			d2.json = append(d2.json, ']')
		}
		day1, day2 = append(day1, d1), append(day2, d2)
	}
	in1 := writeDays(t, filepath.Join(dir, "in1"), "day1.csv", day1)
	in2 := writeDays(t, filepath.Join(dir, "in2"), "day2.csv", day2)
	inRef := writeDays(t, filepath.Join(dir, "ref"), "day1.csv", day1)
	writeDays(t, filepath.Join(dir, "ref"), "day2.csv", day2)

	fast := pgsink.DefaultConfig()
	fast.RetryDeadline, fast.BackoffInitial, fast.BackoffMax, fast.ConnectTimeout = 5*time.Second, 100*time.Millisecond, 500*time.Millisecond, time.Second
	run := func(spec *jobs.Spec) *coordinator.Result {
		t.Helper()
		res, err := coordinator.RunLocal(ctx, spec, coordinator.LocalConfig{Workers: 2, Dir: t.TempDir(), Publish: &fast, StartWorker: localcluster.StartWorker})
		if err != nil || res.Status != coordinator.Succeeded || res.Published != coordinator.Published {
			t.Fatalf("job %s: %v, status %q, published %q, warnings %q", spec.Name, err, res.Status, res.Published, res.Warnings)
		}
		if out := res.RecordsOut + res.Rejected + res.DuplicatesRemoved; res.RecordsIn+res.RecordsCarried != out {
			t.Errorf("job %s: records_in %d + carried %d != out %d + rejected %d + duplicates %d", spec.Name,
				res.RecordsIn, res.RecordsCarried, res.RecordsOut, res.Rejected, res.DuplicatesRemoved)
		}
		return res
	}

	lakeInc, lakeRef := filepath.Join(dir, "out-inc", "lake"), filepath.Join(dir, "out-ref", "lake")
	dbInc, dbRef := pg.CreateDatabase(t, "merge_inc"), pg.CreateDatabase(t, "merge_ref")
	res1 := run(hostileSpec(t, dir, "day1", in1, day1, lakeInc, dbInc, false))
	firstLake := lakeVersions(t, lakeInc)
	res2 := run(hostileSpec(t, dir, "day2", in2, day2, lakeInc, dbInc, true))
	ref := run(hostileSpec(t, dir, "full", inRef, day1, lakeRef, dbRef, false))

	// What each run must count, from the records normalized here as a map task does.
	want := expectHostile(t, day1, day2)
	if res1.RecordsIn != want.in1 || res1.Rejected != want.rejected1 || res1.DuplicatesRemoved != 0 {
		t.Errorf("first run: in %d rejected %d duplicates %d; want %d, %d, 0", res1.RecordsIn, res1.Rejected, res1.DuplicatesRemoved, want.in1, want.rejected1)
	}
	if res2.RecordsIn != want.in2 || res2.Rejected != want.rejected2 {
		t.Errorf("merge run: in %d rejected %d; want %d, %d", res2.RecordsIn, res2.Rejected, want.in2, want.rejected2)
	}
	// The merge rewrites exactly the groups its kept records fall in: it carries their
	// first-run rows and writes their winners.
	var carried, out int64
	for k := range firstLake {
		if want.touched[k.group] {
			carried++
		}
	}
	for k := range want.winners {
		if want.touched[k.group] {
			out++
		}
	}
	if res2.Groups != len(want.touched) || res2.RecordsCarried != carried || res2.RecordsOut != out {
		t.Errorf("merge run: %d groups, %d carried, %d out; want %d, %d, %d", res2.Groups, res2.RecordsCarried, res2.RecordsOut,
			len(want.touched), carried, out)
	}
	if ref.RecordsIn != want.in1+want.in2 || ref.Rejected != want.rejected1+want.rejected2 || ref.RecordsOut != int64(len(want.winners)) {
		t.Errorf("full run: in %d rejected %d out %d; want %d, %d, %d", ref.RecordsIn, ref.Rejected, ref.RecordsOut,
			want.in1+want.in2, want.rejected1+want.rejected2, len(want.winners))
	}
	t.Logf("second-day versions that met their first (\"rejected\": rejected by the normalizer): %v; of which won: %v", want.contests, want.won)
	for _, kind := range versionKinds[:7] { // "rejected": versions rejected
		if want.contests[kind] < 5 {
			t.Errorf("only %d %q versions met their first-day version: the test no longer covers them", want.contests[kind], kind)
		}
	}
	t.Logf("first run: %d in, %d rejected; merge run: %d in, %d carried, %d duplicates, %d out, %d groups; full run: %d out",
		res1.RecordsIn, res1.Rejected, res2.RecordsIn, res2.RecordsCarried, res2.DuplicatesRemoved, res2.RecordsOut, res2.Groups, ref.RecordsOut)

	// compare checks the lakes and the databases against the expectation and each other.
	compare := func(when string) {
		t.Helper()
		t.Logf("checking %s", when)
		// Every request's winning version is the expected one, in both lakes.
		for name, root := range map[string]string{"merge": lakeInc, "full": lakeRef} {
			got := lakeVersions(t, root)
			for k, v := range want.winners {
				if got[k] != v {
					t.Errorf("%s lake: request %q in %s holds version %q, want %q", name, k.id, k.group, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := want.winners[k]; !ok {
					t.Errorf("%s lake: request %q in %s (version %q) is not expected", name, k.id, k.group, v)
				}
			}
		}

		// The lakes are the same files, byte for byte (the manifest and _SUCCESS aside: they
		// name the runs).
		inc, full := lakeFiles(t, lakeInc), lakeFiles(t, lakeRef)
		for p, h := range full {
			if inc[p] != h {
				t.Errorf("lake file %s differs after the merge from the full run's", p)
			}
		}
		for p := range inc {
			if _, ok := full[p]; !ok {
				t.Errorf("lake file %s is not in the full run's lake", p)
			}
		}

		// The published summaries are the same.
		gInc, gRef := jobtest.GroupDigests(t, dbInc), jobtest.GroupDigests(t, dbRef)
		for g, d := range gRef {
			if gInc[g] != d {
				t.Errorf("group %s: the summaries published after the merge differ from the full run's", g)
			}
		}
		for g := range gInc {
			if _, ok := gRef[g]; !ok {
				t.Errorf("group %s: published after the merge, not by the full run", g)
			}
		}
	}
	compare("after the merge")

	// A known gap, counted here and not judged: a version created in another month than the
	// request's earlier one ("moved") falls in another group, and the reducers de-duplicate
	// within a group, so a full run and a merge alike keep both versions, each counted in
	// its month's summaries, where DESIGN.md's reduce step says (city, request_id).
	moved := map[string][]string{}
	for k, v := range lakeVersions(t, lakeRef) {
		city, _, _ := strings.Cut(k.group, string(filepath.Separator))
		moved[city+"|"+k.id] = append(moved[city+"|"+k.id], v)
	}
	twice := 0
	for _, vs := range moved {
		if len(vs) > 1 {
			twice++
		}
	}
	t.Logf("%d requests are in two groups of the full run's lake (a later version created in another month)", twice)

	// The same second day merged again (a daily run retried after its publish failed)
	// changes nothing: each version of the job ties with, or loses to, the lake's.
	again := run(hostileSpec(t, dir, "day2_again", in2, day2, lakeInc, dbInc, true))
	if again.RecordsIn != res2.RecordsIn || again.RecordsOut != res2.RecordsOut || again.Groups != res2.Groups {
		t.Errorf("the merge run again: in %d out %d groups %d; the first time %d, %d, %d",
			again.RecordsIn, again.RecordsOut, again.Groups, res2.RecordsIn, res2.RecordsOut, res2.Groups)
	}
	compare("after the same merge again")
}

// hostileDays makes n first-day records of h and the second day's: a version of some of
// them of each kind, new requests in the first day's groups, and new requests.
func hostileDays(rng *rand.Rand, h *pgsink.HostileSchema, n int) (hostileDay, hostileDay) {
	d1, d2 := hostileDay{h: h}, hostileDay{h: h}
	clone := func(f [][]byte) [][]byte {
		c := make([][]byte, len(f))
		for i := range f {
			c[i] = bytes.Clone(f[i])
		}
		return c
	}
	base := time.Date(2024, 3, 10, 12, 0, 0, 123456789, h.Schema().Location)
	for i := range n {
		f := h.Gen(rng, i)
		h.Set(f, "agency", fmt.Sprintf("v1.%d.", i)+h.Get(f, "agency"))
		if i%3 == 0 && h.Has("updated_at") {
			// A known updated_at, which the second day's versions are set against.
			h.Set(f, "updated_at", h.Format(rng, "updated_at", base.Add(time.Duration(i)*time.Minute)))
		}
		kind := versionKinds[(i/3)%len(versionKinds)]
		if i%3 == 0 && kind == "since" {
			h.Set(f, "updated_at", "")
		}
		d1.recs = append(d1.recs, f)
		if i%3 != 0 {
			continue
		}
		v := clone(f)
		h.Set(v, "agency", fmt.Sprintf("v2.%d.%s.", i, kind)+pgsink.HostileText(rng))
		h.Set(v, "status", []string{"closed", "Closed", "CLOSED", "open"}[rng.IntN(4)])
		at := base.Add(time.Duration(i) * time.Minute)
		switch kind {
		case "later":
			h.Set(v, "updated_at", h.Format(rng, "updated_at", at.Add(time.Hour)))
		case "equal": // the same text as the first day's
		case "earlier":
			h.Set(v, "updated_at", h.Format(rng, "updated_at", at.Add(-time.Hour)))
		case "missing":
			h.Set(v, "updated_at", "")
		case "since":
			h.Set(v, "updated_at", h.Format(rng, "updated_at", at))
		case "rejected":
			h.Set(v, "updated_at", h.Format(rng, "updated_at", at.Add(time.Hour)))
			h.Set(v, "agency", fmt.Sprintf("v2.%d.%s.", i, kind)+lettersOf(rng, 3000))
		case "twice":
			h.Set(v, "updated_at", h.Format(rng, "updated_at", at.Add(time.Hour)))
			again := clone(v)
			h.Set(again, "agency", fmt.Sprintf("v2.%d.again.", i)+pgsink.HostileText(rng))
			d2.recs = append(d2.recs, v, again)
			continue
		case "moved":
			h.Set(v, "created_at", h.Format(rng, "created_at", base.AddDate(0, -2, 0)))
		}
		d2.recs = append(d2.recs, v)
	}
	for i := range n / 2 {
		f := h.Gen(rng, 100000+i)
		h.Set(f, "agency", fmt.Sprintf("v1.%d.", 100000+i)+h.Get(f, "agency"))
		if i%2 == 0 {
			// In a group of the first day.
			h.Set(f, "created_at", h.Get(d1.recs[rng.IntN(len(d1.recs))], "created_at"))
		}
		d2.recs = append(d2.recs, f)
	}
	return d1, d2
}

// lettersOf returns n random letters: text that no compression makes short.
func lettersOf(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// writeDays writes each schema's records as dir/<schema>/name and returns dir.
func writeDays(t *testing.T, dir, name string, days []hostileDay) string {
	t.Helper()
	for _, d := range days {
		sub := filepath.Join(dir, d.h.Schema().Name)
		if d.json != nil {
			sub += "_json"
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if d.json != nil {
			if err := os.WriteFile(filepath.Join(sub, strings.TrimSuffix(name, ".csv")+".json"), d.json, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write(d.h.Header())
		for _, r := range d.recs {
			row := make([]string, len(r))
			for i := range r {
				row[i] = string(r[i])
			}
			w.Write(row)
		}
		w.Flush()
		if err := w.Error(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// hostileSpec is a job over dir/<schema> for each schema of days; the custom schemas, which
// a job file cannot name, are added to the parsed spec.
func hostileSpec(t *testing.T, dir, name, in string, days []hostileDay, parquet, db string, merge bool) *jobs.Spec {
	type input struct {
		name, path, format string
		s                  *jobs.Schema
	}
	var inputs []input
	for _, d := range days {
		s := d.h.Schema()
		if d.json != nil {
			inputs = append(inputs, input{s.Name + "_json", filepath.Join(in, s.Name+"_json"), "soda-json", s})
		} else {
			inputs = append(inputs, input{s.Name, filepath.Join(in, s.Name), "", s})
		}
	}
	if extra, err := os.ReadDir(in); err == nil && len(extra) > len(inputs) {
		// The full run reads both days: a schema's CSV first, then its JSON.
		inputs = inputs[:0]
		for _, d := range days {
			s := d.h.Schema()
			inputs = append(inputs, input{s.Name, filepath.Join(in, s.Name), "", s})
			if _, err := os.Stat(filepath.Join(in, s.Name+"_json")); err == nil {
				inputs = append(inputs, input{s.Name + "_json", filepath.Join(in, s.Name+"_json"), "soda-json", s})
			}
		}
	}
	t.Helper()
	var b strings.Builder
	mode := ""
	if merge {
		mode = "  mode = \"merge\"\n"
	}
	fmt.Fprintf(&b, "job %q {\n%s  reducers = 3\n  max_reject_ratio = 1\n", name, mode)
	var custom []input
	for _, in := range inputs {
		if _, ok := jobs.Builtin(in.s.Name); !ok {
			custom = append(custom, in)
			continue
		}
		fmt.Fprintf(&b, "  input %q {\n    path = %q\n    schema = %q\n", in.name, in.path, in.s.Name)
		if in.format != "" {
			fmt.Fprintf(&b, "    format = %q\n", in.format)
		}
		b.WriteString("  }\n")
	}
	fmt.Fprintf(&b, "  output {\n    parquet = %q\n    rejects = %q\n    postgres = %q\n  }\n}\n", parquet, parquet+"_rejects_"+name, db)
	p := filepath.Join(dir, name+".job")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.ParseFile(p)
	if err != nil {
		t.Fatalf("%s:\n%s\n%v", p, b.String(), err)
	}
	for _, in := range custom {
		var format jobs.Format
		if in.format != "" {
			if format, err = jobs.ParseFormat(in.format); err != nil {
				t.Fatal(err)
			}
		}
		spec.Schemas[in.s.Name] = in.s
		spec.Inputs = append(spec.Inputs, jobs.Input{Name: in.name, Path: in.path, SchemaName: in.s.Name, Schema: in.s, Format: format})
	}
	return spec
}

// versionKey is a request in a group's directory of the lake.
type versionKey struct{ group, id string }

// hostileWant is what the runs must produce.
type hostileWant struct {
	in1, rejected1, in2, rejected2 int64
	winners                        map[versionKey]string // the version marker of each request's winner
	// contests counts, by version kind, the second-day versions that met their first-day
	// version in a group, and how many of them won.
	contests, won map[string]int
	touched       map[string]bool // the groups of the second day's kept records
}

// expectHostile normalizes the records read back from CSV as a map task does, and keeps
// the newest version of each request in its group (compared as the shuffle encodes them).
func expectHostile(t *testing.T, day1, day2 []hostileDay) hostileWant {
	t.Helper()
	w := hostileWant{winners: map[versionKey]string{}, contests: map[string]int{}, won: map[string]int{}, touched: map[string]bool{}}
	newest := map[versionKey]record.Request{}
	for dayIdx, days := range [][]hostileDay{day1, day2} {
		for _, d := range days {
			norm, err := d.h.Schema().Bind(d.h.Header())
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			cw := csv.NewWriter(&buf)
			for _, r := range d.recs {
				row := make([]string, len(r))
				for i := range r {
					row[i] = string(r[i])
				}
				cw.Write(row)
			}
			cw.Flush()
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			// normalize returns record i normalized, as CSV or as SODA JSON.
			normalize := func(i int, r *record.Request) error {
				fields := make([][]byte, len(rows[i]))
				for j := range rows[i] {
					fields[j] = []byte(rows[i][j])
				}
				return norm.Normalize(fields, r)
			}
			if d.json != nil {
				var objs []error
				var reqs []record.Request
				jn := d.h.Schema().BindJSON()
				err := jobs.ScanSODAObjects(bytes.NewReader(d.json), func(_ int64, o *jobs.SODAObject) error {
					var r record.Request
					objs = append(objs, jn.NormalizeObject(o, &r))
					reqs = append(reqs, r)
					return nil
				})
				if err != nil || len(objs) != len(rows) {
					t.Fatalf("schema %s: %d SODA objects of %d records: %v", d.h.Schema().Name, len(objs), len(rows), err)
				}
				normalize = func(i int, r *record.Request) error {
					*r = reqs[i]
					return objs[i]
				}
			}
			for i := range rows {
				var r record.Request
				err := normalize(i, &r)
				if dayIdx == 0 {
					w.in1++
				} else {
					w.in2++
				}
				if err != nil {
					if strings.HasPrefix(d.h.Get(d.recs[i], "agency"), "v2.") && strings.Contains(marker(d.h.Get(d.recs[i], "agency")), ".rejected") {
						w.contests["rejected"]++
					}
					if dayIdx == 0 {
						w.rejected1++
					} else {
						w.rejected2++
					}
					continue
				}
				enc := shuffle.AppendRequest(nil, &r)
				var dec record.Request
				if _, err := shuffle.DecodeRequest(enc, &dec); err != nil {
					t.Fatal(err)
				}
				dec.Ord = uint64(dayIdx)<<40 | uint64(i)
				k := versionKey{lake.GroupPath(dec.Key()), dec.RequestID}
				if dayIdx == 1 {
					w.touched[k.group] = true
				}
				old, ok := newest[k]
				if ok {
					kind := strings.TrimPrefix(marker(dec.Agency), "v2.")
					kind = kind[strings.IndexByte(kind, '.')+1:]
					if !slices.Contains(versionKinds, kind) && kind != "again" {
						kind = "marker garbled by JSON noise"
					}
					w.contests[kind]++
					if dec.Newer(&old) {
						w.won[kind]++
					}
				}
				if !ok || dec.Newer(&old) {
					newest[k] = dec
				}
			}
		}
	}
	for k, r := range newest {
		w.winners[k] = marker(r.Agency)
	}
	return w
}

// marker is the version marker at the start of an agency: "v1.<i>." or "v2.<i>.<kind>.".
func marker(agency string) string {
	parts := strings.SplitN(agency, ".", 4)
	if len(parts) < 3 {
		return "?" + agency
	}
	if parts[0] == "v2" && len(parts) == 4 {
		return strings.Join(parts[:3], ".")
	}
	return strings.Join(parts[:2], ".")
}

// lakeVersions reads every lake file under root: the version marker of each request.
func lakeVersions(t *testing.T, root string) map[versionKey]string {
	t.Helper()
	out := map[versionKey]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		rows, err := lake.ReadParquet[lake.Row](p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		for _, r := range rows {
			a := ""
			if r.Agency != nil {
				a = *r.Agency
			}
			k := versionKey{rel, r.RequestID}
			if _, dup := out[k]; dup {
				t.Errorf("lake %s: request %q twice in %s", root, r.RequestID, rel)
			}
			out[k] = marker(a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lakeFiles hashes the lake's Parquet files by path.
func lakeFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
