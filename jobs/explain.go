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
	// Candidates are the schema's columns for the field, in the order they are tried.
	Candidates []string `json:"candidates"`
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
		if f.Column == "" && (f.Required || !required) {
			out = append(out, f.Field)
		}
	}
	return out
}

// isRequired reports whether a record without the field is rejected.
func isRequired(f fieldID) bool { return f == fRequestID || f == fCreatedAt }

// bindHeader resolves each field against a CSV header: the first of the field's candidate
// columns present wins, names compared case-insensitively after trimming spaces, a UTF-8
// byte order mark on the first name ignored. col is -1 for a field that takes no column. It
// is the whole of Bind's column matching, so MatchHeader and a run cannot disagree.
func (s *Schema) bindHeader(header []string) (col [numFields]int, name [numFields]string) {
	for i := range col {
		col[i] = -1
	}
	names := make([]string, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		names[i] = strings.TrimSpace(h)
	}
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
	candidates:
		for _, c := range f.Columns {
			for i, h := range names {
				if strings.EqualFold(h, strings.TrimSpace(c)) {
					col[id], name[id] = i, header[i]
					break candidates
				}
			}
		}
	}
	return col, name
}

// MatchHeader says which column of a CSV header each field of the schema takes, exactly as
// Bind resolves it, and which columns nothing reads. Unlike Bind it never fails: a header
// without a required field's column is reported, not refused.
func (s *Schema) MatchHeader(header []string) HeaderMatch {
	col, _ := s.bindHeader(header)
	m := HeaderMatch{Fields: make([]FieldMatch, 0, len(s.Fields))}
	read := make([]bool, len(header))
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
		fm := FieldMatch{Field: f.Name, Index: col[id], Required: isRequired(id), Candidates: slices.Clone(f.Columns)}
		if col[id] >= 0 {
			fm.Column = header[col[id]]
			read[col[id]] = true
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
		fm := FieldMatch{Field: f.Name, Index: -1, Required: isRequired(id), Candidates: slices.Clone(f.Columns)}
		for _, c := range f.Columns {
			if slices.Contains(keys, c) {
				fm.Column = c
				read[c] = true
				break
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
