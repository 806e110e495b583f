package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/version"
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
	return "", errors.New("no coordinator in the cluster")
}

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
		d.log.Debug("poll", "err", err)
		return
	}
	if msg := err.Error(); msg != d.lastRefusal {
		d.lastRefusal = msg
		d.log.Error("no tasks for this worker", "err", err)
	}
}
