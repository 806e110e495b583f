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
	SummaryDir   = "_summary"
	SuccessFile  = "_SUCCESS"
)

// AttemptDir is where attempt `attempt` of task `name` (e.g. "r-3") of job run `job` writes.
// job and name arrive in task messages and name directories that are later deleted, so an
// element that would leave root/_temporary (see objstore.Join) is refused with an error
// wrapping objstore.ErrUnsafePath.
func AttemptDir(root, job, name string, attempt int) (string, error) {
	return objstore.Join(root, TemporaryDir, job, fmt.Sprintf("%s-%d", name, attempt))
}

// jobTemp is root's staging directory of job run `job`: root/_temporary/<job>.
func jobTemp(root, job string) (string, error) { return objstore.Join(root, TemporaryDir, job) }

// GroupPath is the lake directory of group k, relative to the lake root. The city is escaped
// (citySegment), so no key names a directory outside the lake.
func GroupPath(k record.Key) string {
	return filepath.Join("city="+citySegment(k.City), fmt.Sprintf("year=%04d", k.Year), fmt.Sprintf("month=%02d", k.Month))
}

// SummaryPath is the directory of group k's summary tables, relative to the lake root. It is
// deliberately not Hive-style: the summary files carry their city, year and month columns.
// The city is escaped as in GroupPath; here it is a whole segment, so "." and ".." matter.
func SummaryPath(k record.Key) string {
	return filepath.Join(SummaryDir, citySegment(k.City), fmt.Sprintf("%04d-%02d", k.Year, k.Month))
}

// citySegment escapes a city for use as one path segment: url.PathEscape escapes '/' but
// leaves "." and "..", which would name the summary directory or the lake root itself, so a
// city made only of dots has them escaped too, and an empty one becomes "_". Cities of a
// validated schema (lower-case letters, digits, '_' and '-') come out unchanged; this is the
// defence for keys that did not come through one.
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

// CommitGroup is one group to promote: its files sit under AttemptDir at GroupPath and
// SummaryPath.
type CommitGroup struct {
	Key        record.Key
	Rows       int64
	AttemptDir string
	// Files describe the group's staged files, if the attempt reported them; on local disk
	// Commit otherwise reads them to describe them.
	Files []File
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

// Manifest is the _SUCCESS file: what the last committed job wrote.
type Manifest struct {
	Job       string          `json:"job"`
	Name      string          `json:"name"`
	Committed time.Time       `json:"committed"`
	Rows      int64           `json:"rows"`
	Groups    []ManifestGroup `json:"groups"`
	Files     []File          `json:"files"`
	// Run is the committing run's accounting, for tools that record it later (publish).
	Run RunStats `json:"run"`
}

// RunStats is a job run's accounting as the manifest keeps it.
type RunStats struct {
	Started    time.Time `json:"started"`
	RecordsIn  int64     `json:"records_in"`
	Rejected   int64     `json:"rejected"`
	Duplicates int64     `json:"duplicates"`
}

// Commit promotes the accepted groups of job run `job` into the lake at root and writes the
// _SUCCESS manifest. On local disk each group's data and summary directories replace the
// committed ones atomically (see exchange); on S3 the groups' pending uploads are completed
// (see Stage). Commit is not atomic across groups: a crash mid-commit leaves some groups new
// and some old and no _SUCCESS for this job; re-running the job repairs that.
func Commit(ctx context.Context, store objstore.Store, root, job, name string, stats RunStats, groups []CommitGroup, now time.Time) (*Manifest, error) {
	sort.Slice(groups, func(i, j int) bool { return groups[i].Key.Less(groups[j].Key) })
	m := &Manifest{Job: job, Name: name, Committed: now.UTC(), Run: stats}
	if objstore.IsS3(root) {
		return commitS3(ctx, store, root, job, m, groups, now)
	}
	tmp, err := jobTemp(root, job)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if err := checkStages(tmp, groups); err != nil {
		return nil, err
	}
	trash := filepath.Join(tmp, "_replaced")
	for _, g := range groups {
		for _, rel := range []string{GroupPath(g.Key), SummaryPath(g.Key)} {
			src := filepath.Join(g.AttemptDir, rel)
			if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
				if g.Rows > 0 {
					return nil, fmt.Errorf("commit group %s: its staged files are gone from %s", g.Key, src)
				}
				continue
			}
			var files []File
			prefix := filepath.ToSlash(rel) + "/"
			for _, f := range g.Files {
				if strings.HasPrefix(f.Path, prefix) {
					files = append(files, f)
				}
			}
			if len(files) == 0 {
				var err error
				if files, err = describe(src, root, filepath.Join(root, rel)); err != nil {
					return nil, err
				}
			}
			if err := Replace(src, filepath.Join(root, rel), filepath.Join(trash, rel)); err != nil {
				return nil, fmt.Errorf("commit group %s: %w", g.Key, err)
			}
			m.Files = append(m.Files, files...)
		}
		m.add(g)
	}
	if err := WriteJSON(filepath.Join(root, SuccessFile), m); err != nil {
		return nil, err
	}
	return m, Abort(ctx, store, root, job)
}

