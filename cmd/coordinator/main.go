// Command coordinator plans, runs and commits ireports jobs. See package coordinator.
package main

import (
	"os"

	"github.com/ireports/ireports/coordinator"
)

func main() { os.Exit(coordinator.Main(os.Args[1:], os.Stdout, os.Stderr)) }
