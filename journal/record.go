package journal

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ireports/ireports/task"
)

// Kind identifies a record's type. It is the frame's type byte, so its values are part of the
// format: never renumber one, and adding one bumps Version (an older build must refuse a
// journal it cannot read whole rather than skip what it does not know).
type Kind uint8

// The record kinds, in the order a job usually writes them.
const (
	KindSpec         Kind = iota + 1 // *Spec
	KindPlan                         // *Plan
	KindPhase                        // *Phase
	KindTaskAccepted                 // *TaskAccepted
	KindMapLost                      // *MapLost
	KindCommit                       // *Commit
	KindPublished                    // *Published
	KindSourceBatch                  // *SourceBatch
	KindFinished                     // *Finished
	KindSnapshot                     // *Snapshot
	kindEnd                          // one past the last known kind
)

func (k Kind) String() string {
	switch k {
	case KindSpec:
		return "spec"
	case KindPlan:
		return "plan"
	case KindPhase:
		return "phase"
	case KindTaskAccepted:
		return "task_accepted"
	case KindMapLost:
		return "map_lost"
	case KindCommit:
		return "commit"
	case KindPublished:
		return "published"
	case KindSourceBatch:
		return "source_batch"
	case KindFinished:
		return "finished"
	case KindSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Record is one entry of a job's journal: one of the pointer types below (*Spec, *Plan, …).
// The set is closed, so that every record a journal holds is one Replay can decode; a
// recovering caller switches on the concrete type.
type Record interface {
	// Kind is the record's type byte.
	Kind() Kind
	// validate refuses a record that Append must not write and Replay must not return: the
	// same check runs on both sides, so the journal never holds what it would refuse.
	validate() error
}

// newRecord returns a zero record of kind k, or nil for a kind this build does not know.
func newRecord(k Kind) Record {
	switch k {
	case KindSpec:
		return new(Spec)
	case KindPlan:
		return new(Plan)
	case KindPhase:
		return new(Phase)
	case KindTaskAccepted:
		return new(TaskAccepted)
	case KindMapLost:
		return new(MapLost)
	case KindCommit:
		return new(Commit)
	case KindPublished:
		return new(Published)
	case KindSourceBatch:
		return new(SourceBatch)
	case KindFinished:
		return new(Finished)
	case KindSnapshot:
		return new(Snapshot)
	}
	return nil
}

// Spec is the job as submitted: the first record of every journal, written (Sync) before the
// job is planned, so that a restarted coordinator can run it again from its own text.
//
// Spec holds the parsed spec, which carries the values the job file read with env(): the
// journal's directory or prefix must be as private as the coordinator's data dir.
type Spec struct {
	Job       string    `json:"job"`  // the job run's id
	Name      string    `json:"name"` // the job's name
	Submitted time.Time `json:"submitted"`
	// Path and Source are the job file as submitted (task.JobSource): relative paths in it
	// resolve against Path.
	Path   string `json:"path,omitempty"`
	Source []byte `json:"source,omitempty"`
	// Spec is the parsed spec (package jobs, JSON), as the workers receive it. The journal
	// keeps it opaque so that it does not dictate the spec's shape.
	Spec json.RawMessage `json:"spec"`
	// Scheduled is the time a scheduled run is for; zero for a submitted job.
	Scheduled time.Time `json:"scheduled,omitzero"`
}

func (*Spec) Kind() Kind { return KindSpec }

func (r *Spec) validate() error {
	if err := CheckJobID(r.Job); err != nil {
		return err
	}
	return checkJSON("spec", r.Spec, true)
}

// Plan is the job's plan: its map tasks (splits with the quote states speculated or known at
// their starts) and its reduce tasks. Written (Sync) before the first map task is handed out.
// A later Plan record replaces an earlier one (a re-plan after a failed chain check).
type Plan struct {
	Maps     int `json:"maps"`     // map tasks
	Reducers int `json:"reducers"` // reduce tasks
	// Plan is the coordinator's plan (JSON), opaque to the journal.
	Plan json.RawMessage `json:"plan"`
}

func (*Plan) Kind() Kind { return KindPlan }

func (r *Plan) validate() error {
	if r.Maps < 0 || r.Reducers < 0 {
		return fmt.Errorf("maps = %d, reducers = %d: negative", r.Maps, r.Reducers)
	}
	return checkJSON("plan", r.Plan, true)
}

// Phase records that the job entered a state of its life (planning, map, reduce, commit,
// publish, …). State is the name the coordinator's state enum prints (its String()), so the
// journal does not depend on the enum's numbering.
type Phase struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

func (*Phase) Kind() Kind { return KindPhase }

func (r *Phase) validate() error {
	if r.State == "" {
		return fmt.Errorf("empty state")
	}
	return nil
}

// TaskAccepted records the one attempt of a task that the coordinator accepted, with what a
// resumed job needs to use its output instead of running it again: for a map task, the
// result and so the location of its output (which worker's shuffle server holds it); for a
// reduce task, the result with its staged files (paths, sizes, SHA-256) and, when the store
// stages through pending uploads, their records.
//
// Exactly one of Map and Reduce is set. A later TaskAccepted for the same task replaces an
// earlier one (the map task was run again after its output was lost).
type TaskAccepted struct {
	// Worker is the node name of the worker that ran the attempt; a resumed coordinator asks
	// it whether it still holds a map output.
	Worker string             `json:"worker"`
	Map    *task.MapResult    `json:"map,omitempty"`
	Reduce *task.ReduceResult `json:"reduce,omitempty"`
	// Pending holds the attempt's pending uploads as the object store describes them
	// ([]objstore.Pending, JSON), opaque to the journal: the commit completes them, or an
	// abort discards them. Empty when the attempt staged plain files.
	Pending json.RawMessage `json:"pending,omitempty"`
}

func (*TaskAccepted) Kind() Kind { return KindTaskAccepted }

func (r *TaskAccepted) validate() error {
	if (r.Map == nil) == (r.Reduce == nil) {
		return fmt.Errorf("exactly one of map and reduce must be set")
	}
	if r.Map != nil && (r.Map.Index < 0 || r.Map.Attempt < 1) {
		return fmt.Errorf("map index %d attempt %d out of range", r.Map.Index, r.Map.Attempt)
	}
	if r.Reduce != nil && (r.Reduce.Index < 0 || r.Reduce.Attempt < 1) {
		return fmt.Errorf("reduce index %d attempt %d out of range", r.Reduce.Index, r.Reduce.Attempt)
	}
	return checkJSON("pending", r.Pending, false)
}

// Task returns the task the record accepts an attempt of.
func (r *TaskAccepted) Task() (kind task.Kind, index, attempt int) {
	if r.Map != nil {
		return task.KindMap, r.Map.Index, r.Map.Attempt
	}
	if r.Reduce != nil {
		return task.KindReduce, r.Reduce.Index, r.Reduce.Attempt
	}
	return 0, -1, 0
}

// MapLost records that an accepted map output can no longer be read (its worker died, or a
// reducer could not fetch it): a resumed job must not re-adopt it, even if the worker comes
// back holding it, until a later TaskAccepted replaces it.
type MapLost struct {
	Map     int    `json:"map"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason,omitempty"`
}

func (*MapLost) Kind() Kind { return KindMapLost }

func (r *MapLost) validate() error {
	if r.Map < 0 || r.Attempt < 1 {
		return fmt.Errorf("map %d attempt %d out of range", r.Map, r.Attempt)
	}
	return nil
}

// CommitStep is a step of a job's commit.
type CommitStep uint8

const (
	// CommitBegin: the set of accepted reduce attempts is final and promoting their files
	// starts. From here on a resumed job finishes the commit (complete what was accepted,
	// abort the rest) instead of running reduce tasks again.
	CommitBegin CommitStep = iota + 1
	// CommitFiles: the files named in the record are visible at their final names.
	CommitFiles
	// CommitSuccess: _SUCCESS is written; the lake holds the job's output.
	CommitSuccess
)

func (s CommitStep) String() string {
	switch s {
	case CommitBegin:
		return "begin"
	case CommitFiles:
		return "files"
	case CommitSuccess:
		return "success"
	}
	return fmt.Sprintf("CommitStep(%d)", uint8(s))
}

// MarshalText writes the step's name, so that the JSON is readable and independent of the
// constants' values.
func (s CommitStep) MarshalText() ([]byte, error) {
	if s < CommitBegin || s > CommitSuccess {
		return nil, fmt.Errorf("journal: bad commit step %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a step's name.
func (s *CommitStep) UnmarshalText(b []byte) error {
	for c := CommitBegin; c <= CommitSuccess; c++ {
		if string(b) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("unknown commit step %q", b)
}

// Commit records the progress of a job's commit.
type Commit struct {
	Step CommitStep `json:"step"`
	// Files are the final names made visible (CommitFiles), or every file of the commit
	// (CommitSuccess, optional).
	Files []string `json:"files,omitempty"`
}

func (*Commit) Kind() Kind { return KindCommit }

func (r *Commit) validate() error {
	if r.Step < CommitBegin || r.Step > CommitSuccess {
		return fmt.Errorf("bad commit step %d", uint8(r.Step))
	}
	return nil
}

// Published records that the job's summary rows were replaced in Postgres (one transaction,
// committed). A resumed job whose journal has no Published record after CommitSuccess
// publishes again, which is idempotent.
type Published struct {
	Groups int       `json:"groups"` // (city, month) groups replaced
	Rows   int64     `json:"rows"`   // summary rows written
	At     time.Time `json:"at"`
}

func (*Published) Kind() Kind { return KindPublished }

func (r *Published) validate() error {
	if r.Groups < 0 || r.Rows < 0 {
		return fmt.Errorf("groups = %d, rows = %d: negative", r.Groups, r.Rows)
	}
	return nil
}

// SourceBatch records one raw batch that a source pull stored in the object store, with the
// watermark the source reached once it was stored: a resumed job reads the batches already
// pulled instead of pulling them again, and resumes the pull from Watermark.
type SourceBatch struct {
	Source  string `json:"source"`  // the source's name in the job (a city)
	Object  string `json:"object"`  // where the batch is stored
	Records int64  `json:"records"` // records in the batch
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256,omitempty"`
	// Watermark is the source's position after this batch (JSON), opaque to the journal.
	Watermark json.RawMessage `json:"watermark,omitempty"`
}

func (*SourceBatch) Kind() Kind { return KindSourceBatch }

func (r *SourceBatch) validate() error {
	if r.Source == "" || r.Object == "" {
		return fmt.Errorf("source and object must be set")
	}
	if r.Records < 0 || r.Bytes < 0 {
		return fmt.Errorf("records = %d, bytes = %d: negative", r.Records, r.Bytes)
	}
	return checkJSON("watermark", r.Watermark, false)
}

// Finished records the job's end (succeeded, failed, cancelled): a journal that ends with it
// belongs to no unfinished job, and a coordinator that finds one at start-up removes it.
type Finished struct {
	State string    `json:"state"`
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}

func (*Finished) Kind() Kind { return KindFinished }

func (r *Finished) validate() error {
	if r.State == "" {
		return fmt.Errorf("empty state")
	}
	return nil
}

// Snapshot is the job's whole state at one point, written by Compact as the first record of
// a new segment: Replay returns it, then the records appended after it. Its State is the
// coordinator's (JSON), opaque to the journal.
type Snapshot struct {
	State json.RawMessage `json:"state"`
	At    time.Time       `json:"at"`
}

func (*Snapshot) Kind() Kind { return KindSnapshot }

func (r *Snapshot) validate() error { return checkJSON("state", r.State, true) }

// checkJSON refuses raw JSON that is missing when required or not valid: a RawMessage that
// is not JSON would make the whole record unmarshalable at replay.
func checkJSON(field string, m json.RawMessage, required bool) error {
	if len(m) == 0 {
		if required {
			return fmt.Errorf("%s: empty", field)
		}
		return nil
	}
	if !json.Valid(m) {
		return fmt.Errorf("%s: not valid JSON", field)
	}
	return nil
}
