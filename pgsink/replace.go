package pgsink

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// summaryTables are the tables Publish replaces groups of, in the order it locks them.
var summaryTables = []string{summary.TableMonthly, summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo}

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
// order; a reader that deadlocks with it makes the attempt fail with a retried error.
func clearGroups(ctx context.Context, tx *sql.Tx, groups []record.Key) error {
	if len(groups) == 0 {
		return nil
	}
	cities := make([]string, len(groups))
	years := make([]int64, len(groups))
	months := make([]int64, len(groups))
	for i, k := range groups {
		cities[i], years[i], months[i] = cleanText(k.City), int64(k.Year), int64(k.Month)
	}
	args := []any{pq.Array(cities), pq.Array(years), pq.Array(months)}
	const inGroups = `EXISTS (SELECT 1 FROM unnest($1::text[], $2::int[], $3::int[]) AS g(city, year, month)
		WHERE t.city = g.city AND t.year = g.year AND t.month = g.month)`
	var rebuild []string
	kept := map[string]int64{}
	for _, table := range summaryTables {
		// The groups' rows are found through the primary key, whose prefix they are; the
		// table's other rows are counted only as far as the choice needs.
		var replaced, total int64
		var truncate bool
		q := `SELECT count(*), has_table_privilege('` + table + `', 'TRUNCATE')
			AND has_database_privilege(current_database(), 'TEMPORARY') FROM ` + table + ` t WHERE ` + inGroups
		if err := tx.QueryRowContext(ctx, q, args...).Scan(&replaced, &truncate); err != nil {
			return fmt.Errorf("count the rows of %d groups in %s: %w", len(groups), table, err)
		}
		q = `SELECT count(*) FROM (SELECT FROM ` + table + ` LIMIT $1) AS t`
		if err := tx.QueryRowContext(ctx, q, 2*replaced+1).Scan(&total); err != nil {
			return fmt.Errorf("count the rows of %s: %w", table, err)
		}
		if !truncate || total-replaced > replaced {
			q := `DELETE FROM ` + table + ` t WHERE ` + inGroups
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("delete %d groups from %s: %w", len(groups), table, err)
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
			return fmt.Errorf("keep the rows of other groups of %s: %w", table, err)
		}
	}
	if len(rebuild) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "TRUNCATE "+strings.Join(rebuild, ", ")); err != nil {
		return fmt.Errorf("truncate %s: %w", strings.Join(rebuild, ", "), err)
	}
	for _, table := range rebuild {
		if kept[table] == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` SELECT * FROM `+keptTable(table)); err != nil {
			return fmt.Errorf("put back %d rows of other groups into %s: %w", kept[table], table, err)
		}
	}
	return nil
}

// keptTable names the temporary table that holds table's rows of other groups during a
// rebuild.
func keptTable(table string) string { return "pgsink_kept_" + table }
