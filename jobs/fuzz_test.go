package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// FuzzParse checks that no job file, however broken, makes the parser panic, and that every
// failure is a *SpecError. Run longer with: go test -run '^$' -fuzz FuzzParse ./jobs
func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile("testdata/sample.job"); err == nil {
		f.Add(string(src))
	}
	for _, name := range BuiltinNames() {
		f.Add(string(BuiltinSource(name)))
	}
	f.Add(`job "j" { split_size = 1e300 reducers = -1 max_reject_ratio = "x" }`)
	f.Add(`job "j" { input "a" { path = ["x"] schema = env() } output { parquet = null } }`)
	f.Add(`schema "s" { placeholder_points = [[1, 2, 3], null] field "x" {} }`)
	f.Add("job \"j\" {\n  split_size = \"${\"")
	f.Add(`schema "s" { field "created_at" { columns = [["a", ["b"]], 1, null] } field "point" { x = [] y = null crs = 3 } }`)
	for _, seed := range deepSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		spec, err := Parse([]byte(src), "fuzz.job")
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *SpecError: %v", err)
			}
			return
		}
		if len(spec.Inputs) == 0 || spec.Output.Parquet == "" {
			t.Fatalf("accepted an incomplete job: %+v", spec)
		}
	})
}

// deepSeeds are job files nested past MaxNesting in every way the parser or the evaluator
// recurses: they must be refused, not crash the process. They are far shallower than the
// 100,000 levels that used to overflow the stack (TestParseLimits submits those), because the
// fuzzer mutates its seeds and slow inputs starve it.
func deepSeeds() []string {
	body := func(expr string) string {
		return "job \"j\" {\n  reducers = " + expr + "\n  input \"a\" {\n    path = \"x\"\n    schema = \"nyc\"\n  }\n  output { parquet = \"o\" }\n}\n"
	}
	const n = 2000
	return []string{
		body(strings.Repeat("(", n) + "1" + strings.Repeat(")", n)),
		body(strings.Repeat("[", n) + strings.Repeat("]", n)),
		body(strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n)),
		body(strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n)),
		body(`"` + strings.Repeat("%{ if true }", n) + strings.Repeat("%{ endif }", n) + `"`),
		body(`"` + strings.Repeat("%{ for x in [1] }", n) + strings.Repeat("%{ endfor }", n) + `"`),
		body("<<EOT\n" + strings.Repeat("${(", n) + "\nEOT"),
		body(strings.Repeat("!", n) + "true"),
		body(strings.Repeat("-", n) + "1"),
		body("1" + strings.Repeat(" + 1", n)),
		body("true" + strings.Repeat(" ? 1 : true", n)),
		body("(1" + strings.Repeat("\n* 2", n) + ")"),
		strings.Repeat("job \"j\" {\n", n),
	}
}

// FuzzSubmit runs everything a coordinator does with a submitted job file's text before any
// task runs, under a policy that lets env() read two secrets: parse and validate, join the
// names into the output paths, encode the spec for workers and decode it as a worker does.
// Nothing may panic or overflow; a refusal is a *SpecError that shows no secret; an accepted
// job is one that the engine can name its paths for and that a worker accepts.
// Run longer with: go test -run '^$' -fuzz FuzzSubmit ./jobs
func FuzzSubmit(f *testing.F) {
	secrets := map[string]string{
		"IREPORTS_JOB_DB":     "postgres://u:Zq8vX2pLw9kR4tYh@db/x",
		"IREPORTS_JOB_BUCKET": "bkt-Hn3Jd8sK2mQ7",
		"OPERATOR_ONLY":       "never-readable-Vb5Nc1Xz",
	}
	opts := ParseOptions{Env: EnvPolicy{Prefix: DefaultEnvPrefix, Lookup: func(n string) (string, bool) {
		v, ok := secrets[n]
		return v, ok
	}}}
	if src, err := os.ReadFile("testdata/sample.job"); err == nil {
		f.Add(string(src))
	}
	f.Add(`job "j" {
  input "a" {
    path   = "s3://${env("IREPORTS_JOB_BUCKET")}/raw/*.csv"
    schema = "nyc"
  }
  output {
    parquet  = "s3://${env("IREPORTS_JOB_BUCKET")}/lake"
    postgres = env("IREPORTS_JOB_DB")
  }
}`)
	f.Add(`job "../../victim" { input "a" { path = env("OPERATOR_ONLY") } output { parquet = "s3://${env("IREPORTS_JOB_BUCKET")}/../x" } }`)
	f.Add(`job "j" { split_size = 1e300 reducers = 9223372036854775807 max_reject_ratio = 1/0 }`)
	for _, seed := range deepSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		spec, err := ParseWith([]byte(src), "fuzz.job", opts)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *SpecError: %v", err)
			}
			for _, v := range secrets {
				if strings.Contains(err.Error(), v) && !strings.Contains(src, v) {
					t.Fatalf("error shows a secret: %v", err)
				}
			}
			return
		}
		if _, err := objstore.Join(spec.Output.Rejects, spec.Name); err != nil {
			t.Fatalf("accepted a job whose rejects folder cannot be named: %v", err)
		}
		if _, err := objstore.Join(spec.Output.Parquet, "_temporary", spec.Name+"-20240101T000000Z"); err != nil {
			t.Fatalf("accepted a job whose staging cannot be named: %v", err)
		}
		b, err := json.Marshal(spec)
		if err != nil {
			t.Fatalf("encode for workers: %v", err)
		}
		if strings.Contains(string(b), secrets["IREPORTS_JOB_DB"]) && !strings.Contains(src, secrets["IREPORTS_JOB_DB"]) {
			t.Fatalf("the workers' spec carries the database URL: %s", b)
		}
		var back Spec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("a worker refuses what the coordinator accepted: %v", err)
		}
	})
}

