package coordinatorcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/jobtest"
)

// TestResultCarriesVersion: a job's result names the release that ran it, in the JSON
// (`version`) and in the printed summary.
func TestResultCarriesVersion(t *testing.T) {
	res := &coordinator.Result{Job: "j-1", Name: "normalize", Status: coordinator.Succeeded, Seconds: 1.5, Version: "v1.2.0-3-gabc1234"}
	var b bytes.Buffer
	printResult(&b, res)
	if first, _, _ := strings.Cut(b.String(), "\n"); first != "job normalize (j-1): succeeded in 1.5s · ireports v1.2.0-3-gabc1234" {
		t.Errorf("summary starts %q, want the version in its first line", first)
	}
	b.Reset()
	if err := finish(&b, io.Discard, "run", res, nil, true); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v["version"] != res.Version {
		t.Errorf("--json result: version %v (%v), want %s", v["version"], err, res.Version)
	}
}

// TestFinishUnpublished: a run that committed its lake but could not publish its summaries
// ends with coordinator.ErrUnpublished, which Main exits ExitUnpublished on, in text and in --json.
func TestFinishUnpublished(t *testing.T) {
	res := &coordinator.Result{Job: "j-1", Name: "normalize", Status: coordinator.Succeeded, Published: coordinator.Unpublished}
	for _, asJSON := range []bool{false, true} {
		var b bytes.Buffer
		if err := finish(&b, io.Discard, "run", res, nil, asJSON); !errors.Is(err, coordinator.ErrUnpublished) {
			t.Errorf("finish of an unpublished run (json %v): %v, want ErrUnpublished (exit code %d)", asJSON, err, ExitUnpublished)
		}
	}
}

// TestRunFailingToPlan: `coordinator run` of a job that fails while planning (its input
// matches no file) says why first, on stderr, and then, on stdout, that the job failed before
// any task and wrote nothing, with none of the lines (input, records, groups, throughput,
// memory) of a run that did work; --json still prints one object with the status and the
// error. Neither run leaves an output directory behind.
func TestRunFailingToPlan(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "data", "*.csv")
	spec := jobtest.WriteSpec(t, dir, jobtest.JobDef{Schemas: planSchema, Ratio: 0.01, Reducers: 2,
		Inputs:  []jobtest.InputDef{{Name: "t", Path: input, Schema: "t"}},
		Parquet: filepath.Join(dir, "out", "requests"), Rejects: filepath.Join(dir, "out", "rejects")})
	reason := `coordinator run: input "t": path ` + input + `: file does not exist: no file matches`

	var both bytes.Buffer // stdout and stderr in the order written, as a terminal shows them
	if code := Main([]string{"run", spec.File, "--workers", "1"}, &both, &both); code != ExitFailure {
		t.Errorf("exit %d, want %d\n%s", code, ExitFailure, &both)
	}
	lines := strings.Split(strings.TrimSuffix(both.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != reason ||
		!strings.HasPrefix(lines[1], "job normalize (normalize-") || !strings.Contains(lines[1], "): failed while planning in ") ||
		!strings.Contains(lines[1], "s, before any task: no output written · ireports ") {
		t.Errorf("output:\n%s\nwant the reason %q, then one line saying the job failed while planning, before any task", &both, reason)
	}

	var stdout, stderr bytes.Buffer
	if code := Main([]string{"run", spec.File, "--workers", "1", "--json"}, &stdout, &stderr); code != ExitFailure {
		t.Errorf("--json: exit %d, want %d\n%s", code, ExitFailure, &stderr)
	}
	var res coordinator.Result
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&res); err != nil || dec.More() {
		t.Fatalf("--json: stdout is not one JSON object (%v):\n%s", err, stdout.String())
	}
	if res.Status != coordinator.Failed || "coordinator run: "+res.Error != reason {
		t.Errorf("--json: status %s, error %q; want failed and %q", res.Status, res.Error, reason)
	}
	if stderr.Len() > 0 {
		t.Errorf("--json: stderr %q, want nothing (the error is in the object)", &stderr)
	}

	var left []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != dir {
			left = append(left, strings.TrimPrefix(p, dir+string(filepath.Separator)))
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("the failed runs left the directories %q", left)
	}
}

