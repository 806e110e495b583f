package coordinator

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
	"github.com/ireports/ireports/worker"
)

// TestStateValues pins every State's number, name and API words. The numbers are what a
// journal stores: a change here breaks the journals already written, so this test must
// never be edited to follow a renumbering. A state added later gets a new row at the end.
func TestStateValues(t *testing.T) {
	for _, tc := range []struct {
		s             State
		num           uint8
		name          string
		status, phase string // the API's words (JobStatus "state", "progress"."phase")
		terminal      bool
	}{
		{Queued, 0, "queued", "running", "", false},
		{Pulling, 1, "pull", "running", "pull", false},
		{Planning, 2, "plan", "running", "plan", false},
		{Mapping, 3, "map", "running", "map", false},
		{Checking, 4, "check", "running", "check", false},
		{Reducing, 5, "reduce", "running", "reduce", false},
		{Committing, 6, "commit", "running", "commit", false},
		{Publishing, 7, "publish", "running", "publish", false},
		{Consuming, 8, "consume", "running", "consume", false},
		{CleaningUp, 9, "cleanup", "running", "cleanup", false},
		{Succeeded, 10, "succeeded", "succeeded", "done", true},
		{SourceUnavailable, 11, "source unavailable", "source unavailable", "done", true},
		{Failed, 12, "failed", "failed", "done", true},
		{Cancelled, 13, "cancelled", "cancelled", "done", true},
		{Interrupted, 14, "interrupted", "running", "interrupted", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if uint8(tc.s) != tc.num {
				t.Errorf("%s is %d, want %d: states are never renumbered", tc.name, uint8(tc.s), tc.num)
			}
			if got := tc.s.String(); got != tc.name {
				t.Errorf("String() = %q, want %q", got, tc.name)
			}
			if got := tc.s.Status(); got != tc.status {
				t.Errorf("Status() = %q, want %q", got, tc.status)
			}
			if got := tc.s.PhaseName(); got != tc.phase {
				t.Errorf("PhaseName() = %q, want %q", got, tc.phase)
			}
			if got := tc.s.Terminal(); got != tc.terminal {
				t.Errorf("Terminal() = %v, want %v", got, tc.terminal)
			}
			if back, err := ParseState(tc.name); err != nil || back != tc.s {
				t.Errorf("ParseState(%q) = %v, %v", tc.name, back, err)
			}
		})
	}
	if n := int(numStates); n != 15 {
		t.Errorf("%d states; a new one needs a row above", n)
	}
}

// TestStateOrder: the running states are declared in the order the driver passes through
// them, and every terminal state comes after them all.
func TestStateOrder(t *testing.T) {
	life := []State{Queued, Pulling, Planning, Mapping, Checking, Reducing, Committing, Publishing, Consuming, CleaningUp}
	for i := 1; i < len(life); i++ {
		if life[i-1] >= life[i] {
			t.Errorf("%s (%d) is not before %s (%d)", life[i-1], life[i-1], life[i], life[i])
		}
	}
	for _, s := range []State{Succeeded, SourceUnavailable, Failed, Cancelled} {
		if s <= CleaningUp {
			t.Errorf("outcome %s (%d) is not after the running states", s, s)
		}
	}
}

// TestStateText: a State round-trips through its text form (what a journal stores); an
// unknown name or number is an error, not a silent zero.
func TestStateText(t *testing.T) {
	for s := Queued; s < numStates; s++ {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%d: %v", s, err)
		}
		if want := `"` + s.String() + `"`; string(b) != want {
			t.Errorf("%s encodes as %s, want %s", s, b, want)
		}
		var back State
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%s decodes as %v, %v", b, back, err)
		}
	}
	var s State
	if err := json.Unmarshal([]byte(`"exploded"`), &s); err == nil || !strings.Contains(err.Error(), `"exploded"`) {
		t.Errorf("an unknown name: %v, want an error naming it", err)
	}
	if _, err := json.Marshal(State(200)); err == nil {
		t.Error("State(200) encoded without an error")
	}
	if got := State(200).String(); got != "State(200)" {
		t.Errorf("State(200).String() = %q", got)
	}
	// A Result's status is the outcome's name, as the API has always written it.
	b, err := json.Marshal(Result{Status: SourceUnavailable})
	if err != nil || !strings.Contains(string(b), `"status":"source unavailable"`) {
		t.Errorf("result encodes as %s (%v), want status \"source unavailable\"", b, err)
	}
}

