package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/task"
)

// jobJournal is a driver's handle on its job's journal (package journal): the records that a
// restarted coordinator resumes the job from (resume.go). A nil *jobJournal journals nothing
// (`coordinator run`, which has no daemon to come back), so the driver calls it
// unconditionally.
//
// Which record is written how follows the journal's rule, write before acting: a record that
// gates an action whose effect outlives the process is Sync and its failure stops the job
// (the plan before the first task, CommitBegin before the first file is promoted,
// CommitSuccess once _SUCCESS is written, Published once the transaction committed); a
// record whose loss only costs work (an accepted task, a phase change) is Batched or logged
// on failure, since the job can go on without it.
type jobJournal struct {
	j   *journal.Journal
	log *slog.Logger
}

// sync appends rec durably; the caller acts on what it records only if it returns nil.
func (jj *jobJournal) sync(ctx context.Context, rec journal.Record) error {
	if jj == nil {
		return nil
	}
	if err := jj.j.Append(context.WithoutCancel(ctx), rec, journal.Sync); err != nil {
		return fmt.Errorf("%w: %s record: %w", ErrJournal, rec.Kind(), err)
	}
	return nil
}

// batched appends rec without waiting for it to be durable; a failure is logged, since it
// costs only work on a restart (the next Sync record reports the journal broken).
func (jj *jobJournal) batched(ctx context.Context, rec journal.Record) {
	if jj == nil {
		return
	}
	if err := jj.j.Append(context.WithoutCancel(ctx), rec, journal.Batched); err != nil {
		jj.log.Warn("job journal: record not written; a restart redoes its work", "kind", rec.Kind(), "err", err)
	}
}

// phase records that the run entered state s (Sync, logged on failure: a restart that does
// not know the phase resumes from the records it has, which is still right).
func (jj *jobJournal) phase(s State) {
	if jj == nil || s == Queued || s.Terminal() {
		return
	}
	if err := jj.j.Append(context.Background(), &journal.Phase{State: s.String(), At: time.Now().UTC()}, journal.Sync); err != nil {
		jj.log.Warn("job journal: phase not written", "state", s, "err", err)
	}
}

// acceptedMap records an accepted map attempt and where its output lives.
func (jj *jobJournal) acceptedMap(ctx context.Context, res task.MapResult) {
	jj.batched(ctx, &journal.TaskAccepted{Worker: res.Output.Worker, Map: &res})
}

// acceptedReduce records an accepted reduce attempt and its staged files; CommitBegin
// (Sync) makes it durable before the commit relies on it.
func (jj *jobJournal) acceptedReduce(ctx context.Context, res task.ReduceResult) {
	jj.batched(ctx, &journal.TaskAccepted{Reduce: &res})
}

// interrupted reports whether ctx ended because the coordinator shut down (ErrInterrupted)
// and the run has a journal that a restarted coordinator resumes it from; a run without
// one (`coordinator run`) is cancelled instead.
func interrupted(ctx context.Context, jr *jobJournal) bool {
	return jr != nil && errors.Is(context.Cause(ctx), ErrInterrupted)
}

// resumedPhase is the Phase record's State that marks a restart: the journal counts them to
// show how often the job was resumed. It is no State's name, so it never reads as one.
const resumedPhase = "resumed"

// resumePoint is what a job's journal says the job had done when its coordinator stopped:
// the driver skips what it holds and does the rest (driver.run).
type resumePoint struct {
	// plan is the journaled plan (nil: plan again, as before the first task).
	plan *Plan
	// maps and reduces are the accepted attempts' results, by task index. A map whose output
	// was journaled lost is left out: it runs again.
	maps    map[int]task.MapResult
	reduces map[int]task.ReduceResult
	// attemptBase is added to every attempt number of this run, so that its attempts never
	// share a stage with one the dead coordinator had started (and a worker may still run).
	attemptBase int
	// adoptWait bounds the wait for the workers to report the map outputs they hold
	// (readopt): adoptWait, shorter in tests.
	adoptWait time.Duration
	// commitBegun: the set of accepted reduces is final (CommitBegin); committed: _SUCCESS
	// is written (CommitSuccess); rejects: the rejects are committed; published: the
	// summaries are in Postgres.
	commitBegun, committed, rejects, published bool
	// batches are the source batches journaled as stored, in pull order.
	batches []journal.SourceBatch
	// state is the last journaled phase; resumed counts the restarts including this one;
	// lost is the time between the last journaled event and this restart; shutdown says
	// the coordinator before this one shut down (its journal ends Interrupted), rather
	// than died.
	state    State
	resumed  int
	lost     time.Duration
	shutdown bool
}

