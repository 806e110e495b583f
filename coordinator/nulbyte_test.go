package coordinator

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/record"
)

// nulTarget is one injection of NUL bytes into a column of a record that is clean before it,
// or, with value set, the column's value replaced by value.
type nulTarget struct {
	column string // the CSV column or SODA key
	field  string // the normalized field it feeds; "" for a column no field reads
	reason string // the reject it must cause; "" when the record must be kept
	value  string // the value put in the column instead of NUL bytes, if not ""
}

// randomLetters returns n lower-case letters drawn from a fixed seed: text that does not
// compress.
func randomLetters(n int) string {
	rng := rand.New(rand.NewPCG(uint64(n), 311))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// inject returns v as the target changes it.
func (tg nulTarget) inject(v string) string {
	if tg.value != "" {
		return tg.value
	}
	return injectNUL(v)
}

// TestNULBytesDoNotBlockPublish runs real-format NYC exports (the portal CSV and a SODA JSON
// page, their first records) with NUL bytes injected into a request id, an agency, a
// complaint type, a descriptor, a status, a created date and an unread free-text column,
// through `coordinator run`'s code path into a real PostgreSQL. PostgreSQL's text type
// refuses NUL: before the normalizer rejected such records, one NUL in an agency made COPY
// fail and the job end unpublished. Now each record with a NUL in a kept field is one
// nul_byte reject, a NUL in a column no field reads is carried harmlessly, the invariant
// records_in = records_out + rejected + duplicates holds, and the summaries are published.
// Three more values that failed the publish ride along: a created date of year 0
// (time_out_of_range), one at the Unix epoch (epoch_time) and an agency too long for an index
// entry (value_too_long).
func TestNULBytesDoNotBlockPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and a local cluster: skipped under -short")
	}
	data := testenv.RealData(t)
	pg := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nyc, _ := jobs.Builtin("nyc")
	dir := t.TempDir()
	in := filepath.Join(dir, "nyc")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}

	csvTargets := []nulTarget{
		{"Unique Key", "request_id", jobs.ReasonNULByte, ""},
		{"Agency", "agency", jobs.ReasonNULByte, ""},
		{"Complaint Type", "request_type", jobs.ReasonNULByte, ""},
		{"Descriptor", "request_subtype", jobs.ReasonNULByte, ""}, // free text
		{"Status", "status", jobs.ReasonNULByte, ""},
		{"Created Date", "created_at", jobs.ReasonBadTimestamp, ""},
		{"Resolution Description", "", "", ""}, // free text no field reads
		// Not a NUL, but the same failure before the normalizer rejected it: a date of year 0,
		// which PostgreSQL has no date for, made agency_daily's COPY fail.
		{"Created Date", "created_at", jobs.ReasonTimeOutOfRange, "03/05/0000 09:30:00 AM"},
		// The Unix epoch in New York: the shuffle's encoding of a missing time, so the record
		// reached its reducer with no creation date and its agency_daily row outside its group.
		{"Created Date", "created_at", jobs.ReasonEpochTime, "12/31/1969 07:00:00 PM"},
		// An agency or complaint type too long for PostgreSQL's index entries (its letters
		// random, so that no compression makes it fit) failed the publish too; one of the
		// longest allowed is published.
		{"Agency", "agency", jobs.ReasonValueTooLong, randomLetters(3000)},
		{"Complaint Type", "request_type", "", randomLetters(jobs.MaxKeyText)},
	}
	csvPath := filepath.Join(in, "portal.csv")
	csvIDs := writeNULCSV(t, filepath.Join(data, "nyc", "portal_2011_subset.csv"), csvPath, 300, nyc, csvTargets)

	sodaTargets := []nulTarget{
		{"unique_key", "request_id", jobs.ReasonNULByte, ""},
		{"agency", "agency", jobs.ReasonNULByte, ""},
		{"complaint_type", "request_type", jobs.ReasonNULByte, ""},
		{"descriptor", "request_subtype", jobs.ReasonNULByte, ""},
		{"resolution_description", "", "", ""},
	}
	sodaPath := filepath.Join(in, "soda.json")
	sodaIDs := writeNULSODA(t, filepath.Join(data, "nyc", "soda_erm2-nwe9_page.json"), sodaPath, 100, nyc, sodaTargets)

	def := jobDef{name: "nul", ratio: 0.1, reducers: 2, postgres: pg.URL,
		inputs: []inputDef{
			{"portal", csvPath, "nyc", ""},
			{"soda", sodaPath, "nyc", "soda-json"},
		},
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")}
	spec := writeSpec(t, dir, def)
	fast := pgsink.DefaultConfig()
	fast.RetryDeadline, fast.BackoffInitial, fast.BackoffMax, fast.ConnectTimeout = 2*time.Second, 100*time.Millisecond, 500*time.Millisecond, time.Second
	res, err := runJob(t, ctx, spec, LocalConfig{Workers: 2, Publish: &fast})
	if err != nil || res.Published != Published {
		t.Fatalf("job: %v, published %q, warnings %q", err, res.Published, res.Warnings)
	}
	groups := checkRun(t, spec, res, err, expect(t, spec))

	// The rejects: one per injection into a kept field, with its reason, field and file.
	want := map[string]int64{}
	wantLines := map[string]bool{} // file|field|reason
	for _, tg := range append(slices.Clone(csvTargets), sodaTargets...) {
		if tg.reason != "" {
			want[tg.reason]++
		}
	}
	for _, tg := range csvTargets {
		if tg.reason != "" {
			wantLines[csvPath+"|"+tg.field+"|"+tg.reason] = true
		}
	}
	for _, tg := range sodaTargets {
		if tg.reason != "" {
			wantLines[sodaPath+"|"+tg.field+"|"+tg.reason] = true
		}
	}
	if !mapsEqual(res.RejectsByReason, want) {
		t.Errorf("rejects by reason %v, want %v (the unmodified records are clean)", res.RejectsByReason, want)
	}
	for _, r := range checkRejects(t, res) {
		key := r.File + "|" + r.Field + "|" + r.Reason
		if !wantLines[key] {
			t.Errorf("unexpected reject %s (%s)", key, r.Error)
		}
		delete(wantLines, key)
		if !slices.Contains([]string{jobs.ReasonTimeOutOfRange, jobs.ReasonEpochTime, jobs.ReasonValueTooLong}, r.Reason) &&
			!strings.Contains(r.Raw, "\x00") && !strings.Contains(r.Raw, `\u0000`) {
			t.Errorf("reject %s: raw %q does not hold the record's NUL", key, r.Raw)
		}
	}
	for k := range wantLines {
		t.Errorf("no reject %s", k)
	}

	// The records with a NUL only in a column no field reads are in the lake.
	kept := map[string]bool{}
	for _, rows := range groups {
		for _, r := range rows {
			kept[r.RequestID] = true
		}
	}
	for _, id := range []string{csvIDs["Resolution Description"], sodaIDs["resolution_description"]} {
		if !kept[id] {
			t.Errorf("request %s (NUL in a column no field reads) is not in the lake", id)
		}
	}

	// Postgres has the summaries of every record written, and the run.
	db, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := monthlyTotal(t, db); got != res.RecordsOut {
		t.Errorf("request_monthly sums to %d requests; the job wrote %d records", got, res.RecordsOut)
	}
	var rin, rout, rejected int64
	var published sql.NullTime
	if err := db.QueryRow(`SELECT records_in, records_out, records_rejected, published_at FROM job_runs WHERE job_id = $1`, res.Job).
		Scan(&rin, &rout, &rejected, &published); err != nil || rin != res.RecordsIn || rout != res.RecordsOut || rejected != res.Rejected || !published.Valid {
		t.Errorf("job_runs row: in %d out %d rejected %d published %v (%v); want %d, %d, %d, published",
			rin, rout, rejected, published, err, res.RecordsIn, res.RecordsOut, res.Rejected)
	}
}

