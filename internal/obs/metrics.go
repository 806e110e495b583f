package obs

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every ireports metric.
const Namespace = "ireports"

// registry holds every metric of the process; see Registry.
var registry = prometheus.NewRegistry()

// Task execution, recorded where tasks run (workers; the coordinator for publish).
var (
	taskDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "task_duration_seconds",
		Help:    "Wall time of task attempts run by this process, by task kind (map, reduce, publish) and result (succeeded, failed, cancelled).",
		Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12), // 50 ms … 20 min
	}, []string{"kind", "result"})
	inProgress = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "tasks_in_progress",
		Help: "Task attempts running in this process now, by kind.",
	}, []string{"kind"})
	recordsRead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "records_read_total",
		Help: "Records read by succeeded task attempts, by kind: map counts input records, reduce counts shuffled rows.",
	}, []string{"kind"})
	recordsWritten = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "records_written_total",
		Help: "Records written by succeeded task attempts, by kind: map to its map output, reduce to the lake.",
	}, []string{"kind"})
	recordsRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "records_rejected_total",
		Help: "Input records that map attempts rejected, by reason code.",
	}, []string{"reason"})
	recordsDuplicate = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "records_duplicate_total",
		Help: "Superseded versions of a request that reduce attempts dropped.",
	})
	inputBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "input_bytes_total",
		Help: "Input bytes read by succeeded map attempts.",
	})
)

// The shuffle, on workers.
var (
	shuffleServed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "shuffle_served_bytes_total",
		Help: "Map output bytes this process served to reducers.",
	})
	shuffleFetched = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "shuffle_fetched_bytes_total",
		Help: "Map output bytes this process's reducers fetched.",
	})
	shuffleFetches = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "shuffle_fetches_total",
		Help: "Map output segments this process's reducers asked for.",
	})
	shuffleFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "shuffle_fetch_failures_total",
		Help: "Segment fetches that failed, by reason: fetch (unreachable, gone or broken off: the map output is lost), corrupt, unauthorized, other.",
	}, []string{"reason"})
)

// Scheduling and jobs, on the coordinator.
var (
	attemptsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "task_attempts_total",
		Help: "Task attempts the scheduler saw end, by kind and state: succeeded, lost (retryable: failed, worker gone, lease lapsed), failed (fatal), cancelled (withdrawn).",
	}, []string{"kind", "state"})
	jobsRunning = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "jobs_running",
		Help: "Jobs running on this coordinator now.",
	})
	jobsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "jobs_finished_total",
		Help: "Jobs that ended, by status (succeeded, failed, cancelled).",
	}, []string{"status"})
	jobDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "job_duration_seconds",
		Help:    "Wall time of jobs from submission to their end.",
		Buckets: prometheus.ExponentialBuckets(1, 3, 10), // 1 s … 5.5 h
	})
)

// Faults that a process rides out, counted so that none passes silently.
var (
	workersExcluded = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "workers_excluded_total",
		Help: "Times the scheduler excluded a worker from a job after its attempts of several tasks failed with worker-local errors (full disk, I/O errors).",
	})
	coordinatorUnreachable = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "coordinator_unreachable_total",
		Help: "Calls of this worker to the coordinator that failed because it could not be reached (the worker retries with backoff).",
	})
	shuffleFetchWaits = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "shuffle_fetch_waits_total",
		Help: "Times a reducer's segment fetch waited without progress past its idle warning.",
	})
	objstoreRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "objstore_retries_total",
		Help: "Object store requests retried (the SDK's retries, during a throttle or an outage), by store (s3).",
	}, []string{"store"})
)

// WorkerExcluded counts a worker excluded from a job (see workers_excluded_total).
func WorkerExcluded() { workersExcluded.Inc() }

// CoordinatorUnreachable counts a worker's failed call to the coordinator.
func CoordinatorUnreachable() { coordinatorUnreachable.Inc() }

// ShuffleFetchWait counts a reducer's fetch that waited without progress.
func ShuffleFetchWait() { shuffleFetchWaits.Inc() }

// ObjstoreRetry counts a retried request to an object store of kind store ("s3").
func ObjstoreRetry(store string) { objstoreRetries.WithLabelValues(store).Inc() }

// HTTP servers.
var httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Namespace: Namespace, Name: "http_request_duration_seconds",
	Help:    "Latency of HTTP requests served, by server, route (the ServeMux pattern), method and status code. Worker polls are long polls: they wait up to the poll timeout.",
	Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
}, []string{"server", "route", "method", "code"})

var sched = &schedCollector{sources: map[int]func() SchedulerStats{}}

func init() {
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		taskDuration, inProgress, recordsRead, recordsWritten, recordsRejected, recordsDuplicate, inputBytes,
		shuffleServed, shuffleFetched, shuffleFetches, shuffleFailures,
		attemptsFinished, jobsRunning, jobsFinished, jobDuration,
		httpDuration, sched,
		workersExcluded, coordinatorUnreachable, shuffleFetchWaits, objstoreRetries,
	)
	// Series that should read 0 rather than be absent before the first event.
	for _, k := range []string{KindMap, KindReduce} {
		inProgress.WithLabelValues(k)
		recordsRead.WithLabelValues(k)
		recordsWritten.WithLabelValues(k)
	}
	for _, r := range fetchFailureReasons {
		shuffleFailures.WithLabelValues(r)
	}
}

