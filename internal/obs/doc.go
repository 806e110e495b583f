// Package obs is how ireports' processes show what they do: Prometheus metrics, continuous
// profiling pushed to Pyroscope, and the /debug/pprof handlers. Every binary uses it the same
// way:
//
//	pyro := obs.Flags(fs)                     // --pyroscope-url (default $PYROSCOPE_SERVER_ADDRESS)
//	…
//	pc, err := pyro()
//	pc.Role, pc.Node = "viz", ""              // "": the host name
//	prof, err := obs.StartProfiling(pc)       // nil and no error when no URL is given
//	defer prof.Stop(context.Background())
//	mux.Handle("GET /metrics", obs.Handler())
//	srv := &http.Server{Handler: obs.HTTPMetrics("viz", mux)}
//
// Rules for callers:
//   - Metrics live in one process-wide registry (Registry), because a process is what
//     Prometheus scrapes: several workers in one process (`coordinator run`, tests) add up.
//     Label values are bounded: task kinds, states, reject reason codes and HTTP route
//     patterns — never job ids, file names or URLs, which belong in logs and profiles.
//   - Profiling is process-wide too: at most one Profiler runs at a time (the Go runtime has
//     one CPU profiler), so the daemon that owns the process starts it, not a library.
//   - Wrap each unit of task work in Do: the CPU samples taken while it runs, in its goroutine
//     and in the goroutines it starts, carry the labels job and kind, so a profile splits by
//     job and by map, reduce or publish; and its duration lands in
//     ireports_task_duration_seconds.
//   - HTTPMetrics labels requests by the http.ServeMux pattern that served them, so it must
//     wrap a ServeMux (or handlers that pass the *http.Request on unchanged). A server that
//     wraps each route as it registers it uses RouteMetrics instead.
//
// All functions are safe for concurrent use.
package obs
