package coordinatorcli

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ireports/ireports/csvsplit"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
)

// DefaultInferRecords is how many records `schema infer` samples by default.
const DefaultInferRecords = 1000

// cmdSchemaInfer is `coordinator schema infer FILE`: it samples a file and prints a schema
// block for it.
func cmdSchemaInfer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schema infer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	city := fs.String("city", "", "the city: the lake's city= value (default: the file's directory name)")
	name := fs.String("name", "", "the schema's name (default: the city)")
	tz := fs.String("timezone", "", "the city's IANA time zone, such as America/Chicago (default: UTC, with a comment asking for it)")
	format := fs.String("format", "", "csv or soda-json (default: soda-json for .json files, else csv)")
	records := fs.Int("records", DefaultInferRecords, "records to sample from the start of the file")
	dateOrder := fs.String("date-order", "", "mdy or dmy: how to read dates whose days are all 12 or less (default mdy)")
	endpoint := fs.String("endpoint", "", "S3-compatible server for s3:// files, as a job's endpoint (default: AWS)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: coordinator schema infer FILE [--city NAME] [--timezone ZONE] [--name NAME] [--format csv|soda-json] [--records N]")
		fmt.Fprintln(stderr, "Reads the header and the first records of FILE (a local path or s3://bucket/key; CSV, optionally gzip,")
		fmt.Fprintln(stderr, "or SODA JSON) and prints a schema block for it, commented: which column each normalized field takes")
		fmt.Fprintln(stderr, "and why, with a confidence and the runner-up, the nulls and time dialects seen. Paste it into a job")
		fmt.Fprintln(stderr, "file, check it, and run.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return errors.Join(errReported, err)
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "want one file, got %d arguments", len(pos))
	}
	if *records < 1 {
		return argError(fmt.Sprintf("--records must be 1 or more, not %d", *records))
	}
	file := pos[0]
	f := jobs.FormatCSV
	switch {
	case *format != "":
		if f, err = jobs.ParseFormat(*format); err != nil {
			return asUsage(fmt.Errorf("--format: %w", err))
		}
	case strings.HasSuffix(strings.ToLower(strings.TrimSuffix(file, ".gz")), ".json"):
		f = jobs.FormatSODAJSON
	}
	opt := jobs.InferOptions{Name: *name, City: *city, Timezone: *tz, Format: f, DateOrder: *dateOrder}
	store, err := objstore.New(objstore.Options{Endpoint: *endpoint})
	if err != nil {
		return err
	}
	inf, err := inferFile(ctx, store, file, opt, *records)
	if err != nil {
		return err
	}
	_, err = stdout.Write(inf.HCL())
	return err
}

// inferFile samples the first records of file and infers its schema: what `schema infer`
// prints. opt.City defaults to the file's directory name, opt.Source to file.
func inferFile(ctx context.Context, store objstore.Store, file string, opt jobs.InferOptions, records int) (*jobs.Inferred, error) {
	if opt.City == "" {
		opt.City = cityFromPath(file)
	}
	if opt.Source == "" {
		opt.Source = file
	}
	header, rows, err := sampleFile(ctx, store, file, opt.Format, records)
	if err != nil {
		return nil, err
	}
	inf, err := jobs.InferSchema(header, rows, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return inf, nil
}

// cityFromPath names a city after the directory of its file ("data/la/x.csv" → "la"), if
// that name is a valid city, else "city".
func cityFromPath(file string) string {
	dir := path.Base(objstore.Dir(file))
	var b strings.Builder
	for _, r := range strings.ToLower(dir) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '.':
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || dir == "." || dir == "/" {
		return "city"
	}
	return b.String()
}

// sampleFile reads a file's header and its first n records as strings: a CSV file through
// the split reader (gzip when its name ends in .gz), a SODA JSON page through the SODA
// scanner, whose objects' keys make the header. Malformed CSV records are skipped.
func sampleFile(ctx context.Context, store objstore.Store, file string, f jobs.Format, n int) ([]string, [][]string, error) {
	open := func() (io.ReadCloser, error) {
		rc, err := store.OpenRange(ctx, file, 0, -1)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(file, ".gz") {
			return rc, nil
		}
		zr, err := gzip.NewReader(bufio.NewReaderSize(rc, 1<<20))
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return readCloser{zr, rc.Close}, nil
	}
	src, err := open()
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	if f == jobs.FormatSODAJSON {
		var objs [][]byte
		err := jobs.ScanSODA(src, func(_ int64, raw []byte) error {
			objs = append(objs, append([]byte(nil), raw...))
			if len(objs) == n {
				return io.EOF
			}
			return nil
		})
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		header, rows, err := jobs.SODAToRows(objs)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		return header, rows, nil
	}
	header, dataStart, err := csvsplit.ReadHeader(bufio.NewReaderSize(src, 64<<10))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", file, err)
	}
	// ReadHeader reads ahead: read the records from a second stream, from their first byte.
	data, err := open()
	if err != nil {
		return nil, nil, err
	}
	defer data.Close()
	if _, err := io.CopyN(io.Discard, data, dataStart); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	rd, err := csvsplit.NewReader(data, csvsplit.Options{Start: dataStart, End: csvsplit.ToEOF, DataStart: dataStart, State: csvsplit.Outside, Fields: len(header)})
	if err != nil {
		return nil, nil, err
	}
	var rows [][]string
	for len(rows) < n {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
		if rec.Err != nil || len(rec.Fields) != len(header) {
			continue
		}
		row := make([]string, len(rec.Fields))
		for i, v := range rec.Fields {
			row[i] = string(v)
		}
		rows = append(rows, row)
	}
	return header, rows, nil
}

// readCloser closes a decompressor's underlying stream.
type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
