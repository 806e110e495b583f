package worker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// After an outage the coordinator may be a restarted one that has not yet resumed its jobs:
// the map outputs of jobs it does not list survive for OrphanGrace (before, the first
// heartbeat answered by a fresh coordinator deleted them all), and go after it.
func TestCleanJobsKeepsOutputsAfterOutage(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "resumed-job")
	if err := os.MkdirAll(job, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cfg: Config{DataDir: dir, OrphanGrace: time.Hour}, log: slog.New(slog.DiscardHandler),
		running: map[string]context.CancelFunc{}, specs: nil}
	d.reconnected = time.Now()
	d.cleanJobs(nil)
	if _, err := os.Stat(job); err != nil {
		t.Fatalf("map outputs of an unlisted job deleted within the grace after an outage: %v", err)
	}
	d.reconnected = time.Now().Add(-2 * time.Hour)
	d.cleanJobs(nil)
	if _, err := os.Stat(job); !os.IsNotExist(err) {
		t.Fatalf("map outputs of an unlisted job kept after the grace: %v", err)
	}
}
