package coordinator

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is where a job run is in its life. The driver (driver.run in job.go) moves a run
// through the running states in the order they are declared — it may skip one (Pulling
// without sources, Publishing without Postgres) but never goes back — and the run ends in
// exactly one terminal state (Terminal), unless its coordinator shuts down first: then it
// is Interrupted until a restarted coordinator resumes it.
//
// State is the job's status everywhere it is shown: JobStatus.State and Progress.Phase (the
// API and the status page), Result.Status, and the CLI. It is also what a journal of job
// runs persists, so its values are stable: they are never renumbered or reused, and a state
// added later takes the next free number. Code that must stay right when states are added
// asks Terminal, or compares with ==, rather than ordering states with <.
//
// A State encodes as text by its String name ("map", "succeeded"). The API's JobStatus keeps
// the two words it has always shown (see Status and PhaseName), so that clients that read
// "state": "running" and "phase": "map" keep working.
type State uint8

// The states of a job run, in the order of its life. The zero State is Queued.
const (
	// Queued: submitted, its driver not started yet.
	Queued State = iota
	// Pulling: pulling the job's sources into raw batches (jobs with sources only).
	Pulling
	// Planning: claiming the outputs and cutting the inputs into map tasks.
	Planning
	// Mapping: running the map tasks.
	Mapping
	// Checking: checking the quote-state chain of every file's splits (re-running those
	// whose speculation was wrong) and the reject budget.
	Checking
	// Reducing: the shuffle and the reduce tasks.
	Reducing
	// Committing: committing the lake, its summaries and the rejects.
	Committing
	// Publishing: loading the committed summaries into Postgres (jobs with a postgres
	// output only). A run that cannot publish ends Succeeded with its Result saying
	// Unpublished, and does not consume its source batches.
	Publishing
	// Consuming: moving the source batches the run read to their consumed/ folders.
	Consuming
	// CleaningUp: the outcome is decided; removing the attempts' leftovers.
	CleaningUp

	// Succeeded: the run committed (and published, unless its Result says Unpublished).
	Succeeded
	// SourceUnavailable: every source stayed unavailable for its retry_for; nothing was
	// committed and the watermarks hold, so the next run catches up. A clean end, not a
	// failure.
	SourceUnavailable
	// Failed: the run failed; its Result's Error says why.
	Failed
	// Cancelled: the run was cancelled.
	Cancelled

	// Interrupted: the coordinator shut down (Server.Shutdown: SIGTERM, an instance refresh,
	// an upgrade) while the run had no outcome. It stopped driving the run and kept its
	// journal, its staged output and its lake claim, and a coordinator started on the same
	// state resumes it as after a crash. Not Terminal: the run has no outcome yet. The driver
	// can enter it from any running state.
	Interrupted

	numStates // not a state: the count of those above
)

// stateNames are the States' String names, the text they encode as.
var stateNames = [numStates]string{
	Queued:            "queued",
	Pulling:           "pull",
	Planning:          "plan",
	Mapping:           "map",
	Checking:          "check",
	Reducing:          "reduce",
	Committing:        "commit",
	Publishing:        "publish",
	Consuming:         "consume",
	CleaningUp:        "cleanup",
	Succeeded:         "succeeded",
	SourceUnavailable: "source unavailable",
	Failed:            "failed",
	Cancelled:         "cancelled",
	Interrupted:       "interrupted",
}

// String returns the state's name: a running state's is the word for its phase ("map"), a
// terminal state's the outcome ("succeeded").
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState is the inverse of String.
func ParseState(name string) (State, error) {
	for s, n := range stateNames {
		if n == name {
			return State(s), nil
		}
	}
	return 0, fmt.Errorf("unknown job state %q", name)
}

// Terminal reports whether s is an outcome: the run has ended and will not change state.
func (s State) Terminal() bool {
	switch s {
	case Succeeded, SourceUnavailable, Failed, Cancelled:
		return true
	}
	return false
}

// Status is the word for s in the API's "state" field and the status page's state column:
// "running" until the run ends, then its outcome.
func (s State) Status() string {
	if s.Terminal() {
		return s.String()
	}
	return statusRunning
}

// PhaseName is the word for s in the API's "phase" field (Progress.Phase) and the status
// page's phase column: "" while queued, "done" once the run ended, else its name.
func (s State) PhaseName() string {
	switch {
	case s == Queued:
		return ""
	case s.Terminal():
		return phaseDone
	}
	return s.String()
}

