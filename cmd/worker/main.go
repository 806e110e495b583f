// Command worker joins an ireports cluster and runs its tasks. Cluster mode is not in this
// version: `coordinator run FILE.job` runs the same tasks in one process.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "worker: cluster mode is not available in this version; run jobs on one machine with: coordinator run FILE.job")
	os.Exit(2)
}
