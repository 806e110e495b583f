// Command viz serves the ireports charts over the Postgres summary tables:
//
//	bin/viz --db postgres://ireports_viz@host/ireports --listen :8080
//
// With --db unset it reads $DATABASE_URL. It stops gracefully on SIGINT or SIGTERM. See
// package viz.
package main

import (
	"os"

	"github.com/ireports/ireports/viz"
)

func main() { os.Exit(viz.Main(os.Args[1:], os.Stdout, os.Stderr)) }
