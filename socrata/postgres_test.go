package socrata_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/socrata"
)

// TestPostgres runs against one throwaway PostgreSQL server (skipped where PostgreSQL is not
// installed): the watermark store itself, every pull scenario with watermarks in Postgres,
// a kill -9 between storing a batch and advancing the watermark, and Postgres going away.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped under -short")
	}
	pg := testenv.Postgres(t)
	var dbs atomic.Int64
	// newDB is a fresh, migrated database, so that every scenario starts with no watermark.
	newDB := func(t *testing.T) (*sql.DB, string) {
		dsn := pg.CreateDatabase(t, fmt.Sprintf("socrata_%d", dbs.Add(1)))
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := pgsink.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		return db, dsn
	}
	pgFactory := func(t *testing.T) socrata.WatermarkStore {
		db, _ := newDB(t)
		return socrata.NewPGWatermarks(db)
	}

	t.Run("watermark store", func(t *testing.T) {
		db, _ := newDB(t)
		testWatermarkStore(t, socrata.NewPGWatermarks(db))
	})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, pgFactory) })
	}
	t.Run("kill -9 between batch and watermark", func(t *testing.T) {
		db, dsn := newDB(t)
		testKill9(t, socrata.NewPGWatermarks(db), dsn)
	})
	t.Run("postgres down", func(t *testing.T) {
		db, _ := newDB(t)
		testPostgresDown(t, pg, socrata.NewPGWatermarks(db))
	})
}

func TestMemWatermarks(t *testing.T) { testWatermarkStore(t, newMemWatermarks()) }

