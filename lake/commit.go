package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
)

// Names of the lake's reserved entries.
const (
	TemporaryDir = "_temporary"
	SuccessFile  = "_SUCCESS"
)

// Roots names the two trees a job writes: the lake of requests and the summary datasets
// beside it (jobs.Output's Parquet and Summaries). Neither may contain the other.
type Roots struct {
	Lake      string
	Summaries string
}

// AttemptDir is where attempt `attempt` of task `name` (e.g. "r-3") of job run `job` writes.
// job and name arrive in task messages and name directories that are later deleted, so an
// element that would leave root/_temporary (see objstore.Join) is refused with an error
// wrapping objstore.ErrUnsafePath.
func AttemptDir(root, job, name string, attempt int) (string, error) {
	return objstore.Join(root, TemporaryDir, job, fmt.Sprintf("%s-%d", name, attempt))
}

// jobTemp is root's staging directory of job run `job`: root/_temporary/<job>.
func jobTemp(root, job string) (string, error) { return objstore.Join(root, TemporaryDir, job) }

// GroupPath is the lake directory of group k, relative to the lake root (and, under each
// table's directory, to the summaries root): city=<c>/year=<y>/month=<m>. The numbers are not
// zero-padded, as Spark writes integer partitions, so that readers that infer partition
// types (DuckDB, Glue) read year and month as integers: "05" reads as text. The city is
// escaped (citySegment), so no key names a directory outside the lake.
func GroupPath(k record.Key) string {
	return filepath.Join("city="+citySegment(k.City), fmt.Sprintf("year=%d", k.Year), fmt.Sprintf("month=%d", k.Month))
}

// citySegment escapes a city for use in a path segment: url.PathEscape escapes '/' but
// leaves "." and "..", which as a whole segment would name a dataset's directory or its
// root itself, so a city made only of dots has them escaped too, and an empty one becomes
// "_". Cities of a validated schema (lower-case letters, digits, '_' and '-') come out
// unchanged; this is the defence for keys that did not come through one.
func citySegment(city string) string {
	c := url.PathEscape(city)
	if c == "" {
		return "_"
	}
	if strings.Trim(c, ".") == "" {
		return strings.ReplaceAll(c, ".", "%2E")
	}
	return c
}

// PartFile names the n-th data file of a group.
func PartFile(n int) string { return fmt.Sprintf("part-%05d.parquet", n) }

// CommitGroup is one group to promote: its lake file sits in the stage AttemptDir at
// GroupPath, its summary files in the stage SummaryDir at SummaryGroupPath.
type CommitGroup struct {
	Key  record.Key
	Rows int64
	// AttemptDir and SummaryDir are the accepted attempt's stages (Stage.Dir) of the lake
	// and of the summaries root.
	AttemptDir string
	SummaryDir string
	// Files and SummaryFiles describe the group's staged files (paths relative to the lake
	// root and the summaries root), if the attempt reported them; on local disk Commit
	// otherwise reads them to describe them.
	Files        []File
	SummaryFiles []File
}

