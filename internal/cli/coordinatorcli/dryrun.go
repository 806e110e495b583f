package coordinatorcli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/ireports/ireports/coordinator"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/socrata"
	"github.com/ireports/ireports/worker"
)

// A dry run (`coordinator plan FILE.job`) does what a run does before its first task — list
// the inputs, read each file's header, bind the schemas, cut the splits — with the run's own
// code (the planner's coordinator.ListInput and Plan.AddFile, the worker's normalizer through
// worker.Sample), and writes nothing: it takes no lock, pulls no source, migrates no
// database. Where a run stops at the first problem, a dry run goes on and reports every one.
// It lives here, above both packages, because it uses both.

// DryRunOptions configures DryRun.
type DryRunOptions struct {
	// Records is how many records of each input are normalized as a sample (0: 5; negative:
	// none).
	Records int
	// Store reads the inputs and the lake's lock; nil: a Router for the job's endpoint.
	Store objstore.Store
	// DBTimeout bounds the attempt to reach Postgres for the sources' watermarks and the
	// summaries (0: 10 s). A run retries for minutes; a dry run says what it found now.
	DBTimeout time.Duration
}

// DefaultSampleRecords is the sample size of DryRunOptions.Records when it is 0.
const DefaultSampleRecords = 5

// DryRunReport is what a dry run found, printed by `coordinator plan` (as JSON with --json).
type DryRunReport struct {
	Name string `json:"name"`
	File string `json:"file"`
	// OK: the job would run, as far as can be told before it does. Problems says why not.
	OK             bool            `json:"ok"`
	SplitSize      int64           `json:"split_size"`
	Reducers       int             `json:"reducers"`
	MaxRejectRatio float64         `json:"max_reject_ratio"`
	Mode           string          `json:"mode"` // replace or merge
	Files          int             `json:"files"`
	Bytes          int64           `json:"bytes"`
	Splits         int             `json:"splits"` // map tasks, as a run would cut them
	Inputs         []PlannedInput  `json:"inputs"`
	Sources        []PlannedSource `json:"sources,omitempty"`
	Outputs        PlannedOutputs  `json:"outputs"`
	// Problems would stop the run; each names its input, file, field or path.
	Problems []string `json:"problems"`
	// Warnings would not stop it but deserve a look (a field null in every record).
	Warnings []string `json:"warnings,omitempty"`
}

// PlannedInput is one input of a dry run.
type PlannedInput struct {
	Name   string         `json:"name"`
	Path   string         `json:"path"`
	Schema string         `json:"schema"`
	Format string         `json:"format"`
	Source string         `json:"source,omitempty"`
	Files  []PlannedFile  `json:"files"`
	Bytes  int64          `json:"bytes"`
	Splits int            `json:"splits"`
	Sample []SampleRecord `json:"sample"`
	// SampleRejected counts the rejects among Sample.
	SampleRejected int `json:"sample_rejected"`
}

// PlannedFile is one file of an input.
type PlannedFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Splits int    `json:"splits"`
	// Header is a CSV file's header; for SODA JSON, the keys of its first objects.
	Header []string `json:"header,omitempty"`
	// Match is the input's schema matched against Header.
	Match *jobs.HeaderMatch `json:"match,omitempty"`
	// KeysFrom is how many objects of a SODA JSON file Header's keys come from.
	KeysFrom int `json:"keys_from,omitempty"`
	// TimeDialects are the dialects detected in the file for the schema's "auto" time
	// fields: what every split of the file will parse them with.
	TimeDialects []jobs.TimeDialect `json:"time_dialects,omitempty"`
	Error        string             `json:"error,omitempty"`
}

// SampleRecord is one record of an input's sample: normalized, or rejected.
type SampleRecord struct {
	File   string         `json:"file"`
	Offset int64          `json:"offset"`
	Record *SampleRequest `json:"record,omitempty"`
	Reject *worker.Reject `json:"reject,omitempty"`
}

