package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// changingExecutor runs tasks in process and, before the map task of index at, changes
// the job's input file.
type changingExecutor struct {
	directExecutor
	at     int
	change func()
	once   sync.Once
}

func (e *changingExecutor) Map(ctx context.Context, spec json.RawMessage, t task.Map) (task.MapResult, error) {
	if t.Index == e.at {
		e.once.Do(e.change)
	}
	return e.directExecutor.Map(ctx, spec, t)
}

// TestInputChangedDuringRunFailsJob changes the input file of a job after its plan, while
// its map tasks run (the review's repro: a CSV truncated 1.5 s into a run with 4 KiB
// splits). Before the plan recorded each file's size and modification time for its tasks
// to check, the job succeeded with the records read before the change and replaced the
// lake's groups with them. Now it fails, naming the file and what changed, and commits
// nothing.
func TestInputChangedDuringRunFailsJob(t *testing.T) {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(path string) error
		want   string // in the job's error, after the file's name
	}{
		{"truncated", func(path string) error { return os.Truncate(path, 5000) }, "input changed since the plan: size %d → 5000"},
		{"appended", func(path string) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString(tinyRow(99999))
			return err
		}, "input changed since the plan: size %d → %d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.csv")
			var b strings.Builder
			b.WriteString(tinyHeader)
			for i := range 2000 {
				b.WriteString(tinyRow(i))
			}
			if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			spec := writeSpec(t, dir, jobDef{schemas: tinySchema, split: "4KiB", reducers: 2, inputs: []inputDef{{"tiny", in, "tiny", ""}},
				parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")})
			exec := &changingExecutor{directExecutor: directExecutor{spec: spec, slots: 1,
				env: worker.Env{DataDir: filepath.Join(dir, "data"), Fetcher: shuffle.LocalFetcher{}, Store: store}},
				at: 3, change: func() {
					if err := tc.change(in); err != nil {
						t.Error(err)
					}
				}}
			res, err := RunJob(context.Background(), spec, exec, "normalize-1", RunOptions{Store: store})
			if res.MapTasks < 10 {
				t.Fatalf("%d map tasks; the test wants the change to land mid-run", res.MapTasks)
			}
			fi, _ := os.Stat(in)
			want := in + ": " + tc.want
			if strings.Count(want, "%d") == 2 {
				want = fmt.Sprintf(want, b.Len(), fi.Size())
			} else {
				want = fmt.Sprintf(want, b.Len())
			}
			if !errors.Is(err, task.ErrFatal) || !errors.Is(err, mapinput.ErrInputChanged) || !strings.Contains(res.Error, want) {
				t.Fatalf("RunJob: %v (%s: %s); want a fatal error saying %q", err, res.Status, res.Error, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "lake", "city=tiny")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the lake has a group of the changed file: %v", err)
			}
		})
	}
}

// TestRunRefusesClassicMacLineEndings runs a job over a "CSV (Macintosh)" export, whose
// lines end with a lone CR: the job fails at its plan, naming the file and what to do.
// Before, the file read as one header holding every line, and the job succeeded without
// its records.
func TestRunRefusesClassicMacLineEndings(t *testing.T) {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "mac.csv")
	text := strings.ReplaceAll(tinyHeader+tinyRow(1)+tinyRow(2), "\n", "\r")
	if err := os.WriteFile(in, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := writeSpec(t, dir, jobDef{schemas: tinySchema, reducers: 1, inputs: []inputDef{{"tiny", in, "tiny", ""}},
		parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")})
	exec := &directExecutor{spec: spec, slots: 1,
		env: worker.Env{DataDir: filepath.Join(dir, "data"), Fetcher: shuffle.LocalFetcher{}, Store: store}}
	res, err := RunJob(context.Background(), spec, exec, "normalize-1", RunOptions{Store: store})
	want := in + ": csvsplit: header: byte 22: lines end with a bare CR (classic Mac line endings); convert them to LF or CRLF"
	if !errors.Is(err, task.ErrFatal) || !errors.Is(err, csvsplit.ErrBareCR) || !strings.Contains(res.Error, want) {
		t.Fatalf("RunJob: %v (%s: %s); want a fatal error saying %q", err, res.Status, res.Error, want)
	}
}
