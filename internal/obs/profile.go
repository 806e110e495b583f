package obs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/pyroscope-go"
	pyropprof "github.com/grafana/pyroscope-go/http/pprof"
)

// Environment variables read for profiling. The address is the flag's default; the
// credentials are read from the environment only, so that they stay out of command lines
// (and the process list): a systemd EnvironmentFile is the place for them.
const (
	EnvServerAddress     = "PYROSCOPE_SERVER_ADDRESS"
	EnvBasicAuthUser     = "PYROSCOPE_BASIC_AUTH_USER"
	EnvBasicAuthPassword = "PYROSCOPE_BASIC_AUTH_PASSWORD"
	EnvTenantID          = "PYROSCOPE_TENANT_ID"
)

// Profile labels. Tags are on every profile of a process; the pprof labels set by Do are on
// the CPU samples (and goroutines) of one unit of task work.
const (
	TagRole   = "role"
	TagNode   = "node"
	LabelJob  = "job"
	LabelKind = "kind"
)

// Task kinds, the values of LabelKind and of the kind label of the task metrics.
const (
	KindMap     = "map"
	KindReduce  = "reduce"
	KindPublish = "publish"
)

// AppPrefix starts every Pyroscope application (service) name: "ireports.<role>".
const AppPrefix = "ireports."

// ErrProfiling is returned by StartProfiling while another Profiler of this process runs.
var ErrProfiling = errors.New("obs: a profiler is already running in this process")

// ProfilingConfig configures continuous profiling.
type ProfilingConfig struct {
	// ServerURL is the Pyroscope server, e.g. http://pyroscope.internal:4040; "" disables
	// profiling. User info in the URL (https://user:password@host) becomes basic auth.
	ServerURL string
	// BasicAuthUser and BasicAuthPassword authenticate the pushes (Grafana Cloud); the
	// open-source server needs neither.
	BasicAuthUser, BasicAuthPassword string
	// TenantID is sent as X-Scope-OrgID to a multi-tenant server.
	TenantID string
	// Role is the process's part in the cluster: "coordinator", "worker" or "viz". The
	// application name is AppPrefix+Role, and Role is also a tag.
	Role string
	// Node tells the processes of one role apart, as a tag ("": the host name).
	Node string
	// UploadRate is how often profiles are pushed (0: every 15 s).
	UploadRate time.Duration
	// Log receives the profiler's errors, at most one a minute (nil: slog.Default()).
	Log *slog.Logger
}

// Enabled reports whether c asks for profiling.
func (c ProfilingConfig) Enabled() bool { return c.ServerURL != "" }

// AppName is the Pyroscope application (service_name) of a role.
func AppName(role string) string { return AppPrefix + role }

// Flags registers --pyroscope-url on fs and returns a function that builds the
// ProfilingConfig from it and the environment. Role and Node are the caller's to set.
func Flags(fs *flag.FlagSet) func() (ProfilingConfig, error) {
	addr := fs.String("pyroscope-url", os.Getenv(EnvServerAddress),
		"Pyroscope server to push CPU, allocation and goroutine profiles to, e.g. http://pyroscope:4040 (default $"+EnvServerAddress+"; credentials from $"+EnvBasicAuthUser+" and $"+EnvBasicAuthPassword+")")
	return func() (ProfilingConfig, error) {
		c := ProfilingConfig{
			ServerURL:         strings.TrimSpace(*addr),
			BasicAuthUser:     os.Getenv(EnvBasicAuthUser),
			BasicAuthPassword: os.Getenv(EnvBasicAuthPassword),
			TenantID:          os.Getenv(EnvTenantID),
		}
		err := c.validate() // strips credentials from the URL into c
		return c, err
	}
}

func (c *ProfilingConfig) validate() error {
	if c.ServerURL == "" {
		return nil
	}
	u, err := url.Parse(c.ServerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--pyroscope-url %q: want http(s)://HOST:PORT of the Pyroscope server", c.ServerURL)
	}
	if u.User != nil {
		if c.BasicAuthUser == "" {
			c.BasicAuthUser = u.User.Username()
		}
		if pw, ok := u.User.Password(); ok && c.BasicAuthPassword == "" {
			c.BasicAuthPassword = pw
		}
		u.User = nil
		c.ServerURL = u.String()
	}
	return nil
}

// Profiler pushes this process's profiles to Pyroscope. A nil *Profiler (profiling
// disabled) is valid: its methods do nothing.
type Profiler struct {
	p *pyroscope.Profiler
	// mu serializes flushes and the stop: pyroscope blocks a flush that comes after its
	// stop forever.
	mu      sync.Mutex
	stopped bool // guarded by mu
	once    sync.Once
	done    chan struct{} // closed when the profiler has stopped
}

// profiling guards the process's single profiler.
var profiling struct {
	mu     sync.Mutex
	active bool
}

