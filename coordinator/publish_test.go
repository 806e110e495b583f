package coordinator

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
)

// tablesDigest is a digest of every summary row, to compare database states.
func tablesDigest(t *testing.T, db *sql.DB) string {
	t.Helper()
	var out string
	for _, q := range []string{
		`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM request_monthly t`,
		`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM agency_daily t`,
		`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM request_heat t`,
		`SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM request_geo t`,
	} {
		var s string
		if err := db.QueryRow(q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		out += s + " "
	}
	return out
}

func monthlyTotal(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(`SELECT coalesce(sum(requests), 0) FROM request_monthly`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPublish runs the five-city job with a Postgres output: published once and again
// (same rows), with Postgres down at the end of the job (lake committed, summaries
// unpublished, exit code 3), and then published by `coordinator publish`.
func TestPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and runs the five-city job three times: skipped under -short")
	}
	data := testenv.RealData(t)
	pg := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	dir := t.TempDir()
	def := jobDef{inputs: realInputs(data), ratio: 0.01, postgres: pg.URL,
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")}
	spec := writeSpec(t, dir, def)
	fast := pgsink.DefaultConfig()
	fast.RetryDeadline, fast.BackoffInitial, fast.BackoffMax, fast.ConnectTimeout = 2*time.Second, 100*time.Millisecond, 500*time.Millisecond, time.Second
	var (
		progressMu   sync.Mutex // guards lastProgress
		lastProgress pgsink.PublishProgress
	)
	fast.Progress = func(p pgsink.PublishProgress) {
		progressMu.Lock()
		lastProgress = p
		progressMu.Unlock()
	}

	res, err := runJob(t, ctx, spec, LocalConfig{Publish: &fast})
	if err != nil || res.Published != Published {
		t.Fatalf("first run: %v, published %q", err, res.Published)
	}
	progressMu.Lock()
	if p := lastProgress; p.Groups != res.Groups || p.GroupsTotal != res.Groups || p.Rows == 0 {
		t.Errorf("the publish's last progress: %+v; want all %d groups and their rows", p, res.Groups)
	}
	progressMu.Unlock()
	if got := monthlyTotal(t, db); got != res.RecordsOut {
		t.Errorf("request_monthly sums to %d requests; the job wrote %d records", got, res.RecordsOut)
	}
	first := tablesDigest(t, db)
	var published sql.NullTime
	if err := db.QueryRow(`SELECT published_at FROM job_runs WHERE job_id = $1`, res.Job).Scan(&published); err != nil || !published.Valid {
		t.Errorf("job_runs row of %s: published_at %v, err %v", res.Job, published, err)
	}

	res2, err := runJob(t, ctx, spec, LocalConfig{Publish: &fast})
	if err != nil || res2.Published != Published {
		t.Fatalf("second run: %v, published %q", err, res2.Published)
	}
	if again := tablesDigest(t, db); again != first {
		t.Errorf("publishing the same job again changed the rows:\nfirst  %s\nsecond %s", first, again)
	}

	// Postgres is down when the job ends: the lake commits, the summaries wait.
	if _, err := db.Exec(`DELETE FROM request_monthly; DELETE FROM agency_daily_packed; DELETE FROM request_heat_packed; DELETE FROM request_geo_packed`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	res3, err := runJob(t, ctx, spec, LocalConfig{Publish: &fast})
	if err != nil {
		t.Fatalf("run with Postgres down: %v (the lake should commit)", err)
	}
	if res3.Published != Unpublished || len(res3.Warnings) == 0 {
		t.Fatalf("run with Postgres down: published %q, warnings %q", res3.Published, res3.Warnings)
	}
	t.Logf("warning: %s", res3.Warnings[len(res3.Warnings)-1])
	// (That `coordinator run` exits ExitUnpublished on it: coordinatorcli's TestFinishUnpublished.)
	checkManifest(t, spec.Output.Parquet, counts(readLake(t, spec.Output.Parquet, zones(spec))))

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runCLI([]string{"publish", spec.File}, &stdout, &stderr); code != 0 {
		t.Fatalf("coordinator publish: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("coordinator publish: %s", stdout.String())
	db2, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	// It says how many summary rows it loaded: the rows the four tables now hold.
	var summaryRows int64
	if err := db2.QueryRow(`SELECT (SELECT count(*) FROM request_monthly) + (SELECT count(*) FROM agency_daily)
		+ (SELECT count(*) FROM request_heat) + (SELECT count(*) FROM request_geo)`).Scan(&summaryRows); err != nil {
		t.Fatal(err)
	}
	if said := regexp.MustCompile(`([0-9,]+) summary rows`).FindStringSubmatch(stdout.String()); said == nil ||
		strings.ReplaceAll(said[1], ",", "") != strconv.FormatInt(summaryRows, 10) {
		t.Errorf("coordinator publish said %q; the tables hold %d summary rows", stdout.String(), summaryRows)
	}
	if got := tablesDigest(t, db2); got != first {
		t.Errorf("after coordinator publish:\n got %s\nwant %s", got, first)
	}
	var records int64
	if err := db2.QueryRow(`SELECT records_in FROM job_runs WHERE job_id = $1 AND published_at IS NOT NULL`, res3.Job).Scan(&records); err != nil || records != res3.RecordsIn {
		t.Errorf("job_runs row of %s after publish: records_in %d (want %d), err %v", res3.Job, records, res3.RecordsIn, err)
	}
	// Without -v it logged nothing; it said what it did on stdout.
	if strings.Contains(stderr.String(), "level=INFO") || strings.Contains(stderr.String(), " INFO ") {
		t.Errorf("coordinator publish without -v logged at info:\n%s", stderr.String())
	}
	// Publishing again is a no-op on the rows; -v logs the publish's timings, --cpuprofile
	// writes a profile whose samples carry the publish's labels.
	stdout.Reset()
	stderr.Reset()
	prof := filepath.Join(t.TempDir(), "publish.pprof")
	if code := runCLI([]string{"publish", spec.File, "-v", "--cpuprofile", prof}, &stdout, &stderr); code != 0 || tablesDigest(t, db2) != first {
		t.Errorf("second coordinator publish: exit %d, rows changed %v\n%s", code, tablesDigest(t, db2) != first, stderr.String())
	}
	if !strings.Contains(stderr.String(), `level=INFO msg="publish: summaries loaded"`) {
		t.Errorf("coordinator publish -v did not log the publish's timings:\n%s", stderr.String())
	}
	// Every group's reducer wrote its publish file, and the publish sent them: the digests
	// above compare the rows they hold with those of the summary files (the old layout's,
	// below, has none).
	if want := fmt.Sprintf("groups=%d encoded_groups=%d ", res3.Groups, res3.Groups); !strings.Contains(stderr.String(), want) {
		t.Errorf("coordinator publish -v did not log %q:\n%s", want, stderr.String())
	}
	checkPublishProfile(t, prof, res3.Job)

	// A lake of the old layout, its summaries inside it and its manifest naming none,
	// publishes the same rows.
	toLegacyLayout(t, spec.Output.Parquet, spec.Output.Summaries)
	if _, err := db2.Exec(`DELETE FROM request_monthly; DELETE FROM agency_daily_packed; DELETE FROM request_heat_packed; DELETE FROM request_geo_packed`); err != nil {
		t.Fatal(err)
	}
	if code := runCLI([]string{"publish", spec.File}, &stdout, &stderr); code != 0 {
		t.Fatalf("coordinator publish of an old lake: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if got := tablesDigest(t, db2); got != first {
		t.Errorf("after coordinator publish of the old lake:\n got %s\nwant %s", got, first)
	}
}

// checkPublishProfile checks that file is a CPU profile of a publish: parsed, and its
// samples, if the publish ran long enough to take one, labelled with the job and kind
// "publish" (obs.Do), as the profiles of `coordinator run` are.
func checkPublishProfile(t *testing.T, file, job string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("--cpuprofile: %v", err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("--cpuprofile wrote no CPU profile: %v", err)
	}
	if len(p.SampleType) == 0 || p.SampleType[0].Type != "samples" {
		t.Errorf("--cpuprofile: sample types %v, want a CPU profile", p.SampleType)
	}
	for _, s := range p.Sample {
		if s.Label["kind"] != nil && (s.Label["kind"][0] != obs.KindPublish || s.Label["job"][0] != job) {
			t.Errorf("a sample labelled %v, want job %s and kind %s", s.Label, job, obs.KindPublish)
			return
		}
	}
}

// toLegacyLayout rewrites the lake at root as the binaries before the summary datasets wrote
// it: each group's summary tables in <root>/_summary/<city>/<yyyy>-<mm>/<table>.parquet (with
// their city, year and month columns), and a manifest that names no summaries. The summary
// datasets at sums are removed.
func toLegacyLayout(t *testing.T, root, sums string) {
	t.Helper()
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lake.ReadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range pgsink.ManifestGroups(m) {
		tab, err := lake.ReadSummaries(ctx, store, sums, k)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "_summary", url.PathEscape(k.City), fmt.Sprintf("%04d-%02d", k.Year, k.Month))
		for _, err := range []error{
			lake.WriteParquet(filepath.Join(dir, "request_monthly.parquet"), tab.Monthly),
			lake.WriteParquet(filepath.Join(dir, "agency_daily.parquet"), tab.AgencyDaily),
			lake.WriteParquet(filepath.Join(dir, "request_heat.parquet"), tab.Heat),
			lake.WriteParquet(filepath.Join(dir, "request_geo.parquet"), tab.Geo),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	m.Summaries = nil
	if err := lake.WriteJSON(filepath.Join(root, lake.SuccessFile), m); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(sums); err != nil {
		t.Fatal(err)
	}
}
