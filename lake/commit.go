package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
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

// CommitGroup is one group to promote: its lake file is a pending upload listed in the stage
// AttemptDir, its summary files pending uploads listed in the stage SummaryDir.
type CommitGroup struct {
	Key  record.Key
	Rows int64
	// AttemptDir and SummaryDir are the accepted attempt's stages (Stage.Dir: the stage
	// manifests) of the lake and of the summaries root.
	AttemptDir string
	SummaryDir string
	// Files and SummaryFiles are the attempt's report of the group's staged files (paths
	// relative to the lake root and the summaries root). Commit takes the files, and their
	// descriptions, from the stage manifests, which the attempt wrote beside its uploads.
	Files        []File
	SummaryFiles []File
	// OneAttempt says that the attempt that staged the group was its task's only one: no
	// other attempt of the job wrote into the group's directories. Commit then passes over
	// the directories that the group's accepted uploads made themselves (Pending.Made, on
	// local disk), which hold nothing else: reading them was a system call or four a file.
	OneAttempt bool
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

	// oldLayout is what the lake holds in an old layout after the commit that returned this
	// manifest (nil in a manifest read back): Commit lists the whole lake to remove the
	// committed groups' old copies, and a caller's FindOldLayout would list it again.
	oldLayout *OldLayout
	// done is what the commit that returned this manifest did, for AbortCommitted (nil in
	// a manifest read back).
	done *committed
}

