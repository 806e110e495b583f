package jobs

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/ireports/ireports/objstore"
)

// Format is the encoding of an input's files. It is the one Format type: the planner copies it
// into every map task (task.Map.Format), and it travels to the workers by name (MarshalText),
// so a name, once used, never changes meaning.
type Format uint8

const (
	FormatCSV      Format = iota // RFC 4180 CSV with a header line (the default)
	FormatSODAJSON               // a JSON array of flat SODA objects, as the Socrata API returns
)

func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatSODAJSON:
		return "soda-json"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// ParseFormat is the inverse of Format.String.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "csv":
		return FormatCSV, nil
	case "soda-json":
		return FormatSODAJSON, nil
	}
	return 0, fmt.Errorf("unknown format %q (want csv or soda-json)", s)
}

// MarshalText encodes a Format by name, so that a Spec's JSON stays readable.
func (f Format) MarshalText() ([]byte, error) {
	if f > FormatSODAJSON {
		return nil, fmt.Errorf("unknown format %d", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText decodes a Format name.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Limits and defaults of a job's settings. Every number a job file sets is bounded, so that
// no value (1e300, 9223372036854775807) overflows where it is used or makes the planner cut
// absurd tasks; a value out of bounds is an error at its file:line:column.
const (
	DefaultSplitSize = defaultSplitSize // bytes
	MinSplitSize     = minSplitSize     // bytes
	// MaxSplitSize bounds split_size (bytes): one map task reads at most this much, and a
	// lost task costs at most this much work again.
	MaxSplitSize          = 4 << 30
	DefaultReducers       = 8
	MaxReducers           = 4096
	DefaultMaxRejectRatio = 0.01 // max_reject_ratio is a fraction in [0, 1]
	// MaxPageSize bounds a source's page_size (records per request); Pull holds a page in
	// memory.
	MaxPageSize = 1_000_000
	// MaxRetryFor bounds a source's retry_for: how long a pull keeps retrying an outage.
	MaxRetryFor = 24 * time.Hour
	// MinScheduleInterval and MaxScheduleInterval bound a schedule of "every DURATION".
	MinScheduleInterval = time.Second
	MaxScheduleInterval = 366 * 24 * time.Hour
)

// Spec is a validated job. It is JSON-serializable, and that is how the coordinator ships it to
// workers: json.Marshal on one side, json.Unmarshal (which validates again and reloads time
// zones) on the other. Paths are resolved and env() calls evaluated once, on the machine that
// parsed the job file, so workers never need the job file or its environment.
type Spec struct {
	Name           string  `json:"name"`
	File           string  `json:"file"` // the job file, as given to Parse
	Dir            string  `json:"dir"`  // relative paths were resolved against it
	SplitSize      int64   `json:"split_size"`
	Reducers       int     `json:"reducers"`
	MaxRejectRatio float64 `json:"max_reject_ratio"`
	Inputs         []Input `json:"inputs"`
	Output         Output  `json:"output"`
	// Merge makes the job update the lake instead of replacing its groups: each group the job
	// produces is the group's committed rows plus the job's records, the newest version of
	// each request winning (mode = "merge"; the default for inputs pulled from a source).
	Merge bool `json:"merge,omitempty"`
	// Endpoint is the S3-compatible server that s3:// paths address ("http://127.0.0.1:9000");
	// empty means $S3_ENDPOINT, else AWS itself.
	Endpoint string `json:"endpoint,omitempty"`
	// Sources holds every source an input pulls from, by name.
	Sources map[string]*SourceSpec `json:"sources,omitempty"`
	// Schedule, if set, is when `coordinator serve` runs the job on its own.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Schemas holds every schema an input uses, by name.
	Schemas map[string]*Schema `json:"schemas"`
	// Source is the job file's text, kept for job history and for showing the user what ran.
	Source []byte `json:"source,omitempty"`
	// EnvValues holds what env() returned while the job file was parsed, by variable name
	// (non-empty values only), so that Redact can keep them out of every message. Its JSON
	// carries only the values that the rest of the JSON holds anyway (see MarshalJSON).
	EnvValues map[string]string `json:"env_values,omitempty"`
}

// Input is one named set of source files of a single schema and format.
type Input struct {
	Name string `json:"name"`
	// Path is a file, directory or glob; relative paths are already resolved against the job
	// file's directory; URLs ("s3://bucket/prefix/*.csv") are kept as written.
	Path       string `json:"path"`
	SchemaName string `json:"schema"`
	// Source names the spec's source whose stored batches this input reads ("": files).
	Source string  `json:"source,omitempty"`
	Schema *Schema `json:"-"` // Spec.Schemas[SchemaName]
	Format Format  `json:"format"`
}

// Output says where the lake and the rejects go (resolved like Input.Path).
type Output struct {
	Parquet string `json:"parquet"`
	// Rejects defaults to Parquet + "_rejects": a sibling, so that it is never read as part of
	// the lake.
	Rejects string `json:"rejects"`
	// Summaries is the root of the summary datasets (<Summaries>/<table>/city=…/year=…/
	// month=…/), kept apart from the lake so that a reader of the lake's root reads requests
	// only. It defaults to "summaries" beside Parquet (DefaultSummaries).
	Summaries string `json:"summaries"`
	// Postgres is the database URL the summaries are published to; empty means the job only
	// writes the lake. It stays on the coordinator: it is never sent to workers nor written
	// to the job history, since it usually carries a password.
	Postgres string `json:"-"`
}

// MarshalJSON encodes a Spec for workers. Of EnvValues it keeps only the values that the
// rest of the encoding already holds (a path built from a variable): a worker can then redact
// them from its messages, while a value used only on the coordinator (output.postgres, a
// source's app_token, neither of which is encoded) never travels. The receiver is a value so
// that a Spec encoded by value is filtered too.
func (s Spec) MarshalJSON() ([]byte, error) {
	type plain Spec
	p := plain(s)
	p.EnvValues = nil
	rest, err := json.Marshal(&p)
	if err != nil {
		return nil, err
	}
	if p.EnvValues = shippedEnvValues(s.EnvValues, rest); p.EnvValues == nil {
		return rest, nil
	}
	return json.Marshal(&p)
}

// UnmarshalJSON decodes a Spec sent by the coordinator, validates its names, settings and
// schemas and links each input to its schema. It trusts the sender no more than Parse trusts
// a job file: the same names and bounds apply, and data larger than MaxSpecJSONSize is
// refused before it is decoded.
func (s *Spec) UnmarshalJSON(data []byte) error {
	if len(data) > MaxSpecJSONSize {
		return fmt.Errorf("job spec: %w: %d bytes of JSON, more than %d", ErrSpec, len(data), MaxSpecJSONSize)
	}
	type plain Spec
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("job spec: %w", err)
	}
	*s = Spec(p)
	if err := CheckName("job", s.Name); err != nil {
		return fmt.Errorf("job spec: %w: %v", ErrSpec, err)
	}
	if len(s.Inputs) == 0 || s.Output.Parquet == "" || s.SplitSize < MinSplitSize || s.SplitSize > MaxSplitSize ||
		s.Reducers < 1 || s.Reducers > MaxReducers || !(s.MaxRejectRatio >= 0 && s.MaxRejectRatio <= 1) {
		return fmt.Errorf("job %q: %w: settings out of range or no inputs/output", s.Name, ErrSpec)
	}
	for name, sc := range s.Schemas {
		if err := CheckName("schema", name); err != nil {
			return fmt.Errorf("job %q: %w: %v", s.Name, ErrSpec, err)
		}
		if sc == nil {
			return fmt.Errorf("job %q: %w: schema %q is null", s.Name, ErrSpec, name)
		}
	}
	for name, src := range s.Sources {
		if err := CheckName("source", name); err != nil {
			return fmt.Errorf("job %q: %w: %v", s.Name, ErrSpec, err)
		}
		if src == nil || src.PageSize < 0 || src.PageSize > MaxPageSize || src.RetryFor < 0 || src.RetryFor > MaxRetryFor {
			return fmt.Errorf("job %q: source %q: %w: settings out of range", s.Name, name, ErrSpec)
		}
	}
	if sc := s.Schedule; sc != nil && (sc.Every < 0 || sc.Every > MaxScheduleInterval) {
		return fmt.Errorf("job %q: %w: schedule interval out of range", s.Name, ErrSpec)
	}
	for i := range s.Inputs {
		in := &s.Inputs[i]
		if err := CheckName("input", in.Name); err != nil {
			return fmt.Errorf("job %q: %w: %v", s.Name, ErrSpec, err)
		}
		in.Schema = s.Schemas[in.SchemaName]
		if in.Schema == nil {
			return fmt.Errorf("job %q: input %q: %w: schema %q not included", s.Name, in.Name, ErrSpec, in.SchemaName)
		}
	}
	return nil
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "job", LabelNames: []string{"name"}},
		{Type: "schema", LabelNames: []string{"name"}},
		{Type: "source", LabelNames: []string{"name"}},
	},
}

var jobSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "split_size"},
		{Name: "reducers"},
		{Name: "max_reject_ratio"},
		{Name: "endpoint"},
		{Name: "mode"},
		{Name: "schedule"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "input", LabelNames: []string{"name"}},
		{Type: "output"},
	},
}

var inputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"},
		{Name: "source"},
		{Name: "schema"},
		{Name: "format"},
	},
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "parquet", Required: true},
		{Name: "rejects"},
		{Name: "summaries"},
		{Name: "postgres"},
	},
}

// ParseFile reads and parses a job file. Relative paths in it resolve against the file's
// directory, made absolute. env() reads only DefaultEnvPrefix variables (see ParseFileWith).
func ParseFile(path string) (*Spec, error) {
	return ParseFileWith(path, defaultParseOptions())
}

// ParseFileWith is ParseFile with options. A file larger than MaxJobFileSize is refused
// without being read whole.
func ParseFileWith(path string, opts ParseOptions) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	defer f.Close()
	// One byte more than the limit is enough for ParseWith to see that it is exceeded.
	src, err := io.ReadAll(io.LimitReader(f, MaxJobFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("job file: %w", err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return ParseWith(src, path, opts)
}

// Parse parses and validates a job file's text; filename names it in errors, and relative paths
// resolve against filepath.Dir(filename). Every problem found is reported (a *SpecError, which
// wraps ErrSpec), each with file:line:column.
//
// A file holds exactly one job block and any number of schema blocks. An input's schema names a
// schema block of the file or a built-in; a schema block may shadow a built-in of the same name,
// and then wins for this job.
//
// env() reads only variables named with DefaultEnvPrefix; ParseWith takes another policy.
func Parse(src []byte, filename string) (*Spec, error) {
	return ParseWith(src, filename, defaultParseOptions())
}

// ParseWith is Parse with options. The text is untrusted: it is refused before the HCL parser
// sees it if it is larger than MaxJobFileSize or nested deeper than MaxNesting; every job,
// input, source and schema name must pass CheckName; env() reads only what opts.Env allows,
// and the values it read are recorded in Spec.EnvValues and kept out of every message
// ParseWith returns.
func ParseWith(src []byte, filename string, opts ParseOptions) (*Spec, error) {
	if diags := checkLimits(src, filename); diags.HasErrors() {
		return nil, specError(diags)
	}
	rec := &envReads{}
	spec, diags := parse(src, filename, evalContext(opts.Env, rec))
	vals := rec.snapshot()
	if err := specError(redactDiags(diags, vals)); err != nil {
		return nil, err
	}
	spec.EnvValues = vals
	return spec, nil
}

// parse decodes a job file whose size and nesting have been checked.
func parse(src []byte, filename string, ctx *hcl.EvalContext) (*Spec, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, diags := file.Body.Content(fileSchema)

	local := map[string]*Schema{}
	sources := map[string]*SourceSpec{}
	var jobBlock *hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "source":
			name := b.Labels[0]
			if d := checkNameAt("source", name, b.LabelRanges[0]); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			if _, dup := sources[name]; dup {
				diags = append(diags, diagAt(b.LabelRanges[0], "Duplicate source", fmt.Sprintf("Source %q is defined twice in this file.", name)))
				continue
			}
			s, d := decodeSource(b, filepath.Dir(filename), ctx)
			diags = append(diags, d...)
			sources[name] = s
		case "schema":
			name := b.Labels[0]
			if d := checkNameAt("schema", name, b.LabelRanges[0]); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			if _, dup := local[name]; dup {
				diags = append(diags, diagAt(b.LabelRanges[0], "Duplicate schema", fmt.Sprintf("Schema %q is defined twice in this file.", name)))
				continue
			}
			s, d := decodeSchema(b, ctx)
			diags = append(diags, d...)
			local[name] = s
		case "job":
			if jobBlock != nil {
				diags = append(diags, diagAt(b.DefRange, "Several jobs",
					fmt.Sprintf("A job file holds one job; %q is already defined at line %d.", jobBlock.Labels[0], jobBlock.DefRange.Start.Line)))
				continue
			}
			jobBlock = b
		}
	}
	if jobBlock == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No job",
			Detail: `The file has no job "name" { ... } block.`, Subject: &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}})
		return nil, diags
	}
	spec, d := decodeJob(jobBlock, filepath.Dir(filename), local, sources, ctx)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	spec.File = filename
	spec.Source = append([]byte(nil), src...)
	return spec, diags
}

