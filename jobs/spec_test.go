package jobs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSample(t *testing.T) {
	spec, err := ParseFile("testdata/sample.job")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if spec.Name != "normalize" || spec.Dir != dir || spec.SplitSize != 64<<20 || spec.Reducers != 8 || spec.MaxRejectRatio != 0.01 {
		t.Errorf("settings: %+v", spec)
	}
	if len(spec.Inputs) != 1 {
		t.Fatalf("inputs: %+v", spec.Inputs)
	}
	in := spec.Inputs[0]
	if in.Name != "nyc" || in.Path != filepath.Join(dir, "data/nyc/*.csv") || in.Format != FormatCSV || in.Schema == nil || in.Schema.City != "nyc" {
		t.Errorf("input: %+v", in)
	}
	if spec.Output.Parquet != filepath.Join(dir, "out/requests") || spec.Output.Rejects != filepath.Join(dir, "out/rejects") {
		t.Errorf("output: %+v", spec.Output)
	}
	// Only schemas that an input uses are kept: springfield is defined but unused.
	if len(spec.Schemas) != 1 || spec.Schemas["nyc"] != in.Schema {
		t.Errorf("schemas: %v", spec.Schemas)
	}
	if !strings.Contains(string(spec.Source), `job "normalize"`) {
		t.Error("source not kept")
	}
}

func TestParseDefaultsAndFileSchema(t *testing.T) {
	src := `
job "j" {
  input "a" {
    path   = "s3://bucket/raw/${"2024"}/*.json"
    schema = "springfield"
    format = "soda-json"
  }
  input "b" {
    path   = "/abs/nyc.csv"
    schema = "nyc"
  }
  output { parquet = env("IREPORTS_JOB_TEST_OUT", "lake") }
}
schema "springfield" {
  city     = "springfield"
  timezone = "America/Chicago"
  placeholder_points = [[44.5, -89.5]]
  field "request_id" { columns = ["id"] }
  field "created_at" {
    columns = ["opened"]
    layouts = ["2006-01-02", "unix_ms"]
  }
}
# A file schema shadows the built-in of the same name.
schema "nyc" {
  city     = "nyc"
  timezone = "America/New_York"
  field "request_id" { columns = ["key"] }
  field "created_at" { columns = ["created"] }
}`
	t.Setenv("IREPORTS_JOB_TEST_OUT", "")
	os.Unsetenv("IREPORTS_JOB_TEST_OUT")
	spec, err := Parse([]byte(src), "/jobs/x.job")
	if err != nil {
		t.Fatal(err)
	}
	if spec.SplitSize != DefaultSplitSize || spec.Reducers != DefaultReducers || spec.MaxRejectRatio != DefaultMaxRejectRatio {
		t.Errorf("defaults: %+v", spec)
	}
	a, b := spec.Inputs[0], spec.Inputs[1]
	if a.Path != "s3://bucket/raw/2024/*.json" || a.Format != FormatSODAJSON || a.Schema.Location.String() != "America/Chicago" {
		t.Errorf("input a: %+v", a)
	}
	if b.Path != "/abs/nyc.csv" || len(b.Schema.Fields) != 2 || b.Schema.TimeLayouts[0] != LayoutAuto {
		t.Errorf("input b did not get the file's nyc schema: %+v", b.Schema)
	}
	if spec.Output.Parquet != "/jobs/lake" || spec.Output.Rejects != "/jobs/lake_rejects" {
		t.Errorf("output: %+v", spec.Output)
	}
}

