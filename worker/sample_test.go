package worker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

const sampleJob = `
schema "t" {
  city     = "t"
  timezone = "UTC"
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["opened"] }
}
job "j" {
  input "csv" {
    path   = "x.csv"
    schema = "t"
  }
  input "json" {
    path   = "x.json"
    schema = "t"
    format = "soda-json"
  }
  output { parquet = "out" }
}
`

// TestSample checks that Sample gives what RunMap would — the same records normalized, the
// same rejects with their reasons — stops at its limit, and writes nothing.
func TestSample(t *testing.T) {
	dir := t.TempDir()
	spec, err := jobs.Parse([]byte(sampleJob), filepath.Join(dir, "j.job"))
	if err != nil {
		t.Fatal(err)
	}
	csvText := "id,opened\n1,2024-01-01T00:00:00Z\n2,yesterday\n3,2024-01-03T00:00:00Z\n\"4,x\n"
	jsonText := `[{"id": "1", "opened": "2024-01-01T00:00:00Z"}, {"opened": "2024-01-02T00:00:00Z"}]`
	os.WriteFile(filepath.Join(dir, "x.csv"), []byte(csvText), 0o644)
	os.WriteFile(filepath.Join(dir, "x.json"), []byte(jsonText), 0o644)
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := int64(len("id,opened\n"))
	csvTask := task.Map{Job: "plan", Input: 0, File: filepath.Join(dir, "x.csv"), Format: jobs.FormatCSV,
		Header: []string{"id", "opened"}, DataStart: start, Start: start, End: int64(len(csvText)), State: csvsplit.Outside, Reducers: 1}
	jsonTask := task.Map{Job: "plan", Input: 1, File: filepath.Join(dir, "x.json"), Format: jobs.FormatSODAJSON, End: int64(len(jsonText)), Reducers: 1}

	for _, tc := range []struct {
		name  string
		t     task.Map
		limit int
		want  []string // request id, or "reject:" reason
	}{
		{"csv", csvTask, 10, []string{"1", "reject:bad_timestamp", "3", "reject:" + ReasonMalformed}},
		{"csv limited", csvTask, 2, []string{"1", "reject:bad_timestamp"}},
		{"soda json", jsonTask, 10, []string{"1", "reject:missing_request_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			n, err := Sample(context.Background(), spec, store, tc.t, tc.limit, func(s Sampled) {
				switch {
				case s.Reject != nil && s.Err != nil:
					got = append(got, "reject:"+s.Reject.Reason)
				case s.Request != nil:
					got = append(got, s.Request.RequestID)
				default:
					t.Errorf("record at %d: neither normalized nor rejected", s.Offset)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != len(got) || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("sampled %d: %q, want %q", n, got, tc.want)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("Sample wrote into the job's directory: %d entries, want the 2 inputs", len(ents))
	}
}
