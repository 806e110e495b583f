package jobs

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/wroge/wgs84"

	"github.com/ireports/ireports/record"
)

// Projected coordinates. Some exports locate a request only in their state's plane
// coordinate system — St. Louis writes SRX/SRY in Missouri East US survey feet and no
// latitude — so a point field may read x/y columns in a named CRS:
//
//	field "point" { x = "SRX", y = "SRY", crs = "ESRI:102696" }
//
// The conversion to WGS84 longitude/latitude is github.com/wroge/wgs84's (pure Go, so
// releases stay CGO-free). That library ships few EPSG codes; the state-plane systems the
// cities use are defined here from their published parameters on its NAD83 datum, which
// it treats as WGS84 (they differ by about a metre, less than the cities' own geocoding).
// The real files that carry both (Chicago, NYC, DC) check every conversion against the
// published latitude/longitude (TestProjectionAgainstPublished).

// usFoot is the US survey foot in metres, the unit of the "(ftUS)" state-plane systems.
const usFoot = 1200.0 / 3937.0

// crsDef is one supported coordinate reference system.
type crsDef struct {
	names []string // "EPSG:2263", accepted case-insensitively
	title string
	unit  float64 // metres per coordinate unit
	crs   wgs84.ProjectedReferenceSystem
	// area is where the system is used, [minLon, minLat, maxLon, maxLat] with a margin: a
	// point converted outside it is a placeholder or a mistake, not a location.
	area [4]float64
}

// The parameters are those of the EPSG registry (ESRI's for 102696, which has no EPSG
// twin in US feet), on the GRS80 ellipsoid.
var (
	illinoisEast = wgs84.NAD83().TransverseMercator(-88-20.0/60, 36+40.0/60, 0.999975, 300000, 0)
	nyLongIsland = wgs84.NAD83().LambertConformalConic2SP(-74, 40+10.0/60, 41+2.0/60, 40+40.0/60, 300000, 0)
	missouriEast = wgs84.NAD83().TransverseMercator(-90.5, 35+50.0/60, 1-1.0/15000, 250000, 0)
	maryland     = wgs84.NAD83().LambertConformalConic2SP(-77, 37+40.0/60, 39.45, 38.3, 400000, 0)

	areaIllinois = [4]float64{-91.6, 36.9, -87.0, 42.6}
	areaLongIsl  = [4]float64{-74.3, 40.4, -71.7, 41.4}
	areaMissouri = [4]float64{-91.9, 35.9, -89.0, 40.7}
	areaMaryland = [4]float64{-79.6, 37.8, -74.9, 39.8}
)

var crsDefs = []crsDef{
	{names: []string{"EPSG:3435"}, title: "NAD83 / Illinois East (ftUS)", unit: usFoot, crs: illinoisEast, area: areaIllinois},
	{names: []string{"EPSG:26971"}, title: "NAD83 / Illinois East", unit: 1, crs: illinoisEast, area: areaIllinois},
	{names: []string{"EPSG:2263"}, title: "NAD83 / New York Long Island (ftUS)", unit: usFoot, crs: nyLongIsland, area: areaLongIsl},
	{names: []string{"EPSG:32118"}, title: "NAD83 / New York Long Island", unit: 1, crs: nyLongIsland, area: areaLongIsl},
	{names: []string{"ESRI:102696", "EPSG:102696"}, title: "NAD 1983 StatePlane Missouri East FIPS 2401 Feet", unit: usFoot, crs: missouriEast, area: areaMissouri},
	{names: []string{"EPSG:26996"}, title: "NAD83 / Missouri East", unit: 1, crs: missouriEast, area: areaMissouri},
	{names: []string{"EPSG:26985"}, title: "NAD83 / Maryland", unit: 1, crs: maryland, area: areaMaryland},
	{names: []string{"EPSG:2248"}, title: "NAD83 / Maryland (ftUS)", unit: usFoot, crs: maryland, area: areaMaryland},
}

// CRSNames lists the coordinate reference systems a point's crs may name, sorted.
func CRSNames() []string {
	var out []string
	for _, d := range crsDefs {
		out = append(out, d.names...)
	}
	sort.Strings(out)
	return out
}

// lookupCRS finds a CRS by name, case-insensitively.
func lookupCRS(name string) (*crsDef, error) {
	for i := range crsDefs {
		if slices.ContainsFunc(crsDefs[i].names, func(n string) bool { return strings.EqualFold(n, strings.TrimSpace(name)) }) {
			return &crsDefs[i], nil
		}
	}
	return nil, fmt.Errorf("unknown crs %q (supported: %s)", truncateForMessage(name), strings.Join(CRSNames(), ", "))
}

// projection converts one CRS's x/y to latitude/longitude. It holds no mutable state: a
// Normalizer's copy is used by one goroutine, but sharing would be safe too.
type projection struct {
	def      *crsDef
	to, from wgs84.Func // to WGS84 longitude/latitude, and back
}

func newProjection(name string) (*projection, error) {
	d, err := lookupCRS(name)
	if err != nil {
		return nil, err
	}
	return &projection{def: d, to: d.crs.To(wgs84.LonLat()), from: d.crs.From(wgs84.LonLat())}, nil
}

