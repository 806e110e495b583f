// Package coordinator plans jobs into tasks, runs them on an executor, checks the map phase,
// and commits the output. It also holds the `coordinator` command line.
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
// local executor calls package worker in goroutines; a cluster executor hands the same tasks
// to worker processes.
package coordinator