func decodeJob(block *hcl.Block, dir string, local map[string]*Schema, sources map[string]*SourceSpec, ctx *hcl.EvalContext) (*Spec, hcl.Diagnostics) {
	spec := &Spec{
		Name: block.Labels[0], Dir: dir,
		SplitSize: DefaultSplitSize, Reducers: DefaultReducers, MaxRejectRatio: DefaultMaxRejectRatio,
		Schemas: map[string]*Schema{},
	}
	content, diags := block.Body.Content(jobSchema)
	diags = append(diags, checkNameAt("job", spec.Name, block.LabelRanges[0])...)
	if a := content.Attributes["split_size"]; a != nil {
		diags = append(diags, decodeSplitSize(a, ctx, &spec.SplitSize)...)
	}
	if a := content.Attributes["reducers"]; a != nil {
		n, d := evalIntIn(a, ctx, 1, MaxReducers)
		diags = append(diags, d...)
		if !d.HasErrors() {
			spec.Reducers = int(n)
		}
	}
	if a := content.Attributes["max_reject_ratio"]; a != nil {
		f, d := evalFloat(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if !(f >= 0 && f <= 1) {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad max_reject_ratio", fmt.Sprintf("max_reject_ratio must be between 0 and 1, not %v.", f)))
			}
			spec.MaxRejectRatio = f
		}
	}
	if a := content.Attributes["schedule"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			sc, err := ParseSchedule(v)
			if err != nil {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad schedule", err.Error()+"."))
			}
			spec.Schedule = sc
		}
	}
	if a := content.Attributes["mode"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		switch {
		case d.HasErrors():
		case v == "replace":
		case v == "merge":
			spec.Merge = true
		default:
			diags = append(diags, diagAt(a.Expr.Range(), "Bad mode", fmt.Sprintf("mode must be \"replace\" (the job's groups replace the lake's) or \"merge\" (merged with the lake's rows, newest version winning), not %q.", v)))
		}
	}
	if a := content.Attributes["endpoint"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			diags = append(diags, diagAt(a.Expr.Range(), "Bad endpoint", fmt.Sprintf("endpoint must be an http:// or https:// URL, not %q.", v)))
		}
		spec.Endpoint = v
	}

	var outputBlock *hcl.Block
	inputAt := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "output":
			if outputBlock != nil {
				diags = append(diags, diagAt(b.DefRange, "Several outputs", "A job has one output block."))
				continue
			}
			outputBlock = b
		case "input":
			name := b.Labels[0]
			if d := checkNameAt("input", name, b.LabelRanges[0]); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			if prev, dup := inputAt[name]; dup {
				diags = append(diags, diagAt(b.LabelRanges[0], "Duplicate input", fmt.Sprintf("Input %q is already defined at line %d.", name, prev.Start.Line)))
				continue
			}
			inputAt[name] = b.LabelRanges[0]
			in, d := decodeInput(b, dir, local, spec.Schemas, sources, spec, ctx)
			diags = append(diags, d...)
			spec.Inputs = append(spec.Inputs, in)
		}
	}
	if len(inputAt) == 0 {
		diags = append(diags, diagAt(block.DefRange, "No inputs", fmt.Sprintf("Job %q needs at least one input \"name\" { path = ..., schema = ... } block.", spec.Name)))
	}
	if outputBlock == nil {
		diags = append(diags, diagAt(block.DefRange, "Missing output", fmt.Sprintf("Job %q needs an output { parquet = ... } block.", spec.Name)))
	} else {
		oc, d := outputBlock.Body.Content(outputSchema)
		diags = append(diags, d...)
		if a := oc.Attributes["parquet"]; a != nil {
			v, d := evalString(a, ctx)
			diags = append(diags, d...)
			if !d.HasErrors() && strings.TrimSpace(v) == "" {
				diags = append(diags, diagAt(a.Expr.Range(), "Empty path", "output.parquet must name a directory."))
			} else if !d.HasErrors() {
				diags = append(diags, checkPath(a, resolvePath(dir, v))...)
			}
			spec.Output.Parquet = resolvePath(dir, v)
		}
		rejectsAt := outputBlock.DefRange
		if a := oc.Attributes["rejects"]; a != nil {
			rejectsAt = a.Expr.Range()
			v, d := evalString(a, ctx)
			diags = append(diags, d...)
			if !d.HasErrors() && strings.TrimSpace(v) == "" {
				diags = append(diags, diagAt(a.Expr.Range(), "Empty path", "output.rejects must name a directory (or be left out)."))
			} else if !d.HasErrors() {
				diags = append(diags, checkPath(a, resolvePath(dir, v))...)
			}
			spec.Output.Rejects = resolvePath(dir, v)
		} else if spec.Output.Parquet != "" {
			spec.Output.Rejects = strings.TrimRight(spec.Output.Parquet, "/") + "_rejects"
		}
		diags = append(diags, decodeSummaries(oc.Attributes["summaries"], outputBlock.DefRange, dir, ctx, spec)...)
		diags = append(diags, checkRejectsApart(spec, rejectsAt)...)
		if a := oc.Attributes["postgres"]; a != nil {
			v, d := evalString(a, ctx)
			diags = append(diags, d...)
			// Empty means no database, so that env("DATABASE_URL", "") makes publishing optional.
			// The value is a secret: the message never quotes it.
			if !d.HasErrors() && v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") && !kvConnString.MatchString(v) {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad postgres", "output.postgres must be a postgres:// URL or a key=value connection string such as \"host=db dbname=ireports\" (or empty: no database)."))
			}
			spec.Output.Postgres = v
		}
		if len(spec.Sources) > 0 && spec.Output.Postgres == "" {
			diags = append(diags, diagAt(outputBlock.DefRange, "Missing postgres",
				"A job that pulls from a source keeps the source's watermark in Postgres: set output { postgres = env(\"DATABASE_URL\") }."))
		}
	}
	return spec, diags
}

