// Package lake writes the Parquet lake and commits a job's output to it, on local disk or S3.
//
// Layout under the job's parquet output (Hive-style partitions, readable by DuckDB, Spark and
// pyarrow with hive partitioning):
//
//	city=<c>/year=<yyyy>/month=<mm>/part-<n>.parquet   the normalized requests of one group
//	_summary/<c>/<yyyy>-<mm>/<table>.parquet           that group's summary tables (monthly,
//	                                                   agency_daily, heat, geo), which carry
//	                                                   their city, year and month columns
//	_SUCCESS                                           the manifest of the last committed job
//	_temporary/<job>/…                                 task attempts' staging, before commit
//
// As in Spark's partitioned writes, the partition columns (city, year, month) live in the
// path, not in the data files. Names beginning with "_" are ignored by those readers.
//
// The commit protocol (DESIGN.md step 7): a task attempt writes only into its own Stage; the
// coordinator accepts one attempt per task; Commit then promotes each produced group and
// writes the _SUCCESS manifest last. On local disk a group's directory is swapped into place
// with an atomic exchange of renames, so a reader listing a group sees the old files or the
// new ones, never a mix. On S3, which has no rename, each staged file is a multipart upload
// to its final name that the attempt leaves incomplete; Commit completes the accepted
// uploads (a metadata operation: no data is copied), deletes files of the group that the job
// did not write, and aborts the rest (the S3A "magic" committer). Re-running a job replaces
// its groups, so the lake never holds duplicates; a failed or cancelled job leaves no
// visible object and no pending upload.
package lake
