package socrata_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/socrata"
	"github.com/ireports/ireports/socrata/sodatest"
)

// The scenarios run on an in-memory watermark store here and on Postgres in TestPostgres.
var scenarios = []struct {
	name string
	run  func(t *testing.T, mk storeFactory)
}{
	{"uninterrupted", testUninterrupted},
	{"outage", testOutage},
	{"recovers within retry_for", testRecovers},
	{"crash between batch and watermark", testCrash},
	{"updates arrive in the next pull", testUpdates},
}

func TestPull(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, memFactory) })
	}
}

// 1,000 fixture records share one :updated_at (a bulk load) and 500 generated ones follow
// in blocks of five per second: pages of 100 cross both kinds of tie.
const generated = 500

func testUninterrupted(t *testing.T, mk storeFactory) {
	ctx := context.Background()
	srv := newServer(t, generated)
	objs, raw, store := localStore(t), t.TempDir(), mk(t)

	res, err := socrata.Pull(ctx, testSource(srv, raw), store, objs)
	if err != nil {
		t.Fatal(err)
	}
	total := srv.Len()
	if res.Status != socrata.StatusCaughtUp || res.Records != int64(total) || len(res.Batches) != (total+99)/100 ||
		res.Requests != len(res.Batches)+1 || res.Retries != 0 || !res.From.IsZero() {
		t.Fatalf("result %+v; want caught up, %d records in %d batches, one more request", res, total, (total+99)/100)
	}
	if want := lastKey(t, srv); res.To != want {
		t.Errorf("result watermark %v, want the last record %v", res.To, want)
	}
	if wm, err := store.Get(ctx, "nyc_api"); err != nil || wm != res.To {
		t.Errorf("stored watermark %v, %v; want %v", wm, err, res.To)
	}
	listed, err := socrata.Batches(ctx, objs, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listed, slices.Sorted(slices.Values(res.Batches))) {
		t.Errorf("Batches lists %d objects, want the pull's %d", len(listed), len(res.Batches))
	}
	lake := readLake(t, readBatches(t, objs, raw))
	if lake.raw != total {
		t.Errorf("batches hold %d records, want %d", lake.raw, total)
	}
	sameLake(t, lake, truth(t, srv))

	// Every request: the keyset query of the real API, with the token.
	qs := srv.Queries()
	for i, q := range qs {
		if q.Get("$select") != ":*,*" || q.Get("$order") != ":updated_at,:id" || q.Get("$limit") != "100" {
			t.Fatalf("request %d: %v", i, q)
		}
	}
	if w := qs[0].Get("$where"); w != ":updated_at >= '2024-01-01T00:00:00'" {
		t.Errorf("first $where %q", w)
	}
	b1, err := objstore.ReadAll(ctx, objs, res.Batches[0])
	if err != nil {
		t.Fatal(err)
	}
	first := pageEnd(t, b1)
	want := ":updated_at > '2024-06-01T00:00:00.000Z' OR (:updated_at = '2024-06-01T00:00:00.000Z' AND :id > '" + first.ID + "')"
	if w := qs[1].Get("$where"); w != want {
		t.Errorf("second $where %q, want %q", w, want)
	}

	// Both location shapes and missing keys normalize: generated record i has the legacy
	// object (i%4 == 0), a GeoJSON point alone (1) or beside latitude/longitude (2), or no
	// location keys at all (3).
	for i := range generated {
		r, ok := lake.requests[strconv.Itoa(90_000_000+i)]
		if !ok {
			t.Fatalf("generated record %d missing", i)
		}
		if r.HasLocation != (i%4 != 3) {
			t.Errorf("generated record %d (shape %d): HasLocation %v", i, i%4, r.HasLocation)
		}
	}

	// Caught up: the next pull asks once and stores nothing.
	again, err := socrata.Pull(ctx, testSource(srv, raw), store, objs)
	if err != nil || again.Status != socrata.StatusCaughtUp || again.Records != 0 || again.Requests != 1 || again.From != res.To {
		t.Errorf("second pull: %+v, %v", again, err)
	}
}