func decodeSplitSize(a *hcl.Attribute, ctx *hcl.EvalContext, out *int64) hcl.Diagnostics {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	var n int64
	var err error
	switch {
	case v.IsNull() || !v.IsKnown():
		err = fmt.Errorf("split_size must not be null")
	case v.Type().FriendlyName() == "number":
		bf := v.AsBigFloat()
		var acc big.Accuracy
		if !bf.IsInt() {
			err = fmt.Errorf("split_size must be a whole number of bytes")
		} else if n, acc = bf.Int64(); acc != big.Exact || n > MaxSplitSize {
			err = fmt.Errorf("split_size must be at most 4GiB, not %s bytes", bf.Text('g', 6))
		}
	case v.Type().FriendlyName() == "string":
		n, err = ParseSize(v.AsString())
	default:
		err = fmt.Errorf("split_size must be a size such as \"64MiB\" or a number of bytes")
	}
	switch {
	case err != nil:
	case n < MinSplitSize:
		err = fmt.Errorf("split_size must be at least 1KiB, not %d bytes", n)
	case n > MaxSplitSize:
		err = fmt.Errorf("split_size must be at most 4GiB, not %d bytes", n)
	}
	if err != nil {
		return hcl.Diagnostics{diagAt(a.Expr.Range(), "Bad split_size", err.Error()+".")}
	}
	*out = n
	return nil
}

