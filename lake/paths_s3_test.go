package lake

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// TestTraversalOnS3 is TestAbortAndCommitStayUnderRoot against a real S3 server (MinIO):
// `path.Join` resolves `..` in keys, so a job named "../../victim" would make the lake's
// abort delete, and its commit overwrite, objects beside the lake. Every hostile name and
// stage is refused, and the bucket holds exactly the objects it held before.
func TestTraversalOnS3(t *testing.T) {
	m := testenv.MinIO(t)
	ctx := context.Background()
	store, err := objstore.New(objstore.Options{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	k := record.Key{City: "nyc", Year: 2024, Month: 3}
	root := m.URL("out/lake")
	roots := Roots{Lake: root, Summaries: m.URL("out/summaries")}
	for _, key := range []string{
		"victim/" + GroupPath(k) + "/" + PartFile(0),
		"out/victim/keep.json",
		"out/lake/" + TemporaryDir + "/keep",
		"out/summaries/" + TemporaryDir + "/keep",
		"out/lake/" + GroupPath(k) + "/" + PartFile(0),
	} {
		if err := objstore.WriteAll(ctx, store, m.URL(key), []byte("precious")); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []string {
		objs, err := store.List(ctx, m.URL(""))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range objs {
			names = append(names, o.Name)
		}
		slices.Sort(names)
		return names
	}
	before := list()
	for _, job := range []string{"../../victim", "..", "../..", "../victim", "a/../../victim"} {
		if err := Abort(ctx, store, root, job); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Abort(job %q) = %v, want ErrUnsafePath", job, err)
		}
		if err := Abort(ctx, store, roots.Summaries, job); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Abort(summaries, job %q) = %v, want ErrUnsafePath", job, err)
		}
		if _, err := Commit(ctx, store, roots, job, "j", RunStats{}, []CommitGroup{{Key: k, Rows: 1, AttemptDir: m.URL("victim"), SummaryDir: m.URL("victim")}}, time.Now()); !errors.Is(err, objstore.ErrUnsafePath) {
			t.Errorf("Commit(job %q) = %v, want ErrUnsafePath", job, err)
		}
	}
	for _, stage := range []string{m.URL("victim"), root + "/" + TemporaryDir + "/job-1/../../../victim", m.URL("out/victim")} {
		if _, err := Commit(ctx, store, roots, "job-1", "j", RunStats{}, []CommitGroup{{Key: k, Rows: 1, AttemptDir: stage}}, time.Now()); err == nil {
			t.Errorf("Commit of a group staged at %s succeeded", stage)
		}
	}
	lakeStage := root + "/" + TemporaryDir + "/job-1/r-0-1"
	for _, stage := range []string{m.URL("victim"), roots.Summaries + "/" + TemporaryDir + "/job-1/../../../victim", m.URL("out/victim"), lakeStage} {
		g := CommitGroup{Key: k, Rows: 1, AttemptDir: lakeStage, SummaryDir: stage}
		if _, err := Commit(ctx, store, roots, "job-1", "j", RunStats{}, []CommitGroup{g}, time.Now()); err == nil {
			t.Errorf("Commit of a group whose summaries are staged at %s succeeded", stage)
		}
	}
	if after := list(); !slices.Equal(before, after) {
		t.Errorf("the bucket changed:\nbefore %v\nafter  %v", before, after)
	}
	for _, key := range before {
		if b, err := objstore.ReadAll(ctx, store, key); err != nil || string(b) != "precious" {
			t.Errorf("%s: %q, %v", key, b, err)
		}
	}
}
