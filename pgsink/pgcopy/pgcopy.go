// Package pgcopy encodes a job's summary rows as the publish loads them into PostgreSQL:
// the data of one COPY … FROM STDIN in text format per stored table (see Tables), three of
// the four tables packed (migration 0004 of package pgsink). Reducers encode each group
// once, when they compute it, into a publish file committed beside its summary datasets
// (Marshal); the publish then sends those bytes as they are (Unmarshal) instead of reading
// four Parquet files per group back and encoding their rows itself. Package pgsink encodes
// the groups that have no publish file (a lake written by an older binary) with the same
// Batch.
package pgcopy

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// The tables the summary rows are stored in: request_monthly row by row, the other three
// packed, one row per (city, year, month, agency or request type) with its cells in arrays,
// behind views of the summary tables' names that unnest them.
const (
	Monthly = summary.TableMonthly
	Daily   = "agency_daily_packed"
	Heat    = "request_heat_packed"
	Geo     = "request_geo_packed"
)

// Table is a stored table and its columns, in the order the encoder writes them.
type Table struct {
	Name    string
	Columns []string
}

// Tables are the stored tables in the order of a Batch's buffers.
var Tables = [4]Table{
	{Monthly, []string{"city", "year", "month", "request_type", "agency", "requests", "closed", "open",
		"median_resolution_hours", "p90_resolution_hours"}},
	{Daily, []string{"city", "year", "month", "agency", "days", "opened", "closed", "median_resolution_hours"}},
	{Heat, []string{"city", "year", "month", "agency", "cells", "requests"}},
	{Geo, []string{"city", "year", "month", "request_type", "lat_bins", "lon_bins", "requests"}},
}

// Errors of the encoding, which callers can test for with errors.Is.
var (
	// ErrForeignRow: a group's summaries hold a row of another group, which a publish
	// would not replace exactly; the lake is corrupt or the file misplaced.
	ErrForeignRow = errors.New("summary row outside its group")
	// ErrDuplicateKey: a group's summaries hold two rows of a table with the same key.
	ErrDuplicateKey = errors.New("two summary rows with the same key")
	// ErrBadCell: a request_heat row's weekday or hour is out of range.
	ErrBadCell = errors.New("summary row out of range")
	// ErrNotStorable: a text PostgreSQL cannot store (a NUL byte, invalid UTF-8), which the
	// publish cleans, with a warning, before it encodes the group (Marshal leaves it to it).
	ErrNotStorable = errors.New("text PostgreSQL cannot store")
	// ErrFormat: a publish file that is not one, or not of this version, or not group k's.
	ErrFormat = errors.New("not a publish file of this version")
)

