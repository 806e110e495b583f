package coordinator_test

import (
	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/cli/coordinatorcli"
)

// The command line for this package's tests (see cli_hooks_test.go).
func init() {
	coordinator.CLIMain = coordinatorcli.Main
	coordinator.CLIServeFlags = coordinatorcli.ServeFlags
	coordinator.CLIExitUnpublished = coordinatorcli.ExitUnpublished
}
