// Package coordinatorcli is the coordinator binary's command line: run, plan, serve,
// submit, status, cancel, publish, lake, migrate, gen, schema and version (Main), and
// `coordinator serve`'s flags (ServeFlags, which terraform's boot scripts are checked
// against).
//
// It sits above package coordinator and package worker and composes them: `coordinator run`
// starts a coordinator with in-process worker daemons (internal/localcluster), and
// `coordinator plan`'s dry run (DryRun) plans with the coordinator's planner and samples
// records with the worker's normalizer (worker.Sample), so that what it shows is what a run
// would do. The engine packages below it know nothing of flags or exit codes.
package coordinatorcli
