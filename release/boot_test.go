package release

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The boot scripts' absolute paths that the test moves under its own directory: the
// release, the secrets, the daemons' data, the systemd units and the downloaded tarball.
var instancePaths = []string{"/opt/ireports", "/etc/ireports", "/var/lib/ireports", "/etc/systemd/system", "/tmp/ireports.tar.gz"}

// instance is one machine of the deployment, emulated in a directory: a boot script
// rendered from terraform's template and the effects of the steps that matter (download,
// unpack, secrets, environment and unit files), then the systemd unit it wrote.
type instance struct {
	name string // coordinator, worker, viz
	root string // stands for /
	// addr replaces 0.0.0.0 in the unit's command line: each instance has a machine of its
	// own in AWS, so a worker binds the gossip port on all of its interfaces, as the
	// coordinator does on its address; on one host each gets a loopback address instead.
	addr   string
	script string // the rendered boot script
}

// path maps an absolute path of the boot script into the instance's directory.
func (in *instance) path(p string) string {
	for _, prefix := range instancePaths {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return filepath.Join(in.root, p)
		}
	}
	return p
}

// renderTemplate renders terraform/templates/<name>.sh.tftpl as templatefile() would, with
// vars. A variable the template uses but vars lacks fails the test: it needs a loopback
// stand-in here.
func renderTemplate(t *testing.T, file string, vars map[string]string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, diags := hclsyntax.ParseTemplate(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", file, diags.Error())
	}
	args := map[string]cty.Value{}
	for _, tr := range tmpl.Variables() {
		name := tr.RootName()
		v, ok := vars[name]
		if !ok {
			t.Fatalf("%s: ${%s} has no loopback value in the release test (release/release_test.go, vars)", tr.SourceRange(), name)
		}
		args[name] = cty.StringVal(v)
	}
	out, diags := tmpl.Value(&hcl.EvalContext{Variables: args})
	if diags.HasErrors() {
		t.Fatalf("%s: %s", file, diags.Error())
	}
	return out.AsString()
}

var (
	heredocRe   = regexp.MustCompile(`^cat >(\S+) <<'(\w+)'$`)
	secretRe    = regexp.MustCompile(`^fetch_secret "([^"]+)" (\S+)$`)
	envRe       = regexp.MustCompile(`^fetch_env "([^"]+)" (\w+) (\S+)$`)
	dbURLRe     = regexp.MustCompile(`^fetch_db_url "([^"]+)" (\S+) (\S+)$`)
	dbURLFmtRe  = regexp.MustCompile(`(?m)^\s*printf 'postgres://%s:%s@%s\\n' "\$2" "\$password" "([^"]+)"`)
	s3cpRe      = regexp.MustCompile(`^retry aws s3 cp .* (\S+)$`)
	secretVarRe = regexp.MustCompile(`^(\w+)=\$\(secret "([^"]+)"\)$`)
	assignRe    = regexp.MustCompile(`^(\w+)="?([^"$]*)"?$`)
	// instancePathRe finds the instancePaths in a line of shell, where a word or a quoted
	// string starts.
	instancePathRe = regexp.MustCompile(`(^|[\s"'=<>])(/opt/ireports|/etc/ireports|/var/lib/ireports|/etc/systemd/system|/tmp/ireports\.tar\.gz)`)
)

