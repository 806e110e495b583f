// Package crs converts the projected coordinates that 311 exports use — US state-plane
// systems, in metres or US survey feet — to and from WGS84 latitude/longitude. It is the
// one place that knows the systems' parameters: the normalizer reads x/y columns through
// it (jobs, `field "point" { x = ..., y = ..., crs = ... }`) and the generator writes them.
//
// The arithmetic is github.com/wroge/wgs84's, rewritten (proj.go) to compute once what
// does not depend on the point, with bit-identical results; the library stays as the
// tests' reference. It ships few EPSG codes; the state-plane systems are defined here from
// their published parameters on its NAD83 datum, which it treats as WGS84 (the two differ
// by about a metre, less than the cities' own geocoding). A CRS is immutable and safe for
// concurrent use.
package crs

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// USFoot is the US survey foot in metres, the unit of the "(ftUS)" state-plane systems.
const USFoot = 1200.0 / 3937.0

// CRS is one supported coordinate reference system.
type CRS struct {
	names []string // "EPSG:2263", matched case-insensitively
	title string
	unit  float64 // metres per coordinate unit
	proj  projection
	// area is where the system is used, [minLon, minLat, maxLon, maxLat] with a margin: a
	// point converted outside it is a placeholder or a mistake, not a location.
	area [4]float64
	// zone is the zone's own extent, without margin (Zone).
	zone [4]float64
}

// The parameters are those of the EPSG registry (ESRI's for 102696, which has no EPSG
// twin in US feet), on the GRS80 ellipsoid (the library's NAD83 datum). Each system's
// parameters are written once, in params, for proj.go and for the tests' reference.
var (
	grs80 = newEllipsoid(6378137, 298.257222101)

	illinoisEast = tmParams{-88 - 20.0/60, 36 + 40.0/60, 0.999975, 300000, 0}
	nyLongIsland = lccParams{-74, 40 + 10.0/60, 41 + 2.0/60, 40 + 40.0/60, 300000, 0}
	missouriEast = tmParams{-90.5, 35 + 50.0/60, 1 - 1.0/15000, 250000, 0}
	maryland     = lccParams{-77, 37 + 40.0/60, 39.45, 38.3, 400000, 0}

	areaIllinois = [4]float64{-91.6, 36.9, -87.0, 42.6}
	areaLongIsl  = [4]float64{-74.3, 40.4, -71.7, 41.4}
	areaMissouri = [4]float64{-91.9, 35.9, -89.0, 40.7}
	areaMaryland = [4]float64{-79.6, 37.8, -74.9, 39.8}

	// The zones' areas of use as the EPSG registry gives them (its "extent" of each system, as
	// [west, south, east, north] in degrees, rounded there to 0.01°; written from the
	// registry's published extents, not read from its data on this machine, which has no
	// proj.db: the real fixtures of St. Louis, DC and Chicago check them, and only schema
	// inference reads them, never the normalizer): narrower than the areas
	// above, which take a whole state with a margin, so that a point tells a zone's systems
	// apart from a neighbour's: Illinois East is the state's eastern counties only. The
	// District of Columbia lies inside Maryland's.
	zoneIllinoisEast = [4]float64{-89.28, 37.06, -87.02, 42.50}
	zoneLongIsland   = [4]float64{-74.26, 40.47, -71.80, 41.30}
	zoneMissouriEast = [4]float64{-91.97, 35.98, -89.10, 40.61}
	zoneMaryland     = [4]float64{-79.49, 37.88, -74.97, 39.73}
)

// tmParams are a transverse Mercator's central meridian, origin latitude, scale factor,
// false easting and false northing (degrees, metres), in wgs84.Datum.TransverseMercator's
// order.
type tmParams struct{ lonf, latf, scale, eastf, northf float64 }

// lccParams are a Lambert conformal conic's central meridian, origin latitude, standard
// parallels, false easting and false northing, in wgs84.Datum.LambertConformalConic2SP's
// order.
type lccParams struct{ lonf, latf, lat1, lat2, eastf, northf float64 }

func (p tmParams) projection() projection {
	return newTM(grs80, p.lonf, p.latf, p.scale, p.eastf, p.northf)
}

func (p lccParams) projection() projection {
	return newLCC(grs80, p.lonf, p.latf, p.lat1, p.lat2, p.eastf, p.northf)
}

