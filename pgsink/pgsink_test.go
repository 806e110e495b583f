package pgsink

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// TestPostgres runs the sink against a real PostgreSQL server. The subtests share one server
// (starting one costs seconds) and each takes a database of its own; the one that stops the
// server restarts it before it returns.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server; skipped under -short")
	}
	pg := testenv.Postgres(t)
	root, groups := realLake(t)
	lakeLoad := LakeLoader(context.Background(), testStore(t), t.TempDir(), summariesManifest(root))
	all := expected(t, groups, lakeLoad)
	t.Logf("real lake: %d groups, %d summary rows", len(groups), len(all))
	// The full lake checks fidelity once ("publish twice"); the other cases take every
	// fourth group, which still spans every city and many COPY batches, to stay quick.
	var some []record.Key
	for i := 0; i < len(groups); i += 4 {
		some = append(some, groups[i])
	}
	someRows := expected(t, some, lakeLoad)
	ctx := context.Background()
	jobA := JobRun{ID: "job-a", Name: "normalize", Status: "succeeded", Started: time.Unix(1700000000, 0),
		Finished: time.Unix(1700000100, 0), RecordsIn: 100, RecordsOut: 90, RecordsRejected: 4, Duplicates: 6,
		Groups: len(groups)}

	t.Run("migrate twice", func(t *testing.T) {
		db := freshDB(t, pg, "migrate_twice")
		for i := range 2 {
			if err := Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
		}
		checkVersions(t, db)
	})

	t.Run("migrate concurrently", func(t *testing.T) {
		db := freshDB(t, pg, "migrate_concurrently")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				// One *sql.DB per migrator, as separate processes would have.
				db, err := sql.Open("postgres", pg.DatabaseURL("migrate_concurrently"))
				if err != nil {
					errs[i] = err
					return
				}
				defer db.Close()
				errs[i] = Migrate(ctx, db)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("migrator %d: %v", i, err)
			}
		}
		checkVersions(t, db)
	})

	t.Run("migration guards", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			tamper string
			want   error
		}{
			{"newer schema", "INSERT INTO schema_migrations (version, name, sha256) VALUES (9999, '9999_future.sql', '')", ErrSchemaNewer},
			{"edited migration", "UPDATE schema_migrations SET sha256 = 'edited' WHERE version = 1", ErrMigrationChanged},
		} {
			t.Run(tc.name, func(t *testing.T) {
				db := freshDB(t, pg, "guard_"+tc.name)
				if err := Migrate(ctx, db); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(tc.tamper); err != nil {
					t.Fatal(err)
				}
				if err := Migrate(ctx, db); !errors.Is(err, tc.want) {
					t.Fatalf("Migrate: %v, want %v", err, tc.want)
				}
			})
		}
	})

	t.Run("publish twice", func(t *testing.T) {
		db := freshDB(t, pg, "publish_twice")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// The second time with a group listed twice, which must not duplicate its rows.
		for i, gs := range [][]record.Key{groups, append(slices.Clone(groups), groups[0])} {
			if err := s.Publish(ctx, jobA, gs, lakeLoad); err != nil {
				t.Fatalf("Publish #%d: %v", i+1, err)
			}
			if got := dump(t, db); !equalStrings(got, all) {
				t.Fatalf("after publish #%d: %s", i+1, diffRows(got, all))
			}
		}
		checkRun(t, db, jobA, runPublished)
	})

	// Summary text PostgreSQL refuses (NUL, invalid UTF-8) in agencies, request types, a
	// city and a job's error: the publish succeeds, twice, with U+FFFD in their place and
	// the rows whose keys collide merged. Before the sink cleaned text, COPY failed with
	// "invalid byte sequence for encoding UTF8: 0x00" on every attempt.
	t.Run("unstorable text", func(t *testing.T) {
		db := freshDB(t, pg, "unstorable_text")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		groups := []record.Key{{City: "c", Year: 2024, Month: 1}, {City: "n\x00l", Year: 2024, Month: 1}}
		load := func(k record.Key) (summary.Tables, error) {
			tab := unstorableGroup()
			for i := range tab.Monthly {
				tab.Monthly[i].City = k.City
			}
			for i := range tab.AgencyDaily {
				tab.AgencyDaily[i].City = k.City
			}
			for i := range tab.Heat {
				tab.Heat[i].City = k.City
			}
			for i := range tab.Geo {
				tab.Geo[i].City = k.City
			}
			return tab, nil
		}
		var want summary.Tables
		for _, k := range groups {
			tab, _ := load(k)
			cleanGroup(&tab)
			want.Monthly = append(want.Monthly, tab.Monthly...)
			want.AgencyDaily = append(want.AgencyDaily, tab.AgencyDaily...)
			want.Heat = append(want.Heat, tab.Heat...)
			want.Geo = append(want.Geo, tab.Geo...)
		}
		job := jobA
		job.ID, job.Error = "job-nul", "agency \x00 and \xff"
		for i := range 2 {
			if err := s.Publish(ctx, job, groups, load); err != nil {
				t.Fatalf("Publish #%d: %v", i+1, err)
			}
			if got, want := dump(t, db), tableRows(want); !equalStrings(got, want) {
				t.Fatalf("after publish #%d: %s", i+1, diffRows(got, want))
			}
		}
		var stored string
		if err := db.QueryRow(`SELECT error FROM job_runs WHERE job_id = $1`, job.ID).Scan(&stored); err != nil || stored != "agency \uFFFD and \uFFFD" {
			t.Errorf("job_runs error %q (%v), want the error with U+FFFD", stored, err)
		}
	})

	t.Run("publish a subset", func(t *testing.T) {
		db := freshDB(t, pg, "publish_subset")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatal(err)
		}
		// Every third group changes: counts scale, one row of each table goes; the first of
		// them loses all its rows.
		var subset []record.Key
		for i := 0; i < len(some); i += 3 {
			subset = append(subset, some[i])
		}
		emptied := subset[0]
		load := func(k record.Key) (summary.Tables, error) {
			if k == emptied {
				return summary.Tables{}, nil
			}
			return changed(lakeLoad)(k)
		}
		jobB := JobRun{ID: "job-b", Name: "update", Status: "succeeded", Started: time.Unix(1700001000, 0), Groups: len(subset)}
		if err := s.Publish(ctx, jobB, subset, load); err != nil {
			t.Fatal(err)
		}
		var untouched []record.Key
		for i, k := range some {
			if i%3 != 0 {
				untouched = append(untouched, k)
			}
		}
		want := append(expected(t, untouched, lakeLoad), expected(t, subset, load)...)
		slices.Sort(want)
		if got := dump(t, db); !equalStrings(got, want) {
			t.Fatalf("after publishing %d of %d groups: %s", len(subset), len(some), diffRows(got, want))
		}
		checkRun(t, db, jobA, runPublished)
		checkRun(t, db, jobB, runPublished)
	})

	// Groups whose rows come encoded (their reducer's publish file) are sent as they are and not
	// loaded; the others are loaded and encoded; a group whose publish file cannot be read is
	// loaded, with a warning. The tables hold exactly what publishing every group from its
	// summary files gives.
	t.Run("publish encoded", func(t *testing.T) {
		db := freshDB(t, pg, "publish_encoded")
		s := newSink(t, db, 0)
		var logs bytes.Buffer
		s.cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var loaded []record.Key
		load := func(k record.Key) (summary.Tables, error) {
			mu.Lock()
			loaded = append(loaded, k)
			mu.Unlock()
			return lakeLoad(k)
		}
		broken := some[2]
		var wantLoaded []record.Key
		for i, k := range some {
			if i%2 == 1 || k == broken {
				wantLoaded = append(wantLoaded, k)
			}
		}
		encoded := func(k record.Key) (*pgcopy.Group, bool, error) {
			if k == broken {
				return nil, false, errors.New("boom")
			}
			if slices.Index(some, k)%2 == 1 {
				return nil, false, nil
			}
			tab, err := lakeLoad(k)
			if err != nil {
				return nil, false, err
			}
			data, err := pgcopy.Marshal(k, &tab)
			if err != nil {
				return nil, false, err
			}
			g, err := pgcopy.Unmarshal(k, data)
			return g, err == nil, err
		}
		if err := s.PublishEncoded(ctx, jobA, some, encoded, load); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after publishing half the groups encoded: %s", diffRows(got, someRows))
		}
		slices.SortFunc(loaded, compareKeys)
		if !slices.Equal(loaded, wantLoaded) {
			t.Errorf("loaded %d groups %v, want the %d not encoded %v", len(loaded), loaded, len(wantLoaded), wantLoaded)
		}
		if want := fmt.Sprintf("encoded_groups=%d ", len(some)-len(wantLoaded)); !strings.Contains(logs.String(), want) {
			t.Errorf("the publish's log line does not say %s:\n%s", want, logs.String())
		}
		if !regexp.MustCompile(`because their publish files were unusable" job=job-a groups=1\n`).MatchString(logs.String()) {
			t.Errorf("the publish's warnings do not count one group whose publish file failed:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "publish file is unusable") || !strings.Contains(logs.String(), broken.String()) ||
			!strings.Contains(logs.String(), "boom") {
			t.Errorf("no warning about the group whose publish file failed:\n%s", logs.String())
		}
		checkRun(t, db, jobA, runPublished)
	})

	// A database published row by row, at schema version 2 (before agency_daily's day key,
	// migration 0003, and the packed tables, 0004), keeps its rows through both migrations,
	// read back through the views as they were, and a role that could read a table can read
	// its view. Publishes after the upgrade replace exactly the groups they name.
	t.Run("upgrade to packed tables", func(t *testing.T) {
		db := freshDB(t, pg, "upgrade_0004")
		migrateBefore(t, db, 3)
		insertRows(t, db, some, lakeLoad)
		for _, stmt := range []string{
			"CREATE ROLE pgsink_old_reader",
			"GRANT SELECT ON request_monthly, agency_daily, request_heat, request_geo TO pgsink_old_reader",
			// A publisher that does not own the tables (migrations run as another role).
			"CREATE ROLE pgsink_old_writer LOGIN",
			"GRANT SELECT, INSERT, DELETE, TRUNCATE ON request_monthly, agency_daily, request_heat, request_geo TO pgsink_old_writer",
			"GRANT SELECT, INSERT, UPDATE ON job_runs TO pgsink_old_writer",
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		t.Cleanup(func() {
			for _, role := range []string{"pgsink_old_reader", "pgsink_old_writer"} {
				db.Exec("DROP OWNED BY " + role)
				db.Exec("DROP ROLE " + role)
			}
		})
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("rows inserted at version 2: %s", diffRows(got, someRows))
		}
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		checkVersions(t, db)
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after migrations 0003 and 0004: %s", diffRows(got, someRows))
		}
		for _, view := range []string{summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo} {
			var ok bool
			if err := db.QueryRow("SELECT has_table_privilege('pgsink_old_reader', $1, 'SELECT')", view).Scan(&ok); err != nil || !ok {
				t.Errorf("the role that could read the table %s cannot read its view: %v %v", view, ok, err)
			}
			for _, priv := range []string{"SELECT", "INSERT", "DELETE", "TRUNCATE"} {
				if err := db.QueryRow("SELECT has_table_privilege('pgsink_old_writer', $1, $2)", view+"_packed", priv).Scan(&ok); err != nil || !ok {
					t.Errorf("the role that had %s on the table %s does not have it on %s_packed: %v %v", priv, view, view, ok, err)
				}
			}
		}
		// The publisher that does not own the tables publishes after the upgrade.
		u, _ := url.Parse(pg.DatabaseURL("upgrade_0004"))
		u.User = url.User("pgsink_old_writer")
		wdb, err := sql.Open("postgres", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer wdb.Close()
		if err := newSink(t, wdb, 0).Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatalf("the old writer's publish after the upgrade: %v", err)
		}
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after the old writer's publish: %s", diffRows(got, someRows))
		}
		var subset []record.Key
		for i := 0; i < len(some); i += 3 {
			subset = append(subset, some[i])
		}
		state := map[record.Key]LoadFunc{}
		for _, k := range some {
			state[k] = lakeLoad
		}
		stateLoad := func(k record.Key) (summary.Tables, error) { return state[k](k) }
		for _, step := range []struct {
			name string
			load LoadFunc
		}{{"a third of the groups, changed", changed(lakeLoad)}, {"the same groups again", lakeLoad}} {
			if err := s.Publish(ctx, jobA, subset, step.load); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			for _, k := range subset {
				state[k] = step.load
			}
			if got, want := dump(t, db), expected(t, some, stateLoad); !equalStrings(got, want) {
				t.Fatalf("%s: %s", step.name, diffRows(got, want))
			}
		}
	})

	// How clearGroups finds a table's groups: through an index that begins with the group's
	// columns, the walk of foreignGroups
	// counts the groups a table holds besides the given ones, and the group condition picks
	// exactly the groups' rows; both are checked against a plain scan of every table.
	t.Run("groups of each table", func(t *testing.T) {
		db := freshDB(t, pg, "group_walk")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// Every group, so that a walk that skipped a month would miss one.
		if err := s.Publish(ctx, jobA, groups, lakeLoad); err != nil {
			t.Fatal(err)
		}
		// Every other group, and one the tables do not hold.
		var given []record.Key
		for i := 0; i < len(groups); i += 2 {
			given = append(given, groups[i])
		}
		given = append(given, record.Key{City: "nowhere", Year: 2001, Month: 2})
		cities, years, months := make([]string, len(given)), make([]int64, len(given)), make([]int64, len(given))
		for i, k := range given {
			cities[i], years[i], months[i] = k.City, int64(k.Year), int64(k.Month)
		}
		args := []any{pq.Array(cities), pq.Array(years), pq.Array(months)}
		const inGiven = `EXISTS (SELECT FROM unnest($1::text[], $2::int[], $3::int[]) AS k(city, year, month)
			WHERE t.city = k.city AND t.year = k.year AND t.month = k.month)`
		for _, table := range summaryTables {
			gk := groupKeyOf(table)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var indexed bool
			if err := tx.QueryRow(`SELECT `+gk.indexed()+` FROM pg_class t WHERE t.oid = $1::regclass`, table).Scan(&indexed); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if !indexed {
				t.Errorf("%s: no index begins with %v", table, gk.cols)
			}
			got, err := foreignGroups(ctx, tx, table, gk, args)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			var want, rows, matched int64
			q := `SELECT count(DISTINCT (city, year, month)) FROM ` + table + ` t WHERE NOT ` + inGiven
			if err := tx.QueryRow(q, args...).Scan(&want); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if got != want || want == 0 {
				t.Errorf("%s: foreignGroups = %d, want %d groups besides the %d given (and more than none)", table, got, want, len(given))
			}
			q = `SELECT count(*) FROM ` + table + ` t WHERE ` + inGiven
			if err := tx.QueryRow(q, args...).Scan(&rows); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			q = `SELECT count(*) FROM ` + table + ` t, unnest($1::text[], $2::int[], $3::int[]) AS g(city, year, month) WHERE ` + gk.match
			if err := tx.QueryRow(q, args...).Scan(&matched); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			if matched != rows || rows == 0 {
				t.Errorf("%s: the group condition matches %d rows of the given groups, want %d (and more than none)", table, matched, rows)
			}
			tx.Rollback()
		}
	})

	// A publish that replaces most of a table rebuilds it (TRUNCATE, then the other groups'
	// rows put back) instead of deleting its rows one by one; one that replaces a small
	// part deletes in place. Either way the tables end up with exactly the new rows of the
	// published groups and the old rows of the others.
	t.Run("publish most of a table", func(t *testing.T) {
		db := freshDB(t, pg, "publish_most")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatal(err)
		}
		// What each group's rows in the database are: the loader that published them.
		state := map[record.Key]LoadFunc{}
		for _, k := range some {
			state[k] = lakeLoad
		}
		stateLoad := func(k record.Key) (summary.Tables, error) { return state[k](k) }
		for _, step := range []struct {
			name string
			keep func(i int) bool // which groups of some keep their rows
			load LoadFunc
		}{
			{"all but one group", func(i int) bool { return i == 0 }, changed(lakeLoad)},
			{"a third of the groups", func(i int) bool { return i%3 != 0 }, lakeLoad},
		} {
			var replace, untouched []record.Key
			for i, k := range some {
				if step.keep(i) {
					untouched = append(untouched, k)
				} else {
					replace = append(replace, k)
				}
			}
			kept, replaced := tableCounts(t, untouched, stateLoad), tableCounts(t, replace, stateLoad)
			nodes := fileNodes(t, db)
			if err := s.Publish(ctx, jobA, replace, step.load); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			for _, k := range replace {
				state[k] = step.load
			}
			if got, want := dump(t, db), expected(t, some, stateLoad); !equalStrings(got, want) {
				t.Fatalf("%s: %s", step.name, diffRows(got, want))
			}
			after := fileNodes(t, db)
			for table := range nodes {
				rebuilt, want := after[table] != nodes[table], kept[table] <= replaced[table]
				if rebuilt != want {
					t.Errorf("%s: %s with %d rows kept and %d replaced: rebuilt %v, want %v",
						step.name, table, kept[table], replaced[table], rebuilt, want)
				}
			}
			if step.name == "all but one group" && !slices.ContainsFunc(summaryTables, func(table string) bool {
				return after[table] != nodes[table] && kept[table] > 0
			}) {
				t.Fatalf("%s: no table was rebuilt with rows kept (%v kept, %v replaced): the case tests nothing", step.name, kept, replaced)
			}
		}
	})

	// A rebuild drops the table's indexes for the load and builds them again: they come back
	// exactly as the migrations made them (names, columns, the primary keys), a duplicate key
	// among the new rows still fails the publish and leaves the tables as they were, and a
	// publisher that may truncate a table but does not own it loads it with its indexes in
	// place.
	t.Run("indexes of a rebuilt table", func(t *testing.T) {
		db := freshDB(t, pg, "rebuilt_indexes")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		defs, oids := indexes(t, db)
		if err := s.Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatal(err)
		}
		after, afterOIDs := indexes(t, db)
		if !maps.Equal(after, defs) {
			t.Fatalf("indexes and constraints after a rebuild:\n%v\nwant\n%v", after, defs)
		}
		for name, oid := range oids {
			if afterOIDs[name] == oid {
				t.Errorf("index %s was not built again: the load went through it", name)
			}
		}

		// A duplicate key in request_monthly fails the rebuilt primary key; one among a packed
		// table's cells fails the encoding, before the server sees it.
		for _, dup := range []struct {
			table string
			add   func(tab *summary.Tables) bool
			want  func(error) bool
		}{
			{summary.TableMonthly, func(tab *summary.Tables) bool {
				tab.Monthly = append(tab.Monthly, tab.Monthly...)
				return len(tab.Monthly) > 0
			}, func(err error) bool { return pq.As(err, pqerror.UniqueViolation) != nil }},
			{summary.TableGeo, func(tab *summary.Tables) bool {
				tab.Geo = append(tab.Geo, tab.Geo...)
				return len(tab.Geo) > 0
			}, func(err error) bool { return errors.Is(err, ErrDuplicateKey) }},
		} {
			added := false
			dupLoad := func(k record.Key) (summary.Tables, error) {
				tab, err := changed(lakeLoad)(k)
				if k == some[len(some)/2] {
					added = dup.add(&tab)
				}
				return tab, err
			}
			err := s.Publish(ctx, JobRun{ID: "job-dup", Started: time.Now()}, some, dupLoad)
			if !added {
				t.Fatalf("%s: group %s has no rows to repeat: the case tests nothing", dup.table, some[len(some)/2])
			}
			if !dup.want(err) {
				t.Fatalf("Publish with a duplicate key in %s: %v", dup.table, err)
			}
			if got := dump(t, db); !equalStrings(got, someRows) {
				t.Fatalf("after a failed publish (%s): %s", dup.table, diffRows(got, someRows))
			}
			if got, _ := indexes(t, db); !maps.Equal(got, defs) {
				t.Fatalf("indexes and constraints after a failed rebuild (%s):\n%v\nwant\n%v", dup.table, got, defs)
			}
		}

		for _, stmt := range []string{
			"CREATE ROLE pgsink_truncater LOGIN",
			"GRANT SELECT, INSERT, DELETE, TRUNCATE ON " + strings.Join(summaryTables, ", ") + " TO pgsink_truncater",
			"GRANT SELECT, INSERT, UPDATE ON job_runs TO pgsink_truncater",
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		u, _ := url.Parse(pg.DatabaseURL("rebuilt_indexes"))
		u.User = url.User("pgsink_truncater")
		wdb, err := sql.Open("postgres", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer wdb.Close()
		nodes := fileNodes(t, db)
		if err := newSink(t, wdb, 0).Publish(ctx, jobA, some, changed(lakeLoad)); err != nil {
			t.Fatal(err)
		}
		if got, want := dump(t, db), expected(t, some, changed(lakeLoad)); !equalStrings(got, want) {
			t.Fatalf("after the non-owner's publish: %s", diffRows(got, want))
		}
		if maps.Equal(fileNodes(t, db), nodes) {
			t.Errorf("the non-owner's publish rebuilt no table: the case tests nothing")
		}
		if got, gotOIDs := indexes(t, db); !maps.Equal(got, defs) || !maps.Equal(gotOIDs, afterOIDs) {
			t.Errorf("a publisher that does not own the tables rebuilt their indexes: %v, want %v", gotOIDs, afterOIDs)
		}
	})

	// A publisher allowed to write the tables but not to truncate them (a deployment whose
	// migrations run as another role) replaces in place, every time.
	t.Run("publisher without TRUNCATE", func(t *testing.T) {
		db := freshDB(t, pg, "no_truncate")
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{
			"CREATE ROLE pgsink_writer LOGIN",
			"GRANT SELECT, INSERT, DELETE ON " + strings.Join(summaryTables, ", ") + " TO pgsink_writer",
			"GRANT SELECT, INSERT, UPDATE ON job_runs TO pgsink_writer",
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		u, _ := url.Parse(pg.DatabaseURL("no_truncate"))
		u.User = url.User("pgsink_writer")
		wdb, err := sql.Open("postgres", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer wdb.Close()
		s := newSink(t, wdb, 0)
		nodes := fileNodes(t, db)
		for i := range 2 {
			if err := s.Publish(ctx, jobA, some, lakeLoad); err != nil {
				t.Fatalf("Publish #%d: %v", i+1, err)
			}
			if got := dump(t, db); !equalStrings(got, someRows) {
				t.Fatalf("after publish #%d: %s", i+1, diffRows(got, someRows))
			}
		}
		if after := fileNodes(t, db); !maps.Equal(after, nodes) {
			t.Errorf("tables rebuilt without the TRUNCATE privilege: file nodes %v, then %v", nodes, after)
		}
	})

	t.Run("foreign row", func(t *testing.T) {
		db := freshDB(t, pg, "foreign_row")
		s := newSink(t, db, time.Minute)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatal(err)
		}
		misfiled := func(k record.Key) (summary.Tables, error) {
			tab, err := lakeLoad(k)
			if k == some[1] {
				tab.Heat = append(tab.Heat, summary.Heat{City: k.City, Year: int32(k.Year) + 1, Month: int32(k.Month)})
			}
			return tab, err
		}
		err := s.Publish(ctx, JobRun{ID: "job-bad", Started: time.Now()}, some, misfiled)
		if !errors.Is(err, ErrForeignRow) {
			t.Fatalf("Publish: %v, want ErrForeignRow", err)
		}
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after a failed publish: %s", diffRows(got, someRows))
		}
		checkRun(t, db, JobRun{ID: "job-bad"}, runAbsent)
	})

	t.Run("concurrent publishes", func(t *testing.T) {
		db := freshDB(t, pg, "concurrent_publish")
		s := newSink(t, db, time.Minute)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = s.Publish(ctx, jobA, some, lakeLoad) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("publisher %d: %v", i, err)
			}
		}
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after concurrent publishes: %s", diffRows(got, someRows))
		}
	})

	t.Run("record run", func(t *testing.T) {
		db := freshDB(t, pg, "record_run")
		s := newSink(t, db, 0)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		failed := JobRun{ID: "job-f", Name: "normalize", Status: "failed", Started: time.Unix(1700000000, 0), Error: "reject budget exceeded"}
		if err := s.RecordRun(ctx, failed); err != nil {
			t.Fatal(err)
		}
		checkRun(t, db, failed, runRecorded)
		if err := s.Publish(ctx, jobA, nil, lakeLoad); err != nil {
			t.Fatal(err)
		}
		// Recording a published run again (e.g. the coordinator's final status) keeps
		// published_at.
		if err := s.RecordRun(ctx, jobA); err != nil {
			t.Fatal(err)
		}
		checkRun(t, db, jobA, runPublished)
	})

	t.Run("read-only role", func(t *testing.T) {
		db := freshDB(t, pg, "viz")
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := EnsureReadOnlyRole(ctx, db, "ireports_viz", "s3cret'quote"); err != nil {
				t.Fatalf("EnsureReadOnlyRole #%d: %v", i+1, err)
			}
		}
		u, _ := url.Parse(pg.DatabaseURL("viz"))
		u.User = url.UserPassword("ireports_viz", "s3cret'quote")
		viz, err := sql.Open("postgres", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer viz.Close()
		for _, tc := range []struct {
			name string
			stmt string
			deny []pqerror.Code // nil: allowed
		}{
			{"select summary", "SELECT count(*) FROM request_monthly", nil},
			{"select job runs", "SELECT count(*) FROM job_runs", nil},
			{"select packed summary", "SELECT count(*) FROM request_heat", nil},
			{"insert", "INSERT INTO request_geo_packed VALUES ('x', 2020, 1, '', '{0}', '{0}', '{1}')",
				[]pqerror.Code{pqerror.ReadOnlySQLTransaction, pqerror.InsufficientPrivilege}},
			{"delete", "DELETE FROM request_monthly", []pqerror.Code{pqerror.ReadOnlySQLTransaction, pqerror.InsufficientPrivilege}},
			// Switching the session's read-only default off must not help: the grants deny.
			{"insert, read-write session", "SET default_transaction_read_only = off; INSERT INTO job_runs (job_id, name, status, started_at) VALUES ('x', 'x', 'x', now())",
				[]pqerror.Code{pqerror.InsufficientPrivilege}},
			{"delete, read-write session", "SET default_transaction_read_only = off; DELETE FROM agency_daily_packed",
				[]pqerror.Code{pqerror.InsufficientPrivilege}},
			{"create table", "SET default_transaction_read_only = off; CREATE TABLE t (n int)",
				[]pqerror.Code{pqerror.InsufficientPrivilege}},
			{"select migrations", "SELECT count(*) FROM schema_migrations", []pqerror.Code{pqerror.InsufficientPrivilege}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				conn, err := viz.Conn(ctx) // a fresh session per case: SET must not leak
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				// Discarded, not pooled: a SET must not leak into the next case's session.
				defer conn.Raw(func(any) error { return driver.ErrBadConn })
				// One statement at a time: a multi-statement string is one transaction,
				// begun before its SET could take effect.
				for stmt := range strings.SplitSeq(tc.stmt, "; ") {
					if _, err = conn.ExecContext(ctx, stmt); err != nil {
						break
					}
				}
				switch {
				case tc.deny == nil && err != nil:
					t.Fatalf("%s: %v", tc.stmt, err)
				case tc.deny != nil && pq.As(err, tc.deny...) == nil:
					t.Fatalf("%s: %v, want one of %v", tc.stmt, err, tc.deny)
				}
			})
		}
	})

	// Last: it stops the server.
	t.Run("postgres stopped during publish", func(t *testing.T) {
		db := freshDB(t, pg, "stopped")
		s := newSink(t, db, 1500*time.Millisecond)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatal(err)
		}
		jobB := JobRun{ID: "job-b", Name: "normalize", Status: "succeeded", Started: time.Unix(1700002000, 0), Groups: len(some)}
		loadB := changed(lakeLoad)
		wantB := expected(t, some, loadB)

		// The server dies halfway through loading: the old rows are deleted and half the new
		// ones copied, uncommitted.
		var once sync.Once
		stopMidway := func(k record.Key) (summary.Tables, error) {
			if k == some[len(some)/2] {
				once.Do(func() {
					if err := pg.Stop(); err != nil {
						t.Error(err)
					}
				})
			}
			return loadB(k)
		}
		err := s.Publish(ctx, jobB, some, stopMidway)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Publish with the server stopped: %v, want ErrUnavailable", err)
		}
		t.Logf("as expected: %v", err)

		if err := pg.Start(); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after restart, want the previous complete state: %s", diffRows(got, someRows))
		}
		checkRun(t, db, jobB, runAbsent)

		if err := s.Publish(ctx, jobB, some, loadB); err != nil {
			t.Fatalf("publish after restart: %v", err)
		}
		if got := dump(t, db); !equalStrings(got, wantB) {
			t.Fatalf("after publishing again: %s", diffRows(got, wantB))
		}
		checkRun(t, db, jobB, runPublished)

		// Down when Publish starts, back a moment later: the retries bridge the gap.
		if err := pg.Stop(); err != nil {
			t.Fatal(err)
		}
		restarted := make(chan error, 1)
		go func() {
			time.Sleep(300 * time.Millisecond)
			restarted <- pg.Start()
		}()
		patient := newSink(t, db, 2*time.Minute)
		if err := patient.Publish(ctx, jobA, some, lakeLoad); err != nil {
			t.Fatalf("publish across a restart: %v", err)
		}
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
		if got := dump(t, db); !equalStrings(got, someRows) {
			t.Fatalf("after publishing across a restart: %s", diffRows(got, someRows))
		}
	})
}

