package coordinator

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
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
// schema finds its columns there, and cuts each file into split-sized byte ranges. A gzip
// file is one task; a SODA JSON file is one task.
func PlanJob(spec *jobs.Spec, job string) (*Plan, error) {
	p := &Plan{}
	for i, in := range spec.Inputs {
		files, err := expand(in.Path)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, fmt.Errorf("input %q: %w", in.Name, err)
			}
			fileIndex := p.Files
			p.Files++
			p.Bytes += fi.Size()
			base := task.Map{
				Job: job, Input: i, File: f, FileIndex: fileIndex,
				Format: task.Format(in.Format.String()), Reducers: spec.Reducers,
			}
			if base.Format == task.FormatSODAJSON {
				base.End = fi.Size()
				p.add(base)
				continue
			}
			if fi.Size() == 0 {
				p.Warnings = append(p.Warnings, fmt.Sprintf("input %q: %s is empty (no header, no records)", in.Name, f))
				continue
			}
			gz := strings.HasSuffix(f, ".gz")
			header, dataStart, err := readHeader(f, gz)
			if err != nil {
				return nil, fmt.Errorf("input %q: %w", in.Name, err)
			}
			if _, err := in.Schema.Bind(header); err != nil {
				return nil, task.Fatal(fmt.Errorf("input %q: %s: %w", in.Name, f, err))
			}
			base.Header, base.DataStart = header, dataStart
			if gz {
				base.Gzip, base.Start, base.End, base.State = true, dataStart, 1<<62, csvsplit.Outside
				p.add(base)
				continue
			}
			for start := dataStart; start < fi.Size(); start += spec.SplitSize {
				m := base
				m.Start, m.End = start, min(start+spec.SplitSize, fi.Size())
				m.State = csvsplit.Unknown
				if start == dataStart {
					m.State = csvsplit.Outside
				}
				p.add(m)
			}
		}
	}
	return p, nil
}

func (p *Plan) add(m task.Map) {
	m.Index = len(p.Maps)
	p.Maps = append(p.Maps, m)
}

// expand resolves an input path — a file, a directory (its files, recursively, skipping
// hidden and underscore-prefixed names) or a glob — to a sorted list of files.
func expand(path string) ([]string, error) {
	if strings.ContainsAny(path, "*?[") {
		matches, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("path %s: %w", path, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("path %s: %w: no file matches", path, fs.ErrNotExist)
		}
		var files []string
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				files = append(files, m)
			}
		}
		sort.Strings(files)
		return files, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", path, err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != path && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", path, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("path %s: %w: directory has no files", path, fs.ErrNotExist)
	}
	sort.Strings(files)
	return files, nil
}

func readHeader(path string, gz bool) ([]string, int64, error) {
	f, err := os.Open(path)
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
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("%s: no header line", path)
		}
		return nil, 0, fmt.Errorf("%s: header: %w", path, err)
	}
	return cols, end, nil
}