var all = func() []*CRS {
	il, ny, mo, md := illinoisEast.projection(), nyLongIsland.projection(), missouriEast.projection(), maryland.projection()
	return []*CRS{
		{names: []string{"EPSG:3435"}, title: "NAD83 / Illinois East (ftUS)", unit: USFoot, proj: il, area: areaIllinois, zone: zoneIllinoisEast},
		{names: []string{"EPSG:26971"}, title: "NAD83 / Illinois East", unit: 1, proj: il, area: areaIllinois, zone: zoneIllinoisEast},
		{names: []string{"EPSG:2263"}, title: "NAD83 / New York Long Island (ftUS)", unit: USFoot, proj: ny, area: areaLongIsl, zone: zoneLongIsland},
		{names: []string{"EPSG:32118"}, title: "NAD83 / New York Long Island", unit: 1, proj: ny, area: areaLongIsl, zone: zoneLongIsland},
		{names: []string{"ESRI:102696", "EPSG:102696"}, title: "NAD 1983 StatePlane Missouri East FIPS 2401 Feet", unit: USFoot, proj: mo, area: areaMissouri, zone: zoneMissouriEast},
		{names: []string{"EPSG:26996"}, title: "NAD83 / Missouri East", unit: 1, proj: mo, area: areaMissouri, zone: zoneMissouriEast},
		{names: []string{"EPSG:26985"}, title: "NAD83 / Maryland", unit: 1, proj: md, area: areaMaryland, zone: zoneMaryland},
		{names: []string{"EPSG:2248"}, title: "NAD83 / Maryland (ftUS)", unit: USFoot, proj: md, area: areaMaryland, zone: zoneMaryland},
	}
}()

// Names lists the names Lookup accepts, sorted.
func Names() []string {
	var out []string
	for _, d := range all {
		out = append(out, d.names...)
	}
	sort.Strings(out)
	return out
}

// All lists the supported systems, each once, in a fixed order: what a caller that must try
// every system (schema inference, placing a file's x/y columns) ranges over.
func All() []*CRS { return slices.Clone(all) }

// Name is the system's preferred name, the first Lookup accepts ("ESRI:102696", not its
// alias "EPSG:102696").
func (c *CRS) Name() string { return c.names[0] }

// Lookup finds a CRS by name ("EPSG:3435"), case-insensitively. The error lists the
// supported names.
func Lookup(name string) (*CRS, error) {
	for _, d := range all {
		if slices.ContainsFunc(d.names, func(n string) bool { return strings.EqualFold(n, strings.TrimSpace(name)) }) {
			return d, nil
		}
	}
	if len(name) > 80 {
		name = name[:80] + "…"
	}
	return nil, fmt.Errorf("unknown crs %q (supported: %s)", name, strings.Join(Names(), ", "))
}

// Title is the system's name in the EPSG (or ESRI) registry.
func (c *CRS) Title() string { return c.title }

// Area is where the system is used, as [minLon, minLat, maxLon, maxLat].
func (c *CRS) Area() [4]float64 { return c.area }

// Zone is the zone's area of use in the EPSG registry, [minLon, minLat, maxLon, maxLat]:
// where a city whose exports use the system lies. ToLatLon keeps points in the wider Area.
func (c *CRS) Zone() [4]float64 { return c.zone }

// ToLatLon converts x (easting) and y (northing), in the system's unit, to WGS84. ok is
// false when the point is no location: 0/0 (the usual placeholder, which converts to a
// real-looking spot far from any city) or a result outside the system's area.
func (c *CRS) ToLatLon(x, y float64) (lat, lon float64, ok bool) {
	if x == 0 && y == 0 {
		return 0, 0, false
	}
	e, n := x*c.unit, y*c.unit
	lon, lat = c.toLonLat(e, n)
	// The library's inverse transverse Mercator is off by up to a metre or two across a
	// zone (its series raises a term to the integer 3/2), while its forward projection is
	// good to millimetres: one correction step by the forward projection's residual brings
	// the inverse to the forward's accuracy. Lambert conformal conic gains nothing and
	// loses nothing by it.
	e2, n2 := c.fromLonLat(lon, lat)
	lon, lat = c.toLonLat(e+(e-e2), n+(n-n2))
	a := c.area
	if math.IsNaN(lat) || math.IsNaN(lon) || lon < a[0] || lat < a[1] || lon > a[2] || lat > a[3] {
		return 0, 0, false
	}
	return lat, lon, true
}

// FromLatLon converts a WGS84 point to x (easting) and y (northing) in the system's unit.
func (c *CRS) FromLatLon(lat, lon float64) (x, y float64) {
	e, n := c.fromLonLat(lon, lat)
	return e / c.unit, n / c.unit
}

func (c *CRS) toLonLat(e, n float64) (lon, lat float64) { return c.proj.toLonLat(e, n) }

func (c *CRS) fromLonLat(lon, lat float64) (e, n float64) { return c.proj.fromLonLat(lon, lat) }
