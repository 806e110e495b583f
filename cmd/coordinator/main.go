// Command coordinator plans, runs and commits ireports jobs. Its command line is package
// internal/cli/coordinatorcli; the coordinator itself is package coordinator.
package main

import (
	"os"

	"github.com/ireports/ireports/internal/cli/coordinatorcli"
)

func main() { os.Exit(coordinatorcli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
