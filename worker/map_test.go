package worker

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// mapJob is a job of one input with a four-column schema, for map tasks run by hand.
const mapJob = `
schema "tiny" {
  city         = "tiny"
  timezone     = "UTC"
  time_layouts = ["2006-01-02 15:04:05"]
  field "request_id"   { columns = ["id"] }
  field "created_at"   { columns = ["created"] }
  field "request_type" { columns = ["type"] }
  field "status" {
    columns = ["status"]
    closed  = ["closed"]
    open    = ["open"]
  }
}
job "hostile" {
  input "tiny" {
    path   = "in"
    schema = "tiny"
  }
  output {
    parquet = "out"
    rejects = "rejects"
  }
}
`

var mapHeader = []string{"id", "created", "status", "type"}

const goodRow = "9,2024-01-05 10:00:00,open,pothole\n"

// writeGzipBomb writes a gzip file that decompresses to head, then n zero bytes (n a
// multiple of 16 MiB), then tail, without ever holding the zeros: one member compresses
// 16 MiB of zeros and is written n/16 MiB times (gzip readers read concatenated members as
// one stream), so the file is about n/1000 bytes.
func writeGzipBomb(t testing.TB, path, head string, n int64, tail string) {
	t.Helper()
	const block = 16 << 20
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.Write(member([]byte(head)))
	zeros := member(make([]byte, block))
	for range n / block {
		w.Write(zeros)
	}
	w.Write(member([]byte(tail)))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// readRejectLines reads a rejects file, checking that every line is one JSON object.
func readRejectLines(t *testing.T, path string) []Reject {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Reject
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var r Reject
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		out = append(out, r)
	}
	return out
}

