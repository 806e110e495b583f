package pgsink

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/lib/pq"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// The rows go to the server in COPY's text format, encoded here straight into one buffer
// per table and handed to lib/pq in large chunks. lib/pq's own COPY path (database/sql's
// Stmt.Exec per row) converts every value to a driver.Value, checks it through reflection
// and encodes it again: in a profile of `make demo`'s publish that cost more client CPU
// than reading the Parquet summaries.

// The tables the rows are stored in (migration 0004): request_monthly row by row, the other
// three packed, one row per (city, year, month, agency or request type) with its cells in
// arrays, behind views of their old names that unnest them.
const (
	packedDaily = "agency_daily_packed"
	packedHeat  = "request_heat_packed"
	packedGeo   = "request_geo_packed"
)

// Columns of each stored table in the order the encoders below write them.
var (
	monthlyCols = []string{"city", "year", "month", "request_type", "agency", "requests", "closed", "open",
		"median_resolution_hours", "p90_resolution_hours"}
	dailyCols = []string{"city", "year", "month", "agency", "days", "opened", "closed", "median_resolution_hours"}
	heatCols  = []string{"city", "year", "month", "agency", "cells", "requests"}
	geoCols   = []string{"city", "year", "month", "request_type", "lat_bins", "lon_bins", "requests"}
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
	c.data = appendFloat(c.data, v)
	c.data = append(c.data, '\t')
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "Infinity"...)
	case math.IsInf(v, -1):
		return append(b, "-Infinity"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func (c *copyBuf) nullFloat(v *float64) {
	if v == nil {
		c.data = append(c.data, `\N`+"\t"...)
		return
	}
	c.float(*v)
}

// An array field is written open, its elements each with elemInt, elemFloat or elemNull, then
// close: an array literal of numbers, which needs no quoting in an array or in COPY's text.
func (c *copyBuf) open() { c.data = append(c.data, '{') }

func (c *copyBuf) elemInt(v int64) {
	c.data = strconv.AppendInt(c.data, v, 10)
	c.data = append(c.data, ',')
}

func (c *copyBuf) elemFloat(v float64) {
	c.data = appendFloat(c.data, v)
	c.data = append(c.data, ',')
}

func (c *copyBuf) elemNullFloat(v *float64) {
	if v == nil {
		c.data = append(c.data, "NULL,"...)
		return
	}
	c.elemFloat(*v)
}

// close ends the array: its last element's comma becomes the brace. An array has at least one
// element.
func (c *copyBuf) close() {
	c.data[len(c.data)-1] = '}'
	c.data = append(c.data, '\t')
}

// end closes the row: its last field's tab becomes the newline.
func (c *copyBuf) end() {
	c.data[len(c.data)-1] = '\n'
	c.rows++
}

func (c *copyBuf) reset() { c.data, c.rows = c.data[:0], 0 }

// encode appends the rows of group k's tables (checkGroup and cleanGroup have run) to the
// table buffers. It fails, encoding nothing, on two rows with one key or a weekday or hour out
// of range: the packed tables cannot refuse them, a cell being an array element.
func (b *batch) encode(k record.Key, t *summary.Tables) error {
	heat := b.order(&b.heatOrder, len(t.Heat), func(x, y int) int {
		p, q := &t.Heat[x], &t.Heat[y]
		return cmp.Or(cmp.Compare(p.Agency, q.Agency), cmp.Compare(p.Weekday, q.Weekday), cmp.Compare(p.Hour, q.Hour))
	})
	geo := b.order(&b.geoOrder, len(t.Geo), func(x, y int) int {
		p, q := &t.Geo[x], &t.Geo[y]
		return cmp.Or(cmp.Compare(p.RequestType, q.RequestType), cmp.Compare(p.LatBin, q.LatBin), cmp.Compare(p.LonBin, q.LonBin))
	})
	daily := b.order(&b.dailyOrder, len(t.AgencyDaily), func(x, y int) int {
		p, q := &t.AgencyDaily[x], &t.AgencyDaily[y]
		return cmp.Or(cmp.Compare(p.Agency, q.Agency), cmp.Compare(p.Day, q.Day))
	})
	if err := checkCells(k, t, heat, geo, daily); err != nil {
		return err
	}
	year, month := int64(k.Year), int64(k.Month)

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
	for run := range runs(daily, func(i int32) string { return t.AgencyDaily[i].Agency }) {
		first := &t.AgencyDaily[run[0]]
		d.text(first.City)
		d.int(year)
		d.int(month)
		d.text(first.Agency)
		d.open()
		for _, i := range run {
			d.elemInt(int64(dayDate(t.AgencyDaily[i].Day).Day()))
		}
		d.close()
		d.open()
		for _, i := range run {
			d.elemInt(t.AgencyDaily[i].Opened)
		}
		d.close()
		d.open()
		for _, i := range run {
			d.elemInt(t.AgencyDaily[i].Closed)
		}
		d.close()
		d.open()
		for _, i := range run {
			d.elemNullFloat(t.AgencyDaily[i].MedianResolutionHours)
		}
		d.close()
		d.end()
	}
	h := &b.heat
	for run := range runs(heat, func(i int32) string { return t.Heat[i].Agency }) {
		first := &t.Heat[run[0]]
		h.text(first.City)
		h.int(year)
		h.int(month)
		h.text(first.Agency)
		h.open()
		for _, i := range run {
			h.elemInt(int64(t.Heat[i].Weekday*24 + t.Heat[i].Hour))
		}
		h.close()
		h.open()
		for _, i := range run {
			h.elemInt(t.Heat[i].Requests)
		}
		h.close()
		h.end()
	}
	g := &b.geo
	for run := range runs(geo, func(i int32) string { return t.Geo[i].RequestType }) {
		first := &t.Geo[run[0]]
		g.text(first.City)
		g.int(year)
		g.int(month)
		g.text(first.RequestType)
		g.open()
		for _, i := range run {
			g.elemFloat(t.Geo[i].LatBin)
		}
		g.close()
		g.open()
		for _, i := range run {
			g.elemFloat(t.Geo[i].LonBin)
		}
		g.close()
		g.open()
		for _, i := range run {
			g.elemInt(t.Geo[i].Requests)
		}
		g.close()
		g.end()
	}
	b.summaryRows += len(t.Monthly) + len(t.AgencyDaily) + len(t.Heat) + len(t.Geo)
	return nil
}

// order returns the indexes 0…n-1 of a table's rows in key order (compare), in *buf, which the
// next call reuses. The summaries list a group's rows in key order, so the sort is mostly a
// check that they are.
func (b *batch) order(buf *[]int32, n int, compare func(x, y int) int) []int32 {
	o := (*buf)[:0]
	for i := range n {
		o = append(o, int32(i))
	}
	*buf = o
	cmpIdx := func(x, y int32) int { return compare(int(x), int(y)) }
	if !slices.IsSortedFunc(o, cmpIdx) {
		slices.SortStableFunc(o, cmpIdx)
	}
	return o
}

// runs yields the runs of order whose rows have the same packed row key (the agency or the
// request type): one stored row each.
func runs(order []int32, key func(i int32) string) iter.Seq[[]int32] {
	return func(yield func([]int32) bool) {
		for s := 0; s < len(order); {
			e := s + 1
			for e < len(order) && key(order[e]) == key(order[s]) {
				e++
			}
			if !yield(order[s:e]) {
				return
			}
			s = e
		}
	}
}

// checkCells fails on what the packed tables would store wrongly rather than refuse: two rows
// of a table with one key (in key order, they are neighbours), and a weekday or hour out of
// range, whose cell number would be another weekday's and hour's.
func checkCells(k record.Key, t *summary.Tables, heat, geo, daily []int32) error {
	dup := func(table string, key string) error {
		return fmt.Errorf("%w: group %s, %s: %s", ErrDuplicateKey, k, table, key)
	}
	for j, i := range heat {
		r := &t.Heat[i]
		if r.Weekday < 0 || r.Weekday > 6 || r.Hour < 0 || r.Hour > 23 {
			return fmt.Errorf("%w: group %s, %s row %d: weekday %d, hour %d out of range", ErrBadCell, k, summary.TableHeat, i, r.Weekday, r.Hour)
		}
		if j > 0 {
			if p := &t.Heat[heat[j-1]]; p.Agency == r.Agency && p.Weekday == r.Weekday && p.Hour == r.Hour {
				return dup(summary.TableHeat, fmt.Sprintf("agency %q, weekday %d, hour %d", r.Agency, r.Weekday, r.Hour))
			}
		}
	}
	for j, i := range geo {
		r := &t.Geo[i]
		if j > 0 {
			if p := &t.Geo[geo[j-1]]; p.RequestType == r.RequestType && cmp.Compare(p.LatBin, r.LatBin) == 0 && cmp.Compare(p.LonBin, r.LonBin) == 0 {
				return dup(summary.TableGeo, fmt.Sprintf("request type %q, bin %v, %v", r.RequestType, r.LatBin, r.LonBin))
			}
		}
	}
	for j, i := range daily {
		r := &t.AgencyDaily[i]
		if j > 0 {
			if p := &t.AgencyDaily[daily[j-1]]; p.Agency == r.Agency && p.Day == r.Day {
				return dup(summary.TableAgencyDaily, fmt.Sprintf("agency %q, day %s", r.Agency, dayDate(r.Day).Format(time.DateOnly)))
			}
		}
	}
	return nil
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
