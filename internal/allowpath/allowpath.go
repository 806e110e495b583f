// Package allowpath confines the paths a job may read and write to a set of roots that the
// operator chose: local directories and s3://bucket/prefix locations. The cluster token lets
// its holder submit any job file, and a job names its own inputs and outputs, so without
// roots a token holder could read any file the coordinator or a worker can read (as records,
// echoed in rejects) and replace or delete any directory they can write.
//
// The coordinator checks every job's paths when it is submitted (and a scheduled job's at each
// run), and every file it expands an input to; workers check each task they receive again,
// since a worker cannot tell a coordinator's task from anyone else's with the token.
//
// A path is inside a root when, after cleaning, it names the root or lies under it:
//
//   - Local paths are made absolute and resolved the way the file system will resolve them:
//     the symlinks of the part that exists are followed (filepath.EvalSymlinks), and the rest,
//     which holds no symlink yet, is cleaned lexically. Both the path as written and its
//     lexically cleaned form must be inside, because the object store cleans a glob before
//     it walks while os.Open does not.
//   - s3:// paths match by bucket and by whole key segments, so s3://b/lake allows
//     s3://b/lake/x but not s3://b/lake2. A key with a "." or ".." segment is refused: S3
//     keys are literal, but objstore.Join resolves ".." as a file path would.
//   - A glob is checked by its fixed prefix, the segments before the first one that holds a
//     metacharacter (*, ? or [), and must have no ".." segment after it.
//
// Symlinks that the operator placed inside a root are trusted: a job cannot create one.
package allowpath

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ireports/ireports/jobs"
)

// S3Scheme is the prefix of object store paths (objstore.S3Scheme, repeated so that this
// leaf package does not pull in the AWS SDK).
const S3Scheme = "s3://"

var (
	// ErrOutside marks a path that no root allows.
	ErrOutside = errors.New("outside the allowed paths")
	// ErrBadRoot marks a root that cannot be used (empty, a URL of another scheme, an S3
	// prefix with "." or ".." segments).
	ErrBadRoot = errors.New("bad allowed path")
	// ErrNoRoots is returned by New for an empty list: a daemon must be told where jobs may
	// read and write, or told explicitly that they may go anywhere (Any).
	ErrNoRoots = errors.New("no allowed paths: give --allow-path ROOT (a directory or s3://bucket/prefix; repeatable), or --allow-any-path to let jobs read and write anywhere this process can")
)

// Roots is a set of allowed locations. The zero value allows nothing; Any allows everything.
// A Roots is immutable and safe for concurrent use.
type Roots struct {
	any   bool
	local []string // absolute, cleaned, existing part's symlinks resolved
	s3    []s3Path
	shown string // as the operator wrote them, for error messages
}

// s3Path is a bucket and a key split into segments (none empty).
type s3Path struct {
	bucket string
	segs   []string
}

// Any returns Roots that allow every path: for `coordinator run` callers that opt out, tests,
// and daemons started with --allow-any-path.
func Any() *Roots { return &Roots{any: true, shown: "any path"} }

// New returns the Roots of roots: local directories (relative ones are made absolute against
// the working directory now; they need not exist yet) and s3://bucket or s3://bucket/prefix.
func New(roots []string) (*Roots, error) {
	if len(roots) == 0 {
		return nil, ErrNoRoots
	}
	r := &Roots{shown: strings.Join(roots, ", ")}
	for _, root := range roots {
		switch {
		case strings.TrimSpace(root) == "":
			return nil, fmt.Errorf("%w: empty", ErrBadRoot)
		case strings.HasPrefix(root, S3Scheme):
			p, err := parseS3(root)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadRoot, err)
			}
			r.s3 = append(r.s3, p)
		case strings.Contains(root, "://"):
			return nil, fmt.Errorf("%w: %q: only local directories and s3:// locations are supported", ErrBadRoot, root)
		default:
			abs, err := absolute(root)
			if err != nil {
				return nil, fmt.Errorf("%w: %q: %w", ErrBadRoot, root, err)
			}
			r.local = append(r.local, resolve(filepath.Clean(abs)))
		}
	}
	return r, nil
}

// String lists the roots as given.
func (r *Roots) String() string {
	if r == nil {
		return "nothing"
	}
	return r.shown
}

// Check returns nil when p lies inside one of the roots, else an error that wraps ErrOutside
// and names p and the roots. A nil *Roots allows nothing.
func (r *Roots) Check(p string) error {
	if r != nil && r.any {
		return nil
	}
	ok, err := r.allows(p)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", p, ErrOutside, err)
	}
	if !ok {
		return fmt.Errorf("%s is %w (%s)", p, ErrOutside, r)
	}
	return nil
}

