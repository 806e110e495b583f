//go:build unix

package objstore

import (
	"os"
	"syscall"
)

// openExcl creates the file name, which must not exist, for reading and writing. It opens
// the descriptor itself and wraps it with os.NewFile: os.OpenFile would also try to add the
// regular file to the runtime's poller, which refuses it, at five system calls (fcntl ×4,
// epoll_ctl) per file, and a reducer stages five files a group.
func openExcl(name string, perm uint32) (*os.File, error) {
	fd, err := syscall.Open(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, perm)
	for err == syscall.EINTR { // as os.OpenFile does, for file systems such as FUSE's
		fd, err = syscall.Open(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, perm)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// renameFile renames the regular file from to to, replacing a file there. It calls
// rename(2) itself: os.Rename first stats to, to refuse a directory there with EEXIST where
// rename(2) fails with EISDIR, at one system call per file, and a commit renames five files
// a group.
func renameFile(from, to string) error {
	err := syscall.Rename(from, to)
	for err == syscall.EINTR {
		err = syscall.Rename(from, to)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
