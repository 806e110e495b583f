package shuffle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ireports/ireports/record"
)

const testToken = "s3cret-cluster-token"

// serveMapOutputs writes two map outputs of job "job-1" under a fresh root and serves them.
func serveMapOutputs(t *testing.T) (srv *httptest.Server, root string, files [][]byte, idx []Index, rs [][]record.Request) {
	t.Helper()
	root = t.TempDir()
	for m := range 2 {
		path, err := MapOutputPath(root, "job-1", m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		recs := randRequests(uint64(200+m), 3000)
		for i := range recs {
			recs[i].Ord = uint64(m)<<32 | uint64(i)
		}
		_, x := writeMapOutput(t, filepath.Dir(path), filepath.Base(path), 3, recs)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files, idx, rs = append(files, b), append(idx, x), append(rs, recs)
	}
	h, err := NewHandler(root, testToken)
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, root, files, idx, rs
}

func TestHandler(t *testing.T) {
	srv, _, files, idx, _ := serveMapOutputs(t)
	seg := idx[1].Segments[2]
	whole := files[1][seg.Offset : seg.Offset+seg.Length]
	tests := []struct {
		name       string
		method     string
		path       string // raw, sent unaltered
		token      string
		rangeHdr   string
		protocol   string // the client's HeaderProtocol ("": none, as before the header)
		wantStatus int
		wantBody   []byte
	}{
		{name: "no token", path: "/shuffle/job-1/1/2", wantStatus: 401},
		{name: "wrong token", path: "/shuffle/job-1/1/2", token: "guess", wantStatus: 401},
		{name: "token prefix", path: "/shuffle/job-1/1/2", token: testToken[:5], wantStatus: 401},
		{name: "no token on bad path", path: "/shuffle/../../etc/passwd", wantStatus: 401},
		{name: "segment", path: "/shuffle/job-1/1/2", token: testToken, wantStatus: 200, wantBody: whole},
		{name: "range", path: "/shuffle/job-1/1/2", token: testToken, rangeHdr: "bytes=10-99", wantStatus: 206, wantBody: whole[10:100]},
		{name: "range suffix", path: "/shuffle/job-1/1/2", token: testToken, rangeHdr: "bytes=-7", wantStatus: 206, wantBody: whole[len(whole)-7:]},
		{name: "range beyond segment", path: "/shuffle/job-1/1/2", token: testToken, rangeHdr: "bytes=999999999-", wantStatus: 416},
		{name: "head", method: "HEAD", path: "/shuffle/job-1/1/2", token: testToken, wantStatus: 200},
		{name: "post", method: "POST", path: "/shuffle/job-1/1/2", token: testToken, wantStatus: 405},
		{name: "dot-dot job", path: "/shuffle/../1/2", token: testToken, wantStatus: 400},
		{name: "escaped dot-dot job", path: "/shuffle/%2e%2e/1/2", token: testToken, wantStatus: 400},
		{name: "escaped slash", path: "/shuffle/job-1%2f..%2f..%2fetc/1/2", token: testToken, wantStatus: 404},
		{name: "hidden job", path: "/shuffle/.job/1/2", token: testToken, wantStatus: 400},
		{name: "negative map", path: "/shuffle/job-1/-1/2", token: testToken, wantStatus: 400},
		{name: "leading zero", path: "/shuffle/job-1/01/2", token: testToken, wantStatus: 400},
		{name: "non-numeric reducer", path: "/shuffle/job-1/1/x", token: testToken, wantStatus: 400},
		{name: "huge reducer", path: "/shuffle/job-1/1/99999999999999999999", token: testToken, wantStatus: 400},
		{name: "too few parts", path: "/shuffle/job-1/1", token: testToken, wantStatus: 404},
		{name: "too many parts", path: "/shuffle/job-1/1/2/3", token: testToken, wantStatus: 404},
		{name: "other prefix", path: "/debug/job-1/1/2", token: testToken, wantStatus: 404},
		{name: "unknown job", path: "/shuffle/job-2/1/2", token: testToken, wantStatus: 404},
		{name: "unknown map", path: "/shuffle/job-1/7/2", token: testToken, wantStatus: 404},
		{name: "reducer out of range", path: "/shuffle/job-1/1/3", token: testToken, wantStatus: 404},
		{name: "same protocol", path: "/shuffle/job-1/1/2", token: testToken, protocol: "1", wantStatus: 200, wantBody: whole},
		{name: "other protocol", path: "/shuffle/job-1/1/2", token: testToken, protocol: "2", wantStatus: 400},
		{name: "other protocol without token", path: "/shuffle/job-1/1/2", protocol: "2", wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, err := http.NewRequest(method, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tc.path // keep ".." and escapes as written
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.rangeHdr != "" {
				req.Header.Set("Range", tc.rangeHdr)
			}
			if tc.protocol != "" {
				req.Header.Set(HeaderProtocol, tc.protocol)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if tc.wantBody != nil && !bytes.Equal(body, tc.wantBody) {
				t.Errorf("body of %d bytes differs from the segment's bytes %d", len(body), len(tc.wantBody))
			}
			if resp.StatusCode/100 == 2 {
				got, err := segmentFromHeader(resp.Header)
				if err != nil || got != seg {
					t.Errorf("segment headers: %+v, %v; want %+v", got, err, seg)
				}
			}
			if resp.StatusCode >= 400 && strings.Contains(string(body), os.TempDir()) {
				t.Errorf("error body reveals a server path: %s", body)
			}
			if got := resp.Header.Get(HeaderProtocol); got != "1" {
				t.Errorf("%s: %q, want 1 on every answer", HeaderProtocol, got)
			}
			if tc.protocol == "2" && !strings.Contains(string(body), "protocol") {
				t.Errorf("a client of another protocol is told %q, which does not say so", body)
			}
		})
	}
}

func TestNewHandlerRejects(t *testing.T) {
	if _, err := NewHandler(t.TempDir(), ""); err == nil {
		t.Error("NewHandler accepted an empty token")
	}
	if _, err := NewHandler("", testToken); err == nil {
		t.Error("NewHandler accepted an empty root")
	}
}

// A reducer fetching over HTTP and locally sees the same merged records.
func TestFetchAndMerge(t *testing.T) {
	srv, root, _, _, rs := serveMapOutputs(t)
	remote := &HTTPFetcher{Client: srv.Client(), Token: testToken}
	for _, tc := range []struct {
		name   string
		worker string
		cfg    InputConfig
	}{
		{name: "http", worker: strings.TrimPrefix(srv.URL, "http://")},
		{name: "http base URL", worker: srv.URL + "/"},
		{name: "http spilled", worker: srv.URL, cfg: InputConfig{MaxStreams: 1, SpillDir: t.TempDir()}},
		{name: "local", worker: ""},
		{name: "local spilled", worker: "", cfg: InputConfig{MaxStreams: 1, SpillDir: t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			all := append(append([]record.Request(nil), rs[0]...), rs[1]...)
			want := make([][]record.Request, 3)
			for _, r := range sortedWire(t, all) {
				p := Partition(r.Key(), 3)
				want[p] = append(want[p], r)
			}
			var locs []Location
			for m := range 2 {
				path, _ := MapOutputPath(root, "job-1", m)
				locs = append(locs, Location{Worker: tc.worker, Job: "job-1", Map: m, Path: path})
			}
			for p := range 3 {
				in, err := OpenInput(ctx, remote, locs, p, tc.cfg)
				if err != nil {
					t.Fatalf("reducer %d: %v", p, err)
				}
				got, err := readAll(in)
				if err != nil {
					t.Fatal(err)
				}
				if err := in.Close(); err != nil {
					t.Error(err)
				}
				if tc.cfg.SpillDir != "" {
					if left, _ := os.ReadDir(tc.cfg.SpillDir); len(left) > 0 {
						t.Errorf("spill file left behind: %s", left[0].Name())
					}
				}
				if d := diffRecords(got, want[p]); d != "" {
					t.Errorf("reducer %d: %s", p, d)
				}
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	srv, root, files, idx, _ := serveMapOutputs(t)
	addr := strings.TrimPrefix(srv.URL, "http://")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	// A server that announces a segment and breaks the transfer half way.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seg := idx[0].Segments[0]
		setSegmentHeader(w.Header(), seg)
		w.Header().Set("Content-Length", strconv.FormatInt(seg.Length, 10))
		w.Write(files[0][seg.Offset : seg.Offset+seg.Length/2])
	}))
	defer broken.Close()
	// A worker of a later release, whose shuffle protocol is another.
	future := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderProtocol, "2")
		http.Error(w, "unknown protocol", http.StatusBadRequest)
	}))
	defer future.Close()
	// A worker serving TLS with a certificate this client's roots do not include.
	h, err := NewHandler(root, testToken)
	if err != nil {
		t.Fatal(err)
	}
	untrusted := httptest.NewTLSServer(h)
	defer untrusted.Close()
	path0, _ := MapOutputPath(root, "job-1", 0)

	tests := []struct {
		name    string
		f       Fetcher
		ctx     context.Context
		loc     Location
		reducer int
		want    error // from Fetch or, if Fetch succeeds, from reading the segment
		notWant error
	}{
		{name: "missing map output", f: &HTTPFetcher{Token: testToken}, loc: Location{Worker: addr, Job: "job-1", Map: 9}, want: ErrFetch},
		{name: "worker gone", f: &HTTPFetcher{Token: testToken}, loc: Location{Worker: closedAddr, Job: "job-1", Map: 0}, want: ErrFetch},
		{name: "wrong token", f: &HTTPFetcher{Token: "nope"}, loc: Location{Worker: addr, Job: "job-1", Map: 0}, want: ErrUnauthorized, notWant: ErrFetch},
		{name: "cancelled", f: &HTTPFetcher{Token: testToken}, ctx: cancelled, loc: Location{Worker: addr, Job: "job-1", Map: 0}, want: context.Canceled, notWant: ErrFetch},
		{name: "bad job id", f: &HTTPFetcher{Token: testToken}, loc: Location{Worker: addr, Job: "../x", Map: 0}, want: ErrBadName},
		{name: "broken transfer", f: &HTTPFetcher{Token: testToken}, loc: Location{Worker: broken.URL, Job: "job-1", Map: 0}, want: ErrFetch},
		{name: "other protocol", f: &HTTPFetcher{Token: testToken}, loc: Location{Worker: future.URL, Job: "job-1", Map: 0}, want: ErrProtocol, notWant: ErrFetch},
		{name: "untrusted certificate", f: &HTTPFetcher{Token: testToken}, loc: Location{Worker: untrusted.URL, Job: "job-1", Map: 0}, want: ErrUntrusted, notWant: ErrFetch},
		{name: "trusted certificate", f: &HTTPFetcher{Client: untrusted.Client(), Token: testToken}, loc: Location{Worker: untrusted.URL, Job: "job-1", Map: 0}, want: nil},
		{name: "local missing", f: LocalFetcher{}, loc: Location{Path: filepath.Join(root, "nope")}, want: ErrFetch},
		{name: "local reducer out of range", f: LocalFetcher{}, loc: Location{Path: path0}, reducer: 3, want: ErrReducers},
		{name: "local cancelled", f: LocalFetcher{}, ctx: cancelled, loc: Location{Path: path0}, want: context.Canceled},
		{name: "local not a map output", f: LocalFetcher{}, loc: Location{Path: filepath.Join(root, "job-1")}, want: ErrFetch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			body, seg, err := tc.f.Fetch(ctx, tc.loc, tc.reducer)
			if err == nil {
				_, err = readAll(NewSegmentReader(body, seg))
				body.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if tc.notWant != nil && errors.Is(err, tc.notWant) {
				t.Errorf("err = %v also wraps %v", err, tc.notWant)
			}
		})
	}
}

