// Package logflags gives every ireports daemon (coordinator serve, coordinator run, worker,
// viz) the same two logging flags and builds their *slog.Logger:
//
//	--log-format text|json   text for a terminal or the journal; json, one object a line,
//	                         for CloudWatch, Loki and the like
//	--log-level debug|info|warn|error
//
// A bad value is a usage error: fs.Parse fails on it, so the command exits 2 before it
// starts anything.
package logflags

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Format is a log line format, a flag.Value.
type Format string

// The formats.
const (
	Text Format = "text"
	JSON Format = "json"
)

func (f *Format) String() string { return string(*f) }

func (f *Format) Set(s string) error {
	switch Format(s) {
	case Text, JSON:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("log format %q: want text or json", s)
}

// level is a slog.Level flag that remembers whether it was given.
type level struct {
	l   slog.Level
	set bool
}

func (l *level) String() string { return strings.ToLower(l.l.String()) }

func (l *level) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		l.l = slog.LevelDebug
	case "info":
		l.l = slog.LevelInfo
	case "warn", "warning":
		l.l = slog.LevelWarn
	case "error":
		l.l = slog.LevelError
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	l.set = true
	return nil
}

// Options are the parsed logging flags.
type Options struct {
	Format Format
	level  level
}

// Register adds --log-format (default text) and --log-level (default def) to fs.
func Register(fs *flag.FlagSet, def slog.Level) *Options {
	o := &Options{Format: Text, level: level{l: def}}
	fs.Var(&o.Format, "log-format", "log line format: text or json (one JSON object a line, for CloudWatch or Loki)")
	fs.Var(&o.level, "log-level", "least severe messages logged: debug, info, warn or error")
	return o
}

// Level is the level to log at.
func (o *Options) Level() slog.Level { return o.level.l }

// LevelSet reports whether --log-level was given, for commands whose other flags (such as
// `coordinator run -v`) change the default.
func (o *Options) LevelSet() bool { return o.level.set }

// SetDefaultLevel changes the level unless --log-level was given.
func (o *Options) SetDefaultLevel(l slog.Level) {
	if !o.level.set {
		o.level.l = l
	}
}

// Logger returns a logger writing to w in the chosen format, at the chosen level.
func (o *Options) Logger(w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.level.l}
	if o.Format == JSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
