// Command worker joins an ireports cluster and runs its tasks. See package worker.
package main

import (
	"os"

	"github.com/ireports/ireports/worker"
)

func main() { os.Exit(worker.Main(os.Args[1:], os.Stdout, os.Stderr)) }