// SampleRequest is a normalized record as a dry run shows it (times in UTC, RFC 3339).
type SampleRequest struct {
	City           string   `json:"city"`
	RequestID      string   `json:"request_id"`
	CreatedAt      string   `json:"created_at"`
	ClosedAt       string   `json:"closed_at,omitempty"`
	UpdatedAt      string   `json:"updated_at,omitempty"`
	Status         string   `json:"status"`
	StatusRaw      string   `json:"status_raw,omitempty"`
	Agency         string   `json:"agency,omitempty"`
	RequestType    string   `json:"request_type,omitempty"`
	RequestSubtype string   `json:"request_subtype,omitempty"`
	Latitude       *float64 `json:"latitude,omitempty"`
	Longitude      *float64 `json:"longitude,omitempty"`
	Zip            string   `json:"zip,omitempty"`
	Neighborhood   string   `json:"neighborhood,omitempty"`
	Channel        string   `json:"channel,omitempty"`
	Year           int      `json:"year"`
	Month          int      `json:"month"`
}

// PlannedSource is what the run would pull from one source.
type PlannedSource struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Endpoint string `json:"endpoint"` // without query or credentials
	Schema   string `json:"schema"`
	Start    string `json:"start"`
	Raw      string `json:"raw"`
	PageSize int    `json:"page_size"`
	// Watermark is where the pull would resume ("(none)": from Start); "" when unknown,
	// and WatermarkNote says why.
	Watermark     string `json:"watermark,omitempty"`
	WatermarkNote string `json:"watermark_note,omitempty"`
	// Pending counts the batches stored under Raw that no run has consumed yet: the run
	// reads them along with what it pulls.
	Pending int `json:"pending"`
}

// PlannedOutputs is where the run would write.
type PlannedOutputs struct {
	Parquet   string `json:"parquet"`
	Rejects   string `json:"rejects"`
	Summaries string `json:"summaries"`
	// Postgres is the database the summaries would be published to, without credentials
	// ("" when the job has none).
	Postgres string `json:"postgres,omitempty"`
	// InUse names the run holding the lake, if one does.
	InUse *lake.Holder `json:"in_use,omitempty"`
}

// DryRun plans spec as a run would and reports what it found. The report is always
// non-nil; the error is for a failure of the dry run itself (the context ended), not for a
// problem of the job, which the report lists.
func DryRun(ctx context.Context, spec *jobs.Spec, opt DryRunOptions) (*DryRunReport, error) {
	if opt.Records == 0 {
		opt.Records = DefaultSampleRecords
	}
	if opt.DBTimeout <= 0 {
		opt.DBTimeout = pgConnectTimeout
	}
	r := &DryRunReport{
		Name: spec.Name, File: spec.File, SplitSize: spec.SplitSize, Reducers: spec.Reducers,
		MaxRejectRatio: spec.MaxRejectRatio, Mode: "replace",
		Outputs: PlannedOutputs{
			Parquet: spec.Output.Parquet, Postgres: describeDSN(spec.Output.Postgres),
		},
		Problems: []string{},
	}
	var err error
	if r.Outputs.Rejects, err = objstore.Join(spec.Output.Rejects, spec.Name); err != nil {
		r.problem("rejects: %v", err)
	}
	if r.Outputs.Summaries, err = summariesPath(spec); err != nil {
		r.problem("summaries: %v", err)
	}
	if spec.Merge {
		r.Mode = "merge"
	}
	store := opt.Store
	if store == nil {
		s, err := objstore.New(objstore.Options{Endpoint: spec.Endpoint})
		if err != nil {
			r.problem("object store: %v", err)
			return r, nil
		}
		store = s
	}
	d := &dryRun{spec: spec, store: store, opt: opt, r: r, plan: &coordinator.Plan{}}
	d.sources(ctx)
	for i := range spec.Inputs {
		d.input(ctx, i)
	}
	r.Files, r.Bytes, r.Splits = d.plan.Files, d.plan.Bytes, len(d.plan.Maps)
	r.Warnings = append(r.Warnings, d.plan.Warnings...)
	d.outputs(ctx)
	r.OK = len(r.Problems) == 0
	return r, ctx.Err()
}

// pgConnectTimeout is pgsink.DefaultConfig's ConnectTimeout.
const pgConnectTimeout = 10 * time.Second

