package csvsplit

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
)

// got is a record copied out of a Reader, comparable across reads.
type got struct {
	Off    int64
	Fields []string // nil for a malformed record
	Raw    string
	Err    string // the sentinel's name, "" for a well-formed record
}

func (g got) String() string {
	if g.Err != "" {
		return fmt.Sprintf("@%d %s %q", g.Off, g.Err, g.Raw)
	}
	return fmt.Sprintf("@%d %q", g.Off, g.Fields)
}

// errName names the sentinel a malformed record's error matches.
func errName(err error) string {
	if err == nil {
		return ""
	}
	if !errors.Is(err, ErrMalformed) {
		return "not ErrMalformed: " + err.Error()
	}
	for _, s := range []struct {
		err  error
		name string
	}{{ErrBareQuote, "bare"}, {ErrQuote, "quote"}, {ErrUnterminated, "unterminated"}, {ErrTooLarge, "large"}} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "unknown: " + err.Error()
}

// wrapFunc wraps a split's source, e.g. to cut it into short reads.
type wrapFunc func(io.Reader) io.Reader

// chunkReader returns reads of 1 to max bytes, chosen by rng, to push every buffer
// boundary of the Reader through every position of the input.
type chunkReader struct {
	r   io.Reader
	rng *rand.Rand
	max int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if n := 1 + c.rng.IntN(c.max); len(p) > n {
		p = p[:n]
	}
	return c.r.Read(p)
}

func chunked(seed uint64, max int) wrapFunc {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(r io.Reader) io.Reader { return &chunkReader{r: r, rng: rng, max: max} }
}

// readSplit reads one split of data with opt and returns its records, the assumed
// state and the parity. It checks that every record starts inside the split and that
// the parity is that of the split's quotes.
func readSplit(data []byte, opt Options, wrap wrapFunc) ([]got, State, int, error) {
	return readSplitMode(data, opt, wrap, scanAdaptive)
}

// readSplitMode is readSplit with the given scan mode.
func readSplitMode(data []byte, opt Options, wrap wrapFunc, mode scanMode) ([]got, State, int, error) {
	from := opt.Start
	if opt.Start > opt.DataStart {
		from--
	}
	var src io.Reader = bytes.NewReader(data[min(from, int64(len(data))):])
	if wrap != nil {
		src = wrap(src)
	}
	rd, err := NewReader(src, opt)
	if err != nil {
		return nil, 0, 0, err
	}
	rd.mode = mode
	var recs []got
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, 0, err
		}
		// A record lies in the split of its first byte; so do those read again from a
		// malformed span of lines (Reader.recoverLines), which lie in the span.
		first := rec.Offset
		if rec.span > 0 {
			first = rec.span - 1
		}
		if first < opt.Start || first >= opt.End || rec.Offset < first {
			return nil, 0, 0, fmt.Errorf("split [%d, %d): record at %d outside it", opt.Start, opt.End, rec.Offset)
		}
		if (rec.Err == nil) == (rec.Fields == nil) {
			return nil, 0, 0, fmt.Errorf("record at %d: Err %v with Fields %q", rec.Offset, rec.Err, rec.Fields)
		}
		g := got{Off: rec.Offset, Raw: string(rec.Raw), Err: errName(rec.Err)}
		if rec.Err == nil {
			g.Fields = make([]string, len(rec.Fields))
			for i, f := range rec.Fields {
				g.Fields[i] = string(f)
			}
			if opt.Columns != nil {
				g = maskColumns(g, opt.Columns)
			}
		}
		recs = append(recs, g)
	}
	if _, err := rd.Next(); err != io.EOF {
		return nil, 0, 0, fmt.Errorf("Next after io.EOF: %v", err)
	}
	lo, hi := min(opt.Start, int64(len(data))), min(opt.End, int64(len(data)))
	if want := bytes.Count(data[lo:hi], quote) % 2; rd.Parity() != want {
		return nil, 0, 0, fmt.Errorf("split [%d, %d): parity %d, want %d", opt.Start, opt.End, rd.Parity(), want)
	}
	return recs, rd.Assumed(), rd.Parity(), nil
}

