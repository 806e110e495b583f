package coordinator

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/allowpath"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// Plan is a job cut into map tasks.
type Plan struct {
	Maps     []task.Map
	Files    int
	Bytes    int64
	Warnings []string // inputs worth a look that are not errors (an empty file)
}

// PlanJob lists every input's files, reads each CSV header once, checks that the input's
// schema finds its columns there, detects the dialects of the schema's "auto" time fields
// from the file's first values (mapinput.DetectDialects) and cuts each file into split-sized
// byte ranges that all carry them. A gzip file is one task; a SODA JSON file is one task.
func PlanJob(ctx context.Context, store objstore.Store, spec *jobs.Spec, job string) (*Plan, error) {
	return planJob(ctx, store, spec, job, nil)
}

// planJob is PlanJob that, when roots is not nil, refuses a file outside them before it
// reads a byte of it.
func planJob(ctx context.Context, store objstore.Store, spec *jobs.Spec, job string, roots *allowpath.Roots) (*Plan, error) {
	p := &Plan{}
	for i, in := range spec.Inputs {
		files, err := expand(ctx, store, in.Path)
		if in.Source != "" && errors.Is(err, fs.ErrNotExist) {
			continue // no batch that no run has consumed yet: nothing new
		}
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		for _, fi := range files {
			if roots != nil {
				if err := roots.Check(fi.Name); err != nil {
					return nil, task.Fatal(fmt.Errorf("input %q: %w", in.Name, err))
				}
			}
			if _, err := p.addFile(ctx, store, spec, job, i, fi); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// plannedFile is what addFile learned of a file.
type plannedFile struct {
	header   []string           // a CSV file's header
	dialects []jobs.TimeDialect // detected for the schema's "auto" time fields
}

// addFile cuts one file of input i into map tasks. It returns the file's CSV header, also
// when the input's schema does not bind to it, so that a dry run can show why, and the
// dialects detected; a dry run plans with it file by file, as a run does, to report every
// problem rather than the first.
func (p *Plan) addFile(ctx context.Context, store objstore.Store, spec *jobs.Spec, job string, i int, fi objstore.ObjectInfo) (plannedFile, error) {
	in := spec.Inputs[i]
	f := fi.Name
	fileIndex := p.Files
	p.Files++
	p.Bytes += fi.Size
	base := task.Map{
		Job: job, Input: i, File: f, FileIndex: fileIndex,
		Format: in.Format, Reducers: spec.Reducers,
		Seen: &task.FileVersion{Size: fi.Size, ModTime: fi.ModTime},
	}
	var pf plannedFile
	if base.Format == jobs.FormatSODAJSON {
		base.End = fi.Size
		if err := pf.detect(ctx, store, in, &base); err != nil {
			return pf, err
		}
		p.add(base)
		return pf, nil
	}
	if fi.Size == 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("input %q: %s is empty (no header, no records)", in.Name, f))
		return pf, nil
	}
	gz := strings.HasSuffix(f, ".gz")
	header, dataStart, err := readHeader(ctx, store, f, fi.Size, gz)
	if err != nil {
		return pf, fmt.Errorf("input %q: %w", in.Name, err)
	}
	pf.header = header
	if err := in.Schema.CheckHeader(header); err != nil {
		return pf, task.Fatal(fmt.Errorf("input %q: %s: %w", in.Name, f, err))
	}
	base.Header, base.DataStart = header, dataStart
	if gz {
		base.Gzip, base.Start, base.End, base.State = true, dataStart, csvsplit.ToEOF, csvsplit.Outside
	}
	if dataStart < fi.Size || gz {
		if err := pf.detect(ctx, store, in, &base); err != nil {
			return pf, err
		}
	}
	if gz {
		p.add(base)
		return pf, nil
	}
	for start := dataStart; start < fi.Size; start += spec.SplitSize {
		m := base
		m.Start, m.End = start, min(start+spec.SplitSize, fi.Size)
		m.State = csvsplit.Unknown
		if start == dataStart {
			m.State = csvsplit.Outside
		}
		p.add(m)
	}
	return pf, nil
}

// detect detects the file's time dialects when the input's schema has "auto" time fields,
// and gives them to the file's tasks (base, which they are copied from). The schema with
// them must bind to the file's header, as each task will bind it.
func (pf *plannedFile) detect(ctx context.Context, store objstore.Store, in jobs.Input, base *task.Map) error {
	ds, err := mapinput.DetectDialects(ctx, store, in.Schema, *base)
	if err != nil {
		return fmt.Errorf("input %q: %w", in.Name, err)
	}
	if ds == nil {
		return nil
	}
	pf.dialects = ds
	base.TimeLayouts = jobs.DialectLayouts(ds)
	s, err := in.Schema.WithDialects(base.TimeLayouts)
	if err == nil && base.Format != jobs.FormatSODAJSON {
		_, err = s.Bind(base.Header)
	}
	if err != nil {
		return task.Fatal(fmt.Errorf("input %q: %s: %w", in.Name, base.File, err))
	}
	return nil
}

func (p *Plan) add(m task.Map) {
	m.Index = len(p.Maps)
	p.Maps = append(p.Maps, m)
}

// expand resolves an input path — a file, a directory (its files, recursively, skipping
// hidden and underscore-prefixed names) or a glob — to its files, sorted by name. On S3 a
// directory is a key prefix.
func expand(ctx context.Context, store objstore.Store, path string) ([]objstore.ObjectInfo, error) {
	if strings.ContainsAny(path, "*?[") {
		files, err := store.List(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("path %s: %w", path, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("path %s: %w: no file matches", path, fs.ErrNotExist)
		}
		return sorted(files), nil
	}
	if fi, err := store.Stat(ctx, path); err == nil {
		return []objstore.ObjectInfo{fi}, nil
	}
	// A directory (a key prefix on S3): the objects under it. The store's listing already
	// leaves out local dot files; underscore-prefixed names (_SUCCESS, _temporary) go here.
	prefix := strings.TrimSuffix(path, "/") + "/"
	objs, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", path, err)
	}
	var files []objstore.ObjectInfo
	for _, o := range objs {
		if rel, ok := objstore.Rel(objstore.Clean(path), o.Name); ok && !hiddenUnder(rel) {
			files = append(files, o)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("path %s: %w: no object at or under it", path, fs.ErrNotExist)
	}
	return sorted(files), nil
}

// hiddenUnder reports whether a relative key has a segment starting with "." or "_".
func hiddenUnder(rel string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") {
			return true
		}
	}
	return false
}

func sorted(files []objstore.ObjectInfo) []objstore.ObjectInfo {
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
}

// headerWindow bounds the bytes read from a plain CSV file to find its header.
const headerWindow = 4 << 20

func readHeader(ctx context.Context, store objstore.Store, path string, size int64, gz bool) ([]string, int64, error) {
	n := int64(-1)
	if !gz {
		n = min(size, headerWindow)
	}
	f, err := store.OpenRange(ctx, path, 0, n)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 64<<10)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	cols, end, err := csvsplit.ReadHeader(r)
	if err != nil {
		if errors.Is(err, csvsplit.ErrBareCR) {
			// The file's line endings, not a read, are at fault: no retry helps.
			return nil, 0, task.Fatal(fmt.Errorf("%s: %w", path, err))
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("%s: no header line", path)
		}
		return nil, 0, fmt.Errorf("%s: header: %w", path, err)
	}
	return cols, end, nil
}
