// Package journal is the coordinator's durable record of each job's life: an append-only
// log of typed records (the spec, the plan, each accepted task attempt and where its
// output lives, phase changes, the commit's progress, the publish, source batches) from
// which a restarted coordinator, on the same host or a replacement, resumes the job.
//
// It is the storage layer only: it knows how to write records so that they survive a crash
// and how to read them back, not what a job does with them. Its record types are plain
// data with the spec, plan and snapshot state kept as opaque JSON, so it imports no
// coordinator type; a phase is stored by its name.
//
// # Rules for callers
//
//   - Write before acting. Append a record, wait for it to return nil, then act on it: a
//     Sync record is durable when Append returns (fsync, or a completed PUT); a Batched one
//     is durable once a later Sync record, Flush, Compact or Close returns. Use Sync for a
//     record that gates an action whose effect outlives the process (CommitBegin before the
//     first file is promoted, Published after the transaction and before the job is
//     reported finished, a source batch before its watermark advances); Batched for records
//     whose loss only costs work (an accepted map task is recomputed).
//   - An Append that fails may or may not have recorded its record; do not act on it.
//     After a failed write or fsync the Journal refuses further records (ErrBroken):
//     Resume the job to go on. ErrFenced means another coordinator writes the journal.
//   - Records are facts in order; a later record of the same thing (a task accepted
//     again, a new Plan) replaces the earlier one. Replay returns them in append order,
//     starting with the last Snapshot when the journal was compacted.
//   - One writer per job: the coordinator that drives it. A Journal is safe for concurrent
//     use by that coordinator's goroutines; a Dir is safe for concurrent use.
//   - The spec holds what the job file read with env(): keep the location private.
//
// # Where journals live
//
// Open chooses the backend from Config.Location, and nothing else differs for callers:
//
//   - A directory (the coordinator's data dir): one file per job,
//     <dir>/jobs/<job>.journal, appended to with write(2); Sync adds fsync. Create fsyncs
//     the file and its directory, so the journal's entry survives with its first record.
//   - An object-store prefix "s3://bucket/prefix": S3 has no append, so each job is a
//     series of segment objects <prefix>/jobs/<job>/<n>.seg (n zero-padded to 20 digits,
//     so names sort as numbers), each a batch of records written by one PUT. Batched
//     records wait in memory (up to Config.MaxBatch bytes) for the next Sync record or
//     Flush. A segment is written only if its name is free (a conditional PUT), so a second
//     coordinator on the same job fails with ErrFenced instead of interleaving records.
//
// # Format (version 1)
//
// A file, and each segment, starts with a 12-byte header: the magic "IRJOURNL" and the
// format version as a little-endian uint32. Records follow, each one frame:
//
//	offset  size  field
//	0       4     length: bytes of payload, little-endian uint32, at most MaxRecord
//	4       4     CRC-32C (Castagnoli) of the length, kind and payload bytes, little-endian
//	8       1     kind (Kind: 1 spec, 2 plan, 3 phase, 4 task_accepted, 5 map_lost,
//	              6 commit, 7 published, 8 source_batch, 9 finished, 10 snapshot)
//	9       n     payload: the record as JSON (field names as in the types' json tags)
//
// A reader refuses a newer version (ErrVersion) rather than misread it, and a record kind
// it does not know (adding a kind bumps Version). Adding an optional JSON field does not:
// older readers ignore it. Incompatible change to a payload, including to the task
// package's MapResult and ReduceResult that TaskAccepted embeds, bumps Version.
//
// Reading a local file, a frame that is short, longer than MaxRecord, or fails its CRC is
// a torn write when no valid frame follows it anywhere in the file: the crash interrupted
// the last append. Resume truncates the file there and appends after the intact prefix;
// Replay returns the prefix. When a valid frame does follow, the damage is in the middle
// and reading fails with ErrCorrupt naming the byte offset: records after it were
// durable, and skipping them would lose them silently. (JSON payloads cannot contain a
// frame: a plausible length needs zero bytes.) A segment object is written whole or not at
// all, so any bad frame in one is ErrCorrupt, and so is a gap in the segment numbers.
//
// # Compaction
//
// Compact(state) replaces everything appended with one Snapshot record, atomically. On local
// disk the snapshot is written to <dir>/jobs/.<job>.compact, fsynced, renamed over the
// journal and the directory fsynced; a crash before the rename leaves the old journal (the
// temporary file is removed on the next Resume). On an object store the snapshot is the
// next segment, and the segments before it are then deleted; a reader starts from the
// newest segment that begins with a snapshot, so segments left by a crash mid-delete are
// ignored (and deleted by the next Compact). A long job's journal is therefore bounded by
// its state plus what it appends between compactions.
package journal
