package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/shuffle"
	"github.com/ireports/ireports/task"
)

// Env is what a task needs from the process that runs it.
type Env struct {
	// DataDir holds this process's map outputs, under DataDir/<job>/.
	DataDir string
	// Store reads the job's inputs and writes its lake and rejects, on local disk or S3.
	Store objstore.Store
	// Fetcher reads map output segments for reduce tasks.
	Fetcher shuffle.Fetcher
	// ShuffleAddr is the address other processes fetch this process's map outputs from:
	// host:port, or https://host:port when the worker serves TLS ("" when every task runs
	// in this process).
	ShuffleAddr string
	// Progress, if set, is advanced as tasks read input and emit records.
	Progress *Progress
	// MapSpillBytes bounds the memory a map task holds for its output
	// (shuffle.WriterConfig.SpillBytes; 0: shuffle.DefaultSpillBytes).
	MapSpillBytes int64
}

// Progress counts work done, for progress reports. Safe for concurrent use.
type Progress struct {
	Bytes   atomic.Int64 // input bytes consumed by map tasks
	Records atomic.Int64 // records read by map tasks
}

// ordOf packs a record's position in the plan into record.Request.Ord: later files, then
// later offsets, are later versions.
func ordOf(fileIndex int, offset int64) uint64 {
	return uint64(fileIndex)<<40 | uint64(offset)&(1<<40-1)
}

// RunMap executes map task t of the job described by spec.
func RunMap(ctx context.Context, spec *jobs.Spec, env Env, t task.Map) (task.MapResult, error) {
	res := task.MapResult{Index: t.Index, Attempt: t.Attempt}
	if t.Input < 0 || t.Input >= len(spec.Inputs) {
		return res, task.Fatal(fmt.Errorf("%s: no input %d in job %q", t, t.Input, spec.Name))
	}
	in := spec.Inputs[t.Input]
	rejDir, err := lake.AttemptDir(spec.Output.Rejects, t.Job, fmt.Sprintf("m-%d", t.Index), t.Attempt)
	if err != nil {
		return res, task.Fatal(fmt.Errorf("%s: rejects: %w", t, err))
	}
	rejPath, err := objstore.Join(rejDir, "rejects.jsonl")
	if err != nil {
		return res, task.Fatal(fmt.Errorf("%s: rejects: %w", t, err))
	}
	rej := &rejectWriter{store: env.Store, path: rejPath, file: t.File, byReason: map[string]int64{}}
	defer rej.abort()
	// Every attempt of a task writes the same path: the file is replaced atomically, and any
	// two successful attempts of one task with one starting state write the same rows.
	path, err := shuffle.MapOutputPath(env.DataDir, t.Job, t.Index)
	if err != nil {
		return res, task.Fatal(fmt.Errorf("%s: %w", t, err))
	}
	// The writer spills runs beside the map output, in the job's directory, which the worker
	// deletes with the job's outputs even if this process dies before its Reset.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return res, fmt.Errorf("%s: %w", t, err)
	}
	out, err := getWriter(shuffle.WriterConfig{Reducers: t.Reducers, SpillBytes: env.MapSpillBytes, SpillDir: filepath.Dir(path)})
	if err != nil {
		return res, task.Fatal(fmt.Errorf("%s: %w", t, err))
	}
	defer func() {
		out.Reset() // removes its runs now, not when the next task takes it
		writers.Put(out)
	}()

	var req record.Request
	emit := func(offset int64, raw []byte, err error) error {
		res.RecordsIn++
		if env.Progress != nil {
			env.Progress.Records.Add(1)
		}
		if err == nil {
			req.Ord = ordOf(t.FileIndex, offset)
			if err = out.Add(&req); err != nil {
				return err
			}
			res.RecordsOut++
			return nil
		}
		res.Rejected++
		return rej.write(ctx, offset, raw, err)
	}

	switch t.Format {
	case jobs.FormatSODAJSON:
		err = mapSODA(ctx, in.Schema, env, t, &req, emit, &res)
	default:
		err = mapCSV(ctx, in.Schema, env, t, &req, emit, &res)
	}
	if err != nil {
		return res, err
	}
	if err := rej.close(); err != nil {
		return res, fmt.Errorf("%s: rejects: %w", t, err)
	}
	if rej.n > 0 {
		res.Rejects = rej.path
		res.RejectsByReason = rej.byReason
	}
	if _, err := out.WriteFile(path); err != nil {
		return res, fmt.Errorf("%s: write map output: %w", t, err)
	}
	res.Output = shuffle.Location{Worker: env.ShuffleAddr, Job: t.Job, Map: t.Index, Path: path}
	return res, nil
}

