// Package objstore is the engine's file system of objects: every input file, map output
// that leaves a worker, Parquet file, rejects file and manifest is read and written through
// it. One name space covers two stores, chosen by the name itself, so a caller passes the
// strings that appear in job files unchanged:
//
//   - "s3://bucket/key" — an object in S3 or an S3-compatible server (MinIO). Credentials and
//     region come from the standard AWS configuration chain unless Options sets them; an
//     endpoint (Options.Endpoint, else $S3_ENDPOINT) switches to path-style addressing.
//   - anything else — a path on local disk.
//
// [New] returns a [Router] that dispatches each call by name. Names returned by List are in
// the same form as the names given, so they can be passed straight back.
//
// # Rules for callers
//
//   - Every method takes a context; cancelling it ends the call, and for a reader returned
//     by OpenRange it also ends the stream (the reader belongs to the context it was opened
//     with, as an http.Request body does).
//   - A Store is safe for concurrent use. A Writer, PendingWriter or reader is used by one
//     goroutine at a time.
//   - An object written with Create is invisible until Close returns nil. A Writer that is
//     abandoned must be aborted (Abort, or a failed Close does it), or S3 keeps its parts.
//   - Names are trees: List("dir"), List("dir/") and DeletePrefix("dir") cover the object
//     "dir" (if any) and everything under "dir/", never "dirt". A name with glob
//     metacharacters (path.Match syntax, matched segment by segment) lists the objects whose
//     names match it with the same number of segments.
//   - Missing objects are errors.Is(err, fs.ErrNotExist) and refused access is
//     errors.Is(err, fs.ErrPermission); the message names the bucket and key. Delete and
//     DeletePrefix of missing objects succeed, as on S3.
//   - Local List omits dot files and dot directories: the local store stages unfinished
//     writes there, so both stores list only finished objects.
//   - Build names with [Join], never with path.Join or string concatenation of untrusted
//     parts: Join refuses (ErrUnsafePath) an element that would not stay under its base,
//     such as "..", which path.Join resolves and which on S3 silently changes the key.
//
// # Failures
//
// S3 requests are retried by the SDK's standard retryer with exponential backoff and full
// jitter (Options.MaxAttempts, RetryBaseDelay, MaxBackoff) on 5xx, 503 SlowDown, throttling,
// connection resets and timeouts; client-side retry quotas are disabled, because a batch
// job would rather wait than fail. A connection that delivers nothing for
// Options.ReadTimeout is cut and retried. A ranged read that fails mid-stream resumes with a
// new ranged GET from the first byte not yet delivered (Options.ReadResumes times per
// stream), pinned to the object's ETag so it never splices two versions of an object.
//
// # Commit protocol on S3
//
// S3 has no rename, and copying a job's output at commit would double its cost and widen
// the window in which readers see a partial lake. The package therefore offers the S3A
// "magic committer" protocol, and the lake package drives it:
//
//  1. A task attempt writes each output file with CreatePending, which starts a multipart
//     upload to the file's FINAL name and uploads its parts as they fill, but never completes
//     it: nothing is visible at the final name. PendingWriter.Close returns a [Pending] — the
//     name, upload ID and part ETags — which the attempt saves (JSON) in a small manifest at
//     <output>/_temporary/<job>/<attempt>.pending, written with Create.
//  2. Job commit reads the manifests of the accepted attempts and calls Complete on each
//     Pending: CompleteMultipartUpload is a metadata operation, so commit copies no data.
//     It calls AbortPending on the Pendings of every other attempt, then writes _SUCCESS.
//  3. Aborting a job calls AbortPending on everything its manifests list and deletes
//     _temporary/<job>. A coordinator that crashed before writing the manifests cleans up
//     with AbortUploads(output, startTime), which lists the multipart uploads under the
//     output (ListMultipartUploads) and aborts those started before it came up. A bucket
//     lifecycle rule (AbortIncompleteMultipartUpload) is the backstop for crashes nobody
//     recovers from.
//
// Complete is idempotent: completing an upload that a lost response already completed
// succeeds when the object's multipart ETag matches the parts. Completing groups of files
// is not atomic across files, as on local disk: a crash mid-commit leaves some files
// complete and no _SUCCESS, and re-running the job repairs it.
//
// On local disk a Pending is a dot file beside the final path, and Complete renames it into
// place, so the lake code is the same for both stores.
package objstore
