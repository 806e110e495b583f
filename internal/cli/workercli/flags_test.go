package workercli

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/auth"
	"github.com/ireports/ireports/worker"
)

// TestFetchStallFlag checks that --fetch-stall reaches Config.FetchStall (the cluster test
// of a stopped worker depends on it) and that a non-positive stall is a usage error.
func TestFetchStallFlag(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		want  time.Duration
		usage bool
	}{
		{name: "default", want: worker.DefaultConfig().FetchStall},
		{name: "set", args: []string{"--fetch-stall", "1h"}, want: time.Hour},
		{name: "zero", args: []string{"--fetch-stall", "0s"}, usage: true},
		{name: "negative", args: []string{"--fetch-stall", "-1s"}, usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(auth.EnvToken, "test-token-0123456789abcdef")
			fs := flag.NewFlagSet("worker", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			build := Flags(fs)
			if err := fs.Parse(append([]string{"--allow-any-path", "--insecure"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			cfg, err := build()
			if tc.usage {
				if !errors.Is(err, errUsage) {
					t.Fatalf("--fetch-stall %v: err %v, want a usage error", tc.args, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.FetchStall != tc.want {
				t.Errorf("FetchStall = %v, want %v", cfg.FetchStall, tc.want)
			}
		})
	}
}
