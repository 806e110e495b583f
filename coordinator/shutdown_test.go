package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// TestShutdownAnswersLongPolls: Shutdown answers the workers' waiting long polls itself
// (503, "coordinator shutting down") before it stops the HTTP server, and so returns without
// waiting out PollWait. The polls here would wait an hour; Shutdown's budget is a minute.
// Before, Shutdown stopped the HTTP server first, which waited for the polls, and the
// scheduler that could answer them was told to stop only after that: Shutdown failed with
// its context's deadline (and `coordinator serve` took ~20 s of its 30 s to stop with idle
// workers attached: scripts/stoptime.sh).
// Several goroutines call Shutdown at once, and each gets the same (nil) error.
func TestShutdownAnswersLongPolls(t *testing.T) {
	s := newTestServer(t, func(c *ServerConfig) { c.PollWait = time.Hour })
	const workers = 3
	type answer struct {
		code int
		body string
		err  error
	}
	answers := make(chan answer, workers)
	for i := range workers {
		name := fmt.Sprintf("w%d", i)
		s.sched.WorkerUp(workerSlot{Name: name, Slots: 1})
		registered := lastSeen(s, name)
		go func() {
			req, err := http.NewRequest(http.MethodPost, "http://"+s.APIAddr()+task.PathPoll,
				strings.NewReader(fmt.Sprintf(`{"worker":%q,"free":1}`, name)))
			if err != nil {
				answers <- answer{err: err}
				return
			}
			req.Header.Set("Authorization", "Bearer secret")
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			answers <- answer{res.StatusCode, string(b), err}
		}()
		// Poll marks the worker seen as it starts to wait: from then on, only the poll's
		// wait (an hour) or the scheduler can end it.
		waitUntil(t, fmt.Sprintf("worker %s's poll to wait", name), func() bool { return lastSeen(s, name) != registered })
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- s.Shutdown(ctx) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("Shutdown: %v, want nil (the HTTP server waited for the long polls?)", err)
		}
	}
	for range workers {
		var a answer
		select {
		case a = <-answers:
		case <-time.After(time.Minute):
			t.Fatal("a poll still waits a minute after Shutdown returned")
		}
		if a.err != nil || a.code != http.StatusServiceUnavailable || !strings.Contains(a.body, ErrShuttingDown.Error()) {
			t.Errorf("poll answered %d %q (err %v), want 503 %q", a.code, strings.TrimSpace(a.body), a.err, ErrShuttingDown)
		}
	}
	if _, err := s.Submit(task.JobSource{Path: "x.job", Source: []byte(`job "x" {}`)}); err == nil {
		t.Errorf("a job was accepted after Shutdown")
	}
}

// lastSeen is when the scheduler last heard from worker name.
func lastSeen(s *Server, name string) time.Time {
	for _, w := range s.sched.Workers() {
		if w.Name == name {
			return w.LastSeen
		}
	}
	return time.Time{}
}

// TestShutdownInterruptsJobs: Shutdown interrupts a running job instead of cancelling it —
// its journal stays and ends with the phase "interrupted", its lake claim stays, no history
// says it ended — and a coordinator started on the same data dir resumes it, counting the
// resume and the time lost since the interruption. A user's cancel of the resumed job still
// cancels it and cleans up: the claim and the journal are gone. Before, Shutdown cancelled
// the job, so a SIGTERM (an instance refresh, an upgrade) lost it and only a crash resumed.
func TestShutdownInterruptsJobs(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.csv"), []byte(tinyHeader+tinyRow(1)+tinyRow(2)), 0o644)
	src := tinyJob("interrupt_me", in+"/*.csv", out+"/lake", out+"/rejects", "")
	dataDir := filepath.Join(dir, "coordinator")
	first := newTestServer(t, func(c *ServerConfig) { c.DataDir = dataDir })
	id, err := first.Submit(task.JobSource{Path: filepath.Join(dir, "interrupt_me.job"), Source: []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, first, id, Mapping) // no worker: the job waits in its map phase
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	interruptedAt := time.Now()
	j, ok := first.Job(id)
	if !ok || j.State != Interrupted || j.Result != nil || !errors.Is(j.err, ErrInterrupted) {
		t.Errorf("after Shutdown the job is %s (result %+v, err %v), want interrupted without a result", j.State, j.Result, j.err)
	}
	if b, _ := json.Marshal(j); !strings.Contains(string(b), `"state":"running"`) || !strings.Contains(string(b), `"phase":"interrupted"`) {
		t.Errorf("the API shows the interrupted job as %s", b)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "jobs", id+".json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a history was saved for the interrupted job (%v): a restart would take it as finished", err)
	}
	recs := replayState(t, filepath.Join(dataDir, "state"), id)
	if p, ok := recs[len(recs)-1].(*journal.Phase); !ok || p.State != Interrupted.String() {
		t.Fatalf("the interrupted job's journal ends with %#v, want phase interrupted", recs[len(recs)-1])
	}
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := lake.HolderOf(context.Background(), store, out+"/lake"); err != nil || h == nil || h.Job != id {
		t.Errorf("the lake's claim after the interruption: %+v, %v; want the job's", h, err)
	}

	second := newTestServer(t, func(c *ServerConfig) { c.DataDir = dataDir })
	j = waitState(t, second, id, Mapping)
	if j.Resumed != 1 || j.Lost <= 0 || j.Lost > time.Since(interruptedAt)+time.Second {
		t.Errorf("resumed %d times, %s lost; want once, at most the %s since the interruption", j.Resumed, j.Lost, time.Since(interruptedAt))
	}
	if err := second.Cancel(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, second, id, Cancelled)
	second.Shutdown(ctx) // waits for the run to clean up and remove its journal
	if recs := replayState(t, filepath.Join(dataDir, "state"), id); len(recs) != 0 {
		t.Errorf("the cancelled job's journal is still there: %d records", len(recs))
	}
	if h, err := lake.HolderOf(context.Background(), store, out+"/lake"); err != nil || h != nil {
		t.Errorf("the cancelled job's claim is still there: %+v, %v", h, err)
	}
}
