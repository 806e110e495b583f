// Command benchrun runs the benchmarks that compare the engine with something outside it and
// that take sizes no test can: make bench-duckdb and make bench-scale.
//
//	benchrun duckdb [flags]   the normalize job and DuckDB's equivalent (scripts/duckdb), run
//	                          alternately on one corpus: wall time, CPU time and peak RSS of each,
//	                          and the ratios ours/DuckDB's
//	benchrun scale [flags]    the normalize job on ten-city corpora of several sizes with NYC far
//	                          the largest: time, records/s, MB/s per core, peak RSS, peak
//	                          map-output disk, lake size, and whether the cost per GB stays flat
//
// Every figure of a child comes from the kernel (wait4's rusage: peak RSS, user and system CPU)
// or from the clock around it, the same way for both sides of a comparison. The machine these
// run on is shared: compare ratios from one run, not absolute numbers across runs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "duckdb":
		err = duckdbMain(ctx, os.Args[2:])
	case "scale":
		err = scaleMain(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchrun duckdb|scale [flags] (benchrun duckdb -h, benchrun scale -h)")
	os.Exit(2)
}