// The API words that are no State's name (see Status and PhaseName).
const (
	statusRunning = "running"
	phaseDone     = "done"
)

// timedAs is the phase whose time in Result.PhaseSeconds the time spent in s counts to: the
// chain check is map work (re-runs of splits), consuming the batches the end of the commit.
func (s State) timedAs() State {
	switch s {
	case Checking:
		return Mapping
	case Consuming:
		return Committing
	}
	return s
}

// MarshalText encodes s by name.
func (s State) MarshalText() ([]byte, error) {
	if s >= numStates {
		return nil, fmt.Errorf("unknown job state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a State's name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// jobStatusJSON is JobStatus as the API answers and the job history stores it. Its "state"
// is State.Status() and its progress's "phase" Progress.Phase.PhaseName(): the words the API
// has always used. The two together give back both States (see JobStatus.UnmarshalJSON).
type jobStatusJSON struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	State     string       `json:"state"` // running, succeeded, source unavailable, failed, cancelled
	Submitted time.Time    `json:"submitted"`
	Finished  *time.Time   `json:"finished,omitempty"`
	Progress  progressJSON `json:"progress"`
	Result    *Result      `json:"result,omitempty"`
	// Resumed and LostSeconds: see JobStatus.Resumed and Lost.
	Resumed     int     `json:"resumed,omitempty"`
	LostSeconds float64 `json:"lost_seconds,omitempty"`
	// Excluded: see JobStatus.Excluded.
	Excluded []Exclusion `json:"excluded,omitempty"`
}

// progressJSON is Progress with the API's phase word: its Phase hides the embedded one.
type progressJSON struct {
	Phase string `json:"phase"` // "", pull, plan, map, check, reduce, commit, publish, consume, cleanup, interrupted, done
	progressFields
}

// progressFields is Progress without its methods (so encoding it does not recurse).
type progressFields Progress

// MarshalJSON writes j in the API's form (jobStatusJSON).
func (j JobStatus) MarshalJSON() ([]byte, error) {
	if j.State >= numStates || j.Progress.Phase >= numStates {
		return nil, fmt.Errorf("job %s: unknown state %d, phase %d", j.ID, j.State, j.Progress.Phase)
	}
	return json.Marshal(jobStatusJSON{
		ID: j.ID, Name: j.Name, State: j.State.Status(), Submitted: j.Submitted, Finished: j.Finished,
		Progress: progressJSON{Phase: j.Progress.Phase.PhaseName(), progressFields: progressFields(j.Progress)},
		Result:   j.Result, Resumed: j.Resumed, LostSeconds: j.Lost.Seconds(), Excluded: j.Excluded,
	})
}

// UnmarshalJSON reads a JobStatus in the API's form. A running job's State is its phase; a
// finished one's is its "state", and a "done" phase is that outcome too. An unknown word is
// an error that names the field and the word.
func (j *JobStatus) UnmarshalJSON(b []byte) error {
	var w jobStatusJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	state, phase, err := parseAPIState(w.State, w.Progress.Phase)
	if err != nil {
		return fmt.Errorf("job %q: %w", w.ID, err)
	}
	j.ID, j.Name, j.State, j.Submitted, j.Finished, j.Result = w.ID, w.Name, state, w.Submitted, w.Finished, w.Result
	j.Resumed, j.Lost = w.Resumed, time.Duration(w.LostSeconds*float64(time.Second))
	j.Excluded = w.Excluded
	j.Progress = Progress(w.Progress.progressFields)
	j.Progress.Phase = phase
	return nil
}

// parseAPIState turns the API's state and phase words back into States.
func parseAPIState(status, phaseName string) (state, phase State, err error) {
	switch phaseName {
	case "":
		phase = Queued
	case phaseDone:
		// Resolved below from the status. (A coordinator that says "running" with "done"
		// is in its run's last instant: an older one showed that, briefly.)
		phase = CleaningUp
	default:
		if phase, err = ParseState(phaseName); err != nil || phase.Terminal() || phase == Queued {
			return 0, 0, fmt.Errorf("progress phase %q is no phase of a job run", phaseName)
		}
	}
	if status == statusRunning {
		return phase, phase, nil
	}
	if state, err = ParseState(status); err != nil || !state.Terminal() {
		return 0, 0, fmt.Errorf("state %q is neither %q nor the outcome of a job run", status, statusRunning)
	}
	if phaseName == phaseDone {
		phase = state
	}
	return state, phase, nil
}