// testWatermarkStore checks the compare-and-set contract of socrata.WatermarkStore.
func testWatermarkStore(t *testing.T, s socrata.WatermarkStore) {
	ctx := context.Background()
	a := socrata.Watermark{UpdatedAt: "2024-06-01T00:00:00.000Z", ID: "row-aaaa~aaaa.aaaa"}
	b := socrata.Watermark{UpdatedAt: "2024-06-01T00:00:00.000Z", ID: "row-bbbb~bbbb.bbbb"}
	c := socrata.Watermark{UpdatedAt: "2024-06-02T08:15:00.123Z", ID: "row-it's~odd"}
	get := func(source string) socrata.Watermark {
		t.Helper()
		w, err := s.Get(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	steps := []struct {
		name     string
		from, to socrata.Watermark
		moved    bool
		after    socrata.Watermark
	}{
		{"first advance", socrata.Watermark{}, a, false, a},
		{"repeated first advance", socrata.Watermark{}, a, false, a},
		{"first advance of another pull", socrata.Watermark{}, b, true, a},
		{"advance", a, b, false, b},
		{"repeated advance", a, b, false, b},
		{"stale advance", a, c, true, b},
		{"quote in id", b, c, false, c},
	}
	if w := get("nyc_api"); !w.IsZero() {
		t.Fatalf("new store holds %v", w)
	}
	for _, st := range steps {
		err := s.Advance(ctx, "nyc_api", st.from, st.to)
		if st.moved != errors.Is(err, socrata.ErrWatermarkMoved) || !st.moved && err != nil {
			t.Errorf("%s: Advance(%v → %v) = %v, want moved=%v", st.name, st.from, st.to, err, st.moved)
		}
		if w := get("nyc_api"); w != st.after {
			t.Errorf("%s: watermark %v, want %v", st.name, w, st.after)
		}
	}
	if w := get("other"); !w.IsZero() {
		t.Errorf("another source has watermark %v", w)
	}
}

const killHelperEnv = "SOCRATA_KILL_HELPER"

// TestKillHelper is not a test: testKill9 runs the test binary with only this function, as
// a pull process that SIGKILLs itself right after storing its third batch, before the
// watermark advances.
func TestKillHelper(t *testing.T) {
	spec := os.Getenv(killHelperEnv)
	if spec == "" {
		t.Skip("helper process of testKill9")
	}
	// endpoint|raw|dsn|kill at advance n
	f := strings.Split(spec, "|")
	at, _ := strconv.Atoi(f[3])
	db, err := sql.Open("postgres", f[2])
	if err != nil {
		t.Fatal(err)
	}
	store := &killingStore{WatermarkStore: socrata.NewPGWatermarks(db), at: at}
	objs, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = socrata.Pull(context.Background(), endpointSource(f[0], f[1]), store, objs)
	t.Fatalf("Pull returned (%v) instead of being killed", err)
}

type killingStore struct {
	socrata.WatermarkStore
	at, calls int
}

func (s *killingStore) Advance(ctx context.Context, source string, from, to socrata.Watermark) error {
	s.calls++
	if s.calls == s.at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	return s.WatermarkStore.Advance(ctx, source, from, to)
}

func testKill9(t *testing.T, store socrata.WatermarkStore, dsn string) {
	ctx := context.Background()
	srv := newServer(t, generated)
	objs, raw := localStore(t), t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+strings.Join([]string{srv.Endpoint, raw, dsn, "3"}, "|"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper: %v, want killed by SIGKILL; output:\n%s", err, out)
	}

	names, err := socrata.Batches(ctx, objs, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 {
		t.Fatalf("%d batches after the kill, want 3", len(names))
	}
	// The watermark is the end of one of the first two pages: the second, since the first
	// advance succeeded too. Whichever it is, it must be the end of a stored page that is
	// not the third.
	wm, err := store.Get(ctx, "nyc_api")
	if err != nil || wm.IsZero() {
		t.Fatalf("watermark after the kill: %v, %v", wm, err)
	}
	ends := 0
	for _, n := range names {
		b, err := objstore.ReadAll(ctx, objs, n)
		if err != nil {
			t.Fatal(err)
		}
		pg := pageEnd(t, b)
		if pg == wm {
			ends++
		}
	}
	if ends != 1 {
		t.Fatalf("watermark %v ends %d stored batches, want 1", wm, ends)
	}

	res, err := socrata.Pull(ctx, testSource(srv, raw), store, objs)
	if err != nil || res.Status != socrata.StatusCaughtUp || res.From != wm {
		t.Fatalf("re-run after the kill: %+v, %v", res, err)
	}
	lake := readLake(t, readBatches(t, objs, raw))
	if lake.raw != srv.Len() {
		t.Errorf("batches hold %d records, want %d: the re-fetched page should have replaced its batch", lake.raw, srv.Len())
	}
	sameLake(t, lake, truth(t, srv))
}

// testPostgresDown: when Postgres dies between storing a batch and advancing the watermark,
// Pull fails (it is not the source that is unavailable) with that one batch ahead of the
// watermark; once Postgres is back, the next pull catches up with nothing counted twice.
func testPostgresDown(t *testing.T, pg *testenv.PostgresServer, store socrata.WatermarkStore) {
	ctx := context.Background()
	srv := newServer(t, generated)
	objs, raw := localStore(t), t.TempDir()
	src := testSource(srv, raw)

	res, err := socrata.Pull(ctx, src, &stoppingStore{WatermarkStore: store, pg: pg, at: 3}, objs)
	if err == nil || errors.Is(err, socrata.ErrSourceUnavailable) || res.Status != socrata.StatusFailed || len(res.Batches) != 2 {
		t.Fatalf("Pull with Postgres down: %+v, %v; want a failure that is not the source's after 2 batches", res, err)
	}
	if _, err := socrata.Pull(ctx, src, store, objs); err == nil {
		t.Fatal("Pull succeeded with Postgres down")
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	res2, err := socrata.Pull(ctx, src, store, objs)
	if err != nil || res2.Status != socrata.StatusCaughtUp || res2.From != res.To {
		t.Fatalf("Pull after Postgres restarted: %+v, %v", res2, err)
	}
	lake := readLake(t, readBatches(t, objs, raw))
	if lake.raw != srv.Len() {
		t.Errorf("batches hold %d records, want %d", lake.raw, srv.Len())
	}
	sameLake(t, lake, truth(t, srv))
}

// stoppingStore stops Postgres before the at-th Advance.
type stoppingStore struct {
	socrata.WatermarkStore
	pg        *testenv.PostgresServer
	at, calls int
}

func (s *stoppingStore) Advance(ctx context.Context, source string, from, to socrata.Watermark) error {
	s.calls++
	if s.calls == s.at {
		if err := s.pg.Stop(); err != nil {
			return err
		}
	}
	return s.WatermarkStore.Advance(ctx, source, from, to)
}
