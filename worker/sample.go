package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/task"
)

// Sampled is one record of a Sample: normalized, or rejected with the reason a run would
// write to the rejects output.
type Sampled struct {
	Offset int64 // byte offset of the record in its file (of the decompressed stream for gzip)
	// Raw is the record as read; it is valid only during the callback.
	Raw []byte
	// Request is the normalized record when Reject is nil; valid only during the callback.
	Request *record.Request
	// Reject says why the record would be rejected (File, Offset, Error and Raw are left
	// empty: the caller has them), and Err is the error a run would write as its Error.
	Reject *Reject
	Err    error
}

// errSampled stops a Sample's read once it has its records.
var errSampled = errors.New("sample complete")

// Sample reads the first records of map task t and normalizes them exactly as RunMap does
// — the same split reader, schema binding, normalizer and reject classification — but
// writes nothing: fn sees each record, up to limit of them. It returns the number of
// records sampled. A dry run (`coordinator plan`) uses it on a job's first splits, so that
// what it shows is what a run would do with the same bytes.
func Sample(ctx context.Context, spec *jobs.Spec, store objstore.Store, t task.Map, limit int, fn func(Sampled)) (int, error) {
	if t.Input < 0 || t.Input >= len(spec.Inputs) {
		return 0, task.Fatal(fmt.Errorf("%s: no input %d in job %q", t, t.Input, spec.Name))
	}
	if limit <= 0 {
		return 0, nil
	}
	schema := spec.Inputs[t.Input].Schema
	var req record.Request
	n := 0
	emit := func(offset int64, raw []byte, err error) error {
		s := Sampled{Offset: offset, Raw: raw}
		if err == nil {
			s.Request = &req
		} else {
			r := reasonOf(err)
			s.Reject, s.Err = &r, err
		}
		fn(s)
		if n++; n == limit {
			return errSampled
		}
		return nil
	}
	env := Env{Store: store}
	var res task.MapResult
	var err error
	switch t.Format {
	case jobs.FormatSODAJSON:
		err = mapSODA(ctx, schema, env, t, &req, emit, &res)
	default:
		err = mapCSV(ctx, schema, env, t, &req, emit, &res)
	}
	if errors.Is(err, errSampled) {
		err = nil
	}
	return n, err
}
