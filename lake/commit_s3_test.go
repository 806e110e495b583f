package lake

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// TestCommitSweepsOnS3: on S3, where the commit's sweep is List, Delete and one listing of
// the bucket's uploads (objstore.SweepTrees's generic path), a commit leaves each committed
// group holding exactly its files, aborts the losing attempt's uploads, keeps what it did
// not commit, and reports the old layout it leaves. It aborts no upload it completed: each
// such abort was a round trip answered NoSuchUpload, one per file of the job, one after
// another (at S3's latency, minutes for a job of 1,272 groups).
func TestCommitSweepsOnS3(t *testing.T) {
	store, m, log := fakeS3Logged(t)
	ctx := context.Background()
	roots := Roots{Lake: m.URL("out/requests"), Summaries: m.URL("out/summaries")}
	mar := record.Key{City: "nyc", Year: 2024, Month: 3}
	for _, key := range []string{
		"out/requests/" + GroupPath(mar) + "/" + PartFile(1),
		"out/summaries/" + SummaryGroupPath(SummaryTables[3], mar) + "/" + PartFile(1),
		"out/requests/_summary/nyc/2024-04/request_monthly.parquet",
	} {
		if err := objstore.WriteAll(ctx, store, m.URL(key), []byte("stale")); err != nil {
			t.Fatal(err)
		}
	}
	stage := func(attempt int, content string) CommitGroup {
		st, err := NewStage(store, roots.Lake, "job1", "r-0", attempt)
		if err != nil {
			t.Fatal(err)
		}
		sums, err := NewStage(store, roots.Summaries, "job1", "r-0", attempt)
		if err != nil {
			t.Fatal(err)
		}
		g := CommitGroup{Key: mar, Rows: 1, AttemptDir: st.Dir(), SummaryDir: sums.Dir()}
		if _, err := st.Put(ctx, filepath.Join(GroupPath(mar), PartFile(0)), []byte(content)); err != nil {
			t.Fatal(err)
		}
		for _, table := range SummaryTables {
			if _, err := sums.Put(ctx, filepath.Join(SummaryGroupPath(table, mar), PartFile(0)), []byte(content)); err != nil {
				t.Fatal(err)
			}
		}
		if err := errors.Join(st.Finish(ctx), sums.Finish(ctx)); err != nil {
			t.Fatal(err)
		}
		return g
	}
	won := stage(1, "won")
	stage(2, "lost")
	man, err := Commit(ctx, store, roots, "job1", "normalize", RunStats{}, []CommitGroup{won}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := AbortCommitted(ctx, store, roots.Lake, "job1", man); err != nil {
		t.Fatal(err)
	}
	if err := AbortCommitted(ctx, store, roots.Summaries, "job1", man); err != nil {
		t.Fatal(err)
	}
	// The losing attempt's five uploads are aborted (by the commit's sweep and again by the
	// abort's discarding of the attempt's stage); the five it completed, never.
	completed, _ := log.requests("POST")
	aborted, _ := log.requests("DELETE")
	if len(completed) != 1+len(SummaryTables) || len(aborted) != 1+len(SummaryTables) {
		t.Errorf("%d uploads completed and %d aborted, want %d each", len(completed), len(aborted), 1+len(SummaryTables))
	}
	for id := range aborted {
		if completed[id] {
			t.Errorf("upload %s was completed and then aborted", id)
		}
	}
	if old, ok := man.OldLayoutLeft(); !ok || old != (OldLayout{SummaryFiles: 1}) {
		t.Errorf("OldLayoutLeft = %+v, %v; want the April summary file", old, ok)
	}
	objs, err := store.List(ctx, m.URL("out/"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range objs {
		b, err := objstore.ReadAll(ctx, store, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		got[strings.TrimPrefix(o.Name, m.URL("out/"))] = string(b)
	}
	delete(got, "requests/"+SuccessFile)
	want := map[string]string{
		"requests/" + GroupPath(mar) + "/" + PartFile(0):        "won",
		"requests/_summary/nyc/2024-04/request_monthly.parquet": "stale",
	}
	for _, table := range SummaryTables {
		want["summaries/"+SummaryGroupPath(table, mar)+"/"+PartFile(0)] = "won"
	}
	if !maps.Equal(got, want) {
		t.Errorf("after the commit the bucket holds %v, want %v", got, want)
	}
	ups, err := m.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &m.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) > 0 {
		t.Errorf("%d uploads left unfinished, want the losing attempt's aborted", len(ups.Uploads))
	}
}
