package coordinatorcli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/coordinator"
)

// TestProgressLine: while the summaries are published the line shows the groups and rows
// loaded, not the map and reduce bar, which is full by then.
func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		pr   coordinator.Progress
		want string
		not  string
	}{
		{
			name: "publish under way",
			pr: coordinator.Progress{Phase: coordinator.Publishing, MapsDone: 8, MapsTotal: 8, ReducesDone: 8, ReducesTotal: 8,
				PublishGroups: 120, PublishGroupsTotal: 576, PublishRows: 48210, Started: time.Now()},
			want: "publish [####----------------] 120/576 groups · 48,210 rows loaded into Postgres",
			not:  "map 8/8",
		},
		{
			name: "publish done",
			pr:   coordinator.Progress{Phase: coordinator.Publishing, PublishGroups: 576, PublishGroupsTotal: 576, PublishRows: 1234567},
			want: "publish [####################] 576/576 groups · 1,234,567 rows loaded into Postgres",
			not:  "indexes",
		},
		{
			name: "publish building indexes",
			pr:   coordinator.Progress{Phase: coordinator.Publishing, PublishGroups: 576, PublishGroupsTotal: 576, PublishRows: 1234567, PublishFinishing: true},
			want: "publish [####################] 576/576 groups · 1,234,567 rows loaded into Postgres · building indexes",
		},
		{
			name: "publish not started",
			pr:   coordinator.Progress{Phase: coordinator.Publishing},
			want: "publish [--------------------] 0/0 groups · 0 rows loaded into Postgres",
		},
		{
			name: "publish of three groups",
			pr:   coordinator.Progress{Phase: coordinator.Publishing, PublishGroups: 3, PublishGroupsTotal: 3, PublishRows: 300},
			want: "publish [####################] 3/3 groups · 300 rows loaded into Postgres",
		},
		{
			name: "map",
			pr:   coordinator.Progress{Phase: coordinator.Mapping, MapsDone: 2, MapsTotal: 8, ReducesTotal: 8},
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
		res  coordinator.Result
		want []string
		not  []string
	}{
		{
			name: "published",
			res: coordinator.Result{Name: "normalize", Job: "j", Status: coordinator.Succeeded, Bytes: 100e6, RecordsIn: 1e6, Seconds: 12.5,
				PhaseSeconds: map[string]float64{"plan": 0.5, "map": 2, "reduce": 2, "commit": 0.5, "publish": 7.5},
				Published:    coordinator.Published},
			want: []string{
				"succeeded in 12.5s",
				"  throughput 20.0 MB/s, 200000 records/s (plan, map, reduce and commit: 5.0s)\n",
				"  postgres   summaries published (publish: 7.5s, not in the throughput)\n",
			},
		},
		{
			name: "a pull is not work on the input either",
			res: coordinator.Result{Name: "daily", Job: "j", Status: coordinator.Succeeded, Bytes: 10e6, RecordsIn: 1000, Seconds: 30,
				PhaseSeconds: map[string]float64{"pull": 20, "plan": 1, "map": 2, "reduce": 1, "commit": 1}},
			want: []string{"  throughput 2.0 MB/s, 200 records/s (plan, map, reduce and commit: 5.0s)\n"},
			not:  []string{"postgres"},
		},
		{
			name: "no phase times",
			res:  coordinator.Result{Name: "old", Job: "j", Status: coordinator.Succeeded, Bytes: 10e6, RecordsIn: 1000, Seconds: 4, Published: coordinator.Unpublished},
			want: []string{
				"  throughput 2.5 MB/s, 250 records/s (the whole run: 4.0s)\n",
				"  postgres   summaries unpublished\n",
			},
		},
		{
			name: "nothing ran",
			res:  coordinator.Result{Name: "failed", Job: "j", Status: coordinator.Failed},
			not:  []string{"throughput"},
		},
		{
			name: "failed while planning",
			res:  coordinator.Result{Name: "failed", Job: "j", Status: coordinator.Failed, Seconds: 0.02, PhaseSeconds: map[string]float64{"plan": 0.02}},
			not:  []string{"throughput"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { checkPrinted(t, &tc.res, tc.want, tc.not) })
	}
}

// checkPrinted prints res as run and submit do and checks that the text holds every string
// of want and none of not.
func checkPrinted(t *testing.T, res *coordinator.Result, want, not []string) {
	t.Helper()
	var b bytes.Buffer
	printResult(&b, res)
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("result lacks %q:\n%s", w, b.String())
		}
	}
	for _, n := range not {
		if strings.Contains(b.String(), n) {
			t.Errorf("result shows %q:\n%s", n, b.String())
		}
	}
}
