package jobs

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ireports/ireports/internal/crs"
)

// HCL writes the inferred schema as a commented schema block, ready to paste into a job
// file: it parses as it is (the time zone, when not given, is UTC with a comment asking
// for the real one).
func (inf *Inferred) HCL() []byte {
	var b strings.Builder
	o := inf.Options
	src := o.Source
	if src == "" {
		src = "a file"
	}
	format := o.Format.String()
	comment(&b, "", fmt.Sprintf("Inferred by `coordinator schema infer` from %s (%s, %d columns, %d records sampled). "+
		"Each field says which column it takes and why, with a confidence from 0 to 1 and the runner-up column: "+
		"check them before you use the schema.", src, format, len(inf.Header), inf.Records))
	fmt.Fprintf(&b, "schema %s {\n", hclQuote(o.Name))
	fmt.Fprintf(&b, "  city     = %s\n", hclQuote(o.City))
	if o.Timezone != "" {
		fmt.Fprintf(&b, "  timezone = %s\n", hclQuote(o.Timezone))
	} else {
		comment(&b, "  ", "TODO: the city's IANA time zone (such as \"America/Chicago\"), or run again with --timezone. "+
			"UTC stands in for it so that the block parses; times without an offset are read in it.")
		b.WriteString("  timezone = \"UTC\"\n")
	}
	if len(inf.Nulls) > 1 {
		var seen []string
		for _, t := range inf.Nulls[1:] {
			seen = append(seen, fmt.Sprintf("%q in %s", t, plural(inf.NullColumns[t], "column")))
		}
		comment(&b, "  ", "Null spellings seen besides empty values: "+strings.Join(seen, ", ")+".")
	}
	fmt.Fprintf(&b, "  nulls    = %s\n", quoteAll(inf.Nulls))
	if len(inf.IntegerFloats) > 0 {
		var seen []string
		for _, c := range inf.IntegerFloats {
			seen = append(seen, fmt.Sprintf("%q (%q, %d of %d values)", c.Column, c.Example, c.Count, c.Values))
		}
		ex := inf.IntegerFloats[0].Example
		comment(&b, "  ", "Integers written as floats (a pandas round trip writes them so) in "+strings.Join(seen, ", ")+
			fmt.Sprintf(": integer_floats reads them as integers (%q as %q) in the request id and the text fields.", ex, trimZeroFraction([]byte(ex))))
		b.WriteString("  integer_floats = true\n")
	}
	inf.printTimes(&b)
	const otherPoints = "add any point the city's exports fill in for a missing location (such as a city hall's)"
	switch {
	case len(inf.Placeholders) > 0:
		var ps []string
		for _, p := range inf.Placeholders {
			ps = append(ps, fmt.Sprintf("[%g, %g]", p[0], p[1]))
		}
		comment(&b, "  ", "Whole-degree points seen more than once: most likely \"no location\", read as null. "+
			"Only such points are found in a sample: "+otherPoints+" to this list.")
		fmt.Fprintf(&b, "  placeholder_points = [%s]\n", strings.Join(ps, ", "))
	case inf.locates():
		comment(&b, "  ", "No placeholder point (\"no location\") found: only whole-degree points seen more than once in the "+
			"sample would be. To read one as null, "+otherPoints+" as placeholder_points = [[lat, lon]].")
	}
	var missing []string
	for _, f := range inf.Fields {
		if f.X != "" {
			b.WriteString("\n")
			inf.printProjected(&b, f)
			continue
		}
		if f.Column == "" {
			m := f.Field + ": " + f.Why
			if f.Field == "point" && inf.Fields[fLatitude].Column != "" && inf.Fields[fLongitude].Column != "" {
				m = "point: latitude and longitude give the location"
			}
			missing = append(missing, m)
			continue
		}
		b.WriteString("\n")
		inf.printField(&b, f)
	}
	if len(missing) > 0 {
		b.WriteString("\n")
		comment(&b, "  ", "Not mapped (null in every record): "+strings.Join(missing, "; ")+".")
	}
	var unread []string
	for _, h := range inf.Header {
		if !inf.reads(h) {
			unread = append(unread, strconv.Quote(h))
		}
	}
	if len(unread) > 0 {
		comment(&b, "  ", fmt.Sprintf("Columns no field reads (%d): %s.", len(unread), strings.Join(unread, ", ")))
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func (inf *Inferred) reads(col string) bool {
	for _, f := range inf.Fields {
		if f.CRS != "" && (f.X == col || f.Y == col) {
			return true
		}
		if f.Column != "" && slices.Contains(f.columns(), col) {
			return true
		}
	}
	return false
}

// locates reports whether a field of the block reads a location.
func (inf *Inferred) locates() bool {
	for _, f := range []fieldID{fLatitude, fLongitude, fPoint} {
		if inf.Fields[f].Column != "" || inf.Fields[f].CRS != "" {
			return true
		}
	}
	return false
}

// printProjected writes the point field's x/y columns and system, or, when no one system
// fits, the same block commented out with a TODO naming the candidates.
func (inf *Inferred) printProjected(b *strings.Builder, f InferredField) {
	why := fmt.Sprintf("%s ← %q, %q (confidence %.2f): %s", f.Field, f.X, f.Y, f.Confidence, f.Why)
	if f.Nulls > 0 {
		why += fmt.Sprintf("; null in %d of %d records", f.Nulls, inf.Records)
	}
	if f.CRS != "" {
		comment(b, "  ", why+".")
		c, _ := crs.Lookup(f.CRS)
		fmt.Fprintf(b, "  field %q {\n    x   = %s\n    y   = %s\n    crs = %s # %s\n  }\n", f.Field, hclQuote(f.X), hclQuote(f.Y), hclQuote(f.CRS), c.Title())
		return
	}
	todo := "TODO: uncomment with the crs of the city's exports: one of " + strings.Join(quoteEach(f.Candidates), ", ") + "."
	if len(f.Candidates) == 0 {
		todo = "TODO: none of the supported systems (" + strings.Join(CRSNames(), ", ") + ") fits; " +
			"if the columns are coordinates in another, convert the file first, else leave the point out."
	}
	comment(b, "  ", why+". "+todo)
	crsName := "TODO"
	if len(f.Candidates) > 0 {
		crsName = f.Candidates[0]
	}
	fmt.Fprintf(b, "  # field %q {\n  #   x   = %s\n  #   y   = %s\n  #   crs = %s\n  # }\n", f.Field, hclQuote(f.X), hclQuote(f.Y), hclQuote(crsName))
}

// source names the columns a field reads, Go-quoted for a comment: "A", or "A" + "B".
func (f *InferredField) source() string {
	return strings.Join(quoteEach(f.columns()), " + ")
}

// columnsHCL is the field's columns attribute's value: ["A"], or [["A", "B"]] for joined
// columns.
func (f *InferredField) columnsHCL() string {
	if f.Joined != nil {
		return "[" + quoteAll(f.Joined) + "]"
	}
	return quoteAll([]string{f.Column})
}

// printTimes writes time_layouts (auto) and date_order, with the dialects seen.
func (inf *Inferred) printTimes(b *strings.Builder) {
	byLayout := map[string][]string{}
	var layouts []string
	ambiguous := false
	for _, f := range inf.Fields {
		if f.Dialect == nil {
			continue
		}
		if byLayout[f.Dialect.Layout] == nil {
			layouts = append(layouts, f.Dialect.Layout)
		}
		byLayout[f.Dialect.Layout] = append(byLayout[f.Dialect.Layout], f.source())
		ambiguous = ambiguous || f.Dialect.Ambiguous
	}
	var parts []string
	for _, l := range layouts {
		parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(byLayout[l], ", "), strconv.Quote(l)))
	}
	comment(b, "  ", "Each file's time dialect is detected per column (\"auto\"); here: "+strings.Join(parts, "; ")+
		". To pin one, give its field layouts = [\"...\"].")
	b.WriteString("  time_layouts = [\"auto\"]\n")
	if ambiguous {
		order := inf.Options.DateOrder
		if order == "" {
			order = DateOrderMDY
		}
		comment(b, "  ", "No day above 12 in the sampled dates: month/day or day/month cannot be told from them. "+
			"date_order decides; check a date you know.")
		fmt.Fprintf(b, "  date_order = %q\n", order)
	}
}

