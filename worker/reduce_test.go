package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/summary"
	"github.com/ireports/ireports/task"
)

func TestReduceInputErr(t *testing.T) {
	rt := task.Reduce{Job: "j", Index: 2, Attempt: 1}
	loc := shuffle.Location{Worker: "10.0.0.7:7070", Job: "j", Map: 5}
	seg := func(err error) error { return &shuffle.SegmentError{Loc: loc, Reducer: 2, Err: err} }
	for _, c := range []struct {
		name  string
		err   error
		lost  bool   // the map output must be recomputed
		fatal string // the job must fail at once, saying this
	}{
		{name: "unreachable worker", err: seg(fmt.Errorf("%w: connection refused", shuffle.ErrFetch)), lost: true},
		{name: "corrupt segment", err: seg(fmt.Errorf("%w: checksum", shuffle.ErrCorrupt)), lost: true},
		{name: "out of file descriptors here", err: seg(&os.PathError{Op: "open", Path: "/x", Err: syscall.EMFILE})},
		{name: "local disk full", err: seg(&os.PathError{Op: "write", Path: "/spill", Err: syscall.ENOSPC})},
		{name: "not about a map output", err: errors.New("merge: out of order")},
		// Before, each of these was a lost map output: four rounds of map re-runs, then a
		// failure whose message was about retries.
		{name: "token refused", err: seg(fmt.Errorf("%w: 401 Unauthorized", shuffle.ErrUnauthorized)),
			fatal: "worker 10.0.0.7:7070 refused the cluster token (401): check --token-file on every node"},
		{name: "other protocol", err: seg(fmt.Errorf("%w: speaks 2", shuffle.ErrProtocol)),
			fatal: "worker 10.0.0.7:7070 speaks another shuffle protocol"},
		{name: "untrusted certificate", err: seg(fmt.Errorf("%w: x509: unknown authority", shuffle.ErrUntrusted)),
			fatal: "does not trust the TLS certificate of worker 10.0.0.7:7070: check --tls-ca"},
		// Before, these planning bugs were lost map outputs too: re-run, and named again.
		{name: "unsafe job id", err: seg(fmt.Errorf(`%w: job id "../x"`, shuffle.ErrBadName)),
			fatal: "the job's plan names a segment that cannot exist"},
		{name: "reducer outside the map output", err: seg(fmt.Errorf("%w: reducer 7 of 2", shuffle.ErrReducers)),
			fatal: "the job's plan names a segment that cannot exist"},
		// A map output of another format version was left by another release of its worker:
		// the map task's re-run writes it anew.
		{name: "another format version", err: seg(fmt.Errorf("%w: header: version 2, want 1", shuffle.ErrVersion)), lost: true},
	} {
		err := reduceInputErr(context.Background(), rt, c.err)
		var lost *task.LostError
		got := errors.As(err, &lost)
		if got != c.lost || (got && lost.Map != 5) {
			t.Errorf("%s: %v (lost %v), want lost %v of map 5", c.name, err, got, c.lost)
		}
		// What the coordinator sees: the failure as it crosses the wire.
		f := task.FailureOf(err)
		if f.Fatal != (c.fatal != "") || !strings.Contains(f.Message, c.fatal) {
			t.Errorf("%s: failure %+v, want fatal %v saying %q", c.name, f, c.fatal != "", c.fatal)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := reduceInputErr(ctx, rt, seg(shuffle.ErrFetch)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// mergeGroup merges job (one version of each request, in request id order) with the lake
// at root's group k as a merging reducer does, and returns the group's rows as written.
func mergeGroup(t *testing.T, store objstore.Store, root string, k record.Key, job []record.Request, res *task.ReduceResult) []lake.Row {
	t.Helper()
	ctx := context.Background()
	// The merged group is written to a lake of its own, so that reading it back does not
	// read the committed group it was merged with.
	out, sumRoot := t.TempDir(), t.TempDir()
	stage, err := lake.NewStage(store, out, "job", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := lake.NewStage(store, sumRoot, "job", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newGroupMerge(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	gw, err := newGroupWriter(ctx, stage, sums, k, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.finish(ctx, store, root, k, job, gw, res); err != nil {
		t.Fatal(err)
	}
	g, err := gw.close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Staged files are invisible until the job commits them.
	if err := errors.Join(stage.Finish(ctx), sums.Finish(ctx)); err != nil {
		t.Fatal(err)
	}
	cg := lake.CommitGroup{Key: k, Rows: g.Rows, AttemptDir: stage.Dir(), SummaryDir: sums.Dir()}
	if _, err := lake.Commit(ctx, store, lake.Roots{Lake: out, Summaries: sumRoot}, "job", "test", lake.RunStats{}, []lake.CommitGroup{cg}, time.Now()); err != nil {
		t.Fatal(err)
	}
	rows, err := lake.ReadParquet[lake.Row](filepath.Join(out, filepath.FromSlash(g.Files[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestMergeLake: the job's versions replace the lake's unless the lake's is newer; the
// lake's other rows are carried; a new group has nothing to merge. The committed group is
// found in a lake of today's layout and in one of earlier versions (month=02).
func TestMergeLake(t *testing.T) {
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := record.Key{City: "inc", Year: 2024, Month: 2}
	at := func(h int) time.Time { return time.Date(2024, 2, 1, h, 0, 0, 0, time.UTC) }
	req := func(id string, updated int, st record.Status) record.Request {
		return record.Request{City: k.City, Year: k.Year, Month: k.Month, RequestID: id, CreatedAt: at(0), UpdatedAt: at(updated), Status: st}
	}
	committed := []record.Request{req("1", 1, record.StatusOpen), req("2", 5, record.StatusClosed), req("3", 1, record.StatusOpen)}
	rows := make([]lake.Row, len(committed))
	for i := range committed {
		rows[i] = lake.ToRow(&committed[i])
	}
	for _, dir := range []string{lake.GroupPath(k), "city=inc/year=2024/month=02"} {
		t.Run(dir, func(t *testing.T) {
			root := t.TempDir()
			if err := lake.WriteParquet(filepath.Join(root, filepath.FromSlash(dir), lake.PartFile(0)), rows); err != nil {
				t.Fatal(err)
			}
			job := []record.Request{req("1", 3, record.StatusClosed), req("2", 2, record.StatusOpen), req("4", 2, record.StatusOpen)}
			var res task.ReduceResult
			got := mergeGroup(t, store, root, k, job, &res)
			byID := map[string]string{}
			for _, r := range got {
				byID[r.RequestID] = r.Status
			}
			want := map[string]string{"1": "closed", "2": "closed", "3": "open", "4": "open"}
			if len(got) != len(want) {
				t.Errorf("merged %d requests, want %d: %v", len(got), len(want), byID)
			}
			for id, st := range want {
				if byID[id] != st {
					t.Errorf("request %s: %v, want %v", id, byID[id], st)
				}
			}
			if res.Carried != 3 || res.Duplicates != 2 {
				t.Errorf("carried %d, duplicates %d; want 3 and 2", res.Carried, res.Duplicates)
			}

			res = task.ReduceResult{}
			fresh := []record.Request{req("9", 1, record.StatusOpen)}
			other := record.Key{City: "inc", Year: 2024, Month: 3}
			fresh[0].Month = 3
			if got := mergeGroup(t, store, root, other, fresh, &res); len(got) != 1 || res.Carried != 0 {
				t.Errorf("a new group: %d requests, carried %d", len(got), res.Carried)
			}
		})
	}
}

// TestMergeModeStreams runs a merging reduce task over a group 30 times its chunk (the
// committed group 20 chunks, the job's records 15, a third of them updates of committed
// requests): the reducer never holds more than two chunks of records at once (before, it
// held the whole group, committed and new, to match them by request id), and the group it
// writes is the merge: every request once, the newer version of each, row groups of one
// chunk each sorted by creation time, committed rows counted as carried and the losing
// versions as duplicates.
func TestMergeModeStreams(t *testing.T) {
	defer func(n int) { chunkRows = n }(chunkRows)
	chunkRows = 100
	var held int
	testHookMergeClosed = func(n int) { held = n }
	defer func() { testHookMergeClosed = nil }()

	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.job"), []byte(benchReduceJob), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.ParseFile(filepath.Join(dir, "job.job"))
	if err != nil {
		t.Fatal(err)
	}
	spec.Merge = true
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := record.Key{City: "small", Year: 2024, Month: 3}
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	req := func(i, updated int, st record.Status) record.Request {
		return record.Request{City: k.City, Year: k.Year, Month: k.Month, RequestID: fmt.Sprintf("%06d", i),
			CreatedAt: base.Add(time.Duration((i*7919)%3000) * time.Minute), UpdatedAt: base.Add(time.Duration(updated) * time.Hour),
			Status: st, Agency: "dpw"}
	}
	const committed, total = 2000, 3000
	var rows []lake.Row
	for i := range committed {
		r := req(i, 10, record.StatusOpen)
		rows = append(rows, lake.ToRow(&r))
	}
	if err := lake.WriteParquet(filepath.Join(spec.Output.Parquet, filepath.FromSlash(lake.GroupPath(k)), lake.PartFile(0)), rows); err != nil {
		t.Fatal(err)
	}
	// The job: requests 1500..2999, updates of committed ones newer for even ids and older
	// for odd ones; every tenth request twice (an older version first).
	var job []record.Request
	want := map[string]string{}
	for i := range committed {
		want[fmt.Sprintf("%06d", i)] = "open"
	}
	jobDups := 0
	for i := 1500; i < total; i++ {
		updated := 20
		if i < committed && i%2 == 1 {
			updated = 5 // older than the lake's
		}
		if i%10 == 0 {
			old := req(i, updated-1, record.StatusOther)
			old.Ord = uint64(2 * i)
			job = append(job, old)
			jobDups++
		}
		r := req(i, updated, record.StatusClosed)
		r.Ord = uint64(2*i + 1)
		job = append(job, r)
		if i >= committed || i%2 == 0 {
			want[r.RequestID] = "closed"
		}
	}
	env := Env{DataDir: filepath.Join(dir, "data"), Store: store, Fetcher: shuffle.LocalFetcher{}}
	locs := benchMapOutputs(t, env.DataDir, "merge", job, 3)
	res, err := RunReduce(ctx, spec, env, task.Reduce{Job: "merge", Index: 0, Attempt: 1, MapOutput: locs})
	if err != nil {
		t.Fatal(err)
	}
	if held == 0 || held > 2*chunkRows {
		t.Errorf("the reducer held up to %d records at once, want at most %d (two chunks) of a %d-record group", held, 2*chunkRows, total+committed-500)
	}
	if res.RecordsOut != total || res.Carried != committed || res.Duplicates != int64(500+jobDups) {
		t.Errorf("records out %d, carried %d, duplicates %d; want %d, %d, %d", res.RecordsOut, res.Carried, res.Duplicates, total, committed, 500+jobDups)
	}
	if len(res.Groups) != 1 || len(res.Groups[0].Files) != 1 {
		t.Fatalf("groups %+v, want one of one file", res.Groups)
	}
	// Staged files are invisible until the job commits them.
	cg := lake.CommitGroup{Key: k, Rows: res.Groups[0].Rows, AttemptDir: res.Dir, SummaryDir: res.SummaryDir}
	if _, err := lake.Commit(ctx, store, lake.Roots{Lake: spec.Output.Parquet, Summaries: spec.Output.Summaries}, "merge", "test", lake.RunStats{}, []lake.CommitGroup{cg}, time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(spec.Output.Parquet, filepath.FromSlash(res.Groups[0].Files[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rg := range pf.RowGroups() {
		if rg.NumRows() > int64(chunkRows) {
			t.Errorf("a row group of %d rows, want at most %d", rg.NumRows(), chunkRows)
		}
		rows := make([]lake.Row, rg.NumRows())
		r := parquet.NewGenericRowGroupReader[lake.Row](rg)
		if _, err := r.Read(rows); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		for i := range rows {
			if i > 0 && rows[i].CreatedAt < rows[i-1].CreatedAt {
				t.Fatalf("row group not sorted by created_at at row %d", i)
			}
			if _, dup := got[rows[i].RequestID]; dup {
				t.Errorf("request %s written twice", rows[i].RequestID)
			}
			got[rows[i].RequestID] = rows[i].Status
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d requests written, want %d", len(got), len(want))
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("request %s: status %q, want %q", id, got[id], st)
			break
		}
	}
}

// TestGroupWriterLargeGroup streams a group larger than one row group: every request is
// written once, each row group is sorted by creation time, and the summaries count them all.
func TestGroupWriterLargeGroup(t *testing.T) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, sumRoot := t.TempDir(), t.TempDir()
	stage, err := lake.NewStage(store, root, "job", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := lake.NewStage(store, sumRoot, "job", "r-0", 1)
	if err != nil {
		t.Fatal(err)
	}
	k := record.Key{City: "big", Year: 2024, Month: 1}
	gw, err := newGroupWriter(ctx, stage, sums, k, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	n := lake.RowGroupRows + 1000
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		// Request ids in merge order, creation times scrambled.
		r := record.Request{City: k.City, Year: k.Year, Month: k.Month, RequestID: fmt.Sprintf("%08d", i),
			CreatedAt: base.Add(time.Duration((i*7919)%n) * time.Second), Status: record.StatusOpen}
		if err := gw.add(&r); err != nil {
			t.Fatal(err)
		}
	}
	g, err := gw.close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Four summary datasets' files and the publish file.
	if g.Rows != int64(n) || len(g.Files) != 1 || len(g.SummaryFiles) != 5 {
		t.Fatalf("group: %d rows, %d files, %d summary files; want %d rows, 1 file, 5 summary files", g.Rows, len(g.Files), len(g.SummaryFiles), n)
	}
	if got, want := g.SummaryFiles[4].Path, filepath.ToSlash(lake.PublishFile(k)); got != want {
		t.Errorf("the fifth summary file is %s, want the publish file %s", got, want)
	}
	// Staged files are invisible until the job commits them.
	if err := errors.Join(stage.Finish(ctx), sums.Finish(ctx)); err != nil {
		t.Fatal(err)
	}
	cg := lake.CommitGroup{Key: k, Rows: g.Rows, AttemptDir: stage.Dir(), SummaryDir: sums.Dir()}
	if _, err := lake.Commit(ctx, store, lake.Roots{Lake: root, Summaries: sumRoot}, "job", "test", lake.RunStats{}, []lake.CommitGroup{cg}, time.Now()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(g.Files[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(pf.RowGroups()) != 2 {
		t.Errorf("%d row groups, want 2", len(pf.RowGroups()))
	}
	seen := map[string]bool{}
	for _, rg := range pf.RowGroups() {
		rows := make([]lake.Row, rg.NumRows())
		r := parquet.NewGenericRowGroupReader[lake.Row](rg)
		if _, err := r.Read(rows); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		for i := range rows {
			if i > 0 && rows[i].CreatedAt < rows[i-1].CreatedAt {
				t.Fatalf("row group not sorted by created_at at row %d", i)
			}
			seen[rows[i].RequestID] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct requests read back, want %d", len(seen), n)
	}
	if want := filepath.ToSlash(filepath.Join(lake.SummaryGroupPath(summary.TableMonthly, k), lake.PartFile(0))); g.SummaryFiles[0].Path != want {
		t.Errorf("monthly summary file %s, want %s", g.SummaryFiles[0].Path, want)
	}
	monthly, err := lake.ReadParquet[lake.MonthlyRow](filepath.Join(sumRoot, filepath.FromSlash(g.SummaryFiles[0].Path)))
	if err != nil || len(monthly) != 1 || monthly[0].Requests != int64(n) {
		t.Errorf("monthly summary %+v, err %v; want one row counting %d", monthly, err, n)
	}
}
