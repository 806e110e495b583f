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
func (s *Server) scheduleLoop(file, name string, sc *jobs.Schedule, statePath string, log *slog.Logger) {
	defer s.wg.Done()
	var st scheduleState
	if b, err := os.ReadFile(statePath); err == nil {
		json.Unmarshal(b, &st)
	}
	log = log.With("schedule", name, "when", sc.Text)
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
		id, err := s.runScheduled(file)
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
			s.waitFinished(id)
			st = scheduleState{Last: due, Job: id}
			if err := writeJSONFile(statePath, st); err != nil {
				log.Warn("saving the schedule's state", "err", err)
			}
		}
		next = sc.Next(time.Now())
	}
}

func (s *Server) runScheduled(file string) (string, error) {
	spec, err := jobs.ParseFileWith(file, jobs.ParseOptions{Env: s.env})
	if err != nil {
		return "", cleaner{}.err(err)
	}
	return s.SubmitSpec(spec)
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