func (r *Roots) allows(p string) (bool, error) {
	if r == nil {
		return false, nil
	}
	if strings.ContainsRune(p, 0) {
		return false, errors.New("the path holds a NUL byte")
	}
	if strings.HasPrefix(p, S3Scheme) {
		fixed, rest := splitGlob(strings.TrimPrefix(p, S3Scheme), "/")
		if hasDots(rest, "/") {
			return false, errors.New(`a glob must not hold a "." or ".." segment`)
		}
		sp, err := parseS3(S3Scheme + fixed)
		if err != nil {
			return false, err
		}
		for _, root := range r.s3 {
			if root.contains(sp) {
				return true, nil
			}
		}
		return false, nil
	}
	if strings.Contains(p, "://") {
		return false, errors.New("only local paths and s3:// locations are supported")
	}
	abs, err := absolute(p)
	if err != nil {
		return false, err
	}
	sep := string(filepath.Separator)
	fixed, rest := splitGlob(abs, sep)
	if hasDots(rest, sep) {
		return false, errors.New(`a glob must not hold a "." or ".." segment`)
	}
	cleanFixed, _ := splitGlob(filepath.Clean(abs), sep)
	for _, cand := range []string{fixed, cleanFixed} {
		if cand == "" {
			cand = sep // a glob in the first segment: "/*"
		}
		if !r.localContains(resolve(cand)) {
			return false, nil
		}
	}
	return true, nil
}

func (r *Roots) localContains(p string) bool {
	for _, root := range r.local {
		if within(root, p) {
			return true
		}
	}
	return false
}

// within reports whether path p (absolute and clean) is root or lies under it.
func within(root, p string) bool {
	if root == p {
		return true
	}
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	return strings.HasPrefix(p, root)
}

// absolute makes p absolute without cleaning it: ".." after a symlink means the symlink
// target's parent to the file system, which a lexical clean would get wrong.
func absolute(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + string(filepath.Separator) + p, nil
}

// resolve returns absolute path p as the file system resolves it: the longest prefix that
// exists has its symlinks (and its ".." after a symlink) resolved, and the rest, which does
// not exist and so holds no symlink, is joined and cleaned lexically.
func resolve(p string) string {
	sep := string(filepath.Separator)
	segs := strings.Split(p, sep)
	for k := len(segs); k > 1; k-- {
		prefix := strings.Join(segs[:k], sep)
		if prefix == "" {
			prefix = sep
		}
		real, err := filepath.EvalSymlinks(prefix)
		if err != nil {
			continue
		}
		return filepath.Join(append([]string{real}, segs[k:]...)...)
	}
	return filepath.Clean(p)
}

// splitGlob splits p into its fixed prefix, the segments before the first one holding a
// glob metacharacter, and the rest (empty when p is no glob).
func splitGlob(p, sep string) (fixed, rest string) {
	i := strings.IndexAny(p, "*?[")
	if i < 0 {
		return p, ""
	}
	j := strings.LastIndex(p[:i], sep)
	if j < 0 {
		return "", p
	}
	return p[:j], p[j+1:]
}

// hasDots reports whether p has a "." or ".." segment.
func hasDots(p, sep string) bool {
	for _, s := range strings.Split(p, sep) {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// parseS3 splits s3://bucket/key into the bucket and the key's non-empty segments.
func parseS3(p string) (s3Path, error) {
	rest := strings.TrimPrefix(p, S3Scheme)
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return s3Path{}, fmt.Errorf("%q is not s3://bucket/prefix", p)
	}
	sp := s3Path{bucket: bucket}
	for _, s := range strings.Split(key, "/") {
		switch s {
		case "":
		case ".", "..":
			return s3Path{}, fmt.Errorf(`%q: an S3 key must not hold a "." or ".." segment`, p)
		default:
			sp.segs = append(sp.segs, s)
		}
	}
	return sp, nil
}

// contains reports whether root r is p or a prefix of it, segment by segment.
func (r s3Path) contains(p s3Path) bool {
	if r.bucket != p.bucket || len(p.segs) < len(r.segs) {
		return false
	}
	for i, s := range r.segs {
		if p.segs[i] != s {
			return false
		}
	}
	return true
}

// CheckSpec checks every path a job reads or writes: each input's path (or glob), the
// lake, the summary datasets, the rejects and each source's raw batches. It reports every path outside the roots,
// each naming the input or output it belongs to; the error wraps ErrOutside.
func (r *Roots) CheckSpec(spec *jobs.Spec) error {
	if r != nil && r.any {
		return nil
	}
	var errs []error
	check := func(what, p string) {
		if err := r.Check(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	for _, in := range spec.Inputs {
		check(fmt.Sprintf("input %q path", in.Name), in.Path)
	}
	check("output parquet", spec.Output.Parquet)
	check("output summaries", spec.Output.Summaries)
	check("output rejects", spec.Output.Rejects)
	for _, name := range slices.Sorted(maps.Keys(spec.Sources)) {
		check(fmt.Sprintf("source %q raw", name), spec.Sources[name].Raw)
	}
	return errors.Join(errs...)
}

// Flag collects repeated --allow-path ROOT flags.
type Flag []string

func (f *Flag) String() string { return strings.Join(*f, ",") }

// Set adds one root. Roots are not split on commas: a directory name may hold one.
func (f *Flag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%w: empty", ErrBadRoot)
	}
	*f = append(*f, v)
	return nil
}
