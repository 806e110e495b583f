// Package gen writes a deterministic synthetic 311 corpus: the input of `make demo`,
// `make bench` and the scale tests, in each built-in city's native export format, plus
// Austin, a tenth city whose schema a job file defines (AustinSchema).
//
// The real exports in ../shared/data/311 are small; the engine must be measured on tens of
// gigabytes with the same quirks. Generate reproduces those quirks per city and format —
// exact header lines, column order, timestamp dialects, null spellings (empty, a single
// space, NA), quoting styles (minimal, every value quoted, R's strings-quoted), CRLF record
// ends with bare LF inside quoted fields, newlines inside quoted fields, placeholder
// coordinates, a date and a time in two columns (Kansas City), epoch milliseconds written
// as floats and a year-9999 "no date" (DC), state-plane x/y without latitude (St. Louis,
// through internal/crs), integers that pandas wrote as floats ("64108.0") — while every
// row is synthetic: vocabularies and neighbourhood centres are
// modelled on the real files, values are drawn from a seeded PRNG.
//
// What the engine can rely on (and its tests check against Stats):
//
//   - Same Options, same bytes: every file is produced by its own PRNG seeded from
//     (Seed, city, format, file index), so the output does not depend on scheduling or
//     GOMAXPROCS.
//   - Request ids are unique per city across all of the city's files and formats, except
//     for deliberate duplicates: about DupRate of the requests are written first as open
//     and again later in the same file as a closed version with a later updated/status
//     date (where the format has one). Stats.Duplicates counts the later versions.
//   - About BadRate of the rows are rejects for a correct normalizer, one of the kinds
//     BadMissingID, BadDate, BadRagged and BadQuote (JSON files only get the first two).
//     Stats.Bad counts them per city and kind, so records read = Stats.Records +
//     the sum of Stats.Bad, exactly.
//   - Created times span several years and every month, with weekday daytime peaks (night
//     peaks for noise complaints); closed times follow created times by a log-normal
//     duration whose median depends on the request type; some requests stay open.
//   - Coordinates are clustered around neighbourhood centres inside each city's bounding
//     box; a few rows have no location or the city's placeholder (Baltimore's 39,-77).
//
// Files go to Dir/<city>/<format>-NNNN.<ext>; see Stats.Files for the list in a fixed
// order. Generate does not remove files it did not write; on error or cancellation the
// files already written are left as they are (possibly truncated) and must be discarded.
package gen
