package jobs

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// A field's value usually comes from one column, but some exports split it: Kansas City
// writes a request's creation as "CREATION DATE" 02/20/2020 and "CREATION TIME" 07:28 AM.
// A Candidate names the columns that together make one value; they are joined with a
// space, in the order given, before the value is parsed:
//
//	field "created_at" { columns = [["CREATION DATE", "CREATION TIME"], "created_date"] }
//
// Candidates are still tried in order, and a joined candidate is present in a file only
// when all of its columns are. The common case — one column — costs nothing extra: a
// Normalizer whose schema joins no columns never looks at this code.

// Candidate is one way to find a field's value: a single column (or SODA key), or several
// whose values are joined with a space. In JSON a single column is a string and several
// are an array of strings, as in HCL.
type Candidate []string

// String spells the candidate as messages and `coordinator plan` show it: the column's
// name, or the names joined by " + ".
func (c Candidate) String() string { return strings.Join(c, " + ") }

// MarshalJSON writes a one-column candidate as a string, several as an array.
func (c Candidate) MarshalJSON() ([]byte, error) {
	if len(c) == 1 {
		return json.Marshal(c[0])
	}
	return json.Marshal([]string(c))
}

// UnmarshalJSON reads a string or an array of strings; Schema.validate checks the result.
func (c *Candidate) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*c = Candidate{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return fmt.Errorf("a column candidate must be a string or an array of strings: %w", err)
	}
	*c = many
	return nil
}

// Cols builds one-column candidates, one per name: Cols("Created Date", "created_date").
func Cols(names ...string) []Candidate {
	out := make([]Candidate, len(names))
	for i, n := range names {
		out[i] = Candidate{n}
	}
	return out
}

// maxJoin bounds the columns of one candidate: a date and a time, perhaps a zone; more is
// a mistake in the schema.
const maxJoin = 8

// checkCandidates checks a field's list of candidates.
func checkCandidates(cands []Candidate) error {
	if len(cands) == 0 {
		return fmt.Errorf("columns must list at least one candidate column")
	}
	for _, c := range cands {
		switch {
		case len(c) == 0:
			return fmt.Errorf("a candidate of columns is an empty list: give a column name, or a list of the columns to join")
		case len(c) > maxJoin:
			return fmt.Errorf("candidate %q joins %d columns, at most %d", c.String(), len(c), maxJoin)
		}
	}
	return nil
}

// joins reports whether any candidate of the list joins several columns.
func joins(cands []Candidate) bool {
	for _, c := range cands {
		if len(c) > 1 {
			return true
		}
	}
	return false
}

// candidateNames spells each candidate with String, for FieldMatch and messages.
func candidateNames(cands []Candidate) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.String()
	}
	return out
}

// cloneCandidates deep-copies a list of candidates.
func cloneCandidates(cands []Candidate) []Candidate {
	if cands == nil {
		return nil
	}
	out := make([]Candidate, len(cands))
	for i, c := range cands {
		out[i] = append(Candidate(nil), c...)
	}
	return out
}

// evalCandidates reads `columns`: a list whose elements are column names or lists of
// column names ([["CREATION DATE", "CREATION TIME"], "created_date"]). HCL types such a
// mixed list as a tuple, which the ordinary list conversion refuses, so each element is
// converted on its own.
func evalCandidates(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]Candidate, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(detail string) hcl.Diagnostics {
		return hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad columns", detail)}
	}
	const want = `columns must be a list of column names, or of lists of column names to join (["Created Date"] or [["CREATION DATE", "CREATION TIME"]])`
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil, bad(want + ", and known when the job is parsed.")
	}
	ty := v.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		return nil, bad(want + ".")
	}
	var out []Candidate
	for _, e := range v.AsValueSlice() {
		c, ok := candidateOf(e)
		if !ok {
			return nil, bad(want + "; an element is neither.")
		}
		out = append(out, c)
	}
	return out, nil
}

// candidateOf converts one element of `columns`.
func candidateOf(e cty.Value) (Candidate, bool) {
	if e.IsNull() {
		return nil, false
	}
	if e.Type() == cty.String {
		return Candidate{e.AsString()}, true
	}
	ty := e.Type()
	if !ty.IsListType() && !ty.IsTupleType() {
		return nil, false
	}
	var c Candidate
	for _, p := range e.AsValueSlice() {
		if p.IsNull() || p.Type() != cty.String {
			return nil, false
		}
		c = append(c, p.AsString())
	}
	return c, true
}

// evalNames reads an attribute that is one column name or a list of candidate names
// (x = "SRX" or x = ["X Coordinate", "x_coordinate"]).
func evalNames(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if !v.IsNull() && v.IsWhollyKnown() && v.Type() == cty.String {
		return []string{v.AsString()}, nil
	}
	names, d := evalStrings(attr, ctx)
	if d.HasErrors() {
		return nil, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad "+attr.Name,
			fmt.Sprintf("%s must be a column name or a list of candidate column names.", attr.Name))}
	}
	if len(names) == 0 {
		return nil, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad "+attr.Name,
			fmt.Sprintf("%s must name at least one column.", attr.Name))}
	}
	return names, nil
}

// join joins the non-null values of a candidate's columns with single spaces and returns
// the result (in the field's reused buffer), or nil when every part is null. A null part
// is left out rather than making the whole null: a date without its time is still a date,
// and the field's layouts decide whether it parses.
func (n *Normalizer) join(f fieldID, parts [][]byte) []byte {
	buf := n.ext.joinBuf[f][:0]
	for _, p := range parts {
		v := n.value(p)
		if v == nil {
			continue
		}
		if len(buf) > 0 {
			buf = append(buf, ' ')
		}
		buf = append(buf, v...)
	}
	n.ext.joinBuf[f] = buf
	if len(buf) == 0 {
		return nil
	}
	return buf
}

// trimZeroFraction turns an integer written as a float ("64108.0", "-3.00") back into the
// integer ("64108"). Anything else — a real fraction, an exponent, text — is returned as is.
func trimZeroFraction(b []byte) []byte {
	dot := -1
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
		case c == '-' && i == 0:
		case c == '.' && dot < 0:
			dot = i
		default:
			return b
		}
	}
	if dot < 0 || dot == len(b)-1 || dot == 0 || (dot == 1 && b[0] == '-') {
		return b
	}
	for _, c := range b[dot+1:] {
		if c != '0' {
			return b
		}
	}
	return b[:dot]
}
