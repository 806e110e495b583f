package coordinator

import (
	"context"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/task"
)

// This file re-runs accepted map outputs that are lost while the job still needs them:
// those of a worker that gossip declares down, at once (watchLostWorkers), and those a
// reducer could not read (recoverMapOutput, job.go). A resumed run also re-runs the outputs
// no worker reports holding (resume.go). The re-runs of one job go one at a time, under
// recoverMu, which the chain check and each reduce attempt's start take too: neither reads
// the map results while a re-run may replace them.

// workerWatcher is an executor whose workers may be declared down (the Scheduler).
type workerWatcher interface {
	workersDown(after uint64) (downs []workerDown, last uint64, more <-chan struct{})
}

// watchLostWorkers re-runs, as soon as gossip declares a worker down, the accepted map
// outputs it held, while the job still needs them (mapOutputsNeeded). Before, they ran
// again only once a reducer had failed to read one: a killed worker's outputs cost each
// reducer in flight a failed attempt, and a stopped worker's a wait until the reducers
// heard of its death. It returns the function that stops the watch and waits for it
// (idempotent), which the driver calls when the reduce phase ends.
func (d *driver) watchLostWorkers(ctx context.Context) (stop func()) {
	w, ok := d.exec.(workerWatcher)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	_, seq, _ := w.workersDown(math.MaxUint64) // only workers declared down from now on
	done := make(chan struct{})
	go func() { // owned by the returned stop
		defer close(done)
		for {
			downs, last, more := w.workersDown(seq)
			seq = last
			for _, dw := range downs {
				d.rerunWorker(ctx, dw)
			}
			select {
			case <-more:
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// rerunWorker re-runs the accepted map outputs held by the worker dw declared down, if the
// job still needs them. Should the re-run fail, the reducers that miss an output have it
// re-run as before (recoverMapOutput).
func (d *driver) rerunWorker(ctx context.Context, dw workerDown) {
	d.recoverMu.Lock()
	defer d.recoverMu.Unlock()
	if !d.mapOutputsNeeded() {
		return
	}
	states := map[int]csvsplit.State{}
	d.mu.Lock()
	for i, m := range d.mapRes {
		if m.Attempt > 0 && m.Output.Worker == dw.shuffle {
			states[i] = m.Assumed
		}
	}
	d.mu.Unlock()
	if len(states) == 0 {
		return
	}
	start := time.Now()
	d.log.Warn("worker declared down; re-running the map tasks whose outputs it held",
		"worker", dw.name, "shuffle", dw.shuffle, "tasks", len(states), "since_down", start.Sub(dw.at).Round(time.Millisecond).String())
	if err := d.rerunLost(ctx, states, "its worker was declared down"); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("re-running a down worker's map outputs failed; a reducer that misses one has it re-run", "worker", dw.name, "err", err)
		}
		return
	}
	d.log.Info("re-ran the map outputs of a worker declared down", "worker", dw.name, "tasks", len(states),
		"seconds", time.Since(start).Seconds(), "since_down", time.Since(dw.at).Round(time.Millisecond).String())
}

// mapOutputsNeeded reports whether the job still reads its map outputs: from the map phase
// until the reduce phase ends, as long as a reducer — each reads every map output — is yet
// to be accepted. (The progress counts accepted reduce attempts, kept ones included.)
func (d *driver) mapOutputsNeeded() bool {
	p := d.prog.Snapshot()
	switch p.Phase {
	case Mapping, Checking, Reducing:
		return p.ReducesDone < p.ReducesTotal
	}
	return false
}

// rerunLost re-runs the map tasks whose accepted outputs are lost, each with the quote state
// its accepted attempt assumed (after the chain check the true one; before it, the same
// choice the speculation made), once the loss is journaled. d.recoverMu must be held.
func (d *driver) rerunLost(ctx context.Context, states map[int]csvsplit.State, why string) error {
	d.journalLost(ctx, states, why)
	d.prog.update(func(p *Progress) { p.MapsRerun += len(states) })
	return d.runMaps(ctx, slices.Sorted(maps.Keys(states)), states)
}

// mapResults returns a copy of the accepted map results, for a reader that does not hold
// recoverMu: a re-run of lost outputs may replace one meanwhile.
func (d *driver) mapResults() []task.MapResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.mapRes)
}