func (m *Manifest) add(g CommitGroup) {
	m.Rows += g.Rows
	m.Groups = append(m.Groups, ManifestGroup{City: g.Key.City, Year: g.Key.Year, Month: g.Key.Month, Rows: g.Rows})
}

// commitParallelism bounds the CompleteMultipartUpload calls in flight at commit.
const commitParallelism = 16

func commitS3(ctx context.Context, store objstore.Store, root, job string, m *Manifest, groups []CommitGroup, now time.Time) (*Manifest, error) {
	tmp, err := jobTemp(root, job)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if err := checkStages(tmp, groups); err != nil {
		return nil, err
	}
	prefixes := map[string]bool{}
	var stages []string
	seen := map[string]bool{}
	for _, g := range groups {
		prefixes[filepath.ToSlash(GroupPath(g.Key))] = true
		prefixes[filepath.ToSlash(SummaryPath(g.Key))] = true
		if !seen[g.AttemptDir] {
			seen[g.AttemptDir] = true
			stages = append(stages, g.AttemptDir)
		}
		m.add(g)
	}
	var files []StagedFile
	for _, st := range stages {
		fs, err := readStage(ctx, store, st)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		for _, f := range fs {
			if underGroup(f.Path, prefixes) && f.Pending != nil {
				files = append(files, f)
			}
		}
	}
	// Complete the accepted uploads: metadata operations, no data copied.
	sem := make(chan struct{}, commitParallelism)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = store.Complete(ctx, *files[i].Pending)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.Path] = true
		m.Files = append(m.Files, f.File)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	// A committed group holds exactly this job's files: drop a previous run's extra ones, and
	// abort uploads to the group that lost (backup attempts, attempts of dead workers).
	base := strings.TrimSuffix(root, "/") + "/"
	for _, prefix := range slices.Sorted(maps.Keys(prefixes)) {
		dir, err := objstore.Join(root, prefix)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		objs, err := store.List(ctx, dir+"/")
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		for _, o := range objs {
			if rel := strings.TrimPrefix(o.Name, base); !keep[rel] {
				if err := store.Delete(ctx, o.Name); err != nil {
					return nil, fmt.Errorf("commit: %w", err)
				}
			}
		}
		if _, err := store.AbortUploads(ctx, dir+"/", now); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	success, err := objstore.Join(root, SuccessFile)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if err := objstore.WriteAll(ctx, store, success, append(b, '\n')); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return m, Abort(ctx, store, root, job)
}

// checkStages refuses groups staged anywhere but under the job's staging directory tmp:
// Commit renames (local disk) or completes and deletes (S3) what a group's AttemptDir holds,
// and AttemptDir comes from a worker's task result.
func checkStages(tmp string, groups []CommitGroup) error {
	for _, g := range groups {
		d := g.AttemptDir
		if !objstore.IsS3(d) {
			d = filepath.Clean(d)
		}
		if !strings.HasPrefix(d, tmp+"/") || strings.Contains(d, "/../") || strings.HasSuffix(d, "/..") {
			return fmt.Errorf("commit group %s: %w: its stage %q is not under %s", g.Key, objstore.ErrUnsafePath, g.AttemptDir, tmp)
		}
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
