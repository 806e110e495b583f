package logflags

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		level   slog.Level
		json    bool
	}{
		{"defaults", nil, "", slog.LevelInfo, false},
		{"json at debug", []string{"--log-format", "json", "--log-level", "debug"}, "", slog.LevelDebug, true},
		{"upper-case level", []string{"--log-level=WARN"}, "", slog.LevelWarn, false},
		{"bad format", []string{"--log-format", "xml"}, `log format "xml": want text or json`, 0, false},
		{"bad level", []string{"--log-level", "loud"}, `log level "loud": want debug, info, warn or error`, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o := Register(fs, slog.LevelInfo)
			err := fs.Parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) = %v, want an error with %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Level() != tc.level {
				t.Errorf("level %v, want %v", o.Level(), tc.level)
			}
			var buf bytes.Buffer
			log := o.Logger(&buf)
			log.Debug("below")
			log.Error("boom", "job", "j-1")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if want := map[bool]int{true: 2, false: 1}[tc.level == slog.LevelDebug]; len(lines) != want {
				t.Errorf("at level %v: %d lines, want %d: %q", tc.level, len(lines), want, lines)
			}
			last := lines[len(lines)-1]
			var v map[string]any
			if isJSON := json.Unmarshal([]byte(last), &v) == nil; isJSON != tc.json {
				t.Errorf("line %q: JSON %v, want %v", last, isJSON, tc.json)
			}
			if tc.json && (v["msg"] != "boom" || v["job"] != "j-1" || v["level"] != "ERROR") {
				t.Errorf("JSON line %v lacks msg, job or level", v)
			}
		})
	}
}

func TestSetDefaultLevel(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	o := Register(fs, slog.LevelError)
	o.SetDefaultLevel(slog.LevelInfo) // -v without --log-level
	if o.Level() != slog.LevelInfo || o.LevelSet() {
		t.Errorf("level %v set %v, want info, not set", o.Level(), o.LevelSet())
	}
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	o = Register(fs, slog.LevelError)
	if err := fs.Parse([]string{"--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	o.SetDefaultLevel(slog.LevelInfo) // the explicit flag wins
	if o.Level() != slog.LevelWarn || !o.LevelSet() {
		t.Errorf("level %v set %v, want warn, set", o.Level(), o.LevelSet())
	}
}
