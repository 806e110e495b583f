// Package jobs defines what a job is and how raw 311 records become record.Requests: the job
// file language (HCL), city schemas (built-in and user-defined), the normalizer that runs on
// every record of the map phase, and a streaming reader for SODA JSON pages.
//
// # Job files
//
// A job file holds one job block and any number of schema blocks:
//
//	job "normalize" {
//	  split_size       = "64MiB" # B, KiB, MiB, GiB or a number of bytes; 1KiB..4GiB
//	  reducers         = 8       # 1..4096
//	  max_reject_ratio = 0.01    # 0..1
//	  input "nyc" {
//	    path   = "data/nyc/*.csv" # file, directory or glob, relative to the job file; s3://… kept
//	    schema = "nyc"            # a schema block of this file, else a built-in
//	    format = "csv"            # or "soda-json"
//	  }
//	  output {
//	    parquet = "out/requests"
//	    rejects = "out/rejects"   # default: parquet + "_rejects"
//	  }
//	}
//
// Expressions may use ${} interpolation and env("NAME") or env("NAME", "default"); env is
// evaluated once, where the file is parsed. Parse validates everything before anything runs and
// reports every problem with file:line:column (a *SpecError wrapping ErrSpec). A schema block of
// the file shadows a built-in schema of the same name.
//
// # Untrusted job files
//
// Whoever holds the cluster token can submit a job file to a long-running coordinator, so the
// text is treated as hostile:
//
//   - Before the HCL parser sees it, a file larger than MaxJobFileSize or nested deeper than
//     MaxNesting is refused: the parser and the evaluator recurse once per level, and a Go
//     stack overflow is fatal, not a panic.
//   - Job, input, source and schema names become path segments and keys (the rejects folder,
//     job run IDs, the history file), so they must pass CheckName.
//   - Every number has bounds (MaxSplitSize, MaxReducers, MaxPageSize, MaxRetryFor,
//     MaxScheduleInterval; ParseSize refuses anything beyond MaxSize).
//   - env() reads only what an EnvPolicy allows: Parse and ParseFile allow the names starting
//     with DefaultEnvPrefix; a coordinator passes its operator's --job-env names to ParseWith,
//     and `coordinator run` allows all. What env() read is recorded in Spec.EnvValues; no error
//     of Parse shows it, and Spec.Redact and Spec.RedactError keep it out of later messages.
//   - Output, input and raw paths must be joinable (objstore.Join): no NUL byte, and no "." or
//     ".." segment in an s3:// URL.
//
// The coordinator ships a Spec to workers as JSON (Spec and Schema implement json.Unmarshaler,
// which validates again, names and bounds included); a worker never re-reads the job file. The
// JSON carries the env() values that the rest of it holds anyway (a path built from one), so
// that a worker can redact them too, and no other.
//
// # Schemas
//
// A schema maps one city's columns onto the normalized record: candidate columns per field (the
// first present in a file's header wins, so one schema reads several years of a drifting export),
// null tokens, time layouts and the city's time zone, the status vocabulary, placeholder
// coordinates. A candidate may join several columns (a date column and a time column) into
// one value (columns.go), and a point may come from projected x/y columns in a named
// state-plane CRS (proj.go, internal/crs). Built-in schemas are embedded from schemas/*.hcl, written in the same language and
// commented so that users can copy them (BuiltinSource).
//
// Time layouts are Go layouts, strftime patterns (strftime.go) or "auto" (dialect.go), the
// default: a schema with an "auto" time field is incomplete until a file's dialects are
// detected from its first values (Detector) and given to it (WithDialects); Bind refuses it
// before. The planner does this once per file and puts the layouts in every map task of the
// file, so that all its splits parse a column alike. InferSchema proposes a schema for an
// unknown export (infer.go), printed as a commented block by Inferred.HCL.
//
// # Normalizing
//
// Bind (CSV header) or BindJSON (SODA) turns a Schema into a Normalizer for one file; a
// Normalizer is used by one goroutine. Normalize never retains its input and never panics; a
// record it cannot normalize yields a *RejectError with a stable Reason code, which the caller
// writes to the rejects output. Rules: values are trimmed of spaces and compared with the null
// tokens; times are read in the city's time zone unless they carry an offset and stored in UTC;
// Year and Month are created_at's local calendar month; status maps case-insensitively to
// open/closed, anything else is other; a location comes from latitude/longitude, else from point's
// text, else from point's projected x/y, and placeholders or out-of-range coordinates become "no
// location"; kept text must be valid
// UTF-8 without NUL bytes, or the record is rejected (invalid_utf8, nul_byte): PostgreSQL's
// text type refuses both, and one such value reaching a summary table would fail the publish;
// likewise created_at's local year must be MinYear to MaxYear, 1900 to 2199, and closed_at
// and updated_at must lie in those years (time_out_of_range: a year 1 or 9999 is a
// placeholder, not a date), created_at must not be the Unix epoch (epoch_time: the
// shuffle's null) nor a skipped wall clock read into another month (skipped_local_time),
// a field but point must not hold a SODA object or array (bad_json), and agency and
// request_type are at most MaxKeyText bytes, other kept text MaxText (value_too_long).
package jobs
