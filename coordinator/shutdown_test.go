package coordinator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