func decodeInput(b *hcl.Block, dir string, local, used map[string]*Schema, sources map[string]*SourceSpec, spec *Spec, ctx *hcl.EvalContext) (Input, hcl.Diagnostics) {
	in := Input{Name: b.Labels[0]}
	content, diags := b.Body.Content(inputSchema)
	pathAttr, sourceAttr, schemaAttr := content.Attributes["path"], content.Attributes["source"], content.Attributes["schema"]
	switch {
	case pathAttr == nil && sourceAttr == nil:
		diags = append(diags, diagAt(b.DefRange, "Missing path", fmt.Sprintf("Input %q needs a path (files) or a source (a pulled dataset).", in.Name)))
	case pathAttr != nil && sourceAttr != nil:
		diags = append(diags, diagAt(sourceAttr.Expr.Range(), "Path and source", "An input reads either files (path) or a source's batches (source), not both."))
	case pathAttr != nil && schemaAttr == nil:
		diags = append(diags, diagAt(b.DefRange, "Missing schema", fmt.Sprintf("Input %q needs a schema.", in.Name)))
	}
	schemaName := ""
	if sourceAttr != nil {
		v, d := evalString(sourceAttr, ctx)
		diags = append(diags, d...)
		if src, ok := sources[v]; ok && !d.HasErrors() {
			// decodeSource refused a Raw that BatchPattern would fail on.
			pattern, _ := src.BatchPattern()
			in.Source, in.Path, in.Format, schemaName = v, pattern, FormatSODAJSON, src.Schema
			if spec.Sources == nil {
				spec.Sources = map[string]*SourceSpec{}
			}
			spec.Sources[v] = src
			// Pulled records update what the lake holds: closing a request replaces its open
			// version, in its group only.
			spec.Merge = true
		} else if !d.HasErrors() {
			diags = append(diags, diagAt(sourceAttr.Expr.Range(), "Unknown source", fmt.Sprintf("No source %q: define a source %q { kind = \"socrata\" ... } block.", v, v)))
		}
	}
	if a := content.Attributes["path"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() && strings.TrimSpace(v) == "" {
			diags = append(diags, diagAt(a.Expr.Range(), "Empty path", "path must name a file, directory or glob."))
		} else if !d.HasErrors() {
			diags = append(diags, checkPath(a, resolvePath(dir, v))...)
		}
		in.Path = resolvePath(dir, v)
	}
	if a := content.Attributes["format"]; a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			f, err := ParseFormat(v)
			if err != nil {
				diags = append(diags, diagAt(a.Expr.Range(), "Bad format", err.Error()+"."))
			}
			in.Format = f
		}
	}
	if schemaAttr != nil {
		v, d := evalString(schemaAttr, ctx)
		diags = append(diags, d...)
		if !d.HasErrors() && schemaName != "" && v != schemaName {
			diags = append(diags, diagAt(schemaAttr.Expr.Range(), "Schema mismatch", fmt.Sprintf("Source %q is normalized with schema %q; leave schema out or make it the same.", in.Source, schemaName)))
		}
		if !d.HasErrors() && schemaName == "" {
			if err := CheckName("schema", v); err != nil {
				diags = append(diags, diagAt(schemaAttr.Expr.Range(), "Bad schema name", err.Error()+"."))
				return in, diags
			}
		}
		if !d.HasErrors() {
			schemaName = v
		}
	}
	if schemaName != "" {
		v, a := schemaName, schemaAttr
		if a == nil {
			a = sourceAttr
		}
		{
			in.SchemaName = v
			if s, ok := local[v]; ok {
				in.Schema = s
			} else if s, ok := Builtin(v); ok {
				in.Schema = s
			} else {
				known := BuiltinNames()
				for n := range local {
					known = append(known, n)
				}
				sort.Strings(known)
				diags = append(diags, diagAt(a.Expr.Range(), "Unknown schema",
					fmt.Sprintf("No schema %q: define a schema %q block or use one of: %s.", v, v, strings.Join(known, ", "))))
			}
			if in.Schema != nil {
				if prev, ok := used[v]; ok {
					in.Schema = prev
				} else {
					used[v] = in.Schema
				}
			}
		}
	}
	return in, diags
}

