package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/internal/version"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// ErrProtocol: the coordinator and this worker speak different wire protocols
// (version.Protocol), so they must not work together: run the same release on every node.
var ErrProtocol = errors.New("protocol mismatch")

// coordinatorAPI finds the coordinator's API address in the membership. A coordinator of
// another protocol is an error: the coordinator refuses such a worker too, but one of a
// release before protocols were numbered would not.
func (d *Daemon) coordinatorAPI() (string, error) {
	for _, m := range d.members.Members() {
		if m.Meta.Role != cluster.RoleCoordinator || m.Meta.API == "" {
			continue
		}
		if m.Meta.Protocol != version.Protocol {
			return "", fmt.Errorf("%w: the coordinator %s runs %s, protocol %d; this worker runs %s, protocol %d: run the same release on every node",
				ErrProtocol, m.Name, describeVersion(m.Meta.Version), m.Meta.Protocol, version.Version(), version.Protocol)
		}
		return m.Meta.API, nil
	}
	return "", errNoCoordinator
}

// errNoCoordinator: gossip knows no live coordinator (it died, or restarted where this
// worker's gossip no longer looks); the poll loop joins the seeds again.
var errNoCoordinator = errors.New("no coordinator in the cluster")

// rejoinEvery is the least time between two joins of the seeds while no coordinator is known.
const rejoinEvery = 2 * time.Second

// coordinatorUnreached notes that a call could not reach the coordinator.
func (d *Daemon) coordinatorUnreached() {
	d.rejoinMu.Lock()
	d.unreached = true
	d.rejoinMu.Unlock()
}

// coordinatorReached notes that a call reached the coordinator; the first time after it was
// unreachable, it joins the seeds. A coordinator restarted at the same address is, to this
// worker's gossip, the old one still alive, so nothing else makes it learn of this worker
// before a periodic push-pull, tens of seconds away; until then its scheduler knows no
// worker and hands out nothing.
func (d *Daemon) coordinatorReached() {
	d.rejoinMu.Lock()
	back := d.unreached
	d.unreached = false
	if back {
		d.rejoined = time.Now()
	}
	d.rejoinMu.Unlock()
	if back {
		if err := d.members.Join(d.cfg.Join); err != nil {
			d.log.Debug("rejoining the cluster", "seeds", d.cfg.Join, "err", err)
		}
	}
}

// rejoin joins the seeds again, at most every rejoinEvery, when gossip knows no coordinator:
// whichever call finds none, not only a poll.
// A worker whose every slot holds a result it could not report does not poll, and gossip
// alone does not bring the coordinator back once it left the cluster (a SIGTERM: gossip
// never contacts a member that left) or has been dead longer than memberlist gossips to the
// dead; its reports and heartbeats still look.
func (d *Daemon) rejoin() {
	d.rejoinMu.Lock()
	if time.Since(d.rejoined) < rejoinEvery {
		d.rejoinMu.Unlock()
		return
	}
	d.rejoined = time.Now()
	d.rejoinMu.Unlock() // a join may wait for a seed that does not answer: not under the lock
	if err := d.members.Join(d.cfg.Join); err != nil {
		d.log.Debug("rejoining the cluster", "seeds", d.cfg.Join, "err", err)
	}
}

// unreachableWarnEvery rate-limits the warning that the coordinator cannot be reached.
const unreachableWarnEvery = 30 * time.Second

func describeVersion(v string) string {
	if v == "" {
		return "an unknown version"
	}
	return "version " + v
}