// latLon converts x (easting) and y (northing) in the CRS's unit. ok is false when the
// point is no location: 0/0 (the usual placeholder, which converts to a real-looking spot
// far from the city) or a result outside the CRS's area.
func (p *projection) latLon(x, y float64) (lat, lon float64, ok bool) {
	if x == 0 && y == 0 {
		return 0, 0, false
	}
	e, n := x*p.def.unit, y*p.def.unit
	lon, lat, _ = p.to(e, n, 0)
	// The library's inverse transverse Mercator is off by up to a metre or two across a
	// zone (its series raises a term to the integer 3/2), while its forward projection is
	// good to millimetres: one correction step by the forward projection's residual brings
	// the inverse to the forward's accuracy. Lambert conformal conic gains nothing and
	// loses nothing by it.
	e2, n2, _ := p.from(lon, lat, 0)
	lon, lat, _ = p.to(e+(e-e2), n+(n-n2), 0)
	a := p.def.area
	if math.IsNaN(lat) || math.IsNaN(lon) || lon < a[0] || lat < a[1] || lon > a[2] || lat > a[3] {
		return 0, 0, false
	}
	return lat, lon, true
}

// checkProjected checks a point field's x, y and crs together.
func checkProjected(f Field) error {
	if len(f.X) == 0 && len(f.Y) == 0 && f.CRS == "" {
		return nil
	}
	if f.Name != fieldNames[fPoint] {
		return fmt.Errorf("field %q: x, y and crs apply only to point", f.Name)
	}
	if len(f.X) == 0 || len(f.Y) == 0 || f.CRS == "" {
		return fmt.Errorf("field %q: x, y and crs go together: give all three (x = \"SRX\", y = \"SRY\", crs = \"EPSG:3435\")", f.Name)
	}
	_, err := lookupCRS(f.CRS)
	return err
}

// checkFieldColumns checks where a field's value comes from: columns, and for a point
// x/y/crs, which may stand in for columns.
func checkFieldColumns(f Field) error {
	if err := checkProjected(f); err != nil {
		return err
	}
	if len(f.Columns) == 0 && len(f.X) > 0 {
		return nil
	}
	if err := checkCandidates(f.Columns); err != nil {
		return fmt.Errorf("field %q: %v", f.Name, err)
	}
	return nil
}

// decodeProjected reads a field block's x, y and crs into f and reports, at the block, a
// field that names no column at all (columns is required unless x/y/crs stand in for it).
func decodeProjected(block *hcl.Block, content *hcl.BodyContent, f *Field, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range []string{"x", "y", "crs"} {
		a := content.Attributes[name]
		if a == nil {
			continue
		}
		if f.Name != fieldNames[fPoint] {
			diags = append(diags, diagAt(a.NameRange, "Unexpected "+name, name+" applies only to the point field (projected coordinates)."))
			continue
		}
		switch name {
		case "x", "y":
			v, d := evalNames(a, ctx)
			diags = append(diags, d...)
			if name == "x" {
				f.X = v
			} else {
				f.Y = v
			}
		case "crs":
			v, d := evalString(a, ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if _, err := lookupCRS(v); err != nil {
					diags = append(diags, diagAt(a.Expr.Range(), "Unknown crs", err.Error()+"."))
				}
			}
			f.CRS = v
		}
	}
	if diags.HasErrors() {
		return diags
	}
	if f.Name == fieldNames[fPoint] && (len(f.X) > 0 || len(f.Y) > 0 || f.CRS != "") && (len(f.X) == 0 || len(f.Y) == 0 || f.CRS == "") {
		diags = append(diags, diagAt(block.DefRange, "Incomplete projected point",
			`x, y and crs go together: give all three (x = "SRX", y = "SRY", crs = "ESRI:102696").`))
	}
	if content.Attributes["columns"] == nil && len(f.X) == 0 {
		diags = append(diags, diagAt(block.DefRange, "Missing columns",
			fmt.Sprintf(`Field %q needs columns = [...] (or, for point, x, y and crs).`, f.Name)))
	}
	return diags
}

// locateProjected sets r's location from the record's x/y columns. Null x or y is no
// location; a value that is not a number rejects the record, as a bad latitude does.
func (n *Normalizer) locateProjected(r *record.Request) error {
	xRaw, yRaw := n.value(n.xyVal[0]), n.value(n.xyVal[1])
	if xRaw == nil || yRaw == nil {
		return nil
	}
	x, ok := parseCoord(xRaw)
	if !ok {
		return reject(ReasonBadCoordinate, fPoint, n.xyName[0], xRaw)
	}
	y, ok := parseCoord(yRaw)
	if !ok {
		return reject(ReasonBadCoordinate, fPoint, n.xyName[1], yRaw)
	}
	lat, lon, ok := n.proj.latLon(x, y)
	if ok && n.usableLocation(lat, lon) {
		r.Latitude, r.Longitude, r.HasLocation = lat, lon, true
	}
	return nil
}
