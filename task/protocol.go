package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// The coordinator–worker protocol: JSON over HTTP, every call carrying the cluster token.
// Its version is internal/version.Protocol, which each node advertises in its gossip
// metadata: bump it with any incompatible change here. A worker of another protocol gets
// 409 and the reason to its polls, and no task.
//
//	POST PathPoll       PollRequest      → []Assignment (long poll; empty when nothing came; 409 when refused)
//	POST PathHeartbeat  HeartbeatRequest → HeartbeatResponse
//	POST PathComplete   CompleteRequest  → 204, or 409 when the attempt is no longer the worker's
//
// Additions that need no new protocol travel as questions: the coordinator asks in a
// HeartbeatResponse, and only a worker that knows the question answers in its next
// HeartbeatRequest. A worker of an older release ignores the question (unknown fields are
// skipped), and a coordinator of an older release never asks, so it is never sent a field
// it would refuse (the coordinator refuses unknown fields). ReportHeld/Held and Rejoin are
// such questions.
const (
	PathJobs      = "/api/v1/jobs"
	PathPoll      = "/api/v1/worker/poll"
	PathHeartbeat = "/api/v1/worker/heartbeat"
	PathComplete  = "/api/v1/worker/complete"
	PathWorkers   = "/api/v1/workers"
)

// JobSource is a job as submitted: the job file's text and its path, against which relative
// input and output paths resolve on the machine that runs the task.
type JobSource struct {
	Path   string `json:"path"`
	Source []byte `json:"source"`
}

// Assignment is an attempt handed to a worker.
type Assignment struct {
	ID     string  `json:"id"` // <job>/<m|r>-<index>-<attempt>
	Kind   Kind    `json:"kind"`
	Map    *Map    `json:"map,omitempty"`
	Reduce *Reduce `json:"reduce,omitempty"`
	// Spec is the job's parsed spec (package jobs, JSON): parsed once, on the coordinator,
	// so env() and relative paths resolve the same for every task.
	Spec json.RawMessage `json:"spec"`
}

// JobID is the job run the assignment belongs to.
func (a Assignment) JobID() string {
	if a.Map != nil {
		return a.Map.Job
	}
	if a.Reduce != nil {
		return a.Reduce.Job
	}
	return ""
}

type PollRequest struct {
	Worker string `json:"worker"`
	Free   int    `json:"free"`
}

type HeartbeatRequest struct {
	Worker  string   `json:"worker"`
	Running []string `json:"running"` // attempt ids
	// Held is the worker's inventory of map outputs, sent only when the coordinator asked
	// for it (HeartbeatResponse.ReportHeld).
	Held *Inventory `json:"held,omitempty"`
}

// InventoryVersion is the version of Inventory this release writes. A coordinator reads an
// inventory of a version it does not know as holding nothing: the outputs are re-run,
// which costs work but never adopts an output it cannot check.
const InventoryVersion = 1

// Inventory is what map outputs a worker holds, which a restarted coordinator re-adopts
// for the jobs it resumes (the journal says which attempt of each map task it accepted and
// on which worker; the inventory says whether that output is still there).
type Inventory struct {
	Version int `json:"version"` // InventoryVersion
	// Shuffle is the address the worker serves the outputs at, as in shuffle.Location's
	// Worker: a restarted coordinator may hear from a worker before gossip tells it the
	// worker's address.
	Shuffle string       `json:"shuffle"`
	Outputs []HeldOutput `json:"outputs"`
}

// HeldOutput is one map output on a worker's disk: the attempt whose output the file is
// (every attempt of a task writes the same file, so the last one to finish wins), and the
// file's size.
type HeldOutput struct {
	Job     string `json:"job"`
	Map     int    `json:"map"`
	Attempt int    `json:"attempt"`
	Bytes   int64  `json:"bytes"`
}

