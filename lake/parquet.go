package lake

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
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

// RowBatch converts records to lake rows in batches without allocating per row: ToRow
// allocates each optional value (up to twelve per row) on the heap, which in a reducer was
// most of its allocations. A batch's rows point into the batch's own value arrays, which
// Reset reuses: the rows are valid until the next Reset, and a Parquet writer copies what it
// is given, so a batch is reset after each Write.
type RowBatch struct {
	rows   []Row
	strs   []string
	ints   []int64
	floats []float64
}

// Reset empties b for n more rows (n sizes the value arrays once; more may be added).
func (b *RowBatch) Reset(n int) {
	b.rows = b.rows[:0]
	// The value arrays must not grow while a batch is built: rows point into them.
	if cap(b.strs) < 7*n {
		b.strs = make([]string, 0, 7*n)
		b.ints = make([]int64, 0, 2*n)
		b.floats = make([]float64, 0, 3*n)
	}
	clear(b.strs) // let the previous batch's strings go
	b.strs, b.ints, b.floats = b.strs[:0], b.ints[:0], b.floats[:0]
}

// Rows returns the batch's rows.
func (b *RowBatch) Rows() []Row { return b.rows }

// Len is the number of rows in b.
func (b *RowBatch) Len() int { return len(b.rows) }

// Add appends the lake row of r, equal to ToRow(r). Past the n rows Reset sized b for, the
// value arrays grow by reallocation, which leaves earlier rows pointing into the old arrays:
// still correct, only no longer free.
func (b *RowBatch) Add(r *record.Request) {
	row := Row{
		RequestID: r.RequestID,
		CreatedAt: r.CreatedAt.UnixMicro(),
		Status:    r.Status.String(),
	}
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		b.strs = append(b.strs, s)
		return &b.strs[len(b.strs)-1]
	}
	i64 := func(v int64) *int64 {
		b.ints = append(b.ints, v)
		return &b.ints[len(b.ints)-1]
	}
	f64 := func(v float64) *float64 {
		b.floats = append(b.floats, v)
		return &b.floats[len(b.floats)-1]
	}
	if !r.ClosedAt.IsZero() {
		row.ClosedAt = i64(r.ClosedAt.UnixMicro())
	}
	if !r.UpdatedAt.IsZero() {
		row.UpdatedAt = i64(r.UpdatedAt.UnixMicro())
	}
	row.StatusRaw, row.Agency, row.RequestType = str(r.StatusRaw), str(r.Agency), str(r.RequestType)
	row.RequestSubtype, row.Zip, row.Neighborhood, row.Channel = str(r.RequestSubtype), str(r.Zip), str(r.Neighborhood), str(r.Channel)
	if r.HasLocation {
		row.Latitude, row.Longitude = f64(r.Latitude), f64(r.Longitude)
	}
	if h, ok := r.ResolutionHours(); ok {
		row.ResolutionHours = f64(h)
	}
	b.rows = append(b.rows, row)
}

// StringBytes is the bytes of the string values of r's lake row (ToRow), what PageBufferFor
// counts as strBytes.
func StringBytes(r *record.Request) int {
	return len(r.RequestID) + len(r.Status.String()) + len(r.StatusRaw) + len(r.Agency) + len(r.RequestType) +
		len(r.RequestSubtype) + len(r.Zip) + len(r.Neighborhood) + len(r.Channel)
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
// size, creator, page format) to w. Each Flush ends a row group. opts add to the lake's
// options those that change how the file is written, never what it holds: the size of the
// write buffer (parquet.WriteBufferSize) or of the page buffers (PageBufferFor).
//
// The files are written for the widest set of readers: data pages of version 1 and only the
// PLAIN, RLE and RLE_DICTIONARY encodings. parquet-go's defaults (version 2 pages, and
// DELTA_LENGTH_BYTE_ARRAY for strings without a dictionary) are valid Parquet, but not every
// engine the lake is for reads them (Spark's vectorized reader gained the delta encodings
// only in 3.3); zstd makes up most of what the delta encoding saved.
func NewParquetWriter[T any](w io.Writer, opts ...parquet.WriterOption) *parquet.GenericWriter[T] {
	return parquet.NewGenericWriter[T](w, append([]parquet.WriterOption{
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.CreatedBy("ireports", "1", ""),
		parquet.DataPageVersion(1),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.Plain),
	}, opts...)...)
}

// PageBufferFor returns the page buffer size (parquet.PageBufferSize) for a row group of n
// rows whose string values total strBytes bytes: the smallest power of two, from 4 KiB, that
// no column of it can fill, or parquet.DefaultPageBufferSize when a column could fill that.
// The rows' fields must be strings or values of at most 8 bytes, or pointers to them (as
// Row's and the summary rows' are; pageBufferFor checks a type).
//
// A writer sizes each column's buffer to its page buffer size whatever the rows (a quarter
// of a MiB for an int64 column), and a reducer writes five files a group, most of a few
// hundred rows: allocating and clearing those buffers was most of what the files cost
// besides their system calls. The size changes no byte of the file: a writer cuts a page
// only where a column's buffer reaches it, and a row group none of whose columns can reach
// it is one page per column at either size.
//
// A column's buffer (parquet-go's ColumnBuffer.Size) holds at most 8 bytes a value (int64,
// double; 4 for dictionary indexes, int32), 4 more a value and the values' bytes for plain
// byte arrays, and 9 more a row for an optional column: 21 bytes a row and strBytes bound
// every column, and 24 leaves room for rounding.
func PageBufferFor(n int, strBytes int64) int {
	bound := 24*float64(n) + float64(strBytes) + 64
	for size := 4 << 10; size < parquet.DefaultPageBufferSize; size *= 2 {
		// The writer flushes a column once its buffer holds int32(0.98 * size) bytes.
		if float64(int32(float64(size)*0.98)) > bound {
			return size
		}
	}
	return parquet.DefaultPageBufferSize
}

