package pgsink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/ireports/ireports/summary"
)

// readableTables are the tables the viz server reads, and so the only ones the read-only role
// may SELECT. A migration that adds a table the viz server needs must add it here.
var readableTables = []string{
	summary.TableMonthly, summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo,
	"job_runs", "ingest_watermarks",
}

// EnsureReadOnlyRole creates or updates the login role the viz server connects as: it may
// connect to the current database and SELECT from the summary tables, job_runs and
// ingest_watermarks, and nothing else; its sessions are read-only by default as a second
// guard. An empty password leaves the role's password unchanged (e.g. where it is managed
// elsewhere). Run it after Migrate, as a role with CREATEROLE (on RDS, the master user); it
// is idempotent. The statements, for operators who
// prefer to run them by hand (database ireports, role ireports_viz):
//
//	CREATE ROLE ireports_viz LOGIN PASSWORD '…' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
//	ALTER ROLE ireports_viz SET default_transaction_read_only = on;
//	GRANT CONNECT ON DATABASE ireports TO ireports_viz;
//	GRANT USAGE ON SCHEMA public TO ireports_viz;
//	GRANT SELECT ON request_monthly, agency_daily, request_heat, request_geo,
//	    job_runs, ingest_watermarks TO ireports_viz;
//
// The password travels in the statement text, so a server logging DDL logs it; set it with
// psql's \password instead where that matters.
func EnsureReadOnlyRole(ctx context.Context, db *sql.DB, name, password string) (err error) {
	if name == "" {
		return fmt.Errorf("%w: empty role name", ErrConfig)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("read-only role %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// Roles are cluster-wide and CREATE ROLE has no IF NOT EXISTS; the lock keeps two
	// processes from both finding the role missing.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("read-only role %s: lock: %w", name, err)
	}
	// NOSUPERUSER and NOREPLICATION only where the role has those attributes: PostgreSQL
	// refuses either keyword, even as a no-op, to anyone but a superuser, and the RDS master
	// user is none (CREATE ROLE gives neither attribute anyway).
	var exists, super, replication bool
	switch err := tx.QueryRowContext(ctx, "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = $1", name).Scan(&super, &replication); {
	case err == nil:
		exists = true
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read-only role %s: %w", name, err)
	}
	var dbName string
	if err := tx.QueryRowContext(ctx, "SELECT current_database()").Scan(&dbName); err != nil {
		return fmt.Errorf("read-only role %s: %w", name, err)
	}
	role := pq.QuoteIdentifier(name)
	var stmts []string
	if !exists {
		stmts = append(stmts, "CREATE ROLE "+role)
	}
	alter := "ALTER ROLE " + role + " LOGIN NOCREATEDB NOCREATEROLE NOINHERIT"
	if super {
		alter += " NOSUPERUSER"
	}
	if replication {
		alter += " NOREPLICATION"
	}
	if password != "" {
		alter += " PASSWORD " + pq.QuoteLiteral(password)
	}
	tables := make([]string, len(readableTables))
	for i, t := range readableTables {
		tables[i] = pq.QuoteIdentifier(t)
	}
	stmts = append(stmts, alter,
		"ALTER ROLE "+role+" SET default_transaction_read_only = on",
		"GRANT CONNECT ON DATABASE "+pq.QuoteIdentifier(dbName)+" TO "+role,
		"GRANT USAGE ON SCHEMA public TO "+role,
		"GRANT SELECT ON "+strings.Join(tables, ", ")+" TO "+role,
	)
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			// Not s itself: it may hold the password.
			return fmt.Errorf("read-only role %s: %s: %w", name, strings.Fields(s)[0]+" "+strings.Fields(s)[1], err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("read-only role %s: commit: %w", name, err)
	}
	return nil
}