// changed wraps load so every count is ten times larger and each table's last row is gone:
// a republish with different content, to tell old rows from new.
func changed(load LoadFunc) LoadFunc {
	return func(k record.Key) (summary.Tables, error) {
		tab, err := load(k)
		if err != nil {
			return tab, err
		}
		trim := func(n int) int { return max(n-1, 0) }
		tab.Monthly = tab.Monthly[:trim(len(tab.Monthly))]
		tab.AgencyDaily = tab.AgencyDaily[:trim(len(tab.AgencyDaily))]
		tab.Heat = tab.Heat[:trim(len(tab.Heat))]
		tab.Geo = tab.Geo[:trim(len(tab.Geo))]
		for i := range tab.Monthly {
			tab.Monthly[i].Requests *= 10
		}
		for i := range tab.AgencyDaily {
			tab.AgencyDaily[i].Opened *= 10
		}
		for i := range tab.Heat {
			tab.Heat[i].Requests *= 10
		}
		for i := range tab.Geo {
			tab.Geo[i].Requests *= 10
		}
		return tab, nil
	}
}

// checkVersions checks that every embedded migration is recorded once.
func checkVersions(t *testing.T, db *sql.DB) {
	t.Helper()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n, maxV int
	if err := db.QueryRow("SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || maxV != len(ms) {
		t.Fatalf("schema_migrations: %d rows up to version %d, want %d", n, maxV, len(ms))
	}
}

