package pgsink

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// BenchmarkPublish publishes every group of a synthetic job to a real server, for jobs of
// growing size, and reports summary rows per second. Each group holds about 2,700 rows
// across the four tables, the size of a busy city's month; 400 groups are about a million
// rows, more than `make demo`'s job publishes (about 750,000). Two cases, each with the rows
// encoded by the publish (from=rows) and as the reducers' publish files (from=files):
//
//   - fresh: the tables are empty, as at a demo's first publish;
//   - replace: the tables already hold the job's groups, as when a job runs again or
//     `coordinator publish` repeats a publish.
//
// Each case runs with the server at wal_level=replica (PostgreSQL's default) and at
// wal_level=minimal (scripts/pg-local.sh's throwaway server, which `make demo` starts), where
// a COPY into a table truncated in the same transaction writes no WAL.
//
// Run: go test -run '^$' -bench Publish -benchtime 2x ./pgsink
func BenchmarkPublish(b *testing.B) {
	pg := testenv.Postgres(b)
	for _, wal := range []string{"replica", "minimal"} {
		setWALLevel(b, pg, wal)
		b.Run("wal="+wal, func(b *testing.B) { benchmarkPublish(b, pg, wal) })
	}
}

// setWALLevel restarts pg with wal_level set to level.
func setWALLevel(b *testing.B, pg *testenv.PostgresServer, level string) {
	senders := "10" // PostgreSQL's default
	if level == "minimal" {
		senders = "0" // wal_level=minimal requires it
	}
	db, err := sql.Open("postgres", pg.DatabaseURL("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"ALTER SYSTEM SET wal_level = " + level, "ALTER SYSTEM SET max_wal_senders = " + senders} {
		if _, err := db.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if err := pg.Stop(); err != nil {
		b.Fatal(err)
	}
	if err := pg.Start(); err != nil {
		b.Fatal(err)
	}
}

func benchmarkPublish(b *testing.B, pg *testenv.PostgresServer, wal string) {
	for _, groups := range []int{10, 100, 400} {
		for _, replace := range []bool{false, true} {
			for _, from := range []string{"rows", "files"} {
				benchmarkPublishCase(b, pg, wal, groups, replace, from)
			}
		}
	}
}

// benchmarkPublishCase is one case of BenchmarkPublish: the groups' rows are loaded as
// summary.Tables and encoded by the publish (from "rows": a lake of an older binary), or come
// as their reducers encoded them (from "files", the publish files, read from memory here).
func benchmarkPublishCase(b *testing.B, pg *testenv.PostgresServer, wal string, groups int, replace bool, from string) {
	name := fmt.Sprintf("fresh/groups=%d/from=%s", groups, from)
	if replace {
		name = fmt.Sprintf("replace/groups=%d/from=%s", groups, from)
	}
	b.Run(name, func(b *testing.B) {
		dbName := fmt.Sprintf("bench_%s_%d_%t_%s", wal, groups, replace, from)
		db, err := sql.Open("postgres", pg.CreateDatabase(b, dbName))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		s, err := New(db, DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		keys := make([]record.Key, groups)
		tabs := map[record.Key]summary.Tables{}
		rows := 0
		for i := range keys {
			keys[i] = record.Key{City: "bench", Year: 2000 + i/12, Month: 1 + i%12}
			tabs[keys[i]] = syntheticGroup(keys[i])
			rows += len(tableRows(tabs[keys[i]]))
		}
		load := func(k record.Key) (summary.Tables, error) { return tabs[k], nil }
		var encoded EncodedFunc
		if from == "files" {
			files := map[record.Key][]byte{}
			for k, t := range tabs {
				data, err := pgcopy.Marshal(k, &t)
				if err != nil {
					b.Fatal(err)
				}
				files[k] = data
			}
			encoded = func(k record.Key) (*pgcopy.Group, bool, error) {
				g, err := pgcopy.Unmarshal(k, files[k])
				return g, err == nil, err
			}
		}
		job := JobRun{ID: "bench", Name: "bench", Status: "succeeded", Started: time.Now()}
		publish := func() {
			if err := s.PublishEncoded(ctx, job, keys, encoded, load); err != nil {
				b.Fatal(err)
			}
		}
		empty := func() {
			if _, err := db.ExecContext(ctx, "TRUNCATE "+strings.Join(summaryTables, ", ")); err != nil {
				b.Fatal(err)
			}
		}
		if replace {
			publish()
		}
		cpu0 := processCPU(b) + serverCPU(b, pg)
		b.ResetTimer()
		for b.Loop() {
			if !replace {
				b.StopTimer()
				empty()
				b.StartTimer()
			}
			publish()
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		// On a loaded machine the wall time says more about the neighbours than about
		// the publish; the CPU both sides spent does not.
		cpu := processCPU(b) + serverCPU(b, pg) - cpu0
		b.ReportMetric(float64(rows)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
	})
}

// processCPU is the CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the CPU time pg's server has used: its postmaster's, its exited children's
// and its live children's (backends and background workers), read from /proc.
func serverCPU(b *testing.B, pg *testenv.PostgresServer) time.Duration {
	pidFile, err := os.ReadFile(filepath.Join(pg.Dir, "data", "postmaster.pid"))
	if err != nil {
		b.Fatal(err)
	}
	postmaster := strings.SplitN(string(pidFile), "\n", 2)[0]
	// stat returns the fields of /proc/PID/stat after the command name, from the state
	// (field 3) on.
	stat := func(pid string) []string {
		s, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			return nil // exited meanwhile
		}
		return strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:]))
	}
	ticks := func(f []string, fields ...int) (n int64) {
		for _, i := range fields {
			v, _ := strconv.ParseInt(f[i-3], 10, 64)
			n += v
		}
		return n
	}
	f := stat(postmaster)
	if f == nil {
		b.Fatalf("no postmaster %s", postmaster)
	}
	total := ticks(f, 14, 15, 16, 17) // utime, stime, cutime, cstime
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if f := stat(p.Name()); len(f) > 14 && f[4-3] == postmaster {
			total += ticks(f, 14, 15)
		}
	}
	return time.Duration(total) * time.Second / 100 // USER_HZ
}

