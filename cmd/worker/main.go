// Command worker joins an ireports cluster and runs its tasks. Its command line is package
// internal/cli/workercli; the worker itself is package worker.
package main

import (
	"os"

	"github.com/ireports/ireports/internal/cli/workercli"
)

func main() { os.Exit(workercli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
