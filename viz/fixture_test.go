package viz

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/localcluster"
	"github.com/ireports/ireports/internal/testenv"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
)

// normalizeJob is normalize.job with absolute paths: the five cities' files, every format.
func normalizeJob(data, out string) string {
	var b strings.Builder
	b.WriteString("job \"normalize\" {\n  split_size = \"64MiB\"\n  reducers = 4\n  max_reject_ratio = 0.01\n")
	for _, in := range []struct{ name, path, schema, format string }{
		{"nyc_portal", "nyc/portal_*.csv", "nyc", ""},
		{"nyc_soda_csv", "nyc/soda_*.csv", "nyc", ""},
		{"nyc_soda_json", "nyc/soda_*.json", "nyc", "soda-json"},
		{"la", "la", "la", ""},
		{"sf", "sf", "sf", ""},
		{"boston", "boston", "boston", ""},
		{"baltimore", "baltimore", "baltimore", ""},
	} {
		fmt.Fprintf(&b, "  input %q {\n    path = %q\n    schema = %q\n", in.name, filepath.Join(data, in.path), in.schema)
		if in.format != "" {
			fmt.Fprintf(&b, "    format = %q\n", in.format)
		}
		b.WriteString("  }\n")
	}
	fmt.Fprintf(&b, "  output {\n    parquet = %q\n    summaries = %q\n    rejects = %q\n  }\n}\n",
		filepath.Join(out, "requests"), filepath.Join(out, "summaries"), filepath.Join(out, "rejects"))
	return b.String()
}

// loadRealData runs the normalize job over the five cities on a local cluster of two
// workers, then publishes the summaries from the summary datasets beside the lake into db
// (migrated here), as `coordinator run` followed by `coordinator publish` would.
func loadRealData(t testing.TB, ctx context.Context, db *sql.DB) {
	t.Helper()
	data := testenv.RealData(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "normalize.job")
	if err := os.WriteFile(path, []byte(normalizeJob(data, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := jobs.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := localcluster.Run(ctx, spec, coordinator.LocalConfig{Workers: 2, Dir: filepath.Join(dir, "cluster")})
	if err != nil || res.Status != coordinator.Succeeded {
		t.Fatalf("normalize job: status %s: %v", res.Status, err)
	}
	t.Logf("normalize job: %d records in, %d out, %d groups in %.1fs", res.RecordsIn, res.RecordsOut, res.Groups, time.Since(start).Seconds())

	root := spec.Output.Parquet
	m, err := lake.ReadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	store, err := objstore.New(objstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	sink, err := pgsink.New(db, pgsink.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	run := pgsink.JobRun{ID: res.Job, Name: spec.Name, Status: res.Status.String(), Started: start, Finished: time.Now(),
		RecordsIn: res.RecordsIn, RecordsOut: res.RecordsOut, RecordsRejected: res.Rejected,
		Duplicates: res.DuplicatesRemoved, Groups: res.Groups}
	if err := sink.Publish(ctx, run, pgsink.ManifestGroups(m), pgsink.LakeLoader(ctx, store, root, m)); err != nil {
		t.Fatal(err)
	}
}
