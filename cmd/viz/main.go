// Command viz serves the ireports charts over the Postgres summary tables:
//
//	bin/viz --db-file /etc/ireports/viz-db-url --listen :8080
//
// The database URL comes from --db-file (a file holding it), else $IREPORTS_VIZ_DB, else
// $DATABASE_URL; --db URL is for local use, as a password in it shows in ps. It stops
// gracefully on SIGINT or SIGTERM. See package viz.
package main

import (
	"os"

	"github.com/ireports/ireports/viz"
)

func main() { os.Exit(viz.Main(os.Args[1:], os.Stdout, os.Stderr)) }
