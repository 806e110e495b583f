package coordinatorcli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/jobtest"
)

// TestPlanEscapesTheInputs dry-runs a file whose name, header and values hold terminal
// escape sequences (retitle the window, clear the screen), a tab and invalid UTF-8: the
// report shows each Go-quoted, as `schema infer` does, and writes no control byte but its
// own newlines. Before, `coordinator plan` printed the unread columns' names and the
// sample's values raw.
func TestPlanEscapesTheInputs(t *testing.T) {
	dir := t.TempDir()
	const evil = "\x1b]0;pwned\a\x1b[2J"
	writeFile(t, filepath.Join(dir, "in", "x"+evil+".csv"),
		"id,opened,status,\""+evil+"\",a\tb,\xff\n"+
			"\x1b[31mred,2024-01-01T00:00:00Z,open,x,y,z\n"+
			"2,\x1b[2Jsoon,open,x,y,z\n")
	spec := jobtest.WriteSpec(t, dir, jobtest.JobDef{Schemas: planSchema, Ratio: 0.9, Parquet: filepath.Join(dir, "lake"), Rejects: filepath.Join(dir, "rejects"),
		Inputs: []jobtest.InputDef{{Name: "evil", Path: filepath.Join(dir, "in"), Schema: "t"}}})
	code, out, errOut := runPlan(t, spec.File)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	for i := 0; i < len(out); i++ {
		if c := out[i]; c < 0x20 && c != '\n' || c == 0x7f {
			t.Fatalf("the report holds the control byte %#x at %d:\n%q", c, i, out)
		}
	}
	for _, want := range []string{
		`"x\x1b]0;pwned\a\x1b[2J.csv"`,            // the file
		`"\x1b]0;pwned\a\x1b[2J", "a\tb", "\xff"`, // the unread columns
		`"\x1b[31mred"`,                           // a sampled request id
		`value "\x1b[2Jsoon"`,                     // the reject's message (which quotes it)
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report does not show %s:\n%s", want, out)
		}
	}
}

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
