package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "github.com/lib/pq"

	"github.com/ireports/ireports/lake"
)

// scaleDB is the database a scale run with --db publishes into, dropped and created again
// before each run so that every run is a first publish, as on a new deployment.
const scaleDB = "ireports_bench_scale"

// freshDatabase drops and creates scaleDB on the server of admin (a PostgreSQL URL whose
// database the benchmark may use to do that) and returns admin's URL naming scaleDB instead.
// Errors never quote the URL (it may hold a password).
func freshDatabase(ctx context.Context, admin string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("--db: want a postgres:// URL")
	}
	db, err := sql.Open("postgres", admin)
	if err != nil {
		return "", fmt.Errorf("--db: %w", err)
	}
	defer db.Close()
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + scaleDB + " WITH (FORCE)",
		"CREATE DATABASE " + scaleDB,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return "", fmt.Errorf("--db: %s: %w", q, err)
		}
	}
	u.Path = "/" + scaleDB
	return u.String(), nil
}

// countSummaryRows returns the rows of the summary tables in the database at dsn.
func countSummaryRows(ctx context.Context, dsn string) (int64, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var total int64
	for _, t := range lake.SummaryTables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", t, err)
		}
		total += n
	}
	return total, nil
}