// stringLen is the length in bytes of the string fields of struct v at the indexes fields
// (stringFields's), a nil pointer counting 0.
func stringLen(v reflect.Value, fields []int) int64 {
	var n int64
	for _, f := range fields {
		fv := v.Field(f)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		n += int64(fv.Len())
	}
	return n
}

// pageBufferFor returns the page buffer size for rows as a file's one row group
// (PageBufferFor), or parquet-go's default when T has fields whose size it cannot bound
// (only fixed-size values, strings and pointers to them are counted).
func pageBufferFor[T any](rows []T) int {
	fields, ok := stringFields(reflect.TypeFor[T]())
	if !ok {
		return parquet.DefaultPageBufferSize
	}
	var strBytes int64
	if len(fields) > 0 {
		for i := range rows {
			strBytes += stringLen(reflect.ValueOf(&rows[i]).Elem(), fields)
		}
	}
	return PageBufferFor(len(rows), strBytes)
}

// stringTypes caches stringFields by row type.
var stringTypes sync.Map // reflect.Type → stringFieldsOf

type stringFieldsOf struct {
	fields []int
	ok     bool
}

// stringFields returns the indexes of the string and *string fields of struct type t, and
// false when t is not a struct or has fields of another variable size (slices, maps,
// nested structs) or of more than 8 bytes.
func stringFields(t reflect.Type) ([]int, bool) {
	if c, ok := stringTypes.Load(t); ok {
		return c.(stringFieldsOf).fields, c.(stringFieldsOf).ok
	}
	c := stringFieldsOf{ok: t.Kind() == reflect.Struct}
	for i := 0; c.ok && i < t.NumField(); i++ {
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.String:
			c.fields = append(c.fields, i)
		case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
			reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint,
			reflect.Float32, reflect.Float64:
		default:
			c.ok = false
		}
	}
	stringTypes.Store(t, c)
	return c.fields, c.ok
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

// EncodeParquet writes rows to w as one Parquet file, with a pooled writer (GetWriter)
// whose page buffers are sized to the rows (PageBufferFor).
func EncodeParquet[T any](w io.Writer, rows []T) error {
	out := w
	var flush func() error
	if _, ok := w.(*bytes.Buffer); !ok {
		// Pooled writers have no write buffer of their own (one in front of a
		// bytes.Buffer, the engine's case, only copied): anything else gets one here.
		b := bufio.NewWriterSize(w, 32<<10)
		out, flush = b, b.Flush
	}
	pw := GetWriter[T](out, pageBufferFor(rows))
	for len(rows) > 0 {
		n := min(len(rows), 4096)
		if _, err := pw.Write(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	if err := pw.Close(); err != nil {
		return err
	}
	pw.Release()
	if flush != nil {
		return flush()
	}
	return nil
}

// Writer is a writer of the lake's Parquet files (NewParquetWriter) that writes through to
// its output (no write buffer), taken from a pool by GetWriter. Release returns it to the
// pool once closed.
type Writer[T any] struct {
	*parquet.GenericWriter[T]
	pool *sync.Pool
}

// writerPool is a pool of Writers of one row type and page buffer size.
type writerPool struct {
	typ  reflect.Type
	size int
}

// writerPools holds a *sync.Pool of *Writer[T] per writerPool. A reducer writes five small
// files per group; building a parquet-go writer (its schema walk, its column buffers,
// encoders and row-writing functions) cost more than encoding a small file, and its
// buffers were most of a reducer's allocations. A reset writer writes the same bytes as a
// new one (parquet-go v0.32.1 and later: before, a reset cleared the column paths of the
// files it wrote next; TestPooledWriterSameBytes checks it).
var writerPools sync.Map // writerPool → *sync.Pool

// GetWriter returns a Writer of T to w whose columns' page buffers are pageBufferSize bytes
// (PageBufferFor; 0 for parquet-go's default), reset from the pool or new. The page buffer
// size changes no byte of a file that PageBufferFor sized it for.
func GetWriter[T any](w io.Writer, pageBufferSize int) *Writer[T] {
	if pageBufferSize <= 0 {
		pageBufferSize = parquet.DefaultPageBufferSize
	}
	key := writerPool{typ: reflect.TypeFor[T](), size: pageBufferSize}
	p, ok := writerPools.Load(key)
	if !ok {
		p, _ = writerPools.LoadOrStore(key, &sync.Pool{})
	}
	pool := p.(*sync.Pool)
	if pw, ok := pool.Get().(*Writer[T]); ok {
		pw.Reset(w)
		return pw
	}
	return &Writer[T]{
		GenericWriter: NewParquetWriter[T](w, parquet.WriteBufferSize(0), parquet.PageBufferSize(pageBufferSize)),
		pool:          pool,
	}
}

// Release returns w to its pool. Call it only after a Close that succeeded: a writer that
// failed is dropped.
func (w *Writer[T]) Release() {
	w.Reset(nil) // let go of the output
	w.pool.Put(w)
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
