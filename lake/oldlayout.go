package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// Lakes written by earlier versions differ in two ways, and both keep readers from opening
// the lake at its root with Hive partitioning:
//
//   - the summaries were inside the lake, at <lake>/_summary/<city>/<yyyy>-<mm>/<table>.parquet,
//     with city, year and month columns in the files; their manifests have no Summaries;
//   - group directories had a zero-padded month (month=05), which DuckDB and Glue read as
//     text, and a group rewritten today would sit beside its old copy (month=5).
//
// Such lakes keep working: publishing reads their summaries (ReadLegacySummaries), a merge
// job reads their groups (ReadGroup), and each commit removes the old copies of the groups it
// rewrites; `coordinator lake` and the job's result say what is left. Running the job over
// all its inputs once leaves none.

// LegacySummaryDir is the lake's directory of the old layout's summaries.
const LegacySummaryDir = "_summary"

// legacySummaryPath is group k's directory of the old layout's summaries, relative to the
// lake root. The city is escaped as in GroupPath; here it is a whole segment, so "." and
// ".." matter.
func legacySummaryPath(k record.Key) string {
	return filepath.Join(LegacySummaryDir, citySegment(k.City), fmt.Sprintf("%04d-%02d", k.Year, k.Month))
}

// paddedGroupPath is group k's directory in the old, zero-padded layout (month=05).
func paddedGroupPath(k record.Key) string {
	return filepath.Join("city="+citySegment(k.City), fmt.Sprintf("year=%04d", k.Year), fmt.Sprintf("month=%02d", k.Month))
}

// ReadLegacySummaries reads group k's summary tables from a lake at root written in the old
// layout (its manifest has no Summaries).
func ReadLegacySummaries(ctx context.Context, store objstore.Store, root string, k record.Key) (summary.Tables, error) {
	var t summary.Tables
	dir, err := objstore.Join(root, legacySummaryPath(k))
	if err != nil {
		return t, err
	}
	// The table names are constants and dir is checked, so these joins cannot fail.
	file := func(table string) string { return dir + "/" + table + ".parquet" }
	if t.Monthly, err = ReadParquetFrom[summary.Monthly](ctx, store, file(summary.TableMonthly)); err != nil {
		return t, err
	}
	if t.AgencyDaily, err = ReadParquetFrom[summary.AgencyDaily](ctx, store, file(summary.TableAgencyDaily)); err != nil {
		return t, err
	}
	if t.Heat, err = ReadParquetFrom[summary.Heat](ctx, store, file(summary.TableHeat)); err != nil {
		return t, err
	}
	if t.Geo, err = ReadParquetFrom[summary.Geo](ctx, store, file(summary.TableGeo)); err != nil {
		return t, err
	}
	return t, nil
}

// ReadGroup reads the committed rows of group k of the lake at root, on local disk or S3,
// from its directory or, in a lake of the old layout, from its zero-padded one. A group the
// lake does not hold gives an error wrapping fs.ErrNotExist.
func ReadGroup(ctx context.Context, store objstore.Store, root string, k record.Key) ([]Row, error) {
	name, err := objstore.Join(root, GroupPath(k), PartFile(0))
	if err != nil {
		return nil, err
	}
	rows, err := ReadParquetFrom[Row](ctx, store, name)
	if errors.Is(err, fs.ErrNotExist) && paddedGroupPath(k) != GroupPath(k) {
		// paddedGroupPath escapes the city as GroupPath does, so this join cannot fail either.
		name, _ = objstore.Join(root, paddedGroupPath(k), PartFile(0))
		rows, err = ReadParquetFrom[Row](ctx, store, name)
	}
	return rows, err
}

// OldLayout is what a lake still holds in the layouts of earlier versions.
type OldLayout struct {
	SummaryFiles int // files under _summary/
	GroupDirs    int // zero-padded group directories (month=05)
}

