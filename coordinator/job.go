package coordinator

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/socrata"
	"github.com/ireports/ireports/task"
)

// Executor runs task attempts. Map and Reduce block until the attempt ends or ctx is done,
// and must be safe for concurrent calls; the driver keeps at most Slots attempts in flight.
//
// spec is the job's parsed spec as JSON, without the job file's text (see wireSpec): the
// driver passes the same one with every attempt of a run, and a remote executor ships it with
// each assignment (task.Assignment.Spec), so that every worker runs the job the coordinator
// parsed. An in-process executor that holds the parsed spec may ignore it.
type Executor interface {
	Map(ctx context.Context, spec json.RawMessage, t task.Map) (task.MapResult, error)
	Reduce(ctx context.Context, spec json.RawMessage, t task.Reduce) (task.ReduceResult, error)
	Slots() int
}

// MaxAttempts bounds the attempts of one task; a task that fails this often fails the job.
const MaxAttempts = 4

// Result is the outcome of a job run, printed by `coordinator run --json`.
type Result struct {
	Job               string           `json:"job"`
	Name              string           `json:"name"`
	Status            State            `json:"status"` // Succeeded, SourceUnavailable, Failed or Cancelled (Interrupted: see RunJob)
	Error             string           `json:"error,omitempty"`
	RecordsIn         int64            `json:"records_in"`
	RecordsOut        int64            `json:"records_out"`
	Rejected          int64            `json:"rejected"`
	RejectsByReason   map[string]int64 `json:"rejects_by_reason"`
	DuplicatesRemoved int64            `json:"duplicates_removed"`
	// RecordsCarried counts the lake rows a merge job kept in the groups it rewrote.
	RecordsCarried int64    `json:"records_carried,omitempty"`
	Groups         int      `json:"groups"`
	Outputs        Outputs  `json:"outputs"`
	Files          int      `json:"files"`
	Bytes          int64    `json:"bytes"`
	MapTasks       int      `json:"map_tasks"`
	ReduceTasks    int      `json:"reduce_tasks"`
	Respeculated   int      `json:"respeculated"` // splits re-run after the quote-state chain check
	Retries        int      `json:"retries"`      // attempts beyond the first
	Seconds        float64  `json:"seconds"`
	PeakRSSBytes   int64    `json:"peak_rss_bytes,omitempty"` // of the process that ran the job
	Warnings       []string `json:"warnings,omitempty"`
	// PhaseSeconds is the wall time of each phase, by its State's name: pull, plan, map (with
	// the chain check and its re-run of mis-speculated splits), reduce (with the shuffle),
	// commit (with consuming the source batches), publish; and cleanup (of attempts'
	// leftovers), which comes after Seconds ends.
	PhaseSeconds map[string]float64 `json:"phase_seconds,omitempty"`
	// Pulls are the run's pulls of its sources, if any.
	Pulls []Pull `json:"pulls,omitempty"`
	// Published says whether the summaries reached Postgres: "published", "unpublished"
	// (the lake is committed; see ErrUnpublished), or "" when the job has no postgres output.
	Published string `json:"published,omitempty"`
	// Version is the version of the coordinator that ran the job (internal/version).
	Version string `json:"version,omitempty"`
}

// Outputs says where a job's results are.
type Outputs struct {
	Parquet   string `json:"parquet"`
	Summaries string `json:"summaries"`
	Rejects   string `json:"rejects"`
	Manifest  string `json:"manifest,omitempty"`
}

// Progress is how far a job run has come, as the API, the status page and the progress bar
// show it.
type Progress struct {
	// Phase is the run's State: a running one while the driver works, its outcome once the
	// run ended. (In the API's JobStatus it shows as State.PhaseName.)
	Phase        State     `json:"phase"`
	MapsDone     int       `json:"maps_done"`
	MapsTotal    int       `json:"maps_total"`
	ReducesDone  int       `json:"reduces_done"`
	ReducesTotal int       `json:"reduces_total"`
	BytesDone    int64     `json:"bytes_done"`
	BytesTotal   int64     `json:"bytes_total"`
	RecordsDone  int64     `json:"records_done"`
	Started      time.Time `json:"started"`
	// The publish phase: (city, month) groups whose summary rows are loaded into Postgres,
	// of how many, and those rows. A retried attempt starts again from zero.
	PublishGroups      int   `json:"publish_groups,omitempty"`
	PublishGroupsTotal int   `json:"publish_groups_total,omitempty"`
	PublishRows        int64 `json:"publish_rows,omitempty"`
	// PublishFinishing: every row is copied; Postgres is building the tables' indexes and
	// committing.
	PublishFinishing bool `json:"publish_finishing,omitempty"`
	// MapsReadopted are the map outputs a resumed run took over from the workers that
	// reported holding them; MapsRerun the accepted map outputs re-run because they were
	// lost: not reported after a restart, on a worker declared down, or unreadable to a
	// reducer (lostmaps.go).
	MapsReadopted int `json:"maps_readopted,omitempty"`
	MapsRerun     int `json:"maps_rerun,omitempty"`
}

