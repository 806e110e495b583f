package jobs

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fieldID names a schema field. The order is the record's; Normalizer arrays are indexed by it.
type fieldID uint8

const (
	fRequestID fieldID = iota
	fCreatedAt
	fClosedAt
	fUpdatedAt
	fStatus
	fAgency
	fRequestType
	fRequestSubtype
	fLatitude
	fLongitude
	fPoint
	fZip
	fNeighborhood
	fChannel
	numFields
)

var fieldNames = [numFields]string{
	fRequestID:      "request_id",
	fCreatedAt:      "created_at",
	fClosedAt:       "closed_at",
	fUpdatedAt:      "updated_at",
	fStatus:         "status",
	fAgency:         "agency",
	fRequestType:    "request_type",
	fRequestSubtype: "request_subtype",
	fLatitude:       "latitude",
	fLongitude:      "longitude",
	fPoint:          "point",
	fZip:            "zip",
	fNeighborhood:   "neighborhood",
	fChannel:        "channel",
}

func lookupField(name string) (fieldID, bool) {
	for i, n := range fieldNames {
		if n == name {
			return fieldID(i), true
		}
	}
	return numFields, false
}

func (f fieldID) isTime() bool { return f == fCreatedAt || f == fClosedAt || f == fUpdatedAt }

// FieldNames lists the field names a schema may map, in record order.
func FieldNames() []string { return slices.Clone(fieldNames[:]) }

// Schema maps one city's raw exports onto record.Request. It is built from a `schema` block
// (Parse, or the embedded built-ins) or decoded from JSON; both validate it completely, so a
// Schema in hand is always usable. A Schema is immutable once built: share it freely, but do not
// modify its fields (Bind reads them).
type Schema struct {
	Name     string `json:"name"`
	City     string `json:"city"`     // the record's City and the lake's city= partition value
	Timezone string `json:"timezone"` // IANA name; local timestamps are read in it
	// Nulls are raw values read as null, compared after trimming spaces. The empty string is
	// always null.
	Nulls []string `json:"nulls,omitempty"`
	// TimeLayouts apply to every time field without its own Layouts: Go layouts, strftime
	// patterns ("%m/%d/%Y %I:%M %p"), or unix, unix_ms, rfc3339. Tried in order; the first
	// that parses wins. ["auto"], the default, detects each file's dialect per column instead
	// (dialect.go).
	TimeLayouts []string `json:"time_layouts"`
	// DateOrder settles an "auto" column whose sample fits both month/day and day/month
	// (every day ≤ 12): "mdy" (the default) or "dmy".
	DateOrder string `json:"date_order,omitempty"`
	// PlaceholderPoints are [lat, lon] pairs meaning "location unknown"; 0,0 always is one.
	PlaceholderPoints [][2]float64 `json:"placeholder_points,omitempty"`
	// RepairMojibake repairs text that was UTF-8, read as Latin-1/Windows-1252 and encoded to
	// UTF-8 again (the NYC portal's "Â " for a no-break space).
	RepairMojibake bool `json:"repair_mojibake,omitempty"`
	// IntegerFloats reads a text value written as a number with a zero fraction ("64108.0",
	// as a pandas round trip writes a column of integers with gaps) as the integer it was
	// ("64108"), in request_id and every kept text field.
	IntegerFloats bool `json:"integer_floats,omitempty"`
	// Fields in declaration order; request_id and created_at are always present.
	Fields []Field `json:"fields"`

	// Location is Timezone loaded; set by every constructor.
	Location *time.Location `json:"-"`
}

// Field maps one normalized field to candidate source columns (or SODA JSON keys).
type Field struct {
	Name string `json:"name"` // one of FieldNames()
	// Columns are the candidates; the first present in a header wins. A candidate of several
	// columns joins their values with a space (a date column and a time column).
	Columns []Candidate `json:"columns"`
	Layouts []string    `json:"layouts,omitempty"` // time fields: overrides the schema's TimeLayouts
	Closed  []string    `json:"closed,omitempty"`  // status: raw values (any case) meaning closed
	Open    []string    `json:"open,omitempty"`    // status: raw values meaning open; others are "other"
	// X and Y (candidate columns, first present wins) and CRS locate a point in projected
	// coordinates, converted to WGS84 (proj.go); point only, used when latitude/longitude and
	// the point's text columns give no location. Columns may then be empty.
	X   []string `json:"x,omitempty"`
	Y   []string `json:"y,omitempty"`
	CRS string   `json:"crs,omitempty"`
}

