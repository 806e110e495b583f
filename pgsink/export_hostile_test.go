package pgsink

import (
	"math/rand/v2"
	"time"

	"github.com/ireports/ireports/jobs"
)

// The hostile record generator of publishable_test.go, for this package's external tests
// (merge_hostile_test.go, which runs jobs through package coordinator: an import this
// package's own tests cannot make).

// HostileSchema is one schema under test and the CSV header its records are made for.
type HostileSchema = hostileSchema

// HostileSchemas returns every built-in schema and the custom ones of customSchemas.
var HostileSchemas = hostileSchemas

// HostileText returns a hostile text value.
var HostileText = hostileText

// Gen makes one raw CSV record, hostile in every field; i makes its request id unique.
func (h *hostileSchema) Gen(rng *rand.Rand, i int) [][]byte { return h.gen(rng, i) }

// Set puts v in field's columns of fields.
func (h *hostileSchema) Set(fields [][]byte, field, v string) { h.set(fields, field, v) }

// Has reports whether the schema reads field from a column.
func (h *hostileSchema) Has(field string) bool { return len(h.col[field]) > 0 }

// Get returns field's value in fields (joined columns between spaces).
func (h *hostileSchema) Get(fields [][]byte, field string) string {
	v := ""
	for j, c := range h.col[field] {
		if j > 0 {
			v += " "
		}
		v += string(fields[c])
	}
	return v
}

// Format writes t in one of field f's layouts, as the generator does.
func (h *hostileSchema) Format(rng *rand.Rand, f string, t time.Time) string {
	_, off := t.Zone()
	return h.format(rng, f, t, off).text
}

// Schema and Header are the schema and the CSV header.
func (h *hostileSchema) Schema() *jobs.Schema { return h.s }
func (h *hostileSchema) Header() []string     { return h.header }

// Object writes fields as a SODA JSON object, as the generator does (noise: the odd lone
// surrogate or escaped control character).
func (h *hostileSchema) Object(fields [][]byte, noise bool, rng *rand.Rand) []byte {
	return h.object(fields, noise, rng)
}
