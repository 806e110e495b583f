package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/ireports/ireports/jobs"
)

// What a job's text may do once it leaves the coordinator. A job file comes from anyone with
// the cluster token, so every message derived from it — errors, warnings, paths, log lines —
// passes one boundary, the job's cleaner, before it reaches a result, the job history, the
// status page, the API or a log: values the job read through env() are replaced by
// ${env:NAME} (the coordinator's environment is the operator's, not the job's), and every
// message is capped so that a hostile input cannot make one megabytes long.

// MaxMessage bounds every message the coordinator stores or returns for a job (an error, a
// warning, a log attribute), in bytes; the rest is cut and the message says how much.
const MaxMessage = 4 << 10

// capMessage cuts s to MaxMessage bytes (at a UTF-8 boundary), saying how much was cut.
func capMessage(s string) string {
	if len(s) <= MaxMessage {
		return s
	}
	cut := MaxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes cut)", s[:cut], len(s)-cut)
}

// cleaner redacts and caps what one job's run lets out.
type cleaner struct {
	redact func(string) string // nil: nothing to redact
}

// cleanerFor returns the cleaner of spec's values.
func cleanerFor(spec *jobs.Spec) cleaner {
	if spec == nil {
		return cleaner{}
	}
	return cleaner{redact: spec.Redact}
}

// CleanError returns err with the secrets of spec's values (env() results) redacted from
// its message and the message capped, as a run's errors are; errors.Is and errors.As still
// see its causes. The command line cleans the errors it prints about a job with it.
func CleanError(spec *jobs.Spec, err error) error { return cleanerFor(spec).err(err) }

// text redacts and caps one message.
func (c cleaner) text(s string) string {
	if c.redact != nil {
		s = c.redact(s)
	}
	return capMessage(s)
}

// err returns err with its message cleaned; errors.Is and errors.As still see its causes.
func (c cleaner) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := c.text(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// result returns a copy of r with every string cleaned. (TestCleanResultCoversEveryString
// fails when a string field is added to Result and not cleaned here.)
func (c cleaner) result(r *Result) *Result {
	if r == nil {
		return nil
	}
	out := *r
	out.Job, out.Name, out.Error, out.Published = c.text(r.Job), c.text(r.Name), c.text(r.Error), c.text(r.Published)
	out.Version = c.text(r.Version)
	out.Outputs = Outputs{Parquet: c.text(r.Outputs.Parquet), Summaries: c.text(r.Outputs.Summaries), Rejects: c.text(r.Outputs.Rejects), Manifest: c.text(r.Outputs.Manifest)}
	out.Warnings = nil
	for _, w := range r.Warnings {
		out.Warnings = append(out.Warnings, c.text(w))
	}
	if r.RejectsByReason != nil {
		out.RejectsByReason = make(map[string]int64, len(r.RejectsByReason))
		for k, v := range r.RejectsByReason {
			out.RejectsByReason[c.text(k)] += v
		}
	}
	if r.PhaseSeconds != nil {
		out.PhaseSeconds = make(map[string]float64, len(r.PhaseSeconds))
		for k, v := range r.PhaseSeconds {
			out.PhaseSeconds[c.text(k)] += v
		}
	}
	out.Pulls = nil
	for _, p := range r.Pulls {
		p.Source, p.Status, p.Watermark = c.text(p.Source), c.text(p.Status), c.text(p.Watermark)
		out.Pulls = append(out.Pulls, p)
	}
	return &out
}

// logger returns log with every message and attribute cleaned.
func (c cleaner) logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return nil
	}
	return slog.New(cleanHandler{inner: log.Handler(), c: c})
}

// cleanHandler is a slog.Handler that cleans records before its inner handler sees them.
type cleanHandler struct {
	inner slog.Handler
	c     cleaner
}

func (h cleanHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h cleanHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.c.text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h cleanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return cleanHandler{inner: h.inner.WithAttrs(clean), c: h.c}
}

func (h cleanHandler) WithGroup(name string) slog.Handler {
	return cleanHandler{inner: h.inner.WithGroup(name), c: h.c}
}

// attr cleans one attribute: strings, errors and anything printed as text.
func (h cleanHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.c.text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]slog.Attr, len(g))
		for i, ga := range g {
			clean[i] = h.attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		x := v.Any()
		if x == nil {
			return slog.Attr{Key: a.Key, Value: v}
		}
		if err, ok := x.(error); ok {
			return slog.String(a.Key, h.c.text(err.Error()))
		}
		s := fmt.Sprint(x)
		if clean := h.c.text(s); clean != s {
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// maxComponent bounds a name used as one path component, in bytes (file systems allow 255;
// the history adds ".json", a run id a timestamp).
const maxComponent = 200

// checkComponent returns an error unless name is one safe, local path component: not empty,
// not "." or "..", without a separator, a NUL byte or a leading dot, at most maxComponent
// bytes. Job names are validated when a job file is parsed; this is the second line.
func checkComponent(what, name string) error {
	switch {
	case name == "", name == ".", name == "..":
	case len(name) > maxComponent:
		return fmt.Errorf("%s of %d bytes: %w (at most %d)", what, len(name), ErrUnsafeName, maxComponent)
	case strings.ContainsAny(name, "/\\\x00"), strings.HasPrefix(name, "."), !filepath.IsLocal(name):
	default:
		return nil
	}
	return fmt.Errorf("%s %q: %w (one path component: no separator, no leading dot, not empty)", what, capMessage(name), ErrUnsafeName)
}

// dataFile returns dir/<name><ext> after checking that name is one safe path component, so
// that a file the coordinator derives from a job's name or id stays in its data directory.
func dataFile(dir, what, name, ext string) (string, error) {
	if err := checkComponent(what, name); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+ext), nil
}

// ValidEnvName reports whether name is a portable environment variable name: letters,
// digits and _, not starting with a digit. `coordinator serve --job-env` checks its names
// with it as the flag is parsed; NewServer checks ServerConfig.JobEnv again.
func ValidEnvName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
