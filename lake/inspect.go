package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// ErrNotLake means a path holds no lake: no _SUCCESS manifest and no group.
var ErrNotLake = errors.New("not a lake")

// Contents is what a lake holds, as `coordinator lake` shows it: its last committed run
// (the _SUCCESS manifest), its groups and its summary datasets. Inspect builds it from the
// manifest and one listing of each root; it reads no data file.
type Contents struct {
	Root string
	// Manifest is the last committed run's manifest; nil when no run finished a commit.
	Manifest *Manifest
	// Groups are every group the lake holds, sorted; a merge job or a job over some of the
	// inputs rewrites some groups, so the lake may hold groups its last run did not write.
	Groups []GroupContents
	// Missing are groups the manifest lists that the lake no longer holds (deleted by
	// hand, or a commit that died after the manifest of an earlier run).
	Missing []record.Key
	// SummariesRoot is where the summary datasets are (resolved from the manifest); empty
	// when the manifest names none (an old lake, or no manifest).
	SummariesRoot string
	// Summaries describe each summary dataset, in SummaryTables order, then the publish files
	// (Table PublishDir).
	Summaries []DatasetContents
	// Old is what the lake holds in the layouts of earlier versions, which keep readers
	// from opening it at its root (see OldLayout).
	Old OldLayout
	// Temporary reports a _temporary directory: a run is writing, or one died.
	Temporary bool
	// Stray are files in no group and not reserved (at most a few, for the message).
	Stray []string
}

// GroupContents is one group of a lake.
type GroupContents struct {
	Key record.Key
	Dir string // its directory, relative to the root (GroupPath, or an old layout's)
	// Rows is the group's row count from the manifest, or -1 when the last run did not
	// write the group (its count is in the files' footers only).
	Rows  int64
	Files int
	Bytes int64
}

// DatasetContents is one summary dataset.
type DatasetContents struct {
	Table  string
	Groups int
	Files  int
	Bytes  int64
}

// maxStray bounds the stray files Inspect names.
const maxStray = 5

// Inspect describes the lake at root, on local disk or S3. A path that holds no lake gives
// an error wrapping ErrNotLake that says what the path holds instead (nothing, a file, or
// summary datasets).
func Inspect(ctx context.Context, store objstore.Store, root string) (*Contents, error) {
	root = cleanRoot(root)
	c := &Contents{Root: root}
	objs, err := store.List(ctx, root+"/")
	if err != nil {
		return nil, err
	}
	if len(objs) == 1 {
		if _, ok := relName(root, objs[0].Name); !ok {
			return nil, fmt.Errorf("%s: %w: it is a file; a lake is the output.parquet directory of a job", root, ErrNotLake)
		}
	}
	m, err := LoadManifest(ctx, store, root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%s: unreadable manifest: %w", root, err)
	default:
		c.Manifest = m
	}
	groups := map[record.Key]*GroupContents{}
	padded := map[string]bool{}
	for _, o := range objs {
		rel, ok := relName(root, o.Name)
		if !ok {
			continue
		}
		kind, k, dir := classify(rel)
		switch kind {
		case reserved:
			if first, _, _ := strings.Cut(rel, "/"); first == TemporaryDir {
				c.Temporary = true
			}
		case oldSummary:
			c.Old.SummaryFiles++
		case other:
			if len(c.Stray) < maxStray {
				c.Stray = append(c.Stray, rel)
			}
		case groupFile, paddedGroup:
			if kind == paddedGroup {
				padded[dir] = true
			}
			g := groups[k]
			if g == nil {
				g = &GroupContents{Key: k, Dir: dir, Rows: -1}
				groups[k] = g
			}
			g.Files++
			g.Bytes += o.Size
		}
	}
	c.Old.GroupDirs = len(padded)
	if c.Manifest == nil && len(groups) == 0 {
		return nil, notLake(root, objs)
	}
	if c.Manifest != nil {
		for _, mg := range c.Manifest.Groups {
			k := record.Key{City: mg.City, Year: mg.Year, Month: mg.Month}
			if g := groups[k]; g != nil {
				g.Rows = mg.Rows
			} else {
				c.Missing = append(c.Missing, k)
			}
		}
		if sroot, legacy := c.Manifest.SummariesRoot(root); !legacy {
			c.SummariesRoot = sroot
			if c.Summaries, err = inspectSummaries(ctx, store, sroot); err != nil {
				return nil, err
			}
		}
	}
	for _, g := range groups {
		c.Groups = append(c.Groups, *g)
	}
	slices.SortFunc(c.Groups, func(a, b GroupContents) int { return compareKeys(a.Key, b.Key) })
	return c, nil
}

// inspectSummaries describes the summary datasets at root, and its publish files.
func inspectSummaries(ctx context.Context, store objstore.Store, root string) ([]DatasetContents, error) {
	objs, err := store.List(ctx, root+"/")
	if err != nil {
		return nil, err
	}
	byTable := map[string]*DatasetContents{}
	groups := map[string]map[record.Key]bool{}
	for _, table := range summaryDirs {
		byTable[table] = &DatasetContents{Table: table}
		groups[table] = map[record.Key]bool{}
	}
	for _, o := range objs {
		rel, ok := relName(root, o.Name)
		if !ok {
			continue
		}
		table, rest, _ := strings.Cut(rel, "/")
		d := byTable[table]
		k, ok := parseGroupFile(rest)
		if d == nil || !ok {
			continue
		}
		d.Files++
		d.Bytes += o.Size
		groups[table][k] = true
	}
	var out []DatasetContents
	for _, table := range summaryDirs {
		d := byTable[table]
		d.Groups = len(groups[table])
		out = append(out, *d)
	}
	return out, nil
}