// summariesPath is where a run writes the summary tables of the groups it commits: the root
// of the summary datasets beside the lake (jobs.Output.Summaries, which the job file's
// parser defaults), each table under it partitioned like the lake.
func summariesPath(spec *jobs.Spec) (string, error) {
	if spec.Output.Summaries == "" {
		return "", errors.New("output.summaries names no directory")
	}
	return spec.Output.Summaries, nil
}

// dryRun is one DryRun in progress.
type dryRun struct {
	spec  *jobs.Spec
	store objstore.Store
	opt   DryRunOptions
	r     *DryRunReport
	plan  *coordinator.Plan // every file planned so far, in a run's order
}

func (r *DryRunReport) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// input plans input i file by file and samples its first records.
func (d *dryRun) input(ctx context.Context, i int) {
	in := d.spec.Inputs[i]
	pi := PlannedInput{Name: in.Name, Path: in.Path, Schema: in.SchemaName, Format: in.Format.String(), Source: in.Source,
		Files: []PlannedFile{}, Sample: []SampleRecord{}}
	defer func() { d.r.Inputs = append(d.r.Inputs, pi) }()
	files, err := coordinator.ListInput(ctx, d.store, in.Path)
	if in.Source != "" && errors.Is(err, fs.ErrNotExist) {
		return // no stored batch yet: the run reads what it pulls
	}
	if err != nil {
		d.r.problem("input %q: %v", in.Name, err)
		return
	}
	for _, fi := range files {
		pf := PlannedFile{Path: fi.Name, Size: fi.Size}
		first := len(d.plan.Maps)
		planned, err := d.plan.AddFile(ctx, d.store, d.spec, "plan", i, fi)
		pf.Splits = len(d.plan.Maps) - first
		pi.Bytes += fi.Size
		pi.Splits += pf.Splits
		if header := planned.Header; header != nil {
			m := in.Schema.MatchHeader(header)
			pf.Header, pf.Match = header, &m
		}
		pf.TimeDialects = planned.Dialects
		switch {
		case err != nil && pf.Match != nil && len(pf.Match.Unmatched(true)) > 0:
			pf.Error = "no column for " + strings.Join(pf.Match.Unmatched(true), ", ")
			d.r.problem("input %q: %s: schema %q finds no column for %s", in.Name, fi.Name, in.SchemaName, describeUnmatched(pf.Match, true))
		case err != nil:
			pf.Error = err.Error()
			d.r.problem("%v", err)
		case pf.Splits > 0 && (len(pi.Sample) < d.opt.Records || in.Format == jobs.FormatSODAJSON && len(pi.Files) < sodaKeyFiles):
			d.sample(ctx, &pi, &pf, first)
		}
		pi.Files = append(pi.Files, pf)
	}
	d.rejectRatio(&pi)
	d.unmatchedWarnings(&pi)
}

// sodaKeyObjects is how many objects of a SODA JSON file a dry run reads for its keys: a
// page's first objects may all lack an optional key (closed_date, while they are open).
// Only an input's first sodaKeyFiles files are read for keys (a run reads none while it
// plans), so that a source with hundreds of stored batches does not make a slow dry run.
const (
	sodaKeyObjects = 1000
	sodaKeyFiles   = 20
)

// sample normalizes records of the file's first split (map task mapIndex) until the input's sample is full;
// for a SODA JSON file it also collects the keys of its first objects, which stand in for
// a header.
func (d *dryRun) sample(ctx context.Context, pi *PlannedInput, pf *PlannedFile, mapIndex int) {
	t := d.plan.Maps[mapIndex]
	soda := t.Format == jobs.FormatSODAJSON
	want := d.opt.Records - len(pi.Sample)
	if soda {
		want = sodaKeyObjects
	}
	if want <= 0 {
		return
	}
	in := d.spec.Inputs[t.Input]
	var keys []string
	n, err := worker.Sample(ctx, d.spec, d.store, t, want, func(s worker.Sampled) {
		if soda {
			keys, _ = jobs.SODAKeys(s.Raw, keys) // a bad object is a reject, shown below
		}
		if len(pi.Sample) >= d.opt.Records {
			return
		}
		sr := SampleRecord{File: t.File, Offset: s.Offset}
		if s.Reject != nil {
			rej := *s.Reject
			rej.File, rej.Offset, rej.Raw, rej.Error = t.File, s.Offset, truncateUTF8(string(s.Raw), 512), s.Err.Error()
			sr.Reject = &rej
			pi.SampleRejected++
		} else {
			sr.Record = sampleRequest(s.Request)
		}
		pi.Sample = append(pi.Sample, sr)
	})
	if err != nil {
		pf.Error = err.Error()
		d.r.problem("input %q: reading %s: %v", in.Name, t.File, err)
	}
	if soda {
		m := in.Schema.MatchKeys(keys)
		pf.Header, pf.Match, pf.KeysFrom = keys, &m, n
		if n > 0 && len(m.Unmatched(true)) > 0 {
			d.r.problem("input %q: %s: schema %q finds no key for %s in its first %s",
				in.Name, t.File, in.SchemaName, describeUnmatched(&m, true), plural(n, "object"))
		}
	}
}

