package crs

import (
	"math"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, name := range []string{"EPSG:3435", "epsg:3435", " ESRI:102696 ", "EPSG:102696"} {
		if _, err := Lookup(name); err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
		}
	}
	_, err := Lookup("EPSG:4326" + strings.Repeat("x", 200))
	if err == nil || !strings.Contains(err.Error(), "supported: EPSG:102696") || len(err.Error()) > 400 {
		t.Errorf("unknown CRS: %v, want the supported names and a bounded echo", err)
	}
}

// TestPublishedPoints converts coordinates of real records whose latitude/longitude the
// cities publish (Chicago legacy street lights, NYC's portal, DC's ArcGIS layer).
func TestPublishedPoints(t *testing.T) {
	for _, tc := range []struct {
		crs            string
		x, y, lat, lon float64
	}{
		{"EPSG:3435", 1157077.82962754, 1875878.20800447, 41.81517646745516, -87.69933194705028},
		{"EPSG:26985", 401366.06, 134524.87, 38.87855545, -76.98425653},
		{"EPSG:3435", 1162234.142489, 1896559.966858, 41.871831277993564, -87.67984621876099},
	} {
		c, err := Lookup(tc.crs)
		if err != nil {
			t.Fatal(err)
		}
		lat, lon, ok := c.ToLatLon(tc.x, tc.y)
		dy := (lat - tc.lat) * 111_000
		dx := (lon - tc.lon) * 111_000 * math.Cos(tc.lat*math.Pi/180)
		if d := math.Hypot(dx, dy); !ok || d > 5 {
			t.Errorf("%s (%v, %v) → (%v, %v) ok=%v: %.2f m from the published (%v, %v)", tc.crs, tc.x, tc.y, lat, lon, ok, d, tc.lat, tc.lon)
		}
		if x, y := c.FromLatLon(lat, lon); math.Abs(x-tc.x) > 0.01/c.unit || math.Abs(y-tc.y) > 0.01/c.unit {
			t.Errorf("%s: back to (%v, %v), want (%v, %v)", tc.crs, x, y, tc.x, tc.y)
		}
	}
	c, _ := Lookup("ESRI:102696")
	for _, p := range [][2]float64{{0, 0}, {-90.2, 38.6}, {1e12, 1e12}} {
		if lat, lon, ok := c.ToLatLon(p[0], p[1]); ok {
			t.Errorf("(%v, %v) converts to (%v, %v), want no location", p[0], p[1], lat, lon)
		}
	}
}
