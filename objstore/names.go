package objstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// The functions here work on names alone, in the syntax of the store a name addresses
// (slash-separated keys after "s3://", the platform's paths otherwise), so that callers
// never have to ask which store a name is in.

// SameStore reports whether a and b are names in one store, so that Rename and ReplaceTree
// can move objects between them.
func SameStore(a, b string) bool { return IsS3(a) == IsS3(b) }

// Clean returns name without a trailing slash, so that the names List returns under it start
// with Clean(name) + "/". A local path is also cleaned (filepath.Clean); an s3:// key is
// never rewritten otherwise, since "." and ".." are plain characters of an S3 key.
func Clean(name string) string {
	if IsS3(name) {
		return strings.TrimRight(name, "/")
	}
	return filepath.Clean(name)
}

// Rel returns the slash-separated name of name relative to root (a name List returned for
// the tree at root), and false when name is not under root.
func Rel(root, name string) (string, bool) {
	if !IsS3(root) {
		name, root = filepath.ToSlash(name), filepath.ToSlash(root)
	}
	return strings.CutPrefix(name, strings.TrimSuffix(root, "/")+"/")
}

// Relative returns target as a slash-separated path relative to base ("../summaries") when
// both are local paths, so that a record at base can name target and the two can move
// together; it returns false for s3:// names, which a record names whole.
func Relative(base, target string) (string, bool) {
	if IsS3(base) || IsS3(target) {
		return "", false
	}
	b, err1 := filepath.Abs(base)
	t, err2 := filepath.Abs(target)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(b, t)
	if err != nil {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Resolve returns the name that ref, as Relative returned it or whole, names relative to
// base: ref itself when it is an s3:// name or an absolute path, else ref joined to base in
// base's syntax ("../summaries" against s3://b/out/requests is s3://b/out/summaries).
// Unlike Join it resolves "..": ref comes from a record the engine wrote, not from a job
// file.
func Resolve(base, ref string) string {
	switch {
	case IsS3(ref) || filepath.IsAbs(ref):
		return ref
	case IsS3(base):
		return S3Scheme + path.Join(strings.TrimPrefix(base, S3Scheme), ref)
	}
	return filepath.Join(base, filepath.FromSlash(ref))
}

// StaticPrefix returns the directory part of pattern before its first glob metacharacter
// (the directory the matches are named relative to), or pattern itself when it has none:
// "in/2024-*/x.csv" gives "in", "s3://b/raw/*.csv" gives "s3://b/raw".
func StaticPrefix(pattern string) string {
	i := strings.IndexAny(pattern, `*?[\`)
	if i < 0 {
		return pattern
	}
	if IsS3(pattern) {
		return path.Dir(pattern[:i] + "x")
	}
	return filepath.Dir(pattern[:i] + "x")
}

// Abs returns an absolute form of a local path, so that it names the same file from another
// working directory; an s3:// name, already absolute, is returned as is, as is a path whose
// absolute form cannot be found.
func Abs(name string) string {
	if IsS3(name) {
		return name
	}
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return name
}

// Dir returns all but the last element of name, as filepath.Dir does for a local path:
// "s3://bucket/raw/a.csv" → "s3://bucket/raw", "data/la/a.csv" → "data/la". An S3 URL keeps
// its scheme and bucket ("s3://bucket/a.csv" → "s3://bucket"), which filepath.Dir would
// mangle into "s3:/bucket".
func Dir(name string) string {
	if !IsS3(name) {
		return filepath.Dir(name)
	}
	rest := strings.TrimRight(strings.TrimPrefix(name, S3Scheme), "/")
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return S3Scheme + rest
	}
	return S3Scheme + strings.TrimRight(rest[:i], "/")
}

// CheckRoot reports whether objects can be written under root: on local disk, whether its
// nearest existing ancestor is a directory (root itself may not exist yet: writes make it).
// An s3:// root is not checked (nil): only a write can tell, and the run's first does.
func CheckRoot(root string) error {
	if IsS3(root) {
		return nil
	}
	for p := filepath.Clean(root); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is a file, not a directory", p)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return err
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}

// Absent reports whether root names nothing on local disk (no file, no directory), so that a
// caller can tell a missing directory from an empty one. On S3 a prefix exists only while a
// key carries it: an empty prefix and an absent one are the same, and Absent reports false.
func Absent(root string) bool {
	if IsS3(root) {
		return false
	}
	_, err := os.Stat(root)
	return errors.Is(err, fs.ErrNotExist)
}