// Registry is the process's metric registry, for a component that adds its own collectors.
func Registry() *prometheus.Registry { return registry }

// Handler serves the registry in the Prometheus exposition format: mount it at /metrics.
func Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(registry, promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
}

// MapCounts are what a map attempt read, wrote and rejected (the fields of the same names in
// task.MapResult; obs takes them as plain numbers so that it imports no engine package).
type MapCounts struct {
	Bytes, RecordsIn, RecordsOut int64
	RejectsByReason              map[string]int64 // reject reason code → records
}

// CountMap adds a succeeded map attempt's counts to the metrics.
func CountMap(c MapCounts) {
	recordsRead.WithLabelValues(KindMap).Add(float64(c.RecordsIn))
	recordsWritten.WithLabelValues(KindMap).Add(float64(c.RecordsOut))
	inputBytes.Add(float64(c.Bytes))
	for reason, n := range c.RejectsByReason {
		recordsRejected.WithLabelValues(reasonLabel(reason)).Add(float64(n))
	}
}

// ReduceCounts are what a reduce attempt read, wrote and dropped as superseded (the fields
// of the same names in task.ReduceResult).
type ReduceCounts struct {
	RecordsIn, RecordsOut, Duplicates int64
}

// CountReduce adds a succeeded reduce attempt's counts to the metrics.
func CountReduce(c ReduceCounts) {
	recordsRead.WithLabelValues(KindReduce).Add(float64(c.RecordsIn))
	recordsWritten.WithLabelValues(KindReduce).Add(float64(c.RecordsOut))
	recordsDuplicate.Add(float64(c.Duplicates))
}

// reasonLabel keeps the reason label bounded: reject reasons are short snake_case codes
// (jobs.Reason*, worker.Reason*); anything else is "other".
func reasonLabel(s string) string {
	if len(s) == 0 || len(s) > 40 {
		return "other"
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return "other"
		}
	}
	return s
}

// AttemptFinished counts a task attempt that the scheduler saw end in state: kind is a
// task.Kind (named KindMap, KindReduce) and state a task.State (named "succeeded", "lost",
// "failed", "cancelled"), taken as Stringers so that obs needs no engine package. Both are
// bounded sets, as labels must be.
func AttemptFinished(kind, state fmt.Stringer) {
	attemptsFinished.WithLabelValues(kind.String(), state.String()).Inc()
}

// JobStarted counts a job that started running; call JobFinished when it ends.
func JobStarted() { jobsRunning.Inc() }

// JobFinished counts a job that ended with status after running for d.
func JobFinished(status string, d time.Duration) {
	jobsRunning.Dec()
	jobsFinished.WithLabelValues(status).Inc()
	jobDuration.Observe(d.Seconds())
}

// The state label of ireports_tasks: the names of task.StatePending and task.StateRunning.
const (
	StatePending = "pending"
	StateRunning = "running"
)

// SchedulerStats is a scheduler's state at one instant.
type SchedulerStats struct {
	// Pending and Running count attempts by task kind ("map", "reduce"): waiting for a
	// worker, and handed to one.
	Pending, Running map[string]int
	// Workers is the number of live workers, Slots the sum of their task slots.
	Workers, Slots int
}

// TrackScheduler makes stats a source of ireports_tasks, ireports_workers_live and
// ireports_worker_slots: they are read from it at each scrape (summed over the sources),
// so they cannot drift from the scheduler's own state. stats must not block for long. Call
// untrack when the scheduler stops.
func TrackScheduler(stats func() SchedulerStats) (untrack func()) {
	sched.mu.Lock()
	defer sched.mu.Unlock()
	id := sched.next
	sched.next++
	sched.sources[id] = stats
	return func() {
		sched.mu.Lock()
		defer sched.mu.Unlock()
		delete(sched.sources, id)
	}
}

var (
	tasksDesc   = prometheus.NewDesc(Namespace+"_tasks", "Task attempts on the coordinator by kind and state: pending (queued for a worker) or running.", []string{"kind", "state"}, nil)
	workersDesc = prometheus.NewDesc(Namespace+"_workers_live", "Workers the coordinator sees alive.", nil, nil)
	slotsDesc   = prometheus.NewDesc(Namespace+"_worker_slots", "Task slots of the live workers.", nil, nil)
)

// schedCollector reads the tracked schedulers at scrape time.
type schedCollector struct {
	mu      sync.Mutex // guards sources and next
	sources map[int]func() SchedulerStats
	next    int
}

func (c *schedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- workersDesc
	ch <- slotsDesc
}

func (c *schedCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := make([]func() SchedulerStats, 0, len(c.sources))
	for _, f := range c.sources {
		sources = append(sources, f)
	}
	c.mu.Unlock()
	pending, running := map[string]int{KindMap: 0, KindReduce: 0}, map[string]int{KindMap: 0, KindReduce: 0}
	var workers, slots int
	for _, f := range sources {
		s := f()
		for k, n := range s.Pending {
			pending[k] += n
		}
		for k, n := range s.Running {
			running[k] += n
		}
		workers += s.Workers
		slots += s.Slots
	}
	for _, st := range []struct {
		state string
		n     map[string]int
	}{{StatePending, pending}, {StateRunning, running}} {
		kinds := make([]string, 0, len(st.n))
		for k := range st.n {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(st.n[k]), k, st.state)
		}
	}
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(workers))
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(slots))
}