// TestMapHostileRecords runs map tasks over records built to hurt: a gzip bomb whose one
// record is gigabytes of zeros without a newline, a 16 MiB CSV record and a 16 MiB SODA
// object full of NUL bytes, and NUL bytes in an id and a type. Each must come out as one
// counted reject whose line keeps at most MaxRejectRaw bytes of the record and says how
// long it was, and the task must not allocate in proportion to the record (json.Marshal
// used to escape a 16 MiB raw record of NULs into a 96 MiB line).
func TestMapHostileRecords(t *testing.T) {
	bomb := int64(1 << 30)
	if testing.Short() {
		bomb = 32 << 20 // still twice the split reader's record limit
	}
	const big = csvsplit.DefaultMaxRecordBytes - 64 // a record the reader keeps whole
	header := strings.Join(mapHeader, ",") + "\n"
	nulCSV := "1,2024-01-05 10:00:00,open," + strings.Repeat("\x00", big-len("1,2024-01-05 10:00:00,open,"))
	nulSODA := `{"id":"1","created":"2024-01-05 10:00:00","type":"` +
		strings.Repeat(`\u0000`, (jobs.MaxSODAObject-200)/6) + `"}`

	cases := []struct {
		name   string
		write  func(t *testing.T, path string) // writes the input file
		file   string
		format jobs.Format
		gzip   bool

		in, rejected int64
		reason       string
		size         int64 // the rejected record's full length
		offset       int64 // its offset
	}{
		{
			name: "gzip bomb", file: "in.csv.gz", gzip: true,
			write: func(t *testing.T, path string) {
				writeGzipBomb(t, path, header, bomb, "\n"+goodRow)
			},
			in: 2, rejected: 1, reason: ReasonTooLarge, size: bomb, offset: int64(len(header)),
		},
		{
			name: "16 MiB of NUL in a CSV field", file: "in.csv",
			write: func(t *testing.T, path string) {
				os.WriteFile(path, []byte(header+nulCSV+"\n"+goodRow), 0o644)
			},
			in: 2, rejected: 1, reason: jobs.ReasonNULByte, size: int64(len(nulCSV)), offset: int64(len(header)),
		},
		{
			name: "16 MiB SODA object of escaped NULs", file: "in.json", format: jobs.FormatSODAJSON,
			write: func(t *testing.T, path string) {
				os.WriteFile(path, []byte("["+nulSODA+",\n"+`{"id":"9","created":"2024-01-05 10:00:00"}]`), 0o644)
			},
			in: 2, rejected: 1, reason: jobs.ReasonNULByte, size: int64(len(nulSODA)), offset: 1,
		},
		{
			name: "NUL in an id and a type", file: "in.csv",
			write: func(t *testing.T, path string) {
				os.WriteFile(path, []byte(header+"1\x00,2024-01-05 10:00:00,open,pothole\n"+
					"2,2024-01-05 10:00:00,open,pot\x00hole\n"+goodRow), 0o644)
			},
			in: 3, rejected: 2, reason: jobs.ReasonNULByte, size: int64(len("1\x00,2024-01-05 10:00:00,open,pothole")), offset: int64(len(header)),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			spec, err := jobs.Parse([]byte(mapJob), filepath.Join(dir, "hostile.job"))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.file)
			tc.write(t, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			store, err := objstore.New(objstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := task.Map{Job: "job-1", Attempt: 1, File: path, Format: tc.format, Reducers: 1, State: csvsplit.Outside}
			switch {
			case tc.format == jobs.FormatSODAJSON:
				m.End = fi.Size()
			case tc.gzip:
				m.Gzip, m.Header, m.DataStart, m.Start, m.End = true, mapHeader, int64(len(header)), int64(len(header)), csvsplit.ToEOF
			default:
				m.Header, m.DataStart, m.Start, m.End = mapHeader, int64(len(header)), int64(len(header)), fi.Size()
			}

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := RunMap(ctx, spec, Env{DataDir: filepath.Join(dir, "data"), Store: store}, m)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if res.RecordsIn != tc.in || res.Rejected != tc.rejected || res.RecordsOut != tc.in-tc.rejected ||
				res.RejectsByReason[tc.reason] != tc.rejected {
				t.Fatalf("records in %d out %d rejected %d %v; want %d in, %d rejected as %s",
					res.RecordsIn, res.RecordsOut, res.Rejected, res.RejectsByReason, tc.in, tc.rejected, tc.reason)
			}
			// Bytes allocated, not resident memory: deterministic, and an upper bound of the
			// peak. The reader (or the SODA scanner) holds at most one record of 16 MiB and
			// grows its buffer by doubling; everything else is small. Copying and escaping a
			// whole 16 MiB raw record into its reject line cost 200 to 800 MiB.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("the task allocated %d MiB", alloc>>20)
			if alloc > 4*csvsplit.DefaultMaxRecordBytes+16<<20 {
				t.Errorf("the task allocated %d MiB, more than four times the record limit", alloc>>20)
			}

			fi, err = os.Stat(res.Rejects)
			if err != nil {
				t.Fatal(err)
			}
			// Every byte of raw may be escaped to six (\u0000), and the rest of a line is small.
			if limit := tc.rejected * (6*MaxRejectRaw + 4<<10); fi.Size() > limit {
				t.Errorf("rejects file is %d bytes, want at most %d", fi.Size(), limit)
			}
			rejects := readRejectLines(t, res.Rejects)
			if int64(len(rejects)) != tc.rejected {
				t.Fatalf("%d reject lines, want %d", len(rejects), tc.rejected)
			}
			r := rejects[0]
			if r.File != path || r.Offset != tc.offset || r.Reason != tc.reason || r.RawBytes != tc.size {
				t.Errorf("reject %s at %d (%s), %d bytes; want %s at %d (%s), %d bytes",
					r.File, r.Offset, r.Reason, r.RawBytes, path, tc.offset, tc.reason, tc.size)
			}
			if kept := int64(len(r.Raw)); r.RawTruncated != (tc.size > MaxRejectRaw) || kept > MaxRejectRaw || kept != min(tc.size, MaxRejectRaw) {
				t.Errorf("reject keeps %d raw bytes (truncated %v) of %d; want at most %d, and truncated when cut",
					kept, r.RawTruncated, tc.size, MaxRejectRaw)
			}
			if tc.reason == ReasonTooLarge && !strings.Contains(r.Error, "too large") {
				t.Errorf("reject error %q does not say the record is too large", r.Error)
			}
		})
	}
}

// TestCutRaw: a cut never splits a UTF-8 sequence and never keeps more than MaxRejectRaw.
func TestCutRaw(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		want int
	}{
		{"short", []byte("abc"), 3},
		{"ascii", bytes.Repeat([]byte("a"), MaxRejectRaw+10), MaxRejectRaw},
		{"euro straddles the cut", append(bytes.Repeat([]byte("a"), MaxRejectRaw-1), "€€"...), MaxRejectRaw - 1},
		{"euro ends at the cut", append(bytes.Repeat([]byte("a"), MaxRejectRaw-3), "€€"...), MaxRejectRaw},
		{"invalid UTF-8", bytes.Repeat([]byte{0x80}, MaxRejectRaw+10), MaxRejectRaw},
	} {
		if got := len(cutRaw(tc.raw)); got != tc.want {
			t.Errorf("%s: kept %d bytes, want %d", tc.name, got, tc.want)
		}
	}
}
