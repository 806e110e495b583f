// Command viz serves the ireports charts. It needs the Postgres summary tables, which a later
// version loads; this build says so and exits.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "viz: not available in this version: the charts read the Postgres summary tables, which are not loaded yet; the summaries are in <parquet>/_summary/")
	os.Exit(2)
}
