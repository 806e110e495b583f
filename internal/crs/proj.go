package crs

import "math"

// The projections' arithmetic, with everything that does not depend on the point computed
// once. github.com/wroge/wgs84 evaluates Snyder's series ("Map Projections: A Working
// Manual", USGS 1987, §8 and §15) from scratch at every call: the ellipsoid's constants,
// the meridian arc at the origin, and each of tan φ, cos φ and sin φ several times over, so
// that one point cost some thirty trigonometric calls and a dozen math.Pow. The lake stores
// the converted latitude and longitude as float64 bits, and they must not change with this
// rewrite, so every expression here is the library's, operation for operation and in its
// order: only values it recomputes are reused (math.Sincos is math.Sin and math.Cos to the
// bit, with one argument reduction). A math.Pow with a small integer exponent is
// written as the products math.Pow forms (x², x·x², x²·x², x·x⁴, x²·x⁴), which round
// identically for normal numbers. TestProjectionsMatchLibrary checks the bits against the
// library itself over each system's area.

// projection converts between a system's easting/northing in metres and longitude/latitude
// in degrees on its ellipsoid.
type projection interface {
	toLonLat(e, n float64) (lon, lat float64)
	fromLonLat(lon, lat float64) (e, n float64)
}

// ellipsoid holds the derived quantities of an ellipsoid given by its semi-major axis and
// inverse flattening, computed as the library computes them.
type ellipsoid struct {
	a, e, e2, e4, e6, ei2 float64
	ei, ei3, ei4          float64
}

func newEllipsoid(a, fi float64) ellipsoid {
	f := 1 / fi
	e2 := 2/fi - f*f
	e4 := e2 * e2
	ei := (1 - math.Sqrt(1-e2)) / (1 + math.Sqrt(1-e2))
	ei2 := ei * ei
	ei3 := ei2 * ei
	return ellipsoid{a: a, e: math.Sqrt(e2), e2: e2, e4: e4, e6: e4 * e2, ei: ei, ei2: ei2, ei3: ei3, ei4: ei3 * ei}
}

func radian(d float64) float64 { return d * math.Pi / 180 }

func degree(r float64) float64 { return r * 180 / math.Pi }

// sq is math.Pow(x, 2), and the other powers below math.Pow(x, n) for their n.
func sq(x float64) float64 { return x * x }

// tm is the transverse Mercator projection (Snyder §8, eqs. 8-9 to 8-25).
type tm struct {
	el                       ellipsoid
	lonf, scale, eastf, nthf float64
	lon0                     float64    // radian(lonf)
	m0                       float64    // the meridian arc at the origin's latitude
	mc                       [4]float64 // the meridian arc's coefficients (eq. 3-21)
	muDen                    float64    // a·mc[0], μ's divisor (eq. 7-19)
	fc                       [4]float64 // the footpoint latitude's coefficients (eq. 3-26)
	r1Num                    float64    // a(1-e²), R1's numerator
}

func newTM(el ellipsoid, lonf, latf, scale, eastf, northf float64) *tm {
	p := &tm{el: el, lonf: lonf, scale: scale, eastf: eastf, nthf: northf, lon0: radian(lonf)}
	e2, e4, e6 := el.e2, el.e4, el.e6
	p.mc = [4]float64{
		1 - e2/4 - 3*e4/64 - 5*e6/256,
		3*e2/8 + 3*e4/32 + 45*e6/1024,
		15*e4/256 + 45*e6/1024,
		35 * e6 / 3072,
	}
	p.m0 = p.arc(radian(latf))
	p.muDen = el.a * p.mc[0]
	ei, ei2, ei3, ei4 := el.ei, el.ei2, el.ei3, el.ei4
	p.fc = [4]float64{
		3*ei/2 - 27*ei3/32,
		21*ei2/16 - 55*ei4/32,
		151 * ei3 / 96,
		1097 * ei4 / 512,
	}
	p.r1Num = el.a * (1 - e2)
	return p
}

// arc is the meridian distance from the equator to latitude φ (eq. 3-21).
func (p *tm) arc(φ float64) float64 {
	c := &p.mc
	return p.el.a * (c[0]*φ - c[1]*math.Sin(2*φ) + c[2]*math.Sin(4*φ) - c[3]*math.Sin(6*φ))
}

