package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

const testSecret = "s3cr3t-VALUE"

// testCleaner redacts testSecret as the spec of a job that read it through env() would.
var testCleaner = cleaner{redact: func(s string) string { return strings.ReplaceAll(s, testSecret, "${env:X}") }}

// fillStrings sets every string reachable in v (fields, slice elements, map keys and values)
// to s, adding one element to each empty slice and map so that there is something to set.
func fillStrings(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillStrings(v.Elem(), s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), s)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
		}
		for i := range v.Len() {
			fillStrings(v.Index(i), s)
		}
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillStrings(k, s)
		fillStrings(e, s)
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	}
}

// findString returns the path of a string in v that contains sub, or "".
func findString(v reflect.Value, sub, at string) string {
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), sub) {
			return at
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return findString(v.Elem(), sub, at)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if p := findString(v.Field(i), sub, at+"."+v.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if p := findString(v.Index(i), sub, at+"[]"); p != "" {
				return p
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if p := findString(k, sub, at+"{key}"); p != "" {
				return p
			}
			if p := findString(v.MapIndex(k), sub, at+"{}"); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestCleanResultCoversEveryString: a Result whose every string holds the secret comes out
// of the cleaner with none left, so a string field added to Result later is either cleaned
// or fails this test.
func TestCleanResultCoversEveryString(t *testing.T) {
	var r Result
	fillStrings(reflect.ValueOf(&r).Elem(), "a path "+testSecret+"/x")
	if p := findString(reflect.ValueOf(r), testSecret, "Result"); p == "" {
		t.Fatal("fillStrings set nothing")
	}
	clean := testCleaner.result(&r)
	if p := findString(reflect.ValueOf(clean), testSecret, "Result"); p != "" {
		t.Errorf("the cleaned result still holds the secret at %s", p)
	}
	// Every string is kept, cleaned: none is dropped on the way.
	for name, got := range map[string]string{"Outputs.Parquet": clean.Outputs.Parquet, "Outputs.Summaries": clean.Outputs.Summaries, "Version": clean.Version} {
		if got != "a path ${env:X}/x" {
			t.Errorf("%s = %q, want the secret replaced by its variable", name, got)
		}
	}
	if findString(reflect.ValueOf(r), testSecret, "Result") == "" {
		t.Error("the cleaner changed the result it was given, not a copy")
	}
}

func TestCapMessage(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		cut  bool
	}{
		{"short", "input \"x\": no file matches", false},
		{"at the limit", strings.Repeat("a", MaxMessage), false},
		{"one byte over", strings.Repeat("a", MaxMessage+1), true},
		{"a megabyte", strings.Repeat("ab", 1<<19), true},
		{"multi-byte runes at the cut", strings.Repeat("é", MaxMessage), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := capMessage(c.in)
			if !c.cut {
				if got != c.in {
					t.Errorf("capMessage changed a message of %d bytes", len(c.in))
				}
				return
			}
			if len(got) > MaxMessage+64 {
				t.Errorf("capped message is %d bytes", len(got))
			}
			if !strings.HasSuffix(got, " bytes cut)") || !strings.HasPrefix(c.in, strings.SplitN(got, "…", 2)[0]) {
				t.Errorf("capped message %q… does not keep the start and say how much was cut", got[:40])
			}
			if !strings.Contains(got, "(") || strings.ContainsRune(got, '\uFFFD') {
				t.Errorf("capped message cuts a rune in half")
			}
		})
	}
	err := testCleaner.err(task.Fatal(errors.New(strings.Repeat("x", 1<<20) + testSecret)))
	if len(err.Error()) > MaxMessage+64 || !errors.Is(err, task.ErrFatal) {
		t.Errorf("cleaned error: %d bytes, fatal %v", len(err.Error()), errors.Is(err, task.ErrFatal))
	}
}

// TestCleanLogger: a logger that the cleaner wraps redacts messages, string and error
// attributes, attributes given to With, and groups.
func TestCleanLogger(t *testing.T) {
	var buf bytes.Buffer
	log := testCleaner.logger(slog.New(slog.NewTextHandler(&buf, nil)))
	log.With("dir", "/data/"+testSecret).Info("read "+testSecret,
		"path", "s3://"+testSecret+"/x", "err", errors.New("open "+testSecret+": denied"),
		slog.Group("g", "inner", testSecret), "n", 3, "list", []string{testSecret})
	out := buf.String()
	if strings.Contains(out, testSecret) {
		t.Errorf("log line holds the secret:\n%s", out)
	}
	for _, want := range []string{"${env:X}", "n=3", "g.inner="} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckComponent(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"normalize", true},
		{"nyc_daily-2.v1", true},
		{"normalize-20261128T101500-01ab", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../../victim", false},
		{"a/b", false},
		{`a\b`, false},
		{"/abs", false},
		{".hidden", false},
		{"nul\x00byte", false},
		{strings.Repeat("a", maxComponent+1), false},
	} {
		err := checkComponent("job name", c.name)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrUnsafeName) {
			t.Errorf("checkComponent(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
	if _, err := dataFile("/var/lib/x/jobs", "job run id", "../../victim", ".json"); !errors.Is(err, ErrUnsafeName) {
		t.Errorf("dataFile with ../../victim: %v", err)
	}
}

// TestHeaderEchoCapped: a CSV file whose header line is 1 MiB long and has no column the
// schema needs fails the plan with an error that quotes at most 200 bytes of the header.
func TestHeaderEchoCapped(t *testing.T) {
	dir := t.TempDir()
	var header strings.Builder
	for i := 0; header.Len() < 1<<20; i++ {
		header.WriteString("column_with_a_long_name_")
		header.WriteString(strings.Repeat("x", i%7))
		header.WriteByte(',')
	}
	header.WriteString("last\n")
	file := filepath.Join(dir, "wide.csv")
	if err := os.WriteFile(file, []byte(header.String()+"1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := writeSpec(t, dir, jobDef{schemas: tinySchema, inputs: []inputDef{{"wide", file, "tiny", ""}},
		parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")})
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = PlanJob(context.Background(), store, spec, "wide-1")
	if !errors.Is(err, jobs.ErrNoColumns) || !errors.Is(err, task.ErrFatal) {
		t.Fatalf("plan: %v, want a fatal ErrNoColumns", err)
	}
	msg := err.Error()
	if len(msg) > 1024 {
		t.Errorf("the error is %d bytes long", len(msg))
	}
	if !strings.Contains(msg, "column_with_a_long_name_") || !strings.Contains(msg, "bytes cut)") || !strings.Contains(msg, "wide.csv") {
		t.Errorf("the error does not name the file, quote the header's start and say it was cut: %s", msg)
	}
}

// TestCleanMapOutputsStaysInJobDirs: the driver removes in-process map outputs only in
// directories named after the job run, whatever path a (hostile) task result reports.
func TestCleanMapOutputsStaysInJobDirs(t *testing.T) {
	dir := t.TempDir()
	own, victim := filepath.Join(dir, "j-1"), filepath.Join(dir, "victim")
	for _, d := range []string{own, victim} {
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "map-000000.shuffle"), []byte("x"), 0o644)
	}
	d := &driver{job: "j-1", mapRes: []task.MapResult{
		{Output: shuffle.Location{Path: filepath.Join(own, "map-000000.shuffle")}},
		{Output: shuffle.Location{Path: filepath.Join(victim, "map-000000.shuffle")}},
		{Output: shuffle.Location{Path: filepath.Join(own, "..", "victim", "x")}},
	}}
	d.cleanMapOutputs()
	if _, err := os.Stat(own); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job's own map outputs are left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(victim, "map-000000.shuffle")); err != nil {
		t.Errorf("a directory not named after the job was removed: %v", err)
	}
}

// hostileExecutor runs tasks for real and then lies about where their files are, as anyone
// with the token can when reporting a result.
type hostileExecutor struct {
	directExecutor
	rejects, stage, summaries string // reported instead of the real ones, when set
}

func (e *hostileExecutor) Map(ctx context.Context, spec json.RawMessage, t task.Map) (task.MapResult, error) {
	res, err := e.directExecutor.Map(ctx, spec, t)
	if e.rejects != "" {
		res.Rejects = e.rejects
	}
	return res, err
}

func (e *hostileExecutor) Reduce(ctx context.Context, spec json.RawMessage, t task.Reduce) (task.ReduceResult, error) {
	res, err := e.directExecutor.Reduce(ctx, spec, t)
	if e.stage != "" {
		res.Dir = e.stage
	}
	if e.summaries != "" {
		res.SummaryDir = e.summaries
	}
	return res, err
}

// TestHostileResultPaths: a map result naming a rejects file elsewhere, or a reduce result
// naming another stage of the lake or of the summaries, fails the job; the files they name
// are not moved into the outputs.
func TestHostileResultPaths(t *testing.T) {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		lie  string // what the result lies about: "rejects", "stage" or "summaries"
	}{{"rejects elsewhere", "rejects"}, {"another stage", "stage"}, {"another summaries stage", "summaries"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim")
			os.MkdirAll(filepath.Join(victim, "city=tiny", "year=2024", "month=1"), 0o755)
			os.MkdirAll(filepath.Join(victim, "request_monthly", "city=tiny", "year=2024", "month=1"), 0o755)
			os.WriteFile(filepath.Join(victim, "keep.jsonl"), []byte("precious"), 0o644)
			in := filepath.Join(dir, "in.csv")
			os.WriteFile(in, []byte(tinyHeader+tinyRow(1)+"2,bad,open,x\n"), 0o644)
			spec := writeSpec(t, dir, jobDef{schemas: tinySchema, ratio: 0.9, reducers: 1, inputs: []inputDef{{"tiny", in, "tiny", ""}},
				parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")})
			exec := &hostileExecutor{directExecutor: directExecutor{spec: spec, slots: 1,
				env: worker.Env{DataDir: filepath.Join(dir, "data"), Fetcher: shuffle.LocalFetcher{}, Store: store}}}
			switch tc.lie {
			case "rejects":
				exec.rejects = filepath.Join(victim, "keep.jsonl")
			case "stage":
				exec.stage = victim
			case "summaries":
				exec.summaries = victim
			}
			res, err := RunJob(context.Background(), spec, exec, "normalize-1", RunOptions{Store: store})
			if !errors.Is(err, task.ErrFatal) || !strings.Contains(res.Error, victim) {
				t.Errorf("RunJob: %v (%s), want a fatal error naming %s", err, res.Status, victim)
			}
			if b, err := os.ReadFile(filepath.Join(victim, "keep.jsonl")); err != nil || string(b) != "precious" {
				t.Errorf("the victim file was moved or changed: %q, %v", b, err)
			}
			if _, err := os.Stat(filepath.Join(victim, "city=tiny")); err != nil {
				t.Errorf("the victim directory was moved into the lake: %v", err)
			}
			if _, err := os.Stat(filepath.Join(victim, "request_monthly", "city=tiny")); err != nil {
				t.Errorf("the victim directory was moved into the summaries: %v", err)
			}
		})
	}
}
