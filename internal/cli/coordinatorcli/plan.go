package coordinatorcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
)

// cmdPlan is `coordinator plan FILE.job`: a dry run. It returns the exit code: 0 when the
// job would run, 1 when it would not (every problem listed), 2 for a usage error.
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	records := fs.Int("records", DefaultSampleRecords, "records of each input to normalize as a sample (0: none)")
	var allow allowpath.Flag
	fs.Var(&allow, "allow-path", "a directory or s3://bucket/prefix the job may read and write besides the job file's directory (repeatable), as for coordinator run")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator plan FILE.job [--allow-path DIR]... [--records N] [--json]")
		fmt.Fprintln(stderr, "Does what a run does before its first task, and writes nothing: lists each input's files and splits,")
		fmt.Fprintln(stderr, "matches each file's header against its schema, normalizes the first records, checks the outputs and")
		fmt.Fprintln(stderr, "sources. Exits 0 when the job would run, 1 with every problem listed when it would not.")
		fmt.Fprintln(stderr, "As in coordinator run, the job's env() calls read this process's environment, and it may use its")
		fmt.Fprintln(stderr, "file's directory and the --allow-path roots.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	file, err := jobFileArg(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		if !errors.Is(err, errReported) {
			fmt.Fprintf(stderr, "coordinator plan: %v\n", err)
		}
		return ExitUsage
	case *records < 0:
		fmt.Fprintf(stderr, "coordinator plan: --records must be 0 or more, not %d\n", *records)
		return ExitUsage
	}
	opt := DryRunOptions{Records: *records}
	if *records == 0 {
		opt.Records = -1
	}
	var rep *DryRunReport
	// What coordinator run would accept: the user's own job, reading their environment.
	spec, err := jobs.ParseFileWith(file, jobs.ParseOptions{Env: jobs.EnvPolicy{AllowAll: true}})
	if err != nil {
		// The job file itself is the problem: report it like any other (each diagnostic on a
		// line of its own), so that --json callers get one shape.
		rep = &DryRunReport{File: file, Problems: strings.Split(err.Error(), "\n")}
	} else {
		rep, err = DryRun(ctx, spec, opt)
		if err != nil {
			fmt.Fprintf(stderr, "coordinator plan: %v\n", err)
			return 1
		}
		if _, err := checkLocalRoots(file, allow, spec); err != nil {
			rep.Problems, rep.OK = append(rep.Problems, strings.Split(err.Error(), "\n")...), false
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "coordinator plan: %v\n", err)
			return 1
		}
	} else {
		printDryRun(stdout, rep)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// printDryRun writes a dry run's report for people: one block per input, source and the
// outputs, columns aligned, problems last.
func printDryRun(w io.Writer, r *DryRunReport) {
	if r.Name != "" {
		fmt.Fprintf(w, "job %s (%s)\n", r.Name, r.File)
		fmt.Fprintf(w, "  split_size %s · %d reducers · max_reject_ratio %g%% · mode %s\n",
			units.FormatBytes(r.SplitSize), r.Reducers, 100*r.MaxRejectRatio, r.Mode)
	} else {
		fmt.Fprintf(w, "job file %s\n", r.File)
	}
	for _, s := range r.Sources {
		printSource(w, s)
	}
	for _, in := range r.Inputs {
		printInput(w, in)
	}
	if r.Name != "" {
		o := r.Outputs
		fmt.Fprintln(w, "\noutput")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  parquet\t%s\n", o.Parquet)
		fmt.Fprintf(tw, "  rejects\t%s\n", o.Rejects)
		fmt.Fprintf(tw, "  summaries\t%s\n", o.Summaries)
		if o.Postgres != "" {
			fmt.Fprintf(tw, "  postgres\t%s\n", o.Postgres)
		}
		tw.Flush()
		fmt.Fprintf(w, "\ntotal  %s, %s, %s (map tasks), %d reduce tasks\n",
			plural(r.Files, "file"), units.FormatBytes(r.Bytes), plural(r.Splits, "split"), r.Reducers)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nwarnings (%d)\n", len(r.Warnings))
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "  %s\n", shown(s))
		}
	}
	if r.OK {
		fmt.Fprintln(w, "\nthe job would run")
		return
	}
	fmt.Fprintf(w, "\nproblems (%d): the job would not run\n", len(r.Problems))
	for _, s := range r.Problems {
		fmt.Fprintf(w, "  %s\n", shown(s))
	}
}