type HeartbeatResponse struct {
	Cancel     []string `json:"cancel"`      // attempts to stop: withdrawn, or no longer this worker's
	ActiveJobs []string `json:"active_jobs"` // jobs still running; a worker may delete other jobs' map outputs
	// LostPeers are the shuffle addresses of workers the coordinator declared dead lately:
	// a reducer gives up its fetches from them at once (a stopped worker would otherwise
	// hold them until the read deadline), and the map outputs there are re-run.
	LostPeers []string `json:"lost_peers,omitempty"`
	// ReportHeld asks the worker for its Inventory with its next heartbeat: the coordinator
	// has none from it since the coordinator (re)started or since it declared the worker down.
	ReportHeld bool `json:"report_held,omitempty"`
	// Rejoin says that the coordinator's gossip does not list the worker, as after the
	// coordinator restarted on the same addresses (the worker's gossip still takes it for the
	// old one): the worker joins its seeds again, so that it is registered, and given tasks,
	// at once rather than at gossip's next full sync.
	Rejoin bool `json:"rejoin,omitempty"`
}

type CompleteRequest struct {
	Worker  string        `json:"worker"`
	ID      string        `json:"id"`
	Map     *MapResult    `json:"map,omitempty"`
	Reduce  *ReduceResult `json:"reduce,omitempty"`
	Failure *Failure      `json:"failure,omitempty"`
}

// LostError reports that a reducer could not read map task Map's output; the coordinator
// re-runs that map task.
type LostError struct {
	Map int
	Err error
}

func (e *LostError) Error() string { return fmt.Sprintf("map output %d: %v", e.Map, e.Err) }

func (e *LostError) Unwrap() []error { return []error{ErrMapOutputLost, e.Err} }

// Failure is a failed attempt on the wire, with its classification.
type Failure struct {
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
	LostMap int    `json:"lost_map"` // the map task whose output a reducer could not read, or -1
	// Local says the failure lies in the worker itself — its disk is full, its data dir
	// fails with I/O errors — so the same task would likely succeed on another worker. The
	// coordinator routes retries around such a worker and excludes it from the job after
	// failures of several tasks (see IsLocal).
	Local bool `json:"local,omitempty"`
}

// localErrnos are the errors of a worker's own disk: a task failing with one of them is
// the worker's fault, not the input's.
var localErrnos = []error{syscall.ENOSPC, syscall.EIO, syscall.EROFS, syscall.EDQUOT}

// localMessages are the same errors as their texts, for an error that was flattened to a
// string on its way up (and for a report from a worker that predates Failure.Local).
var localMessages = []string{"no space left on device", "input/output error", "read-only file system", "disk quota exceeded"}

// IsLocal reports whether f is a worker-local failure: flagged by the worker, or, for a
// worker that does not flag, one whose message names a local disk error.
func (f *Failure) IsLocal() bool {
	return f != nil && !f.Fatal && f.LostMap < 0 && (f.Local || localMessage(f.Message))
}

func localMessage(msg string) bool {
	msg = strings.ToLower(msg)
	for _, m := range localMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// FailureOf classifies err for the wire.
func FailureOf(err error) *Failure {
	f := &Failure{Message: err.Error(), Fatal: errors.Is(err, ErrFatal), LostMap: -1}
	for _, e := range localErrnos {
		f.Local = f.Local || errors.Is(err, e)
	}
	// A reducer that could not read a map output on another worker is not this worker's
	// fault; nor is a fatal error, which would fail anywhere.
	var lost *LostError
	if errors.As(err, &lost) {
		f.LostMap = lost.Map
	}
	f.Local = !f.Fatal && f.LostMap < 0 && (f.Local || localMessage(f.Message))
	return f
}

// Err turns a reported failure back into an error of the same class.
func (f *Failure) Err(node string) error {
	err := fmt.Errorf("on worker %s: %s", node, f.Message)
	switch {
	case f.Fatal:
		return Fatal(err)
	case f.LostMap >= 0:
		return &LostError{Map: f.LostMap, Err: err}
	}
	return err
}