// Tracker holds a job run's progress; safe for concurrent use.
type Tracker struct {
	mu sync.Mutex // guards p
	p  Progress
}

// Snapshot returns the current progress.
func (t *Tracker) Snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.p
}

func (t *Tracker) update(fn func(*Progress)) {
	t.mu.Lock()
	fn(&t.p)
	t.mu.Unlock()
}

// RunOptions are the optional parts of a job run.
type RunOptions struct {
	Log     *slog.Logger // nil: discarded
	Tracker *Tracker     // nil: progress is not tracked
	// Store reads the inputs and writes the outputs; nil: a Router for the job's endpoint.
	Store objstore.Store
	// Publish configures publishing to Postgres; nil: pgsink.DefaultConfig.
	Publish *pgsink.Config
	// SourceTuning, if set, adjusts each source before its pull (tests shorten backoffs).
	SourceTuning func(*socrata.Source)
	// Roots, if set, are where the job may read: every file an input expands to is checked
	// before its header is read (a glob or a directory inside the roots can still hold a
	// symlink that leads out). nil: not checked.
	Roots *allowpath.Roots

	// journal, if set, records the run as it goes (journal.go); resume, if set, is where
	// a restarted coordinator resumes it from (resume.go).
	journal *jobJournal
	resume  *resumePoint
}

// driver runs one job through its States: pull, plan, map, check the quote-state chain,
// reduce, commit, publish, consume (run), then clean up (runUncleaned).
type driver struct {
	spec  *jobs.Spec
	wire  json.RawMessage // spec as the executor ships it (wireSpec)
	exec  Executor
	store objstore.Store
	job   string
	log   *slog.Logger
	// sinkLog is log without the job attribute: pgsink names the job in its own lines.
	sinkLog *slog.Logger
	res     *Result
	prog    *Tracker
	// pubCfg configures publishing; nil: the default.
	pubCfg *pgsink.Config
	// started is when the run began.
	started time.Time
	// state is the run's current State and when it began.
	state      State
	stateStart time.Time
	// pgdb and pg are the run's Postgres, once opened (see sink).
	pgdb *sql.DB
	pg   *pgsink.Sink
	// sourceTuning adjusts sources before their pulls.
	sourceTuning func(*socrata.Source)
	// roots, if not nil, confine the files the inputs expand to.
	roots *allowpath.Roots

	// minBackupAge is the least time an attempt runs before a backup attempt may start.
	minBackupAge time.Duration

	// recoverMu serializes re-runs of lost map outputs (lostmaps.go), and keeps the chain
	// check and the start of a reduce attempt from reading map results while one runs.
	recoverMu sync.Mutex

	// jr records the run (nil: not journaled); from is what an earlier run of this job
	// did (nil: a fresh run).
	jr   *jobJournal
	from *resumePoint

	// committed is the manifest of the run's commit (nil before it, and when the commit was
	// one of an earlier run's, resumed), for the clean-up.
	committed *lake.Manifest

	mu       sync.Mutex // guards the fields below
	plan     *Plan
	attempts map[string]int // task name → last attempt number
	mapRes   []task.MapResult
}

// NewJobID names a run of the job called name: unique, sortable, safe in paths.
func NewJobID(name string, now time.Time) string {
	return fmt.Sprintf("%s-%s-%04x", name, now.UTC().Format("20060102T150405"), now.Nanosecond()>>10&0xffff)
}