// rejectRatio reports an input whose sample is rejected more often than the job allows: a
// run would most likely exceed its reject budget and fail.
func (d *dryRun) rejectRatio(pi *PlannedInput) {
	n := len(pi.Sample)
	if n == 0 || float64(pi.SampleRejected) <= d.spec.MaxRejectRatio*float64(n) {
		return
	}
	reasons := map[string]int64{}
	for _, s := range pi.Sample {
		if s.Reject != nil {
			reasons[s.Reject.Reason]++
		}
	}
	d.r.problem("input %q: %d of the %d sampled records rejected (%.0f%%, max_reject_ratio %g%%): %s",
		pi.Name, pi.SampleRejected, n, 100*float64(pi.SampleRejected)/float64(n), 100*d.spec.MaxRejectRatio, coordinator.FormatReasons(reasons))
}

// unmatchedWarnings warns of optional fields that take no column in some of the input's
// files: they are null in every record of those files.
func (d *dryRun) unmatchedWarnings(pi *PlannedInput) {
	missing := map[string]int{}
	var order []string
	for _, f := range pi.Files {
		if f.Match == nil || len(f.Match.Unmatched(true)) > 0 {
			continue
		}
		for _, name := range f.Match.Unmatched(false) {
			if missing[name] == 0 {
				order = append(order, name)
			}
			missing[name]++
		}
	}
	for _, name := range order {
		what := "column"
		if pi.Format == jobs.FormatSODAJSON.String() {
			what = "key (in the objects read)"
		}
		d.r.Warnings = append(d.r.Warnings, fmt.Sprintf("input %q: field %s finds no %s in %d of %d files: null in their records",
			pi.Name, name, what, missing[name], len(pi.Files)))
	}
}

