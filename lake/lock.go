package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ireports/ireports/objstore"
)

// ErrLocked means another job run is writing the lake.
var ErrLocked = errors.New("lake in use")

// lockInfo is one job run's claim on a lake, kept at <root>/_temporary/_locks/<job>.json.
type lockInfo struct {
	Job     string    `json:"job"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
}

// LockTTL is how long a claim lives without being renewed: a coordinator that died stops
// blocking the lake after it. Claims are renewed every LockTTL/3.
const LockTTL = 3 * time.Minute

// Lock claims the lake at root for job run job, across processes and machines: it fails
// with ErrLocked, naming the other run, while another run holds a live claim. The claim is
// renewed until release is called. It guards what one coordinator's own check cannot: a
// `coordinator run` against a lake a daemon is writing, or two coordinators. (List-then-
// create leaves a window of one round trip in which two runs starting together could both
// claim it.)
func Lock(ctx context.Context, store objstore.Store, root, job string) (release func(), err error) {
	dir := objstore.Join(root, TemporaryDir, "_locks")
	objs, err := store.List(ctx, dir+"/")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	now := time.Now()
	for _, o := range objs {
		b, err := objstore.ReadAll(ctx, store, o.Name)
		if err != nil {
			continue // released meanwhile
		}
		var li lockInfo
		if json.Unmarshal(b, &li) != nil || li.Job == job {
			continue
		}
		if li.Expires.After(now) {
			return nil, fmt.Errorf("%w: job %s on %s has been writing %s since %s; wait for it or cancel it",
				ErrLocked, li.Job, li.Host, root, li.Since.Format(time.RFC3339))
		}
		store.Delete(ctx, o.Name) // a dead run's claim
	}
	host, _ := os.Hostname()
	name := objstore.Join(dir, strings.ReplaceAll(job, "/", "_")+".json")
	write := func(ctx context.Context) error {
		b, _ := json.Marshal(lockInfo{Job: job, Host: host, Since: now, Expires: time.Now().Add(LockTTL)})
		return objstore.WriteAll(ctx, store, name, b)
	}
	if err := write(ctx); err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				write(rctx)
			}
		}
	}()
	return func() {
		stop()
		<-done
		store.Delete(context.WithoutCancel(ctx), name)
		if !objstore.IsS3(root) {
			// Directories are local disk's alone; these fail harmlessly while in use.
			os.Remove(dir)
			os.Remove(objstore.Join(root, TemporaryDir))
		}
	}, nil
}
