package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// okInput and okOutput complete a job body so that a test's one attack is the only problem.
const (
	okInput  = "  input \"a\" {\n    path   = \"x\"\n    schema = \"nyc\"\n  }\n"
	okOutput = "  output { parquet = \"o\" }\n"
)

// wantSpecError checks that err is a *SpecError wrapping ErrSpec whose message contains each
// of want, and returns the message.
func wantSpecError(t *testing.T, err error, want ...string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	var se *SpecError
	if !errors.Is(err, ErrSpec) || !errors.As(err, &se) || len(se.Diags) == 0 {
		t.Errorf("error is not a *SpecError wrapping ErrSpec: %v", err)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error:\n%s\nwant it to contain:\n%s", msg, w)
		}
	}
	return msg
}

// TestNamesThatReachPaths submits the names that would become path segments and keys: a job
// named "../../victim" used to become the rejects folder and the history file's name, which
// are replaced and deleted.
func TestNamesThatReachPaths(t *testing.T) {
	schema := func(label string) string {
		return "schema " + label + " {\n  city = \"s\"\n  timezone = \"UTC\"\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n"
	}
	long := strings.Repeat("a", MaxNameLen+1)
	tests := []struct {
		name, src, want string
	}{
		{"job traversal", "job \"../../victim\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name; job name "../../victim" must be`},
		{"job absolute", "job \"/etc\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"job dot", "job \".\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"job hidden", "job \".x\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"job empty", "job \"\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"job separator", "job \"a/b\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"job NUL", "job \"a\\u0000b\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"job too long", "job \"" + long + "\" {\n" + okInput + okOutput + "}\n", `t.job:1:5: Bad job name`},
		{"input traversal", "job \"j\" {\n  input \"../../x\" {\n    path = \"x\"\n    schema = \"nyc\"\n  }\n" + okOutput + "}\n", `t.job:2:9: Bad input name; input name "../../x"`},
		{"source traversal", "source \"../raw\" {\n  kind = \"socrata\"\n}\njob \"j\" {\n" + okInput + okOutput + "}\n", `t.job:1:8: Bad source name; source name "../raw"`},
		{"schema label traversal", "job \"j\" {\n" + okInput + okOutput + "}\n" + schema(`"../s"`), `t.job:8:8: Bad schema name; schema name "../s"`},
		{"schema reference traversal", "job \"j\" {\n  input \"a\" {\n    path = \"x\"\n    schema = \"../../s\"\n  }\n" + okOutput + "}\n", `t.job:4:14: Bad schema name; schema name "../../s"`},
		{"source's schema traversal", "source \"api\" {\n  kind = \"socrata\"\n  endpoint = \"https://example.com/r.json\"\n  schema = \"../nyc\"\n  start = \"2024-01-01\"\n  raw = \"raw\"\n}\njob \"j\" {\n  input \"a\" { source = \"api\" }\n  output {\n    parquet = \"o\"\n    postgres = \"postgres://h/db\"\n  }\n}\n",
			`t.job:4:12: Bad schema; schema name "../nyc"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.job")
			wantSpecError(t, err, tc.want)
		})
	}

	for _, good := range []string{"a", "nyc_daily", "x-1.2", "_x", "-x", "2024", strings.Repeat("b", MaxNameLen)} {
		src := fmt.Sprintf("job %q {\n  input %q {\n    path = \"x\"\n    schema = %q\n  }\n%s}\n", good, good, good, okOutput) + schema(`"`+good+`"`)
		spec, err := Parse([]byte(src), "t.job")
		if err != nil {
			t.Errorf("name %q refused: %v", good, err)
			continue
		}
		if spec.Name != good || spec.Inputs[0].Name != good {
			t.Errorf("name %q parsed as job %q, input %q", good, spec.Name, spec.Inputs[0].Name)
		}
	}
}

// TestSpecJSONNames checks that a worker refuses a spec whose names could not have come from
// Parse: the coordinator's JSON is checked like a job file.
func TestSpecJSONNames(t *testing.T) {
	spec, err := ParseFile("testdata/sample.job")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
	}{
		{"job", func(s *Spec) { s.Name = "../../victim" }},
		{"input", func(s *Spec) { s.Inputs[0].Name = "../x" }},
		{"schema", func(s *Spec) {
			s.Schemas["../s"] = s.Schemas[s.Inputs[0].SchemaName]
		}},
		{"split_size", func(s *Spec) { s.SplitSize = 1 << 62 }},
		{"source page_size", func(s *Spec) { s.Sources = map[string]*SourceSpec{"api": {Name: "api", PageSize: MaxPageSize + 1}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *spec
			c.Inputs = append([]Input(nil), spec.Inputs...)
			c.Schemas = map[string]*Schema{}
			for k, v := range spec.Schemas {
				c.Schemas[k] = v
			}
			tc.change(&c)
			b, err := json.Marshal(&c)
			if err != nil {
				t.Fatal(err)
			}
			var back Spec
			if err := json.Unmarshal(b, &back); !errors.Is(err, ErrSpec) {
				t.Errorf("decoded a spec with a bad %s: err = %v", tc.name, err)
			}
		})
	}
	big := []byte(`{"name":"` + strings.Repeat("x", MaxSpecJSONSize) + `"}`)
	var back Spec
	if err := json.Unmarshal(big, &back); !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), "bytes of JSON") {
		t.Errorf("decoded %d bytes of JSON: err = %v", len(big), err)
	}
}

// deep returns a job file whose reducers attribute (line 2, column 14) holds n nested
// openers, each closed by closer.
func deep(opener, inner, closer string, n int) string {
	return "job \"j\" {\n  reducers = " + strings.Repeat(opener, n) + inner + strings.Repeat(closer, n) + "\n" + okInput + okOutput + "}\n"
}

// TestParseLimits submits what used to overflow the parser's or the evaluator's stack — a
// fatal error that no recover catches, taking the coordinator and every job down: 100,000
// nested brackets, templates or operators. Each must be refused with the position of the
// first opener past the limit.
func TestParseLimits(t *testing.T) {
	const n = 100_000
	// Column of the (MaxNesting+1)-th opener of width w after "  reducers = ", where the
	// attribute's body level already counts one.
	col := func(w int) string { return fmt.Sprintf("t.job:2:%d: Nesting too deep", 14+(MaxNesting-1)*w) }
	tests := []struct {
		name, src, want string
	}{
		{"parentheses", deep("(", "1", ")", n), col(1)},
		{"brackets", deep("[", "1", "]", n), col(1)},
		{"braces", deep("{a=", "1", "}", n), col(3)},
		// Each "${ opens two levels: the 32nd ${ is the 65th level.
		{"interpolations", "job \"j\" {\n  reducers = " + strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n) + "\n}\n", "t.job:2:108: Nesting too deep"},
		{"negations", deep("!", "true", "", n), col(1)},
		{"minus signs", deep("-", "1", "", n), col(1)},
		{"operator chain", "job \"j\" {\n  reducers = 1" + strings.Repeat("+1", n) + "\n}\n", col(2)[:len("t.job:2:")] + "141: Nesting too deep"},
		// Newlines inside parentheses do not end the expression: the 63rd "+" (line 65)
		// is one level too many beside the job's and the parentheses' levels.
		{"operator chain across lines in parentheses", "job \"j\" {\n  reducers = (1" + strings.Repeat("\n+1", n) + ")\n}\n", "t.job:65:1: Nesting too deep"},
		// A directive's own %{ is a level, and each open if is one: the 62nd %{ is too deep.
		{"template directives", "job \"j\" {\n  reducers = \"" + strings.Repeat("%{ if true }", n/10) + strings.Repeat("%{ endif }", n/10) + "\"\n}\n", "t.job:2:747: Nesting too deep"},
		// The job's level, the heredoc's, then two per ${( (inside the first ${, "${" lexes
		// as "$" and "{"): the 32nd "{" is the 65th level.
		{"heredoc interpolations", "job \"j\" {\n  reducers = <<EOT\n" + strings.Repeat("${(", n) + "\nEOT\n}\n", "t.job:3:95: Nesting too deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.job")
			if msg := wantSpecError(t, err, tc.want); strings.Count(msg, "\n") != 0 {
				t.Errorf("more than the one error: %s", msg)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		src := deep("", "1", "", 0) + "# " + strings.Repeat("x", MaxJobFileSize) + "\n"
		wantSpecError(t, ParseErr(Parse([]byte(src), "t.job")), "t.job:1:1: Job file too large")
		path := filepath.Join(t.TempDir(), "big.job")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		wantSpecError(t, ParseErr(ParseFile(path)), "Job file too large")
	})

	// What a job file needs stays well inside the limits, and brackets that are text do
	// not count.
	for name, src := range map[string]string{
		"nest at the limit":      deep("(", "1", ")", MaxNesting-1),
		"brackets in a string":   "job \"j\" {\n  input \"a\" {\n    path = \"" + strings.Repeat("(", n) + "\"\n    schema = \"nyc\"\n  }\n" + okOutput + "}\n",
		"brackets in a comment":  "# " + strings.Repeat("{[(", n) + "\n" + deep("", "1", "", 0),
		"brackets in a heredoc":  "job \"j\" {\n  input \"a\" {\n    path = <<EOT\n" + strings.Repeat("(", n) + "\nEOT\n    schema = \"nyc\"\n  }\n" + okOutput + "}\n",
		"many short expressions": "job \"j\" {\n  input \"a\" {\n    path = \"x\"\n    schema = \"s\"\n  }\n" + okOutput + "}\nschema \"s\" {\n  city = \"s\"\n  timezone = \"UTC\"\n  placeholder_points = [" + strings.Repeat("[-1, -1], ", 1000) + "[-1, -1]]\n  field \"request_id\" { columns = [\"a\"] }\n  field \"created_at\" { columns = [\"b\"] }\n}\n",
	} {
		if _, err := Parse([]byte(src), "t.job"); err != nil && strings.Contains(err.Error(), "too deep") {
			t.Errorf("%s: refused: %v", name, err)
		} else if name != "brackets in a heredoc" && err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// ParseErr drops the spec of a Parse result.
func ParseErr(_ *Spec, err error) error { return err }

// TestEnvAllowlist: env() reads what the operator allowed and nothing else, and a refusal
// names the variable and how to allow it, never its value.
func TestEnvAllowlist(t *testing.T) {
	const secret = "s3cr3t-value-of-the-coordinator"
	environ := map[string]string{
		"AWS_SECRET_ACCESS_KEY":   secret,
		"DATABASE_URL":            "postgres://u:" + secret + "@h/db",
		"IREPORTS_JOB_OUT":        "out-dir",
		"IREPORTS_RAW":            "raw-dir",
		"IREPORTS_JOB_EMPTY":      "",
		"NOT_IREPORTS_JOB_PREFIX": secret,
	}
	lookup := func(name string) (string, bool) { v, ok := environ[name]; return v, ok }
	src := func(expr string) string {
		return "job \"j\" {\n  input \"a\" {\n    path   = " + expr + "\n    schema = \"nyc\"\n  }\n" + okOutput + "}\n"
	}
	tests := []struct {
		name   string
		policy EnvPolicy
		expr   string
		want   string // the input's path; "" = refused
	}{
		{"prefix allowed", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `env("IREPORTS_JOB_OUT")`, "out-dir"},
		{"listed name allowed", EnvPolicy{Prefix: DefaultEnvPrefix, Allow: []string{"IREPORTS_RAW"}, Lookup: lookup}, `env("IREPORTS_RAW")`, "raw-dir"},
		{"all allowed", EnvPolicy{AllowAll: true, Lookup: lookup}, `env("IREPORTS_RAW")`, "raw-dir"},
		{"default of an allowed unset name", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `env("IREPORTS_JOB_UNSET", "dflt")`, "dflt"},
		{"secret refused", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `env("AWS_SECRET_ACCESS_KEY")`, ""},
		{"secret refused with a default", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `env("AWS_SECRET_ACCESS_KEY", "x")`, ""},
		{"secret refused in a template", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `"/data/${env("DATABASE_URL")}"`, ""},
		{"prefix is a prefix", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `env("NOT_IREPORTS_JOB_PREFIX")`, ""},
		{"zero policy allows nothing", EnvPolicy{Lookup: lookup}, `env("IREPORTS_JOB_OUT")`, ""},
		{"unset name refused too", EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, `env("HOME_OF_NOBODY", "x")`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := ParseWith([]byte(src(tc.expr)), "/j/t.job", ParseOptions{Env: tc.policy})
			if tc.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := spec.Inputs[0].Path; got != "/j/"+tc.want {
					t.Errorf("path = %q, want /j/%s", got, tc.want)
				}
				return
			}
			name := strings.Split(strings.SplitN(tc.expr, `env("`, 2)[1], `"`)[0]
			msg := wantSpecError(t, err, "/j/t.job:3:", "environment variable "+name+" is not allowed", "--job-env "+name)
			if strings.Contains(msg, secret) {
				t.Errorf("the refusal shows the value: %s", msg)
			}
		})
	}

	// Parse's default is the prefix alone, read from the real environment.
	t.Setenv("IREPORTS_TEST_NOT_ALLOWED", secret)
	t.Setenv("IREPORTS_JOB_TEST_ALLOWED", "allowed")
	msg := wantSpecError(t, ParseErr(Parse([]byte(src(`env("IREPORTS_TEST_NOT_ALLOWED")`)), "t.job")),
		"t.job:3:14: Error in function call", "IREPORTS_TEST_NOT_ALLOWED is not allowed", "--job-env IREPORTS_TEST_NOT_ALLOWED", DefaultEnvPrefix)
	if strings.Contains(msg, secret) {
		t.Errorf("the refusal shows the value: %s", msg)
	}
	spec, err := Parse([]byte(src(`env("IREPORTS_JOB_TEST_ALLOWED")`)), "/j/t.job")
	if err != nil || spec.Inputs[0].Path != "/j/allowed" {
		t.Errorf("prefixed variable: spec %+v, err %v", spec, err)
	}

	// An allowed variable that is unset: the message says whose environment lacks it, the
	// coordinator's for a submitted job (the submitter's shell may well have it).
	for _, tc := range []struct {
		policy EnvPolicy
		where  string
	}{
		{EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: lookup}, "is not set in the coordinator's environment"},
		{EnvPolicy{AllowAll: true, Lookup: lookup}, "is not set in this process's environment"},
	} {
		_, err := ParseWith([]byte(src(`env("IREPORTS_JOB_UNSET")`)), "/j/t.job", ParseOptions{Env: tc.policy})
		wantSpecError(t, err, "/j/t.job:3:", "IREPORTS_JOB_UNSET "+tc.where, `env("IREPORTS_JOB_UNSET", DEFAULT)`)
	}
}

// TestEnvValuesRedacted: a value read through env() appears in no error of Parse, however it
// got there (a path, an endpoint, a city, a postgres URL), and Spec.Redact and RedactError
// take it out of later messages.
func TestEnvValuesRedacted(t *testing.T) {
	const (
		bucket = "bucket-named-after-a-secret-7f3a"
		dbURL  = "mysql://admin:hunter2-db-password@db.internal/prod"
		token  = "app-token-0123456789abcdef"
	)
	environ := map[string]string{"BUCKET": bucket, "DB": dbURL, "TOKEN": token, "CITY": "Bad City " + token}
	opts := ParseOptions{Env: EnvPolicy{Allow: []string{"BUCKET", "DB", "TOKEN", "CITY"}, Lookup: func(n string) (string, bool) {
		v, ok := environ[n]
		return v, ok
	}}}
	src := `source "api" {
  kind      = "socrata"
  endpoint  = "ftp://${env("TOKEN")}.example.com/r.json"
  app_token = env("TOKEN")
  schema    = "s"
  start     = "2024-01-01"
  raw       = "s3://${env("BUCKET")}/../other-bucket/raw"
}
job "j" {
  endpoint = "${env("BUCKET")}:9000"
  input "a" { source = "api" }
  output {
    parquet  = "s3://${env("BUCKET")}/lake"
    postgres = env("DB")
  }
}
schema "s" {
  city     = env("CITY")
  timezone = "UTC"
  field "request_id" { columns = ["a"] }
  field "created_at" { columns = ["b"] }
}
`
	_, err := ParseWith([]byte(src), "t.job", opts)
	msg := wantSpecError(t, err,
		"t.job:3:15: Bad endpoint", "${env:TOKEN}",
		"t.job:7:15: Bad raw", "s3://${env:BUCKET}/../other-bucket/raw",
		"t.job:10:14: Bad endpoint", "${env:BUCKET}:9000",
		"t.job:14:16: Bad postgres",
		"t.job:18:14: Bad city", `city "${env:CITY}"`)
	for _, v := range environ {
		if strings.Contains(msg, v) {
			t.Errorf("error shows the env value %q:\n%s", v, msg)
		}
	}
	var se *SpecError
	if errors.As(err, &se) {
		for _, d := range se.Diags {
			if d.Expression != nil || d.EvalContext != nil {
				t.Errorf("diagnostic %q keeps its expression for a printer to show", d.Summary)
			}
		}
	}

	// A valid job: the values are recorded, and Redact takes them out, longest first.
	good := strings.NewReplacer(`ftp://${env("TOKEN")}.example.com`, `https://example.com`, `/../other-bucket`, ``,
		`"${env("BUCKET")}:9000"`, `"http://127.0.0.1:9000"`, `env("CITY")`, `"s"`, "mysql://", "postgres://").Replace(src)
	environ["DB"] = "postgres://admin:hunter2-db-password@db.internal/prod"
	spec, err := ParseWith([]byte(good), "t.job", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.EnvValues) != 3 || spec.EnvValues["BUCKET"] != bucket || spec.EnvValues["TOKEN"] != token {
		t.Errorf("EnvValues = %v", spec.EnvValues)
	}
	line := fmt.Sprintf("open %s: denied; db %s token %s", spec.Output.Parquet, spec.Output.Postgres, spec.Sources["api"].AppToken)
	if got, want := spec.Redact(line), "open s3://${env:BUCKET}/lake: denied; db ${env:DB} token ${env:TOKEN}"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	base := &fs.PathError{Op: "open", Path: spec.Output.Parquet, Err: fs.ErrPermission}
	red := spec.RedactError(fmt.Errorf("commit: %w", base))
	var pe *fs.PathError
	if strings.Contains(red.Error(), bucket) || !errors.Is(red, fs.ErrPermission) || !errors.As(red, &pe) || pe != base {
		t.Errorf("RedactError = %q; Is/As lost", red)
	}
	if spec.RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}
	plain := errors.New("nothing secret")
	if spec.RedactError(plain) != plain {
		t.Error("RedactError wrapped an error that held no value")
	}

	// Workers get the values that the spec's JSON holds anyway, and no other.
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	byValue, err := json.Marshal(*spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range [][]byte{b, byValue} {
		if strings.Contains(string(enc), "hunter2") || strings.Contains(string(enc), token) {
			t.Errorf("the JSON for workers carries a coordinator-only secret: %s", enc)
		}
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.EnvValues) != 1 || back.EnvValues["BUCKET"] != bucket {
		t.Errorf("EnvValues after the round trip = %v, want only BUCKET", back.EnvValues)
	}
	if got := back.Redact("list " + back.Inputs[0].Path); got != "list s3://${env:BUCKET}/raw/batch-*.json" {
		t.Errorf("worker-side Redact = %q", got)
	}
}

// TestRedactLongestFirst: a value that contains another is replaced whole.
func TestRedactLongestFirst(t *testing.T) {
	s := &Spec{EnvValues: map[string]string{"A": "abc", "B": "abcdef", "E": ""}}
	if got, want := s.Redact("x abcdef abc ab"), "x ${env:B} ${env:A} ab"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	var nilSpec *Spec
	if nilSpec.Redact("abc") != "abc" || nilSpec.RedactError(nil) != nil {
		t.Error("nil Spec redacts")
	}
}

// TestParseSizeBounds: no spelling of a size overflows or slips past MaxSize, and a huge
// input does not make a huge message.
func TestParseSizeBounds(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1e300", 0, false},
		{"1e3", 0, false},
		{"9223372036854775807", 0, false},
		{"9223372036854775808", 0, false},
		{"8EiB", 0, false},
		{"1EiB", 0, false},
		{"-1", 0, false},
		{"-1KiB", 0, false},
		{"+1", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{"4611686018427387904", MaxSize, true},
		{"4611686018427387905", 0, false},
		{"4294967296GiB", MaxSize, true},
		{"4294967297GiB", 0, false},
		{strings.Repeat("9", 10_000), 0, false},
	}
	for _, tc := range tests {
		t.Run(truncateForMessage(tc.in), func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("message of %d bytes", len(err.Error()))
			}
		})
	}
}

// TestNumbersBounded: every number a job file sets is bounded, and a value beyond the bound
// (or beyond int64, or infinite) is an error at its file:line:column, never a wrapped or
// clamped value. 1e300 and 9223372036854775807 used to give hundreds of bogus tasks.
func TestNumbersBounded(t *testing.T) {
	job := func(setting string) string { return "job \"j\" {\n  " + setting + "\n" + okInput + okOutput + "}\n" }
	source := func(setting string) string {
		return "source \"api\" {\n  kind = \"socrata\"\n  endpoint = \"https://example.com/r.json\"\n  schema = \"nyc\"\n  start = \"2024-01-01\"\n  raw = \"raw\"\n  " + setting +
			"\n}\njob \"j\" {\n  input \"a\" { source = \"api\" }\n  output {\n    parquet = \"o\"\n    postgres = \"postgres://h/db\"\n  }\n}\n"
	}
	tests := []struct {
		name, src, want string
	}{
		{"split_size 1e300", job("split_size = 1e300"), "t.job:2:16: Bad split_size; split_size must be at most 4GiB, not 1e+300 bytes"},
		{"split_size max int64", job("split_size = 9223372036854775807"), "t.job:2:16: Bad split_size; split_size must be at most 4GiB"},
		{"split_size max int64 string", job(`split_size = "9223372036854775807"`), "t.job:2:16: Bad split_size; size \"9223372036854775807\": too large"},
		{"split_size 8EiB", job(`split_size = "8EiB"`), "t.job:2:16: Bad split_size; size \"8EiB\": unknown unit \"EiB\""},
		{"split_size string 1e300", job(`split_size = "1e300"`), "t.job:2:16: Bad split_size; size \"1e300\": unknown unit \"e300\""},
		{"split_size 5GiB", job(`split_size = "5GiB"`), "t.job:2:16: Bad split_size; split_size must be at most 4GiB, not 5368709120 bytes"},
		{"split_size negative", job("split_size = -1024"), "t.job:2:16: Bad split_size; split_size must be at least 1KiB"},
		{"split_size infinite", job("split_size = 1/0"), "t.job:2:16: Bad split_size; split_size must be a whole number"},
		{"reducers 1e300", job("reducers = 1e300"), "t.job:2:14: Bad reducers; reducers must be between 1 and 4096, not 1e+300"},
		{"reducers max int64", job("reducers = 9223372036854775807"), "t.job:2:14: Bad reducers; reducers must be between 1 and 4096, not 9.22337e+18"},
		{"reducers past int64", job("reducers = 18446744073709551617"), "t.job:2:14: Bad reducers"},
		{"reducers negative", job("reducers = -1"), "t.job:2:14: Bad reducers; reducers must be between 1 and 4096, not -1"},
		{"reducers zero", job("reducers = 0"), "t.job:2:14: Bad reducers"},
		{"reducers infinite", job("reducers = 1/0"), "t.job:2:14: Not an integer"},
		{"reducers from a string", job(`reducers = "1e300"`), "t.job:2:14: Bad reducers"},
		{"max_reject_ratio 1e300", job("max_reject_ratio = 1e300"), "t.job:2:22: Bad max_reject_ratio"},
		{"max_reject_ratio negative", job("max_reject_ratio = -0.1"), "t.job:2:22: Bad max_reject_ratio"},
		{"max_reject_ratio infinite", job("max_reject_ratio = 1/0"), "t.job:2:22: Bad max_reject_ratio; max_reject_ratio must be a finite number"},
		{"max_reject_ratio beyond float64", job("max_reject_ratio = 1e400"), "t.job:2:22: Bad max_reject_ratio"},
		{"schedule every 1000000h", job(`schedule = "every 1000000h"`), "t.job:2:14: Bad schedule"},
		{"schedule every overflow", job(`schedule = "every 9223372036854775807h"`), "t.job:2:14: Bad schedule"},
		{"page_size 1e300", source("page_size = 1e300"), "t.job:7:15: Bad page_size; page_size must be between 1 and 1000000, not 1e+300"},
		{"page_size max int64", source("page_size = 9223372036854775807"), "t.job:7:15: Bad page_size"},
		{"page_size zero", source("page_size = 0"), "t.job:7:15: Bad page_size"},
		{"retry_for 25h", source(`retry_for = "25h"`), "t.job:7:15: Bad retry_for; retry_for must be a duration such as \"15m\", more than 0 and at most 24h0m0s"},
		{"retry_for overflow", source(`retry_for = "9223372036854775807h"`), "t.job:7:15: Bad retry_for"},
		{"retry_for negative", source(`retry_for = "-1s"`), "t.job:7:15: Bad retry_for"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.job")
			wantSpecError(t, err, tc.want)
		})
	}
	// The bounds themselves are accepted.
	for _, ok := range []string{
		job(`split_size = "4GiB"`), job("split_size = 1024"), job("reducers = 4096"), job("reducers = 1"),
		job("max_reject_ratio = 0"), job("max_reject_ratio = 1"), job(`schedule = "every 8784h"`),
		source("page_size = 1000000"), source(`retry_for = "24h"`),
	} {
		if _, err := Parse([]byte(ok), "t.job"); err != nil {
			t.Errorf("refused a bound: %v", err)
		}
	}
}