// describeUnmatched lists a match's fields without a column with the candidates tried.
func describeUnmatched(m *jobs.HeaderMatch, required bool) string {
	var parts []string
	for _, f := range m.Fields {
		if !f.Found() && (f.Required || !required) {
			parts = append(parts, fmt.Sprintf("%s (tried %s)", f.Field, quoteList(f.Candidates)))
		}
	}
	return strings.Join(parts, ", ")
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// sources says what each source would pull and from which watermark. Postgres is only read:
// a run would create its tables, a dry run does not.
func (d *dryRun) sources(ctx context.Context) {
	if len(d.spec.Sources) == 0 {
		return
	}
	dsn := d.spec.Output.Postgres
	var db *sql.DB
	var dbErr error
	if dsn != "" {
		db, dbErr = d.openDB(ctx)
		if db != nil {
			defer db.Close()
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.spec.Sources)) {
		ss := d.spec.Sources[name]
		ps := PlannedSource{Name: name, Kind: ss.Kind, Endpoint: describeURL(ss.Endpoint), Schema: ss.Schema,
			Start: ss.Start, Raw: ss.Raw, PageSize: ss.PageSize}
		if ps.PageSize == 0 {
			ps.PageSize = socrata.DefaultSource().PageSize
		}
		pattern, err := ss.BatchPattern()
		if err != nil {
			d.r.problem("source %s: raw batches: %v", name, err)
		} else if files, err := coordinator.ListInput(ctx, d.store, pattern); err == nil {
			ps.Pending = len(files)
		} else if !errors.Is(err, fs.ErrNotExist) {
			d.r.problem("source %s: raw batches: %v", name, err)
		}
		switch {
		case dbErr != nil:
			ps.WatermarkNote = "unknown: Postgres is unreachable"
		case db != nil:
			wctx, cancel := context.WithTimeout(ctx, d.opt.DBTimeout)
			w, err := socrata.NewPGWatermarks(db).Get(wctx, name)
			cancel()
			var pqErr *pq.Error
			switch {
			case errors.As(err, &pqErr) && pqErr.Code == "42P01": // undefined_table
				ps.Watermark, ps.WatermarkNote = w.String(), "no watermark table yet: the run creates it and pulls from start"
			case err != nil:
				ps.WatermarkNote = "unknown: " + coordinator.RedactDSN(err, dsn).Error()
				d.r.problem("source %s: reading its watermark: %v", name, coordinator.RedactDSN(err, dsn))
			default:
				ps.Watermark = w.String()
			}
		}
		d.r.Sources = append(d.r.Sources, ps)
	}
	if dbErr != nil {
		d.r.problem("postgres %s: %v: a run keeps the sources' watermarks there, and fails when it cannot reach it", describeDSN(dsn), dbErr)
	}
}

// openDB opens the job's Postgres and checks that it answers.
func (d *dryRun) openDB(ctx context.Context) (*sql.DB, error) {
	dsn := d.spec.Output.Postgres
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, coordinator.RedactDSN(err, dsn)
	}
	pctx, cancel := context.WithTimeout(ctx, d.opt.DBTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, coordinator.RedactDSN(err, dsn)
	}
	return db, nil
}

// outputs checks that the lake is free and that Postgres, if the job publishes there,
// answers.
func (d *dryRun) outputs(ctx context.Context) {
	o := &d.r.Outputs
	h, err := lake.HolderOf(ctx, d.store, o.Parquet)
	switch {
	case err != nil:
		d.r.problem("output %s: %v", o.Parquet, err)
	case h != nil:
		o.InUse = h
		d.r.problem("output %s is in use: job %s on %s has been writing it since %s; wait for it or cancel it",
			o.Parquet, h.Job, h.Host, h.Since.Format(time.RFC3339))
	}
	for _, p := range []struct{ what, path string }{{"parquet", d.spec.Output.Parquet}, {"summaries", d.spec.Output.Summaries}, {"rejects", d.spec.Output.Rejects}} {
		if err := objstore.CheckRoot(p.path); err != nil {
			d.r.problem("output %s: %v", p.what, err)
		}
	}
	if d.spec.Output.Postgres != "" && len(d.spec.Sources) == 0 {
		db, err := d.openDB(ctx)
		if err != nil {
			d.r.Warnings = append(d.r.Warnings, fmt.Sprintf(
				"postgres %s: %v: a run would commit the lake but leave the summaries unpublished (exit code 3) unless it comes back within %v",
				o.Postgres, err, 2*time.Minute))
			return
		}
		db.Close()
	}
}

// describeDSN names a database without its credentials: host, port and database.
func describeDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Host + u.Path
	}
	kv := map[string]string{}
	for _, f := range strings.Fields(dsn) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = strings.Trim(v, "'")
		}
	}
	s := kv["host"]
	if kv["port"] != "" {
		s += ":" + kv["port"]
	}
	return s + "/" + kv["dbname"]
}

// describeURL drops a URL's credentials and query, where tokens would be.
func describeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func sampleRequest(q *record.Request) *SampleRequest {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	s := &SampleRequest{
		City: q.City, RequestID: q.RequestID, CreatedAt: ts(q.CreatedAt), ClosedAt: ts(q.ClosedAt), UpdatedAt: ts(q.UpdatedAt),
		Status: q.Status.String(), StatusRaw: q.StatusRaw, Agency: q.Agency, RequestType: q.RequestType,
		RequestSubtype: q.RequestSubtype, Zip: q.Zip, Neighborhood: q.Neighborhood, Channel: q.Channel,
		Year: q.Year, Month: q.Month,
	}
	if q.HasLocation {
		lat, lon := q.Latitude, q.Longitude
		s.Latitude, s.Longitude = &lat, &lon
	}
	return s
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
