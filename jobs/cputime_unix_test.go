//go:build unix

package jobs

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time. Benchmarks report CPU time per record next to
// wall time because the shared build machine is often oversubscribed, which inflates wall time
// but not CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
