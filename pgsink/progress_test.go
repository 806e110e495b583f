package pgsink

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// TestPublishProgress publishes synthetic groups with a progress callback: one call per
// group, counting up to every group and every row; a retried attempt counts again from
// the start.
func TestPublishProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server; skipped under -short")
	}
	pg := testenv.Postgres(t)
	ctx := context.Background()
	keys := make([]record.Key, 7)
	tabs := map[record.Key]summary.Tables{}
	var rows int64
	for i := range keys {
		keys[i] = record.Key{City: "progress", Year: 2020, Month: 1 + i}
		tabs[keys[i]] = syntheticGroup(keys[i])
		rows += int64(len(tableRows(tabs[keys[i]])))
	}
	job := JobRun{ID: "progress", Name: "progress", Status: "succeeded", Started: time.Unix(1700000000, 0)}

	for _, tc := range []struct {
		name string
		// failAt makes the first attempt fail transiently when it loads this group (-1: never).
		failAt int
	}{
		{"one attempt", -1},
		{"retried attempt", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := freshDB(t, pg, fmt.Sprintf("progress_%d", tc.failAt+1))
			var got []PublishProgress
			cfg := DefaultConfig()
			cfg.BackoffInitial, cfg.BackoffMax, cfg.Log = time.Millisecond, time.Millisecond, quiet
			cfg.BatchRows = 3000 // a COPY every other group: progress is per group, not per COPY
			cfg.Progress = func(p PublishProgress) { got = append(got, p) }
			s, err := New(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			var failed atomic.Bool // the readers of Publish call load concurrently
			load := func(k record.Key) (summary.Tables, error) {
				if tc.failAt >= 0 && k == keys[tc.failAt] && failed.CompareAndSwap(false, true) {
					return summary.Tables{}, io.ErrUnexpectedEOF // the connection went away: retried
				}
				return tabs[k], nil
			}
			if err := s.Publish(ctx, job, keys, load); err != nil {
				t.Fatal(err)
			}

			// The first attempt's calls (up to the failure), then the last attempt's, which
			// count every group once, in order, with the rows loaded so far.
			var want []PublishProgress
			attempt := 1
			if tc.failAt >= 0 {
				for i := range tc.failAt {
					want = append(want, PublishProgress{Attempt: 1, Groups: i + 1, GroupsTotal: len(keys)})
				}
				attempt = 2
			}
			for i := range keys {
				want = append(want, PublishProgress{Attempt: attempt, Groups: i + 1, GroupsTotal: len(keys)})
			}
			want = append(want, PublishProgress{Attempt: attempt, Groups: len(keys), GroupsTotal: len(keys), Finishing: true})
			if len(got) != len(want) {
				t.Fatalf("%d progress calls, want %d: %+v", len(got), len(want), got)
			}
			var sum int64
			for i := range want {
				if i > 0 && want[i].Attempt != want[i-1].Attempt {
					sum = 0
				}
				if !want[i].Finishing { // the last call adds no group
					sum += int64(len(tableRows(tabs[keys[want[i].Groups-1]])))
				}
				want[i].Rows = sum
				if got[i] != want[i] {
					t.Errorf("call %d: %+v, want %+v", i+1, got[i], want[i])
				}
			}
			if last := got[len(got)-1]; last.Groups != len(keys) || last.Rows != rows || !last.Finishing {
				t.Errorf("the last call counts %d groups and %d rows (finishing %t), want all %d and %d, finishing", last.Groups, last.Rows, last.Finishing, len(keys), rows)
			}
		})
	}
}