// OldLayoutLeft returns what the lake holds in the layout of earlier versions after the
// Commit that returned m, as FindOldLayout would find it then; ok is false for a manifest
// that Commit did not return (LoadManifest's), for which FindOldLayout must look.
func (m *Manifest) OldLayoutLeft() (old OldLayout, ok bool) {
	if m.oldLayout == nil {
		return OldLayout{}, false
	}
	return *m.oldLayout, true
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
// lakeRoot are; legacy reports a lake of the old layout, whose summaries are inside it. A
// relative root (both trees on local disk) is resolved against lakeRoot, also when the lake
// was copied to S3 with its summaries beside it.
func (m *Manifest) SummariesRoot(lakeRoot string) (root string, legacy bool) {
	if m.Summaries == nil {
		return "", true
	}
	return objstore.Resolve(lakeRoot, m.Summaries.Root), false
}

// summariesRef is how a manifest names the summaries root of roots (see SummaryManifest).
func summariesRef(roots Roots) string {
	if rel, ok := objstore.Relative(roots.Lake, roots.Summaries); ok {
		return rel
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
// datasets at roots and writes the _SUCCESS manifest into the lake. It runs one protocol on
// every store (see Stage): it completes the accepted attempts' pending uploads of the
// groups' files — each an atomic publication of one whole file at its final name (a rename
// on local disk, CompleteMultipartUpload on S3), copying no data — then deletes the files of
// those groups that this job did not write and aborts the uploads that lost (backup
// attempts, attempts of dead workers). A group's directory holds one file per dataset, so a
// reader of a group sees the old file or the new one. Commit is not atomic across groups: a
// crash mid-commit leaves some groups new and some old and no _SUCCESS for this job;
// re-running the job repairs that. What the lake holds of the committed groups in the layout
// of earlier versions (see OldLayout) is removed.
func Commit(ctx context.Context, store objstore.Store, roots Roots, job, name string, stats RunStats, groups []CommitGroup, now time.Time) (*Manifest, error) {
	if roots.Lake == "" || roots.Summaries == "" || !objstore.SameStore(roots.Lake, roots.Summaries) {
		return nil, fmt.Errorf("commit: the lake (%q) and the summaries (%q) need a root each, both on S3 or both on local disk", roots.Lake, roots.Summaries)
	}
	if err := checkStages(roots, job, groups); err != nil {
		return nil, err
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Key.Less(groups[j].Key) })
	m := &Manifest{Job: job, Name: name, Committed: now.UTC(), Run: stats,
		Summaries: &SummaryManifest{Root: summariesRef(roots), Tables: slices.Clone(SummaryTables)}}
	done := &committed{completed: map[pendingKey]bool{}, stages: map[string][]StagedFile{}, swept: map[string][]string{}}
	err := commitGroups(ctx, store, roots, m, groups, done)
	if err == nil {
		var left OldLayout
		if left, err = removeOldLayout(ctx, store, roots.Lake, groups); err == nil {
			m.oldLayout = &left
		}
	}
	if err == nil {
		err = writeManifest(ctx, store, roots.Lake, m)
	}
	if err != nil {
		return nil, err
	}
	m.done = done
	return m, errors.Join(abort(ctx, store, roots.Lake, job, done), abort(ctx, store, roots.Summaries, job, done))
}

// committed is what a commit tells the abort that closes it.
type committed struct {
	// completed holds the uploads the commit completed: local disk's staged files renamed
	// into place, S3's multipart uploads made objects. They are not to be aborted: on S3
	// each such abort was a round trip answered NoSuchUpload, one per file of the job.
	completed map[pendingKey]bool
	// stages holds the stage manifests the commit read, by objstore.Clean(name): the abort
	// discards them without reading and decoding them again (a few hundred bytes of JSON a
	// file, five files a group).
	stages map[string][]StagedFile
	// swept holds, by root, the group directories the commit swept of the uploads started
	// before it (dataset.sweep): the abort's sweep of the root passes over them (see
	// objstore.AbortUploadsOutside).
	swept map[string][]string
}

// pendingKey names a staged upload: local disk's staged file (Pending.Temp) or S3's
// multipart upload (Pending.UploadID). An S3 object too small for a multipart upload stages
// nothing (both empty): its Complete writes it whole.
type pendingKey struct{ temp, upload string }

func keyOf(p *objstore.Pending) pendingKey { return pendingKey{p.Temp, p.UploadID} }

func (m *Manifest) add(g CommitGroup) {
	m.Rows += g.Rows
	m.Groups = append(m.Groups, ManifestGroup{City: g.Key.City, Year: g.Key.Year, Month: g.Key.Month, Rows: g.Rows})
}

// dataset is one root's part of a commit.
type dataset struct {
	root     string
	prefixes map[string]bool // the groups' directories, relative to root
	alone    map[string]bool // the prefixes of groups staged by their task's one attempt
	stages   []string        // the accepted attempts' stage manifests
	files    []StagedFile    // the accepted files
}

// commitGroups completes the groups' accepted uploads in both roots and lists them in m. It
// records in done the stage manifests it read, the staged files of local disk's completed
// uploads (Pending.Temp) and the group directories it swept, for the abort that follows the
// manifest.
func commitGroups(ctx context.Context, store objstore.Store, roots Roots, m *Manifest, groups []CommitGroup, done *committed) error {
	lake := &dataset{root: roots.Lake, prefixes: map[string]bool{}, alone: map[string]bool{}}
	sums := &dataset{root: roots.Summaries, prefixes: map[string]bool{}, alone: map[string]bool{}}
	seen := map[string]bool{}
	for _, g := range groups {
		prefix := filepath.ToSlash(GroupPath(g.Key))
		lake.prefixes[prefix] = true
		lake.alone[prefix] = g.OneAttempt
		if g.AttemptDir != "" && !seen[g.AttemptDir] {
			seen[g.AttemptDir] = true
			lake.stages = append(lake.stages, g.AttemptDir)
		}
		for _, table := range summaryDirs {
			prefix := filepath.ToSlash(SummaryGroupPath(table, g.Key))
			sums.prefixes[prefix] = true
			sums.alone[prefix] = g.OneAttempt
		}
		if g.SummaryDir != "" && !seen[g.SummaryDir] {
			seen[g.SummaryDir] = true
			sums.stages = append(sums.stages, g.SummaryDir)
		}
		m.add(g)
	}
	datasets := []*dataset{lake, sums}
	var pending []*StagedFile
	for _, d := range datasets {
		for _, st := range d.stages {
			fs, err := readStage(ctx, store, st)
			if err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			done.stages[objstore.Clean(st)] = fs
			for _, f := range fs {
				if f.Pending == nil || !underGroup(f.Path, d.prefixes) {
					continue
				}
				// The manifest comes from a worker: its upload must be the file it describes.
				if want, err := objstore.Join(d.root, f.Path); err != nil || f.Pending.Name != want {
					return fmt.Errorf("commit: stage manifest %s: %w: file %q is uploaded to %q, not under %s", st, objstore.ErrUnsafePath, f.Path, f.Pending.Name, d.root)
				}
				d.files = append(d.files, f)
			}
		}
		for i := range d.files {
			pending = append(pending, &d.files[i])
		}
	}
	for _, g := range groups {
		if g.Rows > 0 && !hasFileUnder(lake.files, filepath.ToSlash(GroupPath(g.Key))) {
			return fmt.Errorf("commit group %s: its stage %s lists no file of it", g.Key, g.AttemptDir)
		}
	}
	// Complete the accepted uploads: one atomic publication each, no data copied.
	sem := make(chan struct{}, max(objstore.Parallelism(roots.Lake), objstore.Parallelism(roots.Summaries)))
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
	for _, p := range pending {
		if k := keyOf(p.Pending); k != (pendingKey{}) {
			done.completed[k] = true
		}
	}
	// Every accepted upload is complete: what is still pending in the groups lost, up to
	// this instant (not Commit's now, which a caller may give from the past), so that the
	// abort after the manifest can pass over these directories.
	before := time.Now()
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
		dirs, err := d.sweep(ctx, store, before)
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		done.swept[d.root] = dirs
	}
	return nil
}

// hasFileUnder reports whether one of files lies in the group directory dir.
func hasFileUnder(files []StagedFile, dir string) bool {
	for _, f := range files {
		if strings.HasPrefix(f.Path, dir+"/") {
			return true
		}
	}
	return false
}

// sweep leaves each committed group of d holding exactly this job's files: it drops a
// previous run's extra ones, and aborts uploads to the group that lost (backup attempts,
// attempts of dead workers).
func (d *dataset) sweep(ctx context.Context, store objstore.Store, before time.Time) ([]string, error) {
	keep := map[string]bool{}
	for _, f := range d.files {
		keep[f.Path] = true
	}
	made := d.madeAlone()
	var dirs, sweep []string
	for _, prefix := range slices.Sorted(maps.Keys(d.prefixes)) {
		dir, err := objstore.Join(d.root, prefix)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, dir+"/")
		if !made[prefix] {
			sweep = append(sweep, dir+"/")
		}
	}
	// The uploads are aborted before the manifest: a crash between it and the closing abort
	// must not leave a losing upload in a group directory. One sweep does both, so that local
	// disk reads each group directory once.
	return dirs, objstore.SweepTrees(ctx, store, sweep, func(name string) bool {
		rel, _ := objstore.Rel(d.root, name)
		return keep[rel]
	}, before)
}

