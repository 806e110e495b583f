package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/socrata"
)

// memWatermarks is a socrata.WatermarkStore in memory with PGWatermarks' compare-and-set.
type memWatermarks struct {
	mu       sync.Mutex // guards m and advances
	m        map[string]socrata.Watermark
	advances int // advances that moved a watermark
}

func (s *memWatermarks) Get(_ context.Context, source string) (socrata.Watermark, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[source], nil
}

func (s *memWatermarks) Advance(_ context.Context, source string, from, to socrata.Watermark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cur := s.m[source]; cur {
	case to:
		return nil
	case from:
		s.m[source] = to
		s.advances++
		return nil
	default:
		return fmt.Errorf("watermark is %v, not %v: %w", cur, from, socrata.ErrWatermarkMoved)
	}
}

// TestReplayPulls: a resumed run takes over the batches its journal names — found where
// they were stored or consumed, unchanged — and brings the watermark to the end of the last
// one exactly once; a batch that is gone or changed, or a watermark another pull moved,
// fails the run with a message that says which.
func TestReplayPulls(t *testing.T) {
	ctx := context.Background()
	wms := []socrata.Watermark{{}, {UpdatedAt: "2024-06-01T00:00:01.000Z", ID: "row-a"},
		{UpdatedAt: "2024-06-01T00:00:02.000Z", ID: "row-b"}, {UpdatedAt: "2024-06-01T00:00:03.000Z", ID: "row-c"}}
	for _, tc := range []struct {
		name    string
		batches int                          // journaled (0: 2)
		at      socrata.Watermark            // the watermark the crash left
		change  func(raw string, b []string) // what happened to the batches meanwhile
		wantErr string
		want    socrata.Watermark
	}{
		{name: "the last advance was lost", at: wms[1], want: wms[2]},
		{name: "the last advance was done", at: wms[2], want: wms[2]},
		{name: "the first advance was lost", batches: 1, at: wms[0], want: wms[1]},
		{name: "another pull moved the watermark", at: wms[3], wantErr: "watermark moved"},
		{name: "a batch was consumed", at: wms[2], want: wms[2], change: func(raw string, b []string) {
			move(t, b[0], filepath.Join(raw, "consumed", filepath.Base(b[0])))
		}},
		{name: "a batch is gone", at: wms[2], wantErr: "cannot be read", change: func(raw string, b []string) {
			move(t, b[1], filepath.Join(raw, "elsewhere"))
		}},
		{name: "a batch changed", at: wms[2], wantErr: "changed since it was pulled", change: func(raw string, b []string) {
			if err := objstore.WriteAll(ctx, localRouter(t), b[1], []byte(`[{"other":1}]`)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := t.TempDir()
			store := localRouter(t)
			var recs []journal.SourceBatch
			var names []string
			n := tc.batches
			if n == 0 {
				n = 2
			}
			for i := range n {
				body := []byte(fmt.Sprintf(`[{"n":%d}]`, i))
				name := filepath.Join(raw, fmt.Sprintf("batch-%d.json", i))
				if err := objstore.WriteAll(ctx, store, name, body); err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(body)
				r, _ := json.Marshal(batchRange{From: wms[i], To: wms[i+1]})
				recs = append(recs, journal.SourceBatch{Source: "nyc_api", Object: name, Records: 10, Bytes: int64(len(body)),
					SHA256: hex.EncodeToString(sum[:]), Watermark: r})
				names = append(names, name)
			}
			if tc.change != nil {
				tc.change(raw, names)
			}
			wm := &memWatermarks{m: map[string]socrata.Watermark{}}
			if !tc.at.IsZero() {
				wm.m["nyc_api"] = tc.at
			}
			d := &driver{store: store, log: slog.New(slog.DiscardHandler), res: &Result{},
				spec: &jobs.Spec{Sources: map[string]*jobs.SourceSpec{"nyc_api": {Name: "nyc_api", Raw: raw}}},
				from: &resumePoint{batches: recs}}
			pulls, err := d.replayPulls(ctx, wm)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := wm.m["nyc_api"]; got != tc.want {
				t.Errorf("watermark %v, want %v", got, tc.want)
			}
			advances := wm.advances
			if _, err := d.replayPulls(ctx, wm); err != nil || wm.advances != advances {
				t.Errorf("a second replay (a second restart): %v, %d more advances; want none", err, wm.advances-advances)
			}
			if p := pulls["nyc_api"]; p == nil || p.Records != int64(10*n) || p.Batches != n || p.Watermark != wms[n].String() || p.Status != pulledBeforeRestart {
				t.Errorf("pull %+v, want %d records in %d batches up to %v", p, 10*n, n, wms[n])
			}
		})
	}
}

func localRouter(t *testing.T) objstore.Store {
	t.Helper()
	r, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func move(t *testing.T, from, to string) {
	t.Helper()
	if err := localRouter(t).Rename(context.Background(), from, to); err != nil {
		t.Fatal(err)
	}
}

// TestReplayJobBatches: replayJob keeps the journaled source batches in pull order, with
// or without a plan after them (a pull the crash cut short, or one that had ended).
func TestReplayJobBatches(t *testing.T) {
	spec := &journal.Spec{Job: "d-1", Name: "d", Spec: json.RawMessage(`{}`)}
	b1 := &journal.SourceBatch{Source: "a", Object: "raw/batch-1.json", Records: 3}
	b2 := &journal.SourceBatch{Source: "b", Object: "raw/batch-2.json", Records: 4}
	plan, _ := json.Marshal(&Plan{})
	for _, tc := range []struct {
		name string
		recs []journal.Record
		plan bool
	}{
		{"mid pull", []journal.Record{spec, &journal.Phase{State: Pulling.String()}, b1, b2}, false},
		{"pulled and planned", []journal.Record{spec, b1, b2, &journal.Plan{Plan: plan}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rp, err := replayJob(tc.recs, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(rp.batches) != 2 || rp.batches[0].Object != b1.Object || rp.batches[1].Object != b2.Object || (rp.plan != nil) != tc.plan {
				t.Errorf("batches %+v, plan %v", rp.batches, rp.plan)
			}
		})
	}
}