// TestJobStatusJSON: a JobStatus encodes with the API's words — "state" running or the
// outcome, "phase" the phase, "" while queued, "done" once ended — and decodes back to the
// same States; what an older coordinator wrote decodes too, and nonsense is refused.
func TestJobStatusJSON(t *testing.T) {
	for _, tc := range []struct {
		name          string
		state, phase  State
		status, wireP string
	}{
		{"queued", Queued, Queued, "running", ""},
		{"mapping", Mapping, Mapping, "running", "map"},
		{"publishing", Publishing, Publishing, "running", "publish"},
		{"succeeded", Succeeded, Succeeded, "succeeded", "done"},
		{"source unavailable", SourceUnavailable, SourceUnavailable, "source unavailable", "done"},
		{"failed while planning", Failed, Planning, "failed", "plan"},
		{"refused before planning", Failed, Queued, "failed", ""},
		{"cancelled", Cancelled, Cancelled, "cancelled", "done"},
		{"interrupted", Interrupted, Interrupted, "running", "interrupted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := JobStatus{ID: "j-1", Name: "n", State: tc.state, Progress: Progress{Phase: tc.phase, MapsDone: 3}}
			b, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			var wire struct {
				State    string `json:"state"`
				Progress struct {
					Phase    string `json:"phase"`
					MapsDone int    `json:"maps_done"`
				} `json:"progress"`
			}
			if err := json.Unmarshal(b, &wire); err != nil {
				t.Fatal(err)
			}
			if wire.State != tc.status || wire.Progress.Phase != tc.wireP || wire.Progress.MapsDone != 3 {
				t.Errorf("encodes as %s; want state %q, phase %q, maps_done 3", b, tc.status, tc.wireP)
			}
			var back JobStatus
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.State != tc.state || back.Progress.Phase != tc.phase || back.Progress.MapsDone != 3 || back.ID != "j-1" {
				t.Errorf("decodes as state %s, phase %s, %+v; want %s, %s", back.State, back.Progress.Phase, back, tc.state, tc.phase)
			}
		})
	}

	// An older coordinator could answer "running" with phase "done" in a run's last instant.
	var j JobStatus
	if err := json.Unmarshal([]byte(`{"id":"j","state":"running","progress":{"phase":"done"}}`), &j); err != nil || j.State != CleaningUp || j.State.Terminal() {
		t.Errorf(`"running" with "done": %s, %v; want cleanup, still running`, j.State, err)
	}
	for _, bad := range []string{
		`{"id":"j","state":"exploded","progress":{"phase":"map"}}`,
		`{"id":"j","state":"map","progress":{"phase":"map"}}`,
		`{"id":"j","state":"running","progress":{"phase":"succeeded"}}`,
		`{"id":"j","state":"running","progress":{"phase":"queued"}}`,
		`{"id":"j","state":"failed","progress":{"phase":"teleport"}}`,
	} {
		if err := json.Unmarshal([]byte(bad), &j); err == nil || !strings.Contains(err.Error(), `job "j"`) {
			t.Errorf("%s: %v, want an error naming the job and the word", bad, err)
		}
	}
}

