package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// measured is what one child process cost.
type measured struct {
	Wall     time.Duration
	CPU      time.Duration // user + system, of the child and any children it waited for
	MaxRSS   int64         // bytes: the largest resident set of the child (wait4's ru_maxrss)
	PeakDisk int64         // bytes: the largest size of the sampled directory, 0 when none
	Stdout   []byte
}

// runMeasured runs name with args and measures it. While it runs, a goroutine (owned here:
// stopped and waited for before return) samples the size of sampleDir every interval, when
// sampleDir is not empty. The child's stderr goes to ours (progress bars, errors); its
// stdout is returned. env entries are added to this process's environment.
func runMeasured(ctx context.Context, sampleDir string, interval time.Duration, env []string, name string, args ...string) (measured, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), env...)

	var m measured
	var wg sync.WaitGroup
	done := make(chan struct{})
	if sampleDir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				m.PeakDisk = max(m.PeakDisk, dirSize(sampleDir))
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
	}
	start := time.Now()
	err := cmd.Run()
	m.Wall = time.Since(start)
	close(done)
	wg.Wait()
	if sampleDir != "" {
		m.PeakDisk = max(m.PeakDisk, dirSize(sampleDir))
	}
	m.Stdout = out.Bytes()
	if err != nil {
		return m, fmt.Errorf("%s %v: %w", name, args, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.MaxRSS = ru.Maxrss * 1024 // KiB on Linux
		m.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return m, nil
}

// dirSize is the total size of the regular files under dir; files that vanish while it walks
// (a task's temporary files) are skipped. A missing dir has size 0.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished or unreadable: skip it, keep walking
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
