// Package clustertest holds ireports' multi-process cluster tests: a real `coordinator serve`
// and real `worker` processes on loopback, driven through the `coordinator` command line and
// the HTTP API, with faults injected from outside (kill -9, SIGSTOP/SIGCONT, wrong keys and
// tokens, cancellation). It has no non-test code; this file exists for the documentation.
//
// What the tests establish (issue 3):
//   - A cluster job's output equals `coordinator run`'s for the same job file: the same
//     _SUCCESS group list, the same bytes in every file (sha256), the same Parquet rows, the
//     same rejects.
//   - A worker killed with SIGKILL in the map phase or in the reduce phase costs retries, not
//     the job: its running attempt and its map outputs are recomputed elsewhere, and the
//     output equals the fault-free run's.
//   - A worker stopped (SIGSTOP) while it holds an attempt loses it after the lease; when it
//     is continued, its late result is refused and the output is unchanged.
//   - A node with another gossip key is not admitted; API calls and shuffle fetches without
//     the cluster token get 401 and change nothing.
//   - A cancelled job leaves no group, no _SUCCESS and no _temporary in the lake or the
//     rejects directory, and the workers delete its map outputs.
//   - Issue 13's faults besides the coordinator's own death: a worker stopped for 60 s in
//     the reduce phase costs the job at most twice its fault-free time (measured on the same
//     cluster just before, floored at 20 s), and once continued the worker rejoins and its
//     stale attempt is discarded; a worker whose data dir is a full tmpfs is excluded from
//     the job, with the disk's error as the reason, and the job succeeds on the others; a
//     worker killed while the coordinator is down has its journaled map outputs re-run by
//     the resumed job; a torn last journal record is dropped and the job resumes; a corrupt
//     one fails the job with the byte offset, and its journal stays until the job is
//     cancelled.
//   - `coordinator submit` exits 0 with the JSON result on success and non-zero with a clear
//     message when the job fails.
//   - A coordinator stopped with SIGTERM interrupts its job (journal, staged files and lake
//     claim kept, nothing visible in the lake) and one started on the same state resumes
//     it; killed (SIGKILL) during planning, or twice in one job, it resumes too; and an
//     attached `coordinator submit` follows the job across the gap and prints its result
//     (failover_test.go, failover_more_test.go).
//
// Rules for running them:
//   - They are slow (tens of seconds each) and skip under -short. TestMain builds the
//     binaries once (`go build ./cmd/...` from the module root) and generates one synthetic
//     corpus (`coordinator gen --size 24MiB --seed 3`) shared by every test; the fault-free
//     reference output of that corpus is computed once, on first use, with `coordinator run`.
//   - The five-city test reads the real exports from ../shared/data/311 next to the module
//     root and skips with a message when that folder is absent.
//   - Tests run one at a time (no t.Parallel): on a 2-core machine, concurrent clusters
//     would make the lease and gossip timings the tests rely on unreliable.
//   - Every process runs in its own process group and is killed with SIGKILL in t.Cleanup;
//     every wait is bounded, and a failing test prints the tail of every process's log.
//   - The full-disk test mounts a tmpfs, which needs root: it skips without, and fails under
//     CI=true.
//   - All addresses are 127.0.0.1. Ports are chosen by listening on port 0 and closing the
//     listener (the daemons cannot report a port they picked themselves).
package clustertest
