package jobs

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// SpecError is the error of Parse, ParseFile and the built-in schema loader: one or more
// diagnostics, each with file:line:column. It wraps ErrSpec. A CLI may print Diags with
// hcl.NewDiagnosticTextWriter to show the offending source lines.
type SpecError struct {
	Diags hcl.Diagnostics
}

func (e *SpecError) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString("; ")
			b.WriteString(d.Detail)
		}
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrSpec) true.
func (e *SpecError) Unwrap() error { return ErrSpec }

func specError(diags hcl.Diagnostics) error {
	if !diags.HasErrors() {
		return nil
	}
	var errs hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	return &SpecError{Diags: errs}
}

func diagAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// evalContext is the context every expression of a job file is evaluated in. There are no
// variables yet; env() lets a job file take secrets (a database URL) from the environment
// instead of holding them.
func evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{"env": envFunc}}
}

// envFunc is env(NAME) or env(NAME, DEFAULT). An unset variable without a default is an error,
// not "": a job silently writing to the wrong database is worse than one that does not start.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, fmt.Errorf("env takes a name and at most one default")
		}
		name := args[0].AsString()
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set (give env(%q, DEFAULT) for a default)", name, name)
	},
})

// evalAs evaluates an attribute and converts it to ty, refusing null and unknown values.
func evalAs(attr *hcl.Attribute, ctx *hcl.EvalContext, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if v.IsNull() {
		return cty.NilVal, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Null value", fmt.Sprintf("%s must not be null.", attr.Name))}
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Unknown value", fmt.Sprintf("%s must be known when the job is parsed.", attr.Name))}
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Wrong type",
			fmt.Sprintf("%s must be %s: %s.", attr.Name, ty.FriendlyName(), err))}
	}
	if !cv.IsWhollyKnown() || cv.IsNull() {
		return cty.NilVal, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Null value", fmt.Sprintf("%s must not contain null.", attr.Name))}
	}
	return cv, nil
}

func evalString(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.String)
	if diags.HasErrors() {
		return "", diags
	}
	return v.AsString(), nil
}

func evalStrings(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.List(cty.String))
	if diags.HasErrors() {
		return nil, diags
	}
	out := make([]string, 0, v.LengthInt())
	for _, e := range v.AsValueSlice() {
		if e.IsNull() {
			return nil, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Null value", fmt.Sprintf("%s must not contain null.", attr.Name))}
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

func evalBool(attr *hcl.Attribute, ctx *hcl.EvalContext) (bool, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.Bool)
	if diags.HasErrors() {
		return false, diags
	}
	return v.True(), nil
}

func evalFloat(attr *hcl.Attribute, ctx *hcl.EvalContext) (float64, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.Number)
	if diags.HasErrors() {
		return 0, diags
	}
	f, _ := v.AsBigFloat().Float64()
	return f, nil
}

func evalInt(attr *hcl.Attribute, ctx *hcl.EvalContext) (int64, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.Number)
	if diags.HasErrors() {
		return 0, diags
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 {
		return 0, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Not an integer", fmt.Sprintf("%s must be a whole number.", attr.Name))}
	}
	return i, nil
}

// evalPoints reads [[lat, lon], ...].
func evalPoints(attr *hcl.Attribute, ctx *hcl.EvalContext) ([][2]float64, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.List(cty.List(cty.Number)))
	if diags.HasErrors() {
		return nil, diags
	}
	var out [][2]float64
	for _, p := range v.AsValueSlice() {
		if p.IsNull() || p.LengthInt() != 2 {
			return nil, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad point",
				fmt.Sprintf("%s must be a list of [latitude, longitude] pairs.", attr.Name))}
		}
		var pt [2]float64
		for i, c := range p.AsValueSlice() {
			if c.IsNull() {
				return nil, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Null value", fmt.Sprintf("%s must not contain null.", attr.Name))}
			}
			pt[i], _ = c.AsBigFloat().Float64()
		}
		if err := checkPoint(pt); err != nil {
			return nil, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad point", err.Error()+".")}
		}
		out = append(out, pt)
	}
	return out, nil
}

// Size bounds for split_size.
const (
	minSplitSize     = 1 << 10
	defaultSplitSize = 64 << 20
)

// ParseSize parses a byte size: a whole number of bytes, optionally followed by B, KiB, MiB or
// GiB ("64MiB", "1 GiB", "4096"). Decimal units (MB) are refused rather than guessed.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a whole number of bytes with an optional unit B, KiB, MiB or GiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	var mult int64
	switch strings.TrimSpace(t[i:]) {
	case "", "B":
		mult = 1
	case "KiB":
		mult = 1 << 10
	case "MiB":
		mult = 1 << 20
	case "GiB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KiB, MiB or GiB)", s, strings.TrimSpace(t[i:]))
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}