// writers keeps map output writers between the map tasks of this process. A writer's
// buffers grow to a task's encoded size (at most its SpillBytes); grown afresh for every
// task, that growth was 40 % of Writer.Add's CPU in a profile of the whole job
// (BenchmarkWriterReuse compares a fresh writer with a reused one).
var writers sync.Pool

// getWriter returns an empty map output writer configured by cfg.
func getWriter(cfg shuffle.WriterConfig) (*shuffle.Writer, error) {
	if w, ok := writers.Get().(*shuffle.Writer); ok && w.Config() == cfg {
		w.Reset()
		return w, nil
	}
	return shuffle.NewWriterConfig(cfg)
}

type emitFunc func(offset int64, raw []byte, err error) error

func mapCSV(ctx context.Context, schema *jobs.Schema, env Env, t task.Map, req *record.Request, emit emitFunc, res *task.MapResult) error {
	schema, err := dialectSchema(ctx, env, schema, t)
	if err != nil {
		return err
	}
	norm, err := schema.Bind(t.Header)
	if err != nil {
		return task.Fatal(fmt.Errorf("%s: %w", t.File, err))
	}
	norm.Borrow() // req is encoded (out.Add) before the next record
	opt := csvsplit.Options{Start: t.Start, End: t.End, DataStart: t.DataStart, State: t.State, Fields: len(t.Header),
		Columns: norm.Columns()}
	var src io.ReadCloser
	if t.Gzip {
		src, err = mapinput.OpenGzipData(ctx, env.Store, t)
	} else {
		from := t.Start
		if t.Start > t.DataStart {
			from-- // the reader needs the byte before Start to know whether Start begins a record
		}
		src, err = mapinput.Open(ctx, env.Store, t, from)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	defer src.Close()
	rd, err := csvsplit.NewReader(src, opt)
	if err != nil {
		return task.Fatal(fmt.Errorf("%s: %w", t, err))
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		if rec.Err == nil {
			rec.Err = norm.Normalize(rec.Fields, req) // it sets every field of req
		}
		if err := emit(rec.Offset, rec.Raw, rec.Err); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	res.Assumed, res.Parity = rd.Assumed(), rd.Parity()
	res.Bytes = t.End - t.Start
	if env.Progress != nil {
		env.Progress.Bytes.Add(res.Bytes)
	}
	return nil
}

func mapSODA(ctx context.Context, schema *jobs.Schema, env Env, t task.Map, req *record.Request, emit emitFunc, res *task.MapResult) error {
	schema, err := dialectSchema(ctx, env, schema, t)
	if err != nil {
		return err
	}
	norm := schema.BindJSON()
	norm.Borrow() // req is encoded (out.Add) before the next object
	src, err := mapinput.Open(ctx, env.Store, t, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	defer src.Close()
	n := 0
	err = jobs.ScanSODAObjects(src, func(offset int64, obj *jobs.SODAObject) error {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return emit(offset, obj.Raw, norm.NormalizeObject(obj, req)) // it sets every field of req
	})
	if err != nil {
		// A malformed JSON file is a property of the input, not of this attempt: retrying
		// elsewhere cannot help.
		if ctx.Err() == nil {
			return task.Fatal(fmt.Errorf("%s: %w", t.File, err))
		}
		return err
	}
	res.Bytes = t.End // the whole file is the task
	if env.Progress != nil {
		env.Progress.Bytes.Add(res.Bytes)
	}
	return nil
}

// MaxRejectRaw bounds the raw record a reject line keeps, in bytes of the record. A 16 MiB
// record (the split reader's limit) or a 16 MiB SODA object would otherwise be copied whole
// into its reject line, and JSON-escaped: a NUL byte becomes the six bytes \u0000, so one
// NUL-heavy record made a line of about 100 MB. The file and offset locate the exact bytes;
// a line is at most about 6 × MaxRejectRaw (every byte escaped) plus a few hundred bytes.
const MaxRejectRaw = 64 << 10

// Reject is one line of a rejects file.
type Reject struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"` // byte offset of the record's first byte (decompressed, for gzip)
	Reason string `json:"reason"`
	Field  string `json:"field,omitempty"`
	Column string `json:"column,omitempty"`
	Value  string `json:"value,omitempty"` // the offending value, at most 256 bytes
	Error  string `json:"error"`
	// Raw is the record as read, without its terminator, cut to its first MaxRejectRaw
	// bytes (at a UTF-8 boundary); json.Marshal makes invalid UTF-8 into U+FFFD.
	Raw string `json:"raw"`
	// RawBytes is the record's full length in bytes; RawTruncated says that Raw holds less.
	RawBytes     int64 `json:"raw_bytes"`
	RawTruncated bool  `json:"raw_truncated,omitempty"`
}

// Reasons for rejects the split reader reports.
const (
	ReasonMalformed = "malformed_csv"
	ReasonTooLarge  = "record_too_large"
)

// reasonOf classifies a reject.
func reasonOf(err error) Reject {
	var re *jobs.RejectError
	switch {
	case errors.As(err, &re):
		return Reject{Reason: re.Reason, Field: re.Field, Column: re.Column, Value: re.Value}
	case errors.Is(err, csvsplit.ErrTooLarge):
		return Reject{Reason: ReasonTooLarge}
	default:
		return Reject{Reason: ReasonMalformed}
	}
}

// rejectWriter appends rejects to a JSON-lines object it creates on the first reject.
type rejectWriter struct {
	store      objstore.Store
	path, file string
	f          objstore.Writer
	w          *bufio.Writer
	enc        *json.Encoder // writes to w
	n          int64
	byReason   map[string]int64
}

// write appends the reject of the record at offset: raw is what the reader kept of it,
// already cut to the reader's record limit when cause is a too-large *csvsplit.ParseError,
// which then carries the record's full length.
func (w *rejectWriter) write(ctx context.Context, offset int64, raw []byte, cause error) error {
	r := reasonOf(cause)
	w.byReason[r.Reason]++
	w.n++
	if w.f == nil {
		f, err := w.store.Create(ctx, w.path)
		if err != nil {
			return err
		}
		w.f = f
		if bw, ok := rejectBufs.Get().(*bufio.Writer); ok {
			bw.Reset(f)
			w.w = bw
		} else {
			w.w = bufio.NewWriterSize(f, 256<<10)
		}
		w.enc = json.NewEncoder(w.w)
		w.enc.SetEscapeHTML(false)
	}
	r.File, r.Offset, r.Error = w.file, offset, cause.Error()
	kept := cutRaw(raw)
	r.Raw = string(kept)
	r.RawBytes = int64(len(raw))
	var pe *csvsplit.ParseError
	if errors.As(cause, &pe) {
		r.RawBytes = max(r.RawBytes, pe.Size)
	}
	r.RawTruncated = r.RawBytes > int64(len(kept))
	return w.enc.Encode(r) // one line: Encode ends it with '\n'
}

// cutRaw returns raw's first MaxRejectRaw bytes, backing off up to three bytes so as not to
// split a UTF-8 sequence (which json.Marshal would turn into U+FFFD).
func cutRaw(raw []byte) []byte {
	if len(raw) <= MaxRejectRaw {
		return raw
	}
	n := MaxRejectRaw
	for k := n; k > MaxRejectRaw-utf8.UTFMax && k > 0; k-- {
		if utf8.RuneStart(raw[k]) {
			n = k
			break
		}
	}
	return raw[:n]
}

// rejectBufs keeps the rejects' write buffers between map tasks: one of 256 KiB allocated
// for each task with a reject was as much as the rest of a small task's allocation.
var rejectBufs sync.Pool

// putBuf hands the buffer back to rejectBufs.
func (w *rejectWriter) putBuf() {
	w.w.Reset(nil) // drops unflushed bytes and the object
	rejectBufs.Put(w.w)
	w.w, w.enc = nil, nil
}

// close makes the rejects object visible.
func (w *rejectWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.w.Flush()
	if err != nil {
		w.f.Abort()
	} else {
		err = w.f.Close()
	}
	w.f = nil
	w.putBuf()
	return err
}

// abort discards a rejects object that close did not finish.
func (w *rejectWriter) abort() {
	if w.f != nil {
		w.f.Abort()
		w.f = nil
		w.putBuf()
	}
}
