//go:build !unix

package cputime

import "time"

// Process returns 0: this platform's CPU time is not read, and the benchmarks that report
// it skip the figure.
func Process() time.Duration { return 0 }
