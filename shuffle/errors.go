package shuffle

import "errors"

// Errors returned by this package, always wrapped with the file, URL, segment or byte offset
// where they happened; test with errors.Is.
var (
	// ErrCorrupt means stored or transferred shuffle data failed a check: a bad magic, a
	// checksum mismatch, a truncated segment, an undecodable row or rows out of order. The
	// map output that produced it must be treated as lost.
	ErrCorrupt = errors.New("shuffle: corrupt data")

	// ErrVersion means a map output was written by an incompatible format version.
	ErrVersion = errors.New("shuffle: unsupported format version")

	// ErrFetch means a segment could not be fetched: the worker is unreachable, the file is
	// gone, or the transfer broke. The map output must be treated as lost.
	ErrFetch = errors.New("shuffle: fetch failed")

	// ErrUnauthorized means the shuffle server rejected the cluster token. Re-running the
	// map task would not help: the cluster is misconfigured.
	ErrUnauthorized = errors.New("shuffle: unauthorized")

	// ErrUntrusted means the shuffle server's TLS certificate did not verify against the CAs
	// this worker trusts. Re-running the map task would not help either.
	ErrUntrusted = errors.New("shuffle: TLS certificate not trusted")

	// ErrProtocol means the other end speaks another version of the shuffle's HTTP protocol
	// (ProtocolVersion): the workers run incompatible releases.
	ErrProtocol = errors.New("shuffle: protocol version mismatch")

	// ErrReducers means a reducer count below 1 or a reducer index outside [0, R).
	ErrReducers = errors.New("shuffle: reducer count or index out of range")

	// ErrBadName means a job id or map task number that cannot name a map output safely.
	ErrBadName = errors.New("shuffle: invalid job id or map task")

	// ErrTooLarge means a row exceeds the format's limit (16 MiB encoded).
	ErrTooLarge = errors.New("shuffle: too large")
)