// maxListedFiles bounds the files listed per input; --json lists all.
const maxListedFiles = 20

func printInput(w io.Writer, in PlannedInput) {
	from := in.Path
	if in.Source != "" {
		from = "source " + in.Source + ", " + from
	}
	fmt.Fprintf(w, "\ninput %s: schema %s, %s, %s\n", in.Name, in.Schema, in.Format, from)
	base := objstore.StaticPrefix(in.Path)
	switch {
	case len(in.Files) == 0 && in.Source != "":
		fmt.Fprintln(w, "  files   none stored yet: the run reads what its pull stores")
		return
	case len(in.Files) == 0:
		return
	}
	nameW, sizeW := 0, 0
	for _, f := range in.Files[:min(len(in.Files), maxListedFiles)] {
		nameW = max(nameW, utf8.RuneCountInString(relTo(base, f.Path)))
		sizeW = max(sizeW, len(units.FormatBytes(f.Size)))
	}
	label := "files"
	for i, f := range in.Files {
		if i == maxListedFiles {
			fmt.Fprintf(w, "          … and %d more (--json lists them all)\n", len(in.Files)-i)
			break
		}
		name := relTo(base, f.Path)
		fmt.Fprintf(w, "  %-6s  %s%s  %*s  %s\n", label, name, strings.Repeat(" ", nameW-utf8.RuneCountInString(name)),
			sizeW, units.FormatBytes(f.Size), plural(f.Splits, "split"))
		label = ""
	}
	fmt.Fprintf(w, "          %s, %s, %s\n", plural(len(in.Files), "file"), units.FormatBytes(in.Bytes), plural(in.Splits, "split"))

	// One mapping per distinct header: the files of an export usually share theirs.
	type group struct {
		files []string
		file  PlannedFile
	}
	var groups []*group
	byHeader := map[string]*group{}
	for _, f := range in.Files {
		if f.Match == nil {
			continue
		}
		k := strings.Join(f.Header, "\x00")
		g := byHeader[k]
		if g == nil {
			g = &group{file: f}
			byHeader[k] = g
			groups = append(groups, g)
		}
		g.files = append(g.files, relTo(base, f.Path))
	}
	for _, g := range groups {
		label := "fields"
		if len(groups) > 1 {
			fmt.Fprintf(w, "  fields  of %s\n", strings.Join(g.files, ", "))
			label = ""
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range g.file.Match.Fields {
			col := cellName(f.Source())
			if !f.Found() {
				col = "(none of " + quoteList(f.Candidates) + ")"
				if g.file.KeysFrom > 0 {
					col = "(none of " + quoteList(f.Candidates) + " in " + plural(g.file.KeysFrom, "object") + ")"
				}
				if f.Required {
					col += ": every record rejected"
				} else {
					col += ": null"
				}
			}
			fmt.Fprintf(tw, "  %-6s  %s\t← %s\n", label, f.Field, col)
			label = ""
		}
		tw.Flush()
		if n := len(g.file.Match.Unread); n > 0 {
			unread := make([]string, n)
			for i, c := range g.file.Match.Unread {
				unread[i] = cellName(c)
			}
			what := "column"
			if g.file.KeysFrom > 0 {
				what = "key"
			}
			wrapList(w, "  unread  ", fmt.Sprintf("%s: ", plural(n, what)), unread)
		}
	}
	printDialects(w, in, base)
	if len(in.Sample) == 0 {
		return
	}
	fmt.Fprintf(w, "  sample  %d normalized, %d rejected\n", len(in.Sample)-in.SampleRejected, in.SampleRejected)
	var tw *tabwriter.Writer
	file := ""
	for _, s := range in.Sample {
		if s.File != file {
			if tw != nil {
				tw.Flush()
			}
			file = s.File
			fmt.Fprintf(w, "          %s\n", relTo(base, file))
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		}
		if s.Reject != nil {
			fmt.Fprintf(tw, "            @%d\trejected\t%s\n", s.Offset, clip(s.Reject.Error, 100))
			continue
		}
		q := s.Record
		cells := []string{fmt.Sprintf("@%d", s.Offset), clip(q.RequestID, 24), q.CreatedAt, q.Status, clip(q.Agency, 24), clip(q.RequestType, 36)}
		for len(cells) > 0 && cells[len(cells)-1] == "" {
			cells = cells[:len(cells)-1]
		}
		fmt.Fprintf(tw, "            %s\n", strings.Join(cells, "\t"))
	}
	tw.Flush()
}

// printDialects prints the time dialects detected in an input's files: once when every
// file has the same, else per group of files that share them.
func printDialects(w io.Writer, in PlannedInput, base string) {
	type group struct {
		files    []string
		dialects []jobs.TimeDialect
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, f := range in.Files {
		if len(f.TimeDialects) == 0 {
			continue
		}
		var k strings.Builder
		for _, d := range f.TimeDialects {
			fmt.Fprintf(&k, "%s\x00%s\x00%s\x00%v\x00%s\x01", d.Field, d.Column, d.Layout, d.Ambiguous, d.Borrowed)
		}
		g := byKey[k.String()]
		if g == nil {
			g = &group{dialects: f.TimeDialects}
			byKey[k.String()] = g
			groups = append(groups, g)
		}
		g.files = append(g.files, relTo(base, f.Path))
	}
	for _, g := range groups {
		label := "times"
		if len(groups) > 1 {
			fmt.Fprintf(w, "  times   of %s\n", strings.Join(g.files, ", "))
			label = ""
		}
		for _, d := range g.dialects {
			fmt.Fprintf(w, "  %-6s  %s\n", label, shown(d.String()))
			label = ""
		}
	}
}

func printSource(w io.Writer, s PlannedSource) {
	fmt.Fprintf(w, "\nsource %s: %s %s, schema %s\n", s.Name, s.Kind, s.Endpoint, s.Schema)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch {
	case s.Watermark == "":
		fmt.Fprintf(tw, "  would pull\trecords updated since the watermark (%s), in pages of %d\n", s.WatermarkNote, s.PageSize)
	case s.Watermark == "(none)":
		fmt.Fprintf(tw, "  would pull\trecords updated since start %s (no watermark: the first pull), in pages of %d\n", s.Start, s.PageSize)
	default:
		fmt.Fprintf(tw, "  would pull\trecords updated after the watermark %s, in pages of %d\n", s.Watermark, s.PageSize)
	}
	fmt.Fprintf(tw, "  into\t%s (%s stored, not read by a run yet)\n", s.Raw, plural(s.Pending, "batch"))
	if s.WatermarkNote != "" && s.Watermark != "" {
		fmt.Fprintf(tw, "  note\t%s\n", s.WatermarkNote)
	}
	tw.Flush()
}

// relTo names a file relative to base when it is under it, as cellName shows it.
func relTo(base, name string) string {
	if name == base {
		return cellName(path.Base(filepath.ToSlash(name)))
	}
	if rel, ok := strings.CutPrefix(name, strings.TrimSuffix(base, "/")+"/"); ok {
		return cellName(rel)
	}
	return cellName(name)
}

// wrapList prints items after a label and a lead, wrapped at about 100 columns and indented
// under the first.
func wrapList(w io.Writer, label, lead string, items []string) {
	const width = 100
	indent := strings.Repeat(" ", len(label))
	line := label + lead
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		if len(line)+1+len(it) > width && strings.TrimSpace(line) != "" && line != label+lead {
			fmt.Fprintln(w, line)
			line = indent + it
			continue
		}
		if line == label+lead {
			line += it
		} else {
			line += " " + it
		}
	}
	fmt.Fprintln(w, line)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "ch") {
		return fmt.Sprintf("%d %ses", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// cellName shows a column name that would not be seen as it is (empty, or with spaces
// around it) Go-quoted, and any other as shown does.
func cellName(s string) string {
	if s == "" || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	return shown(s)
}

// clip shortens s, as shown, to n runes for a table cell.
func clip(s string, n int) string {
	s = shown(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// terminalSafe is a message as a command prints it: every control character but the
// newline and the tab, and every byte that is not UTF-8, written as its Go escape. Errors
// and warnings quote what jobs read (a column name, a value, a file name), which may hold
// an escape sequence that would retitle or clear the terminal; unlike shown it keeps a
// message of several lines readable.
func terminalSafe(s string) string {
	safe := func(r rune) bool { return r == '\n' || r == '\t' || r != utf8.RuneError && !unicode.IsControl(r) }
	if strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !safe(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// shown is s as the report prints it: as it is when it is valid UTF-8 of printable runes
// and spaces, else Go-quoted, as `schema infer` quotes the names and values it puts in its
// comments. Headers, values, file names and the messages that quote them come from the
// inputs, and may be hostile: an escape sequence in a column name would otherwise reach
// the terminal (retitle it, clear it), a tab or a newline would break the tables.
func shown(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r != ' ' && !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