func testOutage(t *testing.T, mk storeFactory) {
	cases := []struct {
		name  string
		fault sodatest.Fault
		n     int
		tune  func(*socrata.Source)
	}{
		{"503", sodatest.Unavailable, -1, nil},
		{"500", sodatest.Fault{Status: 500}, -1, nil},
		{"429", sodatest.TooManyRequests("0"), -1, nil},
		{"202 processing", sodatest.Processing, -1, nil},
		{"connection reset", sodatest.Reset, -1, nil},
		{"body cut short", sodatest.Truncated, -1, nil},
		{"timeout", sodatest.Slow(10 * time.Second), -1, func(s *socrata.Source) { s.RequestTimeout = 400 * time.Millisecond }},
		{"connection refused", sodatest.Outage, 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := newServer(t, generated)
			objs, raw, store := localStore(t), t.TempDir(), mk(t)
			src := testSource(srv, raw)
			if tc.tune != nil {
				tc.tune(&src)
			}

			srv.FailAfter(5, tc.fault, tc.n)
			res, err := socrata.Pull(ctx, src, store, objs)
			var ue *socrata.UnavailableError
			if !errors.Is(err, socrata.ErrSourceUnavailable) || !errors.As(err, &ue) || res.Status != socrata.StatusUnavailable {
				t.Fatalf("Pull during an outage: %v (status %v), want source unavailable", err, res.Status)
			}
			if res.Status.String() != "source unavailable" || ue.Attempts < 1 || ue.For < src.RetryFor/2 {
				t.Errorf("status %q, %d attempts over %v", res.Status, ue.Attempts, ue.For)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the app token: %v", err)
			}
			if len(res.Batches) != 5 || res.Records != 500 {
				t.Fatalf("stored %d batches, %d records before the outage; want 5, 500", len(res.Batches), res.Records)
			}
			b5, err := objstore.ReadAll(ctx, objs, res.Batches[4])
			if err != nil {
				t.Fatal(err)
			}
			fifth := pageEnd(t, b5)
			if wm, _ := store.Get(ctx, "nyc_api"); wm != res.To || wm != fifth {
				t.Errorf("watermark %v, result %v, want the last stored record %v", wm, res.To, fifth)
			}

			// Still down: the next run ends the same way without moving.
			res2, err := socrata.Pull(ctx, src, store, objs)
			if !errors.Is(err, socrata.ErrSourceUnavailable) || len(res2.Batches) != 0 || res2.To != res.To {
				t.Fatalf("second socrata.Pull during the outage: %+v, %v", res2, err)
			}

			srv.Recover()
			if err := srv.Resume(); err != nil {
				t.Fatal(err)
			}
			res3, err := socrata.Pull(ctx, src, store, objs)
			if err != nil || res3.Status != socrata.StatusCaughtUp || res3.From != res.To {
				t.Fatalf("Pull after recovery: %+v, %v", res3, err)
			}
			lake := readLake(t, readBatches(t, objs, raw))
			if lake.raw != srv.Len() {
				t.Errorf("batches hold %d records, want %d: a page was fetched twice or lost", lake.raw, srv.Len())
			}
			sameLake(t, lake, truth(t, srv))
		})
	}
}

