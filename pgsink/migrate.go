package pgsink

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/lib/pq"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_xact_lock key that serializes migrations: any fixed
// 64-bit number no other application on the database uses ("ireports" in ASCII).
const migrationLockKey int64 = 0x6972_6570_6f72_7473

// migration is one versioned schema change, from migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string // file name
	sql     string
	sum     string // hex SHA-256 of sql, to detect a migration edited after it was applied
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b), sum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := range ms {
		if ms[i].version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions are 1, 2, … without gaps)", ms[i].name, ms[i].version, i+1)
		}
	}
	return ms, nil
}

// Migrate brings the database's schema up to date with the migrations embedded in this
// binary, once: it does not retry (Sink.Migrate does). Each pending migration runs in its own
// transaction, together with its row in schema_migrations, under a transaction-scoped
// advisory lock, so processes that start at once apply each migration exactly once and a
// failed migration leaves the schema at the previous version. It fails with ErrSchemaNewer
// when the database was migrated by a newer binary, and with ErrMigrationChanged when an
// applied migration's text differs from the embedded one.
func Migrate(ctx context.Context, db *sql.DB) error { return migrate(ctx, db) }

// txBeginner is what migrations run on: a pool or one connection of it.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

func migrate(ctx context.Context, db txBeginner) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := apply(ctx, db, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

// apply runs migration m unless it is already applied. latest is the newest version this
// binary knows.
func apply(ctx context.Context, db txBeginner, m migration, latest int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// The lock comes first: CREATE TABLE IF NOT EXISTS is not safe against a concurrent
	// creator (it can fail on the catalog's unique index), and the version check below must
	// see what a concurrent migrator committed.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("migration %s: lock: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		sha256     text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migration %s: create schema_migrations: %w", m.name, err)
	}
	var newest sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if newest.Int64 > int64(latest) {
		return fmt.Errorf("%w: database at version %d, this binary knows up to %d", ErrSchemaNewer, newest.Int64, latest)
	}
	var sum string
	switch err := tx.QueryRowContext(ctx, "SELECT sha256 FROM schema_migrations WHERE version = $1", m.version).Scan(&sum); {
	case err == sql.ErrNoRows:
	case err != nil:
		return fmt.Errorf("migration %s: %w", m.name, err)
	case sum != m.sum:
		return fmt.Errorf("%w: %s (version %d) was applied with sha256 %s, the binary has %s", ErrMigrationChanged, m.name, m.version, sum, m.sum)
	default:
		return tx.Rollback() // already applied
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w%s", m.name, err, serverDetail(err))
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", m.version, m.name, m.sum); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}

// serverDetail returns the detail and hint of err, a PostgreSQL error, for a message: what
// the error's own text leaves out, such as the objects that depend on a table a migration
// drops ("view x depends on table y").
func serverDetail(err error) string {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return ""
	}
	var out string
	for _, s := range []struct{ label, text string }{{"detail", pe.Detail}, {"hint", pe.Hint}} {
		if s.text != "" {
			out += "; " + s.label + ": " + strings.Join(strings.Fields(s.text), " ")
		}
	}
	return out
}
