package objstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Helpers for the command line, which shows and checks the names a user typed: each treats
// a local path and an S3 URL as its store does, so that no caller branches on which one a
// name is.

// Abs returns name made absolute: a local path relative to the working directory becomes
// absolute; an S3 URL, or a path that cannot be made absolute, is returned as it is.
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

// CheckDirUsable reports whether a directory could be written at name before anything is:
// for a local path, its nearest existing ancestor must be a directory (a file there would
// fail the first write). An S3 prefix needs nothing in advance and is checked by the first
// write, so it always passes.
func CheckDirUsable(name string) error {
	if IsS3(name) {
		return nil
	}
	for p := filepath.Clean(name); ; p = filepath.Dir(p) {
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