func (inf *Inferred) printField(b *strings.Builder, f InferredField) {
	var why strings.Builder
	fmt.Fprintf(&why, "%s ← %s (confidence %.2f): %s", f.Field, f.source(), f.Confidence, f.Why)
	if f.Nulls > 0 {
		fmt.Fprintf(&why, "; null in %d of %d records", f.Nulls, inf.Records)
	}
	if f.RunnerUp != "" {
		fmt.Fprintf(&why, ". Runner-up: %q (%.2f)", f.RunnerUp, f.RunnerUpConfidence)
	} else {
		why.WriteString(". No runner-up")
	}
	why.WriteString(".")
	switch {
	case f.Joined != nil:
		fmt.Fprintf(&why, " %q holds the time of day of %q's dates, and every sampled record has both or neither: "+
			"the field joins them (with a space), in this file's dialect %q.", f.TimeOfDay, f.Column, f.Dialect.Layout)
	case f.Dialect != nil:
		fmt.Fprintf(&why, " Dialect in this file: %q.", f.Dialect.Layout)
	}
	if f.TimeOfDay != "" && f.Joined == nil {
		fmt.Fprintf(&why, " %q holds the time of day of these dates, but %s: this field keeps the day only (local midnight).", f.TimeOfDay, f.NotJoined)
	}
	comment(b, "  ", why.String())
	if f.Field != "status" {
		fmt.Fprintf(b, "  field %q { columns = %s }\n", f.Field, f.columnsHCL())
		return
	}
	fmt.Fprintf(b, "  field %q {\n", f.Field)
	comment(b, "    ", fmt.Sprintf("Only the values of the %d records sampled are listed: any other value "+
		"(a built-in schema lists those of a city's whole export) is read as \"other\".", inf.Records))
	fmt.Fprintf(b, "    columns = %s\n", f.columnsHCL())
	if len(f.Closed) > 0 {
		fmt.Fprintf(b, "    closed  = %s\n", quoteAll(f.Closed))
	}
	if len(f.Open) > 0 {
		fmt.Fprintf(b, "    open    = %s\n", quoteAll(f.Open))
	}
	if len(f.Other) > 0 {
		comment(b, "    ", "Read as \"other\": "+strings.Join(quoteEach(f.Other), ", ")+".")
	}
	b.WriteString("  }\n")
}

