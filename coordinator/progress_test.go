package coordinator

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/pgsink"
)

// TestProgressLine: while the summaries are published the line shows the groups and rows
// loaded, not the map and reduce bar, which is full by then.
func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		pr   Progress
		want string
		not  string
	}{
		{
			name: "publish under way",
			pr: Progress{Phase: Publishing, MapsDone: 8, MapsTotal: 8, ReducesDone: 8, ReducesTotal: 8,
				PublishGroups: 120, PublishGroupsTotal: 576, PublishRows: 48210, Started: time.Now()},
			want: "publish [####----------------] 120/576 groups · 48,210 rows loaded into Postgres",
			not:  "map 8/8",
		},
		{
			name: "publish done",
			pr:   Progress{Phase: Publishing, PublishGroups: 576, PublishGroupsTotal: 576, PublishRows: 1234567},
			want: "publish [####################] 576/576 groups · 1,234,567 rows loaded into Postgres",
		},
		{
			name: "publish not started",
			pr:   Progress{Phase: Publishing},
			want: "publish [--------------------] 0/0 groups · 0 rows loaded into Postgres",
		},
		{
			name: "map",
			pr:   Progress{Phase: Mapping, MapsDone: 2, MapsTotal: 8, ReducesTotal: 8},
			want: "map    [##------------------] map 2/8 · reduce 0/8",
			not:  "groups",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := progressLine(tc.pr)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("progressLine = %q, want it to start with %q", got, tc.want)
			}
			if tc.not != "" && strings.Contains(got, tc.not) {
				t.Errorf("progressLine = %q, should not show %q", got, tc.not)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 48210: "48,210", 1234567: "1,234,567", -1234: "-1,234", -123: "-123"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPrintResultThroughput: the throughput counts the work on the input (plan, map, reduce,
// commit), and the publish time is stated apart on the postgres line.
func TestPrintResultThroughput(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  Result
		want []string
		not  []string
	}{
		{
			name: "published",
			res: Result{Name: "normalize", Job: "j", Status: Succeeded, Bytes: 100e6, RecordsIn: 1e6, Seconds: 12.5,
				PhaseSeconds: map[string]float64{"plan": 0.5, "map": 2, "reduce": 2, "commit": 0.5, "publish": 7.5},
				Published:    Published},
			want: []string{
				"succeeded in 12.5s",
				"  throughput 20.0 MB/s, 200000 records/s (plan, map, reduce and commit: 5.0s)\n",
				"  postgres   summaries published (publish: 7.5s, not in the throughput)\n",
			},
		},
		{
			name: "a pull is not work on the input either",
			res: Result{Name: "daily", Job: "j", Status: Succeeded, Bytes: 10e6, RecordsIn: 1000, Seconds: 30,
				PhaseSeconds: map[string]float64{"pull": 20, "plan": 1, "map": 2, "reduce": 1, "commit": 1}},
			want: []string{"  throughput 2.0 MB/s, 200 records/s (plan, map, reduce and commit: 5.0s)\n"},
			not:  []string{"postgres"},
		},
		{
			name: "no phase times",
			res:  Result{Name: "old", Job: "j", Status: Succeeded, Bytes: 10e6, RecordsIn: 1000, Seconds: 4, Published: Unpublished},
			want: []string{
				"  throughput 2.5 MB/s, 250 records/s (the whole run: 4.0s)\n",
				"  postgres   summaries unpublished\n",
			},
		},
		{
			name: "nothing ran",
			res:  Result{Name: "failed", Job: "j", Status: Failed},
			not:  []string{"throughput"},
		},
		{
			name: "failed while planning",
			res:  Result{Name: "failed", Job: "j", Status: Failed, Seconds: 0.02, PhaseSeconds: map[string]float64{"plan": 0.02}},
			not:  []string{"throughput"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printResult(&b, &tc.res)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("result lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("result shows %q:\n%s", n, b.String())
				}
			}
		})
	}
}

// TestPublishProgressTracker: pgsink's progress reaches the run's progress (what the bar and
// the API show), and the caller's own callback still gets every call.
func TestPublishProgressTracker(t *testing.T) {
	d := &driver{prog: &Tracker{}}
	d.enter(Publishing)
	var seen []pgsink.PublishProgress
	f := d.publishProgress(func(p pgsink.PublishProgress) {
		// The tracker is updated first, so a caller's callback sees the same numbers.
		snap := d.prog.Snapshot()
		if snap.PublishGroups != p.Groups || snap.PublishRows != p.Rows {
			t.Errorf("in the callback the tracker shows %d groups, %d rows; the call %+v", snap.PublishGroups, snap.PublishRows, p)
		}
		seen = append(seen, p)
	})
	for i := 1; i <= 3; i++ {
		f(pgsink.PublishProgress{Attempt: 1, Groups: i, GroupsTotal: 3, Rows: int64(100 * i)})
	}
	if len(seen) != 3 {
		t.Fatalf("the caller's callback got %d calls, want 3", len(seen))
	}
	snap := d.prog.Snapshot()
	if snap.Phase != Publishing || snap.PublishGroups != 3 || snap.PublishGroupsTotal != 3 || snap.PublishRows != 300 {
		t.Errorf("progress after the publish: %+v", snap)
	}
	if line := progressLine(snap); !strings.Contains(line, "3/3 groups · 300 rows") {
		t.Errorf("progress line %q", line)
	}
	// Without a caller's callback, only the tracker.
	d.publishProgress(nil)(pgsink.PublishProgress{Attempt: 2, Groups: 1, GroupsTotal: 3, Rows: 10})
	if snap := d.prog.Snapshot(); snap.PublishGroups != 1 || snap.PublishRows != 10 {
		t.Errorf("a retried attempt counts again from its start: %+v", snap)
	}
}
