package jobs

import (
	"slices"
	"strings"
)

// Explaining a schema to its user: which column each field takes in a given file, which
// fields find none, which columns nothing reads. A dry run (`coordinator plan`) shows this
// so that a wrong schema is found before a run, not after it.

// FieldMatch is how one field of a schema meets a file's columns (or a SODA page's keys).
type FieldMatch struct {
	Field string `json:"field"`
	// Column is the column or key the field takes, as the file spells it; "" when none of
	// the field's candidates is present, and the field is then null in every record.
	Column string `json:"column,omitempty"`
	// Index is Column's position in a CSV header; -1 when there is none or the input is
	// SODA JSON.
	Index int `json:"index"`
	// Required fields (request_id, created_at) without a column make every record a
	// reject, and Bind refuses such a file.
	Required bool `json:"required,omitempty"`
	// Candidates are the schema's columns for the field, in the order they are tried; a
	// candidate that joins several columns is spelled "A + B".
	Candidates []string `json:"candidates"`
	// Joined are the columns whose values are joined into the field when the candidate it
	// takes names several (Column is then "A + B"); empty otherwise.
	Joined []string `json:"joined,omitempty"`
	// X and Y are the projected coordinate columns a point takes, in CRS; empty when the
	// schema gives none or the file has neither.
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	CRS string `json:"crs,omitempty"`
}

// Found reports whether the field takes a value from the file: a column (or joined
// columns), or for a point its projected x/y columns.
func (f FieldMatch) Found() bool { return f.Column != "" || f.X != "" }

// Source spells where the field's value comes from, for a person: the column, the joined
// columns ("A + B"), or the projected x/y columns and their CRS; "" when none.
func (f FieldMatch) Source() string {
	xy := ""
	if f.X != "" {
		xy = f.X + ", " + f.Y + " (" + f.CRS + ")"
	}
	switch {
	case f.Column != "" && xy != "":
		return f.Column + "; else " + xy
	case xy != "":
		return xy
	}
	return f.Column
}

// HeaderMatch is a schema matched against one file's columns.
type HeaderMatch struct {
	Fields []FieldMatch `json:"fields"` // in the schema's order
	// Unread are the columns (or keys) that no field takes, in the file's order.
	Unread []string `json:"unread"`
}

// Unmatched returns the fields that take no column; with required set, only the required
// ones, which make the file unusable.
func (m HeaderMatch) Unmatched(required bool) []string {
	var out []string
	for _, f := range m.Fields {
		if !f.Found() && (f.Required || !required) {
			out = append(out, f.Field)
		}
	}
	return out
}

// isRequired reports whether a record without the field is rejected.
func isRequired(f fieldID) bool { return f == fRequestID || f == fCreatedAt }

// headerBinding is a schema resolved against a CSV header.
type headerBinding struct {
	col  [numFields]int    // the field's column, -1 when it takes none; a joined field's first
	name [numFields]string // the column's name as the header spells it ("A + B" when joined)
	// parts are the columns a field's candidate joins, when it joins several; nil otherwise.
	parts  [numFields][]int
	xy     [2]int // the point's projected x and y columns, -1 when absent
	xyName [2]string
}

// bindHeader resolves each field against a CSV header: the first of the field's candidates
// whose columns are all present wins, names compared case-insensitively after trimming
// spaces, a UTF-8 byte order mark on the first name ignored. It is the whole of Bind's
// column matching, so MatchHeader and a run cannot disagree.
func (s *Schema) bindHeader(header []string) headerBinding {
	var b headerBinding
	for i := range b.col {
		b.col[i] = -1
	}
	b.xy = [2]int{-1, -1}
	names := make([]string, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		names[i] = strings.TrimSpace(h)
	}
	find := func(c string) int {
		for i, h := range names {
			if strings.EqualFold(h, strings.TrimSpace(c)) {
				return i
			}
		}
		return -1
	}
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
	candidates:
		for _, c := range f.Columns {
			idx := make([]int, 0, len(c))
			for _, part := range c {
				i := find(part)
				if i < 0 {
					continue candidates
				}
				idx = append(idx, i)
			}
			if len(idx) == 0 {
				continue
			}
			b.col[id] = idx[0]
			if len(idx) == 1 {
				b.name[id] = header[idx[0]]
				break
			}
			b.parts[id] = idx
			spelled := make([]string, len(idx))
			for k, i := range idx {
				spelled[k] = header[i]
			}
			b.name[id] = strings.Join(spelled, " + ")
			break
		}
		if id == fPoint && f.CRS != "" {
			for k, cands := range [2][]string{f.X, f.Y} {
				for _, c := range cands {
					if i := find(c); i >= 0 {
						b.xy[k], b.xyName[k] = i, header[i]
						break
					}
				}
			}
		}
	}
	return b
}

