package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// This file is the resume side of the job journal (journal.go): what a driver skips because
// an earlier run of its job did it, and how a starting coordinator finds its unfinished jobs
// and drives them on under their own ids.
//
// What a resumed run keeps, and why that is safe:
//   - the plan: the same splits, so that accepted attempts and a half-done commit refer to
//     the tasks they were for;
//   - accepted map attempts: their counts and rejects files (in the store) are used as they
//     are, and their shuffle outputs are re-adopted from the workers that report holding
//     them, the same attempt's (task.Inventory), within adoptWait of the restart; the
//     others are journaled lost and run again at once (readopt). An output that a worker
//     reported but then loses is found as when a worker dies (lostmaps.go);
//   - accepted reduce attempts: their staged files wait in the lake's _temporary for the
//     commit, which completes them (Complete is idempotent);
//   - a begun commit is run again with the same groups: files completed before the crash
//     are complete, the rest are completed now, the losers aborted, _SUCCESS written once
//     (or found written by this job);
//   - a publish is redone whole (one transaction, replacing the job's groups);
//   - the source batches journaled as pulled are read where they were stored, not pulled
//     again, and each source's watermark is brought to the end of its last journaled batch
//     exactly once (replayPulls, ingest.go); a pull the crash cut short goes on from there,
//     and one that had ended (its plan is journaled) is not run again.

// planOrResume returns the journaled plan of a resumed run, or plans the job and journals
// the plan before any task is handed out.
func (d *driver) planOrResume(ctx context.Context) (*Plan, error) {
	if d.from != nil && d.from.plan != nil {
		d.log.Info("resumed: the plan is the journaled one", "maps", len(d.from.plan.Maps))
		return d.from.plan, nil
	}
	plan, err := planJob(ctx, d.store, d.spec, d.job, d.roots)
	if err != nil || d.jr == nil {
		return plan, err
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return plan, d.jr.sync(ctx, &journal.Plan{Maps: len(plan.Maps), Reducers: d.spec.Reducers, Plan: b})
}

// mapsToRun fills in the map attempts an earlier run had accepted and that are still of
// use (readopt), and returns the map tasks still to run.
func (d *driver) mapsToRun(ctx context.Context) []int {
	all := allIndexes(len(d.plan.Maps))
	if d.from == nil {
		return all
	}
	// A worker declared down meanwhile is re-run from the outputs kept here
	// (watchLostWorkers), so it waits until they are in place.
	d.recoverMu.Lock()
	defer d.recoverMu.Unlock()
	kept := d.readopt(ctx)
	var todo []int
	for _, i := range all {
		m, ok := kept[i]
		if !ok {
			todo = append(todo, i)
			continue
		}
		d.mu.Lock()
		d.mapRes[i] = m
		d.mu.Unlock()
		d.prog.update(func(p *Progress) {
			p.MapsDone++
			p.BytesDone += m.Bytes
			p.RecordsDone += m.RecordsIn
		})
	}
	d.log.Info("resumed: map tasks kept from the journal", "kept", len(all)-len(todo), "to_run", len(todo))
	return todo
}

// adoptWait bounds how long a resumed run waits for the workers that hold its accepted map
// outputs to report them (task.Inventory) before it runs again those of the workers that
// have not. A live worker reports within two of its heartbeats once it reaches the
// restarted coordinator, which at the same address is at once and on a replacement host
// as soon as gossip leads it there; a worker that died is waited for this long.
const adoptWait = 10 * time.Second

// inventories is an executor whose workers report the map outputs they hold (the
// Scheduler's MapOutputsHeld).
type inventories interface {
	MapOutputsHeld(ctx context.Context, job string, holders []string) (held map[string][]task.HeldOutput, missing []string)
}

// readopt returns the map attempts the earlier run accepted that this run keeps: all of
// them when no reducer is left to read their outputs (only their counts and rejects are of
// use then) or when the executor cannot say what its workers hold; otherwise those whose
// worker reports holding the output of the same attempt, waiting up to adoptWait for the
// workers to report. The others are journaled lost and run again in the map phase, rather
// than each costing a reducer a failed fetch first.
func (d *driver) readopt(ctx context.Context) map[int]task.MapResult {
	inv, ok := d.exec.(inventories)
	if !ok || len(d.from.reduces) >= d.spec.Reducers || len(d.from.maps) == 0 {
		return d.from.maps
	}
	var holders []string
	for _, m := range d.from.maps {
		if w := m.Output.Worker; w != "" && !slices.Contains(holders, w) {
			holders = append(holders, w)
		}
	}
	slices.Sort(holders)
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, d.from.adoptWait)
	held, missing := inv.MapOutputsHeld(wctx, d.job, holders)
	cancel()
	if ctx.Err() != nil {
		return d.from.maps // the run is ending: nothing is lost for all we know
	}
	type output struct {
		worker        string
		task, attempt int
	}
	has := map[output]bool{}
	for w, outs := range held {
		for _, o := range outs {
			has[output{w, o.Map, o.Attempt}] = true
		}
	}
	kept := map[int]task.MapResult{}
	lost := 0
	for _, i := range slices.Sorted(maps.Keys(d.from.maps)) {
		m := d.from.maps[i]
		if w := m.Output.Worker; w == "" || has[output{w, i, m.Attempt}] {
			kept[i] = m
			continue
		}
		why := fmt.Sprintf("after the restart, worker %s did not report holding attempt %d's output", m.Output.Worker, m.Attempt)
		if slices.Contains(missing, m.Output.Worker) {
			why = fmt.Sprintf("after the restart, worker %s did not report within %s", m.Output.Worker, d.from.adoptWait)
		}
		d.jr.batched(ctx, &journal.MapLost{Map: i, Attempt: m.Attempt, Reason: why})
		lost++
	}
	d.prog.update(func(p *Progress) { p.MapsReadopted, p.MapsRerun = len(kept), p.MapsRerun+lost })
	d.log.Info("resumed: map outputs re-adopted from the workers that hold them", "readopted", len(kept), "rerun", lost,
		"workers", len(holders), "unreported", missing, "waited", time.Since(start).Round(time.Millisecond).String())
	return kept
}

