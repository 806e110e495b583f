// Package task holds the contracts between the coordinator, which plans and schedules a job,
// and the workers, which execute its pieces: what a map or reduce task is, what it reports
// back, the lifecycle states a task moves through, and how failures are classified.
//
// Everything here is plain data that serializes to JSON, because the same values travel
// in-process (coordinator run) and over the wire to remote workers.
//
// Rules for callers:
//   - A task is identified by (Kind, Index); every execution of it is an attempt with its own
//     number. Attempts write only under their own attempt directory; the coordinator accepts
//     exactly one attempt per task and discards the others.
//   - An executor returns an error wrapping ErrFatal only when retrying cannot help (a bad spec,
//     a schema that names no column of a file); any other error means the attempt was lost and the
//     task may be retried elsewhere.
package task

import (
	"errors"
	"fmt"
	"time"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/shuffle"
)

// Kind is the phase a task belongs to.
type Kind uint8

const (
	KindMap Kind = iota + 1
	KindReduce
)

func (k Kind) String() string {
	switch k {
	case KindMap:
		return "map"
	case KindReduce:
		return "reduce"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// State is a task's place in its lifecycle. The order is the order of progress.
type State uint8

const (
	StatePending   State = iota // waiting for a slot
	StateRunning                // an attempt is executing
	StateSucceeded              // an attempt's result was accepted
	StateLost                   // the attempt failed in a retryable way; will be rescheduled
	StateFailed                 // retries exhausted or fatal: the job fails
	StateCancelled              // the job was cancelled
)

func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateRunning:
		return "running"
	case StateSucceeded:
		return "succeeded"
	case StateLost:
		return "lost"
	case StateFailed:
		return "failed"
	case StateCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Errors that classify a failed attempt.
var (
	// ErrFatal marks a failure that no retry can fix; the job fails with the wrapped message.
	ErrFatal = errors.New("fatal")
	// ErrMapOutputLost means a reducer could not fetch or decode a map output; the coordinator
	// re-runs the map task that produced it.
	ErrMapOutputLost = errors.New("map output lost")
)

// Fatal wraps err so that errors.Is(err, ErrFatal) holds.
func Fatal(err error) error { return fatalError{err} }

type fatalError struct{ err error }

func (e fatalError) Error() string        { return e.err.Error() }
func (e fatalError) Unwrap() []error      { return []error{ErrFatal, e.err} }
func (e fatalError) Is(target error) bool { return target == ErrFatal }

// Map is one map task: a byte range of one input file.
type Map struct {
	Job     string `json:"job"`     // job run id
	Index   int    `json:"index"`   // task index within the map phase
	Attempt int    `json:"attempt"` // attempt number, from 1

	Input     int    `json:"input"`      // index into the spec's inputs
	File      string `json:"file"`       // path or URL of the input file
	FileIndex int    `json:"file_index"` // position of the file in the plan; orders versions for de-duplication
	// Format is how the file is read. It is the job's own type (jobs.Format), which travels
	// by name ("csv", "soda-json"): there is one Format, and its text form is the wire's.
	Format    jobs.Format `json:"format"`
	Gzip      bool        `json:"gzip,omitempty"` // the whole (decompressed) file is one task
	Header    []string    `json:"header,omitempty"`
	DataStart int64       `json:"data_start"`
	Start     int64       `json:"start"`
	End       int64       `json:"end"`
	// State is the quote state at Start when known (split 0, or a re-run after the chain check);
	// Unknown makes the reader speculate.
	State csvsplit.State `json:"state"`
	// TimeLayouts are the dialects detected for the file's "auto" time fields (field name →
	// layout), the same in every task of the file. Nil when the schema has no such field;
	// a worker given none for a schema that needs them detects them from the file's start,
	// as the planner does.
	TimeLayouts map[string]string `json:"time_layouts,omitempty"`
	// Seen is the file as the plan listed it. A task whose file no longer matches fails,
	// fatally (mapinput.ErrInputChanged): its splits were cut from the file the plan saw,
	// and a job that read a file that changed under it would commit part of it. Nil in a
	// task planned by an older release (a worker then reads the file as it finds it); an
	// older worker ignores it (task decoding skips unknown fields), so the wire protocol
	// stays the same.
	Seen *FileVersion `json:"seen,omitempty"`

	Reducers int `json:"reducers"`
}

// FileVersion identifies the content of an input file as far as its listing tells: its
// size and modification time (objstore.ObjectInfo; on S3 the object's Last-Modified).
type FileVersion struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

func (m Map) String() string {
	return fmt.Sprintf("map %d (%s [%d,%d)) attempt %d", m.Index, m.File, m.Start, m.End, m.Attempt)
}

// MapResult is what a successful map attempt reports.
type MapResult struct {
	Index   int `json:"index"`
	Attempt int `json:"attempt"`

	Assumed csvsplit.State `json:"assumed"` // quote state the reader assumed at Start
	Parity  int            `json:"parity"`  // quote parity of [Start, End)

	Bytes           int64            `json:"bytes"` // input bytes read in the range
	RecordsIn       int64            `json:"records_in"`
	RecordsOut      int64            `json:"records_out"`
	Rejected        int64            `json:"rejected"`
	RejectsByReason map[string]int64 `json:"rejects_by_reason,omitempty"`

	// Output locates the map output file the reducers fetch from.
	Output shuffle.Location `json:"output"`
	// Rejects is the attempt's rejects file, empty when nothing was rejected.
	Rejects string `json:"rejects,omitempty"`
}

// Reduce is one reduce task: one shuffle partition.
type Reduce struct {
	Job       string             `json:"job"`
	Index     int                `json:"index"` // the partition
	Attempt   int                `json:"attempt"`
	MapOutput []shuffle.Location `json:"map_outputs"` // one per map task, in map index order
}

func (r Reduce) String() string {
	return fmt.Sprintf("reduce %d attempt %d", r.Index, r.Attempt)
}

// Group is one (city, year, month) group a reducer wrote.
type Group struct {
	City  string `json:"city"`
	Year  int    `json:"year"`
	Month int    `json:"month"`
	Rows  int64  `json:"rows"`
	// Files are the group's lake files, paths relative to the lake root (and to the
	// attempt's stage); SummaryFiles its summary files, relative to the summaries root.
	Files        []File `json:"files"`
	SummaryFiles []File `json:"summary_files"`
}

// File is one file a reduce attempt wrote, described so that the commit need not read it.
type File struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ReduceResult is what a successful reduce attempt reports.
type ReduceResult struct {
	Index      int   `json:"index"`
	Attempt    int   `json:"attempt"`
	RecordsIn  int64 `json:"records_in"`
	RecordsOut int64 `json:"records_out"`
	Duplicates int64 `json:"duplicates"`
	// Carried counts the rows of the lake that a merge job kept in the groups it rewrote
	// (rows of requests the job's records did not update).
	Carried int64   `json:"carried,omitempty"`
	Groups  []Group `json:"groups"`
	Dir     string  `json:"dir"` // the attempt's stage of the lake (lake.Stage.Dir)
	// SummaryDir is the attempt's stage of the summaries root.
	SummaryDir string `json:"summary_dir"`
}