// checkPath refuses a path that the engine could not join names to (objstore.Join): one
// holding a NUL byte, or an s3:// URL without a bucket or with a "." or ".." segment, which
// joining would silently rewrite, even to another bucket.
func checkPath(a *hcl.Attribute, p string) hcl.Diagnostics {
	if _, err := objstore.Join(p, "x"); err != nil {
		return hcl.Diagnostics{diagAt(a.Expr.Range(), "Bad path", fmt.Sprintf("%s: %v.", a.Name, err))}
	}
	return nil
}

// resolvePath makes a local relative path relative to dir and leaves URLs alone.
// decodeSummaries sets spec.Output.Summaries from the summaries attribute a of the output
// block at block (a nil: the default beside the lake) and checks that the summaries and the lake do not
// contain one another: a reader of either root would read the other's files as its own.
func decodeSummaries(a *hcl.Attribute, block hcl.Range, dir string, ctx *hcl.EvalContext, spec *Spec) hcl.Diagnostics {
	lakeRoot := spec.Output.Parquet
	if lakeRoot == "" {
		return nil
	}
	var diags hcl.Diagnostics
	rng := block
	if a != nil {
		v, d := evalString(a, ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			return diags
		}
		if strings.TrimSpace(v) == "" {
			return append(diags, diagAt(a.Expr.Range(), "Empty path", "output.summaries must name a directory (or be left out: \"summaries\" beside output.parquet)."))
		}
		spec.Output.Summaries = resolvePath(dir, v)
		rng = a.Expr.Range()
	} else {
		spec.Output.Summaries = DefaultSummaries(lakeRoot)
	}
	if isURL(spec.Output.Summaries) != isURL(lakeRoot) {
		return append(diags, diagAt(rng, "Summaries apart from the lake", fmt.Sprintf(
			"output.summaries (%s) and output.parquet (%s) must both be on S3 or both on local disk: one job commits both.",
			spec.Output.Summaries, lakeRoot)))
	}
	if within(spec.Output.Summaries, lakeRoot) || within(lakeRoot, spec.Output.Summaries) {
		what := "output.summaries"
		if a == nil {
			what = "the default output.summaries (\"summaries\" beside output.parquet)"
		}
		diags = append(diags, diagAt(rng, "Summaries overlap the lake", fmt.Sprintf(
			"%s is %s and output.parquet is %s: neither may contain the other, or a reader of one would read the other's files. Set output { summaries = \"...\" } to a directory of its own.",
			what, spec.Output.Summaries, lakeRoot)))
	}
	return diags
}