func quoteEach(ss []string) []string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return q
}

// hclQuote writes s as an HCL string literal that evaluates to s: HCL reads "${" and "%{"
// as templates and knows only the escapes \n \r \t \" \\ and \uNNNN. Invalid UTF-8 (which
// HCL source cannot hold) becomes U+FFFD.
func hclQuote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = hclQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// comment writes text as '#' comment lines of at most about 100 columns. A value quoted in
// it cannot end the comment: HCL comments run to the end of the line, and the text has no
// newline (quoted values are Go-quoted).
func comment(b *strings.Builder, indent, text string) {
	const width = 100
	text = strings.ReplaceAll(text, "\n", " ")
	line := indent + "#"
	for _, w := range commentWords(text) {
		if len(line)+1+len(w) > width && line != indent+"#" {
			b.WriteString(line + "\n")
			line = indent + "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

// commentWords splits text at spaces, except inside double quotes (a quoted layout such as
// "%m/%d/%Y %I:%M %p" stays on one line).
func commentWords(text string) []string {
	var out []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range text {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// SODAToRows turns SODA objects (raw JSON, as ScanSODA yields them) into a header — every
// key with a non-null value, in the order first seen — and one row of strings per object:
// a string's text, a number's or a nested object's JSON, "" for an absent or null key. A
// malformed object is an error naming its position among objects.
func SODAToRows(objects [][]byte) ([]string, [][]string, error) {
	index := map[string]int{}
	var header []string
	var rows []map[int]string
	for i, raw := range objects {
		row := map[int]string{}
		var scratch []byte
		err := eachMember(raw, &scratch, func(key, val []byte, kind valueKind) bool {
			if kind == kindNull {
				return true
			}
			k, ok := index[string(key)]
			if !ok {
				k = len(header)
				index[string(key)] = k
				header = append(header, string(key))
			}
			row[k] = string(val)
			return true
		})
		if err != nil {
			return nil, nil, fmt.Errorf("object %d: %w: %v", i+1, ErrMalformedJSON, err)
		}
		rows = append(rows, row)
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(header))
		keys := make([]int, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			out[i][k] = r[k]
		}
	}
	return header, out, nil
}
