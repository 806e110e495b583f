package coordinatorcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ireports/ireports/coordinator"
)

// TestResultCarriesVersion: a job's result names the release that ran it, in the JSON
// (`version`) and in the printed summary.
func TestResultCarriesVersion(t *testing.T) {
	res := &coordinator.Result{Job: "j-1", Name: "normalize", Status: coordinator.Succeeded, Seconds: 1.5, Version: "v1.2.0-3-gabc1234"}
	var b bytes.Buffer
	printResult(&b, res)
	if first, _, _ := strings.Cut(b.String(), "\n"); first != "job normalize (j-1): succeeded in 1.5s · ireports v1.2.0-3-gabc1234" {
		t.Errorf("summary starts %q, want the version in its first line", first)
	}
	b.Reset()
	if err := finish(&b, res, nil, true); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v["version"] != res.Version {
		t.Errorf("--json result: version %v (%v), want %s", v["version"], err, res.Version)
	}
}

// TestFinishUnpublished: a run that committed its lake but could not publish its summaries
// ends with coordinator.ErrUnpublished, which Main exits ExitUnpublished on, in text and in --json.
func TestFinishUnpublished(t *testing.T) {
	res := &coordinator.Result{Job: "j-1", Name: "normalize", Status: coordinator.Succeeded, Published: coordinator.Unpublished}
	for _, asJSON := range []bool{false, true} {
		var b bytes.Buffer
		if err := finish(&b, res, nil, asJSON); !errors.Is(err, coordinator.ErrUnpublished) {
			t.Errorf("finish of an unpublished run (json %v): %v, want ErrUnpublished (exit code %d)", asJSON, err, ExitUnpublished)
		}
	}
}
