// Package coordinator plans jobs into tasks, runs them on an executor, checks the map phase,
// and commits the output. The `coordinator` command line is package
// internal/cli/coordinatorcli; this package does not import package worker.
//
// A job run goes: plan (list the inputs, read each CSV header once, cut byte ranges) → map
// phase (every split, retried when an attempt is lost) → the quote-state chain check, which
// re-runs any split whose speculated starting state was wrong → the reject budget → reduce
// phase (a reducer that cannot read a map output gets that map task re-run) → commit (the
// lake's groups swapped into place, the _SUCCESS manifest, the rejects). The invariant
// records_in = records_out + rejected + duplicates_removed is checked before anything is
// committed.
//
// The Executor interface is the seam between the job logic here and where tasks run: the
// Scheduler hands tasks to the workers that joined the cluster — worker processes, or the
// in-process workers of a LocalCluster (`coordinator run`), which internal/localcluster
// starts — and this package's benchmarks call package worker directly.
package coordinator
