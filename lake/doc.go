// Package lake writes the Parquet lake and commits a job's output to it.
//
// Layout under the job's parquet output (Hive-style partitions, readable by DuckDB, Spark and
// pyarrow with hive partitioning):
//
//	city=<c>/year=<yyyy>/month=<mm>/part-<n>.parquet      the normalized requests of one group
//	_summary/<table>/city=<c>/year=<yyyy>/month=<mm>/part-00000.parquet
//	                                                      that group's aggregates, per summary table
//	_SUCCESS                                              the manifest of the last committed job
//	_temporary/<job>/<attempt>/…                          task attempts' files, before commit
//
// As in Spark's partitioned writes, the partition columns (city, year, month) live in the path,
// not in the files. Names beginning with "_" are ignored by those readers.
//
// The commit protocol (DESIGN.md step 7): a task attempt writes only under its own attempt
// directory; the coordinator accepts one attempt per task; Commit then swaps each produced
// group's directory into place with renames — a reader listing a group sees the old files or the
// new ones, never a mix — and writes the _SUCCESS manifest last. Re-running a job replaces
// its groups, so the lake never holds duplicates.
package lake
