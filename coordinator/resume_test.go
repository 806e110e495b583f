package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/task"
)

// TestReplayJob reads journals into resume points: what a restart keeps and what it runs
// again.
func TestReplayJob(t *testing.T) {
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	plan, _ := json.Marshal(&Plan{Maps: []task.Map{{Index: 0}, {Index: 1}, {Index: 2}}})
	spec := &journal.Spec{Job: "j-1", Name: "j", Submitted: at, Spec: json.RawMessage(`{}`)}
	planRec := &journal.Plan{Maps: 3, Reducers: 2, Plan: plan}
	mapRec := func(i, attempt int) *journal.TaskAccepted {
		return &journal.TaskAccepted{Worker: "w", Map: &task.MapResult{Index: i, Attempt: attempt}}
	}
	redRec := func(i, attempt int) *journal.TaskAccepted {
		return &journal.TaskAccepted{Reduce: &task.ReduceResult{Index: i, Attempt: attempt}}
	}
	for _, tc := range []struct {
		name    string
		recs    []journal.Record
		wantErr string
		check   func(t *testing.T, rp *resumePoint)
	}{
		{name: "no spec", recs: []journal.Record{planRec}, wantErr: "no spec record"},
		{name: "finished", recs: []journal.Record{spec, &journal.Finished{State: "succeeded", At: at}}, wantErr: "finished"},
		{name: "map outside the plan", recs: []journal.Record{spec, planRec, mapRec(3, 1)}, wantErr: "outside the plan"},
		{name: "accepted map before any plan", recs: []journal.Record{spec, mapRec(0, 1)}, wantErr: "outside the plan"},
		{name: "unknown phase", recs: []journal.Record{spec, &journal.Phase{State: "flying", At: at}}, wantErr: "phase"},
		{name: "plan count disagrees", recs: []journal.Record{spec, &journal.Plan{Maps: 2, Plan: plan}}, wantErr: "3 map tasks"},
		{name: "spec only: plan again", recs: []journal.Record{spec}, check: func(t *testing.T, rp *resumePoint) {
			if rp.plan != nil || rp.resumed != 1 || rp.attemptBase != attemptsPerRun {
				t.Errorf("plan %v, resumed %d, base %d", rp.plan, rp.resumed, rp.attemptBase)
			}
		}},
		{name: "mid map", recs: []journal.Record{spec, planRec, &journal.Phase{State: "map", At: at.Add(time.Second)}, mapRec(0, 1), mapRec(2, 2)},
			check: func(t *testing.T, rp *resumePoint) {
				if rp.plan == nil || len(rp.plan.Maps) != 3 || len(rp.maps) != 2 || rp.maps[2].Attempt != 2 || rp.state != Mapping {
					t.Errorf("plan %v, maps %v, state %v", rp.plan, rp.maps, rp.state)
				}
				if rp.lost != time.Minute-time.Second {
					t.Errorf("lost %s, want 59s (since the last journaled event)", rp.lost)
				}
			}},
		{name: "interrupted by a shutdown", recs: []journal.Record{spec, planRec, &journal.Phase{State: "reduce", At: at}, &journal.Phase{State: "interrupted", At: at.Add(10 * time.Second)}},
			check: func(t *testing.T, rp *resumePoint) {
				if rp.state != Reducing || !rp.shutdown || rp.lost != 50*time.Second {
					t.Errorf("state %v, shutdown %v, lost %s; want reduce, true, 50s (since the interruption)", rp.state, rp.shutdown, rp.lost)
				}
			}},
		{name: "interrupted, resumed, then crashed", recs: []journal.Record{spec, planRec, &journal.Phase{State: "map", At: at}, &journal.Phase{State: "interrupted", At: at},
			&journal.Phase{State: resumedPhase, At: at}, &journal.Phase{State: "map", At: at}},
			check: func(t *testing.T, rp *resumePoint) {
				if rp.state != Mapping || rp.shutdown || rp.resumed != 2 {
					t.Errorf("state %v, shutdown %v, resumed %d; want map, false (a crash), 2", rp.state, rp.shutdown, rp.resumed)
				}
			}},
		{name: "lost map runs again", recs: []journal.Record{spec, planRec, mapRec(0, 1), mapRec(1, 1), &journal.MapLost{Map: 1, Attempt: 1}},
			check: func(t *testing.T, rp *resumePoint) {
				if _, ok := rp.maps[1]; ok || len(rp.maps) != 1 {
					t.Errorf("maps %v: map 1 was lost", rp.maps)
				}
			}},
		{name: "lost then accepted again", recs: []journal.Record{spec, planRec, mapRec(1, 1), &journal.MapLost{Map: 1, Attempt: 1}, mapRec(1, 2)},
			check: func(t *testing.T, rp *resumePoint) {
				if rp.maps[1].Attempt != 2 {
					t.Errorf("maps %v: map 1 attempt 2 was accepted", rp.maps)
				}
			}},
		{name: "a new plan drops the old maps", recs: []journal.Record{spec, planRec, mapRec(0, 1), planRec},
			check: func(t *testing.T, rp *resumePoint) {
				if len(rp.maps) != 0 {
					t.Errorf("maps %v kept across a re-plan", rp.maps)
				}
			}},
		{name: "second restart", recs: []journal.Record{spec, planRec, &journal.Phase{State: resumedPhase, At: at}, mapRec(0, attemptsPerRun+1), redRec(1, attemptsPerRun+3)},
			check: func(t *testing.T, rp *resumePoint) {
				if rp.resumed != 2 || rp.attemptBase != 2*attemptsPerRun || len(rp.reduces) != 1 {
					t.Errorf("resumed %d, base %d, reduces %v", rp.resumed, rp.attemptBase, rp.reduces)
				}
			}},
		{name: "attempts beyond the resume records", recs: []journal.Record{spec, planRec, mapRec(0, 2*attemptsPerRun+1)},
			check: func(t *testing.T, rp *resumePoint) {
				if rp.attemptBase <= 2*attemptsPerRun+1 {
					t.Errorf("base %d would reuse attempt %d's stage", rp.attemptBase, 2*attemptsPerRun+1)
				}
			}},
		{name: "mid commit", recs: []journal.Record{spec, planRec, redRec(0, 1), redRec(1, 1), &journal.Commit{Step: journal.CommitBegin}},
			check: func(t *testing.T, rp *resumePoint) {
				if !rp.commitBegun || rp.committed || rp.rejects || rp.published || len(rp.reduces) != 2 {
					t.Errorf("%+v", rp)
				}
			}},
		{name: "committed and published", recs: []journal.Record{spec, planRec, &journal.Commit{Step: journal.CommitBegin}, &journal.Commit{Step: journal.CommitSuccess},
			&journal.Commit{Step: journal.CommitFiles, Files: []string{rejectsMarker}}, &journal.Published{At: at}},
			check: func(t *testing.T, rp *resumePoint) {
				if !rp.committed || !rp.rejects || !rp.published {
					t.Errorf("%+v", rp)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rp, err := replayJob(tc.recs, at.Add(time.Minute))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, rp)
		})
	}
}

