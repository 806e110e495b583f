package coordinator

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
)

// s3Env is a MinIO server holding the five cities' files under raw/, with the process
// environment set so that the standard AWS credential chain reaches it.
type s3Env struct {
	m     *testenv.MinIOServer
	store objstore.Store
}

func newS3Env(t *testing.T, data string) *s3Env {
	t.Helper()
	m := testenv.MinIO(t)
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_REGION", m.Region)
	t.Setenv("S3_ENDPOINT", "")
	store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".md") {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return objstore.WriteAll(ctx, store, m.URL("raw/"+filepath.ToSlash(rel)), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &s3Env{m: m, store: store}
}

// inputs are realInputs with the raw files in the bucket.
func (e *s3Env) inputs(data string) []inputDef {
	in := realInputs(data)
	for i := range in {
		rel, _ := filepath.Rel(data, in[i].path)
		in[i].path = e.m.URL("raw/" + filepath.ToSlash(rel))
	}
	return in
}

// mirror downloads every object under prefix into a local directory.
func (e *s3Env) mirror(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	objs, err := e.store.List(ctx, prefix+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		b, err := objstore.ReadAll(ctx, e.store, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(o.Name, prefix+"/")))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkClean fails if anything of a job's staging is left in the bucket: _temporary
// objects or multipart uploads.
func (e *s3Env) checkClean(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	objs, err := e.store.List(ctx, e.m.URL("lake/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(o.Name, "/"+lake.TemporaryDir+"/") {
			t.Errorf("left behind: %s", o.Name)
		}
	}
	out, err := e.m.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.m.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("dangling multipart upload of %s (started %v)", *u.Key, u.Initiated)
	}
}

// TestS3EndToEnd runs the five-city job with its inputs, lake and rejects in a real MinIO,
// with and without injected S3 faults, and compares everything with the local-disk run.
func TestS3EndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MinIO and runs the five-city job three times: skipped under -short")
	}
	data := testenv.RealData(t)
	env := newS3Env(t, data)
	pg := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	dir := t.TempDir()
	localDB := pg.CreateDatabase(t, "local")
	local := writeSpec(t, dir, jobDef{inputs: realInputs(data), ratio: 0.01, postgres: localDB,
		parquet: filepath.Join(dir, "requests"), rejects: filepath.Join(dir, "rejects")})
	want, err := runJob(t, ctx, local, LocalConfig{})
	if err != nil {
		t.Fatalf("local run: %v", err)
	}
	wantLake := hashTree(t, local.Output.Parquet)
	wantSummaries := hashTree(t, local.Output.Summaries)
	wantRejects := readRejects(t, want.Outputs.Rejects)
	wantRows := digestOf(t, localDB)

	run := func(t *testing.T, endpoint string) *Result {
		t.Helper()
		d := t.TempDir()
		db := pg.CreateDatabase(t, strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")))
		spec := writeSpec(t, d, jobDef{inputs: env.inputs(data), ratio: 0.01, endpoint: endpoint, postgres: db,
			parquet: env.m.URL("lake/requests"), rejects: env.m.URL("lake/rejects")})
		res, err := runJob(t, ctx, spec, LocalConfig{Workers: 2})
		if err != nil {
			t.Fatalf("S3 run: %v", err)
		}
		checkAccounting(t, res)
		if res.RecordsIn != want.RecordsIn || res.RecordsOut != want.RecordsOut || res.Rejected != want.Rejected || res.Groups != want.Groups {
			t.Errorf("S3 run: in %d out %d rejected %d groups %d; local: in %d out %d rejected %d groups %d",
				res.RecordsIn, res.RecordsOut, res.Rejected, res.Groups, want.RecordsIn, want.RecordsOut, want.Rejected, want.Groups)
		}
		got := env.mirror(t, env.m.URL("lake/requests"))
		equalHashes(t, "S3 lake vs local lake", hashTree(t, got), wantLake)
		if spec.Output.Summaries != env.m.URL("lake/summaries") {
			t.Errorf("summaries root %s, want %s beside the lake", spec.Output.Summaries, env.m.URL("lake/summaries"))
		}
		equalHashes(t, "S3 summaries vs local summaries", hashTree(t, env.mirror(t, env.m.URL("lake/summaries"))), wantSummaries)
		m, err := lake.LoadManifest(ctx, env.store, env.m.URL("lake/requests"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Job != res.Job || int(m.Rows) != int(res.RecordsOut) || len(m.Groups) != res.Groups {
			t.Errorf("manifest: job %s rows %d groups %d; result: job %s rows %d groups %d", m.Job, m.Rows, len(m.Groups), res.Job, res.RecordsOut, res.Groups)
		}
		if rej := readRejects(t, env.mirror(t, env.m.URL("lake/rejects/normalize"))); len(rej) != len(wantRejects) {
			t.Errorf("S3 rejects: %d, local: %d", len(rej), len(wantRejects))
		}
		env.checkClean(t)
		if res.Published != Published {
			t.Errorf("S3 run: summaries %q", res.Published)
		} else if got := digestOf(t, db); got != wantRows {
			t.Errorf("Postgres rows of the S3 run differ from the local run's:\n got %s\nwant %s", got, wantRows)
		}
		return res
	}

	t.Run("clean", func(t *testing.T) { run(t, env.m.Endpoint) })

	t.Run("cancel", func(t *testing.T) {
		// A job cancelled once its reducers run leaves nothing: no objects in its lake,
		// no multipart uploads.
		d := t.TempDir()
		spec := writeSpec(t, d, jobDef{inputs: env.inputs(data), ratio: 0.01, endpoint: env.m.Endpoint,
			parquet: env.m.URL("cancelled/requests"), rejects: env.m.URL("cancelled/rejects")})
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		res, err := runJob(t, cctx, spec, LocalConfig{Workers: 2, Progress: func(j JobStatus) {
			if j.Progress.Phase == Reducing || j.Progress.Phase.timedAs() == Committing {
				ccancel()
			}
		}})
		if err == nil {
			t.Skipf("the job finished (%s) before it could be cancelled", res.Status)
		}
		objs, lerr := env.store.List(ctx, env.m.URL("cancelled/"))
		if lerr != nil {
			t.Fatal(lerr)
		}
		for _, o := range objs {
			t.Errorf("a cancelled job left %s", o.Name)
		}
		env.checkClean(t)
		if t.Failed() {
			t.FailNow() // the other subtests check the whole bucket
		}
	})

	t.Run("faults", func(t *testing.T) {
		// Every 29th request to S3 fails: 503 SlowDown, 500, a reset connection, a body cut
		// short, or a stalled one. The SDK's retries and the readers' resumes absorb them all.
		proxy := testenv.FaultProxy(t, env.m.Endpoint, testenv.FaultPlan{Every: 29, Stall: 200 * time.Millisecond})
		run(t, proxy.URL)
		t.Logf("faults injected: %v", proxy.Faults())
	})
}

// digestOf is tablesDigest of the database at url.
func digestOf(t *testing.T, url string) string {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return tablesDigest(t, db)
}