// DefaultSummaries is the summaries root of a lake at parquet that names none: "summaries"
// beside it (out/requests → out/summaries; s3://b/lake/requests → s3://b/lake/summaries).
func DefaultSummaries(parquet string) string {
	p := strings.TrimRight(parquet, "/")
	if i := strings.Index(p, "://"); i >= 0 {
		// path.Dir would fold the "//" of the scheme.
		j := strings.LastIndexByte(p[i+3:], '/')
		if j < 0 {
			return p + "/summaries" // a bucket's root: overlaps the lake, which decode reports
		}
		return p[:i+3+j] + "/summaries"
	}
	return filepath.Join(filepath.Dir(p), "summaries")
}

func isURL(p string) bool { return strings.Contains(p, "://") }

// kvConnString matches a key=value connection string as lib/pq reads one: it starts with a
// keyword and '=' ("host=db dbname=x"). "x${env("DATABASE_URL")}" is not one, though it holds
// an '=' in its URL's query, and lib/pq would read it as one and dial localhost.
var kvConnString = regexp.MustCompile(`^\s*[a-z_]+\s*=`)

// checkRejectsApart refuses a rejects directory — output.rejects/<job name>, which every
// run replaces whole — that is, holds or lies in an input, the lake or the summaries: a run
// would delete them, or read its own rejects back. (The job checks the directory's contents
// too before it starts: lake.CheckRejectsDir.)
func checkRejectsApart(spec *Spec, at hcl.Range) hcl.Diagnostics {
	if spec.Output.Rejects == "" || spec.Name == "" {
		return nil
	}
	dir := strings.TrimRight(spec.Output.Rejects, "/") + "/" + spec.Name
	if !isURL(dir) {
		dir = filepath.Join(spec.Output.Rejects, spec.Name)
	}
	type other struct{ what, path string }
	others := []other{{"output.parquet", spec.Output.Parquet}, {"output.summaries", spec.Output.Summaries}}
	for _, in := range spec.Inputs {
		if in.Path != "" {
			others = append(others, other{fmt.Sprintf("input %q", in.Name), objstore.StaticPrefix(in.Path)})
		}
	}
	for _, o := range others {
		if o.path != "" && (within(dir, o.path) || within(o.path, dir)) {
			return hcl.Diagnostics{diagAt(at, "Rejects overlap another path", fmt.Sprintf(
				"Each run replaces %s (output.rejects/<job name>) whole with its rejects, and %s is %s: neither may contain the other. Set output { rejects = \"...\" } to a directory of its own.",
				dir, o.what, o.path))}
		}
	}
	return nil
}

// within reports whether path a is b or lies under it.
func within(a, b string) bool {
	a, b = strings.TrimRight(a, "/"), strings.TrimRight(b, "/")
	return a == b || strings.HasPrefix(a, b+"/")
}

func resolvePath(dir, p string) string {
	if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
