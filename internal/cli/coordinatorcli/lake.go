package coordinatorcli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ireports/ireports/internal/units"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
)

// cmdLake prints what a lake holds, from its _SUCCESS manifest and a listing (no DuckDB,
// no data file read), or the first rows of one of its groups.
func cmdLake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	head := fs.Int("head", 0, "print the first `N` rows of the group given by --group, one JSON object a line")
	group := fs.String("group", "", "the group for --head, as the listing names it: city=<c>/year=<yyyy>/month=<mm>")
	endpoint := fs.String("endpoint", "", "S3-compatible server for s3:// paths (default $S3_ENDPOINT, else AWS)")
	setUsage(fs, "lake PATH [--head N --group city=<c>/year=<yyyy>/month=<mm>] [--endpoint URL]",
		"Prints what the lake at PATH (a job's output.parquet, a directory or s3:// prefix) holds: the run",
		"that last committed it, its groups with rows and sizes, and its summary datasets. With --head,",
		"prints the first N rows of one group instead.")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "want one lake path, got %d arguments", len(pos))
	}
	if *head < 0 || (*head > 0) != (*group != "") {
		return usageError(fs, "--head N (N > 0) and --group go together")
	}
	root := objstore.Abs(pos[0])
	store, err := objstore.New(objstore.Options{Endpoint: *endpoint})
	if err != nil {
		return err
	}
	if *head > 0 {
		k, err := lake.ParseGroup(*group)
		if err != nil {
			return err
		}
		rows, err := lake.Head(ctx, store, root, k, *head)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for i := range rows {
			r := lake.FromRow(k, &rows[i])
			if err := enc.Encode(headRow{
				City: k.City, Year: k.Year, Month: k.Month, RequestID: r.RequestID,
				CreatedAt: r.CreatedAt, ClosedAt: optTime(r.ClosedAt), UpdatedAt: optTime(r.UpdatedAt),
				Status: rows[i].Status, StatusRaw: rows[i].StatusRaw, Agency: rows[i].Agency, RequestType: rows[i].RequestType,
				RequestSubtype: rows[i].RequestSubtype, Latitude: rows[i].Latitude, Longitude: rows[i].Longitude,
				Zip: rows[i].Zip, Neighborhood: rows[i].Neighborhood, Channel: rows[i].Channel, ResolutionHours: rows[i].ResolutionHours,
			}); err != nil {
				return err
			}
		}
		return nil
	}
	c, err := lake.Inspect(ctx, store, root)
	if err != nil {
		return err
	}
	printLake(stdout, c)
	return nil
}