// MatchHeader says which column of a CSV header each field of the schema takes, exactly as
// Bind resolves it, and which columns nothing reads. Unlike Bind it never fails: a header
// without a required field's column is reported, not refused.
func (s *Schema) MatchHeader(header []string) HeaderMatch {
	b := s.bindHeader(header)
	m := HeaderMatch{Fields: make([]FieldMatch, 0, len(s.Fields))}
	read := make([]bool, len(header))
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
		fm := FieldMatch{Field: f.Name, Index: b.col[id], Required: isRequired(id), Candidates: candidateNames(f.Columns)}
		if b.col[id] >= 0 {
			fm.Column = b.name[id]
			read[b.col[id]] = true
			for _, i := range b.parts[id] {
				fm.Joined = append(fm.Joined, header[i])
				read[i] = true
			}
		}
		if id == fPoint && b.xy[0] >= 0 && b.xy[1] >= 0 {
			fm.X, fm.Y, fm.CRS = b.xyName[0], b.xyName[1], f.CRS
			read[b.xy[0]], read[b.xy[1]] = true, true
		}
		m.Fields = append(m.Fields, fm)
	}
	for i, h := range header {
		if !read[i] {
			m.Unread = append(m.Unread, h)
		}
	}
	return m
}

// MatchKeys is MatchHeader for SODA JSON: keys are the (non-null) keys seen in a page's
// objects, and a field takes the first of its candidates among them, compared exactly as
// NormalizeJSON compares them. NormalizeJSON decides per object; over several objects this
// is the key the field takes in the objects that have it.
func (s *Schema) MatchKeys(keys []string) HeaderMatch {
	m := HeaderMatch{Fields: make([]FieldMatch, 0, len(s.Fields))}
	read := map[string]bool{}
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
		fm := FieldMatch{Field: f.Name, Index: -1, Required: isRequired(id), Candidates: candidateNames(f.Columns)}
	candidates:
		for _, c := range f.Columns {
			for _, part := range c {
				if !slices.Contains(keys, part) {
					continue candidates
				}
			}
			fm.Column = c.String()
			for _, part := range c {
				read[part] = true
			}
			if len(c) > 1 {
				fm.Joined = slices.Clone(c)
			}
			break
		}
		if id == fPoint && f.CRS != "" {
			x, y := firstKey(f.X, keys), firstKey(f.Y, keys)
			if x != "" && y != "" {
				fm.X, fm.Y, fm.CRS = x, y, f.CRS
				read[x], read[y] = true, true
			}
		}
		m.Fields = append(m.Fields, fm)
	}
	for _, k := range keys {
		if !read[k] {
			m.Unread = append(m.Unread, k)
		}
	}
	return m
}

// SODAKeys appends to keys the keys of a SODA object (raw JSON, as ScanSODA yields it) that
// have a non-null value and are not in keys yet: NormalizeJSON reads a null as absent. It
// fails on an object NormalizeJSON would reject as bad_json.
func SODAKeys(raw []byte, keys []string) ([]string, error) {
	var scratch []byte
	err := eachMember(raw, &scratch, func(key, _ []byte, kind valueKind) bool {
		if kind != kindNull && !slices.Contains(keys, string(key)) {
			keys = append(keys, string(key))
		}
		return true
	})
	return keys, err
}

// firstKey returns the first of cands among keys, or "".
func firstKey(cands, keys []string) string {
	for _, c := range cands {
		if slices.Contains(keys, c) {
			return c
		}
	}
	return ""
}