func testRecovers(t *testing.T, mk storeFactory) {
	ctx := context.Background()
	srv := newServer(t, generated)
	objs, raw, store := localStore(t), t.TempDir(), mk(t)
	src := testSource(srv, raw)
	src.RetryFor = 10 * time.Second

	srv.FailAfter(3, sodatest.Unavailable, 4)
	res, err := socrata.Pull(ctx, src, store, objs)
	if err != nil || res.Status != socrata.StatusCaughtUp || res.Retries != 4 {
		t.Fatalf("Pull through a short outage: %+v, %v; want caught up after 4 retries", res, err)
	}
	srv.Add(3, time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC))
	srv.FailFor(200*time.Millisecond, sodatest.Reset)
	res, err = socrata.Pull(ctx, src, store, objs)
	if err != nil || res.Status != socrata.StatusCaughtUp || res.Records != 3 || res.Retries == 0 {
		t.Fatalf("Pull through 200ms of resets: %+v, %v", res, err)
	}
	lake := readLake(t, readBatches(t, objs, raw))
	if lake.raw != srv.Len() {
		t.Errorf("batches hold %d records, want %d", lake.raw, srv.Len())
	}
	sameLake(t, lake, truth(t, srv))
}

var errCrash = errors.New("simulated crash")

func testCrash(t *testing.T, mk storeFactory) {
	for _, changed := range []bool{false, true} {
		name := "dataset unchanged"
		if changed {
			name = "dataset changed before the re-run"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := newServer(t, generated)
			objs, raw := localStore(t), t.TempDir()
			// The store dies at the third advance, after the third batch is stored.
			store := &crashingStore{WatermarkStore: mk(t), at: 3}
			src := testSource(srv, raw)

			res, err := socrata.Pull(ctx, src, store, objs)
			if !errors.Is(err, errCrash) || len(res.Batches) != 2 {
				t.Fatalf("Pull: %+v, %v; want the crash after two advanced batches", res, err)
			}
			names, err := socrata.Batches(ctx, objs, raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 3 {
				t.Fatalf("%d batches stored, want 3 (the third not covered by the watermark)", len(names))
			}
			names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(res.Batches, n) })
			unadvanced, err := objstore.ReadAll(ctx, objs, names[0])
			if err != nil {
				t.Fatal(err)
			}
			if wm, _ := store.Get(ctx, "nyc_api"); wm != res.To {
				t.Fatalf("watermark %v, want %v", wm, res.To)
			}
			if changed {
				// Close requests of the unadvanced page, so that its re-fetch ends elsewhere
				// and lands in a second object beside the first.
				third := readLake(t, [][]byte{unadvanced})
				at := time.Date(2024, 6, 3, 9, 30, 0, 0, time.UTC)
				for _, k := range keysOf(third.requests)[:5] {
					if err := srv.CloseRequest(k, at); err != nil {
						t.Fatal(err)
					}
				}
				srv.Add(2, at)
			}

			store.at = 0
			res2, err := socrata.Pull(ctx, src, store, objs)
			if err != nil || res2.Status != socrata.StatusCaughtUp || res2.From != res.To {
				t.Fatalf("re-run: %+v, %v", res2, err)
			}
			files := readBatches(t, objs, raw)
			lake := readLake(t, files)
			if !changed && (len(files) != len(res.Batches)+len(res2.Batches) || lake.raw != srv.Len()) {
				t.Errorf("%d batches with %d records, want %d with %d: the re-fetched page should replace its batch",
					len(files), lake.raw, len(res.Batches)+len(res2.Batches), srv.Len())
			}
			if changed && len(files) != len(res.Batches)+len(res2.Batches)+1 {
				t.Errorf("%d batches, want %d (the stale third page stays beside its re-fetch); %d+%d", len(files), len(res.Batches)+len(res2.Batches)+1, len(res.Batches), len(res2.Batches))
			}
			// Whatever was stored twice collapses in the de-duplication: no request is counted
			// twice, none is lost, and each is in its newest state.
			sameLake(t, lake, truth(t, srv))
		})
	}
}

// crashingStore fails the at-th Advance (0: never), as a process killed between storing a
// batch and advancing the watermark would leave things.
type crashingStore struct {
	socrata.WatermarkStore
	at, calls int
}

func (s *crashingStore) Advance(ctx context.Context, source string, from, to socrata.Watermark) error {
	s.calls++
	if s.calls == s.at {
		return errCrash
	}
	return s.WatermarkStore.Advance(ctx, source, from, to)
}