// Field returns the schema's mapping of a normalized field.
func (s *Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// layoutsFor returns the layouts a time field is parsed with.
func (s *Schema) layoutsFor(f Field) []string {
	if len(f.Layouts) > 0 {
		return f.Layouts
	}
	return s.TimeLayouts
}

// The checks below are shared by the HCL decoder (which turns their errors into diagnostics at
// the offending attribute) and by validate (for schemas decoded from JSON).

// maxCity bounds a city's name, in bytes: a path component of the lake (city=<name>) and the
// first column of every summary table's primary key.
const maxCity = 64

func checkCity(city string) error {
	if city == "" {
		return fmt.Errorf("city must not be empty")
	}
	if len(city) > maxCity {
		return fmt.Errorf("city %.20q… is %d bytes long, more than %d (it names a lake partition and keys every summary table)", city, len(city), maxCity)
	}
	for _, c := range city {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("city %q must be lower-case letters, digits, '_' or '-' (it names a lake partition)", city)
		}
	}
	return nil
}

func loadTimezone(name string) (*time.Location, error) {
	// time.LoadLocation("") is UTC: refuse it, a city without a time zone is a schema bug.
	if name == "" {
		return nil, fmt.Errorf("timezone must not be empty (an IANA name such as \"America/New_York\")")
	}
	if name == "Local" {
		// time.LoadLocation's name for the machine's own zone: each worker would read the
		// city's times in its own.
		return nil, fmt.Errorf("timezone %q is each machine's own zone, not the city's: name it (an IANA name such as \"America/New_York\")", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as \"America/New_York\"): %v", name, err)
	}
	return loc, nil
}

func checkLayouts(ls []string) error {
	if len(ls) == 0 {
		return fmt.Errorf("the list of time layouts must not be empty")
	}
	for _, l := range ls {
		if _, err := compileLayout(l); err != nil {
			return err
		}
		if l == LayoutAuto && len(ls) > 1 {
			return errAutoAlone
		}
	}
	return nil
}

func checkPoint(p [2]float64) error {
	if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.Abs(p[0]) > 90 || math.Abs(p[1]) > 180 {
		return fmt.Errorf("placeholder point [%v, %v] is not a [latitude, longitude] pair", p[0], p[1])
	}
	return nil
}

// validate checks a schema that did not come through the HCL decoder and loads its time zone.
func (s *Schema) validate() error {
	wrap := func(err error) error { return fmt.Errorf("schema %q: %w: %v", s.Name, ErrSpec, err) }
	if s.Name == "" {
		return fmt.Errorf("schema without a name: %w", ErrSpec)
	}
	if err := checkCity(s.City); err != nil {
		return wrap(err)
	}
	loc, err := loadTimezone(s.Timezone)
	if err != nil {
		return wrap(err)
	}
	if len(s.TimeLayouts) == 0 {
		s.TimeLayouts = []string{LayoutAuto}
	}
	if err := checkLayouts(s.TimeLayouts); err != nil {
		return wrap(err)
	}
	if err := checkDateOrder(s.DateOrder); err != nil {
		return wrap(err)
	}
	for _, p := range s.PlaceholderPoints {
		if err := checkPoint(p); err != nil {
			return wrap(err)
		}
	}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		id, ok := lookupField(f.Name)
		if !ok {
			return wrap(fmt.Errorf("unknown field %q (known: %s)", f.Name, strings.Join(fieldNames[:], ", ")))
		}
		if seen[f.Name] {
			return wrap(fmt.Errorf("field %q mapped twice", f.Name))
		}
		seen[f.Name] = true
		if err := checkFieldColumns(f); err != nil {
			return wrap(err)
		}
		if len(f.Layouts) > 0 {
			if !id.isTime() {
				return wrap(fmt.Errorf("field %q: layouts apply only to created_at, closed_at and updated_at", f.Name))
			}
			if err := checkLayouts(f.Layouts); err != nil {
				return wrap(fmt.Errorf("field %q: %v", f.Name, err))
			}
		}
		if (len(f.Closed) > 0 || len(f.Open) > 0) && id != fStatus {
			return wrap(fmt.Errorf("field %q: closed and open apply only to status", f.Name))
		}
	}
	for _, req := range []string{"request_id", "created_at"} {
		if !seen[req] {
			return wrap(fmt.Errorf("required field %q is not mapped", req))
		}
	}
	s.Location = loc
	return nil
}

