package crs

import "math"

// sin, sincos and tan are math.Sin, math.Sincos and math.Tan to the bit, for the arguments
// the projections pass: positive and below math's reduction threshold (2²⁹), where math
// reduces the argument by Cody-Waite's three-part π/4 and evaluates Cephes' polynomials.
// Each is that same code, operation for operation with the same constants, without the
// special cases' tests and the call into package math; any other argument (zero, negative,
// huge, NaN, ±Inf: hostile coordinates) goes to package math itself. The projections make
// some twenty such calls per converted point, most of its cost (BenchmarkToLatLon).
// TestTrigMatchesMath checks the bits against package math.

const (
	trigPI4A        = 7.85398125648498535156e-1  // 0x3fe921fb40000000, Pi/4 split into three parts
	trigPI4B        = 3.77489470793079817668e-8  // 0x3e64442d00000000,
	trigPI4C        = 2.69515142907905952645e-15 // 0x3ce8469898cc5170,
	reduceThreshold = 1 << 29
)

// The coefficients of math's sin.go and tan.go (Cephes).
const (
	sin0 = 1.58962301576546568060e-10 // 0x3de5d8fd1fd19ccd
	sin1 = -2.50507477628578072866e-8 // 0xbe5ae5e5a9291f5d
	sin2 = 2.75573136213857245213e-6  // 0x3ec71de3567d48a1
	sin3 = -1.98412698295895385996e-4 // 0xbf2a01a019bfdf03
	sin4 = 8.33333333332211858878e-3  // 0x3f8111111110f7d0
	sin5 = -1.66666666666666307295e-1 // 0xbfc5555555555548

	cos0 = -1.13585365213876817300e-11 // 0xbda8fa49a0861a9b
	cos1 = 2.08757008419747316778e-9   // 0x3e21ee9d7b4e3f05
	cos2 = -2.75573141792967388112e-7  // 0xbe927e4f7eac4bc6
	cos3 = 2.48015872888517045348e-5   // 0x3efa01a019c844f5
	cos4 = -1.38888888888730564116e-3  // 0xbf56c16c16c14f91
	cos5 = 4.16666666666665929218e-2   // 0x3fa555555555554b

	tanP0 = -1.30936939181383777646e4 // 0xc0c992d8d24f3f38
	tanP1 = 1.15351664838587416140e6  // 0x413199eca5fc9ddd
	tanP2 = -1.79565251976484877988e7 // 0xc1711fead3299176
	tanQ1 = 1.36812963470692954678e4  // 0x40cab8a5eeb36572
	tanQ2 = -1.32089234440210967447e6 // 0xc13427bc582abc96
	tanQ3 = 2.50083801823357915839e7  // 0x4177d98fc2ead8ef
	tanQ4 = -5.38695755929454629881e7 // 0xc189afe03cbe5a31
)

// octant reduces x, positive and below reduceThreshold, as math does: j is the octant
// mapped to an even one, z the remainder.
func octant(x float64) (j uint64, z float64) {
	j = uint64(x * (4 / math.Pi))
	y := float64(j)
	if j&1 == 1 {
		j++
		y++
	}
	return j, ((x - y*trigPI4A) - y*trigPI4B) - y*trigPI4C
}

func sinPoly(z, zz float64) float64 {
	return z + z*zz*((((((sin0*zz)+sin1)*zz+sin2)*zz+sin3)*zz+sin4)*zz+sin5)
}

func cosPoly(zz float64) float64 {
	return 1.0 - 0.5*zz + zz*zz*((((((cos0*zz)+cos1)*zz+cos2)*zz+cos3)*zz+cos4)*zz+cos5)
}

func sin(x float64) float64 {
	if !(x > 0 && x < reduceThreshold) {
		return math.Sin(x)
	}
	j, z := octant(x)
	j &= 7
	sign := false
	if j > 3 {
		sign = true
		j -= 4
	}
	zz := z * z
	var y float64
	if j == 1 || j == 2 {
		y = cosPoly(zz)
	} else {
		y = sinPoly(z, zz)
	}
	if sign {
		y = -y
	}
	return y
}

func sincos(x float64) (sin, cos float64) {
	if !(x > 0 && x < reduceThreshold) {
		return math.Sincos(x)
	}
	j, z := octant(x)
	j &= 7
	sinSign, cosSign := false, false
	if j > 3 {
		j -= 4
		sinSign, cosSign = true, true
	}
	if j > 1 {
		cosSign = !cosSign
	}
	zz := z * z
	cos = cosPoly(zz)
	sin = sinPoly(z, zz)
	if j == 1 || j == 2 {
		sin, cos = cos, sin
	}
	if cosSign {
		cos = -cos
	}
	if sinSign {
		sin = -sin
	}
	return sin, cos
}

func tan(x float64) float64 {
	if !(x > 0 && x < reduceThreshold) {
		return math.Tan(x)
	}
	j, z := octant(x)
	zz := z * z
	y := z
	if zz > 1e-14 {
		y = z + z*(zz*(((tanP0*zz)+tanP1)*zz+tanP2)/((((zz+tanQ1)*zz+tanQ2)*zz+tanQ3)*zz+tanQ4))
	}
	if j&2 == 2 {
		y = -1 / y
	}
	return y
}