// RunJob runs the job described by spec to completion on exec. The returned Result is
// always non-nil; the error is non-nil when the job did not succeed.
//
// A journaled run (a Server's) whose ctx is cancelled with the cause ErrInterrupted stops
// without an outcome instead: nothing is cleaned up — its staged output, its accepted map
// outputs on the workers and its lake claim stay, and its journal ends with the phase
// Interrupted — so that a coordinator started on the same state resumes it. Its Result then
// has the Status Interrupted and the error is ErrInterrupted.
//
// The Result, the error and every line logged to opt.Log are cleaned (guard.go): what the job
// read through env() is redacted and every message capped at MaxMessage.
func RunJob(ctx context.Context, spec *jobs.Spec, exec Executor, job string, opt RunOptions) (*Result, error) {
	clean := cleanerFor(spec)
	opt.Log = clean.logger(opt.Log)
	res, err := runUncleaned(ctx, spec, exec, job, opt)
	return clean.result(res), clean.err(err)
}

func runUncleaned(ctx context.Context, spec *jobs.Spec, exec Executor, job string, opt RunOptions) (*Result, error) {
	start := time.Now()
	// The job's name and run id become path components of its outputs (the rejects folder,
	// attempt directories): refuse one that could point outside them.
	for _, c := range []struct{ what, name string }{{"job name", spec.Name}, {"job run id", job}} {
		if err := checkComponent(c.what, c.name); err != nil {
			return &Result{Job: job, Name: spec.Name, Status: Failed, Error: err.Error(), Version: version.Version()}, task.Fatal(err)
		}
	}
	wire, err := wireSpec(spec)
	if err != nil {
		return &Result{Job: job, Name: spec.Name, Status: Failed, Error: err.Error(), Version: version.Version()}, err
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Tracker == nil {
		opt.Tracker = &Tracker{}
	}
	opt.Tracker.update(func(p *Progress) { p.Phase, p.Started = Planning, start })
	if opt.Store == nil {
		r, err := objstore.New(objstore.Options{Endpoint: spec.Endpoint})
		if err != nil {
			return &Result{Job: job, Name: spec.Name, Status: Failed, Error: err.Error(), Version: version.Version()}, err
		}
		opt.Store = r
	}
	// One run writes a lake, and a summaries root, at a time, across coordinators too: a
	// second one's clean-up would abort this one's uploads, and their commits could
	// interleave. Two jobs whose lakes differ may still share a summaries root.
	held, err := lockOutputs(ctx, opt.Store, job, spec.Output.Parquet, spec.Output.Summaries)
	if err != nil {
		if interrupted(ctx, opt.journal) {
			return &Result{Job: job, Name: spec.Name, Status: Interrupted, Error: context.Cause(ctx).Error(), Version: version.Version()}, context.Cause(ctx)
		}
		if errors.Is(err, lake.ErrLocked) {
			err = fmt.Errorf("%w: %w", ErrOutputBusy, err)
		}
		return &Result{Job: job, Name: spec.Name, Status: Failed, Error: err.Error(), Version: version.Version()}, err
	}
	rejects, err := objstore.Join(spec.Output.Rejects, spec.Name)
	if err == nil {
		// Before anything is written: the commit replaces this directory whole.
		err = lake.CheckRejectsDir(ctx, opt.Store, rejects)
	}
	if err != nil {
		held.release()
		return &Result{Job: job, Name: spec.Name, Status: Failed, Error: err.Error(), Version: version.Version()}, err
	}
	d := &driver{
		spec: spec, wire: wire, exec: exec, store: opt.Store, job: job, pubCfg: opt.Publish, started: start, sourceTuning: opt.SourceTuning, log: opt.Log.With("job", job), sinkLog: opt.Log, prog: opt.Tracker,
		attempts: map[string]int{}, minBackupAge: 5 * time.Second,
		res: &Result{
			Job: job, Name: spec.Name, RejectsByReason: map[string]int64{}, Version: version.Version(),
			Outputs: Outputs{Parquet: spec.Output.Parquet, Summaries: spec.Output.Summaries, Rejects: rejects},
		},
	}
	d.roots = opt.Roots
	d.jr, d.from = opt.journal, opt.resume
	err = d.run(ctx)
	if d.pgdb != nil {
		d.pgdb.Close()
	}
	d.res.Seconds = time.Since(start).Seconds()
	if err != nil && interrupted(ctx, d.jr) {
		// No clean-up: what the run staged, the map outputs its journal names and its claim
		// are what the resumed run goes on with. The attempts it withdrew were never
		// accepted; their workers drop them, and the resumed run's clean-up the rest.
		d.log.Warn("job interrupted: the coordinator is shutting down; a restart on the same state resumes it", "state", d.state)
		d.enter(Interrupted)
		held.keep()
		d.res.Status, d.res.Error = Interrupted, context.Cause(ctx).Error()
		return d.res, context.Cause(ctx)
	}
	defer held.release()
	d.enter(CleaningUp)
	switch {
	case errors.Is(err, errSourceUnavailable):
		// A clean end: the watermark holds, the next run catches up.
		d.res.Status, d.res.Error, err = SourceUnavailable, err.Error(), nil
		d.res.Warnings = append(d.res.Warnings, d.res.Error+"; nothing committed: the next run catches up from the watermark")
	case err == nil:
		d.res.Status = Succeeded
	case ctx.Err() != nil:
		d.res.Status, d.res.Error = Cancelled, err.Error()
	default:
		d.res.Status, d.res.Error = Failed, err.Error()
	}
	// Nothing of a failed run is visible: drop its attempts. (A reject-budget failure has
	// already committed its rejects, on purpose, so the user can see why.) A successful run
	// has leftovers too: losing and superseded attempts write files the commit does not take.
	cleanup := context.WithoutCancel(ctx)
	if q, ok := exec.(interface{ Quiesce(context.Context, string) }); ok {
		// Attempts withdrawn at the end (cancelled, failed, or losing backups) may still be
		// writing on their workers; clean up after they stop, so nothing is left behind.
		qctx, cancel := context.WithTimeout(cleanup, time.Minute)
		q.Quiesce(qctx, job)
		cancel()
	}
	abortOutput := func(root string) error { return lake.Abort(cleanup, d.store, root, job) }
	if d.committed != nil && d.res.Retries == 0 && d.from == nil {
		// Every task ran one attempt, accepted: none is left to write into the groups the
		// commit swept.
		abortOutput = func(root string) error { return lake.AbortCommitted(cleanup, d.store, root, job, d.committed) }
	}
	if err := abortOutput(spec.Output.Parquet); err != nil {
		d.log.Warn("cleaning the lake's _temporary", "err", err)
	}
	if err := abortOutput(spec.Output.Summaries); err != nil {
		d.log.Warn("cleaning the summaries' _temporary", "err", err)
	}
	if err := lake.Abort(cleanup, d.store, spec.Output.Rejects, job); err != nil {
		d.log.Warn("cleaning the rejects' _temporary", "err", err)
	}
	d.cleanMapOutputs()
	d.enter(d.res.Status)
	return d.res, err
}

// enter moves the run to state s, ending the current state and adding its time to the
// result's PhaseSeconds (under the phase it is timed as).
func (d *driver) enter(s State) {
	now := time.Now()
	if d.state != Queued && !d.state.Terminal() {
		if d.res.PhaseSeconds == nil {
			d.res.PhaseSeconds = map[string]float64{}
		}
		d.res.PhaseSeconds[d.state.timedAs().String()] += now.Sub(d.stateStart).Seconds()
	}
	d.jr.phase(s) // journaled before it shows: what a client saw, a restart knows
	d.state, d.stateStart = s, now
	d.prog.update(func(p *Progress) { p.Phase = s })
}

// run takes the job through its life, one State after another: everything a run does is
// called from here, in order. It returns when the run has an outcome; runUncleaned then
// cleans up and records it.
func (d *driver) run(ctx context.Context) error {
	if len(d.spec.Sources) > 0 {
		d.enter(Pulling)
		if err := d.pullSources(ctx); err != nil {
			return err
		}
	}

	d.enter(Planning)
	plan, err := d.planOrResume(ctx)
	if err != nil {
		return err
	}
	d.plan = plan
	if len(plan.Maps) == 0 && len(d.spec.Sources) > 0 {
		d.res.Warnings = append(d.res.Warnings, "up to date: the sources have no new records")
		return nil
	}
	d.res.Files, d.res.Bytes, d.res.Warnings = plan.Files, plan.Bytes, plan.Warnings
	d.res.MapTasks, d.res.ReduceTasks = len(plan.Maps), d.spec.Reducers
	d.mapRes = make([]task.MapResult, len(plan.Maps))
	d.log.Info("planned", "files", plan.Files, "bytes", plan.Bytes, "maps", len(plan.Maps), "reducers", d.spec.Reducers)

	d.enter(Mapping)
	d.prog.update(func(p *Progress) {
		p.MapsTotal, p.ReducesTotal, p.BytesTotal = len(plan.Maps), d.spec.Reducers, plan.Bytes
	})
	stopWatch := d.watchLostWorkers(ctx) // until the reduce phase ends: a down worker's outputs run again
	defer stopWatch()
	if err := d.runMaps(ctx, d.mapsToRun(ctx), nil); err != nil {
		return err
	}

	d.enter(Checking)
	if err := d.checkChain(ctx); err != nil {
		return err
	}
	if err := d.countMaps(ctx); err != nil {
		return err
	}

	d.enter(Reducing)
	groups, err := d.reducePhase(ctx)
	stopWatch()
	if err != nil {
		return err
	}

	d.enter(Committing)
	m, err := d.commit(ctx, groups)
	if err != nil {
		return err
	}
	d.committed = m
	// After the lake: a job that fails or is cancelled before this point leaves the previous
	// run's rejects in place. The accepted map attempts are final now, including any re-run
	// in the reduce phase, so the rejects match the committed rows exactly.
	if err := d.commitRejectsOnce(ctx); err != nil {
		return fmt.Errorf("lake committed, but %w", err)
	}

	if d.spec.Output.Postgres != "" {
		d.enter(Publishing)
		d.publishOnce(ctx, m)
		if d.res.Published == Unpublished && interrupted(ctx, d.jr) {
			return context.Cause(ctx) // publish again on resume, rather than leave it undone
		}
		if d.res.Published == Unpublished {
			// Keep the batches: the next run merges them again (idempotent) and publishes
			// their groups, which this run's manifest alone would leave behind once the
			// next run replaces it.
			return nil
		}
	}

	d.enter(Consuming)
	return d.consumeBatches(ctx)
}

// wireSpec encodes spec as the executor ships it to the workers: the parsed spec without the
// job file's text, which may hold secrets (a literal database URL or app token) that the
// parsed spec itself never carries.
func wireSpec(spec *jobs.Spec) (json.RawMessage, error) {
	shipped := *spec
	shipped.Source = nil
	b, err := json.Marshal(&shipped)
	if err != nil {
		return nil, fmt.Errorf("encode job spec: %w", err)
	}
	return b, nil
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// nextAttempt returns the next attempt number of the named task.
func (d *driver) nextAttempt(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts[name]++
	if d.attempts[name] > 1 {
		d.res.Retries++
	}
	if d.from != nil {
		return d.from.attemptBase + d.attempts[name]
	}
	return d.attempts[name]
}

// newPhase returns a phase runner on d's executor.
func (d *driver) newPhase(name string, attempt func(ctx context.Context, i int) (func(), error)) *phase {
	return &phase{name: name, slots: d.exec.Slots, attempt: attempt, log: d.log, minBackupAge: d.minBackupAge}
}

// mapAttempt runs one attempt of map task i, with the quote state at its start forced when
// state is known.
func (d *driver) mapAttempt(ctx context.Context, i int, state csvsplit.State) (func(), error) {
	t := d.plan.Maps[i]
	t.Attempt = d.nextAttempt(fmt.Sprintf("m-%d", i))
	if state != csvsplit.Unknown {
		t.State = state
	}
	res, err := d.exec.Map(ctx, d.wire, t)
	if err != nil {
		return nil, err
	}
	if err := d.checkMapResult(t, res); err != nil {
		return nil, err
	}
	return func() {
		d.jr.acceptedMap(ctx, res)
		d.mu.Lock()
		first := d.mapRes[i].Attempt == 0
		d.mapRes[i] = res
		d.mu.Unlock()
		if first {
			d.prog.update(func(p *Progress) {
				p.MapsDone++
				p.BytesDone += res.Bytes
				p.RecordsDone += res.RecordsIn
			})
		}
	}, nil
}

// runMaps runs the map tasks idx, each with its known quote state, if any.
func (d *driver) runMaps(ctx context.Context, idx []int, states map[int]csvsplit.State) error {
	return d.newPhase("map", func(ctx context.Context, i int) (func(), error) {
		return d.mapAttempt(ctx, i, states[i])
	}).run(ctx, idx)
}

// checkChain validates the speculated quote states of every file's splits (DESIGN.md step 2)
// and re-runs the splits whose assumption was wrong, with their true state.
func (d *driver) checkChain(ctx context.Context) error {
	d.recoverMu.Lock() // a re-run of lost outputs must not race this one over a task's result
	defer d.recoverMu.Unlock()
	byFile := map[int][]int{} // file index → map tasks in file order
	for i, m := range d.plan.Maps {
		if m.Format == jobs.FormatCSV && !m.Gzip {
			byFile[m.FileIndex] = append(byFile[m.FileIndex], i)
		}
	}
	rerun := map[int]csvsplit.State{}
	for _, tasks := range byFile {
		assumed := make([]csvsplit.State, len(tasks))
		parity := make([]int, len(tasks))
		for j, i := range tasks {
			assumed[j], parity[j] = d.mapRes[i].Assumed, d.mapRes[i].Parity
		}
		truth, bad := csvsplit.Chain(assumed, parity)
		for _, j := range bad {
			rerun[tasks[j]] = truth[j]
		}
	}
	if len(rerun) == 0 {
		return nil
	}
	d.res.Respeculated = len(rerun)
	d.log.Info("re-running mis-speculated splits", "count", len(rerun))
	idx := slices.Sorted(maps.Keys(rerun))
	return d.runMaps(ctx, idx, rerun)
}

// countMaps totals the accepted map attempts and enforces the reject budget.
func (d *driver) countMaps(ctx context.Context) error {
	r := d.res
	for _, m := range d.mapResults() {
		r.RecordsIn += m.RecordsIn
		r.Rejected += m.Rejected
		for k, v := range m.RejectsByReason {
			r.RejectsByReason[k] += v
		}
	}
	if r.RecordsIn > 0 && float64(r.Rejected) > d.spec.MaxRejectRatio*float64(r.RecordsIn) {
		// The job fails, but its rejects are published so the user can see why.
		if err := d.commitRejects(ctx); err != nil {
			return err
		}
		return task.Fatal(fmt.Errorf("%w: %d of %d records rejected (%.2f%%, max_reject_ratio %.2f%%): %s; the rejects are in %s",
			ErrRejectBudget, r.Rejected, r.RecordsIn, 100*float64(r.Rejected)/float64(r.RecordsIn),
			100*d.spec.MaxRejectRatio, FormatReasons(r.RejectsByReason), r.Outputs.Rejects))
	}
	return nil
}

// FormatReasons renders reject counts by reason, most frequent first: "malformed 3, no_date 1".
func FormatReasons(m map[string]int64) string {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func (d *driver) reducePhase(ctx context.Context) ([]task.ReduceResult, error) {
	results := make([]task.ReduceResult, d.spec.Reducers)
	err := d.newPhase("reduce", func(ctx context.Context, r int) (func(), error) {
		t := task.Reduce{Job: d.job, Index: r, Attempt: d.nextAttempt(fmt.Sprintf("r-%d", r))}
		var seen []int // the map attempts whose outputs this reduce attempt reads
		// After any re-run of lost map outputs in flight, which gives their new places.
		d.recoverMu.Lock()
		d.mu.Lock()
		for _, m := range d.mapRes {
			t.MapOutput = append(t.MapOutput, m.Output)
			seen = append(seen, m.Attempt)
		}
		d.mu.Unlock()
		d.recoverMu.Unlock()
		res, err := d.exec.Reduce(ctx, d.wire, t)
		if err == nil {
			err = d.checkReduceResult(t, res)
		}
		if err != nil {
			var lost *task.LostError
			if errors.As(err, &lost) && ctx.Err() == nil && lost.Map < len(t.MapOutput) {
				if rerr := d.recoverMapOutput(ctx, lost.Map, seen[lost.Map]); rerr != nil {
					return nil, rerr
				}
			}
			return nil, err
		}
		return func() {
			d.jr.acceptedReduce(ctx, res)
			results[r] = res
			d.prog.update(func(p *Progress) { p.ReducesDone++ })
		}, nil
	}).run(ctx, d.reducesToRun(results))
	return results, err
}

// recoverMapOutput re-runs map task i, whose output from attempt `seen` a reducer could not
// read, together with every other map output held by the same worker: a failed fetch means
// that worker is gone or unreachable, and recovering its outputs one reducer failure at a
// time would use up the reducers' MaxAttempts long before a dead worker's dozens of outputs
// were all re-run. Outputs that another reducer's report already had re-run are skipped;
// reducers that report at the same time wait for one re-run.
func (d *driver) recoverMapOutput(ctx context.Context, i, seen int) error {
	d.recoverMu.Lock()
	defer d.recoverMu.Unlock()
	d.mu.Lock()
	current := d.mapRes[i]
	// The chain check has run, so the state each accepted attempt assumed is the true one.
	states := map[int]csvsplit.State{}
	if current.Attempt == seen {
		for j, m := range d.mapRes {
			if j == i || m.Output.Worker != "" && m.Output.Worker == current.Output.Worker {
				states[j] = m.Assumed
			}
		}
	}
	d.mu.Unlock()
	if len(states) == 0 {
		return nil
	}
	d.log.Warn("map output lost; re-running the map tasks whose outputs were on its worker",
		"task", i, "output", current.Output.String(), "tasks", len(states))
	return d.rerunLost(ctx, states, "a reducer could not fetch an output of its worker")
}

func (d *driver) commit(ctx context.Context, results []task.ReduceResult) (*lake.Manifest, error) {
	var groups []lake.CommitGroup
	for _, r := range results {
		d.res.RecordsOut += r.RecordsOut
		d.res.DuplicatesRemoved += r.Duplicates
		d.res.RecordsCarried += r.Carried
		// No other attempt of the task wrote into its groups: it ran once, in this run (a
		// resumed run's predecessor may have started others).
		d.mu.Lock()
		one := d.from == nil && d.attempts[fmt.Sprintf("r-%d", r.Index)] == 1
		d.mu.Unlock()
		for _, g := range r.Groups {
			cg := lake.CommitGroup{
				Key:  record.Key{City: g.City, Year: g.Year, Month: g.Month},
				Rows: g.Rows, AttemptDir: r.Dir, SummaryDir: r.SummaryDir, OneAttempt: one,
			}
			for _, f := range g.Files {
				cg.Files = append(cg.Files, lake.File{Path: f.Path, Bytes: f.Bytes, SHA256: f.SHA256})
			}
			for _, f := range g.SummaryFiles {
				cg.SummaryFiles = append(cg.SummaryFiles, lake.File{Path: f.Path, Bytes: f.Bytes, SHA256: f.SHA256})
			}
			groups = append(groups, cg)
		}
	}
	d.res.Groups = len(groups)
	if in, out := d.res.RecordsIn+d.res.RecordsCarried, d.res.RecordsOut+d.res.Rejected+d.res.DuplicatesRemoved; in != out {
		// The accounting invariant is what lets users trust the counts; never commit without it.
		return nil, fmt.Errorf("internal error: records in %d + carried %d != out %d + rejected %d + duplicates %d",
			d.res.RecordsIn, d.res.RecordsCarried, d.res.RecordsOut, d.res.Rejected, d.res.DuplicatesRemoved)
	}
	roots := lake.Roots{Lake: d.spec.Output.Parquet, Summaries: d.spec.Output.Summaries}
	m, err := d.lakeCommit(context.WithoutCancel(ctx), roots,
		lake.RunStats{Started: d.started, RecordsIn: d.res.RecordsIn, Rejected: d.res.Rejected, Duplicates: d.res.DuplicatesRemoved, Version: version.Version()},
		groups)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	d.res.Outputs.Manifest, _ = objstore.Join(d.spec.Output.Parquet, lake.SuccessFile) // Commit wrote it: the name is sound
	d.log.Info("committed", "groups", len(m.Groups), "rows", m.Rows, "files", len(m.Files)+len(m.Summaries.Files))
	old, ok := m.OldLayoutLeft() // the commit's listing of the lake found it, unless resumed
	if !ok {
		if old, err = lake.FindOldLayout(ctx, d.store, roots.Lake); err != nil {
			old = lake.OldLayout{}
		}
	}
	if !old.Empty() {
		d.res.Warnings = append(d.res.Warnings, fmt.Sprintf(
			"the lake %s still holds groups this run did not rewrite in the layout of earlier versions (%d summary files in %s/, %d month=0N directories), "+
				"so readers cannot open it at its root with Hive partitioning; run the job over all its inputs once to rewrite them",
			roots.Lake, old.SummaryFiles, lake.LegacySummaryDir, old.GroupDirs))
	}
	return m, nil
}

// claims are a run's claims on its outputs (lockOutputs); the run ends them with release,
// or with keep when it is interrupted.
type claims []*lake.Claim

func (c claims) release() {
	for _, cl := range slices.Backward(c) {
		cl.Release()
	}
}

func (c claims) keep() {
	for _, cl := range c {
		cl.Keep()
	}
}

// lockOutputs claims each distinct root for job run job (see lake.Lock).
func lockOutputs(ctx context.Context, store objstore.Store, job string, roots ...string) (claims, error) {
	var held claims
	for i, root := range roots {
		if slices.Contains(roots[:i], root) {
			continue
		}
		cl, err := lake.Lock(ctx, store, root, job)
		if err != nil {
			held.release()
			return nil, err
		}
		held = append(held, cl)
	}
	return held, nil
}

// commitRejects gathers the accepted map attempts' rejects into <rejects>/<job name>/,
// replacing the previous run's (lake.CommitRejects).
func (d *driver) commitRejects(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx) // a commit is not left half done
	var files []lake.RejectsFile
	for _, m := range d.mapResults() {
		if m.Rejects != "" {
			files = append(files, lake.RejectsFile{Index: m.Index, Path: m.Rejects})
		}
	}
	return lake.CommitRejects(ctx, d.store, d.spec.Output.Rejects, d.job, d.spec.Name, files)
}

// cleanMapOutputs deletes the job's map outputs held in this process (an in-process
// executor's): they are needed only until the job ends. Only directories named after the job
// are removed (shuffle.MapOutputPath's layout): the paths come from task results, and anyone
// with the token can report one.
func (d *driver) cleanMapOutputs() {
	dirs := map[string]bool{}
	for _, m := range d.mapRes {
		if m.Output.Path != "" && m.Output.Worker == "" {
			if dir := filepath.Dir(filepath.Clean(m.Output.Path)); filepath.Base(dir) == d.job {
				dirs[dir] = true
			}
		}
	}
	for dir := range dirs {
		os.RemoveAll(dir)
	}
}

// checkMapResult refuses a map result whose rejects file is not in the attempt's own
// directory: the commit moves that file into the rejects output, and a result comes from
// whoever holds the token, not necessarily a worker of ours.
func (d *driver) checkMapResult(t task.Map, res task.MapResult) error {
	if res.Rejects == "" {
		return nil
	}
	dir, err := lake.AttemptDir(d.spec.Output.Rejects, d.job, fmt.Sprintf("m-%d", t.Index), t.Attempt)
	if err == nil && !under(dir, res.Rejects) {
		err = fmt.Errorf("%s: the result names rejects %s, outside the attempt's directory %s", t, res.Rejects, dir)
	}
	if err != nil {
		return task.Fatal(err)
	}
	return nil
}

// checkReduceResult refuses a reduce result whose stages are not the attempt's own: the
// commit promotes what lies there into the lake and the summary datasets.
func (d *driver) checkReduceResult(t task.Reduce, res task.ReduceResult) error {
	if res.Dir == "" && res.SummaryDir == "" && len(res.Groups) == 0 {
		return nil
	}
	name := fmt.Sprintf("r-%d", t.Index)
	st, err := lake.NewStage(d.store, d.spec.Output.Parquet, d.job, name, t.Attempt)
	if err != nil {
		return task.Fatal(err)
	}
	if res.Dir != st.Dir() {
		return task.Fatal(fmt.Errorf("%s: the result names the stage %s, not the attempt's %s", t, res.Dir, st.Dir()))
	}
	sums, err := lake.NewStage(d.store, d.spec.Output.Summaries, d.job, name, t.Attempt)
	if err != nil {
		return task.Fatal(err)
	}
	if res.SummaryDir != sums.Dir() {
		return task.Fatal(fmt.Errorf("%s: the result names the summaries' stage %s, not the attempt's %s", t, res.SummaryDir, sums.Dir()))
	}
	return nil
}

// under reports whether p names something strictly inside directory dir, with no empty,
// "." or ".." segment after it.
func under(dir, p string) bool {
	rest, ok := strings.CutPrefix(p, strings.TrimSuffix(dir, "/")+"/")
	if !ok {
		return false
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
