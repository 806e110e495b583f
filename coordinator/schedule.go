package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ireports/ireports/jobs"
)

// scheduleState is what the coordinator remembers of a scheduled job across restarts.
type scheduleState struct {
	// Last is the scheduled time of the last run that ended (whatever its outcome).
	Last time.Time `json:"last"`
	Job  string    `json:"job,omitempty"` // that run's id
}

// dueAtStart reports whether a scheduled job must run as soon as the coordinator starts: a
// scheduled time passed since its last run ended (the coordinator was down, or the run was
// cut off by a crash). A job that has never run waits for its first scheduled time.
func dueAtStart(sc *jobs.Schedule, st scheduleState, now time.Time) bool {
	return !st.Last.IsZero() && st.Last.Before(sc.Prev(now))
}

// startSchedules runs each job file's job on its schedule until the server shuts down.
// Files are parsed now, to fail fast, and again at every run, so edits and env() values
// take effect; like a submitted job, a scheduled one reads only the allowed variables and
// paths (checked now and at every run).
func (s *Server) startSchedules(files []string) error {
	for _, f := range files {
		spec, err := jobs.ParseFileWith(f, jobs.ParseOptions{Env: s.env})
		if err != nil {
			return cleaner{}.err(err)
		}
		clean := cleanerFor(spec)
		if spec.Schedule == nil {
			return fmt.Errorf("%s: job %q has no schedule attribute", f, spec.Name)
		}
		dir := filepath.Join(s.cfg.DataDir, "schedules")
		statePath, err := dataFile(dir, "job name", spec.Name, ".json")
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := s.roots.CheckSpec(spec); err != nil {
			return clean.err(fmt.Errorf("%s: job %q: %w", f, spec.Name, err))
		}
		s.wg.Add(1)
		go s.scheduleLoop(f, spec.Name, spec.Schedule, statePath, clean.logger(s.log))
	}
	return nil
}

// scheduleLoop runs file's job on schedule sc; log is cleaned of what the file read through
// env() (its schedule, for one).
//
// A run is recorded in the schedule's state (Last) once it has ended, so a run that a crash
// cut off is not recorded: if the restart resumed it from its journal, the loop waits for it
// and records it then, rather than start the same scheduled run again; if it could not be
// resumed, its time has passed unrecorded and it runs again at start-up (dueAtStart), once,
// however many scheduled times the coordinator was down for.
func (s *Server) scheduleLoop(file, name string, sc *jobs.Schedule, statePath string, log *slog.Logger) {
	defer s.wg.Done()
	var st scheduleState
	if b, err := os.ReadFile(statePath); err == nil {
		json.Unmarshal(b, &st)
	}
	log = log.With("schedule", name, "when", sc.Text)
	if id, due, ok := s.resumedRun(name); ok {
		log.Info("the scheduled run cut off by the restart was resumed; waiting for it", "job", id, "for", due)
		if !s.recordRun(id, due, statePath, &st, log) {
			return
		}
	}
	next := sc.Next(time.Now())
	if dueAtStart(sc, st, time.Now()) {
		log.Info("a scheduled run was missed; running now", "last", st.Last)
		next = time.Now()
	}
	for {
		log.Info("next scheduled run", "at", next)
		select {
		case <-s.stopping:
			return
		case <-time.After(time.Until(next)):
		}
		due := sc.Prev(time.Now())
		id, err := s.runScheduled(file, due)
		switch {
		case errors.Is(err, ErrOutputBusy):
			// The previous run (or a submitted one) is still writing: never two at once.
			// Another run is writing the same lake: try again shortly rather than skip a
			// whole period.
			log.Warn("a run of this job is still going; retrying in a minute", "err", err)
			next = time.Now().Add(time.Minute)
			continue
		case err != nil:
			log.Error("scheduled run could not start", "err", err)
		default:
			if !s.recordRun(id, due, statePath, &st, log) {
				return
			}
		}
		next = sc.Next(time.Now())
	}
}

// recordRun waits until scheduled run id (for due) ends, and records it as the schedule's
// last run in *st and at statePath. It returns false, recording nothing, when the server
// shuts down first: the run then either comes back resumed from its journal or, cancelled,
// is due again at the next start-up.
func (s *Server) recordRun(id string, due time.Time, statePath string, st *scheduleState, log *slog.Logger) bool {
	s.waitFinished(id)
	select {
	case <-s.stopping:
		if j, ok := s.Job(id); !ok || !j.State.Terminal() || j.State == Cancelled {
			return false // cut off or cancelled by the shutdown
		}
	default:
	}
	*st = scheduleState{Last: due, Job: id}
	if err := writeJSONFile(statePath, *st); err != nil {
		log.Warn("saving the schedule's state", "err", err)
	}
	return true
}

// resumedRun returns the run of job name's schedule that this coordinator resumed from its
// journal and that is still going, with the time it was scheduled for.
func (s *Server) resumedRun(name string) (id string, due time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		run := s.jobs[id]
		if run.Name == name && run.Resumed > 0 && !run.scheduled.IsZero() && !run.State.Terminal() {
			return id, run.scheduled, true
		}
	}
	return "", time.Time{}, false
}

// runScheduled starts the run of file's job scheduled for due.
func (s *Server) runScheduled(file string, due time.Time) (string, error) {
	spec, err := jobs.ParseFileWith(file, jobs.ParseOptions{Env: s.env})
	if err != nil {
		return "", cleaner{}.err(err)
	}
	return s.start(spec, due)
}

// waitFinished waits until job id ends or the server shuts down.
func (s *Server) waitFinished(id string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if j, ok := s.Job(id); !ok || j.State.Terminal() {
			return
		}
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
	}
}
