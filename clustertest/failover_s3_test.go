package clustertest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/internal/testenv"
)

// TestCoordinatorKilledCommittingS3 writes the corpus job's lake to MinIO and kills
// (SIGKILL) the coordinator in its commit, when part of the reducers' pending multipart
// uploads may be completed and the rest not. The restarted coordinator must finish the
// commit from its journal: the lake, copied back from the bucket, equals the fault-free
// run's file by file, and no multipart upload and no _temporary object is left.
func TestCoordinatorKilledCommittingS3(t *testing.T) {
	slow(t)
	m := testenv.MinIO(t)
	// The daemons take their S3 settings from the environment they inherit.
	t.Setenv("S3_ENDPOINT", m.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_REGION", m.Region)
	want, wantRes := reference(t)
	c := startCluster(t, clusterConfig{workers: 3, lease: lease})

	job, local := corpusJob(t, filepath.Join(c.dir, "out"))
	remote := outputs{Lake: m.URL("out/requests"), Summaries: m.URL("out/summaries"), Rejects: m.URL("out/rejects")}
	src, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(`"`+local.Lake+`"`, `"`+remote.Lake+`"`, `"`+local.Rejects+`"`, `"`+remote.Rejects+`"`).Replace(string(src))
	if !strings.Contains(text, remote.Lake) || !strings.Contains(text, remote.Rejects) {
		t.Fatalf("the job's outputs were not moved to the bucket:\n%s", text)
	}
	if err := os.WriteFile(job, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	id := c.submitDetached(job)
	c.waitPhase(id, coordinator.Committing)
	c.coord.signal(t, syscall.SIGKILL)
	<-c.coord.done
	c.restartCoordinator(lease, filepath.Join(c.dir, "coordinator"))
	if j, err := c.job(id); err != nil || j.Resumed != 1 {
		t.Fatalf("the restarted coordinator's job %s: %+v, %v", id, j, err)
	}
	t.Logf("killed in the commit; %s", strings.Join(resumeLines(c.coord.logText()), "; "))
	j := c.waitSucceeded(t, id)
	checkCounts(t, j.Result, wantRes)

	ctx := context.Background()
	uploads, err := m.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &m.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range uploads.Uploads {
		t.Errorf("multipart upload left after the resumed commit: %s", aws.ToString(u.Key))
	}
	mirror := filepath.Join(c.dir, "mirror")
	copyPrefix(t, m, "out/", mirror)
	compareOutputs(t, outputs{
		Lake:      filepath.Join(mirror, "requests"),
		Summaries: filepath.Join(mirror, "summaries"),
		Rejects:   filepath.Join(mirror, "rejects"),
	}, want)
}

// copyPrefix copies every object under prefix in m's bucket to dir, keeping the key's path
// after prefix, so that the local-disk checks (compareOutputs) read what a user of the
// bucket sees.
func copyPrefix(t *testing.T, m *testenv.MinIOServer, prefix, dir string) {
	t.Helper()
	ctx := context.Background()
	client := m.Client()
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &m.Bucket, Prefix: aws.String(prefix)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &m.Bucket, Key: o.Key})
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			path := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(key, prefix)))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(path)
			if err == nil {
				_, err = f.ReadFrom(out.Body)
				err = errors.Join(err, f.Close())
			}
			out.Body.Close()
			if err != nil {
				t.Fatalf("copy %s: %v", key, err)
			}
			n++
		}
	}
	t.Logf("copied %d objects of s3://%s/%s", n, m.Bucket, prefix)
}