func testUpdates(t *testing.T, mk storeFactory) {
	ctx := context.Background()
	srv := newServer(t, generated)
	objs, raw, store := localStore(t), t.TempDir(), mk(t)
	src := testSource(srv, raw)

	if _, err := socrata.Pull(ctx, src, store, objs); err != nil {
		t.Fatal(err)
	}
	before := readLake(t, readBatches(t, objs, raw))

	// A day later: some open requests are closed and new ones are opened.
	at := time.Date(2024, 6, 2, 14, 0, 0, 0, time.UTC)
	var closed []string
	for _, k := range keysOf(before.requests) {
		if before.requests[k].Status == record.StatusOpen && (len(closed) < 3 || strings.HasPrefix(k, "9000") && len(closed) < 5) {
			closed = append(closed, k)
		}
	}
	for _, k := range closed {
		if err := srv.CloseRequest(k, at); err != nil {
			t.Fatal(err)
		}
	}
	added := srv.Add(4, at.Add(time.Minute))

	res, err := socrata.Pull(ctx, src, store, objs)
	if err != nil || res.Status != socrata.StatusCaughtUp {
		t.Fatal(res, err)
	}
	var pulled [][]byte
	for _, b := range res.Batches {
		p, err := objstore.ReadAll(ctx, objs, b)
		if err != nil {
			t.Fatal(err)
		}
		pulled = append(pulled, p)
	}
	delta := readLake(t, pulled)
	if want := slices.Sorted(slices.Values(append(slices.Clone(closed), added...))); !slices.Equal(keysOf(delta.requests), want) || delta.raw != len(want) {
		t.Fatalf("second pull brought %v (%d records), want exactly %v", keysOf(delta.requests), delta.raw, want)
	}

	after := readLake(t, readBatches(t, objs, raw))
	sameLake(t, after, truth(t, srv))
	for _, k := range closed {
		if r := after.requests[k]; r.Status != record.StatusClosed || !r.ClosedAt.Equal(at) {
			t.Errorf("request %s: %v closed at %v, want closed at %v", k, r.Status, r.ClosedAt, at)
		}
	}

	// The incremental job rebuilds the groups the new records touch; every other group
	// must come out as it was.
	touched := map[record.Key]bool{}
	for _, r := range delta.requests {
		touched[r.Key()] = true
	}
	g0, g1 := groupCounts(before), groupCounts(after)
	changed := 0
	for k, c := range g1 {
		if !touched[k] && g0[k] != c {
			t.Errorf("group %v changed (%v → %v) though no new record touches it", k, g0[k], c)
		}
		if g0[k] != c {
			changed++
		}
	}
	if changed == 0 || changed > len(touched) {
		t.Errorf("%d groups changed, %d touched", changed, len(touched))
	}
}