// TestSubmitJournalsAndRestartResumes submits a job to a coordinator without workers (it
// plans and waits in its map phase), copies its journal as a crash would leave it, and
// starts a second coordinator on that state: the job is back under its id, in its map
// phase, with the same plan, its own lake claim not in its way. Before the journal, the
// second coordinator knew no such job.
func TestSubmitJournalsAndRestartResumes(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.csv"), []byte(tinyHeader+tinyRow(1)+tinyRow(2)), 0o644)
	src := tinyJob("resume_me", in+"/*.csv", out+"/lake", out+"/rejects", "")
	jobFile := filepath.Join(dir, "resume_me.job")
	os.WriteFile(jobFile, []byte(src), 0o644)

	first := newTestServer(t, nil)
	id, err := first.Submit(task.JobSource{Path: jobFile, Source: []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, first, id, Mapping)
	state := filepath.Join(first.cfg.DataDir, "state")
	recs := replayState(t, state, id)
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind().String())
	}
	if got := strings.Join(kinds, " "); !strings.HasPrefix(got, "spec phase plan phase") {
		t.Fatalf("journal of a job in its map phase holds %q, want spec, phase plan, plan, phase map", got)
	}

	// The first coordinator "dies": its journal is what it wrote; a replacement starts on a
	// copy of its state (the first one still runs, so its files are not touched).
	crashed := filepath.Join(dir, "crashed-state")
	copyTree(t, state, crashed)
	second := newTestServer(t, func(c *ServerConfig) { c.State = crashed })
	j := waitState(t, second, id, Mapping)
	if j.Resumed != 1 || j.Name != "resume_me" {
		t.Errorf("resumed job: %+v", j)
	}
	if j.Progress.MapsTotal != 1 {
		t.Errorf("resumed job has %d map tasks, the journaled plan has 1", j.Progress.MapsTotal)
	}
	b, _ := json.Marshal(j)
	if !strings.Contains(string(b), `"resumed":1`) {
		t.Errorf("the API does not show the resume: %s", b)
	}
	again := replayState(t, crashed, id)
	if p, ok := again[len(again)-1].(*journal.Phase); !ok || p.State != Mapping.String() {
		t.Errorf("the resumed run's last record is %#v, want phase map", again[len(again)-1])
	}
}