// readSplits reads data as the splits that cuts delimit (cuts are clipped to the
// data and sorted), speculating at every start, then re-reads the splits Chain
// lists, as the coordinator does. It returns all records in order and the reruns.
func readSplits(data []byte, dataStart int64, cuts []int64, tmpl Options, wrap wrapFunc) ([]got, []int, error) {
	bounds := []int64{dataStart}
	for _, c := range cuts {
		if c > dataStart && c < int64(len(data)) {
			bounds = append(bounds, c)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(append(bounds, int64(len(data))))
	if len(bounds) == 1 { // no data at all: one empty split
		bounds = append(bounds, dataStart)
	}
	n := len(bounds) - 1
	recs := make([][]got, n)
	assumed := make([]State, n)
	parity := make([]int, n)
	opt := tmpl
	opt.DataStart = dataStart
	for i := range n {
		opt.Start, opt.End, opt.State = bounds[i], bounds[i+1], Unknown
		var err error
		if recs[i], assumed[i], parity[i], err = readSplit(data, opt, wrap); err != nil {
			return nil, nil, err
		}
	}
	truth, rerun := Chain(assumed, parity)
	for _, i := range rerun {
		opt.Start, opt.End, opt.State = bounds[i], bounds[i+1], truth[i]
		var err error
		var a State
		var p int
		if recs[i], a, p, err = readSplit(data, opt, wrap); err != nil {
			return nil, nil, err
		}
		if a != truth[i] || p != parity[i] {
			return nil, nil, fmt.Errorf("rerun of split %d: assumed %v, parity %d; want %v, %d", i, a, p, truth[i], parity[i])
		}
	}
	var all []got
	for _, r := range recs {
		all = append(all, r...)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Off <= all[i-1].Off {
			return nil, nil, fmt.Errorf("record offsets not increasing: %d then %d", all[i-1].Off, all[i].Off)
		}
	}
	return all, rerun, nil
}

// readWhole reads data from dataStart to its end as one split.
func readWhole(data []byte, dataStart int64, tmpl Options, wrap wrapFunc) ([]got, error) {
	opt := tmpl
	opt.DataStart, opt.Start, opt.End, opt.State = dataStart, dataStart, int64(len(data)), Outside
	recs, _, _, err := readSplit(data, opt, wrap)
	return recs, err
}

// readWholeMode is readWhole with the given scan mode.
func readWholeMode(data []byte, dataStart int64, tmpl Options, wrap wrapFunc, mode scanMode) ([]got, error) {
	opt := tmpl
	opt.DataStart, opt.Start, opt.End, opt.State = dataStart, dataStart, int64(len(data)), Outside
	recs, _, _, err := readSplitMode(data, opt, wrap, mode)
	return recs, err
}

// csvRecords returns encoding/csv's records of data, with default settings.
func csvRecords(data []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

// fieldsOf returns the fields of recs, failing on a malformed one.
func fieldsOf(t testing.TB, recs []got) [][]string {
	t.Helper()
	out := make([][]string, 0, len(recs))
	for _, r := range recs {
		if r.Err != "" {
			t.Fatalf("malformed record %v", r)
		}
		out = append(out, r.Fields)
	}
	return out
}

// diffRecords describes the first difference between two record lists, or "".
func diffRecords[T any](got, want []T) string {
	for i := range min(len(got), len(want)) {
		if g, w := fmt.Sprint(got[i]), fmt.Sprint(want[i]); g != w {
			return fmt.Sprintf("record %d:\n got %s\nwant %s", i, g, w)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d records, want %d", len(got), len(want))
	}
	return ""
}

// csvFiles returns the real CSV fixtures, named by their path under the data dir.
func csvFiles(t testing.TB) map[string][]byte {
	t.Helper()
	dir := testenv.RealData(t)
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*.csv"))
	if err != nil || len(paths) == 0 {
		t.Skipf("no CSV fixtures under %s (%v)", dir, err)
	}
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(dir, p)
		files[strings.ReplaceAll(name, string(filepath.Separator), "/")] = b
	}
	return files
}

// maskColumns replaces the fields of g that cols does not list, which a Reader with
// Options.Columns need not cut out, by a marker.
func maskColumns(g got, cols []int) got {
	f := make([]string, len(g.Fields))
	for i := range f {
		f[i] = "\x00unread"
	}
	for _, c := range cols {
		if c < len(f) {
			f[c] = g.Fields[c]
		}
	}
	g.Fields = f
	return g
}
