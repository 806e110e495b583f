package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Errors returned by the package, beside the fs.ErrNotExist and fs.ErrPermission it wraps.
var (
	// ErrBadName reports a name the store cannot address, such as "s3://" without a bucket.
	ErrBadName = errors.New("objstore: bad object name")
	// ErrCrossStore reports a Rename between local disk and S3, which would copy data.
	ErrCrossStore = errors.New("objstore: rename across stores")
	// ErrClosed reports a write to a Writer after Close or Abort.
	ErrClosed = errors.New("objstore: writer closed")
	// ErrBadOptions reports an Options field out of range; the message names it.
	ErrBadOptions = errors.New("objstore: bad options")
	// ErrBadPending reports a Pending that names no upload this store can complete.
	ErrBadPending = errors.New("objstore: bad pending record")
	// ErrUnsafePath reports a name element that Join refuses because it would not stay
	// under its base: "..", ".", empty, absolute, or holding a NUL byte.
	ErrUnsafePath = errors.New("objstore: unsafe path element")
)

// Store is a file system of objects. Implementations: local disk and S3; [Router] dispatches
// between them by name. All methods are safe for concurrent use and block until done or
// until ctx is cancelled. Each method's comment says what it guarantees on both stores; where
// the two differ, it says how. The shared conformance suite (package objstore/storetest)
// checks these guarantees against local disk, an in-process fake S3 and a real MinIO.
//
// Visibility: an object is visible (List, Stat, OpenRange) only whole. Local disk stages
// every unfinished write in a dot file beside its final name ("dir/.name.pending-…"), which
// List never shows, and publishes it with one rename; S3 shows an object once its PutObject
// or CompleteMultipartUpload returns. Listing is strongly consistent on both (S3 has been
// since December 2020): a List that starts after a write returned sees it.
//
// Missing objects: every read (Stat, OpenRange, ReadAll) and Rename of a missing object
// fails with an error wrapping fs.ErrNotExist that names the object; List of a missing tree
// returns nothing and no error; Delete and DeletePrefix of missing objects succeed.
type Store interface {
	// List returns the objects matching pattern, sorted by name, with the names in the form
	// of the pattern (a path or an s3:// URL) so that they can be passed back. A pattern
	// without glob metacharacters names a tree: the object of that name and every object
	// under it ("a" and "a/" list "a" and "a/…", never "ab"). A pattern with metacharacters
	// (path.Match syntax) matches segment by segment, with as many segments as it has. Local
	// disk lists regular files only and skips names, files or directories, that start with
	// "." (staged writes live there); S3 lists every key except "…/" folder markers, dot
	// names included.
	List(ctx context.Context, pattern string) ([]ObjectInfo, error)
	// Stat describes one object. A local directory is not an object (fs.ErrNotExist).
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	// OpenRange streams bytes [off, off+n) of an object, or [off, end) when n < 0. A range
	// reaching past the end is cut at the end; one starting at or past it reads nothing. A
	// negative off is ErrBadName. The stream is never buffered whole; on S3 it resumes
	// after a failure mid-body, pinned to the object's ETag (see the package doc).
	OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error)
	// Create starts writing an object, which appears, whole, replacing what was there, when
	// the Writer's Close returns nil; until then readers see the previous object or none.
	// Local disk: a staged dot file and a rename, after an fsync. S3: one PutObject for an
	// object smaller than a part, else a multipart upload completed by Close.
	Create(ctx context.Context, name string) (Writer, error)
	// Delete removes an object; removing a missing object succeeds.
	Delete(ctx context.Context, name string) error
	// DeletePrefix removes the tree at prefix (see List): on local disk the directory and
	// everything under it, dot files included; on S3 every key in the tree, a thousand per
	// request (not atomic: a failure leaves part of the tree). It refuses (ErrBadName) a
	// whole bucket, "", "." and "/".
	DeletePrefix(ctx context.Context, prefix string) error
	// Rename moves an object within one store, replacing the destination. Local disk: one
	// atomic rename (the destination's directory is made). S3: a server-side copy pinned to
	// the source's ETag, then a delete: cost grows with size and a reader may see both
	// names for a moment, so the lake commits with CreatePending and Complete instead.
	Rename(ctx context.Context, from, to string) error
	// ReplaceTree makes the tree at prefix hold exactly the objects that moves bring, each
	// moved from From to To (which must lie under prefix, else ErrBadName), and drops what
	// the tree held before. Local disk: the objects are renamed into a hidden directory
	// beside prefix, which is then exchanged with prefix atomically (Linux
	// renameat2(RENAME_EXCHANGE); elsewhere prefix is briefly absent), so a reader sees the
	// old tree or the new one. S3: the old tree is deleted and each object renamed into
	// place (see Rename), so a reader may see a partial tree. Meant for small trees, such
	// as a job's rejects.
	ReplaceTree(ctx context.Context, prefix string, moves []Move) error
	// Prune removes, on local disk, the directories from name up to, not including, root
	// that hold nothing, nearest first, and stops at the first that holds something (or is
	// an object, which it never removes). A name that is absent (just deleted) is passed
	// over to its parent; a name not under root prunes nothing. S3 has no directories (a
	// prefix exists only while a key carries it), so there Prune does nothing. Callers call
	// it after deleting a tree's last objects so that local disk, like S3, keeps no empty
	// directory behind.
	Prune(ctx context.Context, root, name string) error

	// CreatePending starts writing an object that stays invisible until Complete is called
	// with the Pending that the writer's Close returns: the commit protocol of the package
	// doc. Local disk: Close leaves a staged dot file beside name, not yet synced (see
	// SyncPending); S3: Close uploads the last part of a multipart upload to name and
	// completes nothing.
	CreatePending(ctx context.Context, name string) (PendingWriter, error)
	// SyncPending makes the pending objects ps (their writers closed) durable, so that a
	// crash after it returns cannot lose their bytes: a writer calls it before it records
	// them for Complete, which publishes a pending object with no further sync. Syncing
	// once for many files is the point: a reducer stages five small files a group, and an
	// fsync each was thousands of journal commits (or, without a journal, synchronous
	// inode and directory writes and a disk flush each) a job. Local disk: one syncfs(2)
	// per file system holding them (Linux), then a wait on each file's writeback, which
	// reports a failed writeback of that file that the syncfs of a descriptor opened after
	// it could miss; elsewhere an fsync each. S3: nothing to do, an uploaded part is
	// durable.
	SyncPending(ctx context.Context, ps []Pending) error
	// Complete makes a pending object visible at its name, whole, replacing what was there:
	// on local disk with one atomic rename of the staged file, on S3 with
	// CompleteMultipartUpload (a metadata operation: no data is copied). It is idempotent:
	// completing again an object already completed succeeds (local disk: the object has
	// the pending size; S3: its ETag is the one the parts give; an S3 server that stores
	// another ETag, such as gofakes3, fails the repeat). It refuses (ErrBadPending) a record
	// that names no upload of this store, or a local staged file that is not beside Name.
	// Completing several objects is not atomic across them.
	Complete(ctx context.Context, p Pending) error
	// AbortPending discards a pending object; discarding one already gone (aborted, or
	// completed: then the object stays) succeeds. On local disk it also removes the
	// directories that the write made (Pending.Made) if that leaves them empty. A write
	// whose upper directories were made by a sibling write (Made names only its own) cannot
	// know them: a caller that aborts several writes under one root calls Prune(root, p.Name)
	// after each, which removes them once the last sibling is gone.
	AbortPending(ctx context.Context, p Pending) error
	// AbortUploads discards every unfinished write (pending or abandoned, Create's included)
	// in the tree at prefix that was started (S3: initiated; local disk: last written)
	// before the given time (zero: all), and returns how many it discarded. It is the
	// crash-recovery sweep. On local disk it also removes the directories under prefix that
	// the sweep left empty. S3 writes smaller than a part (one PutObject) leave nothing to
	// sweep.
	AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error)
	// AbortUploadsIn is AbortUploads of each tree in prefixes (all in one store, else
	// ErrCrossStore), and returns how many it discarded in all. A commit sweeps each group
	// directory it wrote: on S3, where AbortUploads lists the bucket's unfinished uploads
	// whatever its prefix, one listing serves all the trees of a bucket, where a call per
	// tree was a listing per group directory (6,360 for the 1,272 groups of the demo job);
	// on local disk it walks each tree.
	AbortUploadsIn(ctx context.Context, prefixes []string, before time.Time) (int, error)
	// CreateExclusive writes the small object name from b only if no object has that name,
	// atomically; otherwise it fails with an error wrapping fs.ErrExist. Local disk: a hard
	// link of a staged file, which fails if the name exists; S3: a PutObject with
	// If-None-Match: * (gofakes3 ignores it). It is how processes that share no lock server
	// claim a name.
	CreateExclusive(ctx context.Context, name string, b []byte) error
}

