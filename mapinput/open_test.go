package mapinput

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// csvFile writes a CSV file of n records and returns its path and bytes.
func csvFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,opened\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,2024-01-02 03:04:05\n", i)
	}
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, []byte(b.String())
}

// planned is the task a plan of the whole file as one split would give, with the file as
// the store lists it.
func planned(t *testing.T, store objstore.Store, path string, format jobs.Format) task.Map {
	t.Helper()
	fi, err := store.Stat(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	m := task.Map{Job: "j", File: path, Format: format, End: fi.Size, Reducers: 1,
		Seen: &task.FileVersion{Size: fi.Size, ModTime: fi.ModTime}}
	if format == jobs.FormatCSV {
		m.Header, m.DataStart, m.Start, m.State = []string{"id", "opened"}, int64(len("id,opened\n")), int64(len("id,opened\n")), csvsplit.Outside
	}
	if strings.HasSuffix(path, ".gz") {
		m.Gzip, m.End = true, csvsplit.ToEOF
	}
	return m
}

// autoSchema is a schema over "id,opened" whose created_at dialect is detected.
func autoSchema(t *testing.T) *jobs.Schema {
	t.Helper()
	spec, err := jobs.Parse([]byte(`
schema "t" {
  city     = "t"
  timezone = "UTC"
  field "request_id" { columns = ["id"] }
  field "created_at" { columns = ["opened"] }
}
job "j" {
  input "csv" {
    path   = "x.csv"
    schema = "t"
  }
  output { parquet = "out" }
}
`), filepath.Join(t.TempDir(), "j.job"))
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Inputs[0].Schema
	if !s.NeedsDetection() {
		t.Fatal("the schema detects no dialect")
	}
	return s
}

func newStore(t *testing.T) objstore.Store {
	t.Helper()
	s, err := objstore.New(objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readAll opens t's input as a map task does and reads it to its end.
func readAll(ctx context.Context, store objstore.Store, t task.Map) ([]byte, error) {
	var src io.ReadCloser
	var err error
	if t.Gzip {
		src, err = OpenGzipData(ctx, store, t)
	} else {
		src, err = Open(ctx, store, t, t.Start)
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return io.ReadAll(src)
}

// wantChanged checks that err says the input changed, fatally, with want in its message.
func wantChanged(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, ErrInputChanged) || !errors.Is(err, task.ErrFatal) {
		t.Fatalf("error %v; want a fatal ErrInputChanged", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q; want it to say %q", err, want)
	}
}

// TestOpenChecksTheFileThePlanSaw changes a file between its plan and its task's Open in
// each way a file changes: every Open fails, fatally, naming the file and what changed.
// Before the check, a task read whatever the file held then: a file truncated during a
// run made a job succeed with part of its records.
func TestOpenChecksTheFileThePlanSaw(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string, data []byte)
		want   string // in the error; "" for no error
	}{
		{"unchanged", func(*testing.T, string, []byte) {}, ""},
		{"truncated", func(t *testing.T, path string, data []byte) {
			if err := os.Truncate(path, 500); err != nil {
				t.Fatal(err)
			}
		}, "input changed since the plan: size %d → 500"},
		{"appended", func(t *testing.T, path string, data []byte) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("99,2024-01-02 03:04:05\n")
			f.Close()
		}, "input changed since the plan: size %d → %d"},
		{"rewritten, same size", func(t *testing.T, path string, data []byte) {
			if err := os.WriteFile(path, bytes.ReplaceAll(data, []byte("2024"), []byte("2025")), 0o644); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
		}, "input changed since the plan: modified"},
		{"deleted", func(t *testing.T, path string, data []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "input changed since the plan: the file is gone"},
	} {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%v", tc.name, gz), func(t *testing.T) {
				path, data := csvFile(t, 100)
				if gz {
					var b bytes.Buffer
					zw := gzip.NewWriter(&b)
					zw.Write(data)
					zw.Close()
					data = b.Bytes()
					path += ".gz"
					if err := os.WriteFile(path, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				m := planned(t, store, path, jobs.FormatCSV)
				tc.change(t, path, data)
				_, err := readAll(ctx, store, m)
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				want := tc.want
				if strings.Contains(want, "%d → %d") {
					fi, _ := os.Stat(path)
					want = fmt.Sprintf(want, len(data), fi.Size())
				} else if strings.Contains(want, "%d") {
					want = fmt.Sprintf(want, len(data))
				}
				wantChanged(t, err, path+": "+want)
				// Detection reads the file through the same check.
				m.Gzip = gz
				_, err = DetectDialects(ctx, store, autoSchema(t), m)
				wantChanged(t, err, path+": "+want)
			})
		}
	}
}

// TestReadEndingBeforeThePlanFails truncates a file while a task reads it, after the
// task's check: the read fails, fatally, where the file ends, rather than ending the split
// short as if it held no more records. A task without Seen (planned by an older release)
// fails the same way when the file ends before its split does.
func TestReadEndingBeforeThePlanFails(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	for _, seen := range []bool{true, false} {
		for _, format := range []jobs.Format{jobs.FormatCSV, jobs.FormatSODAJSON} {
			t.Run(fmt.Sprintf("seen=%v/%v", seen, format), func(t *testing.T) {
				path, _ := csvFile(t, 2000)
				m := planned(t, store, path, format)
				m.Start = 0
				if !seen {
					m.Seen = nil
				}
				src, err := Open(ctx, store, m, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				first := make([]byte, 100)
				if _, err := io.ReadFull(src, first); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, 5000); err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, src)
				wantChanged(t, err, fmt.Sprintf("%s: input changed since the plan: it ends at byte 5000, the plan read it to byte %d", path, m.End))
				if n != 4900 {
					t.Errorf("read %d bytes after the first 100; want the 4900 left", n)
				}
			})
		}
	}
	t.Run("gzip", func(t *testing.T) {
		path, data := csvFile(t, 150000) // past the 1 MiB the reader buffers at once
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.NoCompression) // big enough to cut mid-stream
		zw.Write(data)
		zw.Close()
		path += ".gz"
		os.WriteFile(path, b.Bytes(), 0o644)
		m := planned(t, store, path, jobs.FormatCSV)
		src, err := OpenGzipData(ctx, store, m)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := os.Truncate(path, int64(b.Len())/2); err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, src)
		wantChanged(t, err, fmt.Sprintf("the plan read it to byte %d", b.Len()))
	})
}