// UnmarshalJSON decodes and validates a schema, so a worker can trust what the coordinator sent.
func (s *Schema) UnmarshalJSON(data []byte) error {
	type plain Schema
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*s = Schema(p)
	return s.validate()
}

// clone returns a deep copy, so that handing out a built-in never lets a caller alter it.
func (s *Schema) clone() *Schema {
	c := *s
	c.Nulls = slices.Clone(s.Nulls)
	c.TimeLayouts = slices.Clone(s.TimeLayouts)
	c.PlaceholderPoints = slices.Clone(s.PlaceholderPoints)
	c.Fields = make([]Field, len(s.Fields))
	for i, f := range s.Fields {
		c.Fields[i] = Field{Name: f.Name, Columns: cloneCandidates(f.Columns), Layouts: slices.Clone(f.Layouts),
			Closed: slices.Clone(f.Closed), Open: slices.Clone(f.Open),
			X: slices.Clone(f.X), Y: slices.Clone(f.Y), CRS: f.CRS}
	}
	return &c
}

var schemaBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "city", Required: true},
		{Name: "timezone", Required: true},
		{Name: "nulls"},
		{Name: "time_layouts"},
		{Name: "date_order"},
		{Name: "placeholder_points"},
		{Name: "repair_mojibake"},
		{Name: "integer_floats"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "field", LabelNames: []string{"name"}}},
}

var fieldBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "columns"}, // required but for a projected point: checkFieldColumns
		{Name: "layouts"},
		{Name: "closed"},
		{Name: "open"},
		{Name: "x"},
		{Name: "y"},
		{Name: "crs"},
	},
}

// decodeSchema decodes and validates one `schema "name" { ... }` block, reporting every problem
// at its position.
func decodeSchema(block *hcl.Block, ctx *hcl.EvalContext) (*Schema, hcl.Diagnostics) {
	s := &Schema{Name: block.Labels[0]}
	content, diags := block.Body.Content(schemaBlockSchema)
	if a := content.Attributes["city"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if err := checkCity(v); err != nil {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad city", err.Error()+"."))
			}
			s.City = v
		}
	}
	if a := content.Attributes["timezone"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			loc, err := loadTimezone(v)
			if err != nil {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad time zone", err.Error()+"."))
			}
			s.Timezone, s.Location = v, loc
		}
	}
	if a := content.Attributes["nulls"]; a != nil {
		v, d := evalStrings(a, ctx)
		diags = append(diags, d...)
		s.Nulls = v
	}
	s.TimeLayouts = []string{LayoutAuto}
	if a := content.Attributes["time_layouts"]; a != nil {
		v, d := decodeLayouts(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			s.TimeLayouts = v
		}
	}
	if a := content.Attributes["date_order"]; a != nil {
		v, d := decodeDateOrder(a, ctx)
		diags = append(diags, d...)
		s.DateOrder = v
	}
	if a := content.Attributes["placeholder_points"]; a != nil {
		v, d := evalPoints(a, ctx)
		diags = append(diags, d...)
		s.PlaceholderPoints = v
	}
	if a := content.Attributes["repair_mojibake"]; a != nil {
		v, d := evalBool(a, ctx)
		diags = append(diags, d...)
		s.RepairMojibake = v
	}
	if a := content.Attributes["integer_floats"]; a != nil {
		v, d := evalBool(a, ctx)
		diags = append(diags, d...)
		s.IntegerFloats = v
	}
	seen := map[string]bool{}
	for _, fb := range content.Blocks {
		name := fb.Labels[0]
		id, ok := lookupField(name)
		if !ok {
			diags = append(diags, diagAt(fb.LabelRanges[0], "Unknown field",
				fmt.Sprintf("%q is not a field of the normalized record; known: %s.", name, strings.Join(fieldNames[:], ", "))))
			continue
		}
		if seen[name] {
			diags = append(diags, diagAt(fb.LabelRanges[0], "Duplicate field", fmt.Sprintf("Field %q is mapped twice in schema %q.", name, s.Name)))
			continue
		}
		seen[name] = true
		f, d := decodeField(fb, id, ctx)
		diags = append(diags, d...)
		s.Fields = append(s.Fields, f)
	}
	for _, req := range []string{"request_id", "created_at"} {
		if !seen[req] {
			diags = append(diags, diagAt(block.DefRange, "Missing required field",
				fmt.Sprintf("Schema %q must map %q: add field %q { columns = [...] }.", s.Name, req, req)))
		}
	}
	return s, diags
}

