//go:build unix

package shuffle

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time of this process, user and system: on a machine shared with
// other work, benchmarks compare it rather than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
