package viz

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Every chart's data downloads as CSV: the chart's endpoint with format=csv (and, for the
// review, which carries five charts, chart=NAME) answers with the rows the chart draws, one
// per line. The page links each chart to its CSV with the parameters it was drawn with.

// table is a chart's data as a header and rows. A cell is a string, an int, int64, float64,
// or a pointer to a number (nil: no value, an empty cell).
type table struct {
	name   string // the file name without .csv: "ireports-map-nyc"
	header []string
	rows   [][]any
}

// tabular is a result that has a CSV form. part names one of its charts when it has
// several ("" when it has one); an unknown part is a badRequest.
type tabular interface {
	table(part string) (*table, error)
}

// respond writes v as the request's format asks: JSON (the default) or CSV. parseParams
// has checked format and chart (checkFormat), before any query ran.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, p params, v any) {
	format, part := p.get("format"), p.get("chart")
	switch format {
	case "", "json":
		s.writeJSON(w, r, v)
	case "csv":
		tv, ok := v.(tabular)
		if !ok {
			s.fail(w, r, badf("format=csv: %s has no chart to download; use JSON", r.URL.Path))
			return
		}
		t, err := tv.table(part)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		body, err := t.csv()
		if err != nil {
			s.log.Error("viz: encode CSV", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(t.name)+`.csv"`)
		cc := "no-cache"
		if age := s.cfg.CacheMaxAge; age > 0 {
			cc = fmt.Sprintf("public, max-age=%d", int(age.Seconds()))
		}
		serveBytes(w, r, "text/csv; charset=utf-8", cc, body, etagOf(body))
	default:
		s.fail(w, r, badf("format: %s is not a format: json or csv", quote(format)))
	}
}

// csv encodes t: RFC 4180 quoting, and no cell that a spreadsheet would run as a formula.
func (t *table) csv() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180; what spreadsheets expect
	if err := w.Write(t.header); err != nil {
		return nil, err
	}
	rec := make([]string, len(t.header))
	for i, row := range t.rows {
		if len(row) != len(t.header) {
			return nil, fmt.Errorf("table %s: row %d has %d cells for %d columns", t.name, i, len(row), len(t.header))
		}
		for j, c := range row {
			v, err := cell(c)
			if err != nil {
				return nil, fmt.Errorf("table %s: row %d, column %s: %w", t.name, i, t.header[j], err)
			}
			rec[j] = v
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// cell formats one value. Numbers are written as numbers, negative ones too; text — agency
// and request type names come from the cities' exports, so anyone can choose them — is
// defused: a spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return,
// which some strip first) as a formula, so such a cell gets a leading apostrophe, which
// spreadsheets read as "text" (OWASP, CSV injection).
func cell(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if x != "" && strings.ContainsRune("=+-@\t\r", rune(x[0])) {
			return "'" + x, nil
		}
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case *int64:
		if x == nil {
			return "", nil
		}
		return strconv.FormatInt(*x, 10), nil
	case *float64:
		if x == nil {
			return "", nil
		}
		return strconv.FormatFloat(*x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("no CSV form for a %T", v)
}

// fileName keeps the letters, digits, '-' and '_' of s (city ids and months make it up),
// so that the Content-Disposition header needs no escaping.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// nameOf builds a table's file name from its parts: "ireports", the chart, then the
// non-empty parts (city, months), joined by '-'.
func nameOf(chart string, parts ...string) string {
	s := "ireports-" + chart
	for _, p := range parts {
		if p != "" {
			s += "-" + p
		}
	}
	return s
}
