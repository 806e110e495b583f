package pgsink

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"unsafe"

	"github.com/lib/pq"

	"github.com/ireports/ireports/pgsink/pgcopy"
)

// The rows go to the server in COPY's text format, encoded straight into one buffer per
// table (package pgcopy) and handed to lib/pq in large chunks. lib/pq's own COPY path
// (database/sql's Stmt.Exec per row) converts every value to a driver.Value, checks it
// through reflection and encodes it again: in a profile of `make demo`'s publish that cost
// more client CPU than reading the Parquet summaries.

// copyChunk bounds the bytes of rows one CopyData call hands to lib/pq. lib/pq appends them
// to its 64 KiB send buffer and sends it once it holds more than 63 KiB: chunks that fill it
// to just under 64 KiB are sent at once, one write each, and never make it grow (a larger
// chunk would allocate and fault in a new buffer for every COPY).
const copyChunk = 64<<10 - 5 - 1 // the message header and the newline CopyData adds

// chunkLen returns the length of the first chunk of data, which holds whole rows: as many
// as fit in copyChunk bytes with their newlines, or the first row alone when it is longer.
// data is rows, each ending in a newline.
func chunkLen(data []byte) int {
	if n := bytes.LastIndexByte(data[:min(len(data), copyChunk+1)], '\n') + 1; n > 0 {
		return n
	}
	return bytes.IndexByte(data, '\n') + 1
}

// copyData is the method of lib/pq's COPY statement that sends raw COPY data. It appends a
// newline to what it is given.
type copyData interface {
	CopyData(ctx context.Context, line string) (driver.Result, error)
}

// errNoCopyData: the driver under database/sql is not the lib/pq this package was built for.
var errNoCopyData = errors.New("the database driver cannot stream COPY data (not lib/pq?)")

// copyTable loads buf's rows into table with one COPY … FROM STDIN on conn, inside the
// transaction open there, WITH (FREEZE) when freeze is set (the table was truncated in this
// transaction). The server reports bad rows (a duplicate key) when the COPY ends; the error
// names the table and the row count.
func copyTable(ctx context.Context, conn *sql.Conn, table pgcopy.Table, freeze bool, buf *pgcopy.Buf) error {
	if buf.Rows == 0 {
		return nil
	}
	q := "COPY " + pq.QuoteIdentifier(table.Name) + " ("
	for i, col := range table.Columns {
		if i > 0 {
			q += ", "
		}
		q += pq.QuoteIdentifier(col)
	}
	q += ") FROM STDIN"
	if freeze {
		q += " WITH (FREEZE)"
	}
	err := conn.Raw(func(dc any) (err error) {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errNoCopyData
		}
		stmt, err := prep.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := stmt.Close(); err == nil {
				err = cerr
			}
		}()
		cd, ok := stmt.(copyData)
		if !ok {
			return errNoCopyData
		}
		for data := buf.Data; len(data) > 0; {
			n := chunkLen(data)
			// The chunk without its final newline, which CopyData adds back. lib/pq
			// copies the string into its send buffer before CopyData returns, so it may
			// alias buf.Data.
			if _, err := cd.CopyData(ctx, unsafe.String(&data[0], n-1)); err != nil {
				return err
			}
			data = data[n:]
		}
		// Exec with no values ends the COPY and waits for the server's verdict.
		//lint:ignore SA1019 lib/pq's COPY statement has no ExecContext
		_, err = stmt.Exec(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("copy %s: %d rows: %w", table.Name, buf.Rows, err)
	}
	return nil
}
