package coordinator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/jobs"
)

func TestDueAtStart(t *testing.T) {
	sc, err := jobs.ParseSchedule("daily 02:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		last time.Time
		want bool
	}{
		{time.Time{}, false}, // never ran: wait for the first scheduled time
		{time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC), true}, // today's 02:00 run was missed
		{time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC), true},
	} {
		if got := dueAtStart(sc, scheduleState{Last: c.last}, now); got != c.want {
			t.Errorf("dueAtStart(last %v) = %v, want %v", c.last, got, c.want)
		}
	}
}

// TestScheduleCatchUp starts a coordinator whose scheduled job missed its run while it was
// down: the job runs at start-up, once, and the schedule's state records it.
func TestScheduleCatchUp(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "in.csv")
	os.WriteFile(data, []byte(tinyHeader+tinyRow(1)+tinyRow(2)), 0o644)
	src := jobDef{name: "nightly", schemas: tinySchema, ratio: 0.5, inputs: []inputDef{{"tiny", data, "tiny", ""}},
		parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")}.source()
	src = strings.Replace(src, "  split_size", "  schedule = \"daily 02:00 UTC\"\n  split_size", 1)
	file := filepath.Join(dir, "nightly.job")
	os.WriteFile(file, []byte(src), 0o644)

	cdir := filepath.Join(dir, "cluster")
	state := filepath.Join(cdir, "coordinator", "schedules", "nightly.json")
	os.MkdirAll(filepath.Dir(state), 0o755)
	old := scheduleState{Last: time.Now().Add(-72 * time.Hour)}
	b, _ := json.Marshal(old)
	os.WriteFile(state, b, 0o644)

	c, err := StartLocalCluster(LocalClusterConfig{Workers: 1, Dir: cdir, Schedules: []string{file}, StartWorker: startWorker})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st scheduleState
		if b, err := os.ReadFile(state); err == nil && json.Unmarshal(b, &st) == nil && st.Last.After(old.Last) {
			j, ok := c.Server.Job(st.Job)
			if !ok || j.State != Succeeded {
				t.Fatalf("the catch-up run %s: %+v", st.Job, j)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no catch-up run within a minute; jobs: %+v", c.Server.Jobs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(c.Server.Jobs()); n != 1 {
		t.Errorf("%d runs, want the one catch-up run", n)
	}
}