// TestBadJournalReported: a journal that cannot be read, or holds no spec, is reported as a
// failed job with the reason, and the coordinator starts and serves anyway.
func TestBadJournalReported(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	dir, err := journal.Open(ctx, journal.Config{Location: state})
	if err != nil {
		t.Fatal(err)
	}
	j, err := dir.Create(ctx, "nospec-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, &journal.Phase{State: "map", At: time.Now()}, journal.Sync); err != nil {
		t.Fatal(err)
	}
	j.Close(ctx)
	if err := os.WriteFile(filepath.Join(state, "jobs", "garbage-1.journal"), []byte("not a journal at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	done, _ := dir.Create(ctx, "done-1")
	done.Append(ctx, &journal.Spec{Job: "done-1", Name: "done", Spec: json.RawMessage(`{}`)}, journal.Sync)
	done.Append(ctx, &journal.Finished{State: "succeeded", At: time.Now()}, journal.Sync)
	done.Close(ctx)

	s := newTestServer(t, func(c *ServerConfig) { c.State = state })
	for _, tc := range []struct{ id, why string }{{"nospec-1", "no spec record"}, {"garbage-1", "journal"}} {
		j, ok := s.Job(tc.id)
		if !ok || j.State != Failed || j.Result == nil || !strings.Contains(j.Result.Error, tc.why) {
			t.Errorf("job %s: %+v (result %+v), want failed saying %q", tc.id, j, j.Result, tc.why)
		}
	}
	if _, ok := s.Job("done-1"); ok {
		t.Errorf("a finished journal was resumed")
	}
	if ids, _ := dir.Jobs(ctx); strings.Contains(strings.Join(ids, " "), "done-1") {
		t.Errorf("the finished job's journal is still there: %v", ids)
	}
}

// TestBadJournalKeptUntilCancelled: the journal of a job that could not be resumed is kept
// (every start shows the job failed from it) until the user cancels the job; the cancel
// removes the journal and saves the failure in the history, so a later start still shows
// the job failed, and the journal does not come back.
func TestBadJournalKeptUntilCancelled(t *testing.T) {
	state, data := t.TempDir(), t.TempDir()
	ctx := context.Background()
	path := filepath.Join(state, "jobs", "garbage-1.journal")
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, []byte("not a journal at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *Server {
		s := newTestServer(t, func(c *ServerConfig) { c.State, c.DataDir = state, data })
		j, ok := s.Job("garbage-1")
		if !ok || j.State != Failed || j.Result == nil || !strings.Contains(j.Result.Error, "journal") {
			t.Fatalf("job garbage-1: %+v (result %+v), want failed over its journal", j, j.Result)
		}
		return s
	}
	s := start()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s = start()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the journal was not kept for inspection: %v", err)
	}
	if err := s.Cancel("garbage-1"); err != nil {
		t.Fatalf("cancel of a job that could not be resumed: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the journal is still there after the cancel (stat: %v)", err)
	}
	if err := s.Cancel("garbage-1"); err == nil {
		t.Errorf("a second cancel succeeded; the job is over")
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	start()
}

// waitState polls s until job id is in state want, and returns its snapshot.
func waitState(t *testing.T, s *Server, id string, want State) JobStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		j, ok := s.Job(id)
		if ok && j.State == want {
			return j
		}
		if ok && j.State.Terminal() {
			t.Fatalf("job %s ended %s (%+v) before reaching %s", id, j.State, j.Result, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %v (known %v), never %s", id, j.State, ok, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replayState reads job id's journal at state.
func replayState(t *testing.T, state, id string) []journal.Record {
	t.Helper()
	dir, err := journal.Open(context.Background(), journal.Config{Location: state})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := dir.Replay(context.Background(), id)
	if err != nil && !errors.Is(err, journal.ErrNotExist) {
		t.Fatal(err)
	}
	return recs
}