// writeNULCSV copies the header and first n records of a real CSV export to dst, putting NUL
// bytes into one column of each of the first clean records (one that s normalizes), a
// target per record. It returns the request id of each target's record by column.
func writeNULCSV(t *testing.T, src, dst string, n int, s *jobs.Schema, targets []nulTarget) map[string]string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	norm, err := s.Bind(header)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(header)
	ids := map[string]string{}
	next := 0
	for range n {
		rec, err := cr.Read()
		if err != nil {
			t.Fatal(err)
		}
		if next < len(targets) && cleanCSV(norm, rec) {
			tg := targets[next]
			col := slices.Index(header, tg.column)
			if col < 0 {
				t.Fatalf("%s has no column %q", src, tg.column)
			}
			var r record.Request
			norm.Normalize(fieldsOf(rec), &r)
			ids[tg.column] = r.RequestID
			rec[col] = tg.inject(rec[col])
			next++
		}
		cw.Write(rec)
	}
	cw.Flush()
	if next < len(targets) {
		t.Fatalf("%s: only %d clean records among the first %d", src, next, n)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// writeNULSODA is writeNULCSV for a SODA JSON page: the NUL bytes are written as \u0000, the
// only way valid JSON carries them.
func writeNULSODA(t *testing.T, src, dst string, n int, s *jobs.Schema, targets []nulTarget) map[string]string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	if err := json.Unmarshal(b, &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs) < n {
		t.Fatalf("%s holds %d objects, want %d", src, len(objs), n)
	}
	objs = objs[:n]
	norm := s.BindJSON()
	ids := map[string]string{}
	next := 0
	for _, o := range objs {
		if next == len(targets) {
			break
		}
		raw, _ := json.Marshal(o)
		var r record.Request
		if norm.NormalizeJSON(raw, &r) != nil {
			continue
		}
		tg := targets[next]
		v, ok := o[tg.column].(string)
		if !ok {
			continue // the key is absent here: try the next record
		}
		ids[tg.column] = r.RequestID
		o[tg.column] = tg.inject(v)
		next++
	}
	if next < len(targets) {
		t.Fatalf("%s: only %d clean records with the target keys among the first %d", src, next, n)
	}
	out, err := json.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`\u0000`)) {
		t.Fatal("encoding/json did not escape the NUL bytes")
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// injectNUL puts NUL bytes inside, before and after v.
func injectNUL(v string) string {
	h := len(v) / 2
	return "\x00" + v[:h] + "\x00" + v[h:] + "\x00"
}

func fieldsOf(rec []string) [][]byte {
	fields := make([][]byte, len(rec))
	for i, v := range rec {
		fields[i] = []byte(v)
	}
	return fields
}

// cleanCSV reports whether the record normalizes without a reject.
func cleanCSV(n *jobs.Normalizer, rec []string) bool {
	var r record.Request
	return n.Normalize(fieldsOf(rec), &r) == nil
}
