package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/httpserve"
)

// TestTransient: what a follower of a job waits out (the coordinator unreachable, shutting
// down, behind a proxy with no coordinator) and what it reports at once.
func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "connection refused"}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("Get: %w", refused), true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"request timed out", context.DeadlineExceeded, true},
		{"connection closed mid-answer", fmt.Errorf("decode: %w", io.ErrUnexpectedEOF), true},
		{"an answer it cannot read", fmt.Errorf(`job "j-1": %w`, errors.New(`progress phase "flying" is no phase of a job run`)), false},
		{"503 shutting down", &APIError{Code: http.StatusServiceUnavailable, Msg: ErrShuttingDown.Error()}, true},
		{"502 from a proxy", &APIError{Code: http.StatusBadGateway}, true},
		{"504 from a proxy", &APIError{Code: http.StatusGatewayTimeout}, true},
		{"404 unknown job", &APIError{Code: http.StatusNotFound, Msg: `no job "x"`}, false},
		{"401 wrong token", &APIError{Code: http.StatusUnauthorized}, false},
		{"untrusted certificate", fmt.Errorf("%w (x509): give --tls-ca", httpserve.ErrUntrusted), false},
		{"nil", nil, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// fakeCoordinator answers WaitJob's calls from a script: one answer per Get, the last one
// repeated.
type fakeCoordinator struct {
	mu        sync.Mutex // guards the fields below
	answers   []func() (JobStatus, error)
	gets      int
	cancels   int
	cancelErr error
}

func (f *fakeCoordinator) get(ctx context.Context, id string) (JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.answers[min(f.gets, len(f.answers)-1)]
	f.gets++
	return a()
}

func (f *fakeCoordinator) cancel(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels++
	return f.cancelErr
}

func running(s State) func() (JobStatus, error) {
	return func() (JobStatus, error) { return JobStatus{ID: "j-1", State: s, Progress: Progress{Phase: s}}, nil }
}

func resumed(s State) func() (JobStatus, error) {
	return func() (JobStatus, error) {
		return JobStatus{ID: "j-1", State: s, Progress: Progress{Phase: s}, Resumed: 1, Lost: 3 * time.Second}, nil
	}
}

func failing(err error) func() (JobStatus, error) {
	return func() (JobStatus, error) { return JobStatus{}, err }
}

var (
	unreachable = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	succeeded   = func() (JobStatus, error) {
		return JobStatus{ID: "j-1", State: Succeeded, Resumed: 1, Lost: 3 * time.Second, Result: &Result{Job: "j-1", Status: Succeeded, RecordsOut: 7}}, nil
	}
)

// TestWaitJobFollowsAcrossAGap: WaitJob follows a job while its coordinator shuts down
// (the job shows interrupted), is unreachable and answers 503, says so once, says when it is
// back, and returns the job's final result; a coordinator that comes back without the job
// (404) is an error that says what was unreachable; a gap longer than Follow.Gap, or one
// with Gap 0, ends the wait; ctx cancelled during a gap returns at once, saying the job was
// not cancelled. Before, the first failed read ended `coordinator submit`.
func TestWaitJobFollowsAcrossAGap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []func() (JobStatus, error)
		gap      time.Duration
		cancel   string // cancel ctx at the first "progress" report, or once a "gap" began
		wantErr  string
		notes    []string // in the notices, in order
		wantOuts int64
	}{
		{name: "restart", gap: time.Minute, answers: []func() (JobStatus, error){running(Reducing), running(Interrupted), failing(unreachable), failing(unreachable),
			failing(&APIError{Code: http.StatusServiceUnavailable}), resumed(Reducing), succeeded},
			notes: []string{"shutting down; the job is interrupted; following job j-1", "back after", "is reduce (resumed 1×, 3s lost)"}, wantOuts: 7},
		{name: "unreachable then succeeded", gap: time.Minute, answers: []func() (JobStatus, error){running(Mapping), failing(unreachable), succeeded},
			notes: []string{"unreachable", "connection refused", "following job j-1 across the gap for up to 1m0s", "is succeeded"}, wantOuts: 7},
		{name: "back without the job", gap: time.Minute, answers: []func() (JobStatus, error){running(Mapping), failing(unreachable),
			failing(&APIError{Code: http.StatusNotFound, Msg: `no job "j-1"`})},
			wantErr: `no job "j-1" (after the coordinator was unreachable`},
		{name: "gap too long", gap: 100 * time.Millisecond, answers: []func() (JobStatus, error){running(Mapping), failing(unreachable)},
			wantErr: "for 100ms: gave up following job j-1, which may still run"},
		{name: "no gap allowed", answers: []func() (JobStatus, error){running(Mapping), failing(unreachable)},
			wantErr: "connection refused"},
		{name: "cancelled while unreachable", gap: time.Minute, cancel: "gap", answers: []func() (JobStatus, error){running(Mapping), failing(unreachable)},
			wantErr: "job j-1 was not cancelled; once the coordinator is back: coordinator cancel j-1"},
		{name: "cancelled while reachable", gap: time.Minute, cancel: "progress", answers: []func() (JobStatus, error){running(Mapping), running(Mapping),
			func() (JobStatus, error) {
				return JobStatus{ID: "j-1", State: Cancelled, Result: &Result{Job: "j-1", Status: Cancelled, Error: "context canceled"}}, nil
			}},
			wantErr: "context canceled: context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCoordinator{answers: tc.answers}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var notes []string
			res, err := WaitJob(ctx, "j-1", Follow{Poll: time.Millisecond, Interval: time.Hour, Gap: tc.gap, Get: f.get, Cancel: f.cancel,
				Progress: func(JobStatus) {
					if tc.cancel == "progress" {
						cancel()
					}
				},
				Notify: func(msg string) {
					notes = append(notes, msg)
					if tc.cancel == "gap" {
						cancel()
					}
				}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || res.Status != Failed && res.Status != Cancelled {
					t.Fatalf("WaitJob = %+v, %v; want failed or cancelled with an error saying %q", res, err, tc.wantErr)
				}
			} else if err != nil || res.Status != Succeeded || res.RecordsOut != tc.wantOuts {
				t.Fatalf("WaitJob = %+v, %v; want the job's result", res, err)
			}
			all := strings.Join(notes, "\n")
			for _, n := range tc.notes {
				i := strings.Index(all, n)
				if i < 0 {
					t.Errorf("notices %q lack %q", all, n)
					continue
				}
				all = all[i+len(n):]
			}
			if tc.name == "restart" && len(notes) != 2 {
				t.Errorf("%d notices for one gap, want 2 (it began, it ended): %q", len(notes), notes)
			}
			if want := map[string]int{"progress": 1}[tc.cancel]; f.cancels != want {
				t.Errorf("%d cancels sent, want %d", f.cancels, want)
			}
		})
	}
}
