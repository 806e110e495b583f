// Package lake writes the Parquet lake and its summary datasets and commits a job's output
// to them, on local disk or S3.
//
// A job writes two trees (Roots), each Hive-partitioned and readable at its root by DuckDB
// (read_parquet('<root>/**/*.parquet', hive_partitioning=true)), Spark, Trino, Athena and
// pyarrow. The lake, at the job's parquet output:
//
//	city=<c>/year=<y>/month=<m>/part-<n>.parquet       the normalized requests of one group
//	_SUCCESS                                           the manifest of the last committed job
//	                                                   (its lake files and its summary files)
//	_temporary/<job>/…                                 task attempts' stage manifests, before commit
//
// The summary datasets, at the job's summaries output ("summaries" beside the lake unless the
// job names another place), one dataset per summary table (request_monthly, agency_daily,
// request_heat, request_geo):
//
//	<table>/city=<c>/year=<y>/month=<m>/part-00000.parquet   that group's rows of the table
//	_temporary/<job>/…                                       task attempts' stage manifests
//
// The summaries root has no _SUCCESS of its own: the lake's lists its files, so one file
// says what the job committed. Lakes of earlier versions (summaries in <lake>/_summary/,
// zero-padded months) keep working, and each commit removes the old copies of the groups it
// rewrites (see OldLayout).
//
// As in Spark's partitioned writes, the partition columns (city, year, month) live in the
// path, not in the data files. Spark and Hive skip names beginning with "_" or "."; DuckDB's
// "**" glob does not, so nothing of that kind ends in .parquet: the files a running job
// stages on local disk end in ".pending-<random>".
//
// The commit protocol (DESIGN.md step 7) is one protocol over objstore, the same on local
// disk and S3: a task attempt writes only into its own Stages (one per root), each staged
// file a pending upload to its final name that stays invisible (a multipart upload left
// incomplete on S3, a hidden staged file beside the final name on local disk); the
// coordinator accepts one attempt per task; Commit then completes the accepted uploads of
// each produced group in both trees (a metadata operation or a rename: no data is copied),
// deletes files of the group that the job did not write, aborts the rest (the S3A "magic"
// committer), and writes the _SUCCESS manifest last. Each group directory holds one file per
// dataset, so a reader of a group sees the old file or the new one, never a mix. Re-running
// a job replaces its groups, so the lake never holds duplicates; a failed or cancelled job
// leaves no visible object and no pending upload. The rejects of the accepted map attempts
// replace the previous run's whole (CommitRejects).
package lake
