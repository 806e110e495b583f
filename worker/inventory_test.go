package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// The inventory lists the attempt that last wrote each map output file this process
// wrote, with the file's size, and nothing whose file is gone; cleanJobs forgets the
// outputs of the jobs it deletes.
func TestInventory(t *testing.T) {
	dir := t.TempDir()
	d := &Daemon{cfg: Config{DataDir: dir, OrphanGrace: time.Hour}, log: slog.New(slog.DiscardHandler), env: Env{ShuffleAddr: "w1:7070"},
		running: map[string]context.CancelFunc{}, specs: map[string]*jobs.Spec{}, held: map[string]map[int]int{}}
	write := func(job string, m, attempt int, content string) {
		path, err := shuffle.MapOutputPath(dir, job, m)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		d.wrote(task.Map{Job: job, Index: m, Attempt: attempt})
	}
	write("job-a", 0, 1, "12345")
	write("job-a", 0, 1003, "1234567") // a later attempt replaced the file
	write("job-a", 2, 1, "x")
	write("job-b", 1, 2, "xy")
	os.Remove(filepath.Join(dir, "job-a", "map-000002.shuffle")) // gone: not held
	inv := d.inventory()
	want := []task.HeldOutput{{Job: "job-a", Map: 0, Attempt: 1003, Bytes: 7}, {Job: "job-b", Map: 1, Attempt: 2, Bytes: 2}}
	if inv.Version != task.InventoryVersion || inv.Shuffle != "w1:7070" || !equalHeld(inv.Outputs, want) {
		t.Errorf("inventory %+v, want version %d at w1:7070 holding %+v", inv, task.InventoryVersion, want)
	}

	d.cleanJobs([]string{"job-b"})
	if got := d.inventory().Outputs; !equalHeld(got, want[1:]) {
		t.Errorf("after job-a ended the inventory holds %+v, want %+v", got, want[1:])
	}
	if len(d.held["job-a"]) != 0 {
		t.Errorf("the worker still remembers job-a's outputs: %v", d.held)
	}
}

func equalHeld(a, b []task.HeldOutput) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fakeCoordinator is a coordinator's API for one worker, with the questions under the
// test's control: it hands out one map attempt, takes its result, and answers heartbeats
// with ReportHeld while ask is set and Rejoin while rejoin is.
type fakeCoordinator struct {
	assignment task.Assignment

	mu        sync.Mutex // guards the fields below
	handedOut bool
	completed *task.CompleteRequest
	ask       bool
	rejoin    bool
	// heartbeats are the heartbeat bodies received, as raw JSON objects.
	heartbeats []map[string]json.RawMessage
}

func (f *fakeCoordinator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case task.PathPoll:
		f.mu.Lock()
		out := []task.Assignment{}
		if !f.handedOut {
			f.handedOut = true
			out = append(out, f.assignment)
		}
		f.mu.Unlock()
		if len(out) == 0 {
			time.Sleep(100 * time.Millisecond) // a long poll that found nothing
		}
		json.NewEncoder(w).Encode(out)
	case task.PathComplete:
		var req task.CompleteRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.completed = &req
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case task.PathHeartbeat:
		var req map[string]json.RawMessage
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.heartbeats = append(f.heartbeats, req)
		resp := task.HeartbeatResponse{ActiveJobs: []string{f.assignment.JobID()}, ReportHeld: f.ask, Rejoin: f.rejoin}
		if _, sent := req["held"]; sent {
			f.ask = false
		}
		f.rejoin = false
		f.mu.Unlock()
		json.NewEncoder(w).Encode(resp)
	default:
		http.NotFound(w, r)
	}
}

// waitFor polls cond under f.mu until it holds, or fails t after a minute.
func (f *fakeCoordinator) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		f.mu.Lock()
		ok := cond()
		f.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}

// A real worker sends its inventory only when the coordinator asks for it (so a
// coordinator of a release that never asks is never sent a field it would refuse), and
// then lists the map output it wrote, of the attempt that wrote it; asked to rejoin, it
// joins its seeds again.
func TestHeartbeatReportsHeldWhenAsked(t *testing.T) {
	dir := t.TempDir()
	spec, err := jobs.Parse([]byte(mapJob), filepath.Join(dir, "inventory.job"))
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Join(mapHeader, ",") + "\n"
	input := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(input, []byte(header+goodRow), 0o644); err != nil {
		t.Fatal(err)
	}
	wire, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	m := task.Map{Job: "job-7", Index: 0, Attempt: 1002, File: input, Header: mapHeader, DataStart: int64(len(header)),
		Start: int64(len(header)), End: int64(len(header) + len(goodRow)), State: csvsplit.Outside, Reducers: 2}
	fake := &fakeCoordinator{assignment: task.Assignment{ID: "job-7/m-0-1002", Kind: task.KindMap, Map: &m, Spec: wire}}
	api := httptest.NewServer(fake)
	defer api.Close()
	coord, err := cluster.Join(cluster.Config{
		Name: "coordinator", Bind: "127.0.0.1:0", Insecure: true, Fast: true, Logger: slog.New(slog.DiscardHandler),
		Meta: cluster.Meta{Role: cluster.RoleCoordinator, API: strings.TrimPrefix(api.URL, "http://"), Version: version.Version(), Protocol: version.Protocol},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Shutdown()

	var logs syncBuffer
	cfg := LocalConfig()
	cfg.Join, cfg.Insecure, cfg.Token, cfg.DataDir, cfg.Slots = []string{coord.Addr()}, true, "secret", filepath.Join(dir, "data"), 1
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	d, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())

	fake.waitFor(t, "the map attempt's result", func() bool { return fake.completed != nil && len(fake.heartbeats) >= 2 })
	fake.mu.Lock()
	if fake.completed.Map == nil {
		t.Fatalf("the map attempt failed: %+v", fake.completed.Failure)
	}
	addr := fake.completed.Map.Output.Worker
	for _, hb := range fake.heartbeats {
		if _, sent := hb["held"]; sent {
			t.Errorf("a heartbeat carried an inventory nobody asked for: %v", hb)
		}
	}
	fake.ask, fake.rejoin = true, true
	asked := len(fake.heartbeats)
	fake.mu.Unlock()

	var inv *task.Inventory
	fake.waitFor(t, "a heartbeat with the inventory", func() bool {
		for _, hb := range fake.heartbeats[asked:] {
			if raw, sent := hb["held"]; sent {
				inv = new(task.Inventory)
				if err := json.Unmarshal(raw, inv); err != nil {
					t.Fatalf("inventory %s: %v", raw, err)
				}
				return true
			}
		}
		return false
	})
	path, _ := shuffle.MapOutputPath(cfg.DataDir, "job-7", 0)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []task.HeldOutput{{Job: "job-7", Map: 0, Attempt: 1002, Bytes: st.Size()}}
	if inv.Version != task.InventoryVersion || inv.Shuffle != addr || !equalHeld(inv.Outputs, want) {
		t.Errorf("inventory %+v, want version %d at %s holding %+v", inv, task.InventoryVersion, addr, want)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), "joined the cluster again"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("asked to rejoin, the worker did not:\n%s", logs.String())
		}
	}
}
