package gen

import (
	"math"
	"math/rand/v2"
	"sort"
)

// This file holds the statistical model shared by all formats: what a request is, when it
// is created and closed, and where it is. The vocabularies and neighbourhood centres are
// modelled on the real exports (names of types, agencies and places are public
// categories, not rows); every value combination is drawn at random.

// reqType is one request type of a city with its own resolution-time distribution.
type reqType struct {
	name    string   // complaint/request type as the city spells it
	subs    []string // descriptors / subtypes, picked uniformly
	agency  string   // short agency code or owner
	agName  string   // long agency name, where the format has one
	weight  float64
	median  float64 // median hours to close
	night   bool    // peaks in the evening and at night (noise) instead of office hours
	extra   string  // format-specific category (SF Category, Boston queue, NYC location type)
	extra2  string  // second format-specific field (Boston reason, department)
	resolve string  // resolution text written on closed requests
}

// place is a neighbourhood centre: the cluster coordinates are drawn around.
type place struct {
	name     string // neighbourhood (or city/borough-level place name)
	district string // borough, police district, supervisor district …
	zip      string
	lat, lon float64
	sigma    float64 // degrees of latitude; longitude spread is scaled by the latitude
	weight   float64
}

// cityModel is everything the formats of one city draw from.
type cityModel struct {
	name        string
	minLat      float64
	maxLat      float64
	minLon      float64
	maxLon      float64
	types       []reqType
	places      []place
	streets     []string
	channels    []string
	chWeights   []float64
	openShare   float64 // requests never closed
	noLocShare  float64 // rows with empty coordinates
	placeholder float64 // rows with the city's placeholder coordinates
	sigmaLog    float64 // log-normal sigma of the resolution time

	typeCum  []float64
	placeCum []float64
	chCum    []float64
}

func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	s := 0.0
	for i, v := range w {
		s += v
		c[i] = s
	}
	for i := range c {
		c[i] /= s
	}
	return c
}

// pick draws an index from a cumulative distribution.
func pick(rng *rand.Rand, cum []float64) int {
	i := sort.SearchFloat64s(cum, rng.Float64())
	if i >= len(cum) {
		i = len(cum) - 1
	}
	return i
}

func (c *cityModel) init() {
	tw := make([]float64, len(c.types))
	for i, t := range c.types {
		tw[i] = t.weight
	}
	c.typeCum = cumulative(tw)
	pw := make([]float64, len(c.places))
	for i, p := range c.places {
		pw[i] = p.weight
	}
	c.placeCum = cumulative(pw)
	c.chCum = cumulative(c.chWeights)
}

// locKind says what a row's coordinates are.
type locKind uint8

const (
	locPoint       locKind = iota
	locNone                // empty coordinates
	locPlaceholder         // the city's fake coordinates
)

// badKind is the kind of an injected reject.
type badKind uint8

const (
	badNone badKind = iota
	badMissingID
	badDate
	badRagged
	badQuote
)

// The Stats.Bad keys, one per kind of injected reject.
const (
	BadMissingID = "missing_id"      // the request id field is empty (or absent in JSON)
	BadDate      = "bad_date"        // created date parses in none of the city's layouts
	BadRagged    = "ragged"          // the row has one field fewer than the header
	BadQuote     = "malformed_quote" // a quoted field followed by text before the comma
)

func (k badKind) String() string {
	switch k {
	case badMissingID:
		return BadMissingID
	case badDate:
		return BadDate
	case badRagged:
		return BadRagged
	case badQuote:
		return BadQuote
	}
	return "none"
}

// request is one generated request version; renderers turn it into a row.
type request struct {
	id      int64
	created stamp
	closed  stamp // zero: open
	final   stamp // when the request closes, even if this version is written open
	updated stamp
	typ     *reqType
	sub     string
	place   *place
	lat     float64
	lon     float64
	loc     locKind
	channel string
	open    bool   // written as open (no closed date)
	update  bool   // the later, closed version of a duplicated request
	aux     uint64 // seeds the renderer's secondary fields, so both versions agree
	bad     badKind
	badText string // the unparseable date of a badDate row
}

// timeModel draws created and closed times inside [from, to) days since 1970.
type timeModel struct {
	from, to int64
}

// Day-of-week and month acceptance weights: weekdays busier than weekends, summer busier
// than winter (the seasonal shape of most cities' 311 volume).
var (
	dowWeight   = [7]float64{0.55, 1, 0.97, 0.95, 0.93, 0.88, 0.62} // Sun..Sat
	monthWeight = [13]float64{0, 0.82, 0.8, 0.9, 0.93, 0.98, 1, 1, 0.99, 0.95, 0.92, 0.86, 0.84}
)

// Hour-of-day shapes. Office hours peak at 9-15; the night shape (noise) peaks at 22-01.
var (
	hourDay   = cumulative([]float64{1, 0.6, 0.4, 0.3, 0.35, 0.6, 1.5, 3.5, 6, 7.5, 8, 8, 7.5, 7.8, 7.6, 7, 6, 5, 4, 3.4, 3, 2.6, 2, 1.4})
	hourEnd   = cumulative([]float64{1.4, 1, 0.6, 0.4, 0.4, 0.5, 0.9, 1.6, 2.8, 4, 4.8, 5, 5, 4.8, 4.6, 4.3, 4, 3.6, 3.2, 2.8, 2.5, 2.2, 1.9, 1.6})
	hourNight = cumulative([]float64{7, 5.5, 4, 2.6, 1.4, 0.8, 0.6, 0.7, 1, 1.4, 1.8, 2, 2.2, 2.3, 2.5, 2.8, 3.2, 3.8, 4.5, 5.2, 6, 7, 7.8, 8})
)

// created draws a wall-clock creation time.
func (tm timeModel) created(rng *rand.Rand, night bool) stamp {
	var day int64
	for {
		day = tm.from + rng.Int64N(tm.to-tm.from)
		_, m, _ := civil(day)
		if rng.Float64() < dowWeight[weekday(day)]*monthWeight[m] {
			break
		}
	}
	wd := weekday(day)
	var cum []float64
	switch {
	case night:
		cum = hourNight
	case wd == 0 || wd == 6:
		cum = hourEnd
	default:
		cum = hourDay
	}
	h := int64(pick(rng, cum))
	sec := day*86400 + h*3600 + rng.Int64N(3600)
	return stamp{sec: sec, ms: int32(rng.IntN(1000))}
}

// duration draws seconds to close: log-normal around the type's median, at least a
// minute, at most three years.
func duration(rng *rand.Rand, median, sigma float64) int64 {
	h := median * math.Exp(sigma*rng.NormFloat64())
	s := int64(h * 3600)
	const maxDur = 3 * 365 * 86400
	switch {
	case s < 60:
		s = 60 + rng.Int64N(240)
	case s > maxDur:
		s = maxDur - rng.Int64N(86400)
	}
	return s
}

// point draws coordinates around p, kept inside the city's bounding box.
func (c *cityModel) point(rng *rand.Rand, p *place) (lat, lon float64) {
	scale := 1 / math.Cos(p.lat*math.Pi/180)
	for range 4 {
		lat = p.lat + rng.NormFloat64()*p.sigma
		lon = p.lon + rng.NormFloat64()*p.sigma*scale
		if lat > c.minLat && lat < c.maxLat && lon > c.minLon && lon < c.maxLon {
			return lat, lon
		}
	}
	return p.lat, p.lon
}
