// Package jobs defines what a job is and how raw 311 records become record.Requests: the job
// file language (HCL), city schemas (built-in and user-defined), the normalizer that runs on
// every record of the map phase, and a streaming reader for SODA JSON pages.
//
// # Job files
//
// A job file holds one job block and any number of schema blocks:
//
//	job "normalize" {
//	  split_size       = "64MiB" # B, KiB, MiB, GiB or a number of bytes; min 1KiB
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
// The coordinator ships a Spec to workers as JSON (Spec and Schema implement json.Unmarshaler,
// which validates again); a worker never re-reads the job file.
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
// text type refuses both, and one such value reaching a summary table would fail the publish.
package jobs