// TestParseErrors checks that each invalid file fails with the right message at the right
// file:line:column.
func TestParseErrors(t *testing.T) {
	const input = `  input "a" {
    path = "x"
    schema = "nyc"
  }
`
	const output = "  output { parquet = \"o\" }\n"
	job := func(body string) string { return "job \"j\" {\n" + body + "}\n" }
	tests := []struct {
		name string
		src  string
		want string // substring of the error, starting with file:line:col
	}{
		{"syntax error", "job \"j\" {\n  reducers = \n}\n", "t.job:2:14: Invalid expression"},
		{"no job", `schema "s" {}`, "t.job:1:1: No job"},
		{"two jobs", job(input+output) + job(input+output), `t.job:8:1: Several jobs; A job file holds one job; "j" is already defined at line 1`},
		{"unknown job attribute", job("  reducer = 3\n" + input + output), `t.job:2:3: Unsupported argument; An argument named "reducer" is not expected here. Did you mean "reducers"?`},
		{"unknown block", job("  inputs \"a\" {}\n" + input + output), `t.job:2:3: Unsupported block type`},
		{"bad size", job("  split_size = \"64MB\"\n" + input + output), `t.job:2:16: Bad split_size; size "64MB": unknown unit "MB"`},
		{"size too small", job("  split_size = 512\n" + input + output), `t.job:2:16: Bad split_size; split_size must be at least 1KiB, not 512 bytes`},
		{"reducers out of range", job("  reducers = 5000\n" + input + output), `t.job:2:14: Bad reducers`},
		{"reducers not integer", job("  reducers = 1.5\n" + input + output), `t.job:2:14: Not an integer`},
		{"reject ratio out of range", job("  max_reject_ratio = 2\n" + input + output), `t.job:2:22: Bad max_reject_ratio`},
		{"no inputs", job(output), `t.job:1:1: No inputs`},
		{"missing output", job(input), `t.job:1:1: Missing output`},
		{"missing parquet", job(input + "  output { rejects = \"r\" }\n"), `t.job:6:12: Missing required argument; The argument "parquet" is required`},
		{"duplicate input", job(input + input + output), `t.job:6:9: Duplicate input; Input "a" is already defined at line 2`},
		{"unknown schema", job("  input \"a\" {\n    path = \"x\"\n    schema = \"springfeld\"\n  }\n" + output), `t.job:4:14: Unknown schema; No schema "springfeld"`},
		{"bad format", job("  input \"a\" {\n    path = \"x\"\n    schema = \"nyc\"\n    format = \"json\"\n  }\n" + output), `t.job:5:14: Bad format; unknown format "json"`},
		{"missing path", job("  input \"a\" {\n    schema = \"nyc\"\n  }\n" + output), `t.job:2:3: Missing path; Input "a" needs a path (files) or a source (a pulled dataset).`},
		{"unset env", job("  input \"a\" {\n    path = env(\"IREPORTS_JOB_SURELY_UNSET\")\n    schema = \"nyc\"\n  }\n" + output), `t.job:3:12: Error in function call; Call to function "env" failed: environment variable IREPORTS_JOB_SURELY_UNSET is not set`},
		{"bad time zone", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"America/Springfield\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:10:14: Bad time zone; unknown time zone "America/Springfield"`},
		{"the machine's time zone", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"Local\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:10:14: Bad time zone; timezone "Local" is each machine's own zone, not the city's`},
		{"unknown field", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n  field \"borough\" { columns = [\"c\"] }\n}\n",
			`t.job:13:9: Unknown field; "borough" is not a field of the normalized record`},
		{"empty columns", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:34: Empty columns; columns must list at least one candidate column`},
		{"missing required field", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n}\n",
			`t.job:8:1: Missing required field; Schema "s" must map "created_at"`},
		{"bad layout", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  time_layouts = [\"YYYY-MM-DD\"]\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:19: Bad time layout; time layout "YYYY-MM-DD" is not a Go layout`},
		{"layouts on a text field", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" {\n    columns = [\"a\"]\n    layouts = [\"unix\"]\n  }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:13:5: Unexpected layouts`},
		{"bad city", job(input+output) + "schema \"s\" {\n  city = \"New York\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:9:10: Bad city`},
		{"city too long", job(input+output) + "schema \"s\" {\n  city = \"" + strings.Repeat("a", 65) + "\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:9:10: Bad city; city "aaaaaaaaaaaaaaaaaaaa"… is 65 bytes long, more than 64`},
		{"bad placeholder", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  placeholder_points = [[39]]\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:11:24: Bad point`},
		{"duplicate schema", job(input+output) + "schema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\nschema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
			`t.job:14:8: Duplicate schema`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.job")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !errors.Is(err, ErrSpec) {
				t.Errorf("error does not wrap ErrSpec: %v", err)
			}
			var se *SpecError
			if !errors.As(err, &se) || len(se.Diags) == 0 {
				t.Errorf("error is not a *SpecError with diagnostics: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	spec, err := ParseFile("testdata/sample.job")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var got Spec
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Inputs[0].Schema != got.Schemas["nyc"] || got.Inputs[0].Schema.Location.String() != "America/New_York" {
		t.Fatalf("input not linked to its schema after the round trip: %+v", got.Inputs[0])
	}
	if !reflect.DeepEqual(&got, spec) {
		t.Errorf("round trip changed the spec:\n got %+v\nwant %+v", got, *spec)
	}

	// A worker must not accept a corrupted schema.
	bad := strings.Replace(string(b), `"America/New_York"`, `"Mars/Olympus_Mons"`, 1)
	if err := json.Unmarshal([]byte(bad), &got); !errors.Is(err, ErrSpec) {
		t.Errorf("bad time zone accepted: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64MiB", 64 << 20, true},
		{"1 GiB", 1 << 30, true},
		{"4096", 4096, true},
		{"10B", 10, true},
		{"2KiB", 2048, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5GiB", 0, false},
		{"64MB", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999GiB", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	want := []string{"baltimore", "boston", "chicago", "dc", "kansas_city", "la", "nyc", "sf", "st_louis"}
	if got := BuiltinNames(); !reflect.DeepEqual(got, want) {
		t.Fatalf("BuiltinNames() = %v, want %v", got, want)
	}
	for _, name := range want {
		s, ok := Builtin(name)
		if !ok || s.Name != name || s.City != name || s.Location == nil {
			t.Errorf("Builtin(%q) = %+v, %v", name, s, ok)
		}
		if src := BuiltinSource(name); !strings.Contains(string(src), "schema \""+name+"\"") {
			t.Errorf("BuiltinSource(%q) does not hold the schema", name)
		}
	}
	// Builtin hands out copies: changing one must not change the next.
	s, _ := Builtin("nyc")
	s.Fields[0].Columns[0][0] = "changed"
	if again, _ := Builtin("nyc"); again.Fields[0].Columns[0][0] == "changed" {
		t.Error("Builtin returned a shared schema")
	}
	if _, ok := Builtin("springfield"); ok {
		t.Error("Builtin(springfield) found")
	}
}

func TestParseModeEndpointPostgres(t *testing.T) {
	t.Setenv("IREPORTS_TEST_DB", "postgres://u@h/db")
	src := `job "j" {
  mode     = "merge"
  endpoint = "http://127.0.0.1:9000"
  input "a" {
    path   = "s3://bucket/raw/*.csv"
    schema = "nyc"
  }
  output {
    parquet  = "s3://bucket/lake"
    postgres = env("IREPORTS_TEST_DB")
  }
}`
	opts := ParseOptions{Env: EnvPolicy{Allow: []string{"IREPORTS_TEST_DB"}}}
	spec, err := ParseWith([]byte(src), "j.job", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !spec.Merge || spec.Endpoint != "http://127.0.0.1:9000" || spec.Output.Postgres != "postgres://u@h/db" ||
		spec.Inputs[0].Path != "s3://bucket/raw/*.csv" || spec.Output.Rejects != "s3://bucket/lake_rejects" {
		t.Errorf("spec = merge %v endpoint %q postgres %q input %q rejects %q", spec.Merge, spec.Endpoint, spec.Output.Postgres, spec.Inputs[0].Path, spec.Output.Rejects)
	}
	for _, c := range []struct{ old, bad, at string }{
		{`mode     = "merge"`, `mode = "append"`, "j.job:2:"},
		{`endpoint = "http://127.0.0.1:9000"`, `endpoint = "127.0.0.1:9000"`, "j.job:3:"},
	} {
		_, err := ParseWith([]byte(strings.Replace(src, c.old, c.bad, 1)), "j.job", opts)
		if err == nil || !strings.Contains(err.Error(), c.at) {
			t.Errorf("%s: err = %v, want one at %s", c.bad, err, c.at)
		}
	}
}
