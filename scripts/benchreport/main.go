// Command benchreport turns `coordinator run --json` output into the numbers make bench
// reports: throughput per core, records per second and peak memory.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: benchreport RESULT.json CORES")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cores, _ := strconv.Atoi(os.Args[2])
	var r struct {
		Status     string
		Bytes      int64
		RecordsIn  int64              `json:"records_in"`
		RecordsOut int64              `json:"records_out"`
		Rejected   int64              `json:"rejected"`
		Duplicates int64              `json:"duplicates_removed"`
		Groups     int                `json:"groups"`
		MapTasks   int                `json:"map_tasks"`
		Seconds    float64            `json:"seconds"`
		PeakRSS    int64              `json:"peak_rss_bytes"`
		Phases     map[string]float64 `json:"phase_seconds"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mbs := float64(r.Bytes) / 1e6 / r.Seconds
	fmt.Printf("status            %s\n", r.Status)
	fmt.Printf("input             %.1f MB, %d records, %d map tasks, %d groups\n", float64(r.Bytes)/1e6, r.RecordsIn, r.MapTasks, r.Groups)
	fmt.Printf("records           %d out, %d rejected, %d duplicates removed\n", r.RecordsOut, r.Rejected, r.Duplicates)
	fmt.Printf("wall time         %.2f s\n", r.Seconds)
	fmt.Printf("throughput        %.1f MB/s total, %.1f MB/s per core (%d cores)\n", mbs, mbs/float64(cores), cores)
	fmt.Printf("records/s         %.0f total, %.0f per core\n", float64(r.RecordsIn)/r.Seconds, float64(r.RecordsIn)/r.Seconds/float64(cores))
	fmt.Printf("peak RSS          %.1f MiB\n", float64(r.PeakRSS)/(1<<20))
	fmt.Printf("phases            plan %.2f s, map %.2f s, reduce (with shuffle) %.2f s, commit %.2f s\n",
		r.Phases["plan"], r.Phases["map"], r.Phases["reduce"], r.Phases["commit"])
}
