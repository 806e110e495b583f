package jobs

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/ireports/ireports/internal/crs"
	"github.com/ireports/ireports/record"
)

// Projected coordinates. Some exports locate a request only in their state's plane
// coordinate system — St. Louis writes SRX/SRY in Missouri East US survey feet and no
// latitude — so a point field may read x/y columns in a named CRS:
//
//	field "point" { x = "SRX", y = "SRY", crs = "ESRI:102696" }
//
// The conversion to WGS84 is internal/crs's (github.com/wroge/wgs84 with the state-plane
// systems' parameters). The real files that carry both (Chicago, NYC, DC) check every
// conversion against the published latitude/longitude (TestProjectionAgainstPublished).

// CRSNames lists the coordinate reference systems a point's crs may name, sorted.
func CRSNames() []string { return crs.Names() }

// lookupCRS finds a CRS by name; its error lists the supported ones.
func lookupCRS(name string) (*crs.CRS, error) { return crs.Lookup(name) }

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
	e := n.ext
	xRaw, yRaw := n.value(e.xyVal[0]), n.value(e.xyVal[1])
	if xRaw == nil || yRaw == nil {
		return nil
	}
	x, ok := parseCoord(xRaw)
	if !ok {
		return reject(ReasonBadCoordinate, fPoint, e.xyName[0], xRaw)
	}
	y, ok := parseCoord(yRaw)
	if !ok {
		return reject(ReasonBadCoordinate, fPoint, e.xyName[1], yRaw)
	}
	lat, lon, ok := e.proj.ToLatLon(x, y)
	if ok && n.usableLocation(lat, lon) {
		r.Latitude, r.Longitude, r.HasLocation = lat, lon, true
	}
	return nil
}
