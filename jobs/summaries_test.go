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
