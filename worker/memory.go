package worker

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// A worker's memory is bounded by its configuration, not by its input: a map task holds at
// most Config.MapSpillBytes of output before it spills sorted runs to disk
// (shuffle.WriterConfig), and a reduce task a block per merged map output, at most
// shuffle.DefaultMaxFanIn of them, and a chunk of one group. What the Go runtime adds on
// top is its headroom: it lets the heap grow to twice what is live before it collects
// (GOGC=100), and on a loaded machine a collection may finish well past that goal. The soft
// memory limit (Config.MemoryLimit) caps the headroom when the live heap is large, so that
// a worker's peak stays near its budget; below the limit it costs nothing.

// Defaults of Config.MemoryLimit: DefaultMemoryLimit(slots) bytes.
const (
	memoryLimitBase    = 64 << 20 // the process: gossip, HTTP, buffers of the fetches it serves
	memoryLimitPerSlot = 96 << 20 // one task: up to 48 MiB of map output, or a reducer's blocks and group chunk, and GC headroom
)

// DefaultMemoryLimit is the soft memory limit a worker with the given task slots contributes
// to its process when Config.MemoryLimit is 0.
func DefaultMemoryLimit(slots int) int64 {
	return memoryLimitBase + int64(max(slots, 1))*memoryLimitPerSlot
}

// processLimit is the soft memory limit this package has set: the sum of the shares of the
// workers running in the process (coordinator run starts several in one).
var processLimit struct {
	sync.Mutex // guards total
	total      int64
}

// shareMemoryLimit adds n bytes to the process's soft memory limit (runtime/debug.SetMemoryLimit)
// and returns the function that takes them back. It does nothing when n <= 0 or when
// GOMEMLIMIT is set: whoever starts the process has decided.
func shareMemoryLimit(n int64) (release func()) {
	if n <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	setProcessLimit(n)
	var once sync.Once
	return func() { once.Do(func() { setProcessLimit(-n) }) }
}

func setProcessLimit(delta int64) {
	processLimit.Lock()
	defer processLimit.Unlock()
	processLimit.total += delta
	if processLimit.total > 0 {
		debug.SetMemoryLimit(processLimit.total)
	} else {
		debug.SetMemoryLimit(math.MaxInt64)
	}
}