// Writer writes one object. Close makes it visible; Abort discards it. After either, both
// return nil again and Write returns ErrClosed. A failed Close aborts the object.
type Writer interface {
	io.Writer
	Close() error
	Abort() error
}

// PendingWriter writes one object whose visibility is deferred: Close finishes the upload
// and returns the record that Complete or AbortPending takes. A failed Close aborts. After
// Close or Abort, Abort returns nil and Write and Close return ErrClosed.
type PendingWriter interface {
	io.Writer
	Close() (Pending, error)
	Abort() error
}

// Move is one object that ReplaceTree moves into a tree.
type Move struct {
	From, To string
}

// ObjectInfo describes one object.
type ObjectInfo struct {
	Name    string // as given to the store: a path or an s3:// URL
	Size    int64  // bytes
	ModTime time.Time
}

// Pending is an uploaded but unpublished object. It is plain data, meant to be saved as
// JSON in a task attempt's manifest and handed to Complete or AbortPending by another
// process.
type Pending struct {
	Name string `json:"name"` // final name
	Size int64  `json:"size"` // bytes

	// S3: the multipart upload and its parts; empty UploadID for an empty object, which
	// Complete writes with one small PutObject.
	UploadID string `json:"upload_id,omitempty"`
	Parts    []Part `json:"parts,omitempty"`

	// Local disk: the staged file beside Name, and the outermost directory the write made
	// ("" if none), which AbortPending removes again once empty.
	Temp string `json:"temp,omitempty"`
	Made string `json:"made,omitempty"`
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	Number int32  `json:"n"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// Options configure the S3 side of a Router. The zero value of each field selects its
// default; DefaultOptions shows them.
type Options struct {
	// Endpoint is the URL of an S3-compatible server ("http://127.0.0.1:9000"). Empty
	// means AWS itself. When set, requests use path-style addressing (host/bucket/key),
	// which MinIO and most other servers need.
	Endpoint string
	// Region signs requests. Empty: the AWS configuration's region, else us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey, when both are set, are static credentials used
	// instead of the standard chain (environment, shared files, instance role).
	AccessKeyID     string
	SecretAccessKey string

	// MaxAttempts bounds the attempts of one S3 request, the first included.
	MaxAttempts int
	// RetryBaseDelay scales the exponential backoff between attempts: retry k (1-based)
	// waits a random duration in [0, RetryBaseDelay·2^(k-1)), capped by MaxBackoff. Stream
	// resumes back off the same way.
	RetryBaseDelay time.Duration
	MaxBackoff     time.Duration
	// ReadTimeout cuts a connection that delivers no byte for this long (a stalled
	// server), so that the request is retried or the stream resumed.
	ReadTimeout time.Duration
	// ReadResumes bounds how many times one OpenRange stream reopens after a failure
	// mid-body.
	ReadResumes int
	// PartSize is the size of multipart upload parts in bytes, and so of each Writer's
	// buffer. S3 requires at least 5 MiB; at most 10,000 parts make an object.
	PartSize int64
}

// Defaults of Options.
const (
	DefaultMaxAttempts    = 10
	DefaultRetryBaseDelay = 100 * time.Millisecond
	DefaultMaxBackoff     = 20 * time.Second
	DefaultReadTimeout    = 60 * time.Second
	DefaultReadResumes    = 10
	DefaultPartSize       = 8 << 20
	// MinPartSize is S3's minimum size of a part other than the last.
	MinPartSize = 5 << 20
)

// DefaultOptions returns the defaults, with Endpoint from $S3_ENDPOINT.
func DefaultOptions() Options {
	return Options{
		Endpoint:       os.Getenv("S3_ENDPOINT"),
		MaxAttempts:    DefaultMaxAttempts,
		RetryBaseDelay: DefaultRetryBaseDelay,
		MaxBackoff:     DefaultMaxBackoff,
		ReadTimeout:    DefaultReadTimeout,
		ReadResumes:    DefaultReadResumes,
		PartSize:       DefaultPartSize,
	}
}

// withDefaults fills zero fields and validates the rest.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.Endpoint == "" {
		o.Endpoint = d.Endpoint
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return o, fmt.Errorf("%w: AccessKeyID and SecretAccessKey must be set together", ErrBadOptions)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"MaxAttempts", &o.MaxAttempts, d.MaxAttempts}, {"ReadResumes", &o.ReadResumes, d.ReadResumes}} {
		if *f.v < 0 {
			return o, fmt.Errorf("%w: %s = %d is negative", ErrBadOptions, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"RetryBaseDelay", &o.RetryBaseDelay, d.RetryBaseDelay}, {"MaxBackoff", &o.MaxBackoff, d.MaxBackoff}, {"ReadTimeout", &o.ReadTimeout, d.ReadTimeout}} {
		if *f.v < 0 {
			return o, fmt.Errorf("%w: %s = %v is negative", ErrBadOptions, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.PartSize == 0 {
		o.PartSize = d.PartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > 5<<30 {
		return o, fmt.Errorf("%w: PartSize = %d is outside S3's [5 MiB, 5 GiB]", ErrBadOptions, o.PartSize)
	}
	return o, nil
}

// Router is the Store for callers: names starting with "s3://" go to S3, all others to
// local disk. The S3 client is built on first use, so a job that touches only local files
// needs no AWS configuration.
type Router struct {
	opt   Options
	local *localStore

	mu  sync.Mutex // guards s3
	s3  *s3Store   // nil until the first s3:// name
	err error      // the failure to build s3, returned to every later s3:// call
}

var _ Store = (*Router)(nil)

// S3Scheme prefixes the names that Router sends to S3.
const S3Scheme = "s3://"

// New validates opt, fills its defaults and returns a Router.
func New(opt Options) (*Router, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Router{opt: opt, local: &localStore{}}, nil
}

// IsS3 reports whether name addresses S3. Code outside this package should not need to
// branch on it: the Store's methods and the functions on names (names.go) hide the
// difference between the stores.
func IsS3(name string) bool { return strings.HasPrefix(name, S3Scheme) }

func (r *Router) pick(ctx context.Context, name string) (Store, error) {
	if !IsS3(name) {
		return r.local, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s3 == nil && r.err == nil {
		r.s3, r.err = newS3Store(ctx, r.opt)
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.s3, nil
}

// List implements Store.
func (r *Router) List(ctx context.Context, pattern string) ([]ObjectInfo, error) {
	s, err := r.pick(ctx, pattern)
	if err != nil {
		return nil, err
	}
	return s.List(ctx, pattern)
}

// Stat implements Store.
func (r *Router) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	s, err := r.pick(ctx, name)
	if err != nil {
		return ObjectInfo{}, err
	}
	return s.Stat(ctx, name)
}

// OpenRange implements Store.
func (r *Router) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	s, err := r.pick(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.OpenRange(ctx, name, off, n)
}

// Create implements Store.
func (r *Router) Create(ctx context.Context, name string) (Writer, error) {
	s, err := r.pick(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Create(ctx, name)
}

// Delete implements Store.
func (r *Router) Delete(ctx context.Context, name string) error {
	s, err := r.pick(ctx, name)
	if err != nil {
		return err
	}
	return s.Delete(ctx, name)
}

// DeletePrefix implements Store.
func (r *Router) DeletePrefix(ctx context.Context, prefix string) error {
	s, err := r.pick(ctx, prefix)
	if err != nil {
		return err
	}
	return s.DeletePrefix(ctx, prefix)
}

// Rename implements Store. Both names must be in the same store.
func (r *Router) Rename(ctx context.Context, from, to string) error {
	if IsS3(from) != IsS3(to) {
		return fmt.Errorf("rename %s to %s: %w", from, to, ErrCrossStore)
	}
	s, err := r.pick(ctx, from)
	if err != nil {
		return err
	}
	return s.Rename(ctx, from, to)
}

// ReplaceTree implements Store. Every name must be in prefix's store.
func (r *Router) ReplaceTree(ctx context.Context, prefix string, moves []Move) error {
	for _, m := range moves {
		if IsS3(m.From) != IsS3(prefix) || IsS3(m.To) != IsS3(prefix) {
			return fmt.Errorf("replace tree %s with %s: %w", prefix, m.From, ErrCrossStore)
		}
	}
	s, err := r.pick(ctx, prefix)
	if err != nil {
		return err
	}
	return s.ReplaceTree(ctx, prefix, moves)
}

// Prune implements Store.
func (r *Router) Prune(ctx context.Context, root, name string) error {
	if IsS3(root) || IsS3(name) {
		return nil // no directories, and no need of a client to know it
	}
	return r.local.Prune(ctx, root, name)
}

// CreatePending implements Store.
func (r *Router) CreatePending(ctx context.Context, name string) (PendingWriter, error) {
	s, err := r.pick(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.CreatePending(ctx, name)
}

// SyncPending implements Store.
func (r *Router) SyncPending(ctx context.Context, ps []Pending) error {
	var local []Pending
	for _, p := range ps {
		if !IsS3(p.Name) {
			local = append(local, p)
		}
	}
	if len(local) == 0 {
		return nil // S3 has nothing to sync, and needs no client to know it
	}
	return r.local.SyncPending(ctx, local)
}

// Complete implements Store.
func (r *Router) Complete(ctx context.Context, p Pending) error {
	s, err := r.pick(ctx, p.Name)
	if err != nil {
		return err
	}
	return s.Complete(ctx, p)
}

// AbortPending implements Store.
func (r *Router) AbortPending(ctx context.Context, p Pending) error {
	s, err := r.pick(ctx, p.Name)
	if err != nil {
		return err
	}
	return s.AbortPending(ctx, p)
}

// AbortUploads implements Store.
func (r *Router) AbortUploads(ctx context.Context, prefix string, before time.Time) (int, error) {
	s, err := r.pick(ctx, prefix)
	if err != nil {
		return 0, err
	}
	return s.AbortUploads(ctx, prefix, before)
}

// AbortUploadsIn implements Store.
func (r *Router) AbortUploadsIn(ctx context.Context, prefixes []string, before time.Time) (int, error) {
	if len(prefixes) == 0 {
		return 0, nil
	}
	for _, p := range prefixes[1:] {
		if IsS3(p) != IsS3(prefixes[0]) {
			return 0, fmt.Errorf("abort uploads under %s and %s: %w", prefixes[0], p, ErrCrossStore)
		}
	}
	s, err := r.pick(ctx, prefixes[0])
	if err != nil {
		return 0, err
	}
	return s.AbortUploadsIn(ctx, prefixes, before)
}

// CreateExclusive implements Store.
func (r *Router) CreateExclusive(ctx context.Context, name string, b []byte) error {
	s, err := r.pick(ctx, name)
	if err != nil {
		return err
	}
	return s.CreateExclusive(ctx, name, b)
}

// ReadAll reads a whole object. It is meant for small objects such as manifests.
func ReadAll(ctx context.Context, s Store, name string) ([]byte, error) {
	rc, err := s.OpenRange(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// WriteAll writes a whole object from b.
func WriteAll(ctx context.Context, s Store, name string, b []byte) error {
	w, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// pattern is a parsed List argument, in slash-separated form.
type pattern struct {
	glob   bool     // has metacharacters
	segs   []string // glob: the pattern split at "/"
	prefix string   // the literal text before the first metacharacter; the tree root when !glob
}

func parsePattern(p string) (pattern, error) {
	i := strings.IndexAny(p, `*?[\`)
	if i < 0 {
		return pattern{prefix: p}, nil
	}
	if _, err := path.Match(p, ""); err != nil {
		return pattern{}, fmt.Errorf("list %q: %w", p, err)
	}
	return pattern{glob: true, segs: strings.Split(p, "/"), prefix: p[:i]}, nil
}

// match reports whether the slash-separated name matches.
func (p pattern) match(name string) bool {
	if !p.glob {
		return InTree(name, p.prefix)
	}
	segs := strings.Split(name, "/")
	if len(segs) != len(p.segs) {
		return false
	}
	for i, s := range segs {
		if ok, _ := path.Match(p.segs[i], s); !ok {
			return false
		}
	}
	return true
}

// InTree reports whether name is root or lies under root, with names as slash-separated
// trees: "a/b" is in "a" and "a/", but not in "a/b2" or "a/bc".
func InTree(name, root string) bool {
	if root == "" || name == root {
		return true
	}
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	return strings.HasPrefix(name, root)
}

// Join joins name elements in the form of base's store: slash-separated after the scheme
// for s3:// names, the platform's separator for local paths.
//
// Join is where names taken from job files and task messages (a job's name, a task's run ID)
// become paths that are written, replaced and deleted, so it refuses, with an error wrapping
// ErrUnsafePath, any element that would not name something strictly under base: an empty
// element, an absolute one, one with an empty, "." or ".." segment (path.Join and
// filepath.Join would resolve "..", and on S3 that silently changes the key, even the bucket),
// or one holding a NUL byte. An element may hold several slash-separated segments
// ("city=nyc/year=2024"). A base holding a NUL byte, and an s3:// base with an empty bucket or
// a "." or ".." segment, are refused too: Join would rewrite them.
func Join(base string, elem ...string) (string, error) {
	if err := checkBase(base); err != nil {
		return "", err
	}
	for _, e := range elem {
		if err := checkElem(e); err != nil {
			return "", fmt.Errorf("%w: element %q under %s: %v", ErrUnsafePath, e, base, err)
		}
	}
	if IsS3(base) {
		rest := strings.TrimPrefix(base, S3Scheme)
		parts := append([]string{rest}, elem...)
		for i := range parts {
			parts[i] = filepath.ToSlash(parts[i])
		}
		return S3Scheme + path.Join(parts...), nil
	}
	return filepath.Join(append([]string{base}, elem...)...), nil
}

// checkBase refuses a base that Join would rewrite or could not address.
func checkBase(base string) error {
	if strings.IndexByte(base, 0) >= 0 {
		return fmt.Errorf("%w: base %q holds a NUL byte", ErrUnsafePath, base)
	}
	if !IsS3(base) {
		return nil
	}
	rest := strings.TrimSuffix(strings.TrimPrefix(base, S3Scheme), "/")
	segs := strings.Split(rest, "/")
	if segs[0] == "" {
		return fmt.Errorf("%w: %q names no bucket", ErrUnsafePath, base)
	}
	for _, s := range segs {
		if s == "." || s == ".." {
			return fmt.Errorf("%w: %q has a %q segment, which would change the key or the bucket", ErrUnsafePath, base, s)
		}
	}
	return nil
}

// checkElem refuses an element that does not name something strictly below its parent.
func checkElem(e string) error {
	switch {
	case e == "":
		return errors.New("empty")
	case strings.IndexByte(e, 0) >= 0:
		return errors.New("holds a NUL byte")
	case strings.HasPrefix(e, "/") || filepath.IsAbs(e) || filepath.VolumeName(e) != "":
		return errors.New("absolute")
	}
	for _, s := range strings.Split(filepath.ToSlash(e), "/") {
		switch s {
		case "":
			return errors.New("has an empty segment")
		case ".", "..":
			return fmt.Errorf("has a %q segment", s)
		}
	}
	return nil
}

// Stores hands out one Router per S3 endpoint, so that a long-running process serving jobs
// with different `endpoint` settings reuses its clients and connections. Safe for
// concurrent use.
type Stores struct {
	base Options
	mu   sync.Mutex
	m    map[string]*Router
}

// NewStores returns a cache of Routers configured with base, whose Endpoint is the default.
func NewStores(base Options) *Stores { return &Stores{base: base, m: map[string]*Router{}} }

// For returns the Router for endpoint ("" means the base options' endpoint).
func (s *Stores) For(endpoint string) (*Router, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.m[endpoint]; r != nil {
		return r, nil
	}
	opt := s.base
	if endpoint != "" {
		opt.Endpoint = endpoint
	}
	r, err := New(opt)
	if err != nil {
		return nil, err
	}
	s.m[endpoint] = r
	return r, nil
}