// rejectsMarker is the name a Commit{CommitFiles} record gives the rejects once they are
// committed (lake.CommitRejects moves them, so it must not run twice).
const rejectsMarker = "rejects/"

// attemptsPerRun spaces the attempt numbers of successive runs of one job (see attemptBase):
// far more than the attempts one run starts of a task (MaxAttempts failures plus backups).
const attemptsPerRun = 1000

// replayJob reads a job's records into its spec record and resume point. It refuses a
// journal without a spec, or whose records contradict each other, naming the record.
func replayJob(recs []journal.Record, now time.Time) (*journal.Spec, *resumePoint, error) {
	var spec *journal.Spec
	rp := &resumePoint{maps: map[int]task.MapResult{}, reduces: map[int]task.ReduceResult{}, resumed: 1}
	var last time.Time
	see := func(t time.Time) {
		if t.After(last) {
			last = t
		}
	}
	for i, r := range recs {
		switch r := r.(type) {
		case *journal.Spec:
			spec = r
			see(r.Submitted)
		case *journal.Plan:
			var p Plan
			if err := json.Unmarshal(r.Plan, &p); err != nil {
				return nil, nil, fmt.Errorf("record %d (plan): %w", i+1, err)
			}
			if len(p.Maps) != r.Maps {
				return nil, nil, fmt.Errorf("record %d (plan): %d map tasks, the record says %d", i+1, len(p.Maps), r.Maps)
			}
			// A new plan makes the earlier accepted maps meaningless.
			rp.plan, rp.maps = &p, map[int]task.MapResult{}
		case *journal.Phase:
			see(r.At)
			if r.State == resumedPhase {
				rp.resumed++
				continue
			}
			s, err := ParseState(r.State)
			if err != nil {
				return nil, nil, fmt.Errorf("record %d (phase): %w", i+1, err)
			}
			if s == Interrupted {
				// Not a phase the run was in: where it resumes is the phase before.
				rp.shutdown = i == len(recs)-1
				continue
			}
			rp.state = s
		case *journal.TaskAccepted:
			kind, index, attempt := r.Task()
			if attempt/attemptsPerRun+1 > rp.resumed {
				rp.resumed = attempt/attemptsPerRun + 1
			}
			if kind == task.KindMap {
				if rp.plan == nil || index >= len(rp.plan.Maps) {
					return nil, nil, fmt.Errorf("record %d: map task %d accepted, outside the plan", i+1, index)
				}
				rp.maps[index] = *r.Map
			} else {
				rp.reduces[index] = *r.Reduce
			}
		case *journal.MapLost:
			if m, ok := rp.maps[r.Map]; ok && m.Attempt == r.Attempt {
				delete(rp.maps, r.Map)
			}
		case *journal.Commit:
			switch r.Step {
			case journal.CommitBegin:
				rp.commitBegun = true
			case journal.CommitSuccess:
				rp.committed = true
			case journal.CommitFiles:
				for _, f := range r.Files {
					if f == rejectsMarker {
						rp.rejects = true
					}
				}
			}
		case *journal.Published:
			rp.published = true
			see(r.At)
		case *journal.SourceBatch:
			rp.batches = append(rp.batches, *r)
		case *journal.Finished:
			return nil, nil, fmt.Errorf("record %d: the job finished (%s)", i+1, r.State)
		}
	}
	if spec == nil {
		return nil, nil, fmt.Errorf("%w: no spec record", journal.ErrCorrupt)
	}
	if !last.IsZero() && now.After(last) {
		rp.lost = now.Sub(last).Round(time.Millisecond)
	}
	rp.attemptBase = rp.resumed * attemptsPerRun
	rp.adoptWait = adoptWait
	return spec, rp, nil
}