// Empty reports whether the lake holds nothing in an old layout.
func (o OldLayout) Empty() bool { return o.SummaryFiles == 0 && o.GroupDirs == 0 }

// FindOldLayout lists the lake at root once and counts what it holds in an old layout.
func FindOldLayout(ctx context.Context, store objstore.Store, root string) (OldLayout, error) {
	var o OldLayout
	objs, err := store.List(ctx, cleanRoot(root)+"/")
	if err != nil {
		return o, err
	}
	padded := map[string]bool{}
	for _, obj := range objs {
		rel, _ := relName(cleanRoot(root), obj.Name)
		switch kind, _, dir := classify(rel); kind {
		case oldSummary:
			o.SummaryFiles++
		case paddedGroup:
			padded[dir] = true
		}
	}
	o.GroupDirs = len(padded)
	return o, nil
}

// fileKind classifies a lake-relative path.
type fileKind int

const (
	other       fileKind = iota
	groupFile            // a file of a group
	paddedGroup          // a file of a group in the zero-padded layout
	oldSummary           // a summary file of the old layout, under _summary/
	reserved             // _SUCCESS, _temporary/…
)

// classify says what the lake-relative slash path rel is, the group it belongs to (for
// group files and old summary files) and its directory.
func classify(rel string) (fileKind, record.Key, string) {
	dir := rel[:max(strings.LastIndexByte(rel, '/'), 0)]
	first, rest, _ := strings.Cut(rel, "/")
	switch {
	case first == LegacySummaryDir:
		// <city>/<yyyy>-<mm>/<table>.parquet
		segs := strings.Split(rest, "/")
		if len(segs) == 3 {
			city, err := url.PathUnescape(segs[0])
			var y, m int
			if _, serr := fmt.Sscanf(segs[1], "%04d-%02d", &y, &m); err == nil && serr == nil {
				return oldSummary, record.Key{City: city, Year: y, Month: m}, dir
			}
		}
		return oldSummary, record.Key{}, dir
	case strings.HasPrefix(first, "_"):
		return reserved, record.Key{}, dir
	}
	k, ok := parseGroupFile(rel)
	switch {
	case !ok:
		return other, k, dir
	case dir == filepath.ToSlash(GroupPath(k)):
		return groupFile, k, dir
	}
	return paddedGroup, k, dir
}

// removeOldLayout deletes what the lake at root holds of the committed groups in an old
// layout (their summaries under _summary/, their zero-padded directories): the commit has
// just written their replacements. One listing finds them, and what it leaves of the old
// layout, FindOldLayout's answer after the commit, which it returns.
func removeOldLayout(ctx context.Context, store objstore.Store, root string, groups []CommitGroup) (OldLayout, error) {
	var left OldLayout
	committed := map[record.Key]bool{}
	for _, g := range groups {
		committed[g.Key] = true
	}
	objs, err := store.List(ctx, cleanRoot(root)+"/")
	if err != nil {
		return left, fmt.Errorf("commit: list the lake for old layouts: %w", err)
	}
	dirs := map[string]bool{}
	padded := map[string]bool{}
	for _, o := range objs {
		rel, _ := relName(cleanRoot(root), o.Name)
		kind, k, dir := classify(rel)
		if (kind == oldSummary || kind == paddedGroup) && committed[k] {
			if err := store.Delete(ctx, o.Name); err != nil {
				return left, fmt.Errorf("commit: remove the old copy of group %s: %w", k, err)
			}
			dirs[dir] = true
			continue
		}
		switch kind {
		case oldSummary:
			left.SummaryFiles++
		case paddedGroup:
			padded[dir] = true
		}
	}
	left.GroupDirs = len(padded)
	// Drop the directories that emptied (local disk's alone), up to the root.
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		d, err := objstore.Join(cleanRoot(root), dir)
		if err == nil {
			err = store.Prune(ctx, root, d)
		}
		if err != nil {
			return left, fmt.Errorf("commit: %w", err)
		}
	}
	return left, nil
}
