package viz

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type pt = [2]float64

// cross is the z of (a − o) × (b − o): > 0 when o, a, b turn left.
func cross(o, a, b pt) float64 { return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0]) }

// checkHull checks that hull is convex, counter-clockwise, without collinear points, made of
// input points, and holds every input point.
func checkHull(t *testing.T, pts, hull []pt) {
	t.Helper()
	if len(hull) < 3 {
		t.Fatalf("hull of %d points has %d: %v", len(pts), len(hull), hull)
	}
	for i := range hull {
		a, b, c := hull[i], hull[(i+1)%len(hull)], hull[(i+2)%len(hull)]
		if cross(a, b, c) <= 0 {
			t.Errorf("hull turns right or goes straight at %v: %v", b, hull)
		}
		if !slices.Contains(pts, a) {
			t.Errorf("hull point %v is not an input point", a)
		}
	}
	for _, p := range pts {
		for i := range hull {
			if cross(hull[i], hull[(i+1)%len(hull)], p) < -1e-12 {
				t.Errorf("point %v lies outside the hull's edge %v–%v", p, hull[i], hull[(i+1)%len(hull)])
			}
		}
	}
}

func TestConvexHull(t *testing.T) {
	for _, tc := range []struct {
		name string
		pts  []pt
		want []pt // nil: only the properties are checked
	}{
		{"square with its centre and edge midpoints", []pt{{0, 0}, {2, 0}, {2, 2}, {0, 2}, {1, 1}, {1, 0}, {2, 1}},
			[]pt{{0, 0}, {2, 0}, {2, 2}, {0, 2}}},
		{"duplicates", []pt{{0, 0}, {0, 0}, {1, 0}, {1, 0}, {0, 1}, {0, 1}}, []pt{{0, 0}, {1, 0}, {0, 1}}},
		{"triangle in any order", []pt{{3, 1}, {0, 0}, {1, 4}}, []pt{{0, 0}, {3, 1}, {1, 4}}},
		{"random cloud", randomPoints(200), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hull := convexHull(tc.pts)
			checkHull(t, tc.pts, hull)
			if tc.want != nil && !slices.Equal(hull, tc.want) {
				t.Errorf("hull %v, want %v", hull, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		pts  []pt
		want []pt
	}{
		{"none", nil, []pt{}},
		{"one", []pt{{1, 1}, {1, 1}}, []pt{{1, 1}}},
		{"collinear", []pt{{0, 0}, {2, 2}, {1, 1}, {3, 3}}, []pt{{0, 0}, {3, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := convexHull(tc.pts); len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
				t.Errorf("hull %v, want %v", got, tc.want)
			}
		})
	}
}

func randomPoints(n int) []pt {
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([]pt, n)
	for i := range pts {
		pts[i] = pt{r.NormFloat64(), r.NormFloat64()}
	}
	return pts
}

// TestOutline: the outline encloses the bins holding the share of requests nearest the
// centre, leaves out a far stray bin, and is a closed ring in bin corners.
func TestOutline(t *testing.T) {
	const size = 0.01
	var city []geoBin // a 10 × 10 block of bins, 10 requests each: 1,000
	for i := range 10 {
		for j := range 10 {
			city = append(city, geoBin{lat: 40 + float64(i)*size, lon: -74 + float64(j)*size, n: 10})
		}
	}
	stray := geoBin{lat: 41, lon: -73, n: 5} // 0.5 % of the requests, a degree away

	inside := func(o polygon, lat, lon float64) bool {
		var ring []pt
		for i := range o.Lat[:len(o.Lat)-1] {
			ring = append(ring, pt{o.Lon[i], o.Lat[i]})
		}
		for i := range ring {
			if cross(ring[i], ring[(i+1)%len(ring)], pt{lon, lat}) < -1e-9 {
				return false
			}
		}
		return true
	}
	closed := func(t *testing.T, o polygon) {
		t.Helper()
		n := len(o.Lat)
		if n < 4 || n != len(o.Lon) || o.Lat[0] != o.Lat[n-1] || o.Lon[0] != o.Lon[n-1] {
			t.Fatalf("not a closed ring: %+v", o)
		}
	}

	t.Run("a stray bin is left out", func(t *testing.T) {
		o := outline(append(slices.Clone(city), stray), size, outlineShare)
		closed(t, o)
		if inside(o, stray.lat+size/2, stray.lon+size/2) {
			t.Errorf("the outline reaches the stray bin: %+v", o)
		}
		// The block's four corners are its hull.
		want := polygon{Lat: []float64{40, 40, 40.1, 40.1, 40}, Lon: []float64{-74, -73.9, -73.9, -74, -74}}
		if !slices.Equal(o.Lat, want.Lat) || !slices.Equal(o.Lon, want.Lon) {
			t.Errorf("outline %+v, want the block's corners %+v", o, want)
		}
	})
	t.Run("every bin with share 1", func(t *testing.T) {
		o := outline(append(slices.Clone(city), stray), size, 1)
		closed(t, o)
		for _, b := range append(slices.Clone(city), stray) {
			for _, c := range []pt{{b.lon, b.lat}, {b.lon + size, b.lat + size}} {
				if !inside(o, c[1], c[0]) {
					t.Errorf("corner %v of a bin is outside the outline %+v", c, o)
				}
			}
		}
	})
	t.Run("one bin", func(t *testing.T) {
		o := outline([]geoBin{{lat: 1, lon: 2, n: 3}}, size, outlineShare)
		closed(t, o)
		if len(o.Lat) != 5 {
			t.Errorf("one bin's outline is its square: %+v", o)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		for _, bins := range [][]geoBin{nil, {{lat: 1, lon: 1, n: 0}}} {
			o := outline(bins, size, outlineShare)
			if o.Lat == nil || o.Lon == nil || len(o.Lat) != 0 || len(o.Lon) != 0 {
				t.Errorf("outline of %v: %+v, want empty arrays (JSON [])", bins, o)
			}
		}
	})
}
