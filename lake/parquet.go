package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// Row is the lake's Parquet row: the normalized record without the partition columns.
// Timestamps are UTC instants in microseconds; nulls are nil pointers.
type Row struct {
	RequestID       string   `parquet:"request_id"`
	CreatedAt       int64    `parquet:"created_at,timestamp(microsecond:utc)"`
	ClosedAt        *int64   `parquet:"closed_at,optional,timestamp(microsecond:utc)"`
	UpdatedAt       *int64   `parquet:"updated_at,optional,timestamp(microsecond:utc)"`
	Status          string   `parquet:"status,dict"`
	StatusRaw       *string  `parquet:"status_raw,optional,dict"`
	Agency          *string  `parquet:"agency,optional,dict"`
	RequestType     *string  `parquet:"request_type,optional,dict"`
	RequestSubtype  *string  `parquet:"request_subtype,optional,dict"`
	Latitude        *float64 `parquet:"latitude,optional"`
	Longitude       *float64 `parquet:"longitude,optional"`
	Zip             *string  `parquet:"zip,optional,dict"`
	Neighborhood    *string  `parquet:"neighborhood,optional,dict"`
	Channel         *string  `parquet:"channel,optional,dict"`
	ResolutionHours *float64 `parquet:"resolution_hours,optional"`
}

// ToRow converts a record to a lake row. The row shares r's strings.
func ToRow(r *record.Request) Row {
	row := Row{
		RequestID:      r.RequestID,
		CreatedAt:      r.CreatedAt.UnixMicro(),
		ClosedAt:       optTime(r.ClosedAt.IsZero(), r.ClosedAt.UnixMicro()),
		UpdatedAt:      optTime(r.UpdatedAt.IsZero(), r.UpdatedAt.UnixMicro()),
		Status:         r.Status.String(),
		StatusRaw:      optString(r.StatusRaw),
		Agency:         optString(r.Agency),
		RequestType:    optString(r.RequestType),
		RequestSubtype: optString(r.RequestSubtype),
		Zip:            optString(r.Zip),
		Neighborhood:   optString(r.Neighborhood),
		Channel:        optString(r.Channel),
	}
	if r.HasLocation {
		lat, lon := r.Latitude, r.Longitude
		row.Latitude, row.Longitude = &lat, &lon
	}
	if h, ok := r.ResolutionHours(); ok {
		row.ResolutionHours = &h
	}
	return row
}

func optTime(null bool, micros int64) *int64 {
	if null {
		return nil
	}
	return &micros
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NewParquetWriter returns a writer of the lake's Parquet files (compression, row group
// size, creator, page format) to w. Each Flush ends a row group.
//
// The files are written for the widest set of readers: data pages of version 1 and only the
// PLAIN, RLE and RLE_DICTIONARY encodings. parquet-go's defaults (version 2 pages, and
// DELTA_LENGTH_BYTE_ARRAY for strings without a dictionary) are valid Parquet, but not every
// engine the lake is for reads them (Spark's vectorized reader gained the delta encodings
// only in 3.3); zstd makes up most of what the delta encoding saved.
func NewParquetWriter[T any](w io.Writer) *parquet.GenericWriter[T] {
	return parquet.NewGenericWriter[T](w,
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.CreatedBy("ireports", "1", ""),
		parquet.DataPageVersion(1),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.Plain),
	)
}

// RowGroupRows bounds a row group so a reader can stream a large group's file, and a
// reducer streams a group's rows in chunks of this many, each sorted by creation time.
const RowGroupRows = 128 << 10

// codec compresses the lake's pages. zstd's fastest level still compresses 311 text several
// times over, and costs a fraction of the default level's time in the reducers.
var codec = &zstd.Codec{Level: zstd.SpeedFastest}

// bufs recycles encode buffers: a reducer writes several small files per group.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteParquet writes rows as one Parquet file to the local path (creating its directory),
// whole: a reader sees the previous file or this one. It is meant for tools and tests; the
// engine stages its files (StageParquet).
func WriteParquet[T any](path string, rows []T) error {
	buf := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(buf)
	buf.Reset()
	if err := EncodeParquet(buf, rows); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	store, err := localDisk()
	if err != nil {
		return err
	}
	return objstore.WriteAll(context.Background(), store, path, buf.Bytes())
}

// EncodeParquet writes rows to w as one Parquet file. (Writers are not pooled: a reset
// parquet-go writer was seen to write different bytes for the same rows, and re-runs must give
// byte-identical lakes.)
func EncodeParquet[T any](w io.Writer, rows []T) error {
	pw := NewParquetWriter[T](w)
	for len(rows) > 0 {
		n := min(len(rows), 4096)
		if _, err := pw.Write(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return pw.Close()
}

// ReadParquet reads every row of the Parquet file at the local path.
func ReadParquet[T any](path string) ([]T, error) {
	store, err := localDisk()
	if err != nil {
		return nil, err
	}
	return ReadParquetFrom[T](context.Background(), store, path)
}

// StageParquet encodes rows as one Parquet file, stages it at rel and describes it.
func StageParquet[T any](ctx context.Context, s *Stage, rel string, rows []T) (File, error) {
	buf := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(buf)
	buf.Reset()
	if err := EncodeParquet(buf, rows); err != nil {
		return File{}, fmt.Errorf("write %s: %w", rel, err)
	}
	f, err := s.Put(ctx, rel, buf.Bytes())
	if err != nil {
		return f, fmt.Errorf("write %s: %w", rel, err)
	}
	return f, nil
}

// ReadParquetFrom reads every row of the Parquet object name, on local disk or S3. The
// object is read whole into memory first; its rows take several times more.
func ReadParquetFrom[T any](ctx context.Context, store objstore.Store, name string) ([]T, error) {
	b, err := objstore.ReadAll(ctx, store, name)
	if err != nil {
		return nil, err
	}
	rows, err := parquet.Read[T](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return rows, nil
}

// FromRow converts a lake row of group k back to a record (Ord 0).
func FromRow(k record.Key, row *Row) record.Request {
	r := record.Request{
		City: k.City, Year: k.Year, Month: k.Month,
		RequestID: row.RequestID,
		CreatedAt: time.UnixMicro(row.CreatedAt).UTC(),
		StatusRaw: deref(row.StatusRaw), Agency: deref(row.Agency), RequestType: deref(row.RequestType),
		RequestSubtype: deref(row.RequestSubtype), Zip: deref(row.Zip), Neighborhood: deref(row.Neighborhood),
		Channel: deref(row.Channel),
	}
	if row.ClosedAt != nil {
		r.ClosedAt = time.UnixMicro(*row.ClosedAt).UTC()
	}
	if row.UpdatedAt != nil {
		r.UpdatedAt = time.UnixMicro(*row.UpdatedAt).UTC()
	}
	switch row.Status {
	case "open":
		r.Status = record.StatusOpen
	case "closed":
		r.Status = record.StatusClosed
	}
	if row.Latitude != nil && row.Longitude != nil {
		r.Latitude, r.Longitude, r.HasLocation = *row.Latitude, *row.Longitude, true
	}
	return r
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
