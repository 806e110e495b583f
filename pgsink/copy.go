package pgsink

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/lib/pq"

	"github.com/ireports/ireports/summary"
)

// The rows go to the server in COPY's text format, encoded here straight into one buffer
// per table and handed to lib/pq in large chunks. lib/pq's own COPY path (database/sql's
// Stmt.Exec per row) converts every value to a driver.Value, checks it through reflection
// and encodes it again: in a profile of `make demo`'s publish that cost more client CPU
// than reading the Parquet summaries.

// Columns of each summary table in the order the encoders below write them.
var (
	monthlyCols = []string{"city", "year", "month", "request_type", "agency", "requests", "closed", "open",
		"median_resolution_hours", "p90_resolution_hours"}
	dailyCols = []string{"city", "agency", "day", "year", "month", "opened", "closed", "median_resolution_hours"}
	heatCols  = []string{"city", "agency", "year", "month", "weekday", "hour", "requests"}
	geoCols   = []string{"city", "year", "month", "request_type", "lat_bin", "lon_bin", "requests"}
)

// copyBuf is one table's rows, encoded as the data of a COPY … FROM STDIN in text format:
// each row a line of tab-separated fields.
type copyBuf struct {
	table  string
	cols   []string
	freeze bool // COPY … WITH (FREEZE): the table was truncated in this transaction
	data   []byte
	rows   int
}

// text appends s as a text field. s must be storable (cleanGroup has run): COPY's text
// format escapes only the backslash and the characters that delimit fields and rows.
func (c *copyBuf) text(s string) {
	for {
		i := strings.IndexAny(s, "\\\t\n\r")
		if i < 0 {
			c.data = append(c.data, s...)
			break
		}
		c.data = append(c.data, s[:i]...)
		switch s[i] {
		case '\\':
			c.data = append(c.data, `\\`...)
		case '\t':
			c.data = append(c.data, `\t`...)
		case '\n':
			c.data = append(c.data, `\n`...)
		case '\r':
			c.data = append(c.data, `\r`...)
		}
		s = s[i+1:]
	}
	c.data = append(c.data, '\t')
}

func (c *copyBuf) int(v int64) {
	c.data = strconv.AppendInt(c.data, v, 10)
	c.data = append(c.data, '\t')
}

// float appends v as double precision: the shortest decimal that reads back as the same
// float64 (the server's strtod rounds correctly), so lat_bin and lon_bin keys stay exact.
func (c *copyBuf) float(v float64) {
	switch {
	case math.IsNaN(v):
		c.data = append(c.data, "NaN"...)
	case math.IsInf(v, 1):
		c.data = append(c.data, "Infinity"...)
	case math.IsInf(v, -1):
		c.data = append(c.data, "-Infinity"...)
	default:
		c.data = strconv.AppendFloat(c.data, v, 'g', -1, 64)
	}
	c.data = append(c.data, '\t')
}

func (c *copyBuf) nullFloat(v *float64) {
	if v == nil {
		c.data = append(c.data, `\N`+"\t"...)
		return
	}
	c.float(*v)
}

// date appends a summary day number as an ISO date.
func (c *copyBuf) date(d time.Time) {
	c.data = d.AppendFormat(c.data, time.DateOnly)
	c.data = append(c.data, '\t')
}

// end closes the row: its last field's tab becomes the newline.
func (c *copyBuf) end() {
	c.data[len(c.data)-1] = '\n'
	c.rows++
}

func (c *copyBuf) reset() { c.data, c.rows = c.data[:0], 0 }

// encode appends the rows of one group's tables to the table buffers.
func (b *batch) encode(t *summary.Tables) {
	m := &b.monthly
	for i := range t.Monthly {
		r := &t.Monthly[i]
		m.text(r.City)
		m.int(int64(r.Year))
		m.int(int64(r.Month))
		m.text(r.RequestType)
		m.text(r.Agency)
		m.int(r.Requests)
		m.int(r.Closed)
		m.int(r.Open)
		m.nullFloat(r.MedianResolutionHours)
		m.nullFloat(r.P90ResolutionHours)
		m.end()
	}
	d := &b.daily
	for _, i := range b.dailyOrder(t.AgencyDaily) {
		r := &t.AgencyDaily[i]
		day := dayDate(r.Day)
		d.text(r.City)
		d.text(r.Agency)
		d.date(day)
		d.int(int64(day.Year()))
		d.int(int64(day.Month()))
		d.int(r.Opened)
		d.int(r.Closed)
		d.nullFloat(r.MedianResolutionHours)
		d.end()
	}
	h := &b.heat
	for i := range t.Heat {
		r := &t.Heat[i]
		h.text(r.City)
		h.text(r.Agency)
		h.int(int64(r.Year))
		h.int(int64(r.Month))
		h.int(int64(r.Weekday))
		h.int(int64(r.Hour))
		h.int(r.Requests)
		h.end()
	}
	g := &b.geo
	for i := range t.Geo {
		r := &t.Geo[i]
		g.text(r.City)
		g.int(int64(r.Year))
		g.int(int64(r.Month))
		g.text(r.RequestType)
		g.float(r.LatBin)
		g.float(r.LonBin)
		g.int(r.Requests)
		g.end()
	}
}

// dailyOrder returns the indexes of rows in the order of agency_daily's primary key within
// a group, (day, agency), in a slice of b's that the next call reuses. The summaries list a
// group's rows by agency, then day; sent in key order, group after group, the rows of a
// table loaded without its indexes are already sorted when its primary key is built, and
// the build's sort only checks that they are.
func (b *batch) dailyOrder(rows []summary.AgencyDaily) []int32 {
	b.order = b.order[:0]
	for i := range rows {
		b.order = append(b.order, int32(i))
	}
	slices.SortFunc(b.order, func(x, y int32) int {
		return cmp.Or(cmp.Compare(rows[x].Day, rows[y].Day), cmp.Compare(rows[x].Agency, rows[y].Agency))
	})
	return b.order
}

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

// send loads c's rows into its table with one COPY … FROM STDIN on conn, inside the
// transaction open there, and empties c. The server reports bad rows (a duplicate key) when
// the COPY ends; the error names the table and the row count.
func (c *copyBuf) send(ctx context.Context, conn *sql.Conn) error {
	if c.rows == 0 {
		return nil
	}
	q := "COPY " + pq.QuoteIdentifier(c.table) + " ("
	for i, col := range c.cols {
		if i > 0 {
			q += ", "
		}
		q += pq.QuoteIdentifier(col)
	}
	q += ") FROM STDIN"
	if c.freeze {
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
		for data := c.data; len(data) > 0; {
			n := chunkLen(data)
			// The chunk without its final newline, which CopyData adds back. lib/pq
			// copies the string into its send buffer before CopyData returns, so it may
			// alias c.data.
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
		return fmt.Errorf("copy %s: %d rows: %w", c.table, c.rows, err)
	}
	c.reset()
	return nil
}
