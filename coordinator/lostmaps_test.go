package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// fakeCluster is an executor whose tasks run in this process (worker.RunMap, RunReduce) on
// simulated workers: a map attempt runs with the data dir and shuffle address of the
// worker it is placed on, so its output names that worker, as on a real cluster; a reducer
// reads through a fetcher for which a worker marked dead is unreachable, as a fetch from a
// dead worker fails. It answers the driver's questions a Scheduler answers: which workers
// were declared down (workersDown) and what map outputs the workers report holding
// (MapOutputsHeld).
type fakeCluster struct {
	spec  *jobs.Spec
	store objstore.Store
	dir   string

	mu sync.Mutex // guards the fields below
	// workers are the shuffle addresses; dead ones get no map attempt and fail fetches.
	workers []string
	dead    map[string]bool
	placed  int
	// started are the map attempts started, in order; onMap, if set, runs before each
	// (outside mu) and may block.
	started []task.Map
	onMap   func(task.Map)
	// wrote is, by map task, the worker that holds its latest output.
	wrote map[int]string
	// deadFetches counts the fetches tried from dead workers.
	deadFetches int
	// held is what MapOutputsHeld reports; unreported holders are waited for until its ctx
	// ends.
	held     map[string][]task.HeldOutput
	reported map[string]bool
	// downs, downSeq, downWake are the workers declared down, as the Scheduler keeps them.
	downs    []workerDown
	downSeq  uint64
	downWake chan struct{}
}

func newFakeCluster(t *testing.T, spec *jobs.Spec, workers ...string) *fakeCluster {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCluster{spec: spec, store: store, dir: t.TempDir(), workers: workers, dead: map[string]bool{},
		downWake: make(chan struct{}), reported: map[string]bool{}, held: map[string][]task.HeldOutput{}, wrote: map[int]string{}}
}

func (f *fakeCluster) env(addr string) worker.Env {
	return worker.Env{DataDir: filepath.Join(f.dir, strings.ReplaceAll(addr, ":", "_")), Store: f.store, Fetcher: f, ShuffleAddr: addr}
}

func (f *fakeCluster) Map(ctx context.Context, _ json.RawMessage, t task.Map) (task.MapResult, error) {
	f.mu.Lock()
	hook := f.onMap
	f.mu.Unlock()
	if hook != nil {
		hook(t)
	}
	f.mu.Lock()
	f.started = append(f.started, t)
	var addr string
	for addr == "" || f.dead[addr] {
		addr = f.workers[f.placed%len(f.workers)]
		f.placed++
	}
	f.mu.Unlock()
	res, err := worker.RunMap(ctx, f.spec, f.env(addr), t)
	if err == nil {
		f.mu.Lock()
		f.wrote[t.Index] = addr
		f.mu.Unlock()
	}
	return res, err
}

