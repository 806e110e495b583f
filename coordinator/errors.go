package coordinator

import "errors"

// The coordinator's sentinel errors, all in one place. They are wrapped with what went wrong
// where (the job, the output, the attempt); test for them with errors.Is. A sentinel's text
// is part of messages users read: change it only with the messages that quote it.
var (
	// ErrOutputBusy refuses a job whose output another running job writes: two commits of
	// one lake at once could interleave, and a failed job's clean-up could abort the other's
	// uploads. The API answers it with 409.
	ErrOutputBusy = errors.New("output in use")

	// ErrRejectBudget fails a job that rejected more records than its max_reject_ratio
	// allows. Its rejects are committed anyway, so the user can see why.
	ErrRejectBudget = errors.New("reject budget exceeded")

	// ErrUnpublished means a job committed its lake but could not publish its summaries to
	// Postgres: the data is safe, and `coordinator publish` loads the summaries later. The
	// run's Result says Published: Unpublished; the CLI exits with this error.
	ErrUnpublished = errors.New("summaries unpublished")

	// ErrUnsafeName refuses a job name or run id that cannot be one path component: the
	// coordinator names files after them (the job history, a schedule's state, the rejects
	// folder), and such a name could point outside their directory.
	ErrUnsafeName = errors.New("not usable as a file name")

	// ErrStale is returned to a worker that reports on an attempt that is no longer its own
	// (the API answers 409): its result is ignored, and the worker discards what it wrote.
	ErrStale = errors.New("attempt is no longer running on this worker (lost, reassigned or cancelled); result ignored")

	// ErrNoJob: the coordinator knows no job run of that id (the API answers 404).
	ErrNoJob = errors.New("no job")

	// ErrShuttingDown refuses a job, or answers a worker's poll, once Shutdown has begun
	// (the API answers 503).
	ErrShuttingDown = errors.New("coordinator shutting down")

	// ErrInterrupted is the cause of a job run's cancellation when its coordinator shuts down
	// (Server.Shutdown): the run stops without an outcome (Interrupted), keeps its journal,
	// staged output and lake claim, and a coordinator started on the same state resumes it.
	ErrInterrupted = errors.New("interrupted: the coordinator shut down; the job resumes when a coordinator starts on the same state")

	// ErrJournal means the job's journal could not record what the job was about to do; the job
	// stops rather than act on something a restart would not know about.
	ErrJournal = errors.New("job journal")

	// ErrNoStartWorker is returned by StartLocalCluster and RunLocal given no StartWorker.
	ErrNoStartWorker = errors.New("local cluster: no StartWorker to start its workers with (use internal/localcluster)")

	// errSourceUnavailable ends a run whose every source stayed unavailable for its
	// retry_for: a clean end with the status SourceUnavailable, not a failure.
	errSourceUnavailable = errors.New("source unavailable")
)
