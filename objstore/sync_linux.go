package objstore

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFileSystems writes out, with one syncfs(2) per file system that holds one of the
// files names, everything dirty there: the files' data, their inodes and the directories
// that name them. syncFile then finds them clean.
func syncFileSystems(ctx context.Context, names []string) error {
	seen := map[uint64]bool{}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sync %s: %w", name, err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(name, &st); err != nil {
			return fmt.Errorf("sync: %w", &os.PathError{Op: "lstat", Path: name, Err: err})
		}
		if seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		if err := syncFS(name); err != nil {
			return err
		}
	}
	return nil
}

func syncFS(name string) error {
	fd, err := openRead(name)
	if err != nil {
		return fmt.Errorf("sync: %w", &os.PathError{Op: "open", Path: name, Err: err})
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("sync: %w", &os.PathError{Op: "syncfs", Path: name, Err: err})
	}
	return nil
}

// syncFile makes sure the data of the file name, already written out by syncFileSystems,
// reached the disk. It waits on the file's own writeback and reports its error: a
// descriptor opened after a failed writeback still sees the failure until someone has
// (and no other process syncs a staged file), whereas syncfs reports only the failures
// since its descriptor was opened that nobody had seen. Unlike an fsync it writes
// nothing more and flushes no disk cache (the syncfs did both, once).
func syncFile(name string) error {
	fd, err := openRead(name)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	err = unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	if err != nil {
		return &os.PathError{Op: "sync_file_range", Path: name, Err: err}
	}
	return nil
}

// openRead opens name read-only for syncing, without the runtime poller (see openExcl).
func openRead(name string) (int, error) {
	for {
		fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