// headRow is a lake row as `coordinator lake --head` prints it: the group's partition
// columns, then the file's columns, nulls as null.
type headRow struct {
	City            string     `json:"city"`
	Year            int        `json:"year"`
	Month           int        `json:"month"`
	RequestID       string     `json:"request_id"`
	CreatedAt       time.Time  `json:"created_at"`
	ClosedAt        *time.Time `json:"closed_at"`
	UpdatedAt       *time.Time `json:"updated_at"`
	Status          string     `json:"status"`
	StatusRaw       *string    `json:"status_raw"`
	Agency          *string    `json:"agency"`
	RequestType     *string    `json:"request_type"`
	RequestSubtype  *string    `json:"request_subtype"`
	Latitude        *float64   `json:"latitude"`
	Longitude       *float64   `json:"longitude"`
	Zip             *string    `json:"zip"`
	Neighborhood    *string    `json:"neighborhood"`
	Channel         *string    `json:"channel"`
	ResolutionHours *float64   `json:"resolution_hours"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// printLake writes c for a person: the run, the totals, the summary datasets, the groups
// and what needs attention.
func printLake(w io.Writer, c *lake.Contents) {
	var files int
	var bytes, rows int64
	unknown := 0
	for _, g := range c.Groups {
		files += g.Files
		bytes += g.Bytes
		if g.Rows < 0 {
			unknown++
		} else {
			rows += g.Rows
		}
	}
	fmt.Fprintf(w, "lake        %s\n", c.Root)
	if m := c.Manifest; m != nil {
		version := ""
		if m.Run.Version != "" {
			version = ", version " + m.Run.Version
		}
		fmt.Fprintf(w, "last run    job %s (%s), committed %s%s\n", m.Job, m.Name, stamp(m.Committed), version)
		if !m.Run.Started.IsZero() {
			fmt.Fprintf(w, "            started %s: %d records read, %d rejected, %d duplicates removed\n",
				stamp(m.Run.Started), m.Run.RecordsIn, m.Run.Rejected, m.Run.Duplicates)
		}
		fmt.Fprintf(w, "            wrote %d groups, %d rows\n", len(m.Groups), m.Rows)
	} else {
		fmt.Fprintln(w, "last run    none: no _SUCCESS manifest (no run has finished a commit here; re-run the job)")
	}
	fmt.Fprintf(w, "requests    %d groups, %d files, %s", len(c.Groups), files, units.FormatBytes(bytes))
	if unknown == 0 {
		fmt.Fprintf(w, ", %d rows", rows)
	}
	fmt.Fprintln(w)
	switch {
	case c.SummariesRoot != "":
		fmt.Fprintf(w, "summaries   %s\n", c.SummariesRoot)
		var t table
		for _, d := range c.Summaries {
			t.add(d.Table, fmt.Sprintf("%d groups", d.Groups), fmt.Sprintf("%d files", d.Files), units.FormatBytes(d.Bytes))
		}
		t.write(w, "            ")
	case c.Old.SummaryFiles > 0:
		fmt.Fprintf(w, "summaries   inside the lake, in the old layout (%s/, %d files)\n", lake.LegacySummaryDir, c.Old.SummaryFiles)
	default:
		fmt.Fprintln(w, "summaries   none recorded")
	}
	if len(c.Groups) > 0 {
		fmt.Fprintln(w)
		var t table
		t.add("GROUP", "ROWS", "FILES", "SIZE")
		for _, g := range c.Groups {
			n := "-"
			if g.Rows >= 0 {
				n = fmt.Sprint(g.Rows)
			}
			t.add(g.Dir, n, fmt.Sprint(g.Files), units.FormatBytes(g.Bytes))
		}
		t.write(w, "")
	}
	var notes []string
	if unknown > 0 && c.Manifest != nil {
		notes = append(notes, fmt.Sprintf("%d groups (rows -) were written by earlier runs: the last run's manifest does not count them", unknown))
	}
	if len(c.Missing) > 0 {
		var names []string
		for _, k := range c.Missing {
			names = append(names, filepath.ToSlash(lake.GroupPath(k)))
		}
		notes = append(notes, fmt.Sprintf("the manifest lists %d groups the lake no longer holds (%s); re-run the job", len(c.Missing), strings.Join(names, ", ")))
	}
	if !c.Old.Empty() {
		notes = append(notes, fmt.Sprintf("%d summary files (%s/) and %d group directories (month=0N) of the layout of earlier versions keep readers "+
			"from opening the lake at its root: run the job over all its inputs once to rewrite them", c.Old.SummaryFiles, lake.LegacySummaryDir, c.Old.GroupDirs))
	}
	if c.Temporary {
		notes = append(notes, fmt.Sprintf("%s/ holds a run's uncommitted files: a run is writing the lake, or one died", lake.TemporaryDir))
	}
	if len(c.Stray) > 0 {
		notes = append(notes, fmt.Sprintf("files in no group: %s", strings.Join(c.Stray, ", ")))
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
}

// table lays out rows of cells in columns: the first left-aligned, the others (numbers)
// right-aligned.
type table struct{ rows [][]string }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, indent string) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// stamp formats t for the listing, in UTC to the second.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
