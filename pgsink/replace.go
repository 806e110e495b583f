package pgsink

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
)

// summaryTables are the tables Publish replaces groups of, in the order it locks them: where
// the summary tables' rows are stored (pgcopy.Tables).
var summaryTables = []string{pgcopy.Monthly, pgcopy.Daily, pgcopy.Heat, pgcopy.Geo}

// clearGroups removes the rows of groups from every summary table, in one of two ways per
// table, before the new rows are copied in:
//
//   - in place: DELETE the groups' rows. Cheap when the groups are a small part of the
//     table (a new month, one city of many), and readers are never blocked. But the deleted
//     rows stay in the table and its indexes until the transaction ends, and every new row
//     whose key equals a deleted one costs the unique index a visit to that dead row: in a
//     publish that replaces a whole table (`make demo` run again) the COPY took three times
//     the server CPU it takes into an empty table.
//   - rebuild: when the groups hold at least half of the table's rows, keep the other rows
//     aside in a temporary table, TRUNCATE the table (a new, empty file, same table, same
//     indexes, grants and dependents) and put them back. The COPY then goes into clean
//     indexes. TRUNCATE locks the table ACCESS EXCLUSIVE until the commit: its readers
//     wait for the publish instead of seeing the previous rows meanwhile, never a half
//     state. A publisher without the TRUNCATE privilege (or the database's TEMPORARY) always
//     replaces in place.
//
// The tables to rebuild are truncated by one statement, which takes their locks in a fixed
// order; a reader that deadlocks with it makes the attempt fail with a retried error. Their
// indexes are then dropped and left for the caller to build again once every row is in
// (rebuilt.restore): see dropIndexes.
func clearGroups(ctx context.Context, tx *sql.Tx, groups []record.Key) (*rebuilt, error) {
	rb := &rebuilt{truncated: map[string]bool{}}
	if len(groups) == 0 {
		return rb, nil
	}
	// The groups as the tables store them, each once: two cities that differ only in text
	// PostgreSQL cannot store are one city there.
	var (
		cities        []string
		years, months []int64
		seen          = make(map[record.Key]bool, len(groups))
	)
	for _, k := range groups {
		k.City = cleanText(k.City)
		if seen[k] {
			continue
		}
		seen[k] = true
		cities, years, months = append(cities, k.City), append(years, int64(k.Year)), append(months, int64(k.Month))
	}
	args := []any{pq.Array(cities), pq.Array(years), pq.Array(months)}
	var rebuild []string
	kept := map[string]int64{}
	for _, table := range summaryTables {
		// The groups are distinct, so a row of the table joins at most one: the count and
		// the DELETE join them, which the planner runs as one index lookup per group.
		gk := groupKeyOf(table)
		const groupRows = `unnest($1::text[], $2::int[], $3::int[]) AS g(city, year, month)`
		inGroups := `EXISTS (SELECT 1 FROM ` + groupRows + ` WHERE ` + gk.match + `)`
		var truncate, indexed bool
		q := `SELECT has_table_privilege($1, 'TRUNCATE') AND has_database_privilege(current_database(), 'TEMPORARY'), ` +
			gk.indexed() + ` FROM pg_class t WHERE t.oid = $1::regclass`
		if err := tx.QueryRowContext(ctx, q, table).Scan(&truncate, &indexed); err != nil {
			return nil, fmt.Errorf("check the privileges and indexes of %s: %w", table, err)
		}
		// The common publish replaces every group of the table (a job run again, or
		// published again) or fills an empty one: a walk of the index through the groups the
		// table holds tells, in a few milliseconds, that no row is another group's. Counting
		// the rows, below, reads every one of them twice (a sixth of the server's CPU in a
		// publish of `make demo` run again).
		if indexed {
			foreign, err := foreignGroups(ctx, tx, table, gk, args)
			if err != nil {
				return nil, err
			}
			if foreign == 0 && truncate {
				rebuild = append(rebuild, table)
				continue
			}
		}
		// The groups' rows are found through the primary key, which begins with the group's
		// columns (groupKey); the table's other rows are counted only as far as the choice
		// needs.
		var replaced, total int64
		q = `SELECT count(*) FROM ` + table + ` t, ` + groupRows + ` WHERE ` + gk.match
		if err := tx.QueryRowContext(ctx, q, args...).Scan(&replaced); err != nil {
			return nil, fmt.Errorf("count the rows of %d groups in %s: %w", len(groups), table, err)
		}
		q = `SELECT count(*) FROM (SELECT FROM ` + table + ` LIMIT $1) AS t`
		if err := tx.QueryRowContext(ctx, q, 2*replaced+1).Scan(&total); err != nil {
			return nil, fmt.Errorf("count the rows of %s: %w", table, err)
		}
		if !truncate || total-replaced > replaced {
			q := `DELETE FROM ` + table + ` t USING ` + groupRows + ` WHERE ` + gk.match
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return nil, fmt.Errorf("delete %d groups from %s: %w", len(groups), table, err)
			}
			continue
		}
		rebuild = append(rebuild, table)
		if total == replaced {
			continue
		}
		kept[table] = total - replaced
		q = `CREATE TEMPORARY TABLE ` + keptTable(table) + ` ON COMMIT DROP AS SELECT * FROM ` + table + ` t WHERE NOT ` + inGroups
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, fmt.Errorf("keep the rows of other groups of %s: %w", table, err)
		}
	}
	if len(rebuild) == 0 {
		return rb, nil
	}
	if _, err := tx.ExecContext(ctx, "TRUNCATE "+strings.Join(rebuild, ", ")); err != nil {
		return nil, fmt.Errorf("truncate %s: %w", strings.Join(rebuild, ", "), err)
	}
	for _, table := range rebuild {
		rb.truncated[table] = true
		dropped, err := dropIndexes(ctx, tx, table)
		if err != nil {
			return nil, err
		}
		rb.indexes = append(rb.indexes, dropped...)
		if kept[table] == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` SELECT * FROM `+keptTable(table)); err != nil {
			return nil, fmt.Errorf("put back %d rows of other groups into %s: %w", kept[table], table, err)
		}
	}
	return rb, nil
}