// FuzzNormalize feeds arbitrary fields to a normalizer with every kind of layout.
func FuzzNormalize(f *testing.F) {
	f.Add("1", "01/02/2006 03:04:05 PM", "2025-08-01 06:35:06.539+00", "Closed", "40.7", "-73.9", "(40.7, -73.9)")
	f.Add("", "1700000000.5", "2024-04-16T03:03:15.000", "open", "", "", "POINT (1 2)")
	f.Add("x", "2024-01-01T00:00:00Z", "", "\xff", "nan", "1e400", `{"type":"Point","coordinates":[1,`)
	f.Add("z\x00", "1700000000", "", "open\x00", "", "", "")
	f.Add("y", "9999-12-31 23:59:59-23", "-99999999999999999999", "", "", "", `{"latitude":"1","longitude":"\u0031"}`)
	s := schemaFrom(f, `schema "t" {
  city = "t"
  timezone = "Europe/Paris"
  time_layouts = ["01/02/2006 03:04:05 PM", "2006-01-02 15:04:05-07", "2006-01-02T15:04:05.000", "unix", "unix_ms", "rfc3339", "Jan 2 2006"]
  repair_mojibake = true
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["a"] }
  field "closed_at"  { columns = ["b"] }
  field "status" {
    columns = ["s"]
    open = ["open"]
  }
  field "agency"    { columns = ["s"] }
  field "latitude"  { columns = ["lat"] }
  field "longitude" { columns = ["lon"] }
  field "point"     { columns = ["p"] }
}`)
	n, err := s.Bind([]string{"id", "a", "b", "s", "lat", "lon", "p"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, a, b, st, lat, lon, p string) {
		var r record.Request
		err := n.Normalize(bs(id, a, b, st, lat, lon, p), &r)
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("not a reject: %v", err)
			}
			return
		}
		if r.RequestID == "" || r.CreatedAt.IsZero() || r.Month < 1 || r.Month > 12 {
			t.Fatalf("accepted an incomplete record: %+v", r)
		}
		checkStorable(t, &r)
	})
}

// checkStorable fails the test when an accepted record holds text that PostgreSQL's text
// type or the Parquet writer refuses: invalid UTF-8 or a NUL byte.
func checkStorable(t *testing.T, r *record.Request) {
	t.Helper()
	for _, s := range []string{r.RequestID, r.StatusRaw, r.Agency, r.RequestType, r.RequestSubtype, r.Zip, r.Neighborhood, r.Channel} {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("accepted a record with unstorable text %q: %+v", s, r)
		}
	}
}

// FuzzSODA checks the scanner and the JSON normalizer on arbitrary input.
func FuzzSODA(f *testing.F) {
	f.Add(`[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","location":{"latitude":"1","longitude":"2"}}]`)
	f.Add(`[{"a":"\ud83d\ude00"},{"b":[1,{"c":"]"}]}]`)
	f.Add(`[{"unique_key":"\u12"}]`)
	f.Add(`[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","agency":"A\u0000"}]`)
	f.Add(`[`)
	nyc, _ := Builtin("nyc")
	n := nyc.BindJSON()
	f.Fuzz(func(t *testing.T, in string) {
		var r record.Request
		_ = ScanSODA(bytes.NewReader([]byte(in)), func(_ int64, raw []byte) error {
			err := n.NormalizeJSON(raw, &r)
			if err != nil && !errors.Is(err, ErrRejected) {
				t.Fatalf("not a reject: %v", err)
			}
			if err == nil {
				checkStorable(t, &r)
			}
			return nil
		})
		// Objects straight from the input, not vetted by the scanner, must not panic either.
		_ = n.NormalizeJSON([]byte(in), &r)
	})
}

// FuzzNormalizeExtras feeds arbitrary fields to a normalizer that joins columns, reads
// integer floats and projects x/y: the field kinds the fast path skips.
func FuzzNormalizeExtras(f *testing.F) {
	f.Add("2020025504.0", "02/20/2020", "07:28 AM", "64108.0", "880839.00000000", "1003181.00000000")
	f.Add("", "13/45/2020", "", "1.5", "0", "0")
	f.Add("x", "", "07:28 AM", "-.0", "NaN", "1e400")
	f.Add("\xff.0", "02/20/2020\x00", "25:00 PM", "\x00", "-1e308", "1e-320")
	s := schemaFrom(f, `schema "t" {
  city = "t"
  timezone = "America/Chicago"
  integer_floats = true
  time_layouts = ["01/02/2006 03:04 PM", "01/02/2006"]
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = [["d", "t"]] }
  field "zip"        { columns = ["zip"] }
  field "point" {
    x   = "x"
    y   = "y"
    crs = "ESRI:102696"
  }
}`)
	n, err := s.Bind([]string{"id", "d", "t", "zip", "x", "y"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, d, tm, zip, x, y string) {
		var r record.Request
		err := n.Normalize(bs(id, d, tm, zip, x, y), &r)
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("not a reject: %v", err)
			}
			return
		}
		if r.RequestID == "" || r.CreatedAt.IsZero() || r.Month < 1 || r.Month > 12 {
			t.Fatalf("accepted an incomplete record: %+v", r)
		}
		if r.HasLocation && (r.Latitude < 35.9 || r.Latitude > 40.7 || r.Longitude < -91.9 || r.Longitude > -89.0) {
			t.Fatalf("a projected point outside Missouri East's area: %+v", r)
		}
		checkStorable(t, &r)
	})
}
