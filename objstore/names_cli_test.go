package objstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAbs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, in, want string }{
		{"relative", "data/la", filepath.Join(wd, "data/la")},
		{"absolute", "/srv/lake", "/srv/lake"},
		{"cleaned", "/srv/./lake/", "/srv/lake"},
		{"s3 unchanged", "s3://bucket/lake/", "s3://bucket/lake/"},
		{"s3 relative-looking key unchanged", "s3://bucket/../x", "s3://bucket/../x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Abs(c.in); got != c.want {
				t.Errorf("Abs(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestDir(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"local file", "data/la/a.csv", "data/la"},
		{"local bare", "a.csv", "."},
		{"local root", "/a.csv", "/"},
		{"s3 key", "s3://bucket/raw/a.csv", "s3://bucket/raw"},
		{"s3 glob stem", "s3://bucket/raw/x", "s3://bucket/raw"},
		{"s3 top-level key", "s3://bucket/a.csv", "s3://bucket"},
		{"s3 bucket", "s3://bucket", "s3://bucket"},
		{"s3 trailing slash", "s3://bucket/raw/", "s3://bucket"},
		{"s3 doubled slash", "s3://bucket/raw//a.csv", "s3://bucket/raw"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Dir(c.in); got != c.want {
				t.Errorf("Dir(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestCheckRoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		errHas     string // "" = usable
	}{
		{"existing dir", dir, ""},
		{"missing under a dir", filepath.Join(dir, "a", "b"), ""},
		{"a file", file, "is a file"},
		{"under a file", filepath.Join(file, "sub"), "is a file"},
		{"s3 needs nothing", "s3://bucket/anything", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckRoot(c.path)
			switch {
			case c.errHas == "" && err != nil:
				t.Errorf("CheckRoot(%q) = %v, want nil", c.path, err)
			case c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)):
				t.Errorf("CheckRoot(%q) = %v, want an error saying %q", c.path, err, c.errHas)
			}
		})
	}
}