// boot carries out the boot script's steps in the instance's directory. Only top-level
// lines count (the helper functions' bodies are indented): directories it installs, the
// release download (the tarball, copied), the tar command itself, run as written, the
// secrets it fetches from SSM (secrets maps a parameter name to its value), into files or
// the script's variables, the files it writes with heredocs, systemd units included, and
// its subshells — `(` to `)` at the start of a line: the database steps — run as written by
// bash, with the script's variables, its paths moved under the instance's directory, retry
// running its command once, and psql from pgBin. Users, systemctl, the install of psql and
// the like are skipped and logged.
func (in *instance) boot(t *testing.T, tarball, pgBin string, secrets map[string]string) {
	t.Helper()
	var skipped []string
	var shellVars []string // NAME=VALUE, the script's own variables in the order it sets them
	defer func() { t.Logf("%s boot: not emulated: %s", in.name, strings.Join(skipped, " | ")) }()
	sc := bufio.NewScanner(strings.NewReader(in.script))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "install -d "):
			for _, w := range strings.Fields(line) {
				if strings.HasPrefix(w, "/") {
					if err := os.MkdirAll(in.path(w), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
		case s3cpRe.MatchString(line):
			copyFile(t, tarball, in.path(s3cpRe.FindStringSubmatch(line)[1]))
		case strings.HasPrefix(line, "tar "):
			words := strings.Fields(line)
			for i, w := range words {
				words[i] = in.path(w)
			}
			if out, err := exec.Command(words[0], words[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s boot: %s (as %q): %v\n%s", in.name, line, words, err, out)
			}
		case strings.HasPrefix(line, "rm -f "):
			for _, w := range strings.Fields(line)[2:] {
				os.Remove(in.path(w))
			}
		case secretRe.MatchString(line):
			m := secretRe.FindStringSubmatch(line)
			writeFile(t, in.path(m[2]), secret(t, secrets, m[1]), 0o600)
		case envRe.MatchString(line):
			m := envRe.FindStringSubmatch(line)
			writeFile(t, in.path(m[3]), m[2]+"="+secret(t, secrets, m[1])+"\n", 0o600)
		case dbURLRe.MatchString(line):
			m := dbURLRe.FindStringSubmatch(line)
			f := dbURLFmtRe.FindStringSubmatch(in.script)
			if f == nil {
				t.Fatalf("%s boot: %s: the release test does not find fetch_db_url's printf: teach it the new one", in.name, line)
			}
			writeFile(t, in.path(m[3]), "postgres://"+m[2]+":"+secret(t, secrets, m[1])+"@"+f[1]+"\n", 0o600)
		case secretVarRe.MatchString(line):
			m := secretVarRe.FindStringSubmatch(line)
			shellVars = append(shellVars, m[1]+"="+secret(t, secrets, m[2]))
		case assignRe.MatchString(line):
			m := assignRe.FindStringSubmatch(line)
			shellVars = append(shellVars, m[1]+"="+m[2])
		case strings.HasPrefix(line, "retry dnf install"):
			// The instance installs psql for the subshell that creates the writer role; the
			// test runs that subshell with the psql of its own PostgreSQL (pgBin).
			skipped = append(skipped, line+" (psql: "+pgBin+")")
		case line == "(":
			var body []string
			for sc.Scan() && sc.Text() != ")" {
				body = append(body, sc.Text())
			}
			in.subshell(t, pgBin, shellVars, body)
		case heredocRe.MatchString(line):
			m := heredocRe.FindStringSubmatch(line)
			var body strings.Builder
			for sc.Scan() && sc.Text() != m[2] {
				body.WriteString(sc.Text() + "\n")
			}
			writeFile(t, in.path(m[1]), body.String(), 0o644)
		default:
			skipped = append(skipped, line)
		}
	}
}

// subshell runs a subshell of the boot script (its body) with bash, after setting vars,
// with the instance's paths and psql from pgBin. retry runs its command once: the test's
// database is up.
func (in *instance) subshell(t *testing.T, pgBin string, vars, body []string) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("set -euo pipefail\nretry() { \"$@\"; }\n")
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		sb.WriteString(k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	sb.WriteString("(\n")
	for _, l := range body {
		sb.WriteString(instancePathRe.ReplaceAllString(l, "${1}"+in.root+"${2}") + "\n")
	}
	sb.WriteString(")\n")
	cmd := exec.Command("bash", "-c", sb.String())
	cmd.Env = append(os.Environ(), "PATH="+pgBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s boot: the subshell\n(\n%s\n)\nfailed: %v\n%s", in.name, strings.Join(body, "\n"), err, out)
	}
}

// findPsql returns the directory of a psql of PostgreSQL 15 or later (the boot script's
// SQL uses \getenv): the newest /usr/lib/postgresql/*/bin, else PATH's.
func findPsql(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		ma, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		mb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return mb - ma
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "psql")); err == nil {
			return d
		}
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("release test: psql is required in CI: %v", err)
		}
		t.Skipf("release test: no psql (the coordinator's boot script runs one): %v", err)
	}
	return filepath.Dir(p)
}

func secret(t *testing.T, secrets map[string]string, param string) string {
	t.Helper()
	v, ok := secrets[param]
	if !ok {
		t.Fatalf("the boot script fetches SSM parameter %s: give it a value in the release test", param)
	}
	return v
}

// unit is what the test needs of a systemd service: its command and environment.
type unit struct {
	argv []string
	env  []string
}

// unit reads the ireports-*.service file the boot script wrote: ExecStart (lines joined at
// a trailing backslash), with the instance's paths and address, and the environment of its
// EnvironmentFile= and Environment= lines — all a systemd service gets besides PATH.
func (in *instance) unit(t *testing.T) unit {
	t.Helper()
	files, _ := filepath.Glob(in.path("/etc/systemd/system/ireports-*.service"))
	if len(files) != 1 {
		t.Fatalf("%s: the boot script wrote %d ireports units, want 1: %v", in.name, len(files), files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	u := unit{env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		key, val, ok := strings.Cut(lines[i], "=")
		if !ok {
			continue
		}
		for key == "ExecStart" && strings.HasSuffix(val, `\`) && i+1 < len(lines) {
			i++
			val = strings.TrimSuffix(val, `\`) + " " + lines[i]
		}
		switch key {
		case "ExecStart":
			for _, w := range strings.Fields(val) {
				w = in.path(w)
				if in.addr != "" {
					w = strings.ReplaceAll(w, "0.0.0.0:", in.addr+":")
				}
				u.argv = append(u.argv, w)
			}
		case "EnvironmentFile":
			f := in.path(strings.TrimPrefix(val, "-"))
			eb, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("%s: EnvironmentFile: %v", in.name, err)
			}
			for _, l := range strings.Split(string(eb), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					u.env = append(u.env, l)
				}
			}
		case "Environment":
			u.env = append(u.env, strings.Fields(val)...)
		case "WorkingDirectory":
			t.Fatalf("%s: WorkingDirectory=%s: the test runs daemons from / as systemd does without it; teach it this", in.name, val)
		}
	}
	if len(u.argv) == 0 {
		t.Fatalf("%s: no ExecStart in %s", in.name, files[0])
	}
	return u
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// envValue returns NAME's value in env (the last one wins, as in systemd).
func envValue(env []string, name string) string {
	var v string
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// flagValue returns the value of --name in argv, or "".
func flagValue(argv []string, name string) string {
	for i, w := range argv {
		if w == "--"+name && i+1 < len(argv) {
			return argv[i+1]
		}
		if v, ok := strings.CutPrefix(w, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// noNodeModulesAbove fails the test if dir or any directory above it holds node_modules: the
// release must not find plotly.js there by accident.
func noNodeModulesAbove(t *testing.T, dir string) {
	t.Helper()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "node_modules")); err == nil {
			t.Fatalf("%s holds node_modules: the test needs a directory with none above it", d)
		}
		if filepath.Dir(d) == d {
			return
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
