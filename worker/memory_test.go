package worker

import (
	"math"
	"runtime/debug"
	"testing"
)

// The process's soft memory limit is the sum of the shares of the workers running in it,
// and no limit once they have all stopped; a GOMEMLIMIT in the environment is left alone.
func TestShareMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	debug.SetMemoryLimit(math.MaxInt64)

	var r1, r2 func()
	for _, step := range []struct {
		name string
		do   func()
		want int64
	}{
		{name: "first worker", do: func() { r1 = shareMemoryLimit(100 << 20) }, want: 100 << 20},
		{name: "second worker", do: func() { r2 = shareMemoryLimit(60 << 20) }, want: 160 << 20},
		{name: "a worker without a limit", do: func() { shareMemoryLimit(-1)() }, want: 160 << 20},
		{name: "first stops, twice", do: func() { r1(); r1() }, want: 60 << 20},
		{name: "second stops", do: func() { r2() }, want: math.MaxInt64},
	} {
		step.do()
		if got := debug.SetMemoryLimit(-1); got != step.want {
			t.Errorf("%s: limit %d, want %d", step.name, got, step.want)
		}
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	shareMemoryLimit(100 << 20)()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: limit %d, want it untouched", got)
	}
}