// madeAlone returns the group directories (prefixes) of d that hold the accepted files and
// nothing else: those of groups staged by their task's one attempt (OneAttempt) whose every
// accepted file's upload made the directory (Pending.Made is it or one above it), so that
// it was empty before, and no other attempt wrote into it after. Neither an earlier run's
// files nor a losing upload can be there to sweep. (An attempt of an earlier run whose
// coordinator died may still be writing, as it may after any sweep; its staged file, which
// readers do not see, goes at the group's next commit.)
func (d *dataset) madeAlone() map[string]bool {
	made, other := map[string]bool{}, map[string]bool{}
	for _, f := range d.files {
		prefix := path.Dir(f.Path)
		if !d.alone[prefix] || other[prefix] {
			continue
		}
		dir, err := objstore.Join(d.root, prefix)
		top := filepath.ToSlash(f.Pending.Made)
		if err == nil && top != "" && objstore.InTree(filepath.ToSlash(dir), top) {
			made[prefix] = true
		} else {
			other[prefix] = true
			delete(made, prefix)
		}
	}
	return made
}

// writeManifest writes m as the _SUCCESS of the lake at root: last, so that a reader who
// follows it never sees a group of a half-committed job.
func writeManifest(ctx context.Context, store objstore.Store, root string, m *Manifest) error {
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
// Commit completes what a group's stages list and deletes them, and they come from a
// worker's task result.
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
			continue // a group without summaries
		}
		if err := checkStage(g.Key, g.SummaryDir, sumTmp); err != nil {
			return err
		}
	}
	return nil
}

