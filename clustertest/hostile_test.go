package clustertest

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/task"
)

// TestHostileSubmit sends job files built to hurt the parser to a real `coordinator serve`
// process: 100,000 nested parentheses (a Go stack overflow in the HCL parser, fatal and not
// recoverable, before the nesting limit), the same with brackets, braces and template
// interpolations, and a file past the size limit. Each is answered 400 with a message that
// names the limit, and the daemon keeps serving: a real job submitted afterwards succeeds.
func TestHostileSubmit(t *testing.T) {
	c := startCluster(t, clusterConfig{workers: 1, lease: lease})
	deep := func(open, close string) string {
		return `job "deep" {` + "\n  reducers = " + strings.Repeat(open, 100_000) + "1" + strings.Repeat(close, 100_000) + "\n}\n"
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"parentheses", deep("(", ")"), "nest"},
		{"brackets", deep("[", "]"), "nest"},
		{"braces", deep("{a=", "}"), "nest"},
		{"interpolations", `job "deep" { split_size = "` + strings.Repeat("${", 100_000) + `1` + strings.Repeat("}", 100_000) + `" }`, "nest"},
		{"too large", `job "big" {` + "\n" + strings.Repeat("# padding\n", 120_000) + "}\n", "MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(task.JobSource{Path: filepath.Join(c.dir, "hostile.job"), Source: []byte(tc.src)})
			if err != nil {
				t.Fatal(err)
			}
			code, answer, err := c.call(http.MethodPost, task.PathJobs, c.token, body)
			if err != nil {
				t.Fatalf("submit: %v (the coordinator died? its log:\n%s)", err, c.coord.logText())
			}
			if code != http.StatusBadRequest || !strings.Contains(string(answer), tc.want) {
				t.Errorf("submit = %d %.300s, want 400 naming %q", code, answer, tc.want)
			}
			if len(answer) > 8<<10 {
				t.Errorf("the answer is %d bytes: an error must be capped", len(answer))
			}
			if c.coord.exited() {
				t.Fatalf("the coordinator exited: %v\n%s", c.coord.err, c.coord.logText())
			}
			if code, _, err := c.call(http.MethodGet, "/healthz", "", nil); err != nil || code != http.StatusOK {
				t.Fatalf("after the hostile submit, /healthz = %d, %v", code, err)
			}
		})
	}

	// Still a working cluster.
	job, _ := writeJob(t, filepath.Join(c.dir, "after"), corpusSplit, 2,
		[]input{{"baltimore", filepath.Join(corpus, "baltimore"), "baltimore", ""}})
	if stdout, stderr, code := c.cli("submit", job, "--json"); code != 0 {
		t.Fatalf("a real job after the hostile ones: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