// StartProfiling starts pushing CPU, allocation (objects and bytes, allocated and in use)
// and goroutine profiles of this process to cfg.ServerURL every cfg.UploadRate, under the
// application AppName(cfg.Role) with the tags role and node. It returns nil and no error
// when cfg is not Enabled, and ErrProfiling while another Profiler runs. It does not
// contact the server: an unreachable server costs a logged error per minute, never the
// process.
func StartProfiling(cfg ProfilingConfig) (*Profiler, error) {
	if err := cfg.validate(); err != nil || !cfg.Enabled() {
		return nil, err
	}
	if cfg.Role == "" {
		return nil, errors.New("obs: StartProfiling: no role")
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	profiling.mu.Lock()
	defer profiling.mu.Unlock()
	if profiling.active {
		return nil, ErrProfiling
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName:   AppName(cfg.Role),
		ServerAddress:     cfg.ServerURL,
		BasicAuthUser:     cfg.BasicAuthUser,
		BasicAuthPassword: cfg.BasicAuthPassword,
		TenantID:          cfg.TenantID,
		UploadRate:        cfg.UploadRate,
		Tags:              map[string]string{TagRole: tagValue(cfg.Role), TagNode: tagValue(cfg.Node)},
		Logger:            &pyroLogger{log: cfg.Log.With("component", "pyroscope")},
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU,
			pyroscope.ProfileAllocObjects, pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace,
			pyroscope.ProfileGoroutines,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("pyroscope: %w", err)
	}
	profiling.active = true
	cfg.Log.Info("pushing profiles to pyroscope", "url", cfg.ServerURL, "app", AppName(cfg.Role), "node", cfg.Node)
	return &Profiler{p: p, done: make(chan struct{})}, nil
}

// Flush pushes what has been profiled since the last push now, and waits until the server
// has answered or ctx ends.
func (p *Profiler) Flush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.stopped {
			p.p.Flush(true)
		}
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop pushes the last profiles and stops profiling, waiting for the uploads until ctx ends
// (a shutdown must not hang on an unreachable server; the uploads then finish or time out
// in the background). Idempotent.
func (p *Profiler) Stop(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.once.Do(func() {
		go func() {
			defer close(p.done)
			p.mu.Lock()
			// pyroscope's Stop alone may drop the last profiles: its uploaders quit while
			// uploads are still queued. Flushing first waits for them.
			p.p.Flush(true)
			p.p.Stop()
			p.stopped = true
			p.mu.Unlock()
			profiling.mu.Lock()
			profiling.active = false
			profiling.mu.Unlock()
		}()
	})
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tagValue makes s safe as a Pyroscope tag value: the application name travels as
// app{k=v,…}, so these characters would split it.
func tagValue(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '{', '}', ',', '=', '"', ' ', '\t', '\n':
			return '_'
		}
		return r
	}, s)
}

// Labels are the pprof labels of one unit of task work.
func Labels(job, kind string) rpprof.LabelSet { return rpprof.Labels(LabelJob, job, LabelKind, kind) }

// Do runs fn as one unit of task work of kind (KindMap, KindReduce, KindPublish) for job:
// fn's context carries the pprof labels job and kind, which the CPU samples of fn's
// goroutine and of the goroutines it starts inherit (pyroscope splits profiles by them);
// while fn runs it counts in ireports_tasks_in_progress, and its duration is observed in
// ireports_task_duration_seconds by kind and result. Do returns fn's error.
func Do(ctx context.Context, job, kind string, fn func(context.Context) error) error {
	inProgress.WithLabelValues(kind).Inc()
	defer inProgress.WithLabelValues(kind).Dec()
	start := time.Now()
	var err error
	rpprof.Do(ctx, Labels(job, kind), func(ctx context.Context) { err = fn(ctx) })
	taskDuration.WithLabelValues(kind, result(err)).Observe(time.Since(start).Seconds())
	return err
}

// result classifies a task's outcome for the metrics.
func result(err error) string {
	switch {
	case err == nil:
		return "succeeded"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "failed"
}

// ProfileURL links to the Pyroscope UI at ui showing the CPU profile of application app
// (AppName(role)) restricted to job's samples, over [from, until] widened by a minute each
// side (profiles are pushed every 15 s and cover whole intervals). A zero until means now.
// It returns "" when ui is "".
func ProfileURL(ui, app, job string, from, until time.Time) string {
	if ui == "" {
		return ""
	}
	if until.IsZero() {
		until = time.Now()
	}
	q := url.Values{}
	q.Set("query", fmt.Sprintf(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=%q,%s=%q}`, app, LabelJob, job))
	q.Set("from", strconv.FormatInt(from.Add(-time.Minute).Unix(), 10))
	q.Set("until", strconv.FormatInt(until.Add(time.Minute).Unix(), 10))
	return strings.TrimSuffix(ui, "/") + "/?" + q.Encode()
}

// PprofHandler serves /debug/pprof/ (index, named profiles, cmdline, symbol, trace and a
// CPU profile). Its CPU profile pauses the Pyroscope profiler instead of failing with "CPU
// profiling already in use", and hands the samples to both. Mount it at "/debug/pprof/",
// behind the cluster token.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// Not the command line: it names files and flags that a token holder need not see, and
	// pprof.Index would otherwise serve it under this path too.
	mux.Handle("/debug/pprof/cmdline", http.NotFoundHandler())
	mux.HandleFunc("/debug/pprof/profile", pyropprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// pyroLogger adapts pyroscope's logger to slog. Its info lines are debug here (they repeat
// the configuration), and its errors — an upload failing every few seconds while the server
// is down — are logged at most once a minute, with the count of those left out.
type pyroLogger struct {
	log *slog.Logger

	mu         sync.Mutex // guards last and suppressed
	last       time.Time
	suppressed int
}

func (l *pyroLogger) Infof(format string, args ...any)  { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l *pyroLogger) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

func (l *pyroLogger) Errorf(format string, args ...any) {
	l.mu.Lock()
	if time.Since(l.last) < time.Minute {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = time.Now(), 0
	l.mu.Unlock()
	l.log.Warn(fmt.Sprintf(format, args...), "suppressed_since_last", n)
}

// ForJob labels the calling goroutine, and the goroutines it starts from now on, with job
// (no kind): for a goroutine that works for one job throughout, such as the coordinator's
// run of a job, whose planning and commit then show under the job in profiles. It returns
// ctx carrying the label, under which Do adds the kind.
func ForJob(ctx context.Context, job string) context.Context {
	ctx = rpprof.WithLabels(ctx, rpprof.Labels(LabelJob, job))
	rpprof.SetGoroutineLabels(ctx)
	return ctx
}
