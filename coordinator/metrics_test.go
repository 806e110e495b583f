package coordinator

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/obs"
)

// scrape GETs a /metrics page with the cluster token and returns its samples, keyed by
// series as written ("name{label=\"v\",…}", labels sorted by name).
func scrape(t *testing.T, addr, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", addr, res.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsMoveWhenAJobRuns(t *testing.T) {
	c, err := StartLocalCluster(LocalClusterConfig{Workers: 1, Slots: 2, Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler), StartWorker: startWorker})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	coord := c.Server.APIAddr()
	ws := c.Server.Scheduler().Workers()
	if len(ws) != 1 {
		t.Fatalf("%d workers, want 1", len(ws))
	}
	worker := ws[0].API

	for _, addr := range []string{coord, worker} {
		for _, path := range []string{"/metrics", "/debug/pprof/"} {
			res, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s%s without the token: %s, want 401", addr, path, res.Status)
			}
		}
	}

	const (
		mapsRead    = `ireports_records_read_total{kind="map"}`
		mapsOK      = `ireports_task_duration_seconds_count{kind="map",result="succeeded"}`
		reducesOK   = `ireports_task_duration_seconds_count{kind="reduce",result="succeeded"}`
		rejected    = `ireports_records_rejected_total{reason="field_count"}`
		fetched     = `ireports_shuffle_fetched_bytes_total`
		served      = `ireports_shuffle_served_bytes_total`
		attemptsOK  = `ireports_task_attempts_total{kind="map",state="succeeded"}`
		jobsOK      = `ireports_jobs_finished_total{status="succeeded"}`
		polls       = `ireports_http_request_duration_seconds_count{code="200",method="POST",route="/api/v1/worker/poll",server="coordinator"}`
		shuffleGets = `ireports_http_request_duration_seconds_count{code="200",method="GET",route="/shuffle/",server="worker"}`
		workersLive = `ireports_workers_live`
		pendingMaps = `ireports_tasks{kind="map",state="pending"}`
	)
	before := scrape(t, worker, c.Token)

	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	var rows strings.Builder
	rows.WriteString(tinyHeader)
	for i := range 80 {
		rows.WriteString(tinyRow(i + 1))
	}
	rows.WriteString("81,2024-01-05 10:00:00,open\n") // one field short: rejected
	if err := os.WriteFile(filepath.Join(in, "a.csv"), []byte(rows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := writeSpec(t, dir, jobDef{schemas: tinySchema, ratio: 1, reducers: 2, split: "1KiB",
		inputs:  []inputDef{{"tiny", in, "tiny", ""}},
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.Run(ctx, spec, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("job: %v", err)
	}
	if res.RecordsIn != 81 {
		t.Fatalf("job read %d records, want 81", res.RecordsIn)
	}

	// The worker counts an attempt's work before it reports it, but a shuffle request after
	// its reducer may have read the whole answer: wait a little for those. At least: a
	// backup attempt counts too.
	want := []struct {
		series string
		min    float64
	}{
		// One worker: its reducers read its own map outputs from disk (NearFetcher), so
		// nothing is served over HTTP; fetched counts those local reads.
		{mapsRead, 81}, {rejected, 1}, {mapsOK, 1}, {reducesOK, 2}, {fetched, 1},
	}
	var after map[string]float64
	short := func() []string {
		var out []string
		for _, m := range want {
			if got, ok := after[m.series]; !ok {
				out = append(out, "no "+m.series)
			} else if got-before[m.series] < m.min {
				out = append(out, fmt.Sprintf("%s moved by %v, want at least %v", m.series, got-before[m.series], m.min))
			}
		}
		return out
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		after = scrape(t, worker, c.Token)
		if len(short()) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, s := range short() {
		t.Errorf("worker /metrics: %s", s)
	}
	for _, series := range []string{served, shuffleGets} {
		if got := after[series] - before[series]; got != 0 {
			t.Errorf("worker /metrics: %s moved by %v; the lone worker should read its own outputs from disk", series, got)
		}
	}

	co := scrape(t, coord, c.Token)
	for _, s := range []string{attemptsOK, jobsOK, polls, pendingMaps} {
		if _, ok := co[s]; !ok {
			t.Errorf("coordinator /metrics lacks %s", s)
		}
	}
	if co[workersLive] < 1 { // other tests' clusters may add theirs
		t.Errorf("%s = %v, want 1", workersLive, co[workersLive])
	}
	if co[attemptsOK] < 1 {
		t.Errorf("%s = %v after a job, want at least 1", attemptsOK, co[attemptsOK])
	}
}

func TestStatusPageLinksJobsToPyroscope(t *testing.T) {
	cfg := LocalServerConfig()
	cfg.DataDir, cfg.Insecure, cfg.Token, cfg.Log = t.TempDir(), true, "secret", slog.New(slog.DiscardHandler)
	cfg.PyroscopeUI = "http://localhost:4040"
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	submitted := time.Date(2024, 1, 5, 10, 0, 0, 0, time.UTC)
	finished := submitted.Add(10 * time.Minute)
	s.mu.Lock()
	s.jobs["normalize-1"] = &JobStatus{ID: "normalize-1", Name: "normalize", State: Succeeded, Submitted: submitted, Finished: &finished, tracker: &Tracker{}}
	s.order = append(s.order, "normalize-1")
	s.mu.Unlock()

	req, _ := http.NewRequest(http.MethodGet, "http://"+s.APIAddr()+"/", nil)
	req.SetBasicAuth("", "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, link, ok := strings.Cut(string(body), `<a href="`)
	link, _, _ = strings.Cut(link, `"`)
	if !ok {
		t.Fatalf("the status page links nowhere:\n%s", body)
	}
	u, err := url.Parse(html.UnescapeString(link))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	wantQuery := `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="` + obs.AppName("worker") + `",job="normalize-1"}`
	if u.Host != "localhost:4040" || q.Get("query") != wantQuery ||
		q.Get("from") != strconv.FormatInt(submitted.Add(-time.Minute).Unix(), 10) ||
		q.Get("until") != strconv.FormatInt(finished.Add(time.Minute).Unix(), 10) {
		t.Errorf("profile link %s: want the Pyroscope UI at localhost:4040 with query %s over the job's time", u, wantQuery)
	}
}
