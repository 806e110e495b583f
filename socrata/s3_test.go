package socrata_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/socrata"
	"github.com/ireports/ireports/socrata/sodatest"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestPullS3 stores batches in S3 (an in-process gofakes3 server on loopback) through an
// outage and a crash, and checks the lake as on local disk.
func TestPullS3(t *testing.T) {
	fake := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(fake.Close)
	m := &testenv.MinIOServer{Endpoint: fake.URL, AccessKey: "fake", SecretKey: "fakefakefake", Region: "us-east-1", Bucket: "lake"}
	ctx := context.Background()
	if _, err := m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &m.Bucket}); err != nil {
		t.Fatal(err)
	}
	objs, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, Region: m.Region, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	raw := m.URL("raw/nyc")

	srv := newServer(t, generated)
	store := &crashingStore{WatermarkStore: newMemWatermarks(), at: 4}
	src := testSource(srv, raw)
	srv.FailAfter(2, sodatest.Unavailable, -1)
	if _, err := socrata.Pull(ctx, src, store, objs); err == nil {
		t.Fatal("Pull through an outage succeeded")
	}
	srv.Recover()
	if _, err := socrata.Pull(ctx, src, store, objs); !errors.Is(err, errCrash) {
		t.Fatalf("Pull: %v, want the simulated crash", err)
	}
	store.at = 0
	res, err := socrata.Pull(ctx, src, store, objs)
	if err != nil || res.Status != socrata.StatusCaughtUp {
		t.Fatalf("Pull: %+v, %v", res, err)
	}
	if len(res.Batches) == 0 || res.Batches[0][:len(raw)+7] != raw+"/batch-" {
		t.Errorf("batches %v, want s3:// names under %s", res.Batches, raw)
	}
	lake := readLake(t, readBatches(t, objs, raw))
	if lake.raw != srv.Len() {
		t.Errorf("batches hold %d records, want %d", lake.raw, srv.Len())
	}
	sameLake(t, lake, truth(t, srv))
}