// groupKey is how the rows of a table are found by (city, year, month) group: every stored
// summary table holds its group's columns, and its primary key begins with them.
type groupKey struct {
	// cols are the columns an index of the table begins with, ascending, that holds each
	// group's rows together: what foreignGroups walks and match is served by.
	cols []string
	// match is an SQL condition on a row t of the table and a group g (city, year, month):
	// t is of g, in terms the index's columns can look up.
	match string
	// walk is the recursive CTE g(city, year, month) of the groups the table holds, each
	// found by one descent of that index.
	walk string
}

// groupKeyOf returns table's groupKey.
func groupKeyOf(table string) groupKey {
	return groupKey{
		cols:  []string{"city", "year", "month"},
		match: `t.city = g.city AND t.year = g.year AND t.month = g.month`,
		walk: `WITH RECURSIVE g(city, year, month) AS (
		(SELECT city, year, month FROM ` + table + ` ORDER BY city, year, month LIMIT 1)
		UNION ALL
		SELECT n.city, n.year, n.month FROM g, LATERAL (SELECT city, year, month FROM ` + table + ` t
			WHERE (t.city, t.year, t.month) > (g.city, g.year, g.month) ORDER BY city, year, month LIMIT 1) AS n)`,
	}
}

// indexed is an expression, over pg_class t, true when a valid b-tree index of t begins with
// k's columns, ascending: what foreignGroups walks.
func (k groupKey) indexed() string {
	n := len(k.cols)
	last := strconv.Itoa(n - 1)
	return `EXISTS (SELECT FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam
	WHERE i.indrelid = t.oid AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'
		AND i.indnkeyatts >= ` + strconv.Itoa(n) + ` AND (i.indoption::int2[])[0:` + last + `] = '{` + strings.Repeat("0,", n-1) + `0}'
		AND ARRAY(SELECT a.attname FROM unnest((i.indkey::int2[])[0:` + last + `]) WITH ORDINALITY AS k(attnum, n)
			JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) = '{` + strings.Join(k.cols, ",") + `}'::name[])`
}

// foreignGroups returns how many groups table holds rows of that are not among the groups
// of args (clearGroups'). It visits each group the table holds once, by a descent of an
// index that begins with the group's columns (gk.cols; the caller checked that one exists:
// see groupKey.indexed), so its cost is the number of groups, not of rows. The planner is
// told to use the index: with the statistics of a table just reloaded it may estimate the
// table small enough for a scan and a sort at each step, which would read the table once
// per group.
func foreignGroups(ctx context.Context, tx *sql.Tx, table string, gk groupKey, args []any) (int64, error) {
	for _, q := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_bitmapscan = off"} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("list the groups of %s: %w", table, err)
		}
	}
	var n int64
	q := gk.walk + `
	SELECT count(*) FROM g WHERE NOT EXISTS (SELECT FROM unnest($1::text[], $2::int[], $3::int[]) AS k(city, year, month)
		WHERE g.city = k.city AND g.year = k.year AND g.month = k.month)`
	err := tx.QueryRowContext(ctx, q, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("list the groups of %s: %w", table, err)
	}
	for _, q := range []string{"RESET enable_seqscan", "RESET enable_bitmapscan"} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("list the groups of %s: %w", table, err)
		}
	}
	return n, nil
}

// keptTable names the temporary table that holds table's rows of other groups during a
// rebuild.
func keptTable(table string) string { return "pgsink_kept_" + table }

// rebuilt is what clearGroups did to the tables it rebuilds, for the rest of the attempt.
type rebuilt struct {
	// truncated are the tables truncated in this transaction, which COPY … FREEZE may load.
	truncated map[string]bool
	// indexes were dropped from them, to be built again in this order by restore.
	indexes []tableIndex
}

