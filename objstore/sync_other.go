//go:build !linux

package objstore

import (
	"context"
	"os"
)

// syncFileSystems does nothing where there is no syncfs(2): syncFile fsyncs each file.
func syncFileSystems(ctx context.Context, names []string) error { return nil }

// syncFile fsyncs the file name.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
