package jobs

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The schema attributes about time: time_layouts (and a field's layouts) and date_order.

// LayoutAuto is the layout that asks for each file's dialect to be detected, per column.
const LayoutAuto = "auto"

// The values of Schema.DateOrder.
const (
	DateOrderMDY = "mdy" // 03/04/2020 is March 4 (the default)
	DateOrderDMY = "dmy" // 03/04/2020 is 3 April
)

var errAutoAlone = errors.New(`"auto" must be the only layout of its list: it stands for the one dialect detected per file and column`)

func checkDateOrder(o string) error {
	switch o {
	case "", DateOrderMDY, DateOrderDMY:
		return nil
	}
	return fmt.Errorf("date_order %q is neither %q nor %q", o, DateOrderMDY, DateOrderDMY)
}

// decodeLayouts decodes a list of time layouts, reporting a bad one at its element of the
// list and, for an unknown strftime directive, at the directive itself.
func decodeLayouts(a *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	v, diags := evalStrings(a, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(v) == 0 {
		return nil, hcl.Diagnostics{diagAt(a.Expr.Range(), "Bad time layout", "the list of time layouts must not be empty.")}
	}
	for i, l := range v {
		_, err := compileLayout(l)
		if err == nil && l == LayoutAuto && len(v) > 1 {
			err = errAutoAlone
		}
		if err != nil {
			diags = append(diags, diagAt(layoutRange(a.Expr, i, l, err), "Bad time layout", err.Error()+"."))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return v, nil
}

// layoutRange is the source range of element i of a list of layouts: the directive at
// fault when the element is a plain string literal (no escapes, no interpolation), else the
// element, else the whole expression.
func layoutRange(expr hcl.Expression, i int, l string, err error) hcl.Range {
	tup, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok || i >= len(tup.Exprs) {
		return expr.Range()
	}
	rng := tup.Exprs[i].Range()
	var le *LayoutError
	if !errors.As(err, &le) || le.Offset < 0 || le.Offset >= len(l) {
		return rng
	}
	// A literal without escapes spans its text plus two quotes; the directive's column
	// then counts the runes before it.
	if rng.Start.Line != rng.End.Line || rng.End.Byte-rng.Start.Byte != len(l)+2 {
		return rng
	}
	start := rng.Start
	start.Byte += 1 + le.Offset
	start.Column += 1 + utf8.RuneCountInString(l[:le.Offset])
	end := start
	end.Byte += 2
	end.Column += 2
	return hcl.Range{Filename: rng.Filename, Start: start, End: end}
}

func decodeDateOrder(a *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := evalString(a, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if err := checkDateOrder(v); err != nil {
		return "", hcl.Diagnostics{diagAt(a.Expr.Range(), "Bad date_order", err.Error()+".")}
	}
	return v, nil
}
