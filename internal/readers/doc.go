// Package readers holds the tests that open a job's output with readers other than this
// repository's own: DuckDB, through its Go binding, reads the lake and each summary dataset
// at its root with Hive partitioning, as an analyst would. The package has no code; its tests
// live here so that only they pay for DuckDB's cgo build (see the README, "What comes out").
package readers
