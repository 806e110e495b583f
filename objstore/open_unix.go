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
