package coordinator

import (
	"context"
	"encoding/json"
	"log/slog"
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
	file := nightlyJob(t, dir)

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

// TestScheduledRunResumed: a coordinator dies while its scheduled run is going (here, the
// catch-up run of a missed day, stuck in its map phase for want of workers; the next
// coordinator starts on a copy of its data dir as the crash left it). The next coordinator
// resumes the run from its journal and the schedule waits for it and records it: the run is
// not started a second time, although the schedule's state still says the last run was
// three days ago. Before, the schedule knew nothing of the resumed run and started the same
// day's run again once the resumed one had freed the lake.
func TestScheduledRunResumed(t *testing.T) {
	dir := t.TempDir()
	file := nightlyJob(t, dir)
	sc, err := jobs.ParseSchedule("daily 02:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	old := scheduleState{Last: sc.Prev(time.Now()).Add(-72 * time.Hour)}
	b, _ := json.Marshal(old)

	first := newTestServer(t, func(c *ServerConfig) {
		c.Schedules = []string{file}
		os.MkdirAll(filepath.Join(c.DataDir, "schedules"), 0o755)
		os.WriteFile(filepath.Join(c.DataDir, "schedules", "nightly.json"), b, 0o644)
	})
	var id string
	deadline := time.Now().Add(time.Minute)
	for id == "" {
		for _, j := range first.Jobs() {
			if j.State == Mapping {
				id = j.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catch-up run never reached its map phase: %+v", first.Jobs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The crash: what the first coordinator wrote is all the next one has.
	cdir := filepath.Join(dir, "cluster")
	copyTree(t, first.cfg.DataDir, filepath.Join(cdir, "coordinator"))
	first.Shutdown(context.Background())

	var logs syncBuffer
	c, err := StartLocalCluster(LocalClusterConfig{Workers: 1, Dir: cdir, Schedules: []string{file}, StartWorker: startWorker,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	state := filepath.Join(cdir, "coordinator", "schedules", "nightly.json")
	deadline = time.Now().Add(time.Minute)
	for {
		var st scheduleState
		if b, err := os.ReadFile(state); err == nil && json.Unmarshal(b, &st) == nil && st.Job == id {
			if !st.Last.Equal(sc.Prev(time.Now())) {
				t.Errorf("the resumed run is recorded for %v, want %v (the time it was scheduled for)", st.Last, sc.Prev(time.Now()))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resumed run %s was not recorded as the schedule's run within a minute; jobs %+v; log:\n%s", id, c.Server.Jobs(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The loop goes on to its next decision: tomorrow's run, not another one now.
	deadline = time.Now().Add(time.Minute)
	for {
		log := logs.String()
		if i := strings.Index(log, "was resumed; waiting for it"); i >= 0 && strings.Contains(log[i:], "next scheduled run") {
			if strings.Contains(log, "a scheduled run was missed") {
				t.Errorf("the schedule ran the missed day again after resuming its run:\n%s", log)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedule made no decision after the resumed run; log:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	jobs := c.Server.Jobs()
	if len(jobs) != 1 || jobs[0].ID != id || jobs[0].State != Succeeded || jobs[0].Resumed != 1 {
		t.Errorf("jobs %+v; want the one resumed run %s, succeeded", jobs, id)
	}
}

// nightlyJob writes the job "nightly", scheduled daily at 02:00 UTC, over a tiny input in
// dir, and returns its file.
func nightlyJob(t *testing.T, dir string) string {
	t.Helper()
	data := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(data, []byte(tinyHeader+tinyRow(1)+tinyRow(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	src := jobDef{name: "nightly", schemas: tinySchema, ratio: 0.5, inputs: []inputDef{{"tiny", data, "tiny", ""}},
		parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")}.source()
	src = strings.Replace(src, "  split_size", "  schedule = \"daily 02:00 UTC\"\n  split_size", 1)
	file := filepath.Join(dir, "nightly.job")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
