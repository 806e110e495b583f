// Package worker executes the tasks of a job: a map task reads one byte range of an input file,
// normalizes its records and writes them, partitioned and sorted, to a map output on local disk;
// a reduce task fetches its partition of every map output, merges them, de-duplicates each
// request, and writes one Parquet file and the summary tables per (city, year, month) group.
//
// The functions here are the whole of the work; where they run — goroutines of `coordinator
// run`, or worker processes that pull tasks from a coordinator — is the executor's business.
// They are safe for concurrent use; each call owns its files.
//
// Every record a map task reads is accounted for: it reaches the map output or is rejected
// with its file, byte offset, raw text (at most MaxRejectRaw bytes of it, with its full length)
// and a reason in the attempt's rejects file (records_in = records_out + rejected). A record
// costs bounded memory whatever its size: the split reader keeps at most 16 MiB of one, and
// a longer one (a gzip bomb of zeros has no newline) is rejected as record_too_large. A reduce task removes only superseded versions of a
// request (records_in = records_out + duplicates).
package worker