func (p *tm) toLonLat(east, north float64) (lon, lat float64) {
	el := &p.el
	east -= p.eastf
	north -= p.nthf
	mi := p.m0 + north/p.scale
	μ := mi / p.muDen
	fc := &p.fc
	φ1 := μ + fc[0]*math.Sin(2*μ) + fc[1]*math.Sin(4*μ) + fc[2]*math.Sin(6*μ) + fc[3]*math.Sin(8*μ)
	sin1, cos1 := math.Sincos(φ1)
	tan1 := math.Tan(φ1)
	w := 1 - el.e2*sq(sin1)
	r1 := p.r1Num / w // the library's math.Pow(w, 3/2) is w: 3/2 is the integer 1
	n1 := el.a / math.Sqrt(w)
	t1 := sq(tan1)
	c1 := el.ei2 * sq(cos1)
	d := east / (n1 * p.scale)
	dd := d * d
	d4 := dd * dd
	d5 := d * d4
	d6 := dd * d4
	φ := φ1 - (n1*tan1/r1)*(d*d/2-(5+3*t1+10*c1-4*c1*c1-9*el.ei2)*d4/24+
		(61+90*t1+298*c1+45*t1*t1-252*el.ei2-3*c1*c1)*d6/720)
	λ := p.lon0 + (d-(1+2*t1+c1)*d*d*d/6+(5-2*c1+28*t1-3*c1*c1+8*el.ei2+24*t1*t1)*d5/120)/cos1
	return degree(λ), degree(φ)
}

func (p *tm) fromLonLat(lon, lat float64) (east, north float64) {
	el := &p.el
	φ := radian(lat)
	sinφ, cosφ := math.Sincos(φ)
	tanφ := math.Tan(φ)
	a := (radian(lon) - p.lon0) * cosφ
	n := el.a / math.Sqrt(1-el.e2*sq(sinφ))
	t := sq(tanφ)
	c := el.ei2 * sq(cosφ)
	aa := a * a
	a3 := a * aa
	a4 := aa * aa
	a5 := a * a4
	a6 := aa * a4
	east = p.scale*n*(a+(1-t+c)*a3/6+(5-18*t+t*t+72*c-58*el.ei2)*a5/120) + p.eastf
	north = p.scale*(p.arc(φ)-p.m0+n*tanφ*
		(a*a/2+(5-t+9*c+4*c*c)*a4/24+(61-58*t+t*t+600*c-330*el.ei2)*a6/720)) + p.nthf
	return east, north
}

// lcc is the Lambert conformal conic projection with two standard parallels (Snyder §15,
// eqs. 15-1 to 15-11, latitude by the fixed five iterations of eq. 7-9 the library runs).
type lcc struct {
	el           ellipsoid
	eastf, nthf  float64
	lon0         float64 // radian(lonf)
	n, invN, hlf float64 // the cone constant, 1/n, and e/2
	aF           float64 // a·F
	rho0         float64 // ρ at the origin's latitude
}

func newLCC(el ellipsoid, lonf, latf, lat1, lat2, eastf, northf float64) *lcc {
	p := &lcc{el: el, eastf: eastf, nthf: northf, lon0: radian(lonf), hlf: el.e / 2}
	φ1, φ2 := radian(lat1), radian(lat2)
	if φ1 == φ2 {
		p.n = math.Sin(φ1)
	} else {
		p.n = (math.Log(p.m(φ1)) - math.Log(p.m(φ2))) / (math.Log(p.t(φ1)) - math.Log(p.t(φ2)))
	}
	p.invN = 1 / p.n
	f := p.m(φ1) / (p.n * math.Pow(p.t(φ1), p.n))
	p.aF = el.a * f
	p.rho0 = p.rho(radian(latf))
	return p
}

func (p *lcc) m(φ float64) float64 {
	return math.Cos(φ) / math.Sqrt(1-p.el.e2*sq(math.Sin(φ)))
}

func (p *lcc) t(φ float64) float64 {
	e, s := p.el.e, math.Sin(φ)
	return math.Tan(math.Pi/4-φ/2) / math.Pow((1-e*s)/(1+e*s), p.hlf)
}

func (p *lcc) rho(φ float64) float64 {
	return p.aF * math.Pow(p.t(φ), p.n)
}

func (p *lcc) toLonLat(east, north float64) (lon, lat float64) {
	e := p.el.e
	dx, dy := east-p.eastf, p.rho0-(north-p.nthf)
	ρi := math.Sqrt(sq(dx) + sq(dy))
	if p.n < 0 {
		ρi = -ρi
	}
	ti := math.Pow(ρi/p.aF, p.invN)
	φ := math.Pi/2 - 2*math.Atan(ti)
	for range 5 {
		s := math.Sin(φ)
		φ = math.Pi/2 - 2*math.Atan(ti*math.Pow((1-e*s)/(1+e*s), p.hlf))
	}
	λ := math.Atan(dx/dy)/p.n + p.lon0
	return degree(λ), degree(φ)
}

func (p *lcc) fromLonLat(lon, lat float64) (east, north float64) {
	θ := p.n * (radian(lon) - p.lon0)
	ρ := p.rho(radian(lat))
	sinθ, cosθ := math.Sincos(θ)
	return p.eastf + ρ*sinθ, p.nthf + p.rho0 - ρ*cosθ
}
