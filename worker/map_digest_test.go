package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// TestMapDigest writes, to the file MAP_DIGEST names, a digest of every map task's output,
// rejects and counts over the real exports (normalize.job's inputs), the benchmark corpus
// when it exists, and files under MAP_DIGEST_EXTRA (name.csv or name.json, read by the
// schema that prefixes its name, as nyc-x.csv): whole files and each file cut into three
// splits. Run by one binary built from main and one from a branch, the two files must be
// equal: the map phase's output is byte-identical. Skipped without MAP_DIGEST.
func TestMapDigest(t *testing.T) {
	out := os.Getenv("MAP_DIGEST")
	if out == "" {
		t.Skip("MAP_DIGEST not set")
	}
	type in struct {
		schema string
		format jobs.Format
		path   string
	}
	var ins []in
	add := func(schema, glob string) {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			var f jobs.Format
			if strings.HasSuffix(p, ".json") {
				f = jobs.FormatSODAJSON
			}
			ins = append(ins, in{schema, f, p})
		}
	}
	real := testenv.RealData(t)
	for _, c := range []string{"la", "sf", "boston", "baltimore", "chicago", "kansas_city", "dc", "st_louis", "nyc"} {
		schema := c
		add(schema, filepath.Join(real, c, "*.csv"))
		add(schema, filepath.Join(real, c, "*.json"))
	}
	if corpus := os.Getenv("MAP_DIGEST_CORPUS"); corpus != "" {
		for _, c := range []string{"la", "sf", "boston", "baltimore", "chicago", "kansas_city", "dc", "st_louis", "nyc", "austin"} {
			if _, ok := jobs.Builtin(c); !ok {
				continue
			}
			add(c, filepath.Join(corpus, c, "*.csv"))
			add(c, filepath.Join(corpus, c, "*.json"))
		}
	}
	if extra := os.Getenv("MAP_DIGEST_EXTRA"); extra != "" {
		paths, _ := filepath.Glob(filepath.Join(extra, "*"))
		for _, p := range paths {
			schema, _, _ := strings.Cut(filepath.Base(p), "-")
			var f jobs.Format
			if strings.HasSuffix(p, ".json") {
				f = jobs.FormatSODAJSON
			}
			ins = append(ins, in{schema, f, p})
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	store, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i, x := range ins {
		sch, ok := jobs.Builtin(x.schema)
		if !ok {
			t.Fatalf("no schema %s", x.schema)
		}
		spec := &jobs.Spec{Name: "digest", Inputs: []jobs.Input{{Name: "in", Schema: sch, Path: x.path, Format: x.format}}}
		spec.Output.Rejects = filepath.Join(dir, "rejects")
		data, err := os.ReadFile(x.path)
		if err != nil {
			t.Fatal(err)
		}
		base := task.Map{Job: "digest", File: x.path, Format: x.format, End: int64(len(data)), Reducers: 8}
		var tasks []task.Map
		if x.format != jobs.FormatSODAJSON {
			header, ds, err := csvsplit.ReadHeader(bytes.NewReader(data))
			if err != nil {
				lines = append(lines, fmt.Sprintf("%s header: %v", x.path, err))
				continue
			}
			base.Header, base.DataStart, base.Start, base.State = header, ds, ds, csvsplit.Outside
			tasks = append(tasks, base)
			n := int64(len(data)) - ds
			for k := int64(0); k < 3; k++ {
				s := base
				s.Start, s.End = ds+n*k/3, ds+n*(k+1)/3
				if k > 0 {
					s.State = csvsplit.Unknown
				}
				tasks = append(tasks, s)
			}
		} else {
			tasks = append(tasks, base)
		}
		for k, tk := range tasks {
			tk.Index = i*10 + k
			ds, err := mapinput.DetectDialects(ctx, store, sch, tk)
			if err != nil {
				lines = append(lines, fmt.Sprintf("%s %d dialects: %v", x.path, k, err))
				continue
			}
			tk.TimeLayouts = jobs.DialectLayouts(ds)
			env := Env{DataDir: filepath.Join(dir, "data"), Store: store}
			res, err := RunMap(ctx, spec, env, tk)
			line := fmt.Sprintf("%s [%d,%d) state=%v: in=%d out=%d rej=%d assumed=%v parity=%d bytes=%d err=%v",
				x.path, tk.Start, tk.End, tk.State, res.RecordsIn, res.RecordsOut, res.Rejected, res.Assumed, res.Parity, res.Bytes, err)
			if err == nil {
				reasons := make([]string, 0, len(res.RejectsByReason))
				for r, c := range res.RejectsByReason {
					reasons = append(reasons, fmt.Sprintf("%s=%d", r, c))
				}
				sort.Strings(reasons)
				line += " reasons=" + strings.Join(reasons, ",")
				line += " output=" + fileSum(t, res.Output.Path)
				if res.Rejects != "" {
					line += " rejects=" + fileSum(t, res.Rejects)
				}
			}
			lines = append(lines, line)
		}
	}
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x:%d", sha256.Sum256(b), len(b))
}
