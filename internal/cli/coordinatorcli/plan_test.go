package coordinatorcli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/jobtest"
)

// TestPlanClassicMacLineEndings dry-runs a "CSV (Macintosh)" export, whose lines end with
// a lone CR. Before, its every line read as one header: the plan showed 0 splits and the
// data as thousands of unread columns, yet said the job would run, and a run succeeded
// without the file's records.
func TestPlanClassicMacLineEndings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mac.csv")
	writeFile(t, file, "id,opened,status\r1,2024-01-01T00:00:00Z,open\r2,2024-01-02T00:00:00Z,closed\r")
	spec := jobtest.WriteSpec(t, dir, jobtest.JobDef{Schemas: planSchema, Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "rejects"),
		Inputs: []jobtest.InputDef{{Name: "mac", Path: file, Schema: "t"}}})
	code, out, errOut := runPlan(t, spec.File)
	want := `input "mac": ` + file + `: csvsplit: header: byte 16: lines end with a bare CR (classic Mac line endings); convert them to LF or CRLF`
	if code != 1 || !strings.Contains(out, "problems (1): the job would not run\n  "+want+"\n") || strings.Contains(out, "would run") {
		t.Errorf("exit %d; want 1 with the problem %q\n%s%s", code, want, out, errOut)
	}
}
