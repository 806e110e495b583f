package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/ireports/ireports/objstore"
)

// ErrLocked means another job run is writing the lake.
var ErrLocked = errors.New("lake in use")

// lockInfo is a job run's claim on a lake, kept at <root>/_temporary/_lock.json.
type lockInfo struct {
	Job     string    `json:"job"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
}

// LockTTL is how long a claim lives without being renewed: a coordinator that died stops
// blocking the lake after it. Claims are renewed every LockTTL/3.
const LockTTL = 3 * time.Minute

// Claim is a job run's live claim on a lake, renewed in the background until Release or
// Keep; exactly one of them must be called, once.
type Claim struct {
	stop    context.CancelFunc // ends the renewal
	renewed chan struct{}      // closed when the renewal has ended
	drop    func()             // deletes the claim
}

// Release ends the renewal and gives the claim up: the next run may take the lake at once.
func (c *Claim) Release() {
	c.stop()
	<-c.renewed
	c.drop()
}

// Keep ends the renewal and leaves the claim in place, for the same job run to take back
// with Lock when it resumes (a coordinator that shut down with the run unfinished): until
// then, or until it expires after LockTTL, no other run takes the lake.
func (c *Claim) Keep() {
	c.stop()
	<-c.renewed
}

// Lock claims the lake at root for job run job, across processes and machines: it fails
// with ErrLocked, naming the other run, while another run holds a live claim. The claim is
// one object, <root>/_temporary/_lock.json, created only if absent (an atomic hard link on
// local disk, a conditional If-None-Match PUT on S3), renewed until the Claim is released
// or kept, taken over once expired (its coordinator died), and taken back by the same job
// run at any time (it resumes). It guards what one coordinator's own check cannot: a
// `coordinator run` against a lake a daemon is writing, or two coordinators. On local disk,
// Release also removes the directories the claim made (root and its missing parents) if
// they hold nothing then; never one that was there before.
func Lock(ctx context.Context, store objstore.Store, root, job string) (*Claim, error) {
	name, err := lockPath(root)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	// On local disk the claim's write makes the directories down to root that are missing:
	// those of a run's first lake. Giving the claim up removes them again while they hold
	// nothing, so that a run that fails before writing anything leaves no empty lake behind;
	// a directory that was there before, even empty, is never removed.
	made := outermostAbsent(root)
	prune := func(ctx context.Context) {
		top := root // Prune keeps its root
		if made != "" {
			top = objstore.Dir(made)
		}
		store.Prune(ctx, top, name)
	}
	host, _ := os.Hostname()
	since := time.Now()
	claim := func() []byte {
		b, _ := json.Marshal(lockInfo{Job: job, Host: host, Since: since, Expires: time.Now().Add(LockTTL)})
		return b
	}
	for try := 0; ; try++ {
		err := store.CreateExclusive(ctx, name, claim())
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrNotExist) && try < 5 {
			continue // a run giving up its claim removed the directories just made
		}
		if !errors.Is(err, fs.ErrExist) || try == 5 {
			prune(ctx)
			return nil, fmt.Errorf("lock %s: %w", root, err)
		}
		b, err := objstore.ReadAll(ctx, store, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			prune(ctx)
			return nil, fmt.Errorf("lock %s: %w", root, err)
		}
		var li lockInfo
		if json.Unmarshal(b, &li) == nil && li.Expires.After(time.Now()) && li.Job != job {
			return nil, fmt.Errorf("%w: job %s on %s has been writing %s since %s; wait for it or cancel it",
				ErrLocked, li.Job, li.Host, root, li.Since.Format(time.RFC3339))
		}
		// Expired (its coordinator died), unreadable, or our own from an earlier attempt.
		if err := store.Delete(ctx, name); err != nil {
			return nil, fmt.Errorf("lock %s: %w", root, err)
		}
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
				objstore.WriteAll(rctx, store, name, claim())
			}
		}
	}()
	return &Claim{stop: stop, renewed: done, drop: func() {
		ctx := context.WithoutCancel(ctx)
		store.Delete(ctx, name)
		// A coordinator killed while it wrote the claim (a run resumed after its death) left
		// the write's staged file, which would keep _temporary, and the lake, from ever
		// being clean again.
		objstore.RemoveUnfinished(name)
		prune(ctx) // keeps _temporary while other runs' attempts use it, and root once it holds output
	}}, nil
}

// outermostAbsent returns the outermost of root and its parents that does not exist on
// local disk, or "" when root exists (and always on S3, which has no directories). A
// relative root's walk stops below the working directory, which Prune cannot name.
func outermostAbsent(root string) string {
	top := ""
	for p := objstore.Clean(root); objstore.Absent(p); p = objstore.Dir(p) {
		if parent := objstore.Dir(p); parent == p || parent == "." {
			break
		}
		top = p
	}
	return top
}
