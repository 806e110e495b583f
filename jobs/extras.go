package jobs

import (
	"slices"

	"github.com/ireports/ireports/internal/crs"
)

// extras is the state of the field kinds few schemas use — candidates that join several
// columns, points from projected x/y, integer floats — kept out of Normalizer itself so that
// a schema that uses none runs the same code as before they existed, bar one nil test per
// record (two when it has no latitude/longitude).
type extras struct {
	intFloats bool // Schema.IntegerFloats

	joined  bool                // some field's candidate joins several columns
	parts   [numFields][]int    // CSV: the columns a joined field's bound candidate joins
	partBuf [numFields][][]byte // CSV: the joined columns' raw values of the current record
	jcands  []jsonJoin          // JSON: every joined candidate, with its current parts
	keys    map[string][]extraRef
	joinBuf [numFields][]byte // joined values, reused per record

	proj   *crs.CRS    // the point field's projected system, nil when none
	xy     [2]int      // CSV: the x and y columns, -1 when absent
	xyName [2]string   // the x and y columns' (or keys') names, for rejects
	xyKey  [2][]string // JSON: x and y candidate keys in rank order
	xyVal  [2][]byte   // the current record's raw x and y
	xyRank [2]int      // JSON: the rank of the key xyVal came from, -1 for none
}

// jsonJoin is one joined candidate of a SODA normalizer: field f's candidate number rank,
// and the values of its keys in the current object (nil when absent).
type jsonJoin struct {
	f     fieldID
	rank  int
	parts [][]byte
}

// extraRef says what a SODA key feeds: with join >= 0, part number part of jcands[join];
// otherwise x (part 0) or y (part 1), as candidate number rank.
type extraRef struct {
	join, part, rank int
}

// newExtras returns the extras a schema needs, or nil when it joins no columns and
// projects no point.
func newExtras(s *Schema) *extras {
	var e *extras
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			continue
		}
		if id == fPoint && f.CRS != "" {
			// Validated with the schema; a CRS unknown here (a Schema literal built in Go
			// without validate) leaves the point without projected coordinates.
			if c, err := crs.Lookup(f.CRS); err == nil {
				if e == nil {
					e = &extras{}
				}
				e.proj = c
			}
		}
		if joins(f.Columns) && e == nil {
			e = &extras{}
		}
	}
	if s.IntegerFloats && e == nil {
		e = &extras{}
	}
	if e != nil {
		e.intFloats = s.IntegerFloats
		e.xy, e.xyRank = [2]int{-1, -1}, [2]int{-1, -1}
	}
	return e
}

// intFloatFields are the fields integer_floats applies to: the request id and kept text.
var intFloatFields = [...]fieldID{fRequestID, fStatus, fAgency, fRequestType, fRequestSubtype, fZip, fNeighborhood, fChannel}

// trimIntegerFloats reads the record's integer floats ("64108.0") as integers ("64108").
func (e *extras) trimIntegerFloats(vals *[numFields][]byte) {
	if !e.intFloats {
		return
	}
	for _, f := range intFloatFields {
		vals[f] = trimZeroFraction(trimSpace(vals[f]))
	}
}

// bindCSV takes what a header binding says about joined and projected columns and
// reports whether this file needs any of it.
func (e *extras) bindCSV(b *headerBinding) bool {
	e.parts = b.parts
	for f, p := range e.parts {
		if len(p) > 0 {
			e.joined = true
			e.partBuf[f] = make([][]byte, len(p))
		}
	}
	if e.proj != nil {
		e.xy, e.xyName = b.xy, b.xyName
		if e.xy[0] < 0 || e.xy[1] < 0 {
			e.proj = nil // the file has no x/y columns: the point comes from its text, if any
		}
	}
	return e.joined || e.proj != nil || e.intFloats
}

// fillExtras joins the current CSV record's joined fields into vals and picks up its x/y.
func (n *Normalizer) fillExtras(fields [][]byte, vals *[numFields][]byte) {
	e := n.ext
	if e.joined {
		for f, cols := range e.parts {
			if len(cols) == 0 {
				continue
			}
			parts := e.partBuf[f]
			for i, c := range cols {
				parts[i] = fields[c]
			}
			vals[f] = n.join(fieldID(f), parts)
		}
	}
	if e.proj != nil {
		e.xyVal[0], e.xyVal[1] = fields[e.xy[0]], fields[e.xy[1]]
	}
	e.trimIntegerFloats(vals)
}

// csvValue is field f's raw value in a CSV record as Normalize reads it: its column, or its
// joined columns' values joined (in a buffer reused by the next call for f).
func (n *Normalizer) csvValue(fields [][]byte, f fieldID) []byte {
	if n.ext != nil && len(n.ext.parts[f]) > 0 {
		parts := n.ext.partBuf[f]
		for i, c := range n.ext.parts[f] {
			parts[i] = fields[c]
		}
		return n.join(f, parts)
	}
	if c := n.col[f]; c >= 0 {
		return fields[c]
	}
	return nil
}

// bindJSON registers field f's joined candidates and, for a projected point, its x/y keys.
func (e *extras) bindJSON(id fieldID, f Field) {
	if e.keys == nil {
		e.keys = map[string][]extraRef{}
	}
	for rank, c := range f.Columns {
		if len(c) < 2 {
			continue
		}
		e.joined = true
		j := len(e.jcands)
		e.jcands = append(e.jcands, jsonJoin{f: id, rank: rank, parts: make([][]byte, len(c))})
		for part, k := range c {
			e.keys[k] = append(e.keys[k], extraRef{join: j, part: part, rank: rank})
		}
	}
	if id == fPoint && e.proj != nil {
		e.xyKey = [2][]string{f.X, f.Y}
		for k, cands := range e.xyKey {
			for rank, c := range cands {
				e.keys[c] = append(e.keys[c], extraRef{join: -1, part: k, rank: rank})
			}
		}
	}
}

// resetJSON forgets the previous object's joined parts and projected coordinates.
func (e *extras) resetJSON() {
	for i := range e.jcands {
		clear(e.jcands[i].parts)
	}
	e.xyVal = [2][]byte{}
	e.xyRank = [2]int{-1, -1}
}

// member takes one non-null member of a SODA object.
func (e *extras) member(key, val []byte) {
	for _, ref := range e.keys[string(key)] {
		switch {
		case ref.join >= 0:
			e.jcands[ref.join].parts[ref.part] = val
		case e.xyRank[ref.part] < 0 || ref.rank < e.xyRank[ref.part]:
			e.xyVal[ref.part], e.xyRank[ref.part] = val, ref.rank
			e.xyName[ref.part] = e.xyKey[ref.part][ref.rank]
		}
	}
}

// joinJSON gives each field whose joined candidate ranks before the single key it found
// (if any) the joined value. A joined candidate counts only when all its keys are present.
func (n *Normalizer) joinJSON(vals *[numFields][]byte, rank *[numFields]int) {
	for i := range n.ext.jcands {
		jc := &n.ext.jcands[i]
		if rank[jc.f] >= 0 && rank[jc.f] < jc.rank {
			continue
		}
		if slices.ContainsFunc(jc.parts, func(p []byte) bool { return p == nil }) {
			continue
		}
		vals[jc.f], rank[jc.f] = n.join(jc.f, jc.parts), jc.rank
	}
}
