package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ireports/ireports/jobs"
)

// TestMapFormatWire: a map task's format travels by name, the form workers of the same
// protocol have always sent and read ("csv", "soda-json"); an unknown name is refused, by name.
func TestMapFormatWire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format jobs.Format
		wire   string
	}{
		{"csv", jobs.FormatCSV, `"format":"csv"`},
		{"soda-json", jobs.FormatSODAJSON, `"format":"soda-json"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(Map{Job: "j", Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.wire) {
				t.Fatalf("map task encodes as %s, want %s in it", b, tc.wire)
			}
			var back Map
			if err := json.Unmarshal([]byte(`{"job":"j",`+tc.wire+`}`), &back); err != nil || back.Format != tc.format {
				t.Fatalf("decoding %s: format %v, err %v; want %v", tc.wire, back.Format, err, tc.format)
			}
		})
	}
	var m Map
	err := json.Unmarshal([]byte(`{"job":"j","format":"xml"}`), &m)
	if err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatalf("decoding an unknown format: err %v, want one naming \"xml\"", err)
	}
}

// FailureOf flags a worker's own disk errors as local, however they were wrapped, and
// nothing else.
func TestFailureOfLocal(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ENOSPC", fmt.Errorf("map 3: %w", &os.PathError{Op: "write", Path: "/data/m", Err: syscall.ENOSPC}), true},
		{"EIO", fmt.Errorf("spill: %w", syscall.EIO), true},
		{"flattened", errors.New("spill: write /data/m: no space left on device"), true},
		{"input", errors.New("row 3: bad date"), false},
		{"fatal", Fatal(fmt.Errorf("x: %w", syscall.ENOSPC)), false},
		{"lost map output", &LostError{Map: 1, Err: syscall.EIO}, false},
	} {
		if got := FailureOf(tc.err).Local; got != tc.want {
			t.Errorf("%s: Local = %v, want %v", tc.name, got, tc.want)
		}
	}
}