// reducesToRun fills results with the reduce attempts an earlier run had accepted and
// returns the reduce tasks still to run.
func (d *driver) reducesToRun(results []task.ReduceResult) []int {
	all := allIndexes(len(results))
	if d.from == nil {
		return all
	}
	var todo []int
	for _, r := range all {
		res, ok := d.from.reduces[r]
		if !ok {
			todo = append(todo, r)
			continue
		}
		results[r] = res
		d.prog.update(func(p *Progress) { p.ReducesDone++ })
	}
	d.log.Info("resumed: reduce tasks kept from the journal", "kept", len(all)-len(todo), "to_run", len(todo))
	return todo
}

// journalLost records that the accepted outputs of map tasks idx are lost, and why, before
// they run again: a restart must not re-adopt them.
func (d *driver) journalLost(ctx context.Context, idx map[int]csvsplit.State, why string) {
	if d.jr == nil {
		return
	}
	d.mu.Lock()
	recs := make([]*journal.MapLost, 0, len(idx))
	for i := range idx {
		if a := d.mapRes[i].Attempt; a > 0 {
			recs = append(recs, &journal.MapLost{Map: i, Attempt: a, Reason: why})
		}
	}
	d.mu.Unlock()
	for _, r := range recs {
		d.jr.batched(ctx, r)
	}
}

// lakeCommit commits the groups (lake.Commit) between the journal's CommitBegin and
// CommitSuccess. A resumed run whose commit had begun runs it again, which finishes it (see
// the top of this file), unless _SUCCESS already names this job: then it was done.
func (d *driver) lakeCommit(ctx context.Context, roots lake.Roots, stats lake.RunStats, groups []lake.CommitGroup) (*lake.Manifest, error) {
	if d.from != nil && d.from.commitBegun {
		if m, err := lake.LoadManifest(ctx, d.store, roots.Lake); err == nil && m.Job == d.job {
			d.log.Info("resumed: the lake was committed before the restart")
			if !d.from.committed {
				if err := d.jr.sync(ctx, &journal.Commit{Step: journal.CommitSuccess}); err != nil {
					return nil, err
				}
			}
			return m, nil
		}
		d.log.Info("resumed: finishing the interrupted commit")
	}
	if err := d.jr.sync(ctx, &journal.Commit{Step: journal.CommitBegin}); err != nil {
		return nil, err
	}
	m, err := lake.Commit(ctx, d.store, roots, d.job, d.spec.Name, stats, groups, time.Now())
	if err != nil {
		return nil, err
	}
	return m, d.jr.sync(ctx, &journal.Commit{Step: journal.CommitSuccess})
}

