package jobs

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/crs"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
)

// sampleRows reads a real file's header and first n records as infer sees them.
func sampleRows(t testing.TB, path string, n int) ([]string, [][]string) {
	t.Helper()
	if !strings.HasSuffix(path, ".json") {
		return readCSV(t, path, n)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs [][]byte
	err = ScanSODA(bytes.NewReader(src), func(_ int64, raw []byte) error {
		if len(objs) < n {
			objs = append(objs, bytes.Clone(raw))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	header, rows, err := SODAToRows(objs)
	if err != nil {
		t.Fatal(err)
	}
	return header, rows
}

// inferredSchema parses an inferred schema's text as a job file would.
func inferredSchema(t testing.TB, inf *Inferred) *Schema {
	t.Helper()
	src := string(inf.HCL()) + fmt.Sprintf("job \"j\" {\n  input \"i\" {\n    path = \"x\"\n    schema = %q\n  }\n  output { parquet = \"o\" }\n}\n", inf.Options.Name)
	spec, err := Parse([]byte(src), "inferred.job")
	if err != nil {
		t.Fatalf("the inferred schema does not parse:\n%s\n%v", src, err)
	}
	return spec.Schemas[inf.Options.Name]
}

// detectFile detects a real file's dialects as the planner does, from its first records,
// and returns the schema with them.
func detectFile(t testing.TB, path string, s *Schema) *Schema {
	t.Helper()
	var ds []TimeDialect
	var err error
	if strings.HasSuffix(path, ".json") {
		d := s.NewJSONDetector()
		src, _ := os.ReadFile(path)
		ScanSODA(bytes.NewReader(src), func(_ int64, raw []byte) error {
			d.AddJSON(raw)
			return nil
		})
		ds, err = d.Detect()
	} else {
		header, rows := readCSV(t, path, -1)
		d := s.NewDetector(header)
		for _, r := range rows {
			if !d.Add(bs(r...)) {
				break
			}
		}
		ds, err = d.Detect()
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out, err := s.WithDialects(DialectLayouts(ds))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// normalized is what a record normalized to.
type normalized struct {
	id          string
	created     time.Time
	year, month int
	err         error
}

func normalizeFile(t testing.TB, path string, s *Schema) []normalized {
	t.Helper()
	format := FormatCSV
	if strings.HasSuffix(path, ".json") {
		format = FormatSODAJSON
	}
	var out []normalized
	forEachRecord(t, path, format, s, func(i int, r *record.Request, err error) {
		out = append(out, normalized{r.RequestID, r.CreatedAt, r.Year, r.Month, err})
	})
	return out
}

// TestInferRealFiles infers a schema for every real file with its city's built-in schema
// out of the vocabulary, parses the printed block, detects the file's dialects with it and
// normalizes every record: none may be rejected, and each must have the request id,
// creation time and partition month that the built-in schema gives it (or, for a city
// without one yet, that an independent reading of its id and creation columns gives).
func TestInferRealFiles(t *testing.T) {
	data := testenv.RealData(t)
	for _, c := range testenv.RealCities {
		files, _ := filepath.Glob(filepath.Join(data, c.Name, "*"))
		if len(files) == 0 {
			t.Errorf("%s: no files", c.Name)
		}
		for _, path := range files {
			rel, _ := filepath.Rel(data, path)
			t.Run(rel, func(t *testing.T) {
				header, rows := sampleRows(t, path, 1000)
				inf, err := InferSchema(header, rows, InferOptions{City: c.Name, Timezone: c.Timezone, Source: rel, Exclude: []string{c.Name}})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range inf.Fields {
					if f.Column != "" {
						t.Logf("%s ← %q (%.2f)", f.Field, f.Column, f.Confidence)
					}
				}
				s := detectFile(t, path, inferredSchema(t, inf))
				got := normalizeFile(t, path, s)
				dateOnly := inf.Fields[fCreatedAt].Dialect != nil && !strings.Contains(inf.Fields[fCreatedAt].Dialect.Layout, "%H")
				want := expectedRecords(t, path, rel, c.Name)
				if len(got) != len(want) {
					t.Fatalf("%d records, want %d", len(got), len(want))
				}
				bad := 0
				for i := range got {
					g, w := got[i], want[i]
					same := g.err == nil && w.err == nil && g.id == w.id && g.year == w.year && g.month == w.month
					if same && dateOnly {
						// A date-only creation column (Kansas City keeps the time of day in
						// another column) gives the right day, at local midnight.
						gy, gm, gd := g.created.In(s.Location).Date()
						wy, wm, wd := w.created.In(s.Location).Date()
						same = gy == wy && gm == wm && gd == wd
					} else if same {
						same = g.created.Equal(w.created)
					}
					if !same && (g.err == nil || w.err == nil) {
						if bad++; bad <= 5 {
							t.Errorf("record %d: inferred %+v, want %+v", i, g, w)
						}
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d records differ", bad, len(got))
				}
			})
		}
	}
}

// expectedRecords normalizes a file with its city's built-in schema or, without one, reads
// its id and creation columns independently.
func expectedRecords(t *testing.T, path, rel, city string) []normalized {
	t.Helper()
	if b, ok := Builtin(city); ok {
		return normalizeFile(t, path, b)
	}
	truth, ok := testenv.IndependentTruth[rel]
	if !ok {
		t.Fatalf("no built-in schema %q and no testenv.IndependentTruth for %s", city, rel)
	}
	t.Logf("no built-in schema %q (yet): checked against %s and %s read as %s", city, truth.ID, truth.Created, truth.Layout)
	var loc *time.Location
	for _, c := range testenv.RealCities {
		if c.Name == city {
			loc, _ = time.LoadLocation(c.Timezone)
		}
	}
	header, rows := readCSV(t, path, -1)
	id, created := indexOf(header, truth.ID), indexOf(header, truth.Created)
	var out []normalized
	for _, r := range rows {
		v := strings.TrimSpace(r[created])
		var ct time.Time
		var err error
		if truth.Layout == "unix_ms" {
			var ms int64
			_, err = fmt.Sscan(v, &ms)
			ct = time.UnixMilli(ms).UTC()
		} else {
			ct, err = time.ParseInLocation(truth.Layout, v, loc)
		}
		if err != nil {
			t.Fatalf("independent reading of %q: %v", v, err)
		}
		y, m, _ := ct.In(loc).Date()
		out = append(out, normalized{strings.TrimSpace(r[id]), ct.UTC(), y, int(m), nil})
	}
	return out
}

// spreadsheetLA rewrites the real LA export the way a spreadsheet saves it: times as
// "1/3/20 11:15" (month/day/2-digit year, 24-hour clock, no seconds).
func spreadsheetLA(t testing.TB, path string) []byte {
	t.Helper()
	header, rows := readCSV(t, path, -1)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	for _, r := range rows {
		for _, col := range []string{"CreatedDate", "UpdatedDate", "ServiceDate", "ClosedDate"} {
			i := indexOf(header, col)
			if r[i] == "" {
				continue
			}
			tm, err := time.Parse("01/02/2006 03:04:05 PM", r[i])
			if err != nil {
				t.Fatal(err)
			}
			r[i] = tm.Format("1/2/06 15:04")
		}
		w.Write(r)
	}
	w.Flush()
	return buf.Bytes()
}

// TestInferSpreadsheetLA infers the LA export as a spreadsheet saves it ("1/3/20 11:15"),
// which every Go layout of the built-in schema rejects: the inferred schema reads every
// record, at the built-in schema's creation time cut to the minute.
func TestInferSpreadsheetLA(t *testing.T) {
	orig := filepath.Join(testenv.RealData(t), "la", "myla311_2017_subset.csv")
	path := filepath.Join(t.TempDir(), "la.csv")
	if err := os.WriteFile(path, spreadsheetLA(t, orig), 0o644); err != nil {
		t.Fatal(err)
	}
	header, rows := sampleRows(t, path, 1000)
	inf, err := InferSchema(header, rows, InferOptions{City: "la", Timezone: "America/Los_Angeles", Exclude: []string{"la"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := inf.Fields[fCreatedAt].Dialect; inf.Fields[fCreatedAt].Column != "CreatedDate" || d == nil || d.Layout != "%m/%d/%y %H:%M" {
		t.Fatalf("created_at: %+v", inf.Fields[fCreatedAt])
	}
	got := normalizeFile(t, path, detectFile(t, path, inferredSchema(t, inf)))
	b, _ := Builtin("la")
	want := normalizeFile(t, orig, b)
	for i := range want {
		if got[i].err != nil || got[i].id != want[i].id || !got[i].created.Equal(want[i].created.Truncate(time.Minute)) ||
			got[i].year != want[i].year || got[i].month != want[i].month {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// The built-in schema's layouts read none of it.
	if n := normalizeFile(t, path, b); n[0].err == nil || !strings.Contains(n[0].err.Error(), ReasonBadTimestamp) {
		t.Fatalf("the built-in schema read %+v", n[0])
	}
}

// TestInferHostile infers schemas from files a user might not expect to work.
func TestInferHostile(t *testing.T) {
	rows := func(n int, f func(i int) []string) [][]string {
		var out [][]string
		for i := range n {
			out = append(out, f(i))
		}
		return out
	}
	t.Run("names that HCL would read as templates or escapes", func(t *testing.T) {
		header := []string{"id ${env(\"HOME\")}", "opened \"at\"\\", "status %{if}\n", "\x01dept"}
		inf, err := InferSchema(header, rows(20, func(i int) []string {
			return []string{fmt.Sprintf("A-%04d", i), fmt.Sprintf("2024-01-%02d 10:00:00", i+1), []string{"Open", "Closed"}[i%2], "DPW"}
		}), InferOptions{City: "x"})
		if err != nil {
			t.Fatal(err)
		}
		s := inferredSchema(t, inf)
		m := s.MatchHeader(header)
		for _, f := range m.Fields {
			if f.Column == "" {
				t.Errorf("field %s lost its column %v", f.Field, f.Candidates)
			}
		}
		if s.Timezone != "UTC" || !bytes.Contains(inf.HCL(), []byte("# TODO: the city's IANA time zone")) {
			t.Errorf("time zone %q without the TODO comment", s.Timezone)
		}
	})
	t.Run("no unique id", func(t *testing.T) {
		_, err := InferSchema([]string{"kind", "opened"}, rows(20, func(i int) []string {
			return []string{"same", fmt.Sprintf("2024-01-%02d", i+1)}
		}), InferOptions{})
		if err == nil || !strings.Contains(err.Error(), "no column can be request_id") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no timestamp", func(t *testing.T) {
		_, err := InferSchema([]string{"id", "when"}, rows(20, func(i int) []string {
			return []string{fmt.Sprint(i), "soon"}
		}), InferOptions{})
		if err == nil || !strings.Contains(err.Error(), "no column can be created_at") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("mixed dialects are no timestamp column", func(t *testing.T) {
		_, err := InferSchema([]string{"id", "created"}, rows(20, func(i int) []string {
			if i%2 == 0 {
				return []string{fmt.Sprint(i), "2024-01-02T10:00:00"}
			}
			return []string{fmt.Sprint(i), "1/2/2024 10:00 AM"}
		}), InferOptions{})
		if err == nil || !strings.Contains(err.Error(), "no column can be created_at") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no records", func(t *testing.T) {
		if _, err := InferSchema([]string{"id"}, nil, InferOptions{}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("bad options", func(t *testing.T) {
		r := rows(2, func(i int) []string { return []string{fmt.Sprint(i), "2024-01-02"} })
		for _, o := range []InferOptions{{Timezone: "Mars/Olympus"}, {City: "New York"}, {DateOrder: "ymd"}} {
			if _, err := InferSchema([]string{"id", "created"}, r, o); err == nil {
				t.Errorf("%+v: no error", o)
			}
		}
	})
	t.Run("ambiguous dates ask for the order", func(t *testing.T) {
		inf, err := InferSchema([]string{"id", "created"}, rows(12, func(i int) []string {
			return []string{fmt.Sprint(i), fmt.Sprintf("%02d/%02d/2024", i+1, 12-i)}
		}), InferOptions{DateOrder: DateOrderDMY})
		if err != nil {
			t.Fatal(err)
		}
		s := inferredSchema(t, inf)
		if s.DateOrder != DateOrderDMY || !inf.Fields[fCreatedAt].Dialect.Ambiguous {
			t.Fatalf("date_order %q, dialect %+v", s.DateOrder, inf.Fields[fCreatedAt].Dialect)
		}
	})
	t.Run("status vocabulary and placeholders", func(t *testing.T) {
		codes := []string{"RESOL", "OPEN", "CANC", "DUP", "ASSIG"}
		inf, err := InferSchema([]string{"CASE ID", "CREATION DATE", "STATUS", "LATITUDE", "LONGITUDE"}, rows(50, func(i int) []string {
			lat, lon := fmt.Sprintf("39.%04d", i), fmt.Sprintf("-94.%04d", i)
			if i%10 == 0 {
				lat, lon = "39", "-77"
			}
			return []string{fmt.Sprint(2020025504 + i), fmt.Sprintf("02/%02d/2020", 1+i%28), codes[i%5], lat, lon}
		}), InferOptions{City: "kc", Exclude: BuiltinNames()})
		if err != nil {
			t.Fatal(err)
		}
		st := inf.Fields[fStatus]
		if st.Column != "STATUS" || !slices.Equal(st.Closed, []string{"RESOL"}) || !slices.Equal(st.Open, []string{"ASSIG", "OPEN"}) ||
			!slices.Equal(st.Other, []string{"CANC", "DUP"}) {
			t.Errorf("status: %+v", st)
		}
		if inf.Fields[fRequestID].Column != "CASE ID" || inf.Fields[fCreatedAt].Column != "CREATION DATE" {
			t.Errorf("id %q, created %q: a ten-digit id is not a time", inf.Fields[fRequestID].Column, inf.Fields[fCreatedAt].Column)
		}
		if len(inf.Placeholders) != 1 || inf.Placeholders[0] != [2]float64{39, -77} {
			t.Errorf("placeholders %v", inf.Placeholders)
		}
		s := inferredSchema(t, inf)
		if len(s.PlaceholderPoints) != 1 {
			t.Errorf("placeholder_points %v", s.PlaceholderPoints)
		}
	})
}

// TestInferVocabularyFromRegistry checks that names come from the built-in schemas: a
// column named as a built-in names it is found with full confidence, and is not when that
// schema is left out.
func TestInferVocabularyFromRegistry(t *testing.T) {
	header := []string{"ServiceRequestNum", "CreatedDate", "SRType"}
	var r [][]string
	for i := range 12 {
		types := []string{"TRT-Traffic Signal Repairs", "ECC-Vehicle Look Up", "SW-Dirty Alley"}
		r = append(r, []string{fmt.Sprintf("18-%08d", 269879+i), fmt.Sprintf("04/%02d/2018 11:11:26 AM", 12+i), types[i%3]})
	}
	with, err := InferSchema(header, r, InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	without, err := InferSchema(header, r, InferOptions{Exclude: []string{"baltimore"}})
	if err != nil {
		t.Fatal(err)
	}
	if f := with.Fields[fRequestType]; f.Column != "SRType" || !strings.Contains(f.Why, `name as in baltimore's "SRType"`) {
		t.Errorf("with baltimore: %+v", f)
	}
	if f := without.Fields[fRequestType]; strings.Contains(f.Why, "baltimore") {
		t.Errorf("without baltimore: %+v", f)
	}
}

func TestSODAToRows(t *testing.T) {
	header, rows, err := SODAToRows([][]byte{[]byte(`{"a":"1","b":null,"c":{"x":1}}`), []byte(`{"b":"2","a":3.5}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(header, []string{"a", "c", "b"}) || !slices.Equal(rows[0], []string{"1", `{"x":1}`, ""}) || !slices.Equal(rows[1], []string{"3.5", "", "2"}) {
		t.Fatalf("%q %q", header, rows)
	}
	if _, _, err := SODAToRows([][]byte{[]byte(`{"a":1}`), []byte(`[1]`)}); !errors.Is(err, ErrMalformedJSON) || !strings.Contains(err.Error(), "object 2") {
		t.Fatalf("got %v", err)
	}
}

// inferCSV writes header and rows as a CSV file, infers its schema (time zone
// America/Chicago), and normalizes every record with the printed block, its dialects
// detected as the planner detects them.
func inferCSV(t *testing.T, header []string, rows [][]string) (*Inferred, *Schema, []*record.Request) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.csv")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	w.WriteAll(rows)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	inf, err := InferSchema(header, rows, InferOptions{City: "c", Timezone: "America/Chicago", Exclude: BuiltinNames()})
	if err != nil {
		t.Fatal(err)
	}
	s := detectFile(t, path, inferredSchema(t, inf))
	var recs []*record.Request
	forEachRecord(t, path, FormatCSV, s, func(i int, r *record.Request, err error) {
		if err != nil {
			t.Errorf("record %d: %v", i+1, err)
		}
		c := *r
		recs = append(recs, &c)
	})
	return inf, s, recs
}

// TestInferJoinsTimeOfDay checks that a date-only creation column is joined with the column
// of its times of day (as Kansas City's "CREATION DATE" and "CREATION TIME") only when the
// block can name both and every sampled record has both or neither; that the block parses,
// its records carry the time of day, and the time column is not listed as unread; and that
// otherwise the block keeps the day only and says why.
func TestInferJoinsTimeOfDay(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	rows := func(times ...string) [][]string {
		var out [][]string
		for i, tm := range times {
			date := fmt.Sprintf("01/%02d/2024", i+5)
			if tm == "-" {
				date, tm = "", ""
			}
			out = append(out, []string{fmt.Sprint(101 + i), date, tm})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		header []string
		rows   [][]string
		layout string // the joined dialect; "" when not joined
		why    string // in the block
	}{
		{"24-hour", []string{"id", "CREATION DATE", "CREATION TIME"}, rows("07:28", "23:15", "00:00"),
			"%m/%d/%Y %H:%M", `"CREATION TIME" holds the time of day of "CREATION DATE"'s dates`},
		{"12-hour", []string{"id", "CREATION DATE", "CREATION TIME"}, rows("07:28 AM", "11:15 PM", "12:00 AM"),
			"%m/%d/%Y %I:%M %p", `field "created_at" { columns = [["CREATION DATE", "CREATION TIME"]] }`},
		{"names with quotes, templates, escapes and a newline", []string{"id", "created \"date\" ${x}", "created \"time\"\\ %{y}\n"},
			rows("07:28", "23:15", "00:00"), "%m/%d/%Y %H:%M", `columns = [["created \"date\" $${x}", "created \"time\"\\ %%{y}\n"]]`},
		{"a date without its time", []string{"id", "CREATION DATE", "CREATION TIME"}, [][]string{{"1", "01/05/2024", "07:28"}, {"2", "01/06/2024", ""}},
			"", `but sampled record 2 has the date "01/06/2024" without a time of day: this field keeps the day only (local midnight)`},
		{"a name not UTF-8", []string{"id", "CREATION DATE", "CREATION TIME \xff"}, rows("07:28", "23:15"),
			"", "a schema block cannot name both columns"},
		{"a name another column has in another case", []string{"id", "creation time", "CREATION DATE", "CREATION TIME"},
			[][]string{{"1", "x", "01/05/2024", "07:28"}, {"2", "y", "01/06/2024", "23:15"}}, "", "a schema block cannot name both columns"},
		{"a time with two dates", []string{"id", "sr open date", "sr close date", "sr time"},
			[][]string{{"1", "01/05/2024", "01/06/2024", "07:28"}, {"2", "01/06/2024", "01/09/2024", "23:15"}}, "", `"sr time" goes with another date column too`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inf, s, recs := inferCSV(t, tc.header, tc.rows)
			block := string(inf.HCL())
			f := inf.Fields[fCreatedAt]
			if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(block, "#", "")), " "), tc.why) {
				t.Errorf("the block lacks %q:\n%s", tc.why, block)
			}
			sf, _ := s.Field("created_at")
			if tc.layout == "" {
				if f.Joined != nil || f.NotJoined == "" || len(sf.Columns) != 1 || len(sf.Columns[0]) != 1 {
					t.Fatalf("joined %q (%q), columns %q:\n%s", f.Joined, f.NotJoined, sf.Columns, block)
				}
				return
			}
			if !slices.Equal(f.Joined, tc.header[1:3]) || f.Dialect.Layout != tc.layout || f.NotJoined != "" ||
				len(sf.Columns) != 1 || !slices.Equal(sf.Columns[0], tc.header[1:3]) {
				t.Fatalf("joined %q, dialect %+v, columns %q:\n%s", f.Joined, f.Dialect, sf.Columns, block)
			}
			if strings.Contains(block, "Columns no field reads") || strings.Contains(block, "local midnight") {
				t.Errorf("the block calls a column unread, or keeps the day only:\n%s", block)
			}
			for i, r := range recs {
				row := tc.rows[i]
				layout := "01/02/2006 15:04"
				if strings.HasSuffix(row[2], "M") {
					layout = "01/02/2006 03:04 PM"
				}
				want, err := time.ParseInLocation(layout, row[1]+" "+row[2], chicago)
				if err != nil {
					t.Fatal(err)
				}
				if !r.CreatedAt.Equal(want) {
					t.Errorf("record %d: created %v, want %v", i+1, r.CreatedAt, want)
				}
			}
		})
	}
	t.Run("records with neither", func(t *testing.T) {
		var rows [][]string
		for i := range 10 {
			closed, tm := fmt.Sprintf("01/%02d/2024", i+10), fmt.Sprintf("%02d:30", i+8)
			if i%3 == 0 {
				closed, tm = "", ""
			}
			rows = append(rows, []string{fmt.Sprint(101 + i), fmt.Sprintf("01/%02d/2024", i+1), closed, tm})
		}
		inf, _, recs := inferCSV(t, []string{"id", "CREATION DATE", "CLOSED DATE", "CLOSED TIME"}, rows)
		if f := inf.Fields[fClosedAt]; !slices.Equal(f.Joined, []string{"CLOSED DATE", "CLOSED TIME"}) || f.Nulls != 4 {
			t.Fatalf("closed_at %+v:\n%s", f, inf.HCL())
		}
		for i, r := range recs {
			if want := rows[i][2] + " " + rows[i][3]; r.ClosedAt.IsZero() != (i%3 == 0) ||
				i%3 != 0 && r.ClosedAt.In(chicago).Format("01/02/2006 15:04") != want {
				t.Errorf("record %d: closed %v, want %q", i+1, r.ClosedAt, want)
			}
		}
	})
}

// TestInferIntegerFloats checks that integer_floats is set when, and only when, a column that
// a field it applies to reads holds integers written as floats and no real fraction.
func TestInferIntegerFloats(t *testing.T) {
	header := []string{"id", "created", "zip", "dept", "count"}
	for _, tc := range []struct {
		name string
		col  func(i int) (zip, dept, count string)
		want []IntegerFloat
	}{
		{"zip codes as floats, one null", func(i int) (string, string, string) {
			if i == 3 {
				return "", "1", "1"
			}
			return fmt.Sprintf("6410%d.0", i%10), "1", "1"
		}, []IntegerFloat{{Field: "zip", Column: "zip", Example: "64100.0", Count: 19, Values: 19}}},
		{"a department code, some as floats", func(i int) (string, string, string) {
			return "64108", []string{"10", "20.0", "30.00"}[i%3], "1"
		}, []IntegerFloat{{Field: "agency", Column: "dept", Example: "20.0", Count: 13, Values: 20}}},
		{"a department code with real fractions", func(i int) (string, string, string) {
			return "64108", []string{"1.5", "2.0", "3.0"}[i%3], "1"
		}, nil},
		{"floats in a column no field reads", func(i int) (string, string, string) { return "64108", "1", "3.0" }, nil},
		{"integers", func(i int) (string, string, string) { return "64108", "1", "3" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rows [][]string
			for i := range 20 {
				zip, dept, count := tc.col(i)
				rows = append(rows, []string{fmt.Sprint(1000 + i), fmt.Sprintf("2024-01-%02dT10:00:00", i+1), zip, dept, count})
			}
			inf, s, recs := inferCSV(t, header, rows)
			if !slices.Equal(inf.IntegerFloats, tc.want) || s.IntegerFloats != (tc.want != nil) {
				t.Fatalf("integer floats %+v, integer_floats %v; want %+v:\n%s", inf.IntegerFloats, s.IntegerFloats, tc.want, inf.HCL())
			}
			js, err := json.Marshal(inf)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(js, []byte(`"integer_floats"`)) != (tc.want != nil) {
				t.Errorf("JSON %s", js)
			}
			for i, r := range recs {
				if tc.want != nil && tc.want[0].Field == "zip" && r.Zip != "" && r.Zip != fmt.Sprintf("6410%d", i%10) {
					t.Errorf("record %d: zip %q", i+1, r.Zip)
				}
				if tc.want != nil && tc.want[0].Field == "agency" && (r.Agency == "" || strings.Contains(r.Agency, ".")) {
					t.Errorf("record %d: agency %q", i+1, r.Agency)
				}
			}
		})
	}
}

// TestInferSampleLimits checks that the block says what its sample cannot show: status
// values it did not see are read as "other", and placeholder points are found only as
// whole-degree points seen twice.
func TestInferSampleLimits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		placeholder bool
		want        []string
	}{
		{"a placeholder seen twice", true, []string{`placeholder_points = [[39, -77]]`, "Only such points are found in a sample: add any point"}},
		{"no placeholder", false, []string{`No placeholder point ("no location") found`, "as placeholder_points = [[lat, lon]]."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rows [][]string
			for i := range 20 {
				lat, lon := fmt.Sprintf("39.%04d", i+1), fmt.Sprintf("-94.%04d", i+1)
				if tc.placeholder && i < 2 {
					lat, lon = "39", "-77"
				}
				rows = append(rows, []string{fmt.Sprint(100 + i), fmt.Sprintf("2024-01-%02dT10:00:00", i+1), []string{"Open", "Closed"}[i%2], lat, lon})
			}
			inf, s, _ := inferCSV(t, []string{"id", "created", "status", "latitude", "longitude"}, rows)
			block := strings.Join(strings.Fields(strings.ReplaceAll(string(inf.HCL()), "#", "")), " ")
			tc.want = append(tc.want, `Only the values of the 20 records sampled are listed: any other value (a built-in schema lists those of a city's whole export) is read as "other".`)
			for _, w := range tc.want {
				if !strings.Contains(block, w) {
					t.Errorf("the block lacks %q:\n%s", w, inf.HCL())
				}
			}
			if len(s.PlaceholderPoints) != boolInt(tc.placeholder) {
				t.Errorf("placeholder_points %v", s.PlaceholderPoints)
			}
		})
	}
	// A block that reads no location says nothing of placeholders.
	inf, err := InferSchema([]string{"id", "created"}, [][]string{{"1", "2024-01-05T10:00:00"}}, InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(inf.HCL(), []byte("placeholder")) {
		t.Errorf("the block speaks of placeholders:\n%s", inf.HCL())
	}
}

// xyRows are n records of a file whose location is x/y columns: id, created, then the
// columns cols returns for record i.
func xyRows(n int, cols func(i int) []string) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = append([]string{fmt.Sprint(1000 + i), fmt.Sprintf("2024-01-%02dT10:%02d:00", 1+i%28, i%60)}, cols(i)...)
	}
	return out
}

// projectedIn writes record i's point, spread over a few kilometres around lat/lon, in the
// named system, as exports write it ("880839.00000000").
func projectedIn(t *testing.T, name string, lat, lon float64, i int) (x, y string, plat, plon float64) {
	t.Helper()
	c, err := crs.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	plat, plon = lat+float64(i%7)*0.01, lon+float64(i%11)*0.01
	xv, yv := c.FromLatLon(plat, plon)
	return strconv.FormatFloat(xv, 'f', 8, 64), strconv.FormatFloat(yv, 'f', 8, 64), plat, plon
}

// TestInferProjectedXY infers a point from x/y columns: the one supported system that places
// every sampled point in its area, of a zone's feet and metres variants the one whose unit
// the numbers are in, zip codes to settle between neighbouring zones, and the point
// commented out with a TODO when no system or several fit. Latitude/longitude stay the
// location when they are filled; hostile values neither panic nor make a block that rejects
// records.
func TestInferProjectedXY(t *testing.T) {
	const chiLat, chiLon, stlLat, stlLon = 41.80, -87.75, 38.55, -90.30
	type point struct{ lat, lon float64 }
	for _, tc := range []struct {
		name     string
		header   []string
		cols     func(t *testing.T, i int) ([]string, *point) // the record's columns and the point it holds
		crs      string                                       // the point's crs, "" when none is printed
		cands    []string                                     // Candidates
		inBlock  string                                       // in the block, spaces and '#' squeezed
		xy       bool                                         // the point field reads x/y (or shows them commented out)
		location float64                                      // the share of records with a location
	}{
		{"Illinois East feet", []string{"id", "created", "XCOORD", "YCOORD"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, la, lo := projectedIn(t, "EPSG:3435", chiLat, chiLon, i)
			return []string{x, y}, &point{la, lo}
		}, "EPSG:3435", []string{"EPSG:3435"}, `crs = "EPSG:3435"`, true, 1},
		{"Illinois East metres", []string{"id", "created", "X_COORDINATE", "Y_COORDINATE"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, la, lo := projectedIn(t, "EPSG:26971", chiLat, chiLon, i)
			return []string{x, y}, &point{la, lo}
		}, "EPSG:26971", []string{"EPSG:26971"}, `crs = "EPSG:26971"`, true, 1},
		{"Missouri East feet and zips", []string{"id", "created", "SRX", "SRY", "zip"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, la, lo := projectedIn(t, "ESRI:102696", stlLat, stlLon, i)
			return []string{x, y, fmt.Sprint(63101 + i%20)}, &point{la, lo}
		}, "ESRI:102696", []string{"ESRI:102696"}, `"zip") are in Missouri`, true, 1},
		// Without zips, Missouri East feet around St. Louis land in central Illinois under
		// Illinois East feet: both fit.
		{"Missouri East feet, no zips", []string{"id", "created", "SRX", "SRY"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, _, _ := projectedIn(t, "ESRI:102696", stlLat, stlLon, i)
			return []string{x, y}, nil
		}, "", []string{"EPSG:3435", "ESRI:102696"}, `TODO: uncomment with the crs of the city's exports: one of "EPSG:3435", "ESRI:102696". field "point" {`, true, 0},
		{"no system fits", []string{"id", "created", "point_x", "point_y"}, func(t *testing.T, i int) ([]string, *point) {
			return []string{fmt.Sprint(5e6 + float64(i)), fmt.Sprint(6e6 + float64(i))}, nil
		}, "", nil, "TODO: none of the supported systems", true, 0},
		{"latitude and longitude filled", []string{"id", "created", "latitude", "longitude", "X", "Y"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, la, lo := projectedIn(t, "EPSG:3435", chiLat, chiLon, i)
			return []string{fmt.Sprintf("%.6f", la), fmt.Sprintf("%.6f", lo), x, y}, &point{la, lo}
		}, "", nil, `field "latitude" { columns = ["latitude"] }`, false, 1},
		{"latitude and longitude mostly empty", []string{"id", "created", "latitude", "longitude", "X", "Y"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, la, lo := projectedIn(t, "EPSG:3435", chiLat, chiLon, i)
			if i%5 != 0 {
				return []string{"", "", x, y}, &point{la, lo}
			}
			return []string{fmt.Sprintf("%.6f", la), fmt.Sprintf("%.6f", lo), x, y}, &point{la, lo}
		}, "EPSG:3435", []string{"EPSG:3435"}, `field "latitude" { columns = ["latitude"] }`, true, 1},
		{"degrees in x/y", []string{"id", "created", "X", "Y"}, func(t *testing.T, i int) ([]string, *point) {
			return []string{fmt.Sprintf("%.6f", chiLon+float64(i)/1000), fmt.Sprintf("%.6f", chiLat)}, nil
		}, "", nil, "", false, 0},
		{"text in x", []string{"id", "created", "XCOORD", "YCOORD"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, _, _ := projectedIn(t, "EPSG:3435", chiLat, chiLon, i)
			if i == 3 {
				x = "unknown"
			}
			return []string{x, y}, nil
		}, "", nil, "", false, 0},
		{"infinity and NaN", []string{"id", "created", "XCOORD", "YCOORD"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, _, _ := projectedIn(t, "EPSG:3435", chiLat, chiLon, i)
			switch i {
			case 3:
				x = "Inf"
			case 4:
				y = "NaN"
			}
			return []string{x, y}, nil
		}, "", nil, "", false, 0},
		// A few huge values: 98% of points inside is below minInside.
		{"huge values", []string{"id", "created", "XCOORD", "YCOORD"}, func(t *testing.T, i int) ([]string, *point) {
			x, y, _, _ := projectedIn(t, "EPSG:3435", chiLat, chiLon, i)
			if i%50 == 7 {
				x = "1e308"
			}
			return []string{x, y}, nil
		}, "", nil, "TODO: none of the supported systems", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []*point
			rows := xyRows(100, func(i int) []string {
				c, p := tc.cols(t, i)
				want = append(want, p)
				return c
			})
			inf, _, recs := inferCSV(t, tc.header, rows)
			p := inf.Fields[fPoint]
			block := strings.Join(strings.Fields(strings.ReplaceAll(string(inf.HCL()), "#", "")), " ")
			if p.CRS != tc.crs || !slices.Equal(p.Candidates, tc.cands) || (p.X != "") != tc.xy || !strings.Contains(block, tc.inBlock) {
				t.Errorf("crs %q, candidates %v, x %q; want %q, %v, x/y %v, and %q in the block:\n%s", p.CRS, p.Candidates, p.X, tc.crs, tc.cands, tc.xy, tc.inBlock, inf.HCL())
			}
			if unread := strings.Contains(block, fmt.Sprintf("%q", p.X)+",") && p.X != "" && strings.Contains(block, "Columns no field reads"); p.CRS != "" && unread {
				_, list, _ := strings.Cut(block, "Columns no field reads")
				if strings.Contains(list, fmt.Sprintf("%q", p.X)) {
					t.Errorf("the block lists %q as unread:\n%s", p.X, inf.HCL())
				}
			}
			located := 0
			for i, r := range recs {
				if !r.HasLocation {
					continue
				}
				located++
				w := want[i]
				if w == nil {
					t.Fatalf("record %d: located at %v,%v, want no location", i, r.Latitude, r.Longitude)
				}
				// 1e-5 degrees is about a metre.
				if math.Abs(r.Latitude-w.lat) > 1e-5 || math.Abs(r.Longitude-w.lon) > 1e-5 {
					t.Errorf("record %d: %v,%v, want %v,%v", i, r.Latitude, r.Longitude, w.lat, w.lon)
				}
			}
			if got := float64(located) / float64(len(recs)); got != tc.location {
				t.Errorf("%.2f of records located, want %.2f", got, tc.location)
			}
		})
	}
}

// TestCRSZipPrefixes checks that every supported system's title names a state whose zip
// prefixes infer knows, so that zip codes can settle between neighbouring zones.
func TestCRSZipPrefixes(t *testing.T) {
	for _, c := range crs.All() {
		if crsState(c) == "" {
			t.Errorf("%s (%s): no state with zip prefixes", c.Name(), c.Title())
		}
	}
	for _, tc := range []struct {
		zip, state string
		in         bool
	}{{"63109", "Missouri", true}, {"62201", "Missouri", false}, {"62201", "Illinois", true}, {"20003", "Maryland", true}, {"20101", "Maryland", false}, {"11201", "New York", true}, {"abcde", "Illinois", false}, {"6", "Illinois", false}, {"", "Missouri", false}} {
		if got := inState(tc.zip, tc.state); got != tc.in {
			t.Errorf("inState(%q, %q) = %v, want %v", tc.zip, tc.state, got, tc.in)
		}
	}
}

// TestXYNames pairs columns named alike but for an x and a y at the start or end of a word.
func TestXYNames(t *testing.T) {
	for _, tc := range []struct {
		x, y string
		want bool
	}{
		{"SRX", "SRY", true}, {"X", "Y", true}, {"XCOORD", "YCOORD", true}, {"X_COORDINATE", "Y_COORDINATE", true},
		{"point_x", "point_y", true}, {"xCoord", "yCoord", true}, {"X Coordinate (State Plane)", "Y Coordinate (State Plane)", true},
		{"Y", "X", false}, {"X", "X", false}, {"taxes", "tayes", false}, {"XCOORD", "YCOORDS", false}, {"x_a", "y_b", false}, {"lat_x", "lon_y", false},
	} {
		c := func(name string) *colProfile { return &colProfile{name: name, tokens: nameTokens(name)} }
		if got := xyNames(c(tc.x), c(tc.y)); got != tc.want {
			t.Errorf("xyNames(%q, %q) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}
