package testenv

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestPostgresStopStart checks the harness's contract: a usable database, a Stop that clients
// notice, and a Start on the same port that keeps committed data.
func TestPostgresStopStart(t *testing.T) {
	pg := Postgres(t)
	db, err := sql.Open("postgres", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var version string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatalf("query a fresh server: %v", err)
	}
	t.Logf("PostgreSQL %s on port %d", version, pg.Port)
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping succeeded while the server was stopped")
	}
	if err := pg.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Fatalf("after restart: n = %d, err = %v; want 42, nil", n, err)
	}

	other := pg.CreateDatabase(t, "second db")
	db2, err := sql.Open("postgres", other)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.PingContext(ctx); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
}