// notLake explains what root holds, given its listing objs, in an error wrapping ErrNotLake.
func notLake(root string, objs []objstore.ObjectInfo) error {
	if len(objs) == 0 {
		// S3 has no directories: an empty prefix is all it can say.
		if objstore.Absent(root) {
			return fmt.Errorf("%s: %w: no such directory", root, ErrNotLake)
		}
		return fmt.Errorf("%s: %w: it holds nothing", root, ErrNotLake)
	}
	var tables []string
	for _, o := range objs {
		rel, _ := relName(root, o.Name)
		table, rest, _ := strings.Cut(rel, "/")
		if _, ok := parseGroupFile(rest); ok && slices.Contains(SummaryTables, table) && !slices.Contains(tables, table) {
			tables = append(tables, table)
		}
	}
	if len(tables) > 0 {
		return fmt.Errorf("%s: %w: it holds summary datasets (%s), whose manifest is the _SUCCESS of their lake; "+
			"run coordinator lake on that lake (by default the \"requests\" directory beside it)", root, ErrNotLake, strings.Join(tables, ", "))
	}
	return fmt.Errorf("%s: %w: no _SUCCESS manifest and no city=…/year=…/month=… group; "+
		"a lake is the output.parquet directory of a job that has run", root, ErrNotLake)
}

// Head returns up to n rows of group k of the lake at root (local disk or S3), from its
// files in name order (in its directory, or an old layout's); each row group is sorted by
// creation time. A group the lake does
// not hold gives an error wrapping fs.ErrNotExist.
func Head(ctx context.Context, store objstore.Store, root string, k record.Key, n int) ([]Row, error) {
	root = cleanRoot(root)
	dir, err := objstore.Join(root, GroupPath(k))
	if err != nil {
		return nil, err
	}
	objs, err := store.List(ctx, dir+"/")
	if err == nil && len(objs) == 0 && paddedGroupPath(k) != GroupPath(k) {
		// paddedGroupPath escapes the city as GroupPath does, so this join cannot fail either.
		dir, _ = objstore.Join(root, paddedGroupPath(k))
		objs, err = store.List(ctx, dir+"/")
	}
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, o := range objs {
		if len(rows) >= n {
			break
		}
		if !strings.HasSuffix(o.Name, ".parquet") {
			continue
		}
		b, err := objstore.ReadAll(ctx, store, o.Name)
		if err != nil {
			return nil, err
		}
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", o.Name, err)
		}
		r := parquet.NewGenericReader[Row](f)
		buf := make([]Row, n-len(rows))
		got, err := r.Read(buf)
		r.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", o.Name, err)
		}
		rows = append(rows, buf[:got]...)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("group %s: not in the lake %s: %w", filepath.ToSlash(GroupPath(k)), root, fs.ErrNotExist)
	}
	return rows, nil
}

// ParseGroup parses a group's path, "city=<c>/year=<yyyy>/month=<mm>" (the city escaped as
// in the lake; a trailing slash is allowed).
func ParseGroup(s string) (record.Key, error) {
	k, ok := parseGroupDir(strings.Split(strings.Trim(s, "/"), "/"))
	if !ok {
		return k, fmt.Errorf("group %q: want city=<city>/year=<yyyy>/month=<mm>, as coordinator lake lists them", s)
	}
	return k, nil
}

// parseGroupFile parses the lake-relative path of a group's file,
// city=<c>/year=<yyyy>/month=<mm>/<file>.
func parseGroupFile(rel string) (record.Key, bool) {
	segs := strings.Split(rel, "/")
	if len(segs) != 4 || segs[3] == "" {
		return record.Key{}, false
	}
	return parseGroupDir(segs[:3])
}

func parseGroupDir(segs []string) (record.Key, bool) {
	var k record.Key
	if len(segs) != 3 {
		return k, false
	}
	city, ok1 := strings.CutPrefix(segs[0], "city=")
	year, ok2 := strings.CutPrefix(segs[1], "year=")
	month, ok3 := strings.CutPrefix(segs[2], "month=")
	if !ok1 || !ok2 || !ok3 {
		return k, false
	}
	c, err := url.PathUnescape(city)
	y, err1 := strconv.Atoi(year)
	m, err2 := strconv.Atoi(month)
	if err != nil || err1 != nil || err2 != nil || c == "" || m < 1 || m > 12 {
		return k, false
	}
	return record.Key{City: c, Year: y, Month: m}, true
}

// cleanRoot drops a trailing slash (and, on local disk, cleans the path) so that names
// listed under root start with root + "/".
func cleanRoot(root string) string { return objstore.Clean(root) }

// relName returns the slash path of the listed object name relative to root, and false
// when name is not under root.
func relName(root, name string) (string, bool) { return objstore.Rel(root, name) }

func compareKeys(a, b record.Key) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}
