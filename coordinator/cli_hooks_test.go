package coordinator

import (
	"flag"
	"io"
)

// The command line (internal/cli/coordinatorcli) imports this package, so this package's
// tests cannot import it. The tests that drive the real command line against a cluster
// they build here with this package's internals reach it through these hooks, which
// cli_external_test.go (package coordinator_test, which may import the command line) sets
// before any test runs.
var (
	// CLIMain is coordinatorcli.Main.
	CLIMain func(args []string, stdout, stderr io.Writer) int
	// CLIServeFlags is coordinatorcli.ServeFlags.
	CLIServeFlags func(fs *flag.FlagSet) func() (ServerConfig, error)
	// CLIExitUnpublished is coordinatorcli.ExitUnpublished.
	CLIExitUnpublished int
)

// runCLI runs the coordinator command line with args, as the binary would.
func runCLI(args []string, stdout, stderr io.Writer) int { return CLIMain(args, stdout, stderr) }
