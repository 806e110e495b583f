package coordinator

import (
	"fmt"

	"github.com/ireports/ireports/cluster"
	"github.com/ireports/ireports/internal/version"
)

// refusal says why the coordinator gives no task to a worker advertising meta, or "" when
// it can work with it. A worker of another protocol (version.Protocol) would misread task
// assignments or map output segments, so it stays listed — on the status page and in
// /api/workers, with this reason — but is never given a task and adds no slots.
func refusal(meta cluster.Meta) string {
	if meta.Protocol == version.Protocol {
		return ""
	}
	v := meta.Version
	if v == "" {
		v = "unknown"
	}
	return fmt.Sprintf("worker speaks protocol %d (version %s), this coordinator protocol %d (version %s): install the coordinator's release on the worker",
		meta.Protocol, v, version.Protocol, version.Version())
}

// Refused returns why worker name gets no task, or "" (also for a worker not known).
func (s *Scheduler) Refused(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.workers[name]; w != nil {
		return w.Refused
	}
	return ""
}
