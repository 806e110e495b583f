// Package pgsink publishes a job's summary tables to PostgreSQL, where the viz server reads
// them, and keeps the job history there.
//
// The lake is the source of truth (DESIGN.md, step 7). A job commits its Parquet files and
// the per-group summary files of its summary datasets first; publishing then copies the
// summaries of exactly the (city, year, month) groups the job produced into the tables
// request_monthly, agency_daily, request_heat and request_geo, and records the run in
// job_runs. The last three are views (migration 0004) of tables that store their rows packed,
// one row per (city, year, month, agency or request type) with its cells in arrays (package
// pgcopy encodes them). A group comes either as its reducer encoded it for the publish (its
// publish file, read by LakeEncoded where its manifest lists it, size and SHA-256: sent as
// it is) or as rows (LoadFunc, LakeLoader: the Parquet summary files, encoded here). Because
// every summary row is derived from one group alone, replacing a group's rows is exact:
// Publish deletes the rows of the given groups, loads the new ones with COPY and upserts the
// job run, all in one transaction. Readers see the previous state or the new one, never a
// mix, and publishing the same groups again leaves the same rows. When the
// groups hold most of a table's rows, Publish truncates it and puts the other groups' rows
// back instead of deleting, loads it without its indexes and builds them once the rows are
// in (see clearGroups): readers of that table then wait for the commit.
//
// Rules for callers:
//
//   - Open the database with sql.Open("postgres", dsn) (this package registers lib/pq) and
//     run Sink.Migrate before publishing; migrations are embedded in the binary, versioned,
//     and safe to run from several processes at once.
//   - When Postgres is unreachable, Sink methods retry with backoff until Config.RetryDeadline
//     and then return an error wrapping ErrUnavailable. The job's lake output is still
//     committed: report the summaries as unpublished, and publish later from the lake with
//     Sink.PublishEncoded(…, LakeEncoded(…), LakeLoader(…)) (`coordinator publish JOB`). Any
//     other error is permanent.
//   - A commit whose outcome is unknown (the connection died during COMMIT) is retried like
//     any other failure; that is safe only because publishing is idempotent, so keep the
//     load function deterministic.
//   - Concurrent Publish calls are serialized by an advisory lock; they do not fail on each
//     other's rows.
//   - Empty-string text keys mean "none" (no agency, no request type); they are stored as
//     the empty string, never NULL, as the summary package produces them.
//   - Text PostgreSQL cannot store — a NUL byte or invalid UTF-8 in an agency, a request type,
//     a city or a job's error — never fails a publish: it is stored with U+FFFD in place of
//     each bad byte sequence, and rows whose keys thereby collide are merged (counts add up,
//     their percentiles become NULL), with a warning. The normalizer rejects such records, so
//     only a lake written by an older binary or another writer has them.
//   - The viz server should connect as a read-only role: see EnsureReadOnlyRole.
package pgsink

import (
	"errors"

	"github.com/ireports/ireports/pgsink/pgcopy"
)

// Errors callers can test for with errors.Is.
var (
	// ErrUnavailable: Postgres could not be reached (refused, reset, shut down, overloaded)
	// within the retry deadline. Nothing was half-written; retry the operation later.
	ErrUnavailable = errors.New("postgres unavailable")
	// ErrSchemaNewer: the database was migrated by a newer binary than this one.
	ErrSchemaNewer = errors.New("database schema is newer than this binary")
	// ErrMigrationChanged: an applied migration differs from the one embedded in the binary.
	// Migrations are immutable once released; add a new one instead.
	ErrMigrationChanged = errors.New("applied migration was modified")
	// ErrForeignRow: a group's summary file holds a row of another group, which Publish
	// would not replace exactly; the lake is corrupt or the file misplaced.
	ErrForeignRow = pgcopy.ErrForeignRow
	// ErrDuplicateKey: a group's summaries hold two rows of a table with the same key.
	ErrDuplicateKey = pgcopy.ErrDuplicateKey
	// ErrBadCell: a request_heat row's weekday or hour is out of range.
	ErrBadCell = pgcopy.ErrBadCell
	// ErrConfig: an invalid Config.
	ErrConfig = errors.New("invalid pgsink config")
)
