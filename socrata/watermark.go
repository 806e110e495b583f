package socrata

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/lib/pq" // the Postgres driver NewPGWatermarks expects
)

// Watermark is where the pull of a source resumes: the system fields of the last record
// stored. Both are kept as the literals the API returned.
type Watermark struct {
	UpdatedAt string `json:"updated_at"` // :updated_at, such as "2024-05-27T06:10:11.123Z"
	ID        string `json:"id"`         // :id, such as "row-ab3k~9xq2.mm4z"
}

// IsZero reports whether w is no watermark: the source was never pulled.
func (w Watermark) IsZero() bool { return w == Watermark{} }

func (w Watermark) String() string {
	if w.IsZero() {
		return "(none)"
	}
	return fmt.Sprintf("(%s, %s)", w.UpdatedAt, w.ID)
}

// WatermarkStore keeps one watermark per source. Implementations are safe for concurrent use;
// every method blocks until the store answers or ctx ends.
type WatermarkStore interface {
	// Get returns the source's watermark, or the zero Watermark when it has none.
	Get(ctx context.Context, source string) (Watermark, error)
	// Advance replaces the source's watermark `from` (zero: none yet) with `to`. It is
	// durable when it returns nil. When the stored watermark is neither `from` nor already
	// `to` (a repeated call whose first answer was lost), it changes nothing and returns an
	// error wrapping ErrWatermarkMoved.
	Advance(ctx context.Context, source string, from, to Watermark) error
}

// PGWatermarks stores watermarks in the ingest_watermarks table of the engine's Postgres
// database (pgsink's migration 0001; run pgsink.Migrate before use):
//
//	CREATE TABLE ingest_watermarks (
//	    source      text        PRIMARY KEY,
//	    updated_at  text        NOT NULL,
//	    id          text        NOT NULL,
//	    advanced_at timestamptz NOT NULL DEFAULT now()
//	);
//
// Each Advance is one statement, so it commits or not as a whole. It does not retry: when
// Postgres is down, Pull fails after storing at most one batch the watermark does not cover,
// which the next pull fetches again harmlessly.
type PGWatermarks struct {
	db *sql.DB
}

var _ WatermarkStore = (*PGWatermarks)(nil)

// NewPGWatermarks returns a store over db, opened with sql.Open("postgres", dsn).
func NewPGWatermarks(db *sql.DB) *PGWatermarks { return &PGWatermarks{db: db} }

// Get implements WatermarkStore.
func (p *PGWatermarks) Get(ctx context.Context, source string) (Watermark, error) {
	var w Watermark
	err := p.db.QueryRowContext(ctx,
		`SELECT updated_at, id FROM ingest_watermarks WHERE source = $1`, source).Scan(&w.UpdatedAt, &w.ID)
	if err == sql.ErrNoRows {
		return Watermark{}, nil
	}
	if err != nil {
		return Watermark{}, fmt.Errorf("watermark of %s: %w", source, err)
	}
	return w, nil
}

// Advance implements WatermarkStore.
func (p *PGWatermarks) Advance(ctx context.Context, source string, from, to Watermark) error {
	if to.IsZero() {
		return fmt.Errorf("advance watermark of %s to nothing: %w", source, ErrBadResponse)
	}
	var res sql.Result
	var err error
	if from.IsZero() {
		res, err = p.db.ExecContext(ctx,
			`INSERT INTO ingest_watermarks (source, updated_at, id) VALUES ($1, $2, $3)
			 ON CONFLICT (source) DO NOTHING`, source, to.UpdatedAt, to.ID)
	} else {
		res, err = p.db.ExecContext(ctx,
			`UPDATE ingest_watermarks SET updated_at = $4, id = $5, advanced_at = now()
			 WHERE source = $1 AND updated_at = $2 AND id = $3`,
			source, from.UpdatedAt, from.ID, to.UpdatedAt, to.ID)
	}
	if err != nil {
		return fmt.Errorf("advance watermark of %s to %v: %w", source, to, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	// Nothing changed: either this very advance already happened (its answer was lost and
	// the caller retried), or someone else moved the watermark.
	cur, err := p.Get(ctx, source)
	if err != nil {
		return err
	}
	if cur == to {
		return nil
	}
	return fmt.Errorf("advance watermark of %s from %v to %v: it is %v: %w", source, from, to, cur, ErrWatermarkMoved)
}
