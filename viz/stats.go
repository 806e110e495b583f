package viz

import (
	"cmp"
	"slices"
)

// weighted is a value with a weight > 0.
type weighted struct{ v, w float64 }

// weightedMedian returns the weighted median of xs: the smallest value at which the
// cumulative weight reaches half the total, or the mean of the two values either side when
// it reaches exactly half (so that equal weights give the ordinary median). Nil when xs is
// empty. It sorts xs in place.
func weightedMedian(xs []weighted) *float64 {
	if len(xs) == 0 {
		return nil
	}
	slices.SortFunc(xs, func(a, b weighted) int { return cmp.Compare(a.v, b.v) })
	var total float64
	for _, x := range xs {
		total += x.w
	}
	half := total / 2
	var cum float64
	for i, x := range xs {
		cum += x.w
		if cum == half && i+1 < len(xs) {
			v := (x.v + xs[i+1].v) / 2
			return &v
		}
		if cum >= half {
			v := x.v
			return &v
		}
	}
	v := xs[len(xs)-1].v
	return &v
}