// File is one committed file in a manifest.
type File struct {
	Path   string `json:"path"` // relative to the lake root
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ManifestGroup is one committed group in a manifest.
type ManifestGroup struct {
	City  string `json:"city"`
	Year  int    `json:"year"`
	Month int    `json:"month"`
	Rows  int64  `json:"rows"`
}

// Manifest is the _SUCCESS file: what the last committed job wrote. It is the one manifest
// of the job's output: the summaries root has none of its own, and this one lists its
// files too.
type Manifest struct {
	Job       string          `json:"job"`
	Name      string          `json:"name"`
	Committed time.Time       `json:"committed"`
	Rows      int64           `json:"rows"`
	Groups    []ManifestGroup `json:"groups"`
	Files     []File          `json:"files"` // the lake's files, relative to the lake root
	// Summaries locates the run's summary datasets and lists their files. It is nil in the
	// manifest of a lake written before the summaries moved out of it (they are under the
	// lake's _summary/; see OldLayout).
	Summaries *SummaryManifest `json:"summaries,omitempty"`
	// Run is the committing run's accounting, for tools that record it later (publish).
	Run RunStats `json:"run"`
}

// SummaryManifest is the summaries part of a manifest.
type SummaryManifest struct {
	// Root is the summaries root: relative to the lake root when both are on local disk
	// ("../summaries"), so that the two can move together; otherwise as the job named it.
	Root   string   `json:"root"`
	Tables []string `json:"tables"`
	Files  []File   `json:"files"` // relative to Root
}

// SummariesRoot is where the summaries of the run that wrote the manifest of the lake at
// lakeRoot are; legacy reports a lake of the old layout, whose summaries are inside it.
func (m *Manifest) SummariesRoot(lakeRoot string) (root string, legacy bool) {
	if m.Summaries == nil {
		return "", true
	}
	r := m.Summaries.Root
	switch {
	case objstore.IsS3(r) || filepath.IsAbs(r):
		return r, false
	case objstore.IsS3(lakeRoot):
		// A lake written on disk and copied to S3 with its summaries beside it.
		return objstore.S3Scheme + path.Join(strings.TrimPrefix(lakeRoot, objstore.S3Scheme), r), false
	}
	return filepath.Join(lakeRoot, filepath.FromSlash(r)), false
}

// summariesRef is how a manifest names the summaries root of roots (see SummaryManifest).
func summariesRef(roots Roots) string {
	if objstore.IsS3(roots.Lake) || objstore.IsS3(roots.Summaries) {
		return roots.Summaries
	}
	lake, err1 := filepath.Abs(roots.Lake)
	sums, err2 := filepath.Abs(roots.Summaries)
	if rel, err := filepath.Rel(lake, sums); err1 == nil && err2 == nil && err == nil {
		return filepath.ToSlash(rel)
	}
	return roots.Summaries
}

// RunStats is a job run's accounting as the manifest keeps it.
type RunStats struct {
	Started    time.Time `json:"started"`
	RecordsIn  int64     `json:"records_in"`
	Rejected   int64     `json:"rejected"`
	Duplicates int64     `json:"duplicates"`
	// Version is the version of the coordinator that ran the job, if known.
	Version string `json:"version,omitempty"`
}

// Commit promotes the accepted groups of job run `job` into the lake and the summary
// datasets at roots and writes the _SUCCESS manifest into the lake. On local disk each of a
// group's directories (its lake partition, its partition of every summary dataset) replaces
// the committed one atomically (see exchange); on S3 the groups' pending uploads are
// completed (see Stage). Commit is not atomic across groups: a crash mid-commit leaves some
// groups new and some old and no _SUCCESS for this job; re-running the job repairs that.
// What the lake holds of the committed groups in the layout of earlier versions (see
// OldLayout) is removed.
func Commit(ctx context.Context, store objstore.Store, roots Roots, job, name string, stats RunStats, groups []CommitGroup, now time.Time) (*Manifest, error) {
	if roots.Lake == "" || roots.Summaries == "" || objstore.IsS3(roots.Lake) != objstore.IsS3(roots.Summaries) {
		return nil, fmt.Errorf("commit: the lake (%q) and the summaries (%q) need a root each, both on S3 or both on local disk", roots.Lake, roots.Summaries)
	}
	if err := checkStages(roots, job, groups); err != nil {
		return nil, err
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Key.Less(groups[j].Key) })
	m := &Manifest{Job: job, Name: name, Committed: now.UTC(), Run: stats,
		Summaries: &SummaryManifest{Root: summariesRef(roots), Tables: slices.Clone(SummaryTables)}}
	var err error
	if objstore.IsS3(roots.Lake) {
		err = commitS3(ctx, store, roots, job, m, groups, now)
	} else {
		err = commitLocal(roots, job, m, groups)
	}
	if err == nil {
		err = removeOldLayout(ctx, store, roots.Lake, groups)
	}
	if err == nil {
		err = writeManifest(ctx, store, roots.Lake, m)
	}
	if err != nil {
		return nil, err
	}
	return m, errors.Join(Abort(ctx, store, roots.Lake, job), Abort(ctx, store, roots.Summaries, job))
}

// promotion is one directory of a group to commit: rel under root, staged in stage.
type promotion struct {
	root, stage, rel string
	reported         []File // the attempt's description of the files under rel, if any
	summary          bool
}

// promotions lists the directories that commit group g: its lake partition, then its
// partition of each summary dataset.
func promotions(roots Roots, g CommitGroup) []promotion {
	ps := []promotion{{root: roots.Lake, stage: g.AttemptDir, rel: GroupPath(g.Key), reported: g.Files}}
	for _, table := range SummaryTables {
		ps = append(ps, promotion{root: roots.Summaries, stage: g.SummaryDir, rel: SummaryGroupPath(table, g.Key), reported: g.SummaryFiles, summary: true})
	}
	return ps
}