// TestStatusShowsTypedState: a job's typed state reaches the API (in its words, decoded back
// by the Client), the status page, and the job history a restarted coordinator reads.
func TestStatusShowsTypedState(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, func(c *ServerConfig) { c.DataDir = dir })
	now := time.Now().UTC()
	mapping := &Tracker{}
	mapping.update(func(p *Progress) { p.Phase, p.MapsDone, p.MapsTotal, p.Started = Mapping, 2, 8, now })
	ending := &Tracker{} // the driver has its outcome; the server has not recorded it yet
	ending.update(func(p *Progress) { p.Phase = Succeeded })
	failed := &JobStatus{ID: "failed-1", Name: "n", State: Failed, Submitted: now, Finished: &now,
		Progress: Progress{Phase: Planning}, Result: &Result{Job: "failed-1", Status: Failed, Error: "no input"}, tracker: &Tracker{}}
	s.mu.Lock()
	s.jobs["mapping-1"] = &JobStatus{ID: "mapping-1", Name: "n", State: Queued, Submitted: now, tracker: mapping}
	s.jobs["ending-1"] = &JobStatus{ID: "ending-1", Name: "n", State: Queued, Submitted: now, tracker: ending}
	s.jobs["failed-1"] = failed
	s.order = append(s.order, "failed-1", "ending-1", "mapping-1")
	s.mu.Unlock()

	for _, tc := range []struct {
		id            string
		state, phase  State
		status, wireP string
	}{
		{"mapping-1", Mapping, Mapping, "running", "map"},
		{"ending-1", CleaningUp, CleaningUp, "running", "cleanup"},
		{"failed-1", Failed, Planning, "failed", "plan"},
	} {
		code, body := apiCall(t, s, http.MethodGet, task.PathJobs+"/"+tc.id, "Bearer secret", "", "")
		if want := `"state":"` + tc.status + `"`; code != http.StatusOK || !strings.Contains(body, want) || !strings.Contains(body, `"phase":"`+tc.wireP+`"`) {
			t.Errorf("GET %s: %d %s; want %s and phase %q", tc.id, code, body, want, tc.wireP)
		}
		j, err := (&Client{Base: s.APIAddr(), Token: "secret"}).Job(context.Background(), tc.id)
		if err != nil || j.State != tc.state || j.Progress.Phase != tc.phase {
			t.Errorf("Client.Job(%s): state %s, phase %s, %v; want %s, %s", tc.id, j.State, j.Progress.Phase, err, tc.state, tc.phase)
		}
	}
	if j, _ := s.Job("ending-1"); j.Result != nil || j.State.Terminal() {
		t.Errorf("a job whose result is not recorded shows %s", j.State)
	}

	code, page := apiCall(t, s, http.MethodGet, "/", "Basic "+basicCreds("", "secret"), "", "")
	for _, want := range []string{
		`<td class="running">running</td><td>map</td>`,
		`<td class="running">running</td><td>cleanup</td>`,
		`<td class="failed">failed</td><td>plan</td>`,
	} {
		if code != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("status page (%d) lacks %s", code, want)
		}
	}

	// The history: what this server writes, and what an older one wrote, read back typed.
	if err := writeJSONFile(filepath.Join(dir, "jobs", "failed-1.json"), *failed); err != nil {
		t.Fatal(err)
	}
	old := `{"id":"old-1","name":"n","state":"succeeded","submitted":"2026-01-02T03:04:05Z","finished":"2026-01-02T03:05:05Z",` +
		`"progress":{"phase":"done","maps_done":4,"maps_total":4,"reduces_done":1,"reduces_total":1,"bytes_done":10,"bytes_total":10,"records_done":2,"started":"2026-01-02T03:04:05Z"},` +
		`"result":{"job":"old-1","name":"n","status":"succeeded","records_in":2,"records_out":2,"rejected":0,"rejects_by_reason":{},"duplicates_removed":0,"groups":1,` +
		`"outputs":{"parquet":"/l","summaries":"/s","rejects":"/r"},"files":1,"bytes":10,"map_tasks":4,"reduce_tasks":1,"respeculated":0,"retries":0,"seconds":1}}`
	if err := os.WriteFile(filepath.Join(dir, "jobs", "old-1.json"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	again := newTestServer(t, func(c *ServerConfig) { c.DataDir = dir })
	for _, tc := range []struct {
		id           string
		state, phase State
	}{
		{"failed-1", Failed, Planning},
		{"old-1", Succeeded, Succeeded},
	} {
		j, ok := again.Job(tc.id)
		if !ok || j.State != tc.state || j.Progress.Phase != tc.phase || j.Result == nil || j.Result.Status != tc.state {
			t.Errorf("history %s reads back as %+v; want state %s, phase %s", tc.id, j, tc.state, tc.phase)
		}
	}
}

// stateRecorder runs tasks directly and notes the run's State at each attempt and the wire
// spec the driver passed with it.
type stateRecorder struct {
	directExecutor
	tracker *Tracker
	mu      sync.Mutex // guards seen and specs
	seen    []State
	specs   []json.RawMessage
}

func (e *stateRecorder) note(spec json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, e.tracker.Snapshot().Phase)
	e.specs = append(e.specs, spec)
}

