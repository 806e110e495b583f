package jobs

import (
	"strings"
	"testing"
)

// TestOutputSummaries: the summaries root defaults to "summaries" beside the lake, on disk
// and on S3, may be named, and may neither contain the lake nor lie in it (a reader of one
// root would read the other's files), nor be on another store than the lake.
func TestOutputSummaries(t *testing.T) {
	const input = "  input \"a\" {\n    path = \"x\"\n    schema = \"nyc\"\n  }\n"
	job := func(output string) string { return "job \"j\" {\n" + input + "  output {\n" + output + "  }\n}\n" }
	for _, tc := range []struct {
		name   string
		output string
		want   string // the summaries root, or
		err    string // a substring of the error, from file:line:col
	}{
		{"default on disk", `parquet = "out/requests"` + "\n", "/jobs/out/summaries", ""},
		{"default, trailing slash", `parquet = "out/requests/"` + "\n", "/jobs/out/summaries", ""},
		{"default on S3", `parquet = "s3://b/lake/requests"` + "\n", "s3://b/lake/summaries", ""},
		{"named", "parquet = \"out/requests\"\nsummaries = \"/data/sums\"\n", "/data/sums", ""},
		{"named on S3", "parquet = \"s3://b/requests\"\nsummaries = \"s3://other/sums\"\n", "s3://other/sums", ""},
		{"sibling sharing a prefix", "parquet = \"out/requests\"\nsummaries = \"out/requests_summaries\"\n", "/jobs/out/requests_summaries", ""},
		{"empty", "parquet = \"out/requests\"\nsummaries = \" \"\n", "", "x.job:8:13: Empty path"},
		{"inside the lake", "parquet = \"out/requests\"\nsummaries = \"out/requests/summaries\"\n", "", "x.job:8:13: Summaries overlap the lake"},
		{"the lake inside", "parquet = \"out/requests\"\nsummaries = \"out\"\n", "", "x.job:8:13: Summaries overlap the lake"},
		{"the lake itself", "parquet = \"out/requests\"\nsummaries = \"out/requests\"\n", "", "x.job:8:13: Summaries overlap the lake"},
		{"default at a bucket's root", `parquet = "s3://b"` + "\n", "", "x.job:6:3: Summaries overlap the lake; the default output.summaries"},
		{"S3 lake, local summaries", "parquet = \"s3://b/requests\"\nsummaries = \"sums\"\n", "", "x.job:8:13: Summaries apart from the lake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Parse([]byte(job(tc.output)), "/jobs/x.job")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse: %v; want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Output.Summaries != tc.want {
				t.Errorf("summaries %q, want %q", spec.Output.Summaries, tc.want)
			}
		})
	}
}

// TestOutputRejectsApart: the directory a run replaces with its rejects,
// output.rejects/<job name>, may neither hold nor lie in an input, the lake or the
// summaries (a job "requests" with rejects = "out" replaced the lake out/requests; a job
// named after its inputs' directory with rejects = "." deleted its inputs).
func TestOutputRejectsApart(t *testing.T) {
	job := func(name, input, output string) string {
		return "job \"" + name + "\" {\n  input \"a\" {\n    path = \"" + input + "\"\n    schema = \"nyc\"\n  }\n  output {\n" + output + "  }\n}\n"
	}
	for _, tc := range []struct {
		name, job, input, output string
		err                      string // a substring of the error, from file:line:col; "": parses
	}{
		{"default", "j", "data/*.csv", "parquet = \"out/requests\"\n", ""},
		{"named apart", "j", "data/*.csv", "parquet = \"out/requests\"\nrejects = \"out/rejects\"\n", ""},
		{"beside the inputs", "j", "data/*.csv", "parquet = \"out/requests\"\nrejects = \".\"\n", ""},
		{"the inputs' directory", "data", "data/*.csv", "parquet = \"out/requests\"\nrejects = \".\"\n", "x.job:8:11: Rejects overlap another path"},
		{"an input file's directory", "data", "data/x.csv", "parquet = \"out/requests\"\nrejects = \".\"\n", "input \"a\" is /jobs/data/x.csv"},
		{"above the inputs", "j", "j/data/*.csv", "parquet = \"out/requests\"\nrejects = \".\"\n", "Rejects overlap another path"},
		{"in the inputs", "j", "data/*.csv", "parquet = \"out/requests\"\nrejects = \"data\"\n", "Rejects overlap another path"},
		{"the lake", "requests", "data/*.csv", "parquet = \"out/requests\"\nrejects = \"out\"\n", "output.parquet is /jobs/out/requests"},
		{"the summaries", "summaries", "data/*.csv", "parquet = \"out/requests\"\nrejects = \"out\"\n", "output.summaries is /jobs/out/summaries"},
		{"in the lake", "j", "data/*.csv", "parquet = \"out/requests\"\nrejects = \"out/requests/x\"\n", "Rejects overlap another path"},
		{"on S3", "requests", "s3://b/in/*.csv", "parquet = \"s3://b/out/requests\"\nrejects = \"s3://b/out\"\n", "Rejects overlap another path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(job(tc.job, tc.input, tc.output)), "/jobs/x.job")
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Parse: %v; want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestOutputPostgres: output.postgres is a postgres:// URL, a key=value string or empty;
// anything else is refused without being quoted (it holds a password). "x" before a URL
// ("x${env("DATABASE_URL")}") has an '=' in its query, and lib/pq, reading it as key=value,
// dialled localhost for two minutes.
func TestOutputPostgres(t *testing.T) {
	job := func(pg string) string {
		return "job \"j\" {\n  input \"a\" {\n    path = \"x\"\n    schema = \"nyc\"\n  }\n  output {\n    parquet = \"out/requests\"\n    postgres = \"" + pg + "\"\n  }\n}\n"
	}
	for pg, ok := range map[string]bool{
		"":                                true,
		"postgres://u:secret@db/ireports": true,
		"postgresql://db/ireports?sslmode=require": true,
		"host=db dbname=ireports password=secret":  true,
		" host = db": true,
		"xpostgres://u:secret@db/x?sslmode=disable": false,
		"db:5432/ireports":                          false,
		"=secret":                                   false,
	} {
		_, err := Parse([]byte(job(pg)), "/jobs/x.job")
		switch {
		case ok && err != nil:
			t.Errorf("postgres = %q: %v", pg, err)
		case !ok && (err == nil || !strings.Contains(err.Error(), "Bad postgres")):
			t.Errorf("postgres = %q: %v; want Bad postgres", pg, err)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("postgres = %q: the error quotes it: %v", pg, err)
		}
	}
}
