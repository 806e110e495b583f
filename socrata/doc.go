// Package socrata is the incremental source of the engine: it pulls the records of a Socrata
// (SODA 2.1) dataset that were created or updated since the last pull, stores them as raw
// batches in the object store, and keeps a watermark in Postgres so that the next pull
// resumes exactly where this one stopped. The daily update job reads the batches with the
// dataset's city schema (jobs.ScanSODA and Normalizer.NormalizeJSON) and rebuilds the
// (city, month) groups they touch.
//
// # Paging
//
// A pull is keyset paging over the dataset's system fields, never $offset (an offset into a
// table that changes while it is read skips and repeats rows):
//
//	$select = :*,*                        # the dataset's fields plus :id, :created_at, :updated_at
//	$where  = :updated_at > 'W' OR (:updated_at = 'W' AND :id > 'I')
//	$order  = :updated_at,:id
//	$limit  = page size
//
// where (W, I) is the watermark: the :updated_at and :id of the last record stored. The first
// pull of a source, which has no watermark, asks for :updated_at >= Source.Start. W is kept as
// the literal the API returned, so the next query compares exactly what the API wrote. A
// record updated after it was pulled gets a later :updated_at and so comes again, in a later
// page or pull: a request closed today arrives today even though it was opened last month.
//
// # Order of effects, and why a crash loses nothing and counts nothing twice
//
// For each page Pull does these things, in this order:
//
//  1. fetch the page (W, X] — X is the key of its last record;
//  2. write it, as received, to <raw>/batch-<W's :updated_at>-<X's :updated_at>-<hash of
//     W and X>.json. The object store makes an object visible only when it is complete,
//     and the name depends only on (W, X), so writing the same page again replaces it
//     instead of adding a copy;
//  3. tell the caller, if it asked (Source.Stored, with the batch's name, size, SHA-256 and
//     (W, X)): a caller that records its batches durably does it here, before the watermark
//     passes them;
//  4. advance the watermark from W to X in Postgres (a compare-and-set: see WatermarkStore).
//
// A crash before step 2 completes leaves no batch and the old watermark: the next pull fetches
// the page again. A crash after step 4 is a finished page. A crash between 3 and 4 leaves a
// caller's record of a batch the watermark does not cover yet: the caller finishes the advance
// (Advance from W to X, which does nothing if it had happened) and reads the batch where it
// is, which is how a resumed job replays its pull (package coordinator). The interesting
// crash is between 2 and 3 (or 4, for a caller that records nothing): the batch is stored but
// the watermark still says W, so the next pull fetches (W, …] again. If the dataset did not change meanwhile it gets the same page, the same name, and
// overwrites the batch with the same bytes. If it changed, the new page may end elsewhere
// (X'), so a second batch appears beside the first; the two overlap in records that have the
// same :updated_at in both — the same version of the same request — and the records of the
// first batch missing from the second were updated since, so a newer version of each comes in
// a later page (or deleted, which no incremental pull sees: SODA has no tombstones). The downstream job de-duplicates by (city, request_id) and keeps the newest
// version (record.Request.Newer), so identical copies collapse into one and older versions
// lose: the re-fetched page is harmless. Nothing is lost because the watermark never passes a
// record that is not in a stored batch.
//
// Batch names begin with the :updated_at values of their range, compacted to letters and
// digits, so listing them by name (as the planner orders input files) puts two versions of
// one request in pull order — the order the reduce phase falls back on when two versions
// carry the same updated_at. Pages inside one :updated_at (a bulk update) may list in another
// order than they were pulled, but such pages never hold two versions of one request.
//
// # Outages
//
// A request that fails because the API is unavailable — connection refused or reset, DNS
// failure, a timeout, HTTP 5xx, 408, 429 (honouring Retry-After) or 202 ("your request is
// being processed") — is retried with capped exponential backoff and jitter. When one outage
// has lasted Source.RetryFor, Pull stops and returns an error wrapping ErrSourceUnavailable
// with a PullResult whose Status is StatusUnavailable: the batches stored before the outage
// stay stored, the watermark stands after the last of them, and the next Pull resumes from
// there, so a run after the API comes back catches up everything. Any other 4xx is a
// permanent error (*RequestError: the URL without the app token, the status and the start of
// the body) that retrying cannot fix.
//
// # Rules for callers
//
//   - Two pulls of one source must not run at once; the watermark's compare-and-set turns a
//     violation into ErrWatermarkMoved instead of a corrupt watermark, but the loser's last
//     batch is then a harmless duplicate.
//   - The daily job must read every batch under <raw> it has not yet consumed (see Batches),
//     not only those of the current Pull: a run that pulled and then failed leaves batches
//     that the next run's Pull will not return again.
//   - The app token is a credential: Pull sends it in the X-App-Token header to the
//     endpoint's origin only (Go's http.Client would copy a custom header to any redirect
//     target), never in a URL, and replaces it with REDACTED in every error and log line.
//     A caller's HTTPClient is copied, not modified.
//   - Pull holds one page in memory (about 1.5 KB per NYC record: 75 MB at 50,000 records).
package socrata
