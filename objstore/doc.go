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
//     writes there, so both stores list only finished objects. S3 lists dot names.
//   - Directories exist only on local disk. Writes make them; a write that does not
//     complete, and the AbortUploads sweep, remove the ones they emptied; callers that
//     delete a tree's last objects call Prune, which does nothing on S3. Never branch on
//     the store a name is in: the functions on names (Clean, Rel, Relative, Resolve,
//     StaticPrefix, Abs, SameStore, Absent, CheckRoot) answer in its syntax.
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
// # Commit protocol
//
// S3 has no rename, and copying a job's output at commit would double its cost and widen
// the window in which readers see a partial lake. The package therefore offers the S3A
// "magic committer" protocol, with the same calls on both stores, and the lake package
// drives it for every job's lake and summary datasets, on local disk and S3 alike:
//
//  1. A task attempt writes each output file with CreatePending, to the file's FINAL name,
//     and nothing becomes visible there. On S3 it starts a multipart upload and uploads its
//     parts as they fill, but never completes it; on local disk it writes a hidden staged
//     file beside the final name (".part-00000.parquet.pending-<random>"), which List skips.
//     PendingWriter.Close returns a [Pending] — the name, and the upload ID and part ETags
//     (S3) or the staged file (local disk) — which the attempt saves (JSON) in a small
//     manifest at <output>/_temporary/<job>/<attempt>.pending, written with Create.
//  2. Job commit reads the manifests of the accepted attempts and calls Complete on each
//     Pending: CompleteMultipartUpload on S3, a rename on local disk. Both publish the
//     whole file atomically and copy no data. It deletes the committed groups' files that
//     the job did not write, sweeps the other attempts' uploads to those groups
//     (AbortUploads), then writes _SUCCESS.
//  3. Aborting a job calls AbortPending on everything its manifests list and deletes
//     _temporary/<job>. Uploads that no manifest lists (an attempt that died before writing
//     its manifest, a coordinator that crashed) are swept with AbortUploads(output, start),
//     which aborts the unfinished writes under the output started before it: on S3 the
//     multipart uploads (ListMultipartUploads), on local disk the staged files. A bucket
//     lifecycle rule (AbortIncompleteMultipartUpload) is the backstop for crashes nobody
//     recovers from.
//
// Complete is idempotent: completing again an upload that a lost response (or a repeated
// commit) already completed succeeds, when on S3 the object's multipart ETag matches the
// parts and on local disk the object has the pending size. Completing groups of files is
// not atomic across files on either store: a crash mid-commit leaves some files complete and
// no _SUCCESS, and re-running the job repairs it.
//
// Trees that are replaced whole, such as a job's rejects, use ReplaceTree instead: an
// atomic exchange of directories on local disk (Linux), a delete and a copy per object on
// S3, where such trees are small.
package objstore