func decodeField(block *hcl.Block, id fieldID, ctx *hcl.EvalContext) (Field, hcl.Diagnostics) {
	f := Field{Name: fieldNames[id]}
	content, diags := block.Body.Content(fieldBlockSchema)
	if a := content.Attributes["columns"]; a != nil {
		v, d := evalCandidates(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if err := checkCandidates(v); err != nil {
				diags = append(diags, diagAt(a.Expr.Range(), "Empty columns", err.Error()+"."))
			}
		}
		f.Columns = v
	}
	diags = append(diags, decodeProjected(block, content, &f, ctx)...)
	if a := content.Attributes["layouts"]; a != nil {
		if !id.isTime() {
			diags = append(diags, diagAt(a.NameRange, "Unexpected layouts", "layouts apply only to created_at, closed_at and updated_at."))
		} else {
			v, d := decodeLayouts(a, ctx)
			diags = append(diags, d...)
			f.Layouts = v
		}
	}
	for _, name := range []string{"closed", "open"} {
		a := content.Attributes[name]
		if a == nil {
			continue
		}
		if id != fStatus {
			diags = append(diags, diagAt(a.NameRange, "Unexpected "+name, name+" applies only to the status field."))
			continue
		}
		v, d := evalStrings(a, ctx)
		diags = append(diags, d...)
		if name == "closed" {
			f.Closed = v
		} else {
			f.Open = v
		}
	}
	return f, diags
}

//go:embed schemas/*.hcl
var builtinFS embed.FS

var builtins struct {
	once    sync.Once
	schemas map[string]*Schema
	sources map[string][]byte
	err     error
}

func loadBuiltins() {
	builtins.schemas = map[string]*Schema{}
	builtins.sources = map[string][]byte{}
	names, err := fs.Glob(builtinFS, "schemas/*.hcl")
	if err != nil {
		builtins.err = err
		return
	}
	for _, p := range names {
		src, err := builtinFS.ReadFile(p)
		if err != nil {
			builtins.err = err
			return
		}
		name := strings.TrimSuffix(path.Base(p), ".hcl")
		file, diags := hclsyntax.ParseConfig(src, "builtin:"+p, hcl.InitialPos)
		if diags.HasErrors() {
			builtins.err = specError(diags)
			return
		}
		content, diags := file.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "schema", LabelNames: []string{"name"}}}})
		if diags.HasErrors() {
			builtins.err = specError(diags)
			return
		}
		if len(content.Blocks) != 1 || content.Blocks[0].Labels[0] != name {
			builtins.err = fmt.Errorf("%s: must hold exactly one schema block named %q: %w", p, name, ErrSpec)
			return
		}
		s, diags := decodeSchema(content.Blocks[0], evalContext(EnvPolicy{}, &envReads{}))
		if diags.HasErrors() {
			builtins.err = specError(diags)
			return
		}
		builtins.schemas[name] = s
		builtins.sources[name] = src
	}
}

func builtinSchemas() (map[string]*Schema, error) {
	builtins.once.Do(loadBuiltins)
	return builtins.schemas, builtins.err
}

// Builtin returns a copy of the built-in schema of that name.
func Builtin(name string) (*Schema, bool) {
	m, err := builtinSchemas()
	if err != nil {
		return nil, false
	}
	s, ok := m[name]
	if !ok {
		return nil, false
	}
	return s.clone(), true
}

// BuiltinNames lists the built-in schemas, sorted.
func BuiltinNames() []string {
	m, _ := builtinSchemas()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BuiltinSource returns the commented HCL text of a built-in schema (nil if there is none), for
// users to read or copy into a job file and adapt.
func BuiltinSource(name string) []byte {
	builtins.once.Do(loadBuiltins)
	return slices.Clone(builtins.sources[name])
}
