// Package shuffle moves normalized records from map tasks to reduce tasks: it owns the
// partition function, the row encoding, the map output file format, the segment reader
// that verifies what it decodes, the k-way merge a reducer consumes, and the HTTP endpoint
// and client that carry segments between workers (DESIGN.md, steps 4–6).
//
// # Data flow
//
// A map task feeds every normalized record to a Writer, which encodes it at once into the
// chunks of its reducer, Partition(r.Key(), R), and keeps only a small entry per row.
// WriteFile sorts each partition into the shuffle order (see Compare) and writes ONE file
// per map task, under a temporary name renamed into place when complete: one segment per
// reducer, each a run of s2-compressed blocks, followed by an index footer (offset, length,
// record count, uncompressed bytes and CRC-32C per segment). A Writer holds at most
// WriterConfig.SpillBytes: beyond that it writes what it holds, sorted, as a run to a spill
// file, and WriteFile merges the runs into the same bytes, so a map task's memory does not
// depend on the size of its input.
//
// Reducer r fetches segment r of every map output through a Fetcher (LocalFetcher for files
// on this machine, HTTPFetcher for files served by Handler on other workers; NearFetcher
// picks one by the worker a Location names), decodes each with a SegmentReader and merges
// them with a Merger. OpenInput does all three, and with
// more map outputs than it may hold open at once it first copies the segments, one fetch at
// a time, into a single spill file, so a reducer's file descriptors stay bounded; with more
// than InputConfig.MaxFanIn it merges batches of them into runs first, so its memory (a
// block per merged segment) stays bounded too, whatever the number of map tasks. The merged
// stream is in global shuffle order, so the reducer sees each (city, year, month) group
// contiguously, and within it every version of one request contiguously, newest last: it
// can group and de-duplicate while streaming, holding one group's rows at most.
//
// # Rules for callers
//
//   - Records must be normalized (record package conventions). Times are kept to the
//     microsecond; the Unix epoch instant itself is stored as the null time (sources use it
//     as a placeholder for "unknown"). Latitude and Longitude are kept only when HasLocation.
//     The shuffle order and record.Request.Newer agree on records that went through the
//     encoding, which is what reducers see.
//   - Partition and the encoding are part of the wire protocol between workers: changing
//     either needs a new format version (the file header and footer carry it, which catches
//     a file left by another release) and a new ProtocolVersion (version.Protocol). A reducer
//     decodes a peer's segment without seeing that file's header: only the protocol, which
//     gossip and every fetch carry, keeps workers of two encodings apart.
//   - Writer.Add fails with ErrTooLarge for a row over 16 MiB.
//   - A Writer, a SegmentReader, a Merger and an Input are not safe for concurrent use; a
//     Handler and the fetchers are.
//
// # Failure classes
//
// An error of reading or fetching a map output says what the reducer's caller must do by
// its sentinel (errors.Is):
//
//   - ErrCorrupt, ErrFetch and ErrVersion: the map output is lost. It cannot be reached, is
//     missing or damaged, or was written by another release of the worker that holds it.
//     Re-run its map task; OpenInput's *SegmentError names it.
//   - ErrUnauthorized, ErrUntrusted and ErrProtocol: the cluster is misconfigured (its
//     token, TLS trust, one release on every worker). ErrBadName and ErrReducers: the plan
//     names a segment that cannot exist. Re-running cannot help: fail the job. (Over HTTP a
//     peer answers 404 for a reducer its file has no segment for, as for a missing file,
//     so the client sees ErrFetch.)
//   - A context error: the caller cancelled.
//   - None of these: the reducer's own fault, such as its process out of file descriptors
//     or its spill file's disk full. The map output is fine; the reduce attempt failed.
//
// Map outputs are written without fsync on purpose: they live only as long as their worker.
// If the machine crashes the worker is declared dead and its map outputs are recomputed;
// a torn file left on a restarted worker fails its checks (ErrCorrupt) and is treated as
// lost.
package shuffle