// commitRejectsOnce commits the rejects unless a resumed run's journal says it was done
// (lake.CommitRejects moves them out of the attempts, so a second run would find nothing).
func (d *driver) commitRejectsOnce(ctx context.Context) error {
	if d.from != nil && d.from.rejects {
		return nil
	}
	if err := d.commitRejects(ctx); err != nil {
		return err
	}
	return d.jr.sync(ctx, &journal.Commit{Step: journal.CommitFiles, Files: []string{rejectsMarker}})
}

// publishOnce publishes the summaries unless a resumed run's journal says they are
// published, and journals the publish once its transaction committed.
func (d *driver) publishOnce(ctx context.Context, m *lake.Manifest) {
	if d.from != nil && d.from.published {
		d.res.Published = Published
		return
	}
	d.publish(ctx, m)
	if d.res.Published == Published {
		if err := d.jr.sync(ctx, &journal.Published{Groups: len(m.Groups), At: time.Now().UTC()}); err != nil {
			d.log.Warn("summaries published, but not journaled: a restart publishes them again", "err", err)
		}
	}
}

// stateLocation is where the server keeps its job journals: cfg.State, or <data dir>/state.
func (c *ServerConfig) stateLocation() string {
	if c.State != "" {
		return c.State
	}
	return filepath.Join(c.DataDir, "state")
}

// openJournals opens the journals' location.
func (s *Server) openJournals(ctx context.Context) error {
	loc := s.cfg.stateLocation()
	cfg := journal.Config{Location: loc}
	if strings.HasPrefix(loc, "s3://") {
		store, err := objstore.New(objstore.Options{})
		if err != nil {
			return fmt.Errorf("state %s: %w", loc, err)
		}
		cfg.Store = store
	}
	dir, err := journal.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("state %s: %w", loc, err)
	}
	s.journals = dir
	return nil
}