// pollFailed logs a failed poll. Most failures are passing (the coordinator restarting, a
// network blip) and logged at debug. A refusal will not pass by itself until an operator
// acts, so it is logged as an error: a misconfiguration (the cluster token, TLS trust) again
// every minute while it lasts, a protocol refusal — from the coordinator (409) or found
// here — once per distinct message, so that a refused worker does not flood its log.
// Called by the poll loop only.
func (d *Daemon) pollFailed(err error) {
	if why, ok := misconfigured(err); ok {
		if time.Since(d.warned) >= time.Minute {
			d.log.Error(why, "err", err)
			d.warned = time.Now()
		}
		return
	}
	var se *statusError
	if !errors.Is(err, ErrProtocol) && !(errors.As(err, &se) && se.code == 409) {
		// The coordinator is gone or unreachable: count it, warn now and then (not every
		// poll), and look for it again through the seeds when gossip has lost it.
		obs.CoordinatorUnreachable()
		now := time.Now()
		if d.lostSince.IsZero() {
			d.lostSince = now
		}
		gone := errors.Is(err, errNoCoordinator)
		if now.Sub(d.unreachableWarned) >= unreachableWarnEvery || gone != d.noCoordinator {
			d.unreachableWarned, d.noCoordinator = now, gone
			d.log.Warn("cannot reach the coordinator; retrying, keeping map outputs and results",
				"for", now.Sub(d.lostSince).Truncate(time.Second).String(), "err", err)
		}
		return
	}
	if msg := err.Error(); msg != d.lastRefusal {
		d.lastRefusal = msg
		d.log.Error("no tasks for this worker", "err", err)
	}
}

// pollSucceeded notes that the coordinator answered a poll; after an outage it logs the
// return and starts the grace period in which cleanJobs keeps the outputs of jobs the
// coordinator does not list (a restarted coordinator resumes its jobs from its journal
// some time after it first answers). Called by the poll loop only.
func (d *Daemon) pollSucceeded() {
	if d.lostSince.IsZero() {
		return
	}
	d.log.Info("coordinator reachable again", "after", time.Since(d.lostSince).Truncate(time.Second).String())
	d.lostSince, d.unreachableWarned, d.noCoordinator = time.Time{}, time.Time{}, false
	d.mu.Lock()
	d.reconnected = time.Now()
	d.mu.Unlock()
}

// wrote notes that map attempt m has written its task's map output file (replacing any
// earlier attempt's), for the inventory.
func (d *Daemon) wrote(m task.Map) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held[m.Job] == nil {
		d.held[m.Job] = map[int]int{}
	}
	d.held[m.Job][m.Index] = m.Attempt
}

// inventory lists the map outputs this process wrote that are still on its disk, for a
// coordinator that asked (task.HeartbeatResponse.ReportHeld): a restarted one re-adopts
// those its resumed jobs had accepted.
func (d *Daemon) inventory() *task.Inventory {
	var outs []task.HeldOutput
	d.mu.Lock()
	for job, tasks := range d.held {
		for m, attempt := range tasks {
			outs = append(outs, task.HeldOutput{Job: job, Map: m, Attempt: attempt})
		}
	}
	d.mu.Unlock()
	inv := &task.Inventory{Version: task.InventoryVersion, Shuffle: d.env.ShuffleAddr, Outputs: []task.HeldOutput{}}
	for _, o := range outs {
		path, err := shuffle.MapOutputPath(d.cfg.DataDir, o.Job, o.Map)
		if err != nil {
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			continue // deleted meanwhile (the job ended): not held
		}
		o.Bytes = st.Size()
		inv.Outputs = append(inv.Outputs, o)
	}
	slices.SortFunc(inv.Outputs, func(a, b task.HeldOutput) int {
		return cmp.Or(cmp.Compare(a.Job, b.Job), cmp.Compare(a.Map, b.Map))
	})
	return inv
}

// rejoinAsked joins the seeds again, as the coordinator asked (task.HeartbeatResponse.Rejoin:
// it restarted, and its gossip does not know this worker, while this worker's gossip takes
// it for the old one and would not look for it). It joins on a goroutine of its own, so
// that a slow seed does not hold up the heartbeats, one join at a time and at most every
// rejoinEvery. Called by the heartbeat loop only; ctx is the daemon's.
func (d *Daemon) rejoinAsked(ctx context.Context) {
	if time.Since(d.rejoinRequested) < rejoinEvery || !d.joining.CompareAndSwap(false, true) {
		return
	}
	d.rejoinRequested = time.Now()
	d.wg.Add(1)
	go func() { // owned by the daemon: Shutdown waits for it, and a join ends by itself
		defer d.wg.Done()
		defer d.joining.Store(false)
		if ctx.Err() != nil {
			return
		}
		if err := d.members.Join(d.cfg.Join); err != nil {
			d.log.Warn("the coordinator does not know this worker; joining the cluster again failed", "seeds", d.cfg.Join, "err", err)
			return
		}
		d.log.Info("the coordinator did not know this worker (it restarted); joined the cluster again", "seeds", d.cfg.Join)
	}()
}