// Storable reports whether PostgreSQL can store s in a text column: no NUL byte, valid UTF-8.
func Storable(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// Buf is one table's rows encoded as COPY text: each row a line of tab-separated fields.
type Buf struct {
	Data []byte
	Rows int // stored rows: lines of Data
}

// text appends s as a text field. s must be storable: COPY's text format escapes only the
// backslash and the characters that delimit fields and rows.
func (c *Buf) text(s string) {
	c.Data = appendText(c.Data, s)
	c.Data = append(c.Data, '\t')
}

func appendText(b []byte, s string) []byte {
	for {
		i := strings.IndexAny(s, "\\\t\n\r")
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		switch s[i] {
		case '\\':
			b = append(b, `\\`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		}
		s = s[i+1:]
	}
}

func (c *Buf) int(v int64) {
	c.Data = strconv.AppendInt(c.Data, v, 10)
	c.Data = append(c.Data, '\t')
}

// float appends v as double precision: the shortest decimal that reads back as the same
// float64 (the server's strtod rounds correctly), so lat_bin and lon_bin keys stay exact.
func (c *Buf) float(v float64) {
	c.Data = appendFloat(c.Data, v)
	c.Data = append(c.Data, '\t')
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

func (c *Buf) nullFloat(v *float64) {
	if v == nil {
		c.Data = append(c.Data, `\N`+"\t"...)
		return
	}
	c.float(*v)
}

// array appends an array field of the rows of run, elem appending each one's element with
// elemInt, elemFloat or elemNullFloat: an array literal of numbers, which needs no quoting in
// an array or in COPY's text. run is not empty.
func (c *Buf) array(run []int32, elem func(i int32)) {
	c.Data = append(c.Data, '{')
	for _, i := range run {
		elem(i)
	}
	// The last element's comma becomes the brace.
	c.Data[len(c.Data)-1] = '}'
	c.Data = append(c.Data, '\t')
}

func (c *Buf) elemInt(v int64) {
	c.Data = strconv.AppendInt(c.Data, v, 10)
	c.Data = append(c.Data, ',')
}

func (c *Buf) elemFloat(v float64) {
	c.Data = appendFloat(c.Data, v)
	c.Data = append(c.Data, ',')
}

func (c *Buf) elemNullFloat(v *float64) {
	if v == nil {
		c.Data = append(c.Data, "NULL,"...)
		return
	}
	c.elemFloat(*v)
}

// end closes the row: its last field's tab becomes the newline.
func (c *Buf) end() {
	c.Data[len(c.Data)-1] = '\n'
	c.Rows++
}

// Batch holds the encoded rows of several groups, one buffer per stored table (in Tables
// order), for one COPY per table.
type Batch struct {
	Bufs        [4]Buf
	summaryRows int // the summary rows encoded into the tables' rows

	heatOrder, geoOrder, dailyOrder []int32 // Encode's, reused
}

// SummaryRows returns how many summary rows the batch holds, packed or not.
func (b *Batch) SummaryRows() int { return b.summaryRows }

// Reset empties the batch, keeping its buffers' memory.
func (b *Batch) Reset() {
	for i := range b.Bufs {
		b.Bufs[i].Data, b.Bufs[i].Rows = b.Bufs[i].Data[:0], 0
	}
	b.summaryRows = 0
}

// Encode appends the rows of group k's tables to the batch. Every row must be of group k
// (CheckGroup) and every text storable. It fails, encoding nothing, on two rows with one key
// or a weekday or hour out of range: the packed tables cannot refuse them, a cell being an
// array element.
func (b *Batch) Encode(k record.Key, t *summary.Tables) error {
	heat := order(&b.heatOrder, len(t.Heat), func(x, y int) int {
		p, q := &t.Heat[x], &t.Heat[y]
		return cmp.Or(cmp.Compare(p.Agency, q.Agency), cmp.Compare(p.Weekday, q.Weekday), cmp.Compare(p.Hour, q.Hour))
	})
	geo := order(&b.geoOrder, len(t.Geo), func(x, y int) int {
		p, q := &t.Geo[x], &t.Geo[y]
		return cmp.Or(cmp.Compare(p.RequestType, q.RequestType), cmp.Compare(p.LatBin, q.LatBin), cmp.Compare(p.LonBin, q.LonBin))
	})
	daily := order(&b.dailyOrder, len(t.AgencyDaily), func(x, y int) int {
		p, q := &t.AgencyDaily[x], &t.AgencyDaily[y]
		return cmp.Or(cmp.Compare(p.Agency, q.Agency), cmp.Compare(p.Day, q.Day))
	})
	if err := checkCells(k, t, heat, geo, daily); err != nil {
		return err
	}
	year, month := int64(k.Year), int64(k.Month)

	m := &b.Bufs[0]
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
	d := &b.Bufs[1]
	for run := range runs(daily, func(i int32) string { return t.AgencyDaily[i].Agency }) {
		first := &t.AgencyDaily[run[0]]
		d.text(first.City)
		d.int(year)
		d.int(month)
		d.text(first.Agency)
		d.array(run, func(i int32) { d.elemInt(int64(DayDate(t.AgencyDaily[i].Day).Day())) })
		d.array(run, func(i int32) { d.elemInt(t.AgencyDaily[i].Opened) })
		d.array(run, func(i int32) { d.elemInt(t.AgencyDaily[i].Closed) })
		d.array(run, func(i int32) { d.elemNullFloat(t.AgencyDaily[i].MedianResolutionHours) })
		d.end()
	}
	h := &b.Bufs[2]
	for run := range runs(heat, func(i int32) string { return t.Heat[i].Agency }) {
		first := &t.Heat[run[0]]
		h.text(first.City)
		h.int(year)
		h.int(month)
		h.text(first.Agency)
		h.array(run, func(i int32) { h.elemInt(int64(t.Heat[i].Weekday*24 + t.Heat[i].Hour)) })
		h.array(run, func(i int32) { h.elemInt(t.Heat[i].Requests) })
		h.end()
	}
	g := &b.Bufs[3]
	for run := range runs(geo, func(i int32) string { return t.Geo[i].RequestType }) {
		first := &t.Geo[run[0]]
		g.text(first.City)
		g.int(year)
		g.int(month)
		g.text(first.RequestType)
		g.array(run, func(i int32) { g.elemFloat(t.Geo[i].LatBin) })
		g.array(run, func(i int32) { g.elemFloat(t.Geo[i].LonBin) })
		g.array(run, func(i int32) { g.elemInt(t.Geo[i].Requests) })
		g.end()
	}
	b.summaryRows += len(t.Monthly) + len(t.AgencyDaily) + len(t.Heat) + len(t.Geo)
	return nil
}

// order returns the indexes 0…n-1 of a table's rows in key order (compare), in *buf, which the
// next call reuses. The summaries list a group's rows in key order, so the sort is mostly a
// check that they are.
func order(buf *[]int32, n int, compare func(x, y int) int) []int32 {
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
				return dup(summary.TableAgencyDaily, fmt.Sprintf("agency %q, day %s", r.Agency, DayDate(r.Day).Format(time.DateOnly)))
			}
		}
	}
	return nil
}

// CheckGroup verifies that every row of t belongs to group k: a row of another group would
// survive that group's replacement, or collide with its rows.
func CheckGroup(k record.Key, t *summary.Tables) error {
	bad := func(table string, i int, city string, year, month int) error {
		return fmt.Errorf("%w: group %s, %s row %d is of %s", ErrForeignRow, k, table, i,
			record.Key{City: city, Year: year, Month: month})
	}
	in := func(city string, year, month int) bool { return city == k.City && year == k.Year && month == k.Month }
	for i, r := range t.Monthly {
		if !in(r.City, int(r.Year), int(r.Month)) {
			return bad(summary.TableMonthly, i, r.City, int(r.Year), int(r.Month))
		}
	}
	for i, r := range t.AgencyDaily {
		y, m, _ := DayDate(r.Day).Date()
		if !in(r.City, y, int(m)) {
			return bad(summary.TableAgencyDaily, i, r.City, y, int(m))
		}
	}
	for i, r := range t.Heat {
		if !in(r.City, int(r.Year), int(r.Month)) {
			return bad(summary.TableHeat, i, r.City, int(r.Year), int(r.Month))
		}
	}
	for i, r := range t.Geo {
		if !in(r.City, int(r.Year), int(r.Month)) {
			return bad(summary.TableGeo, i, r.City, int(r.Year), int(r.Month))
		}
	}
	return nil
}

// DayDate converts a summary day number (days since 1970-01-01) to its date at UTC midnight.
func DayDate(day int32) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }
