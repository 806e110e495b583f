//go:build cgo

// Command duckdb runs scripts/duckdb/normalize.sql — the normalize job as one DuckDB script —
// over a corpus written by `coordinator gen`, and prints what it did as one JSON object:
//
//	go run ./scripts/duckdb --sql scripts/duckdb/normalize.sql --data CORPUS/data --out DIR
//
// make bench-duckdb builds it (cgo: it links DuckDB through duckdb-go) and scripts/benchrun
// runs it alternately with `coordinator run` on the same corpus. It is a benchmark tool
// only: no release binary imports it, so the release stays static and free of cgo.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
)

// result is the JSON object the command prints.
type result struct {
	Seconds  float64            `json:"seconds"`
	Rows     int64              `json:"rows"`     // requests written to the lake
	Rejected int64              `json:"rejected"` // records without a request id or a creation time
	Groups   int64              `json:"groups"`   // (city, year, month) groups
	Steps    map[string]float64 `json:"step_seconds"`
	Version  string             `json:"duckdb_version"`
}

func main() {
	sqlPath := flag.String("sql", "scripts/duckdb/normalize.sql", "the SQL script; @DATA@ and @OUT@ are replaced")
	data := flag.String("data", "", "the corpus directory (coordinator gen --out)")
	out := flag.String("out", "", "the output directory (replaced)")
	threads := flag.Int("threads", 0, "DuckDB threads (0: DuckDB's default, one per core)")
	flag.Parse()
	if *data == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: duckdb --data CORPUS --out DIR [--sql FILE] [--threads N]")
		os.Exit(2)
	}
	res, err := run(context.Background(), *sqlPath, *data, *out, *threads)
	if err != nil {
		fmt.Fprintln(os.Stderr, "duckdb:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

func run(ctx context.Context, sqlPath, data, out string, threads int) (result, error) {
	text, err := os.ReadFile(sqlPath)
	if err != nil {
		return result{}, err
	}
	absData, err := filepath.Abs(data)
	if err != nil {
		return result{}, err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return result{}, err
	}
	if err := os.RemoveAll(absOut); err != nil {
		return result{}, err
	}
	if err := os.MkdirAll(filepath.Join(absOut, "summaries"), 0o755); err != nil {
		return result{}, err
	}
	script := strings.NewReplacer("@DATA@", quoteSQL(absData), "@OUT@", quoteSQL(absOut)).Replace(string(text))

	start := time.Now()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	// One connection: temporary tables and macros live in it.
	db.SetMaxOpenConns(1)
	// DuckDB spills to a directory beside the output, not to its default in the working directory.
	setup := []string{fmt.Sprintf("SET temp_directory = '%s'", quoteSQL(filepath.Join(absOut, ".tmp")))}
	if threads > 0 {
		setup = append(setup, fmt.Sprintf("SET threads = %d", threads))
	}
	for _, s := range setup {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return result{}, fmt.Errorf("%s: %w", s, err)
		}
	}
	res := result{Steps: map[string]float64{}}
	for i, st := range statements(script) {
		t := time.Now()
		if _, err := db.ExecContext(ctx, st.text); err != nil {
			return result{}, fmt.Errorf("%s:%d: statement %d: %w", sqlPath, st.line, i+1, err)
		}
		res.Steps[fmt.Sprintf("%02d line %d", i+1, st.line)] = time.Since(t).Seconds()
	}
	row := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM requests),
		(SELECT coalesce(sum(n), 0) FROM rejects),
		(SELECT count(*) FROM (SELECT DISTINCT city, year, month FROM requests)),
		version()`)
	if err := row.Scan(&res.Rows, &res.Rejected, &res.Groups, &res.Version); err != nil {
		return result{}, fmt.Errorf("counting the output: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	if err := os.RemoveAll(filepath.Join(absOut, ".tmp")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return result{}, err
	}
	return res, nil
}

// quoteSQL doubles single quotes, for a path inside a SQL string literal.
func quoteSQL(s string) string { return strings.ReplaceAll(s, "'", "''") }

type statement struct {
	text string
	line int // of its first line in the script
}

// statements splits a script at the semicolons that end a line (before any -- comment),
// dropping comment lines and blank statements. normalize.sql keeps every statement's closing
// semicolon at the end of a line; a string literal spans no lines.
func statements(script string) []statement {
	var out []statement
	var cur strings.Builder
	first := 0
	for i, line := range strings.Split(script, "\n") {
		code := strings.TrimSpace(codeOf(line))
		if code == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() == 0 {
			first = i + 1
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(code, ";") {
			out = append(out, statement{strings.TrimSpace(cur.String()), first})
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, statement{strings.TrimSpace(cur.String()), first})
	}
	return out
}

// codeOf returns line without its -- comment, if any: a "--" outside single quotes.
func codeOf(line string) string {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\'':
			quoted = !quoted
		case !quoted && strings.HasPrefix(line[i:], "--"):
			return line[:i]
		}
	}
	return line
}