// createJournal starts the journal of job run id with its spec (Sync): the job is admitted
// only once a restart could run it again. scheduled is the time a scheduled run is for.
func (s *Server) createJournal(ctx context.Context, id string, spec *jobs.Spec, submitted, scheduled time.Time) (*jobJournal, error) {
	wire, err := wireSpec(spec)
	if err != nil {
		return nil, err
	}
	j, err := s.journals.Create(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	rec := &journal.Spec{Job: id, Name: spec.Name, Submitted: submitted, Path: spec.File, Source: spec.Source, Spec: wire, Scheduled: scheduled}
	if err := j.Append(ctx, rec, journal.Sync); err != nil {
		j.Close(ctx)
		s.journals.Remove(ctx, id)
		return nil, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	return &jobJournal{j: j, log: cleanerFor(spec).logger(s.log).With("job", id)}, nil
}

// finishJournal records the run's end and closes its journal; the caller removes it once
// the job's history is saved.
func (jj *jobJournal) finish(res *Result) {
	if jj == nil {
		return
	}
	ctx := context.Background()
	if err := jj.j.Append(ctx, &journal.Finished{State: res.Status.String(), Error: res.Error, At: time.Now().UTC()}, journal.Sync); err != nil {
		jj.log.Warn("job journal: end not written", "err", err)
	}
	if err := jj.j.Close(ctx); err != nil {
		jj.log.Warn("job journal: close", "err", err)
	}
}

// interrupt closes the journal of an interrupted run as it is: no end is recorded, so a
// coordinator started on the same state resumes the run.
func (jj *jobJournal) interrupt() {
	if jj == nil {
		return
	}
	if err := jj.j.Close(context.Background()); err != nil {
		jj.log.Warn("job journal: close; a restart resumes the job from its last durable record", "err", err)
	}
}

// resumeJobs resumes every unfinished job in the journals, under its own id. A journal that
// cannot be read, or whose job cannot run again, is reported (logged, and the job shown
// failed with the reason) and left for inspection; it never stops the coordinator.
func (s *Server) resumeJobs(ctx context.Context) {
	ids, err := s.journals.Jobs(ctx)
	if err != nil {
		s.log.Error("listing the job journals: no job resumed", "state", s.cfg.stateLocation(), "err", err)
		return
	}
	for _, id := range ids {
		if err := s.resumeJob(ctx, id); err != nil {
			s.log.Error("job journal: the job cannot be resumed", "job", id, "err", err)
		}
	}
}

// resumeJob resumes one job from its journal.
func (s *Server) resumeJob(ctx context.Context, id string) error {
	s.mu.Lock()
	known := s.jobs[id]
	s.mu.Unlock()
	if known != nil && known.State.Terminal() {
		// Its history was saved, its journal not yet removed.
		return s.journals.Remove(ctx, id)
	}
	recs, err := s.journals.Replay(ctx, id)
	var specRec *journal.Spec
	var rp *resumePoint
	if err == nil {
		specRec, rp, err = replayJob(recs, time.Now())
	}
	if err != nil && len(recs) > 0 {
		if f, ok := recs[len(recs)-1].(*journal.Finished); ok {
			// The job ended; the coordinator stopped before its history was saved.
			s.log.Info("job journal: the job had finished; removing its journal", "job", id, "state", f.State)
			return s.journals.Remove(ctx, id)
		}
	}
	var spec *jobs.Spec
	if err == nil {
		spec, err = s.specOf(specRec)
	}
	if err != nil {
		s.failResumed(id, specRec, err)
		return err
	}
	j, _, err := s.journals.Resume(ctx, id)
	if err != nil {
		s.failResumed(id, specRec, err)
		return err
	}
	clean := cleanerFor(spec)
	jj := &jobJournal{j: j, log: clean.logger(s.log).With("job", id)}
	if err := jj.sync(ctx, &journal.Phase{State: resumedPhase, At: time.Now().UTC()}); err != nil {
		j.Close(ctx)
		s.failResumed(id, specRec, err)
		return err
	}
	run := s.newRun(id, spec, specRec.Submitted)
	run.State, run.Resumed, run.Lost, run.scheduled = rp.state, rp.resumed, rp.lost, specRec.Scheduled
	s.mu.Lock()
	s.jobs[id] = run
	s.order = append(s.order, id)
	s.runs.Add(1)
	s.mu.Unlock()
	after := "a crash"
	if rp.shutdown {
		after = "a shutdown"
	}
	clean.logger(s.log).Warn("job resumed from its journal", "job", id, "after", after, "state", rp.state, "resumed", rp.resumed,
		"lost", rp.lost.Round(time.Millisecond), "maps_kept", len(rp.maps), "reduces_kept", len(rp.reduces), "commit_begun", rp.commitBegun)
	s.launch(run, spec, jj, rp)
	return nil
}

// specOf reads a journaled spec back: the job file's text parsed again under the server's
// env policy (as Submit parses it), or, for a job submitted parsed, its spec as shipped.
// Either way its paths must still lie in the allowed roots.
func (s *Server) specOf(r *journal.Spec) (*jobs.Spec, error) {
	var spec *jobs.Spec
	if len(r.Source) > 0 {
		p, err := jobs.ParseWith(r.Source, r.Path, jobs.ParseOptions{Env: s.env})
		if err != nil {
			return nil, cleaner{}.err(err)
		}
		spec = p
	} else {
		spec = new(jobs.Spec)
		if err := json.Unmarshal(r.Spec, spec); err != nil {
			return nil, fmt.Errorf("spec record: %w", err)
		}
	}
	if spec.Name != r.Name {
		return nil, fmt.Errorf("spec record: the job file now names the job %q, not %q", spec.Name, r.Name)
	}
	if err := s.roots.CheckSpec(spec); err != nil {
		return nil, cleanerFor(spec).err(fmt.Errorf("job %q: %w", spec.Name, err))
	}
	return spec, nil
}

// failResumed shows a job whose journal could not be resumed as failed, with the reason.
//
// The journal is kept for inspection (it may be worth a bug report, or a hand repair), and
// every restart shows the job failed again from it, until the user acknowledges the failure
// with Cancel (dropUnresumable): that records the failure in the job history, like any
// failed job's, and removes the journal. Nothing removes it behind the user's back.
func (s *Server) failResumed(id string, r *journal.Spec, why error) {
	now := time.Now().UTC()
	name, submitted := "", now
	if r != nil {
		name, submitted = r.Name, r.Submitted
	}
	msg := capMessage(fmt.Sprintf("cannot resume the job from its journal: %v; the journal is kept in %s until the job is cancelled (`coordinator cancel %s`)",
		why, s.cfg.stateLocation(), id))
	run := &JobStatus{ID: id, Name: name, State: Failed, Submitted: submitted, Finished: &now, tracker: &Tracker{},
		Result: &Result{Job: id, Name: name, Status: Failed, Error: msg}, err: errors.New(msg), journalKept: true}
	run.Progress.Phase = Failed
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[id]; !ok {
		s.order = append(s.order, id)
	}
	s.jobs[id] = run
}

// dropUnresumable acknowledges job id's failure to resume (failResumed), for Cancel: it
// saves the failure in the job history, then removes the journal, so that a crash in
// between leaves a history entry whose journal the next start removes (resumeJob). It
// reports false, doing nothing, when id is not such a job: Cancel then cancels as usual.
func (s *Server) dropUnresumable(id string) (bool, error) {
	s.mu.Lock()
	run := s.jobs[id]
	if run == nil || !run.journalKept {
		s.mu.Unlock()
		return false, nil
	}
	run.journalKept = false // this call removes it; a concurrent Cancel finds the job over
	snapshot := *run
	s.mu.Unlock()
	err := func() error {
		history, err := dataFile(filepath.Join(s.cfg.DataDir, "jobs"), "job run id", id, ".json")
		if err != nil {
			return err
		}
		if err := writeJSONFile(history, snapshot); err != nil {
			return fmt.Errorf("saving job history: %w", err)
		}
		return s.journals.Remove(context.Background(), id)
	}()
	if err != nil {
		s.mu.Lock()
		run.journalKept = true
		s.mu.Unlock()
		return true, fmt.Errorf("job %s: removing the journal it could not be resumed from: %w", id, err)
	}
	s.log.Info("job journal: removed at the user's request; the job stays failed in the history", "job", id)
	return true, nil
}

// newRun is the JobStatus of a job run about to start.
func (s *Server) newRun(id string, spec *jobs.Spec, submitted time.Time) *JobStatus {
	run := &JobStatus{ID: id, Name: spec.Name, State: Queued, Submitted: submitted, tracker: &Tracker{}}
	run.outputs = []string{spec.Output.Parquet, spec.Output.Summaries, spec.Output.Rejects}
	return run
}

// launch runs an admitted job run (s.runs already counts it): RunJob under a context of
// its own, which run.cancel ends (Cancel; Shutdown with the cause ErrInterrupted), then the
// run's end in its journal, its history, and the journal's removal, in that order, so that
// a crash in between leaves a journal whose last record says the job finished. An
// interrupted run has no end: its journal is closed as it is, for a restart to resume, and
// no history is written (a saved history would tell the restart the job had finished).
func (s *Server) launch(run *JobStatus, spec *jobs.Spec, jj *jobJournal, rp *resumePoint) {
	ctx, cancel := context.WithCancelCause(context.Background())
	s.mu.Lock()
	run.cancel = cancel
	if s.closed {
		cancel(ErrInterrupted) // Shutdown began after the run was admitted, before it had a cancel
	}
	s.mu.Unlock()
	id := run.ID
	log := cleanerFor(spec).logger(s.log)
	history, herr := dataFile(filepath.Join(s.cfg.DataDir, "jobs"), "job run id", id, ".json")
	obs.JobStarted()
	go func() {
		defer s.runs.Done()
		defer cancel(nil)
		obs.ForJob(ctx, id) // the job's planning, commit and publishing profile under its id
		res, err := RunJob(ctx, spec, s.sched, id, RunOptions{Log: s.log, Tracker: run.tracker, Publish: s.cfg.Publish,
			SourceTuning: s.cfg.SourceTuning, Roots: s.roots, journal: jj, resume: rp})
		now := time.Now().UTC()
		obs.JobFinished(res.Status.String(), now.Sub(run.Submitted))
		if res.Status == Interrupted {
			run.tracker.update(func(p *Progress) { p.Phase = Interrupted })
			s.mu.Lock()
			run.State, run.err = Interrupted, err
			s.mu.Unlock()
			jj.interrupt()
			log.Info("job interrupted; its journal is kept for a restart to resume it", "job", id)
			return
		}
		s.mu.Lock()
		run.State, run.Result, run.Finished, run.err = res.Status, res, &now, err
		run.Progress = run.tracker.Snapshot()
		snapshot := *run
		s.mu.Unlock()
		log.Info("job finished", "job", id, "status", res.Status, "err", res.Error)
		jj.finish(res)
		// The snapshot holds the cleaned result (RunJob's) and no spec: never the job
		// file's text, its database URL or what it read through env().
		if herr != nil {
			log.Warn("saving job history", "job", id, "err", herr)
		} else if err := writeJSONFile(history, snapshot); err != nil {
			log.Warn("saving job history", "job", id, "err", err)
		}
		s.pruneHistory()
		if jj != nil {
			if err := s.journals.Remove(context.Background(), id); err != nil {
				log.Warn("removing the job's journal", "job", id, "err", err)
			}
		}
	}()
}