// TestPrintFailedResult: the summary of a failed run shows only what the run did: nothing
// but its pulls and warnings when it ended before any task, and no groups, nor a rejects
// path, when it did not commit.
func TestPrintFailedResult(t *testing.T) {
	outputs := coordinator.Outputs{Parquet: "/o/requests", Summaries: "/o/summaries", Rejects: "/o/rejects/j"}
	for _, tc := range []struct {
		name string
		res  coordinator.Result
		want []string
		not  []string
	}{
		{
			name: "failed while planning",
			res: coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Failed, Seconds: 0.01, Outputs: outputs, PeakRSSBytes: 30 << 20,
				PhaseSeconds: map[string]float64{"plan": 0.01, "cleanup": 0.001}},
			want: []string{"job j (j-1): failed while planning in 0.0s, before any task: no output written\n"},
			not:  []string{"input", "records", "groups", "→", "throughput", "memory", "/o/"},
		},
		{
			name: "output busy",
			res:  coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Failed, Outputs: outputs},
			want: []string{"job j (j-1): failed in 0.0s, before any task: no output written\n"},
			not:  []string{"groups", "/o/"},
		},
		{
			name: "failed while pulling",
			res: coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Failed, Seconds: 3, Outputs: outputs,
				PhaseSeconds: map[string]float64{"pull": 3},
				Pulls:        []coordinator.Pull{{Source: "sf", Status: "failed", Records: 10, Batches: 1}}},
			want: []string{"failed while pulling in 3.0s, before any task: no output written", "  pull       sf: failed, 10 records in 1 batches"},
			not:  []string{"groups", "/o/"},
		},
		{
			name: "cancelled while planning",
			res: coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Cancelled, Seconds: 1, Outputs: outputs,
				PhaseSeconds: map[string]float64{"plan": 1}},
			want: []string{"cancelled while planning in 1.0s, before any task: no output written"},
			not:  []string{"groups"},
		},
		{
			name: "failed over the reject budget",
			res: coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Failed, Seconds: 2, Outputs: outputs, Files: 1, Bytes: 1e6,
				MapTasks: 1, ReduceTasks: 2, RecordsIn: 10, Rejected: 5, RejectsByReason: map[string]int64{"bad_timestamp": 5},
				PhaseSeconds: map[string]float64{"plan": 0.5, "map": 1, "check": 0.5}},
			want: []string{"job j (j-1): failed in 2.0s\n", "  input      1 files", "  records    10 in", "  rejects    bad_timestamp 5\n"},
			not:  []string{"groups", "→", "before any task"},
		},
		{
			name: "failed after its commit",
			res: coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Failed, Seconds: 2, MapTasks: 1, ReduceTasks: 2,
				Groups: 3, RecordsIn: 10, Rejected: 1, RejectsByReason: map[string]int64{"bad_timestamp": 1},
				Outputs: coordinator.Outputs{Parquet: "/o/requests", Rejects: "/o/rejects/j", Manifest: "/o/requests/_SUCCESS"}},
			want: []string{"  groups     3 (city, month) → /o/requests\n", "  rejects    bad_timestamp 1 → /o/rejects/j\n"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { checkPrinted(t, &tc.res, tc.want, tc.not) })
	}
}

// TestFinishFailed: a failed run's error comes before its summary, and the command's error
// is still the run's (its exit code) without Main printing it again.
func TestFinishFailed(t *testing.T) {
	runErr := errors.New("input \"t\": no file matches")
	res := &coordinator.Result{Name: "j", Job: "j-1", Status: coordinator.Failed, Error: runErr.Error()}
	var both bytes.Buffer
	err := finish(&both, &both, "submit", res, runErr, false)
	if !errors.Is(err, runErr) || !errors.Is(err, errReported) {
		t.Errorf("finish: %v, want the run's error, reported", err)
	}
	if first, _, _ := strings.Cut(both.String(), "\n"); first != "coordinator submit: "+runErr.Error() {
		t.Errorf("output starts %q, want the error first:\n%s", first, &both)
	}
}

// TestRunJSONBadJobFile: `coordinator run --json` of a job file that does not parse prints
// one JSON object with status failed and the parse error, as for a run that fails later (it
// printed nothing on stdout, and a script reading it got no JSON), and exits ExitFailure.
func TestRunJSONBadJobFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.job")
	if err := os.WriteFile(file, []byte("job \"j\" {\n  reducer = 3\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"run", file, "--json"}, &stdout, &stderr); code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	var res coordinator.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if res.Status != coordinator.Failed || !strings.Contains(res.Error, "bad.job:2:3: Unsupported argument") {
		t.Errorf("result %+v; want failed with the parse error", res)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q; want nothing beside the JSON", stderr.String())
	}
}

// TestTerminalSafe: what commands print of errors, warnings and a job's error keeps its
// lines and tabs and writes every other control character and non-UTF-8 byte as its escape:
// an escape sequence quoted from an input (a column name, a file name) never reaches the
// terminal.
func TestTerminalSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain: a, b\n\tc é":              "plain: a, b\n\tc é",
		"col \x1b]0;pwned\x07 x":          `col \x1b]0;pwned\a x`,
		"\x1b[2J\r\x00\u0085\u200b":       `\x1b[2J\r\x00\u0085` + "\u200b",
		"bad \xff\xfe utf-8":              `bad \xff\xfe utf-8`,
		"a \"quoted\" name and a \\ back": "a \"quoted\" name and a \\ back",
	} {
		if got := terminalSafe(in); got != want {
			t.Errorf("terminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
	// End to end: the error naming a job file with an escape sequence in its name.
	var stdout, stderr bytes.Buffer
	name := filepath.Join(t.TempDir(), "x\x1b]0;pwned\x07.job")
	if code := Main([]string{"run", name}, &stdout, &stderr); code == 0 || strings.ContainsAny(stderr.String(), "\x1b\x07") ||
		!strings.Contains(stderr.String(), `x\x1b]0;pwned\a.job`) {
		t.Errorf("exit %d, stderr %q; want an error naming the file, escaped", code, stderr.String())
	}
}
