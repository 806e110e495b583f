package lake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// BenchmarkStageCommitS3 is BenchmarkStageCommit against a real S3 server (MinIO, skipped
// where absent): the wall time per group of a commit, in which every request is a round
// trip (wall-ns/group; the per-group sweep of unfinished uploads was one listing of the
// whole bucket's uploads for each of a group's five directories).
func BenchmarkStageCommitS3(b *testing.B) {
	benchCommitS3(b, testenv.MinIO(b), 100, nil)
}

// benchCommitS3 stages n groups' five files in m's bucket and commits them, b.N times,
// reporting the commit's wall time per group, and conns/op when conns counts connections.
func benchCommitS3(b *testing.B, m *testenv.MinIOServer, n int, conns func() int64) {
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]record.Key, n)
	for i := range keys {
		keys[i] = record.Key{City: fmt.Sprintf("c%d", i%3), Year: 1990 + i/3/12, Month: 1 + i/3%12}
	}
	content := make([]byte, 4096)
	var commit time.Duration
	var dialed int64
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		roots := Roots{Lake: m.URL(fmt.Sprintf("run%d/lake", run)), Summaries: m.URL(fmt.Sprintf("run%d/summaries", run))}
		job := fmt.Sprintf("job-%d", run)
		st, err := NewStage(store, roots.Lake, job, "r-0", 1)
		if err != nil {
			b.Fatal(err)
		}
		sums, err := NewStage(store, roots.Summaries, job, "r-0", 1)
		if err != nil {
			b.Fatal(err)
		}
		groups := make([]CommitGroup, 0, n)
		for _, k := range keys {
			g := CommitGroup{Key: k, Rows: 1, AttemptDir: st.Dir(), SummaryDir: sums.Dir()}
			f, err := st.Put(ctx, filepath.ToSlash(filepath.Join(GroupPath(k), PartFile(0))), content)
			if err != nil {
				b.Fatal(err)
			}
			g.Files = append(g.Files, f)
			for _, table := range SummaryTables {
				f, err := sums.Put(ctx, filepath.ToSlash(filepath.Join(SummaryGroupPath(table, k), PartFile(0))), content)
				if err != nil {
					b.Fatal(err)
				}
				g.SummaryFiles = append(g.SummaryFiles, f)
			}
			groups = append(groups, g)
		}
		if err := st.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		if err := sums.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		var before int64
		if conns != nil {
			before = conns()
		}
		b.StartTimer()
		t0 := time.Now()
		if _, err := Commit(ctx, store, roots, job, "bench", RunStats{}, groups, time.Now()); err != nil {
			b.Fatal(err)
		}
		commit += time.Since(t0)
		if conns != nil {
			dialed += conns() - before
		}
	}
	b.ReportMetric(float64(commit)/float64(b.N)/float64(n), "commit-wall-ns/group")
	if conns != nil {
		b.ReportMetric(float64(dialed)/float64(b.N), "conns/op")
	}
}

// BenchmarkStageCommitS3Latency is BenchmarkStageCommitS3 with S3's round trip: MinIO behind
// a proxy that holds every request for the given latency (S3 answers small requests in tens
// of milliseconds within its region; MinIO on loopback in well under one). A commit is then
// its round trips over the requests it keeps in flight (commit-wall-ns/group), and the
// proxy counts the connections the store opened (conns/op): an HTTP client that keeps
// fewer idle connections than the requests in flight closes the rest after each and dials
// again, a TLS handshake each on real S3.
func BenchmarkStageCommitS3Latency(b *testing.B) {
	m := testenv.MinIO(b)
	for _, latency := range []time.Duration{20 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) {
			target, err := url.Parse(m.Endpoint)
			if err != nil {
				b.Fatal(err)
			}
			proxy := httputil.NewSingleHostReverseProxy(target)
			var conns atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(latency)
				proxy.ServeHTTP(w, r) // Host stays the proxy's, which the request is signed for
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			behind := *m
			behind.Endpoint = srv.URL
			benchCommitS3(b, &behind, 100, func() int64 { return conns.Load() })
		})
	}
}
