package socrata_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/socrata"
	"github.com/ireports/ireports/socrata/sodatest"
)

// fixturePath is the real NYC SODA page the fake server serves; tests that need it skip
// where the shared data folder is absent.
func fixturePath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "shared", "data", "311", "nyc", "soda_erm2-nwe9_page.json"))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Skipf("NYC SODA fixture not found (../shared/data/311/nyc/soda_erm2-nwe9_page.json beside the repository): %v", err)
	}
	return p
}

const testToken = "test-app-token"

// newServer serves the fixture plus `generate` records, checking the app token.
func newServer(t testing.TB, generate int) *sodatest.Server {
	t.Helper()
	s, err := sodatest.New(sodatest.Config{Fixture: fixturePath(t), Generate: generate, Seed: 1, AppToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// testSource pulls srv into raw with pages of 100 and millisecond backoff.
func testSource(srv *sodatest.Server, raw string) socrata.Source {
	return endpointSource(srv.Endpoint, raw)
}

func endpointSource(endpoint, raw string) socrata.Source {
	s := socrata.DefaultSource()
	s.Name = "nyc_api"
	s.Endpoint = endpoint
	s.AppToken = testToken
	s.Schema = "nyc"
	s.PageSize = 100
	s.Start = "2024-01-01T00:00:00"
	s.Raw = raw
	s.RetryFor = 300 * time.Millisecond
	s.RequestTimeout = 2 * time.Second
	s.BackoffBase = time.Millisecond
	s.BackoffMax = 10 * time.Millisecond
	s.Logger = slog.New(slog.DiscardHandler)
	return s
}

func localStore(t testing.TB) *objstore.Router {
	r, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// memWatermarks is a socrata.WatermarkStore in memory, for the tests that do not need Postgres's
// durability (TestPostgres runs the same scenarios on the real store). advance, when set,
// runs before each Advance and can fail it.
type memWatermarks struct {
	mu      sync.Mutex // guards m and calls
	m       map[string]socrata.Watermark
	calls   int
	advance func(call int) error
}

func newMemWatermarks() *memWatermarks { return &memWatermarks{m: map[string]socrata.Watermark{}} }

var _ socrata.WatermarkStore = (*memWatermarks)(nil)

func (s *memWatermarks) Get(_ context.Context, source string) (socrata.Watermark, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[source], nil
}

func (s *memWatermarks) Advance(_ context.Context, source string, from, to socrata.Watermark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.advance != nil {
		if err := s.advance(s.calls); err != nil {
			return err
		}
	}
	if cur := s.m[source]; cur != from && cur != to {
		return fmt.Errorf("memWatermarks: %v, not %v: %w", cur, from, socrata.ErrWatermarkMoved)
	}
	s.m[source] = to
	return nil
}

// storeFactory makes a fresh, empty watermark store for one scenario.
type storeFactory func(t *testing.T) socrata.WatermarkStore

func memFactory(*testing.T) socrata.WatermarkStore { return newMemWatermarks() }

// lakeView is what the lake holds after the downstream job de-duplicates raw records by
// request id, newest version winning: the state of each request, and the raw count.
type lakeView struct {
	raw      int                       // records read, duplicates included
	requests map[string]record.Request // by request id, Ord cleared
}

// readLake normalizes SODA pages (batches in pull order, as the planner orders files) with
// the NYC schema and de-duplicates them as the reduce phase does (record.Request.Newer, the
// file index and byte offset as Ord).
func readLake(t testing.TB, pages [][]byte) lakeView {
	t.Helper()
	schema, ok := jobs.Builtin("nyc")
	if !ok {
		t.Fatal("no built-in nyc schema")
	}
	v := lakeView{requests: map[string]record.Request{}}
	for fi, b := range pages {
		n := schema.BindJSON()
		err := jobs.ScanSODA(bytes.NewReader(b), func(off int64, raw []byte) error {
			var r record.Request
			if err := n.NormalizeJSON(raw, &r); err != nil {
				return fmt.Errorf("page %d offset %d: %w", fi, off, err)
			}
			v.raw++
			r.Ord = uint64(fi)<<40 | uint64(off)
			if old, ok := v.requests[r.RequestID]; !ok || r.Newer(&old) {
				v.requests[r.RequestID] = r
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for k, r := range v.requests {
		r.Ord = 0
		v.requests[k] = r
	}
	return v
}

// readBatches reads every batch under raw, in pull order.
func readBatches(t testing.TB, objs objstore.Store, raw string) [][]byte {
	t.Helper()
	names, err := socrata.Batches(context.Background(), objs, raw)
	if err != nil {
		t.Fatal(err)
	}
	var pages [][]byte
	for _, n := range names {
		b, err := objstore.ReadAll(context.Background(), objs, n)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, b)
	}
	return pages
}

// truth is the lake one uninterrupted pull of the server's current dataset gives.
func truth(t testing.TB, srv *sodatest.Server) lakeView {
	return readLake(t, [][]byte{srv.Records()})
}

// sameLake fails the test unless the two views hold the same requests in the same state.
func sameLake(t testing.TB, got, want lakeView) {
	t.Helper()
	if len(got.requests) != len(want.requests) {
		t.Fatalf("lake holds %d requests, want %d", len(got.requests), len(want.requests))
	}
	var diffs []string
	for id, w := range want.requests {
		g, ok := got.requests[id]
		switch {
		case !ok:
			diffs = append(diffs, id+": missing")
		case g.Status != w.Status || !g.ClosedAt.Equal(w.ClosedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) ||
			g.Key() != w.Key() || g.HasLocation != w.HasLocation || g.Agency != w.Agency:
			diffs = append(diffs, fmt.Sprintf("%s: %v %v %v, want %v %v %v", id, g.Status, g.ClosedAt, g.Key(), w.Status, w.ClosedAt, w.Key()))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d requests differ, first: %v", len(diffs), diffs[:min(5, len(diffs))])
	}
}

// groupCounts summarizes a lake per (city, year, month) group: requests and closed.
func groupCounts(v lakeView) map[record.Key][2]int {
	m := map[record.Key][2]int{}
	for _, r := range v.requests {
		c := m[r.Key()]
		c[0]++
		if r.Status == record.StatusClosed {
			c[1]++
		}
		m[r.Key()] = c
	}
	return m
}

// lastKey is the watermark one full pull of srv ends at.
func lastKey(t testing.TB, srv *sodatest.Server) socrata.Watermark {
	t.Helper()
	return pageEnd(t, srv.Records())
}

// pageEnd is the watermark a page leads to: the system fields of its last record.
func pageEnd(t testing.TB, page []byte) socrata.Watermark {
	t.Helper()
	var recs []struct {
		ID        string `json:":id"`
		UpdatedAt string `json:":updated_at"`
	}
	if err := json.Unmarshal(page, &recs); err != nil || len(recs) == 0 {
		t.Fatalf("page of %d records: %v", len(recs), err)
	}
	last := recs[len(recs)-1]
	return socrata.Watermark{UpdatedAt: last.UpdatedAt, ID: last.ID}
}

func keysOf(m map[string]record.Request) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