func TestLocalFetchCorrupt(t *testing.T) {
	dir := t.TempDir()
	path, x := writeMapOutput(t, dir, "m.shuffle", 2, randRequests(21, 500))
	b, _ := os.ReadFile(path)
	seg := x.Segments[1]
	b[seg.Offset+seg.Length/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	body, got, err := LocalFetcher{}.Fetch(context.Background(), Location{Path: path}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if _, err := readAll(NewSegmentReader(body, got)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want ErrCorrupt", err)
	}
}

// OpenInput names the map output at fault, whether its fetch fails or its bytes do, in
// both modes; a spilled input finds the damage while fetching.
func TestOpenInputNamesLostMapOutput(t *testing.T) {
	root := t.TempDir()
	var locs []Location
	for m := range 3 {
		path, _ := writeMapOutput(t, root, strconv.Itoa(m), 2, randRequests(uint64(300+m), 2000))
		locs = append(locs, Location{Map: m, Path: path})
	}
	b, _ := os.ReadFile(locs[2].Path)
	x, _ := ReadIndex(bytes.NewReader(b), int64(len(b)))
	b[x.Segments[0].Offset+x.Segments[0].Length-3] ^= 1
	corrupt := filepath.Join(root, "corrupt")
	if err := os.WriteFile(corrupt, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		cfg  InputConfig
	}{{"streamed", InputConfig{}}, {"spilled", InputConfig{MaxStreams: 2, SpillDir: t.TempDir()}}} {
		for _, tc := range []struct {
			name string
			m    int
			path string
			want error
		}{
			{name: "missing", m: 1, path: filepath.Join(root, "gone"), want: ErrFetch},
			{name: "corrupt", m: 2, path: corrupt, want: ErrCorrupt},
		} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				bad := slices.Clone(locs)
				bad[tc.m].Path = tc.path
				in, err := OpenInput(ctx, LocalFetcher{}, bad, 0, mode.cfg)
				if err == nil {
					_, err = readAll(in)
					in.Close()
				}
				var se *SegmentError
				if !errors.As(err, &se) || se.Loc.Map != tc.m || !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want a *SegmentError for map %d wrapping %v", err, tc.m, tc.want)
				}
				if mode.cfg.SpillDir != "" {
					if left, _ := os.ReadDir(mode.cfg.SpillDir); len(left) > 0 {
						t.Errorf("spill file left behind: %s", left[0].Name())
					}
				}
			})
		}
	}

	t.Run("unsorted source", func(t *testing.T) {
		// A source out of order is caught by the merge, and still blamed on its map output.
		in := &Input{locs: locs[:2], m: NewMerger([]Source{
			&sliceSource{rs: []record.Request{{City: "a"}}},
			&sliceSource{rs: []record.Request{{City: "b"}, {City: "a"}}},
		})}
		_, err := readAll(in)
		var se *SegmentError
		if !errors.As(err, &se) || se.Loc.Map != 1 || !errors.Is(err, ErrCorrupt) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestNearFetcherReadsOwnOutputsFromDisk: a map output of this process is read from its
// path without the remote fetcher; another worker's goes to the remote fetcher.
func TestNearFetcherReadsOwnOutputsFromDisk(t *testing.T) {
	remote := &countingFetcher{}
	f := NearFetcher{Self: "10.0.0.1:7070", Remote: remote}
	_, _, err := f.Fetch(context.Background(), Location{Worker: "10.0.0.1:7070", Path: filepath.Join(t.TempDir(), "missing")}, 0)
	if !errors.Is(err, ErrFetch) || remote.n != 0 {
		t.Errorf("own output: err %v, remote calls %d; want a local ErrFetch and no remote call", err, remote.n)
	}
	f.Fetch(context.Background(), Location{Worker: "10.0.0.2:7070"}, 0)
	if remote.n != 1 {
		t.Errorf("another worker's output: %d remote calls, want 1", remote.n)
	}
}

type countingFetcher struct{ n int }

func (c *countingFetcher) Fetch(ctx context.Context, loc Location, reducer int) (io.ReadCloser, Segment, error) {
	c.n++
	return nil, Segment{}, ErrFetch
}

// TestOpenInputBoundedFanIn: beyond MaxFanIn map outputs the input pre-merges batches into
// runs, and yields exactly the records, in exactly the order, of one merge of them all
// (versions of one request spread over several map outputs included), and leaves no file.
func TestOpenInputBoundedFanIn(t *testing.T) {
	root := t.TempDir()
	base := randRequests(7, 3000)
	var locs []Location
	for m := range 9 {
		rs := slices.Clone(base[m*300 : m*300+400]) // overlapping: the same requests in two outputs
		for i := range rs {
			rs[i].Ord = uint64(m) // versions that differ by Ord alone
		}
		path, _ := writeMapOutput(t, root, strconv.Itoa(m), 2, rs)
		locs = append(locs, Location{Map: m, Path: path})
	}
	for reducer := range 2 {
		want := readInput(t, LocalFetcher{}, locs, reducer, InputConfig{MaxStreams: 100, MaxFanIn: 100})
		for _, fanIn := range []int{2, 3, 8} {
			spill := t.TempDir()
			got := readInput(t, LocalFetcher{}, locs, reducer, InputConfig{MaxStreams: 2, MaxFanIn: fanIn, SpillDir: spill})
			if d := diffRecords(got, want); d != "" {
				t.Errorf("reducer %d, fan-in %d: %s", reducer, fanIn, d)
			}
			if left, _ := os.ReadDir(spill); len(left) > 0 {
				t.Errorf("fan-in %d: %s left behind", fanIn, left[0].Name())
			}
		}
	}
}