// runState is what job_runs should hold for a job.
type runState int

const (
	runAbsent    runState = iota // no row
	runRecorded                  // the job's fields, published_at NULL
	runPublished                 // the job's fields, published_at set
)

// checkRun checks job's job_runs row.
func checkRun(t *testing.T, db *sql.DB, job JobRun, want runState) {
	t.Helper()
	var (
		name, status, errText           string
		in, out, rejected, dups, groups int64
		started                         time.Time
		finished, publishedAt           sql.NullTime
	)
	err := db.QueryRow(`SELECT name, status, started_at, finished_at, records_in, records_out,
		records_rejected, duplicates, groups, error, published_at FROM job_runs WHERE job_id = $1`, job.ID).
		Scan(&name, &status, &started, &finished, &in, &out, &rejected, &dups, &groups, &errText, &publishedAt)
	if want == runAbsent {
		if err != sql.ErrNoRows {
			t.Fatalf("job_runs %s: %v, want no row", job.ID, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("job_runs %s: %v", job.ID, err)
	}
	if name != job.Name || status != job.Status || !started.Equal(job.Started) || finished.Valid != !job.Finished.IsZero() ||
		in != job.RecordsIn || out != job.RecordsOut || rejected != job.RecordsRejected || dups != job.Duplicates ||
		groups != int64(job.Groups) || errText != job.Error {
		t.Errorf("job_runs %s: %s %s %v %v %d %d %d %d %d %q, want %+v", job.ID, name, status, started, finished,
			in, out, rejected, dups, groups, errText, job)
	}
	if publishedAt.Valid != (want == runPublished) {
		t.Errorf("job_runs %s: published_at %v, want published %v", job.ID, publishedAt, want == runPublished)
	}
}

// fileNodes returns each summary table's relfilenode, which TRUNCATE replaces.
func fileNodes(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	nodes := map[string]int64{}
	for _, table := range summaryTables {
		var n int64
		if err := db.QueryRow("SELECT relfilenode FROM pg_class WHERE oid = $1::regclass", table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		nodes[table] = n
	}
	return nodes
}

// indexes returns the definitions of the summary tables' indexes and constraints, by name,
// and the indexes' OIDs, which building an index again changes.
func indexes(t *testing.T, db *sql.DB) (defs map[string]string, oids map[string]int64) {
	t.Helper()
	defs, oids = map[string]string{}, map[string]int64{}
	rows, err := db.Query(`SELECT 'index ' || indexrelid::regclass, pg_get_indexdef(indexrelid), indexrelid::bigint
		FROM pg_index WHERE indrelid = ANY($1::regclass[])
		UNION ALL SELECT 'constraint ' || conname, pg_get_constraintdef(oid), 0
		FROM pg_constraint WHERE conrelid = ANY($1::regclass[])`, pq.Array(summaryTables))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, def string
		var oid int64
		if err := rows.Scan(&name, &def, &oid); err != nil {
			t.Fatal(err)
		}
		defs[name] = def
		if oid != 0 {
			oids[name] = oid
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return defs, oids
}

// tableCounts counts the rows load returns for groups, per stored summary table: those of
// request_monthly, and the packed rows of the others (one per agency or request type in a
// group).
func tableCounts(t *testing.T, groups []record.Key, load LoadFunc) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, k := range groups {
		tab, err := load(k)
		if err != nil {
			t.Fatal(err)
		}
		daily, heat, geo := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, r := range tab.AgencyDaily {
			daily[r.Agency] = true
		}
		for _, r := range tab.Heat {
			heat[r.Agency] = true
		}
		for _, r := range tab.Geo {
			geo[r.RequestType] = true
		}
		n[summary.TableMonthly] += len(tab.Monthly)
		n[pgcopy.Daily] += len(daily)
		n[pgcopy.Heat] += len(heat)
		n[pgcopy.Geo] += len(geo)
	}
	return n
}
