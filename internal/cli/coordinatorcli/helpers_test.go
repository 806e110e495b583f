package coordinatorcli

import (
	"context"
	"testing"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/localcluster"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/jobs"
)

// runJob runs spec on a local cluster whose data dirs are in a directory of the test, as
// `coordinator run` does.
func runJob(t testing.TB, ctx context.Context, spec *jobs.Spec, cfg coordinator.LocalConfig) (*coordinator.Result, error) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	res, err := localcluster.Run(ctx, spec, cfg)
	if res == nil {
		t.Fatalf("localcluster.Run returned a nil Result (err %v)", err)
	}
	return res, err
}

// checkAccounting checks the invariant every job run must keep (as package coordinator's
// tests do).
func checkAccounting(t testing.TB, res *coordinator.Result) {
	t.Helper()
	if out := res.RecordsOut + res.Rejected + res.DuplicatesRemoved; res.RecordsIn+res.RecordsCarried != out {
		t.Errorf("records_in %d + records_carried %d != records_out %d + rejected %d + duplicates_removed %d",
			res.RecordsIn, res.RecordsCarried, res.RecordsOut, res.Rejected, res.DuplicatesRemoved)
	}
	var byReason int64
	for _, n := range res.RejectsByReason {
		byReason += n
	}
	if byReason != res.Rejected {
		t.Errorf("rejects_by_reason %v sums to %d, rejected is %d", res.RejectsByReason, byReason, res.Rejected)
	}
	if res.Version != version.Version() {
		t.Errorf("result version %q, want this build's %q", res.Version, version.Version())
	}
}
