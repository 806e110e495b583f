package viz

import (
	"cmp"
	"math"
	"slices"
)

// The map has no tiles (it works offline), so on its own it is squares on grey. A light
// outline of where the requests are — the convex hull of their bins — gives it a shape to
// read the squares against, from the data alone: no boundary files per city.

// geoBin is one request_geo bin: its south-west corner, in degrees, and its requests.
type geoBin struct {
	lat, lon float64
	n        int64
}

// polygon is a closed ring, its first point repeated last, as Plotly draws a filled line.
type polygon struct {
	Lat []float64 `json:"lat"`
	Lon []float64 `json:"lon"`
}

// outlineShare is the share of the located requests that the map's outline encloses.
const outlineShare = 0.99

// outline returns the convex hull of the bins (squares of size degrees) nearest the
// requests' centre that together hold share of the requests: a handful of requests
// geocoded far away (a typo in a coordinate, a request about another town) would stretch a
// hull of every bin across half the map. The centre is the request-weighted median of the
// bins' latitudes and of their longitudes; distances scale longitude by cos(latitude), as
// the map does. No bins give an empty polygon.
func outline(bins []geoBin, size, share float64) polygon {
	out := polygon{Lat: []float64{}, Lon: []float64{}}
	var total int64
	lats := make([]weighted, 0, len(bins))
	lons := make([]weighted, 0, len(bins))
	for _, b := range bins {
		if b.n <= 0 {
			continue
		}
		total += b.n
		lats = append(lats, weighted{b.lat, float64(b.n)})
		lons = append(lons, weighted{b.lon, float64(b.n)})
	}
	if total == 0 {
		return out
	}
	lat0, lon0 := *weightedMedian(lats), *weightedMedian(lons)
	kx := math.Cos(lat0 * math.Pi / 180)
	type near struct {
		b geoBin
		d float64
	}
	ns := make([]near, 0, len(bins))
	for _, b := range bins {
		if b.n > 0 {
			ns = append(ns, near{b, math.Hypot((b.lon-lon0)*kx, b.lat-lat0)})
		}
	}
	slices.SortFunc(ns, func(a, b near) int {
		return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.b.lat, b.b.lat), cmp.Compare(a.b.lon, b.b.lon))
	})
	need := int64(math.Ceil(share * float64(total)))
	var pts [][2]float64 // (lon, lat): x, y
	var sum int64
	for _, x := range ns {
		if sum >= need {
			break
		}
		sum += x.b.n
		pts = append(pts,
			[2]float64{x.b.lon, x.b.lat}, [2]float64{x.b.lon + size, x.b.lat},
			[2]float64{x.b.lon, x.b.lat + size}, [2]float64{x.b.lon + size, x.b.lat + size})
	}
	hull := convexHull(pts)
	if len(hull) == 0 {
		return out
	}
	for _, p := range append(hull, hull[0]) {
		out.Lon = append(out.Lon, round(p[0], 6))
		out.Lat = append(out.Lat, round(p[1], 6))
	}
	return out
}

// convexHull returns the convex hull of pts (x, y) counter-clockwise, without collinear
// points and without repeating the first (Andrew's monotone chain). Fewer than three
// distinct points come back as they are, distinct and sorted.
func convexHull(pts [][2]float64) [][2]float64 {
	pts = slices.Clone(pts)
	slices.SortFunc(pts, func(a, b [2]float64) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	pts = slices.Compact(pts)
	if len(pts) < 3 {
		return pts
	}
	cross := func(o, a, b [2]float64) float64 { return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0]) }
	hull := make([][2]float64, 0, 2*len(pts))
	for _, p := range pts { // lower chain, left to right
		for len(hull) >= 2 && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	lower := len(hull) + 1
	for i := len(pts) - 2; i >= 0; i-- { // upper chain, right to left
		p := pts[i]
		for len(hull) >= lower && cross(hull[len(hull)-2], hull[len(hull)-1], p) <= 0 {
			hull = hull[:len(hull)-1]
		}
		hull = append(hull, p)
	}
	return hull[:len(hull)-1] // the last is the first again
}