// checkStage refuses stage unless it lies under tmp.
func checkStage(k record.Key, stage, tmp string) error {
	d := objstore.Clean(stage)
	if !strings.HasPrefix(d, tmp+"/") || strings.Contains(d, "/../") || strings.HasSuffix(d, "/..") {
		return fmt.Errorf("commit group %s: %w: its stage %q is not under %s", k, objstore.ErrUnsafePath, stage, tmp)
	}
	return nil
}

// Abort removes everything job run `job` left under root's _temporary directory, and the
// _temporary directory itself once it is empty: it aborts the uploads that the job's stage
// manifests list, deletes the job's staging tree, and sweeps the uploads under root that no
// manifest lists (attempts that died, or were cancelled, before writing theirs). One job at a
// time writes a lake (Lock), so every unfinished upload under root that started before now is
// this job's.
func Abort(ctx context.Context, store objstore.Store, root, job string) error {
	return abort(ctx, store, root, job, nil)
}

// AbortCommitted is Abort of root (the lake's or the summaries') after the Commit that
// returned m, for a run none of whose attempts but the accepted ones wrote there (each of
// its reduce tasks ran once): it passes over the group directories that the commit swept of
// every unfinished upload just before its manifest, as the commit's own abort did, since no
// attempt was left to write into them. That walk read every group directory of the job
// again, a directory read per file. (An attempt of an earlier run whose coordinator died may
// still stage a file there, which readers do not see, until the group's next commit.) For a
// manifest that Commit did not return (one read back), it is Abort.
func AbortCommitted(ctx context.Context, store objstore.Store, root, job string, m *Manifest) error {
	return abort(ctx, store, root, job, m.done)
}

// abort is Abort, closing a commit when done is not nil: it skips the staged files that the
// commit completed, takes the stage manifests the commit read as read (see discardStage),
// and passes over the group directories the commit swept just before its manifest.
func abort(ctx context.Context, store objstore.Store, root, job string, done *committed) error {
	tmp, err := jobTemp(root, job)
	if err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	objs, err := store.List(ctx, tmp+"/")
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		if strings.HasSuffix(o.Name, ".pending") {
			errs = append(errs, discardStage(ctx, store, root, o.Name, done))
		}
	}
	errs = append(errs, store.DeletePrefix(ctx, tmp))
	if done != nil {
		_, err = objstore.AbortUploadsOutside(ctx, store, strings.TrimSuffix(root, "/")+"/", time.Now(), done.swept[root])
	} else {
		_, err = store.AbortUploads(ctx, strings.TrimSuffix(root, "/")+"/", time.Now())
	}
	errs = append(errs, err)
	// Fails harmlessly while other jobs still have attempts there.
	errs = append(errs, store.Prune(ctx, root, tmp))
	return errors.Join(errs...)
}

// WriteJSON writes v as indented JSON to the local path (creating its directory), whole: a
// reader sees the previous file or this one. It is meant for tools and tests.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	store, err := localDisk()
	if err != nil {
		return err
	}
	return objstore.WriteAll(context.Background(), store, path, append(b, '\n'))
}

// localDisk returns the store of WriteJSON, ReadManifest, WriteParquet and ReadParquet, the
// helpers of tools and tests that name local files only. A Router with no options touches no
// S3 configuration until an s3:// name reaches it.
func localDisk() (objstore.Store, error) { return objstore.New(objstore.Options{}) }

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
	store, err := localDisk()
	if err != nil {
		return nil, err
	}
	return LoadManifest(context.Background(), store, root)
}
