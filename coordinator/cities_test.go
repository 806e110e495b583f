package coordinator

// The cities added with issue 14 — Chicago, Kansas City, DC, St. Louis — end to end on their
// real exports, checked against counts the test works out from the CSV text alone, and the
// ten-city job template of make demo / make bench over a generated corpus.

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/gen"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/record"
)

// newCity says how to find, without the normalizer, a real file's request id and the
// (year, month) of its creation in the city's calendar.
type newCity struct {
	city  string
	files []string
	id    string
	month func(rec map[string]string) (int, int, error)
}

// monthOfText reads the year and month off the front of a local timestamp ("2021-01-01T…",
// "2011-01-03 08:12:24.0"): floating local time is already the city's calendar.
func monthOfText(col string) func(map[string]string) (int, int, error) {
	return func(rec map[string]string) (int, int, error) {
		v := rec[col]
		if len(v) < 7 || v[4] != '-' {
			return 0, 0, errors.New("not yyyy-mm…: " + v)
		}
		y, err1 := strconv.Atoi(v[:4])
		m, err2 := strconv.Atoi(v[5:7])
		return y, m, errors.Join(err1, err2)
	}
}

var newCities = []newCity{
	{"chicago", []string{"chicago/chicago311_soda_2021_first5000.csv"}, "sr_number", monthOfText("created_date")},
	{"chicago", []string{"chicago/chicago_legacy_lights_2011_2013_sample.csv"}, "Service Request Number", monthOfText("Creation Date")},
	{"kansas_city", []string{"kansas_city/kc311_beacon_hills_2007_2020.csv"}, "CASE ID", func(rec map[string]string) (int, int, error) {
		// "02/20/2020": month first.
		d := rec["CREATION DATE"]
		if len(d) != 10 {
			return 0, 0, errors.New("not mm/dd/yyyy: " + d)
		}
		y, err1 := strconv.Atoi(d[6:])
		m, err2 := strconv.Atoi(d[:2])
		return y, m, errors.Join(err1, err2)
	}},
	{"dc", []string{"dc/dc311_arcgis_2025_page1000.csv"}, "SERVICEREQUESTID", func(rec map[string]string) (int, int, error) {
		ms, err := strconv.ParseInt(rec["ADDDATE"], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			return 0, 0, err
		}
		t := time.UnixMilli(ms).In(ny)
		return t.Year(), int(t.Month()), nil
	}},
	{"st_louis", []string{"st_louis/stl_csb_2011.csv"}, "REQUESTID", monthOfText("DATETIMEINIT")},
}