// tableIndex is one index of a summary table, as dropIndexes found it.
type tableIndex struct {
	table string
	name  string // the index's name, unqualified: it lives in its table's schema
	def   string // its CREATE INDEX statement (pg_get_indexdef): name, method, columns, options
	// constraint is "PRIMARY KEY" or "UNIQUE" when the index backs that constraint, whose
	// name is the index's; "" for a plain index.
	constraint string
}

// dropIndexes drops the indexes of table, truncated earlier in the transaction, and returns
// them, so that the load that follows goes into the bare heap and each index is built
// afterwards, in one sort, instead of taking every row into its b-tree one at a time. In a
// profile of `make demo`'s first publish the b-tree inserts were half of the server's CPU:
// a descent and a binary search of comparisons per row per index, most of them on text
// columns, and the secondary indexes' inserts in random order. The transaction holds the
// table ACCESS EXCLUSIVE since the TRUNCATE, so no reader sees it without its indexes, and
// a failed attempt rolls the drops back with everything else.
//
// It drops nothing, and the load maintains the indexes as it goes, when dropping them is
// not allowed or not safe: the publisher does not own the table, a foreign key references
// it, or it has an exclusion or deferrable constraint, or a constraint named unlike its
// index, which restore would not rebuild exactly.
func dropIndexes(ctx context.Context, tx *sql.Tx, table string) ([]tableIndex, error) {
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT t.relkind = 'r' AND pg_has_role(t.relowner, 'USAGE')
		AND NOT EXISTS (SELECT FROM pg_constraint f WHERE f.confrelid = t.oid)
		AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conrelid = t.oid
			AND (c.contype = 'x' OR (c.contype IN ('p', 'u') AND (c.condeferrable
				OR c.conname <> (SELECT relname FROM pg_class WHERE oid = c.conindid)))))
		FROM pg_class t WHERE t.oid = $1::regclass`, table).Scan(&ok)
	if err != nil {
		return nil, fmt.Errorf("check the indexes of %s: %w", table, err)
	}
	if !ok {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT ic.relname, pg_get_indexdef(i.indexrelid),
			CASE c.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' ELSE '' END
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u')
		WHERE i.indrelid = $1::regclass ORDER BY i.indexrelid`, table)
	if err != nil {
		return nil, fmt.Errorf("list the indexes of %s: %w", table, err)
	}
	var idx []tableIndex
	for rows.Next() {
		x := tableIndex{table: table}
		if err := rows.Scan(&x.name, &x.def, &x.constraint); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list the indexes of %s: %w", table, err)
		}
		idx = append(idx, x)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list the indexes of %s: %w", table, err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the indexes of %s: %w", table, err)
	}
	for _, x := range idx {
		q := "DROP INDEX " + pq.QuoteIdentifier(x.name)
		if x.constraint != "" {
			q = "ALTER TABLE " + table + " DROP CONSTRAINT " + pq.QuoteIdentifier(x.name)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("drop index %s of %s for the load: %w", x.name, table, err)
		}
	}
	return idx, nil
}

// sortMemory is the maintenance_work_mem restore builds indexes with, at least.
const sortMemory = 256 << 20

// restore builds the indexes clearGroups dropped, as they were, with their constraints.
// A duplicate key among the loaded rows fails it, as it would have failed the COPY.
func (rb *rebuilt) restore(ctx context.Context, tx *sql.Tx) error {
	if len(rb.indexes) == 0 {
		return nil
	}
	// One process sorts each index's rows in memory. Parallel workers would each sort a part,
	// spill it to tape files and leave the leader to merge them: on the rows as COPY loads
	// them, mostly in key order already, that spent more CPU than the serial sort saves in
	// time, and the machine's other cores are the client's.
	if _, err := tx.ExecContext(ctx, "SET LOCAL max_parallel_maintenance_workers = 0"); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	// In memory, that is: a sort larger than maintenance_work_mem goes to temporary files in
	// runs and merges them. PostgreSQL's default, 64 MB, holds the keys of about half a million
	// rows of request_geo, fewer than a large job publishes; the setting is raised to
	// sortMemory for this transaction where it is lower, never lowered.
	q := `SELECT set_config('maintenance_work_mem', $1, true) FROM pg_settings
		WHERE name = 'maintenance_work_mem' AND setting::bigint < $2`
	if _, err := tx.ExecContext(ctx, q, fmt.Sprintf("%dkB", sortMemory>>10), sortMemory>>10); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	for _, x := range rb.indexes {
		if _, err := tx.ExecContext(ctx, x.def); err != nil {
			return fmt.Errorf("build index %s of %s: %w", x.name, x.table, err)
		}
		if x.constraint == "" {
			continue
		}
		q := "ALTER TABLE " + x.table + " ADD CONSTRAINT " + pq.QuoteIdentifier(x.name) + " " + x.constraint +
			" USING INDEX " + pq.QuoteIdentifier(x.name)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("restore constraint %s of %s: %w", x.name, x.table, err)
		}
	}
	return nil
}
