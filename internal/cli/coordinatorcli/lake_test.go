package coordinatorcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/jobtest"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
)

// TestLakeCommand runs a small job and checks what `coordinator lake` prints about its lake,
// on local disk and copied to S3: the run, the totals, the summary datasets and every group
// (compared field by field, so that column widths do not matter), --head rows, and the
// errors and notes for paths that are not lakes or lakes that need attention.
func TestLakeCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	csv := filepath.Join(dir, "inc.csv")
	if err := os.WriteFile(csv, []byte("id,created,updated,closed,status,type\n"+
		"1,2024-01-05 10:00:00,2024-01-05 10:00:00,,open,pothole\n"+
		"2,2024-02-01 09:00:00,2024-02-01 09:00:00,,open,noise\n"+
		"3,2024-02-02 09:00:00,2024-02-03 09:00:00,2024-02-03 09:00:00,closed,noise\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "requests")
	spec := jobtest.WriteSpec(t, dir, jobtest.JobDef{Schemas: jobtest.MergeSchema, Reducers: 2, Inputs: []jobtest.InputDef{{Name: "inc", Path: csv, Schema: "inc"}},
		Parquet: root, Rejects: filepath.Join(dir, "rejects")})
	res, err := runJob(t, ctx, spec, coordinator.LocalConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lake.ReadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	size := func(files []lake.File, prefix string) string {
		var n int64
		for _, f := range files {
			if strings.HasPrefix(f.Path, prefix) {
				n += f.Bytes
			}
		}
		return units.FormatBytes(n)
	}
	listing := func(lakeRoot, sumRoot string) string {
		out := fmt.Sprintf(`lake %s
last run job %s (normalize), committed %s, version %s
started %s: 3 records read, 0 rejected, 0 duplicates removed
wrote 2 groups, 3 rows
requests 2 groups, 2 files, %s, 3 rows
summaries %s
`, lakeRoot, res.Job, stamp(m.Committed), version.Version(), stamp(m.Run.Started), size(m.Files, ""), sumRoot)
		for _, table := range append(slices.Clone(lake.SummaryTables), lake.PublishDir) {
			out += fmt.Sprintf("%s 2 groups 2 files %s\n", table, size(m.Summaries.Files, table+"/"))
		}
		return out + fmt.Sprintf(`GROUP ROWS FILES SIZE
city=inc/year=2024/month=1 1 1 %s
city=inc/year=2024/month=2 2 1 %s
`, size(m.Files, "city=inc/year=2024/month=1/"), size(m.Files, "city=inc/year=2024/month=2/"))
	}
	// fields drops the layout: each non-empty line's fields, joined by one space.
	fields := func(s string) string {
		var b strings.Builder
		for _, line := range strings.Split(s, "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				b.WriteString(strings.Join(f, " ") + "\n")
			}
		}
		return b.String()
	}
	run := func(args ...string) (stdout, stderr string, code int) {
		var o, e bytes.Buffer
		code = Main(append([]string{"lake"}, args...), &o, &e)
		return o.String(), e.String(), code
	}

	t.Run("listing", func(t *testing.T) {
		stdout, stderr, code := run(root)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got, want := fields(stdout), listing(root, spec.Output.Summaries); got != want {
			t.Errorf("coordinator lake printed\n%s\nwant (fields)\n%s", stdout, want)
		}
	})

	t.Run("listing on S3", func(t *testing.T) {
		srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
		defer srv.Close()
		fake := &testenv.MinIOServer{Endpoint: srv.URL, AccessKey: "fake", SecretKey: "fakefakefake", Region: "us-east-1", Bucket: "fake"}
		if _, err := fake.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &fake.Bucket}); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", fake.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", fake.SecretKey)
		t.Setenv("AWS_REGION", fake.Region)
		store, err := objstore.New(objstore.Options{Endpoint: fake.Endpoint})
		if err != nil {
			t.Fatal(err)
		}
		// As `aws s3 sync out/ s3://fake/out/` would copy the lake and its summaries.
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			rel, _ := filepath.Rel(dir, p)
			if err != nil || d.IsDir() || !strings.HasPrefix(rel, "requests/") && !strings.HasPrefix(rel, "summaries/") {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil {
				err = objstore.WriteAll(ctx, store, fake.URL("out/"+filepath.ToSlash(rel)), b)
			}
			if err != nil {
				t.Fatal(err)
			}
			return nil
		})
		stdout, stderr, code := run(fake.URL("out/requests"), "--endpoint", fake.Endpoint)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got, want := fields(stdout), listing(fake.URL("out/requests"), fake.URL("out/summaries")); got != want {
			t.Errorf("coordinator lake printed\n%s\nwant (fields)\n%s", stdout, want)
		}
		stdout, stderr, code = run(fake.URL("out/requests"), "--endpoint", fake.Endpoint, "--head", "1", "--group", "city=inc/year=2024/month=1")
		if code != 0 || !strings.Contains(stdout, `"request_id":"1"`) {
			t.Errorf("--head on S3: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("head", func(t *testing.T) {
		stdout, stderr, code := run(root, "--head", "5", "--group", "city=inc/year=2024/month=2")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got []headRow
		dec := json.NewDecoder(strings.NewReader(stdout))
		for dec.More() {
			var r headRow
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		if len(got) != 2 || got[0].RequestID != "2" || got[1].RequestID != "3" || got[0].City != "inc" || got[0].Year != 2024 || got[0].Month != 2 ||
			got[0].CreatedAt.Format("2006-01-02 15:04") != "2024-02-01 09:00" || got[0].ClosedAt != nil || got[1].ClosedAt == nil ||
			got[1].Status != "closed" || got[1].RequestType == nil || *got[1].RequestType != "noise" || got[0].Agency != nil {
			t.Errorf("--head printed\n%s", stdout)
		}
		if !strings.Contains(stdout, `"agency":null`) {
			t.Errorf("--head does not print nulls as null:\n%s", stdout)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		code int    // the exit code
		want string // in stdout or stderr
	}{
		{"help", []string{"-h"}, 0, "usage: coordinator lake PATH"},
		{"no path", nil, ExitUsage, "want one lake path"},
		{"unknown flag", []string{root, "--nope"}, ExitUsage, "flag provided but not defined"},
		{"not a lake", []string{dir}, ExitFailure, "not a lake: no _SUCCESS manifest"},
		{"summaries root", []string{spec.Output.Summaries}, ExitFailure, "it holds summary datasets"},
		{"head without group", []string{root, "--head", "3"}, ExitUsage, "--head N (N > 0) and --group go together"},
		{"bad group", []string{root, "--head", "3", "--group", "inc/2024/02"}, ExitFailure, "want city=<city>/year=<yyyy>/month=<mm>"},
		{"group not in the lake", []string{root, "--head", "3", "--group", "city=inc/year=2023/month=02"}, ExitFailure, "not in the lake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.code, tc.want)
			}
		})
	}

	t.Run("old layout", func(t *testing.T) {
		old := filepath.Join(t.TempDir(), "requests")
		jobtest.CopyTree(t, root, old)
		legacy := filepath.Join(old, "_summary", "inc", "2024-01", "request_monthly.parquet")
		os.MkdirAll(filepath.Dir(legacy), 0o755)
		os.WriteFile(legacy, []byte("x"), 0o644)
		om := *m
		om.Summaries = nil
		if err := lake.WriteJSON(filepath.Join(old, lake.SuccessFile), &om); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := run(old)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{
			"summaries inside the lake, in the old layout (_summary/, 1 files)",
			"note: 1 summary files (_summary/) and 0 group directories (month=0N) of the layout of earlier versions keep readers from opening the lake at its root",
		} {
			if !strings.Contains(fields(stdout), want) {
				t.Errorf("coordinator lake on an old lake printed\n%s\nwant a line with %q", stdout, want)
			}
		}
	})
}
