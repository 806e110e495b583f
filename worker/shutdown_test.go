package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/ireports/ireports/worker"
)

// TestShutdownConcurrent: many goroutines stop one worker at once. Every call returns nil,
// and only once the worker has stopped: its listener no longer accepts. Before, the first
// call tore the worker down while every other returned nil at once, the worker still
// serving (and under -race, two of them could race to stop it).
func TestShutdownConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	srv, workers := startTestCluster(t, slog.New(slog.DiscardHandler), func(*worker.Config) {})
	addr := srv.Scheduler().Workers()[0].Shuffle
	if i := strings.Index(addr, "://"); i >= 0 {
		addr = addr[i+3:]
	}
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("the worker does not listen on %s: %v", addr, err)
	} else {
		c.Close()
	}
	const n = 32
	var start sync.WaitGroup
	start.Add(1)
	errs := make(chan error, n)
	for range n {
		go func() {
			start.Wait()
			err := workers[0].Shutdown(context.Background())
			if err == nil {
				if c, derr := net.Dial("tcp", addr); derr == nil {
					c.Close()
					err = errors.New("Shutdown returned while the worker's listener still accepts")
				}
			}
			errs <- err
		}()
	}
	start.Done()
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
