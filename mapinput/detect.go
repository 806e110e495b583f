package mapinput

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/task"
)

// errDetected stops a detection read once the detector has its values.
var errDetected = errors.New("detection sample complete")

// DetectDialects detects the dialects of the "auto" time fields of the input schema of map
// task t, from the start of t's file: its first jobs.DetectValues non-null values per
// field within jobs.DetectBytes of its first data byte. Every task of a file has the same
// File, Header, DataStart, Gzip and Format, and the answer depends on nothing else, so any
// task of the file gives the same answer: the planner detects once per file and puts the
// layouts in every task (task.Map.TimeLayouts); a worker given a task without them detects
// the same ones. It returns nil when the schema needs no detection. An error wrapping
// jobs.ErrDialect is the file's, and fatal: no retry changes its first values.
func DetectDialects(ctx context.Context, store objstore.Store, schema *jobs.Schema, t task.Map) ([]jobs.TimeDialect, error) {
	if !schema.NeedsDetection() {
		return nil, nil
	}
	var det *jobs.Detector
	var err error
	if t.Format == jobs.FormatSODAJSON {
		det = schema.NewJSONDetector()
		err = detectSODA(ctx, store, t, det)
	} else {
		det = schema.NewDetector(t.Header)
		if det.Wants() {
			err = detectCSV(ctx, store, t, det)
		}
	}
	switch {
	case errors.Is(err, jobs.ErrMalformedJSON):
		return nil, task.Fatal(fmt.Errorf("%s: detecting time dialects: %w", t.File, err))
	case err != nil && !errors.Is(err, errDetected):
		return nil, fmt.Errorf("%s: detecting time dialects: %w", t.File, err)
	}
	ds, err := det.Detect()
	if err != nil {
		return nil, task.Fatal(fmt.Errorf("%s: %w", t.File, err))
	}
	return ds, nil
}

func detectCSV(ctx context.Context, store objstore.Store, t task.Map, det *jobs.Detector) error {
	t.Start, t.End, t.State = t.DataStart, t.DataStart+jobs.DetectBytes, csvsplit.Outside
	var src io.ReadCloser
	var err error
	if t.Gzip {
		src, err = OpenGzipData(ctx, store, t)
	} else {
		src, err = open(ctx, store, t, t.Start, false) // the sample's range may run past the file
	}
	if err != nil {
		return err
	}
	defer src.Close()
	rd, err := csvsplit.NewReader(src, csvsplit.Options{Start: t.Start, End: t.End, DataStart: t.DataStart, State: t.State, Fields: len(t.Header)})
	if err != nil {
		return task.Fatal(err)
	}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.Err == nil && !det.Add(rec.Fields) {
			return errDetected
		}
	}
}

func detectSODA(ctx context.Context, store objstore.Store, t task.Map, det *jobs.Detector) error {
	src, err := Open(ctx, store, t, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	return jobs.ScanSODA(src, func(offset int64, raw []byte) error {
		if !det.AddJSON(raw) || offset >= jobs.DetectBytes {
			return errDetected
		}
		return nil
	})
}
