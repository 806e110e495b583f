package coordinator

import (
	"testing"

	"github.com/ireports/ireports/pgsink"
)

// TestPublishProgressTracker: pgsink's progress reaches the run's progress (what the API,
// the status page and the command line's progress bar show), and the caller's own callback
// still gets every call. (The bar's rendering of it: coordinatorcli's TestProgressLine.)
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
	f(pgsink.PublishProgress{Attempt: 1, Groups: 3, GroupsTotal: 3, Rows: 300, Finishing: true})
	if snap := d.prog.Snapshot(); !snap.PublishFinishing || snap.PublishGroups != 3 {
		t.Errorf("progress once every row is copied: %+v", snap)
	}
	// Without a caller's callback, only the tracker.
	d.publishProgress(nil)(pgsink.PublishProgress{Attempt: 2, Groups: 1, GroupsTotal: 3, Rows: 10})
	if snap := d.prog.Snapshot(); snap.PublishGroups != 1 || snap.PublishRows != 10 || snap.PublishFinishing {
		t.Errorf("a retried attempt counts again from its start: %+v", snap)
	}
}