// sincostan is sincos and tan of one argument with one reduction: tan's octant and
// remainder are sincos's.
func sincostan(x float64) (sin, cos, tan float64) {
	if !(x > 0 && x < reduceThreshold) {
		sin, cos = math.Sincos(x)
		return sin, cos, math.Tan(x)
	}
	j, z := octant(x)
	zz := z * z
	tan = z
	if zz > 1e-14 {
		tan = z + z*(zz*(((tanP0*zz)+tanP1)*zz+tanP2)/((((zz+tanQ1)*zz+tanQ2)*zz+tanQ3)*zz+tanQ4))
	}
	if j&2 == 2 {
		tan = -1 / tan
	}
	j &= 7
	sinSign, cosSign := false, false
	if j > 3 {
		j -= 4
		sinSign, cosSign = true, true
	}
	if j > 1 {
		cosSign = !cosSign
	}
	cos = cosPoly(zz)
	sin = sinPoly(z, zz)
	if j == 1 || j == 2 {
		sin, cos = cos, sin
	}
	if cosSign {
		cos = -cos
	}
	if sinSign {
		sin = -sin
	}
	return sin, cos, tan
}

// sines4 is sin of each of four arguments. The projections' series take the sines of 2φ,
// 4φ, 6φ and 8φ: written out side by side, the four polynomials' chains of dependent
// multiplications and additions overlap, where four calls ran them one after another.
// After octant, j is even, so of the octants mod 8 the ones that sin's test (j == 1 ||
// j == 2, after j -= 4 when j > 3) gives the cosine polynomial are those with bit 1 set,
// and bit 2 is the sign.
func sines4(a, b, c, d float64) (sa, sb, sc, sd float64) {
	if !(a > 0 && a < reduceThreshold && b > 0 && b < reduceThreshold && c > 0 && c < reduceThreshold && d > 0 && d < reduceThreshold) {
		return sin(a), sin(b), sin(c), sin(d)
	}
	ja, za := octant(a)
	jb, zb := octant(b)
	jc, zc := octant(c)
	jd, zd := octant(d)
	zza, zzb, zzc, zzd := za*za, zb*zb, zc*zc, zd*zd
	if ja&2 != 0 {
		sa = cosPoly(zza)
	} else {
		sa = sinPoly(za, zza)
	}
	if jb&2 != 0 {
		sb = cosPoly(zzb)
	} else {
		sb = sinPoly(zb, zzb)
	}
	if jc&2 != 0 {
		sc = cosPoly(zzc)
	} else {
		sc = sinPoly(zc, zzc)
	}
	if jd&2 != 0 {
		sd = cosPoly(zzd)
	} else {
		sd = sinPoly(zd, zzd)
	}
	if ja&4 != 0 {
		sa = -sa
	}
	if jb&4 != 0 {
		sb = -sb
	}
	if jc&4 != 0 {
		sc = -sc
	}
	if jd&4 != 0 {
		sd = -sd
	}
	return sa, sb, sc, sd
}

// sincostanSines is sincostan(x) and the sines of 2x, 4x and 6x, side by side as in
// sines4: the transverse Mercator's forward series takes all six of the latitude.
func sincostanSines(x float64) (sin, cos, tan, s2, s4, s6 float64) {
	if !(x > 0 && 6*x < reduceThreshold) {
		sin, cos, tan = sincostan(x)
		s2, s4, s6, _ = sines4(2*x, 4*x, 6*x, 8*x)
		return sin, cos, tan, s2, s4, s6
	}
	j, z := octant(x)
	j2, z2 := octant(2 * x)
	j4, z4 := octant(4 * x)
	j6, z6 := octant(6 * x)
	zz, zz2, zz4, zz6 := z*z, z2*z2, z4*z4, z6*z6
	if j2&2 != 0 {
		s2 = cosPoly(zz2)
	} else {
		s2 = sinPoly(z2, zz2)
	}
	if j4&2 != 0 {
		s4 = cosPoly(zz4)
	} else {
		s4 = sinPoly(z4, zz4)
	}
	if j6&2 != 0 {
		s6 = cosPoly(zz6)
	} else {
		s6 = sinPoly(z6, zz6)
	}
	cos = cosPoly(zz)
	sin = sinPoly(z, zz)
	tan = z
	if zz > 1e-14 {
		tan = z + z*(zz*(((tanP0*zz)+tanP1)*zz+tanP2)/((((zz+tanQ1)*zz+tanQ2)*zz+tanQ3)*zz+tanQ4))
	}
	if j&2 == 2 {
		tan = -1 / tan
	}
	// sincostan's signs and swap, with j even: bit 1 swaps, bit 2 negates both, and
	// cos is negated again when j mod 8 > 1 after the reflection, that is when bit 1 is set.
	if j&2 != 0 {
		sin, cos = cos, -sin
	}
	if j&4 != 0 {
		sin, cos = -sin, -cos
	}
	if j2&4 != 0 {
		s2 = -s2
	}
	if j4&4 != 0 {
		s4 = -s4
	}
	if j6&4 != 0 {
		s6 = -s6
	}
	return sin, cos, tan, s2, s4, s6
}