// TestReadStopsAtThePlannedSize appends to a file while a task reads it: the task reads
// the bytes the plan saw, and never takes the appended ones for a record (a last record
// without its newline would have run on into them).
func TestReadStopsAtThePlannedSize(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	path, data := csvFile(t, 10)
	data = bytes.TrimSuffix(data, []byte("\n"))
	os.WriteFile(path, data, 0o644)
	for _, format := range []jobs.Format{jobs.FormatCSV, jobs.FormatSODAJSON} {
		m := planned(t, store, path, format)
		src, err := Open(ctx, store, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("123,2024-01-02 03:04:05\n")
		f.Close()
		got, err := io.ReadAll(src)
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%v: read %q; want the planned %q", format, got[max(len(got)-30, 0):], data[len(data)-30:])
		}
		os.WriteFile(path, data, 0o644)
	}
}

func TestSameTime(t *testing.T) {
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		a, b time.Time
		want bool
	}{
		{base.Add(123 * time.Millisecond), base, true}, // an S3 listing against a HEAD
		{base, base.Add(123 * time.Millisecond), true},
		{base.Add(123 * time.Millisecond), base.Add(123 * time.Millisecond), true},
		{base.Add(123 * time.Millisecond), base.Add(124 * time.Millisecond), false},
		{base.Add(time.Second), base, false},
		{base.Add(1500 * time.Millisecond), base, false},
		{base.In(time.FixedZone("x", 3600)), base, true},
	} {
		if got := sameTime(tc.a, tc.b); got != tc.want {
			t.Errorf("sameTime(%v, %v) = %v; want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
