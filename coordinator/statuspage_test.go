package coordinator

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestStatusPageShowsOutcome renders a finished job whose summaries are unpublished and
// whose source was unavailable: the page says both.
func TestStatusPageShowsOutcome(t *testing.T) {
	now := time.Now()
	res := &Result{Job: "j-1", Name: "nyc_daily", Status: Succeeded, RecordsOut: 10, Groups: 2,
		Published: Unpublished, Pulls: []Pull{{Source: "nyc_api", Status: "caught up", Records: 10}},
		Warnings: []string{"the lake is committed, but its summaries are not in Postgres"}}
	data := statusData{Version: "v1.0.0", Protocol: 1, Started: now,
		Jobs: []JobStatus{{ID: "j-1", Name: "nyc_daily", State: Succeeded, Submitted: now, Finished: &now, Result: res}}, Profiles: map[string]string{}}
	var b bytes.Buffer
	if err := statusTmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"summaries unpublished", "pull nyc_api: caught up, 10 records", "not in Postgres"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}

// TestStatusPageShowsExclusion: a worker excluded from a running job is on the page, with
// why.
func TestStatusPageShowsExclusion(t *testing.T) {
	now := time.Now()
	data := statusData{Version: "v1.0.0", Protocol: 1, Started: now, Profiles: map[string]string{},
		Jobs: []JobStatus{{ID: "j-1", State: Mapping, Submitted: now,
			Excluded: []Exclusion{{Worker: "w1", Reason: "2 tasks failed with worker-local errors; last: no space left on device", Until: now}}}}}
	var b bytes.Buffer
	if err := statusTmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if want := "worker w1 excluded: 2 tasks failed with worker-local errors; last: no space left on device"; !strings.Contains(b.String(), want) {
		t.Errorf("status page lacks %q", want)
	}
}

// TestStatusPageShowsJobDetail: while the summaries are published, the page shows how many
// groups of how many, and their rows, are loaded into Postgres, and then that the indexes are
// being built; a job interrupted by the
// coordinator's shutdown says that a restart resumes it; a resumed one says how often and
// the time lost.
func TestStatusPageShowsJobDetail(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		job  JobStatus
		want []string
	}{
		{"publish", JobStatus{ID: "j-1", State: Publishing, Submitted: now,
			Progress: Progress{Phase: Publishing, MapsDone: 4, MapsTotal: 4, ReducesDone: 2, ReducesTotal: 2,
				PublishGroups: 120, PublishGroupsTotal: 576, PublishRows: 48210}},
			[]string{"120/576 groups, 48210 rows into Postgres", `style="width:20%"`}},
		{"publish, finishing", JobStatus{ID: "j-1", State: Publishing, Submitted: now,
			Progress: Progress{Phase: Publishing, PublishGroups: 576, PublishGroupsTotal: 576, PublishRows: 231400, PublishFinishing: true}},
			[]string{"576/576 groups, 231400 rows into Postgres; building indexes, committing", `style="width:100%"`}},
		{"interrupted", JobStatus{ID: "j-1", State: Interrupted, Submitted: now, Progress: Progress{Phase: Interrupted}},
			[]string{"interrupted<br><small>the coordinator is shutting down; a restart on the same state resumes the job"}},
		{"resumed", JobStatus{ID: "j-2", State: Reducing, Submitted: now, Progress: Progress{Phase: Reducing}, Resumed: 2, Lost: 41 * time.Second},
			[]string{"resumed 2×, 41s lost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := statusData{Version: "v1.0.0", Protocol: 1, Started: now, Profiles: map[string]string{}, Jobs: []JobStatus{tc.job}}
			var b bytes.Buffer
			if err := statusTmpl.Execute(&b, data); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("status page lacks %q", want)
				}
			}
		})
	}
}