// syntheticGroup returns one group's tables: 20 request types × 10 agencies monthly rows,
// 10 agencies × the month's days, 10 agencies × 168 hours of the week, and 500 geo bins,
// each table sorted by its key as summary.Compute sorts it.
func syntheticGroup(k record.Key) summary.Tables {
	var t summary.Tables
	y, m := int32(k.Year), int32(k.Month)
	med := 12.5
	for rt := range 20 {
		for ag := range 10 {
			t.Monthly = append(t.Monthly, summary.Monthly{City: k.City, Year: y, Month: m,
				RequestType: fmt.Sprintf("type %d", rt), Agency: fmt.Sprintf("agency %d", ag),
				Requests: 100, Closed: 90, Open: 10, MedianResolutionHours: &med, P90ResolutionHours: &med})
		}
	}
	first := time.Date(k.Year, time.Month(k.Month), 1, 0, 0, 0, 0, time.UTC)
	for ag := range 10 {
		for d := first; d.Month() == first.Month(); d = d.AddDate(0, 0, 1) {
			t.AgencyDaily = append(t.AgencyDaily, summary.AgencyDaily{City: k.City, Agency: fmt.Sprintf("agency %d", ag),
				Day: int32(d.Unix() / 86400), Opened: 30, Closed: 25, MedianResolutionHours: &med})
		}
		for wd := range 7 {
			for h := range 24 {
				t.Heat = append(t.Heat, summary.Heat{City: k.City, Agency: fmt.Sprintf("agency %d", ag), Year: y, Month: m,
					Weekday: int32(wd), Hour: int32(h), Requests: 5})
			}
		}
	}
	for i := range 500 {
		t.Geo = append(t.Geo, summary.Geo{City: k.City, Year: y, Month: m, RequestType: fmt.Sprintf("type %d", i%20),
			LatBin: 40 + float64(i/25)*summary.GeoBinDegrees, LonBin: -74 + float64(i%25)*summary.GeoBinDegrees, Requests: 3})
	}
	slices.SortFunc(t.Monthly, func(a, b summary.Monthly) int {
		return cmp.Or(cmp.Compare(a.RequestType, b.RequestType), cmp.Compare(a.Agency, b.Agency))
	})
	slices.SortFunc(t.AgencyDaily, func(a, b summary.AgencyDaily) int {
		return cmp.Or(cmp.Compare(a.Agency, b.Agency), cmp.Compare(a.Day, b.Day))
	})
	slices.SortFunc(t.Heat, func(a, b summary.Heat) int {
		return cmp.Or(cmp.Compare(a.Agency, b.Agency), cmp.Compare(a.Weekday, b.Weekday), cmp.Compare(a.Hour, b.Hour))
	})
	slices.SortFunc(t.Geo, func(a, b summary.Geo) int {
		return cmp.Or(cmp.Compare(a.RequestType, b.RequestType), cmp.Compare(a.LatBin, b.LatBin), cmp.Compare(a.LonBin, b.LonBin))
	})
	return t
}
