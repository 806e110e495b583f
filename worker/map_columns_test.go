package worker

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/record"
)

// TestNormalizerColumnsSuffice checks that a split reader told of the Normalizer's Columns
// (as the map task tells it) gives every record the request or the reject it gives when
// it cuts out every field: the real exports of every city with a CSV schema (joined
// columns in Kansas City's, projected x/y in St. Louis's) and the benchmark corpus when
// it exists.
func TestNormalizerColumnsSuffice(t *testing.T) {
	real := testenv.RealData(t)
	var paths []string
	for _, c := range []string{"la", "sf", "boston", "baltimore", "chicago", "kansas_city", "dc", "st_louis", "nyc"} {
		ps, _ := filepath.Glob(filepath.Join(real, c, "*.csv"))
		paths = append(paths, ps...)
	}
	if len(paths) == 0 {
		t.Skip("no real exports")
	}
	corpus, _ := filepath.Glob(filepath.Join(os.TempDir(), "ireports-bench-map-corpus-v1-*", "*", "*.csv"))
	if !testing.Short() {
		paths = append(paths, corpus...)
	}
	for _, p := range paths {
		city := filepath.Base(filepath.Dir(p))
		schema, ok := jobs.Builtin(city)
		if !ok {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		header, ds, err := csvsplit.ReadHeader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		all, cols := normalizeAll(t, schema, data, header, ds, false), normalizeAll(t, schema, data, header, ds, true)
		if len(all) != len(cols) {
			t.Fatalf("%s: %d records, %d with Columns", p, len(all), len(cols))
		}
		for i := range all {
			if all[i] != cols[i] {
				t.Fatalf("%s: record %d:\n all fields: %s\n   Columns: %s", p, i, all[i], cols[i])
			}
		}
	}
}

// normalizeAll normalizes every record of data and describes each result.
func normalizeAll(t *testing.T, schema *jobs.Schema, data []byte, header []string, ds int64, columns bool) []string {
	t.Helper()
	norm, err := schema.Bind(header)
	if err != nil {
		t.Logf("bind: %v", err) // a file of another layout: nothing to compare
		return nil
	}
	opt := csvsplit.Options{Start: ds, End: int64(len(data)), DataStart: ds, State: csvsplit.Outside, Fields: len(header)}
	if columns {
		opt.Columns = norm.Columns()
	}
	rd, err := csvsplit.NewReader(bytes.NewReader(data[ds:]), opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var r record.Request
		if rec.Err == nil {
			rec.Err = norm.Normalize(rec.Fields, &r)
		}
		if rec.Err != nil {
			out = append(out, fmt.Sprintf("@%d %v", rec.Offset, rec.Err))
			continue
		}
		out = append(out, fmt.Sprintf("@%d %#v", rec.Offset, r))
	}
}
