package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/ireports/ireports/objstore"
)

// lockPath is where Lock keeps a lake's claim.
func lockPath(root string) (string, error) { return objstore.Join(root, TemporaryDir, "_lock.json") }

// Holder is the run that holds a live claim on a lake (see Lock).
type Holder struct {
	Job   string    `json:"job"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// HolderOf returns the run holding a live claim on the lake at root, or nil when the lake is
// free (no claim, or one whose coordinator died and let it expire), without claiming it: a
// dry run's check that a run would get the lake. The answer can be stale by the time a run
// starts; only Lock decides.
func HolderOf(ctx context.Context, store objstore.Store, root string) (*Holder, error) {
	name, err := lockPath(root)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	b, err := objstore.ReadAll(ctx, store, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	var li lockInfo
	if json.Unmarshal(b, &li) != nil || !li.Expires.After(time.Now()) {
		return nil, nil // Lock takes over an unreadable or expired claim
	}
	return &Holder{Job: li.Job, Host: li.Host, Since: li.Since}, nil
}
