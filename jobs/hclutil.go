package jobs

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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
	return &SpecError{Diags: capDiags(errs)}
}

// maxDiagText bounds a diagnostic's summary and detail, in bytes: several echo a value from
// the job file, which may be as large as the file.
const maxDiagText = 1024

// capDiags cuts long diagnostic texts. It runs after redaction, so it never leaves the head of
// a secret that redaction would have recognized whole.
func capDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	cut := func(s string) string {
		if len(s) <= maxDiagText {
			return s
		}
		return strings.ToValidUTF8(s[:maxDiagText], "") + "… (cut)"
	}
	for _, d := range diags {
		d.Summary, d.Detail = cut(d.Summary), cut(d.Detail)
	}
	return diags
}

func diagAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

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
	bf := v.AsBigFloat()
	if bf.IsInf() {
		return 0, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad "+attr.Name, fmt.Sprintf("%s must be a finite number.", attr.Name))}
	}
	f, _ := bf.Float64() // beyond float64's range: ±Inf, which every caller's bounds refuse
	return f, nil
}

// evalIntIn evaluates a whole number in [lo, hi]. Values that do not fit an int64 (1e300)
// are out of range like any other, never wrapped or clamped silently.
func evalIntIn(attr *hcl.Attribute, ctx *hcl.EvalContext, lo, hi int64) (int64, hcl.Diagnostics) {
	v, diags := evalAs(attr, ctx, cty.Number)
	if diags.HasErrors() {
		return 0, diags
	}
	bf := v.AsBigFloat()
	if bf.IsInf() || !bf.IsInt() {
		return 0, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Not an integer", fmt.Sprintf("%s must be a whole number.", attr.Name))}
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i < lo || i > hi {
		return 0, hcl.Diagnostics{diagAt(attr.Expr.Range(), "Bad "+attr.Name,
			fmt.Sprintf("%s must be between %d and %d, not %s.", attr.Name, lo, hi, bf.Text('g', 6)))}
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

// MaxSize is the largest size ParseSize accepts, in bytes (4 EiB): far above any setting's
// own bound, and far enough below the int64 limit that sums and products of a few sizes do
// not overflow either.
const MaxSize = 1 << 62

// ParseSize parses a byte size: a whole number of bytes, optionally followed by B, KiB, MiB or
// GiB ("64MiB", "1 GiB", "4096"). Decimal units (MB), fractions, exponents ("1e3") and signs
// are refused rather than guessed, and so is a size of more than MaxSize bytes, whatever its
// spelling: no input overflows.
func ParseSize(s string) (int64, error) {
	q := truncateForMessage(s)
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a whole number of bytes with an optional unit B, KiB, MiB or GiB", q)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		// strconv's message repeats the digits, which may be many: say it once.
		return 0, fmt.Errorf("size %q: too large (at most %d bytes)", q, int64(MaxSize))
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
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KiB, MiB or GiB)", q, truncateForMessage(strings.TrimSpace(t[i:])))
	}
	if n > MaxSize/mult {
		return 0, fmt.Errorf("size %q: too large (at most %d bytes)", q, int64(MaxSize))
	}
	return n * mult, nil
}
