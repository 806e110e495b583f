package coordinatorcli

import (
	"runtime"
	"syscall"
)

// peakRSS is this process's peak resident set size in bytes, or 0 where unknown.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss // bytes there, KiB on Linux
	}
	return ru.Maxrss * 1024
}