func commitLocal(roots Roots, job string, m *Manifest, groups []CommitGroup) error {
	for _, g := range groups {
		for _, p := range promotions(roots, g) {
			src := filepath.Join(p.stage, p.rel)
			if _, err := os.Stat(src); p.stage == "" || errors.Is(err, fs.ErrNotExist) {
				if g.Rows > 0 {
					return fmt.Errorf("commit group %s: its staged files are gone from %s", g.Key, src)
				}
				continue
			}
			var files []File
			prefix := filepath.ToSlash(p.rel) + "/"
			for _, f := range p.reported {
				if strings.HasPrefix(f.Path, prefix) {
					files = append(files, f)
				}
			}
			dst := filepath.Join(p.root, p.rel)
			if len(files) == 0 {
				var err error
				if files, err = describe(src, p.root, dst); err != nil {
					return err
				}
			}
			trash := filepath.Join(p.root, TemporaryDir, job, "_replaced", p.rel)
			if err := Replace(src, dst, trash); err != nil {
				return fmt.Errorf("commit group %s: %w", g.Key, err)
			}
			if p.summary {
				m.Summaries.Files = append(m.Summaries.Files, files...)
			} else {
				m.Files = append(m.Files, files...)
			}
		}
		m.add(g)
	}
	return nil
}

func (m *Manifest) add(g CommitGroup) {
	m.Rows += g.Rows
	m.Groups = append(m.Groups, ManifestGroup{City: g.Key.City, Year: g.Key.Year, Month: g.Key.Month, Rows: g.Rows})
}

// commitParallelism bounds the CompleteMultipartUpload calls in flight at commit.
const commitParallelism = 16

// s3Dataset is one root's part of an S3 commit.
type s3Dataset struct {
	root     string
	prefixes map[string]bool // the groups' directories, relative to root
	stages   []string        // the accepted attempts' stage manifests
	files    []StagedFile    // the accepted files
}

