package allowpath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/jobs"
)

// layout makes dir/root (the allowed directory, with a file, a subdirectory, a symlink to a
// directory outside it and one to a directory inside it), dir/root2 (a sibling whose name
// extends the root's) and dir/victim (outside).
func layout(t *testing.T) (dir, root string) {
	t.Helper()
	dir = t.TempDir()
	root = filepath.Join(dir, "root")
	for _, d := range []string{"root/sub/deep", "root2", "victim"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "a.csv"), []byte("x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "victim", "secret.csv"), []byte("x\n"), 0o644)
	if err := os.Symlink(filepath.Join(dir, "victim"), filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "sub"), filepath.Join(root, "in")); err != nil {
		t.Fatal(err)
	}
	return dir, root
}

func TestCheck(t *testing.T) {
	dir, root := layout(t)
	roots, err := New([]string{root, "s3://b/lake", "s3://whole"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		path string
		ok   bool
	}{
		{"the root", root, true},
		{"the root with a slash", root + "/", true},
		{"a file inside", filepath.Join(root, "a.csv"), true},
		{"a directory not created yet", filepath.Join(root, "new", "lake"), true},
		{"a glob inside", filepath.Join(root, "*.csv"), true},
		{"a glob in a subdirectory", filepath.Join(root, "sub", "*", "x.csv"), true},
		{"a symlink to a directory inside", filepath.Join(root, "in", "deep"), true},
		{"a dot-dot that stays inside", root + "/sub/../a.csv", true},
		{"outside", "/etc/passwd", false},
		{"the root's parent", dir, false},
		{"a dot-dot escape", root + "/../victim", false},
		{"a deeper dot-dot escape", root + "/sub/deep/../../../victim/secret.csv", false},
		{"a dot-dot escape through a directory not created yet", root + "/new/../../victim", false},
		{"a glob escaping after its wildcard", root + "/*/../../victim/secret.csv", false},
		{"a glob whose prefix is outside", dir + "/*/a.csv", false},
		{"a prefix sibling", filepath.Join(dir, "root2", "x.csv"), false},
		{"a symlink escape", filepath.Join(root, "out", "secret.csv"), false},
		{"a glob through a symlink escape", filepath.Join(root, "out", "*.csv"), false},
		{"dot-dot after a symlink", root + "/in/../a.csv", true}, // sub/.. is root
		{"dot-dot after a symlink out", root + "/out/../root2", false},
		{"a NUL byte", root + "/a\x00.csv", false},
		{"an s3 key inside", "s3://b/lake/requests/x.parquet", true},
		{"the s3 root", "s3://b/lake", true},
		{"the s3 root with a slash", "s3://b/lake/", true},
		{"an s3 glob inside", "s3://b/lake/raw/*.csv", true},
		{"a whole bucket", "s3://whole/any/key", true},
		{"an s3 prefix sibling", "s3://b/lake2/x", false},
		{"another bucket", "s3://c/lake/x", false},
		{"the bucket above the prefix", "s3://b/other", false},
		{"an s3 dot-dot escape", "s3://b/lake/../other", false},
		{"an s3 glob whose prefix is above the root", "s3://b/*/x", false},
		{"an s3 glob escaping after its wildcard", "s3://b/lake/*/../../other", false},
		{"another scheme", "http://169.254.169.254/latest", false},
		{"an s3 bucket-less path", "s3:///lake", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := roots.Check(c.path)
			if c.ok && err != nil {
				t.Errorf("Check(%q) = %v, want nil", c.path, err)
			}
			if !c.ok {
				if !errors.Is(err, ErrOutside) {
					t.Errorf("Check(%q) = %v, want ErrOutside", c.path, err)
				} else if !strings.Contains(err.Error(), strings.ReplaceAll(c.path, "\x00", "")) && !strings.ContainsRune(c.path, 0) {
					t.Errorf("Check(%q): %v does not name the path", c.path, err)
				}
			}
		})
	}
}

// TestRootThroughSymlink: a root named through a symlink allows paths named by the real
// directory, and the other way round.
func TestRootThroughSymlink(t *testing.T) {
	dir, root := layout(t)
	alias := filepath.Join(dir, "alias")
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	roots, err := New([]string{alias})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "a.csv"), filepath.Join(alias, "a.csv")} {
		if err := roots.Check(p); err != nil {
			t.Errorf("Check(%q) = %v", p, err)
		}
	}
	if err := roots.Check(filepath.Join(dir, "victim")); err == nil {
		t.Error("a path outside the aliased root is allowed")
	}
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		roots []string
		want  error
	}{
		{nil, ErrNoRoots},
		{[]string{""}, ErrBadRoot},
		{[]string{"http://example.com/x"}, ErrBadRoot},
		{[]string{"s3://"}, ErrBadRoot},
		{[]string{"s3://b/lake/../other"}, ErrBadRoot},
	} {
		if _, err := New(c.roots); !errors.Is(err, c.want) {
			t.Errorf("New(%q) = %v, want %v", c.roots, err, c.want)
		}
	}
	var none *Roots
	if err := none.Check("/tmp"); !errors.Is(err, ErrOutside) {
		t.Errorf("nil Roots allow /tmp: %v", err)
	}
	if err := Any().Check("/etc/passwd"); err != nil {
		t.Errorf("Any refuses /etc/passwd: %v", err)
	}
}

// TestCheckSpec: every path of a job is checked, and each refusal names its input or output.
// The summary datasets are an output of their own, beside the lake: a job whose lake is
// allowed but whose summaries are not is refused.
func TestCheckSpec(t *testing.T) {
	_, root := layout(t)
	roots, err := New([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	spec := &jobs.Spec{
		Inputs: []jobs.Input{{Name: "ok", Path: filepath.Join(root, "*.csv")}, {Name: "bad", Path: "/etc/*"}},
		Output: jobs.Output{Parquet: filepath.Join(root, "lake"), Summaries: "/var/tmp/summaries", Rejects: "s3://b/rejects"},
		Sources: map[string]*jobs.SourceSpec{
			"api": {Raw: "/var/tmp/raw"},
		},
	}
	err = roots.CheckSpec(spec)
	if !errors.Is(err, ErrOutside) {
		t.Fatalf("CheckSpec = %v, want ErrOutside", err)
	}
	for _, want := range []string{`input "bad" path: /etc/*`, "output summaries: /var/tmp/summaries", "output rejects: s3://b/rejects", `source "api" raw: /var/tmp/raw`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSpec error lacks %q:\n%v", want, err)
		}
	}
	for _, unwanted := range []string{`input "ok"`, "output parquet"} {
		if strings.Contains(err.Error(), unwanted) {
			t.Errorf("CheckSpec refuses an allowed path (%s):\n%v", unwanted, err)
		}
	}
	// Summaries beside the lake, under an allowed root, pass.
	spec = &jobs.Spec{Output: jobs.Output{Parquet: filepath.Join(root, "lake"), Summaries: filepath.Join(root, "summaries"), Rejects: filepath.Join(root, "rejects")}}
	if err := roots.CheckSpec(spec); err != nil {
		t.Errorf("CheckSpec of a job inside the root = %v", err)
	}
}
