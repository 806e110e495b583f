package coordinator

import (
	"context"
	"errors"
	"go/build"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ireports/ireports/jobs"
)

// TestLayering: package coordinator imports neither package worker nor a command line. The
// in-process cluster's workers come from above (internal/localcluster), and the commands
// live in internal/cli; a worker or CLI import here would make every engine change ripple
// through the commands, and the commands' flags into the engine.
func TestLayering(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports { // the package's own files, not its tests'
		switch {
		case imp == "github.com/ireports/ireports/worker",
			strings.HasPrefix(imp, "github.com/ireports/ireports/internal/cli/"),
			imp == "github.com/ireports/ireports/internal/localcluster",
			imp == "github.com/ireports/ireports/internal/logflags",
			imp == "github.com/ireports/ireports/gen",
			imp == "flag":
			t.Errorf("package coordinator imports %s", imp)
		}
	}
	if !slices.Contains(pkg.Imports, "github.com/ireports/ireports/mapinput") {
		t.Errorf("package coordinator does not import mapinput: is the planner still detecting dialects with the worker's reader? imports %v", pkg.Imports)
	}
}

// TestLocalClusterNeedsStartWorker: a LocalCluster has no worker of its own; given no
// StartWorker it says where to get one, before it starts or writes anything.
func TestLocalClusterNeedsStartWorker(t *testing.T) {
	dir := t.TempDir()
	if c, err := StartLocalCluster(LocalClusterConfig{Workers: 1, Dir: dir}); !errors.Is(err, ErrNoStartWorker) || c != nil {
		t.Errorf("StartLocalCluster without StartWorker: %v, %v; want ErrNoStartWorker", c, err)
	}
	res, err := RunLocal(context.Background(), &jobs.Spec{Name: "x"}, LocalConfig{Workers: 1, Dir: dir})
	if !errors.Is(err, ErrNoStartWorker) || res == nil || res.Status != Failed || !strings.Contains(res.Error, "internal/localcluster") {
		t.Errorf("RunLocal without StartWorker: %+v, %v; want a failed result and ErrNoStartWorker", res, err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("the refused cluster wrote %d entries in its directory (%v)", len(entries), err)
	}
}