func commitS3(ctx context.Context, store objstore.Store, roots Roots, job string, m *Manifest, groups []CommitGroup, now time.Time) error {
	lake := &s3Dataset{root: roots.Lake, prefixes: map[string]bool{}}
	sums := &s3Dataset{root: roots.Summaries, prefixes: map[string]bool{}}
	seen := map[string]bool{}
	for _, g := range groups {
		for _, p := range promotions(roots, g) {
			d := lake
			if p.summary {
				d = sums
			}
			d.prefixes[filepath.ToSlash(p.rel)] = true
			if p.stage != "" && !seen[p.stage] {
				seen[p.stage] = true
				d.stages = append(d.stages, p.stage)
			}
		}
		m.add(g)
	}
	datasets := []*s3Dataset{lake, sums}
	var pending []*StagedFile
	for _, d := range datasets {
		for _, st := range d.stages {
			fs, err := readStage(ctx, store, st)
			if err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			for _, f := range fs {
				if underGroup(f.Path, d.prefixes) && f.Pending != nil {
					d.files = append(d.files, f)
				}
			}
		}
		for i := range d.files {
			pending = append(pending, &d.files[i])
		}
	}
	// Complete the accepted uploads: metadata operations, no data copied.
	sem := make(chan struct{}, commitParallelism)
	errs := make([]error, len(pending))
	var wg sync.WaitGroup
	for i := range pending {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = store.Complete(ctx, *pending[i].Pending)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, d := range datasets {
		var files []File
		for _, f := range d.files {
			files = append(files, f.File)
		}
		sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
		if d == sums {
			m.Summaries.Files = files
		} else {
			m.Files = files
		}
		if err := d.sweep(ctx, store, now); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// sweep leaves each committed group of d holding exactly this job's files: it drops a
// previous run's extra ones, and aborts uploads to the group that lost (backup attempts,
// attempts of dead workers).
func (d *s3Dataset) sweep(ctx context.Context, store objstore.Store, now time.Time) error {
	keep := map[string]bool{}
	for _, f := range d.files {
		keep[f.Path] = true
	}
	base := strings.TrimSuffix(d.root, "/") + "/"
	for _, prefix := range slices.Sorted(maps.Keys(d.prefixes)) {
		dir, err := objstore.Join(d.root, prefix)
		if err != nil {
			return err
		}
		objs, err := store.List(ctx, dir+"/")
		if err != nil {
			return err
		}
		for _, o := range objs {
			if rel := strings.TrimPrefix(o.Name, base); !keep[rel] {
				if err := store.Delete(ctx, o.Name); err != nil {
					return err
				}
			}
		}
		if _, err := store.AbortUploads(ctx, dir+"/", now); err != nil {
			return err
		}
	}
	return nil
}

// writeManifest writes m as the _SUCCESS of the lake at root: last, so that a reader who
// follows it never sees a group of a half-committed job.
func writeManifest(ctx context.Context, store objstore.Store, root string, m *Manifest) error {
	if !objstore.IsS3(root) {
		return WriteJSON(filepath.Join(root, SuccessFile), m)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	success, err := objstore.Join(root, SuccessFile)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := objstore.WriteAll(ctx, store, success, append(b, '\n')); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// checkStages refuses groups staged anywhere but under the job's staging directories,
// root/_temporary/<job> of the lake (AttemptDir) and of the summaries root (SummaryDir):
// Commit renames (local disk) or completes and deletes (S3) what a group's stages hold, and
// they come from a worker's task result.
func checkStages(roots Roots, job string, groups []CommitGroup) error {
	lakeTmp, err := jobTemp(roots.Lake, job)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	sumTmp, err := jobTemp(roots.Summaries, job)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, g := range groups {
		if err := checkStage(g.Key, g.AttemptDir, lakeTmp); err != nil {
			return err
		}
		if g.SummaryDir == "" {
			continue // a group without summaries (see commitLocal)
		}
		if err := checkStage(g.Key, g.SummaryDir, sumTmp); err != nil {
			return err
		}
	}
	return nil
}

// checkStage refuses stage unless it lies under tmp.
func checkStage(k record.Key, stage, tmp string) error {
	d := stage
	if !objstore.IsS3(d) {
		d = filepath.Clean(d)
	}
	if !strings.HasPrefix(d, tmp+"/") || strings.Contains(d, "/../") || strings.HasSuffix(d, "/..") {
		return fmt.Errorf("commit group %s: %w: its stage %q is not under %s", k, objstore.ErrUnsafePath, stage, tmp)
	}
	return nil
}

// describe lists the files under src with their sizes and checksums, named as they will be
// once src is promoted to dst (paths relative to root).
func describe(src, root, dst string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		final, err := filepath.Rel(root, filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("checksum %s: %w", path, err)
		}
		files = append(files, File{Path: filepath.ToSlash(final), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	return files, err
}

// Replace makes the directory src appear at dst, replacing what dst held. Where the platform
// can exchange two paths atomically (Linux), a concurrent reader of dst sees either the old
// directory or the new one; elsewhere dst is briefly absent. The old contents are moved to
// trash and then deleted.
func Replace(src, dst, trash string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(src, dst)
	}
	if err := exchange(src, dst); err == nil {
		return os.RemoveAll(src) // src now holds the old contents
	}
	if err := os.MkdirAll(filepath.Dir(trash), 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(trash); err != nil {
		return err
	}
	if err := os.Rename(dst, trash); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// Abort removes everything job run `job` left under root's _temporary directory, and the
// _temporary directory itself once it is empty. On S3 it first aborts the uploads that the
// job's stage manifests list.
func Abort(ctx context.Context, store objstore.Store, root, job string) error {
	tmp, err := jobTemp(root, job)
	if err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	if objstore.IsS3(root) {
		objs, err := store.List(ctx, tmp+"/")
		if err != nil {
			return err
		}
		var errs []error
		for _, o := range objs {
			if strings.HasSuffix(o.Name, ".pending") {
				errs = append(errs, DiscardStage(ctx, store, o.Name))
			}
		}
		errs = append(errs, store.DeletePrefix(ctx, tmp))
		// Uploads that no manifest lists: attempts that died, or were cancelled, before
		// writing theirs. One job at a time writes a lake (the coordinator refuses a second),
		// so every unfinished upload under root that started before now is this job's.
		_, err = store.AbortUploads(ctx, strings.TrimSuffix(root, "/")+"/", time.Now())
		errs = append(errs, err)
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	os.Remove(filepath.Dir(tmp)) // fails harmlessly while other jobs still have attempts there
	return nil
}

// WriteJSON writes v as indented JSON to path through a temporary file and a rename.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadManifest reads the _SUCCESS manifest of the lake at root, on local disk or S3.
func LoadManifest(ctx context.Context, store objstore.Store, root string) (*Manifest, error) {
	name, err := objstore.Join(root, SuccessFile)
	if err != nil {
		return nil, err
	}
	b, err := objstore.ReadAll(ctx, store, name)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &m, nil
}

// ReadManifest reads the _SUCCESS manifest of the lake at root on local disk.
func ReadManifest(root string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(root, SuccessFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(root, SuccessFile), err)
	}
	return &m, nil
}