func (e *stateRecorder) Map(ctx context.Context, spec json.RawMessage, t task.Map) (task.MapResult, error) {
	e.note(spec)
	return e.directExecutor.Map(ctx, spec, t)
}

func (e *stateRecorder) Reduce(ctx context.Context, spec json.RawMessage, t task.Reduce) (task.ReduceResult, error) {
	e.note(spec)
	return e.directExecutor.Reduce(ctx, spec, t)
}

// TestDriverStates: a run's attempts see the run Mapping, then Reducing, in that order; the
// run ends Succeeded in its tracker and result; the phase times keep their names (the chain
// check counts as map, consuming as commit); and every attempt got the job's spec as an
// argument, without the job file's text.
func TestDriverStates(t *testing.T) {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte(tinyHeader+tinyRow(1)+tinyRow(2)), 0o644)
	spec := writeSpec(t, dir, jobDef{schemas: tinySchema, ratio: 0.9, reducers: 2, inputs: []inputDef{{"tiny", in, "tiny", ""}},
		parquet: filepath.Join(dir, "lake"), rejects: filepath.Join(dir, "rejects")})
	if len(spec.Source) == 0 {
		t.Fatal("the parsed spec keeps no source text: the test cannot tell whether it is shipped")
	}
	tr := &Tracker{}
	exec := &stateRecorder{tracker: tr, directExecutor: directExecutor{spec: spec, slots: 1,
		env: worker.Env{DataDir: filepath.Join(dir, "data"), Fetcher: shuffle.LocalFetcher{}, Store: store}}}
	res, err := RunJob(context.Background(), spec, exec, "normalize-1", RunOptions{Store: store, Tracker: tr})
	if err != nil || res.Status != Succeeded {
		t.Fatalf("RunJob: %s, %v", res.Status, err)
	}
	if got := tr.Snapshot().Phase; got != Succeeded {
		t.Errorf("the tracker ends at %s, want succeeded", got)
	}
	want := []State{Mapping, Reducing, Reducing}
	if !slices.Equal(exec.seen, want) {
		t.Errorf("attempts saw the run in %v, want %v", exec.seen, want)
	}
	for _, p := range []string{"plan", "map", "reduce", "commit", "cleanup"} {
		if _, ok := res.PhaseSeconds[p]; !ok {
			t.Errorf("phase_seconds lacks %q: %v", p, res.PhaseSeconds)
		}
	}
	if len(res.PhaseSeconds) != 5 {
		t.Errorf("phase_seconds has other phases than plan, map, reduce, commit, cleanup: %v", res.PhaseSeconds)
	}
	for _, w := range exec.specs {
		var got jobs.Spec
		if err := json.Unmarshal(w, &got); err != nil || got.Name != spec.Name || len(got.Source) != 0 {
			t.Errorf("an attempt got spec %.80s… (%v): want the job %q without its source", w, err, spec.Name)
		}
	}
}
