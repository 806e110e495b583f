package pgsink

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// Finding 2: a deployment whose migrations run as the tables' owner and whose publisher is
// another role, granted what it writes (pgsink's "publisher without TRUNCATE" case), could
// publish at version 3; migration 0004 carries to the views only SELECT, and nothing to the
// packed tables, so after the upgrade every publish of that role fails: permission denied
// for table request_heat_packed (a failed run; the reader keeps seeing the old rows).
func TestAttackUpgradeKeepsPublisherGrants(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx := context.Background()
	pg := testenv.Postgres(t)
	const dbName = "attack_upgrade_writer"
	db := freshDB(t, pg, dbName)
	migrateBefore(t, db, 4)
	root, groups := realLake(t)
	load := LakeLoader(ctx, testStore(t), t.TempDir(), summariesManifest(root))
	var some []record.Key
	for i := 0; i < len(groups); i += 8 {
		some = append(some, groups[i])
	}
	old := []string{summary.TableMonthly, summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo}
	for _, stmt := range []string{
		"CREATE ROLE pgsink_attack6_writer LOGIN",
		"CREATE ROLE pgsink_attack6_reader",
		"GRANT SELECT ON " + strings.Join(old, ", ") + " TO pgsink_attack6_reader",
		"GRANT SELECT, INSERT, DELETE ON " + strings.Join(old, ", ") + " TO pgsink_attack6_writer",
		"GRANT SELECT, INSERT, UPDATE ON job_runs TO pgsink_attack6_writer",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		for _, r := range []string{"pgsink_attack6_writer", "pgsink_attack6_reader"} {
			db.Exec("DROP OWNED BY " + r)
			db.Exec("DROP ROLE " + r)
		}
	})
	u, _ := url.Parse(pg.DatabaseURL(dbName))
	u.User = url.User("pgsink_attack6_writer")
	wdb, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer wdb.Close()
	job := JobRun{ID: "job-w", Name: "normalize", Status: "succeeded"}
	insertRows(t, db, some, load)            // what the writer published at version 3
	if err := Migrate(ctx, db); err != nil { // as the owner
		t.Fatal(err)
	}
	// The reader reads the views, as on a new database, and not the packed tables.
	for _, tab := range old[1:] {
		var view, packed bool
		if err := db.QueryRow("SELECT has_table_privilege('pgsink_attack6_reader', $1, 'SELECT'), has_table_privilege('pgsink_attack6_reader', $1 || '_packed', 'SELECT')", tab).Scan(&view, &packed); err != nil {
			t.Fatal(err)
		}
		if !view || packed {
			t.Errorf("the reader of %s: SELECT on the view %v, on the packed table %v; want true, false", tab, view, packed)
		}
	}
	if err := newSink(t, wdb, 0).Publish(ctx, job, some, changed(load)); err != nil {
		t.Fatalf("the writer's publish after migration 0004: %v", err)
	}
	if got, want := dump(t, db), expected(t, some, changed(load)); !equalStrings(got, want) {
		t.Fatalf("after the writer's publish: %s", diffRows(got, want))
	}
}

// Finding 5: a database where someone made a view of one of the three tables (an analyst's
// "CREATE VIEW heat_2024 AS SELECT … FROM request_heat") cannot take migration 0004: the
// DROP TABLE fails on the dependency, the migration rolls back, and the new binary, which
// needs version 4, publishes nothing until the view is dropped by hand. The error is
// PostgreSQL's own ("cannot drop table request_heat because other objects depend on it"),
// with no word of which objects: PostgreSQL names them in the error's detail, which the
// migration's error now carries. (The migration still fails: the view is the user's, and
// made again over the new view it reads the same rows.)
func TestAttackUpgradeWithDependentView(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx := context.Background()
	pg := testenv.Postgres(t)
	db := freshDB(t, pg, "attack_upgrade_view")
	migrateBefore(t, db, 4)
	if _, err := db.Exec("CREATE VIEW heat_2024 AS SELECT * FROM request_heat WHERE year = 2024"); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db); err == nil || !strings.Contains(err.Error(), "view heat_2024 depends on table request_heat") {
		t.Fatalf("Migrate with a user's view of request_heat: %v; want the error to name the view", err)
	}
}

// Two processes upgrading one database at version 3, rows and grants in it, at once: one
// applies 0004, the other finds it applied; the rows and the grants are the one migration's.
func TestAttackUpgradeConcurrently(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx := context.Background()
	pg := testenv.Postgres(t)
	const dbName = "attack_upgrade_concurrently"
	db := freshDB(t, pg, dbName)
	migrateBefore(t, db, 4)
	root, groups := realLake(t)
	load := LakeLoader(ctx, testStore(t), t.TempDir(), summariesManifest(root))
	insertRows(t, db, groups, load)
	want := dump(t, db)
	for _, stmt := range []string{
		"CREATE ROLE pgsink_attack6_cc_reader",
		"GRANT SELECT ON request_heat, request_geo, agency_daily TO pgsink_attack6_cc_reader",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		db.Exec("DROP OWNED BY pgsink_attack6_cc_reader")
		db.Exec("DROP ROLE pgsink_attack6_cc_reader")
	})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			db, err := sql.Open("postgres", pg.DatabaseURL(dbName))
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- Migrate(ctx, db)
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a concurrent Migrate: %v", err)
		}
	}
	checkVersions(t, db)
	if got := dump(t, db); !equalStrings(got, want) {
		t.Fatalf("after two concurrent upgrades: %s", diffRows(got, want))
	}
	for _, view := range []string{"request_heat", "request_geo", "agency_daily"} {
		var ok bool
		if err := db.QueryRow("SELECT has_table_privilege('pgsink_attack6_cc_reader', $1, 'SELECT')", view).Scan(&ok); err != nil || !ok {
			t.Errorf("the reader of %s cannot read its view: %v %v", view, ok, err)
		}
	}
}
