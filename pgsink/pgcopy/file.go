package pgcopy

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// A publish file holds one group's rows as a Batch encodes them, table after table:
//
//	ireports-pgcopy 1 <summary rows>\n
//	<stored table> <rows> <bytes>\n<bytes of COPY text>     (each of Tables, in order)
//
// A publish reads it whole and hands each table's bytes to COPY as they are: Unmarshal
// checks only that every row is group k's (its first three fields are k's city, year and
// month, which the COPY cannot check), so that publishing the group replaces exactly its
// rows, that its text is storable, and the format's counts. The server checks the rest, the
// CHECKs of the packed tables included; pgsink's LakeEncoded first checks that the file is
// the one the run's manifest lists (size and SHA-256), since a changed count would pass.
const magic = "ireports-pgcopy 1"

// Marshal encodes group k's summaries as its publish file. It fails on what the publish
// would refuse or change (CheckGroup's and Encode's errors, ErrNotStorable): such a group is
// published from its summary datasets, which report it.
func Marshal(k record.Key, t *summary.Tables) ([]byte, error) {
	if err := CheckGroup(k, t); err != nil {
		return nil, err
	}
	if err := storable(t); err != nil {
		return nil, fmt.Errorf("group %s: %w", k, err)
	}
	var b Batch
	if err := b.Encode(k, t); err != nil {
		return nil, err
	}
	n := len(magic) + 32
	for i := range b.Bufs {
		n += 64 + len(b.Bufs[i].Data)
	}
	out := make([]byte, 0, n)
	out = fmt.Appendf(out, "%s %d\n", magic, b.summaryRows)
	for i, tab := range Tables {
		out = fmt.Appendf(out, "%s %d %d\n", tab.Name, b.Bufs[i].Rows, len(b.Bufs[i].Data))
		out = append(out, b.Bufs[i].Data...)
	}
	return out, nil
}

// storable returns ErrNotStorable, naming the table, when a text of t is not Storable.
func storable(t *summary.Tables) error {
	bad := func(table string, s ...string) error {
		for _, s := range s {
			if !Storable(s) {
				return fmt.Errorf("%w: %s: %q", ErrNotStorable, table, s)
			}
		}
		return nil
	}
	for i := range t.Monthly {
		if err := bad(summary.TableMonthly, t.Monthly[i].City, t.Monthly[i].RequestType, t.Monthly[i].Agency); err != nil {
			return err
		}
	}
	for i := range t.AgencyDaily {
		if err := bad(summary.TableAgencyDaily, t.AgencyDaily[i].City, t.AgencyDaily[i].Agency); err != nil {
			return err
		}
	}
	for i := range t.Heat {
		if err := bad(summary.TableHeat, t.Heat[i].City, t.Heat[i].Agency); err != nil {
			return err
		}
	}
	for i := range t.Geo {
		if err := bad(summary.TableGeo, t.Geo[i].City, t.Geo[i].RequestType); err != nil {
			return err
		}
	}
	return nil
}

// Group is a publish file read back: one group's rows, encoded.
type Group struct {
	Bufs        [4]Buf // in Tables order; their Data alias the file's bytes
	SummaryRows int
}

// Unmarshal reads data, group k's publish file. Its errors wrap ErrFormat.
func Unmarshal(k record.Key, data []byte) (*Group, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: group %s: %s", ErrFormat, k, fmt.Sprintf(format, a...))
	}
	line := func() ([][]byte, error) {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil, bad("a header line without its end")
		}
		f := bytes.Fields(data[:i])
		data = data[i+1:]
		return f, nil
	}
	num := func(b []byte) (int, bool) {
		n, err := strconv.Atoi(string(b))
		return n, err == nil && n >= 0
	}
	// Text PostgreSQL cannot store would fail the COPY, and with it the publish; Marshal never
	// writes it (the publish cleans such rows read from the summary files instead).
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, bad("text PostgreSQL cannot store (a NUL byte or invalid UTF-8)")
	}
	var g Group
	f, err := line()
	if err != nil {
		return nil, err
	}
	if len(f) != 3 || string(f[0])+" "+string(f[1]) != magic {
		return nil, bad("it does not begin with %q", magic)
	}
	summaryRows, ok := num(f[2])
	if !ok {
		return nil, bad("summary rows %q", f[2])
	}
	g.SummaryRows = summaryRows
	prefix := appendText(nil, k.City)
	prefix = append(prefix, '\t')
	prefix = strconv.AppendInt(prefix, int64(k.Year), 10)
	prefix = append(prefix, '\t')
	prefix = strconv.AppendInt(prefix, int64(k.Month), 10)
	prefix = append(prefix, '\t')
	stored := 0
	for i, tab := range Tables {
		f, err := line()
		if err != nil {
			return nil, err
		}
		if len(f) != 3 || string(f[0]) != tab.Name {
			return nil, bad("table %d is not %s", i+1, tab.Name)
		}
		rows, ok1 := num(f[1])
		size, ok2 := num(f[2])
		if !ok1 || !ok2 || size > len(data) {
			return nil, bad("%s: %q rows of %q bytes, with %d bytes left", tab.Name, f[1], f[2], len(data))
		}
		body := data[:size]
		data = data[size:]
		n := 0
		for rest := body; len(rest) > 0; n++ {
			end := bytes.IndexByte(rest, '\n')
			if end < 0 {
				return nil, bad("%s: row %d has no end", tab.Name, n+1)
			}
			if !bytes.HasPrefix(rest[:end], prefix) {
				return nil, bad("%s: row %d is not of this group", tab.Name, n+1)
			}
			rest = rest[end+1:]
		}
		if n != rows {
			return nil, bad("%s: %d rows, the header says %d", tab.Name, n, rows)
		}
		g.Bufs[i] = Buf{Data: body, Rows: rows}
		stored += rows
	}
	if len(data) > 0 {
		return nil, bad("%d bytes after the last table", len(data))
	}
	if summaryRows < stored {
		return nil, bad("%d summary rows in %d stored rows", summaryRows, stored)
	}
	return &g, nil
}

// Append appends group g's rows to the batch.
func (b *Batch) Append(g *Group) {
	for i := range b.Bufs {
		b.Bufs[i].Data = append(b.Bufs[i].Data, g.Bufs[i].Data...)
		b.Bufs[i].Rows += g.Bufs[i].Rows
	}
	b.summaryRows += g.SummaryRows
}
