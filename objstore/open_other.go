//go:build !unix

package objstore

import "os"

// openExcl creates the file name, which must not exist, for reading and writing.
func openExcl(name string, perm uint32) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, os.FileMode(perm))
}

// renameFile renames the regular file from to to, replacing a file there.
func renameFile(from, to string) error { return os.Rename(from, to) }
