// Package csvsplit reads one byte range of a CSV file exactly: the map side of the
// normalize job (DESIGN.md, step 2). The planner cuts a file into ranges [Start, End);
// one map task reads one range with a Reader, and the records of all ranges, in order,
// are exactly the records of the file.
//
// # Record boundaries
//
// A record belongs to the split in which its first byte lies. Quoted fields may contain
// newlines, so a '\n' ends a record only when it lies outside quotes, and the quote state
// is pure parity: the state at offset p is Inside iff the number of '"' bytes in
// [DataStart, p) is odd. A '\r' before the '\n' belongs to the terminator; the last
// record may end at EOF instead. Because the rule looks at nothing but '"' and '\n'
// bytes, it composes: the boundaries seen from any split are the boundaries of the
// whole file, whatever the bytes, malformed or not.
//
// Within a record the fields follow RFC 4180 exactly as encoding/csv reads them with
// its default settings: `""` in a quoted field is one quote, "\r\n" in a quoted field
// becomes "\n", empty lines are skipped. A record encoding/csv would reject (a bare
// quote in an unquoted field, a byte other than ',' after a closing quote, a quote left
// open at EOF) or one longer than Options.MaxRecordBytes comes back as a malformed
// Record with its offset, its raw bytes and a *ParseError, so the caller counts it as a
// reject; its neighbours are unaffected.
//
// One stray quote in an unquoted field (`12" water main`) opens a quoted region by the
// parity rule that runs to the next stray quote, thousands of lines on: one record by
// the rule. When such a record spans several lines and is malformed, the Reader reads
// its bytes again as encoding/csv would, line by line, and returns each line it reads
// as a Record and each it refuses as a malformed one, in order (Reader.recoverLines):
// the records between two stray quotes are records, not one reject. They all belong to
// the split in which the region starts, as the region does, even those past its End.
// What it cannot mend: a quoted field with a newline that a stray quote splits across
// two such regions comes back as two malformed records; and a region longer than
// MaxRecordBytes stays one (its bytes are not held).
//
// # Speculation and the chain
//
// The quote state at a split's Start is not known without reading everything before
// it. A Reader given State Unknown speculates: it parses the Lookahead window after
// Start under both states and assumes the state that yields more complete, well-formed
// records with the header's field count. On a tie (a window too short for any record)
// a window that reaches EOF decides by its quote parity, since a file ends outside
// quotes; otherwise Outside wins (a window without quotes has no records under Inside,
// so Outside is also the state that explains it). A wrong
// guess is never silent: each task reports Assumed and Parity, and the coordinator
// calls Chain, which derives every split's true state from split 0 (Outside at
// DataStart) and the parities, and lists the splits to read again with their true
// state. Only the quote bytes of a range decide its parity, so the parity a task
// reports is right even when its guess was wrong.
//
// # Rules for callers
//
//   - Read the header once per file with ReadHeader; pass its dataStart as every
//     split's DataStart and its column count as Fields.
//   - Give NewReader the file's bytes from Start-1 when Start > DataStart (the byte
//     before Start tells whether Start is itself a record start), else from Start. The
//     source may run to EOF: the Reader stops after the last record that starts before
//     End, reading past End only to finish it. A ranged S3 GetObject body or an
//     io.SectionReader both fit. Cancel a read by closing the source.
//   - Record fields and raw bytes alias the Reader's buffer: copy what must outlive
//     the next call to Next.
//   - Accept a map phase only after Chain reports no rerun, or after the reruns it
//     lists have been done with their true states.
//
// Memory is bounded by MaxRecordBytes plus the lookahead and a read buffer (at most
// 128 KiB), never by the size of the split or the file.
package csvsplit
