package crs

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTrigMatchesMath checks that sin, sincos, tan and sincostan return package math's bits,
// over the projections' arguments (every octant up to 8μ ≈ 6 rad), far beyond them, and at
// the special and boundary values that go to package math.
func TestTrigMatchesMath(t *testing.T) {
	xs := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), -1, -0.7, 1e-300, 5e-324,
		1e-8, 1e-7, math.Pi / 4, math.Pi / 2, math.Pi, 2 * math.Pi, reduceThreshold, math.Nextafter(reduceThreshold, 0),
		reduceThreshold + 1, 1e20, math.MaxFloat64, -1e20}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		xs = append(xs, rng.Float64()*8, rng.Float64()*1e-6, rng.Float64()*1e6, math.Ldexp(rng.Float64(), rng.IntN(60)-30))
	}
	for k := 0; k <= 64; k++ { // the octant boundaries
		b := float64(k) * math.Pi / 4
		xs = append(xs, b, math.Nextafter(b, 0), math.Nextafter(b, 10))
	}
	bad := 0
	for _, x := range xs {
		ms, mc := math.Sincos(x)
		mt := math.Tan(x)
		s, c := sincos(x)
		s3, c3, t3 := sincostan(x)
		if !same(sin(x), math.Sin(x)) || !same(s, ms) || !same(c, mc) || !same(tan(x), mt) || !same(s3, ms) || !same(c3, mc) || !same(t3, mt) {
			if bad++; bad <= 5 {
				t.Errorf("x=%v (%#x): sin %v sincos (%v, %v) tan %v sincostan (%v, %v, %v); math: %v (%v, %v) %v",
					x, math.Float64bits(x), sin(x), s, c, tan(x), s3, c3, t3, math.Sin(x), ms, mc, mt)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d arguments differ from package math", bad, len(xs))
	}
}

// TestSines4MatchesMath checks sines4 against math.Sin, argument by argument, with one
// argument at a time out of the fast path's range.
func TestSines4MatchesMath(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float64{0, -1, math.NaN(), math.Inf(1), 1e20, reduceThreshold}
	bad := 0
	for i := range 400_000 {
		var x [4]float64
		for k := range x {
			x[k] = rng.Float64() * 8 * float64(k+1)
		}
		if i%10 == 0 {
			x[i/10%4] = special[i/40%len(special)]
		}
		var got [4]float64
		got[0], got[1], got[2], got[3] = sines4(x[0], x[1], x[2], x[3])
		for k := range x {
			if !same(got[k], math.Sin(x[k])) {
				if bad++; bad <= 5 {
					t.Errorf("sines4%v[%d] = %v, math.Sin = %v", x, k, got[k], math.Sin(x[k]))
				}
			}
		}
	}
}

// TestSincostanSinesMatchesMath checks sincostanSines against package math.
func TestSincostanSinesMatchesMath(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	xs := []float64{0, -1, math.NaN(), math.Inf(1), 1e20, reduceThreshold / 6, math.Nextafter(reduceThreshold/6, 0), 5e-324}
	for range 400_000 {
		xs = append(xs, rng.Float64()*2, rng.Float64()*1e4)
	}
	for k := 0; k <= 64; k++ {
		b := float64(k) * math.Pi / 8
		xs = append(xs, b, math.Nextafter(b, 0), math.Nextafter(b, 10))
	}
	bad := 0
	for _, x := range xs {
		s, c, tn, s2, s4, s6 := sincostanSines(x)
		ms, mc := math.Sincos(x)
		if !same(s, ms) || !same(c, mc) || !same(tn, math.Tan(x)) || !same(s2, math.Sin(2*x)) || !same(s4, math.Sin(4*x)) || !same(s6, math.Sin(6*x)) {
			if bad++; bad <= 5 {
				t.Errorf("x=%v: (%v %v %v %v %v %v), math (%v %v %v %v %v %v)", x, s, c, tn, s2, s4, s6,
					ms, mc, math.Tan(x), math.Sin(2*x), math.Sin(4*x), math.Sin(6*x))
			}
		}
	}
}