func TestNormalizeNewCities(t *testing.T) {
	data := testenv.RealData(t)
	var (
		inputs []inputDef
		in     int64
		want   = map[record.Key]map[string]bool{} // group → request ids
		where  = map[[2]string]record.Key{}       // (city, id) → the group of its last version
	)
	for _, c := range newCities {
		for _, file := range c.files {
			f, err := os.Open(filepath.Join(data, file))
			if err != nil {
				t.Fatal(err)
			}
			r := csv.NewReader(f)
			header, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			for {
				row, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				in++
				rec := map[string]string{}
				for i, h := range header {
					rec[h] = row[i]
				}
				y, m, err := c.month(rec)
				if err != nil {
					t.Fatalf("%s: record %d: %v", file, in, err)
				}
				// The files have no updated_at where they repeat an id (St. Louis), so
				// the version read last wins, as de-duplication promises.
				where[[2]string{c.city, rec[c.id]}] = record.Key{City: c.city, Year: y, Month: m}
			}
			f.Close()
			inputs = append(inputs, inputDef{strings.ReplaceAll(strings.TrimSuffix(filepath.Base(file), ".csv"), ".", "_"),
				filepath.Join(data, file), c.city, ""})
		}
	}
	for k, g := range where {
		if want[g] == nil {
			want[g] = map[string]bool{}
		}
		want[g][k[1]] = true
	}

	dir := t.TempDir()
	spec := writeSpec(t, dir, jobDef{inputs: inputs, ratio: 0,
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
	res, err := runJob(t, context.Background(), spec, LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	dups := in - int64(len(where))
	t.Logf("%d records, %d distinct requests in %d groups; job: out %d, rejected %d, duplicates removed %d",
		in, len(where), len(want), res.RecordsOut, res.Rejected, res.DuplicatesRemoved)
	if res.RecordsIn != in || res.Rejected != 0 || res.DuplicatesRemoved != dups || res.RecordsOut != int64(len(where)) {
		t.Errorf("records_in %d rejected %d duplicates_removed %d records_out %d; the CSV text says %d records, 0 to reject, %d repeats, %d requests (rejects %v)",
			res.RecordsIn, res.Rejected, res.DuplicatesRemoved, res.RecordsOut, in, dups, len(where), res.RejectsByReason)
	}
	groups := readLake(t, spec.Output.Parquet, zones(spec))
	for k, ids := range want {
		var got []string
		for _, row := range groups[k] {
			got = append(got, row.RequestID)
		}
		if len(got) != len(ids) {
			t.Errorf("%v: %d rows in the lake, %d requests in the CSV", k, len(got), len(ids))
			continue
		}
		for _, id := range got {
			if !ids[id] {
				t.Errorf("%v: request %s is not one of the month's", k, id)
			}
		}
	}
	for k := range groups {
		if want[k] == nil {
			t.Errorf("%v: a group the CSV has no request in (%d rows)", k, len(groups[k]))
		}
	}
	checkManifest(t, spec.Output.Parquet, counts(groups))
	checkSummaries(t, spec.Output.Parquet, groups)
}

// TestCorpusJobTemplate runs scripts/corpus.job.in — make demo's and make bench's job — over
// a generated corpus: it must read every file of all ten cities (Austin by the schema the
// template defines, which must be gen.AustinSchema) and reject exactly gen's bad rows.
func TestCorpusJobTemplate(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join(root, "scripts", "corpus.job.in"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tmpl), gen.AustinSchema) {
		t.Fatal("scripts/corpus.job.in does not hold gen.AustinSchema verbatim")
	}
	dir := t.TempDir()
	st, err := gen.Generate(context.Background(), gen.Options{Dir: filepath.Join(dir, "data"), Size: 3 << 20, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "corpus.job")
	if err := os.WriteFile(job, []byte(strings.ReplaceAll(string(tmpl), "@CORPUS@", "data")), 0o644); err != nil {
		t.Fatal(err)
	}
	// As `coordinator run` reads it, with DATABASE_URL empty: the template publishes when set.
	spec, err := jobs.ParseFileWith(job, jobs.ParseOptions{Env: jobs.EnvPolicy{AllowAll: true,
		Lookup: func(string) (string, bool) { return "", false }}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runJob(t, context.Background(), spec, LocalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if res.Files != len(st.Files) {
		t.Errorf("the template's job read %d files, gen wrote %d", res.Files, len(st.Files))
	}
	var records, bad, dups int64
	for _, c := range gen.Cities() {
		records += st.Records[c]
		dups += st.Duplicates[c]
		for _, n := range st.Bad[c] {
			bad += n
		}
	}
	if res.RecordsIn != records+bad || res.Rejected != bad || res.DuplicatesRemoved != dups {
		t.Errorf("records_in %d rejected %d duplicates_removed %d; gen wrote %d records + %d bad rows, %d later versions",
			res.RecordsIn, res.Rejected, res.DuplicatesRemoved, records, bad, dups)
	}
	perCity := map[string]int64{}
	for k, rows := range readLake(t, spec.Output.Parquet, zones(spec)) {
		perCity[k.City] += int64(len(rows))
	}
	if len(gen.Cities()) != 10 || !slices.Contains(gen.Cities(), "austin") {
		t.Errorf("gen.Cities() = %v, want the nine built-in cities and austin", gen.Cities())
	}
	for _, c := range gen.Cities() {
		if want := st.Records[c] - st.Duplicates[c]; perCity[c] != want || want == 0 {
			t.Errorf("city %s: %d rows in the lake, gen's records - duplicates = %d", c, perCity[c], want)
		}
	}
}