func TestRetryAfter(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, 0)
	objs := localStore(t)

	src := testSource(srv, t.TempDir())
	src.RetryFor = 10 * time.Second
	srv.Fail(sodatest.TooManyRequests("1"), 1)
	start := time.Now()
	res, err := socrata.Pull(ctx, src, newMemWatermarks(), objs)
	if err != nil || res.Retries != 1 {
		t.Fatalf("Pull: %+v, %v", res, err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("Pull took %v: it did not wait the Retry-After of 1s", d)
	}

	// A Retry-After beyond retry_for ends the pull at once instead of sleeping into failure.
	src = testSource(srv, t.TempDir())
	src.RetryFor = 2 * time.Second
	srv.Fail(sodatest.TooManyRequests("3600"), -1)
	start = time.Now()
	_, err = socrata.Pull(ctx, src, newMemWatermarks(), objs)
	var ue *socrata.UnavailableError
	if !errors.As(err, &ue) || ue.Attempts != 1 || time.Since(start) > time.Second {
		t.Errorf("Pull with Retry-After 3600: %v after %v; want unavailable at once", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "Retry-After 1h0m0s") {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestPermanentErrors(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, 10)
	const secret = "hunter2-token"

	// A server that drops the system fields, and one that ignores $where.
	noSystem := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{"unique_key":"1","created_date":"2024-06-01T00:00:00.000"}]`))
	}))
	t.Cleanup(noSystem.Close)
	noKeyset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`[{":id":"row-aaaa~aaaa.aaaa",":updated_at":"2024-06-01T00:00:00.000Z","unique_key":"1"}]`))
	}))
	t.Cleanup(noKeyset.Close)
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)

	cases := []struct {
		name     string
		endpoint string
		token    string
		want     error
		status   int
		batches  int
	}{
		{"wrong token", srv.Endpoint, secret, socrata.ErrRequest, 403, 0},
		{"token in the URL", srv.Endpoint + "?$$app_token=" + secret, "", socrata.ErrRequest, 403, 0},
		{"unknown dataset", strings.Replace(srv.Endpoint, "erm2-nwe9", "xxxx-xxxx", 1), testToken, socrata.ErrRequest, 404, 0},
		{"no system fields", noSystem.URL + "/resource/x.json", "", socrata.ErrBadResponse, 0, 0},
		{"keyset ignored", noKeyset.URL + "/resource/x.json", "", socrata.ErrBadResponse, 0, 1},
		{"untrusted certificate", untrusted.URL + "/resource/x.json", "", nil, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := endpointSource(tc.endpoint, t.TempDir())
			src.AppToken = tc.token
			src.RetryFor = 5 * time.Second
			start := time.Now()
			res, err := socrata.Pull(ctx, src, newMemWatermarks(), localStore(t))
			if err == nil || errors.Is(err, socrata.ErrSourceUnavailable) || res.Status != socrata.StatusFailed || res.Retries != 0 {
				t.Fatalf("Pull: %+v, %v; want a permanent failure without retries", res, err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			var re *socrata.RequestError
			if tc.status != 0 && (!errors.As(err, &re) || re.Status != tc.status || re.Body == "" || !strings.Contains(err.Error(), "/resource/")) {
				t.Errorf("error %v: want the URL, HTTP %d and the body", err, tc.status)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows the token: %v", err)
			}
			if len(res.Batches) != tc.batches {
				t.Errorf("%d batches stored, want %d", len(res.Batches), tc.batches)
			}
			t.Log(err)
		})
	}
}

// TestUnreachable covers the failures below HTTP: a DNS name that does not resolve and a
// port nobody listens on are outages, not permanent errors.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/resource/erm2-nwe9.json"
	ln.Close()
	dns := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.DNSError{Err: "no such host", Name: "data.example.invalid", IsNotFound: true}
	}}}
	cases := []struct {
		name, endpoint string
		client         *http.Client
		want           string
	}{
		{"connection refused", closed, nil, "connection refused"},
		{"dns failure", "https://data.example.invalid/resource/erm2-nwe9.json", dns, "no such host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := endpointSource(tc.endpoint, t.TempDir())
			src.HTTPClient = tc.client
			src.RetryFor = 100 * time.Millisecond
			res, err := socrata.Pull(context.Background(), src, newMemWatermarks(), localStore(t))
			var ue *socrata.UnavailableError
			if !errors.As(err, &ue) || res.Status != socrata.StatusUnavailable || ue.Attempts < 2 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Pull: %v (%+v); want unavailable after retries, saying %q", err, res, tc.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	srv := newServer(t, 0)
	srv.Fail(sodatest.Unavailable, -1)
	src := testSource(srv, t.TempDir())
	src.RetryFor = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := socrata.Pull(ctx, src, newMemWatermarks(), localStore(t))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, socrata.ErrSourceUnavailable) || res.Status != socrata.StatusFailed {
		t.Fatalf("Pull: %v, %v; want the context's error", res.Status, err)
	}
}