// outputsOn returns the map tasks whose latest outputs worker addr holds.
func (f *fakeCluster) outputsOn(addr string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for i, w := range f.wrote {
		if w == addr {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeCluster) Reduce(ctx context.Context, _ json.RawMessage, t task.Reduce) (task.ReduceResult, error) {
	return worker.RunReduce(ctx, f.spec, f.env("reducer"), t)
}

func (f *fakeCluster) Slots() int { return 4 }

// Fetch reads a map output from its worker's data dir, unless the worker is dead.
func (f *fakeCluster) Fetch(ctx context.Context, loc shuffle.Location, reducer int) (io.ReadCloser, shuffle.Segment, error) {
	f.mu.Lock()
	dead := f.dead[loc.Worker]
	if dead {
		f.deadFetches++
	}
	f.mu.Unlock()
	if dead {
		return nil, shuffle.Segment{}, fmt.Errorf("%w: worker %s: connection refused", shuffle.ErrFetch, loc.Worker)
	}
	return shuffle.LocalFetcher{}.Fetch(ctx, loc, reducer)
}

// kill marks worker addr dead and declares it down, as gossip does.
func (f *fakeCluster) kill(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead[addr] = true
	f.downSeq++
	f.downs = append(f.downs, workerDown{seq: f.downSeq, name: "worker-" + addr, shuffle: addr, at: time.Now()})
	close(f.downWake)
	f.downWake = make(chan struct{})
}

func (f *fakeCluster) workersDown(after uint64) ([]workerDown, uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []workerDown
	for _, d := range f.downs {
		if d.seq > after {
			out = append(out, d)
		}
	}
	return out, f.downSeq, f.downWake
}

func (f *fakeCluster) MapOutputsHeld(ctx context.Context, job string, holders []string) (map[string][]task.HeldOutput, []string) {
	f.mu.Lock()
	var missing []string
	for _, h := range holders {
		if !f.reported[h] {
			missing = append(missing, h)
		}
	}
	held := map[string][]task.HeldOutput{}
	for w, outs := range f.held {
		for _, o := range outs {
			if o.Job == job {
				held[w] = append(held[w], o)
			}
		}
	}
	f.mu.Unlock()
	if len(missing) > 0 {
		<-ctx.Done() // as the Scheduler: wait for them until the window closes
	}
	return held, missing
}

// rerunAttempts returns the map tasks whose attempts numbered above from started.
func (f *fakeCluster) rerunAttempts(from int) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, t := range f.started {
		if t.Attempt > from {
			out = append(out, t.Index)
		}
	}
	slices.Sort(out)
	return out
}

// lostMapsJob writes 240 tiny records cut into 1 KiB splits (about ten map tasks) and a
// job over them with two reducers, writing under dir/name.
func lostMapsJob(t *testing.T, dir, name string) *jobs.Spec {
	t.Helper()
	in := filepath.Join(dir, "in.csv")
	if _, err := os.Stat(in); err != nil {
		var b strings.Builder
		b.WriteString(tinyHeader)
		for i := 1; i <= 240; i++ {
			b.WriteString(tinyRow(i))
		}
		if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return writeSpec(t, out, jobDef{name: "lost", schemas: tinySchema, split: "1KiB", reducers: 2,
		inputs:  []inputDef{{name: "tiny", path: in, schema: "tiny"}},
		parquet: filepath.Join(out, "requests"), rejects: filepath.Join(out, "rejects")})
}

// referenceOutput runs spec on a fault-free fake cluster and returns its output's hashes.
func referenceOutput(t *testing.T, spec *jobs.Spec) map[string]string {
	t.Helper()
	f := newFakeCluster(t, spec, "w1:1", "w2:1")
	if _, err := RunJob(context.Background(), spec, f, NewJobID(spec.Name, time.Now()), RunOptions{Store: f.store}); err != nil {
		t.Fatal(err)
	}
	return hashOutput(t, spec.Output.Parquet, spec.Output.Summaries)
}

func sameOutput(t *testing.T, spec *jobs.Spec, want map[string]string) {
	t.Helper()
	got := hashOutput(t, spec.Output.Parquet, spec.Output.Summaries)
	if len(got) == 0 || !maps.Equal(got, want) {
		t.Errorf("output differs from the fault-free run's:\ngot  %v\nwant %v", got, want)
	}
}

// A worker declared down in the map phase has the accepted outputs it held re-run at once:
// no reducer ever tries to fetch from it. Before, they ran again only once the reducers
// had failed to read them, each failure a lost reduce attempt.
func TestDownWorkerOutputsRerunAtOnce(t *testing.T) {
	dir := t.TempDir()
	want := referenceOutput(t, lostMapsJob(t, dir, "reference"))
	spec := lostMapsJob(t, dir, "faulty")
	f := newFakeCluster(t, spec, "w1:1", "w2:1")
	tracker := &Tracker{}
	var logs syncBuffer
	var once sync.Once
	var onW2 []int // the map tasks whose accepted outputs w2 held when it died
	f.onMap = func(m task.Map) {
		if m.Attempt != 1 || m.Index != tracker.Snapshot().MapsTotal-1 {
			return
		}
		// The last map task waits until every other one is accepted. Then w2 dies, and this
		// attempt waits until the re-run of w2's outputs has begun: the map phase cannot
		// end, nor a reducer start, before it.
		once.Do(func() {
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
				if p := tracker.Snapshot(); p.MapsDone == p.MapsTotal-1 {
					break
				}
				if time.Now().After(deadline) {
					t.Error("the other map tasks were not accepted within a minute")
					return
				}
			}
			onW2 = f.outputsOn("w2:1")
			f.kill("w2:1")
			rerun := func() bool {
				return slices.ContainsFunc(f.rerunAttempts(1), func(i int) bool { return slices.Contains(onW2, i) })
			}
			for deadline := time.Now().Add(time.Minute); !rerun(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Error("the down worker's outputs were not re-run within a minute")
					return
				}
			}
		})
	}
	res, err := RunJob(context.Background(), spec, f, NewJobID(spec.Name, time.Now()),
		RunOptions{Store: f.store, Tracker: tracker, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("job: %v", err)
	}
	if len(onW2) == 0 {
		t.Fatal("w2 held no accepted map output when it died: the test proves nothing")
	}
	// (A backup attempt of the last task, which a loaded machine may start, is no re-run.)
	last := res.MapTasks - 1
	if got := slices.DeleteFunc(f.rerunAttempts(1), func(i int) bool { return i == last }); !slices.Equal(got, onW2) {
		t.Errorf("re-run map tasks %v, want w2's %v", got, onW2)
	}
	if f.deadFetches != 0 {
		t.Errorf("reducers tried %d fetches from the dead worker", f.deadFetches)
	}
	if p := tracker.Snapshot(); p.MapsRerun != len(onW2) || res.Retries < len(onW2) {
		t.Errorf("progress counts %d maps re-run, the result %d retries; want %d", p.MapsRerun, res.Retries, len(onW2))
	}
	if !strings.Contains(logs.String(), "worker declared down; re-running the map tasks whose outputs it held") {
		t.Errorf("the re-run is not logged:\n%s", logs.String())
	}
	sameOutput(t, spec, want)
}

// heldOutputs is an inventory's entries for map tasks idx of job, all of attempt.
func heldOutputs(job string, idx []int, attempt int) []task.HeldOutput {
	var out []task.HeldOutput
	for _, i := range idx {
		out = append(out, task.HeldOutput{Job: job, Map: i, Attempt: attempt, Bytes: 1})
	}
	return out
}

// A resumed run re-adopts exactly the journaled map outputs whose workers report holding
// them, of the same attempt, and journals the others lost and runs them again in its map
// phase: the output of a worker that does not report (it died while the coordinator was
// down), and one its worker holds of another attempt. No reducer tries the dead worker.
// Before, every journaled output was kept on trust, and each missing one cost a reducer a
// failed fetch before it ran again.
func TestResumeReadoptsReportedOutputs(t *testing.T) {
	dir := t.TempDir()
	want := referenceOutput(t, lostMapsJob(t, dir, "reference"))
	spec := lostMapsJob(t, dir, "resumed")
	f := newFakeCluster(t, spec, "w1:1", "w2:1", "w3:1")
	ctx := context.Background()
	job := NewJobID(spec.Name, time.Now())
	plan, err := planJob(ctx, f.store, spec, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first run, before the coordinator died: every map task accepted at attempt 1.
	accepted := map[int]task.MapResult{}
	for i, m := range plan.Maps {
		m.Attempt = 1
		res, err := f.Map(ctx, nil, m)
		if err != nil {
			t.Fatal(err)
		}
		accepted[i] = res
	}
	w1, w2, w3 := f.outputsOn("w1:1"), f.outputsOn("w2:1"), f.outputsOn("w3:1")
	if len(w2) == 0 || len(w3) == 0 {
		t.Fatalf("outputs on w1 %v, w2 %v, w3 %v: the test needs some on each", w1, w2, w3)
	}
	// After the restart: w1 reports its outputs; w2 too, but its file of one task is of a
	// later attempt than the journaled one; w3 died and reports nothing.
	f.held["w1:1"] = heldOutputs(job, w1, 1)
	f.held["w2:1"] = heldOutputs(job, w2, 1)
	f.held["w2:1"][0].Attempt = 2
	f.held["w3:1"] = heldOutputs("another-job", w3, 1)
	f.reported["w1:1"], f.reported["w2:1"] = true, true
	f.dead["w3:1"] = true
	f.started = nil
	wantRerun := append([]int{w2[0]}, w3...)
	slices.Sort(wantRerun)

	jd, err := journal.Open(ctx, journal.Config{Location: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	j, err := jd.Create(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := wireSpec(spec)
	if err := j.Append(ctx, &journal.Spec{Job: job, Name: spec.Name, Spec: wire}, journal.Sync); err != nil {
		t.Fatal(err)
	}
	jj := &jobJournal{j: j, log: slog.New(slog.DiscardHandler)}
	rp := &resumePoint{plan: plan, maps: accepted, reduces: map[int]task.ReduceResult{}, attemptBase: attemptsPerRun,
		resumed: 2, adoptWait: 50 * time.Millisecond}
	tracker := &Tracker{}
	if _, err := RunJob(ctx, spec, f, job, RunOptions{Store: f.store, Tracker: tracker, journal: jj, resume: rp}); err != nil {
		t.Fatalf("resumed job: %v", err)
	}
	jj.finish(&Result{Status: Succeeded})

	if got := f.rerunAttempts(attemptsPerRun); !slices.Equal(got, wantRerun) || len(f.started) != len(wantRerun) {
		t.Errorf("the resumed run ran map tasks %v (all attempts: %d), want %v, each once", got, len(f.started), wantRerun)
	}
	if f.deadFetches != 0 {
		t.Errorf("reducers tried %d fetches from the dead worker", f.deadFetches)
	}
	if p := tracker.Snapshot(); p.MapsReadopted != len(plan.Maps)-len(wantRerun) || p.MapsRerun != len(wantRerun) {
		t.Errorf("progress: %d maps re-adopted, %d re-run; want %d and %d", p.MapsReadopted, p.MapsRerun, len(plan.Maps)-len(wantRerun), len(wantRerun))
	}
	recs, err := jd.Replay(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	var lost []int
	for _, r := range recs {
		if l, ok := r.(*journal.MapLost); ok {
			lost = append(lost, l.Map)
			if l.Attempt != 1 || !strings.Contains(l.Reason, "after the restart") {
				t.Errorf("journaled loss %+v", l)
			}
		}
	}
	slices.Sort(lost)
	if !slices.Equal(lost, wantRerun) {
		t.Errorf("journaled lost map outputs %v, want %v", lost, wantRerun)
	}
	sameOutput(t, spec, want)
}

// readopt keeps every journaled map attempt, asking no worker, once no reducer is left to
// read their outputs (the commit needs only their counts and rejects).
func TestReadoptNotNeededAfterReduce(t *testing.T) {
	f := newFakeCluster(t, &jobs.Spec{Reducers: 2}, "w1:1")
	maps := map[int]task.MapResult{0: {Index: 0, Attempt: 1, Output: shuffle.Location{Worker: "w1:1"}}}
	d := &driver{exec: f, spec: f.spec, job: "j", prog: &Tracker{}, log: slog.New(slog.DiscardHandler),
		from: &resumePoint{maps: maps, reduces: map[int]task.ReduceResult{0: {}, 1: {}}, adoptWait: time.Hour}}
	done := make(chan map[int]task.MapResult, 1)
	go func() { done <- d.readopt(context.Background()) }()
	select {
	case kept := <-done:
		if len(kept) != 1 {
			t.Errorf("kept %v, want the journaled map attempt", kept)
		}
	case <-time.After(time.Minute):
		t.Fatal("readopt waited for an inventory no reducer needs")
	}
}

func TestMapOutputsNeeded(t *testing.T) {
	for _, tc := range []struct {
		phase       State
		done, total int
		want        bool
	}{
		{Planning, 0, 2, false},
		{Mapping, 0, 2, true},
		{Checking, 0, 2, true},
		{Reducing, 1, 2, true},
		{Reducing, 2, 2, false},
		{Mapping, 2, 2, false}, // a resumed run whose reducers were all accepted
		{Committing, 2, 2, false},
		{Publishing, 2, 2, false},
	} {
		d := &driver{prog: &Tracker{}}
		d.prog.update(func(p *Progress) { p.Phase, p.ReducesDone, p.ReducesTotal = tc.phase, tc.done, tc.total })
		if got := d.mapOutputsNeeded(); got != tc.want {
			t.Errorf("in %s with %d of %d reducers accepted: needed %v, want %v", tc.phase, tc.done, tc.total, got, tc.want)
		}
	}
}

// The scheduler asks each worker once for its inventory, and a worker gossip has not
// registered to rejoin; MapOutputsHeld waits for the holders it is asked about and no
// longer, trusts gossip's address over an inventory's, reads an inventory of an unknown
// version as holding nothing, and forgets a worker's inventory when the worker goes down.
func TestSchedulerInventory(t *testing.T) {
	s := NewScheduler(time.Minute, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Shutdown)
	s.WorkerUp(workerSlot{Name: "w1", Shuffle: "w1:1", Slots: 1})
	s.WorkerUp(workerSlot{Name: "w4", Shuffle: "w4:1", Slots: 1})
	if ask, rejoin := s.Inventory("w1", nil); !ask || rejoin {
		t.Errorf("registered worker without an inventory: ask %v rejoin %v, want ask", ask, rejoin)
	}
	if ask, rejoin := s.Inventory("w2", nil); !ask || !rejoin {
		t.Errorf("unregistered worker: ask %v rejoin %v, want both", ask, rejoin)
	}

	type answer struct {
		held    map[string][]task.HeldOutput
		missing []string
	}
	got := make(chan answer, 1)
	go func() {
		held, missing := s.MapOutputsHeld(context.Background(), "j", []string{"w1:1", "w2:1"})
		got <- answer{held, missing}
	}()
	s.Inventory("w1", &task.Inventory{Version: task.InventoryVersion, Shuffle: "w1:1",
		Outputs: []task.HeldOutput{{Job: "j", Map: 0, Attempt: 1}, {Job: "other", Map: 0, Attempt: 1}}})
	select {
	case a := <-got:
		t.Fatalf("MapOutputsHeld returned %+v before w2 reported", a)
	case <-time.After(50 * time.Millisecond): // it must still be waiting; a late return fails below
	}
	// w2 reports before gossip registers it, at the address its inventory names.
	if ask, _ := s.Inventory("w2", &task.Inventory{Version: task.InventoryVersion, Shuffle: "w2:1", Outputs: []task.HeldOutput{}}); ask {
		t.Error("asked again for an inventory just received")
	}
	a := <-got
	if len(a.missing) != 0 || len(a.held["w1:1"]) != 1 || a.held["w1:1"][0] != (task.HeldOutput{Job: "j", Map: 0, Attempt: 1}) || len(a.held["w2:1"]) != 0 {
		t.Errorf("held %v, missing %v; want w1's map 0 attempt 1 of job j, none missing", a.held, a.missing)
	}

	s.Inventory("w4", &task.Inventory{Version: task.InventoryVersion, Shuffle: "elsewhere:1", Outputs: heldOutputs("j", []int{1}, 1)})
	s.Inventory("w5", &task.Inventory{Version: task.InventoryVersion + 1, Shuffle: "w5:1", Outputs: heldOutputs("j", []int{2}, 1)})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	held, missing := s.MapOutputsHeld(done, "j", []string{"w4:1", "elsewhere:1", "w5:1"})
	if !slices.Equal(missing, []string{"w4:1", "elsewhere:1"}) || len(held["w5:1"]) != 0 || len(held["elsewhere:1"]) != 0 {
		t.Errorf("held %v, missing %v; want w4's inventory (at another address than gossip's) ignored, w5's (unknown version) empty", held, missing)
	}

	s.WorkerDown("w1", "declared dead")
	if ask, _ := s.Inventory("w1", nil); !ask {
		t.Error("a worker declared down and back is not asked for its inventory again")
	}
	if _, missing := s.MapOutputsHeld(done, "j", []string{"w1:1"}); len(missing) != 1 {
		t.Errorf("the inventory of a worker declared down still counts (missing %v)", missing)
	}
}

// workersDown numbers the workers declared down, so that a driver hears of each once and
// only of those declared down after it began to watch.
func TestSchedulerWorkersDown(t *testing.T) {
	s := NewScheduler(time.Minute, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Shutdown)
	s.WorkerUp(workerSlot{Name: "w1", Shuffle: "w1:1", Slots: 1})
	s.WorkerUp(workerSlot{Name: "w2", Shuffle: "w2:1", Slots: 1})
	s.WorkerDown("w1", "declared dead")
	_, seq, more := s.workersDown(math.MaxUint64)
	s.WorkerDown("w9", "never registered") // no shuffle address known: nothing to re-run
	s.WorkerDown("w2", "declared dead")
	select {
	case <-more:
	default:
		t.Fatal("a worker declared down did not wake the watchers")
	}
	downs, last, _ := s.workersDown(seq)
	if len(downs) != 1 || downs[0].name != "w2" || downs[0].shuffle != "w2:1" {
		t.Errorf("workers down after the watch began: %+v, want w2 alone", downs)
	}
	if again, _, _ := s.workersDown(last); len(again) != 0 {
		t.Errorf("heard again of %+v", again)
	}
}

// Over the API: the coordinator asks a worker it has no inventory from for one, and one that
// gossip has not registered to rejoin; it takes the inventory (the field is part of the
// request it accepts) and stops asking.
func TestHeartbeatAsksForInventory(t *testing.T) {
	s := newTestServer(t, nil)
	heartbeat := func(body string) task.HeartbeatResponse {
		t.Helper()
		code, b := apiCall(t, s, http.MethodPost, task.PathHeartbeat, "Bearer secret", "application/json", body)
		var resp task.HeartbeatResponse
		if err := json.Unmarshal([]byte(b), &resp); code != http.StatusOK || err != nil {
			t.Fatalf("heartbeat %s: %d %s (%v)", body, code, b, err)
		}
		return resp
	}
	if r := heartbeat(`{"worker":"w1","running":[]}`); !r.ReportHeld || !r.Rejoin {
		t.Errorf("a worker unknown to gossip, without an inventory: %+v, want report_held and rejoin", r)
	}
	r := heartbeat(`{"worker":"w1","running":[],"held":{"version":1,"shuffle":"127.0.0.1:7070","outputs":[{"job":"j","map":0,"attempt":1,"bytes":10}]}}`)
	if r.ReportHeld {
		t.Errorf("asked again for the inventory just sent: %+v", r)
	}
	held, missing := s.Scheduler().MapOutputsHeld(context.Background(), "j", []string{"127.0.0.1:7070"})
	if len(missing) != 0 || len(held["127.0.0.1:7070"]) != 1 {
		t.Errorf("the scheduler holds %v (missing %v), want the reported output", held, missing)
	}
}
