package crs

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wroge/wgs84"

	"github.com/ireports/ireports/internal/cputime"
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

// TestAll lists each system once, under the name Lookup finds it by.
func TestAll(t *testing.T) {
	seen := map[*CRS]bool{}
	for _, c := range All() {
		if got, err := Lookup(c.Name()); err != nil || got != c || seen[c] {
			t.Errorf("%s: Lookup %v, %v; listed twice: %v", c.Name(), got, err, seen[c])
		}
		seen[c] = true
	}
	for _, n := range Names() {
		if c, _ := Lookup(n); !seen[c] {
			t.Errorf("%s is not in All", n)
		}
	}
	for _, c := range All() {
		z, a := c.Zone(), c.Area()
		lon, lat := (z[0]+z[2])/2, (z[1]+z[3])/2
		if !(z[0] < z[2] && z[1] < z[3] && a[0] <= lon && lon <= a[2] && a[1] <= lat && lat <= a[3]) {
			t.Errorf("%s: zone %v is not a box centred in the area %v", c.Name(), z, a)
		}
	}
	if c, _ := Lookup("EPSG:102696"); c.Name() != "ESRI:102696" {
		t.Errorf("EPSG:102696's name is %q, want its registry's, ESRI:102696", c.Name())
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

// libraryProjection is a system's projection as github.com/wroge/wgs84 computes it, the
// reference proj.go must match bit for bit.
func libraryProjection(t *testing.T, c *CRS) wgs84.ProjectedReferenceSystem {
	t.Helper()
	switch c.proj.(type) {
	case *tm:
		p := missouriEast
		if c.area == areaIllinois {
			p = illinoisEast
		}
		return wgs84.NAD83().TransverseMercator(p.lonf, p.latf, p.scale, p.eastf, p.northf)
	case *lcc:
		p := maryland
		if c.area == areaLongIsl {
			p = nyLongIsland
		}
		return wgs84.NAD83().LambertConformalConic2SP(p.lonf, p.latf, p.lat1, p.lat2, p.eastf, p.northf)
	}
	t.Fatalf("%s: unknown projection %T", c.title, c.proj)
	return wgs84.ProjectedReferenceSystem{}
}

// TestProjectionsMatchLibrary checks that proj.go's arithmetic gives the library's float64
// bits, in both directions and through ToLatLon's correction step, over each system's area
// and a margin around it: the lake stores these bits, and they must not change.
func TestProjectionsMatchLibrary(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 30
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range all {
		sys := libraryProjection(t, c)
		var sph wgs84.Spheroid = sys.Datum
		ref := func(x, y float64) (lat, lon float64) {
			e, n := x*c.unit, y*c.unit
			lon, lat = sys.Projection.ToLonLat(e, n, sph)
			e2, n2 := sys.Projection.FromLonLat(lon, lat, sph)
			lon, lat = sys.Projection.ToLonLat(e+(e-e2), n+(n-n2), sph)
			if a := c.area; lon < a[0] || lat < a[1] || lon > a[2] || lat > a[3] {
				return 0, 0
			}
			return lat, lon
		}
		a := c.area
		mismatches := 0
		for i := range n * n {
			lon := a[0] - 0.5 + (a[2]-a[0]+1)*(float64(i%n)+rng.Float64())/float64(n)
			lat := a[1] - 0.5 + (a[3]-a[1]+1)*(float64(i/n)+rng.Float64())/float64(n)
			we, wn := sys.Projection.FromLonLat(lon, lat, sph)
			ge, gn := c.fromLonLat(lon, lat)
			wlon, wlat := sys.Projection.ToLonLat(we, wn, sph)
			glon, glat := c.toLonLat(we, wn)
			x, y := c.FromLatLon(lat, lon)
			x, y = math.Round(x*100)/100, math.Round(y*100)/100 // as exports write them
			rlat, rlon := ref(x, y)
			clat, clon, _ := c.ToLatLon(x, y)
			if !same(ge, we) || !same(gn, wn) || !same(glon, wlon) || !same(glat, wlat) || !same(clat, rlat) || !same(clon, rlon) {
				if mismatches++; mismatches <= 5 {
					t.Errorf("%s at (%v, %v): from (%v, %v) want (%v, %v); to (%v, %v) want (%v, %v); ToLatLon(%v, %v) = (%v, %v) want (%v, %v)",
						c.title, lon, lat, ge, gn, we, wn, glon, glat, wlon, wlat, x, y, clat, clon, rlat, rlon)
				}
			}
		}
		if mismatches > 0 {
			t.Errorf("%s: %d of %d points differ from the library", c.title, mismatches, n*n)
		}
	}
}

func same(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func BenchmarkToLatLon(b *testing.B) {
	for _, name := range []string{"ESRI:102696", "EPSG:3435", "EPSG:26985"} {
		c, err := Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		a := c.area
		x, y := c.FromLatLon((a[1]+a[3])/2, (a[0]+a[2])/2)
		b.Run(name, func(b *testing.B) {
			cpu0 := cputime.Process()
			for i := 0; b.Loop(); i++ {
				c.ToLatLon(x+float64(i%1000), y+float64(i%777))
			}
			// CPU time per point: on a loaded machine, wall time measures the neighbours.
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
