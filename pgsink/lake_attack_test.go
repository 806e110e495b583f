package pgsink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// attackGroup commits one group with heat rows and returns its key, the lake root, the
// summaries root and the commit's manifest.
func attackGroup(t *testing.T) (record.Key, string, string, *lake.Manifest) {
	k := record.Key{City: "new york", Year: 2024, Month: 5}
	tab := summary.Tables{
		Heat: []summary.Heat{{City: k.City, Agency: "NYPD", Year: 2024, Month: 5, Weekday: 3, Hour: 23, Requests: 2}},
	}
	lakeRoot, root := t.TempDir(), t.TempDir()
	return k, lakeRoot, root, commitSummaries(t, lakeRoot, root, k, tab)
}

// Finding 1: a publish file changed after the commit, still the group's and well formed
// (here one count, same size), was sent as it is: 9 requests published where the summary
// files and the manifest's SHA-256 say 2.
func TestAttackPublishFileChangedAfterCommit(t *testing.T) {
	k, lakeRoot, root, m := attackGroup(t)
	name := filepath.Join(root, lake.PublishFile(k))
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(data, []byte("{2}"), []byte("{9}"), 1)
	if bytes.Equal(changed, data) {
		t.Fatalf("no count to change in %q", data)
	}
	if err := os.WriteFile(name, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	g, ok, err := LakeEncoded(context.Background(), testStore(t), lakeRoot, m)(k)
	if ok || !errors.Is(err, errChanged) || !strings.Contains(err.Error(), lake.PublishFile(k)) {
		t.Fatalf("a changed publish file: ok %v, err %v, rows %v; want errChanged naming the file", ok, err, g)
	}
}

// Finding 1 too: a publish file replaced by a huge one (here 8 GiB, sparse) was read whole
// into memory (io.ReadAll) before Unmarshal could refuse it, where the summary files would
// publish. (A symlink to /dev/zero or a FIFO is refused by the local store's open.)
func TestAttackPublishFileEndless(t *testing.T) {
	k, lakeRoot, root, m := attackGroup(t)
	name := filepath.Join(root, lake.PublishFile(k))
	if err := os.Truncate(name, 8<<30); err != nil {
		t.Fatal(err)
	}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, ok, err := LakeEncoded(context.Background(), testStore(t), lakeRoot, m)(k)
		done <- result{ok, err}
	}()
	select {
	case r := <-done:
		if r.ok || !errors.Is(r.err, errChanged) {
			t.Fatalf("an endless publish file: ok %v, err %v; want errChanged", r.ok, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("an endless publish file: still reading after 20 s")
	}
}

// Finding 3: a publish file may hold an agency_daily day its month does not have (30
// February): Unmarshal checks only the rows' group, the packed table's CHECK only 1-31, so
// the publish commits it, and from then on every query of the agency_daily view fails
// (make_date: date field value out of range), viz's pages included. The summary files
// cannot hold such a day (a date), and Marshal never writes one; a crafted or changed file
// can (finding 1's check now refuses a file the manifest does not list). The packed table's
// CHECK now refuses a day its month does not have.
func TestAttackPublishImpossibleDay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	pg := testenv.Postgres(t)
	db := freshDB(t, pg, "attack_impossible_day")
	ctx := context.Background()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	k := record.Key{City: "sf", Year: 2024, Month: 2}
	feb28 := int32(time.Date(2024, 2, 28, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	data, err := pgcopy.Marshal(k, &summary.Tables{AgencyDaily: []summary.AgencyDaily{{City: k.City, Agency: "DPW", Day: feb28, Opened: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	crafted := bytes.Replace(data, []byte("{28}"), []byte("{30}"), 1)
	if bytes.Equal(crafted, data) {
		t.Fatalf("no day to change in %q", data)
	}
	g, err := pgcopy.Unmarshal(k, crafted)
	if err != nil {
		t.Skipf("Unmarshal refuses it now: %v", err)
	}
	s := newSink(t, db, time.Second)
	enc := func(record.Key) (*pgcopy.Group, bool, error) { return g, true, nil }
	err = s.PublishEncoded(ctx, JobRun{ID: "j", Name: "n", Status: "succeeded"}, []record.Key{k}, enc, nil)
	if err == nil || !strings.Contains(err.Error(), "agency_daily_packed") {
		t.Errorf("a publish of 30 February: %v; want the packed table's CHECK to refuse it", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(day) FROM agency_daily").Scan(&n); err != nil {
		t.Fatalf("published; now agency_daily cannot be read: %v", err)
	}
}
