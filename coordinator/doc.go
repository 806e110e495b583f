// Package coordinator plans jobs into tasks, runs them on an executor, checks the map phase,
// and commits the output. The `coordinator` command line is package
// internal/cli/coordinatorcli; this package does not import package worker.
//
// A job run moves through the States of state.go, in order, all from one method (driver.run
// in job.go): pull (the job's sources, if any) → plan (list the inputs, read each CSV header
// once, cut byte ranges) → map (every split, retried when an attempt is lost) → check (the
// quote-state chain, which re-runs any split whose speculated starting state was wrong, and
// the reject budget) → reduce (a reducer that cannot read a map output gets that map task
// re-run, and the outputs of a worker declared dead run again at once: lostmaps.go) → commit (the lake's groups swapped into place, the _SUCCESS manifest, the rejects)
// → publish (the summaries into Postgres, if the job has one) → consume (the source batches
// it read) → cleanup, and ends in one terminal State. The invariant records_in = records_out +
// rejected + duplicates_removed is checked before anything is committed. A coordinator daemon
// journals each run (journal.go, resume.go); when it shuts down, its runs are Interrupted, not
// cleaned up, and the next one started on the same state resumes them, as after a crash.
//
// The Executor interface is the seam between the job logic here and where tasks run; the
// driver passes the job's spec with every attempt. The Scheduler hands the attempts to the
// workers that joined the cluster — worker processes, or the in-process workers of a
// LocalCluster (`coordinator run`), which internal/localcluster starts.
package coordinator
