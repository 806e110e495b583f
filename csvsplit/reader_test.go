package csvsplit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/iotest"
)

// TestFiles is the exactness test on real exports: for several split sizes, every
// split read with speculation, then Chain and the reruns, gives exactly
// encoding/csv's records of the file.
func TestFiles(t *testing.T) {
	files := csvFiles(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	sizes := []struct {
		name string
		size int64
	}{{"1KiB", 1 << 10}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"whole", 0}}
	for _, name := range names {
		data := files[name]
		want, err := csvRecords(data)
		if err != nil {
			t.Fatalf("%s: encoding/csv: %v", name, err)
		}
		cols, dataStart, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantCols := slices.Clone(want[0])
		wantCols[0] = strings.TrimPrefix(wantCols[0], "\ufeff")
		if d := diffRecords([][]string{cols}, [][]string{wantCols}); d != "" {
			t.Fatalf("%s: header %s", name, d)
		}
		for _, sz := range sizes {
			t.Run(name+"/"+sz.name, func(t *testing.T) {
				var cuts []int64
				if sz.size > 0 {
					cuts = everyCut(dataStart, sz.size, int64(len(data)))
				}
				recs, rerun, err := readSplits(data, dataStart, cuts, Options{Fields: len(cols)}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffRecords(fieldsOf(t, recs), want[1:]); d != "" {
					t.Fatal(d)
				}
				t.Logf("%d splits, %d re-run", len(cuts)+1, len(rerun))
			})
		}
	}
}

// everyCut returns the cuts of [dataStart, n) into splits of size bytes.
func everyCut(dataStart, size, n int64) []int64 {
	var cuts []int64
	for c := dataStart + size; c < n; c += size {
		cuts = append(cuts, c)
	}
	return cuts
}

// ok and bad build expected records.
func ok(off int64, fields ...string) got {
	if fields == nil {
		fields = []string{}
	}
	return got{Off: off, Fields: fields}
}

func bad(off int64, err, raw string) got { return got{Off: off, Err: err, Raw: raw} }

// TestCases checks small inputs against their expected records, read whole, cut at
// every single position, cut into 1-byte splits and fed one byte at a time. Where
// encoding/csv accepts the input, its records are checked too.
func TestCases(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		max    int // MaxRecordBytes; 0 for the default
		header []string
		want   []got // without Raw for well-formed records
	}{
		{
			name:   "quoted newlines",
			data:   "h1,h2\n\"a\nb\",c\n\"x\",\"y\n\nz\"\n",
			header: []string{"h1", "h2"},
			want:   []got{ok(6, "a\nb", "c"), ok(14, "x", "y\n\nz")},
		},
		{
			name:   "CRLF records with bare LF inside fields",
			data:   "h1,h2\r\n\"a\nb\",c\r\nd,\"e\r\nf\"\r\n",
			header: []string{"h1", "h2"},
			want:   []got{ok(7, "a\nb", "c"), ok(16, "d", "e\nf")},
		},
		{
			name:   "lone CR stays in fields",
			data:   "h\r\na\rb,\"c\rd\"\r\n\r\r\n",
			header: []string{"h"},
			want:   []got{ok(3, "a\rb", "c\rd"), ok(14, "\r")},
		},
		{
			name:   "UTF-8 BOM",
			data:   "\xef\xbb\xbfid,name\n1,x\n",
			header: []string{"id", "name"},
			want:   []got{ok(11, "1", "x")},
		},
		{
			name:   "UTF-8 BOM before a quoted name",
			data:   "\xef\xbb\xbf\"id\",name\n1,x\n",
			header: []string{"id", "name"},
			want:   []got{ok(13, "1", "x")},
		},
		{
			name:   "last record without newline",
			data:   "h,i\na,b\nc,\"d\ne\"",
			header: []string{"h", "i"},
			want:   []got{ok(4, "a", "b"), ok(8, "c", "d\ne")},
		},
		{
			name:   "CR before EOF is dropped",
			data:   "h\na\r",
			header: []string{"h"},
			want:   []got{ok(2, "a")},
		},
		{
			name:   "header only",
			data:   "a,b\n",
			header: []string{"a", "b"},
		},
		{
			name:   "header only without newline",
			data:   "a,\"b\nc\"",
			header: []string{"a", "b\nc"},
		},
		{
			name:   "empty lines",
			data:   "\n\r\nh\n\na\n\r\n\n\"\"\nb\n\n\r",
			header: []string{"h"},
			want:   []got{ok(6, "a"), ok(11, ""), ok(14, "b")},
		},
		{
			name:   "escaped quotes",
			data:   "h,i,j\n\"a\"\"b\",\"\"\"\"\"\",\"\"\n",
			header: []string{"h", "i", "j"},
			want:   []got{ok(6, `a"b`, `""`, "")},
		},
		{
			name:   "empty fields",
			data:   "h,i,j\n,,\n\"\",,\"\"\n",
			header: []string{"h", "i", "j"},
			want:   []got{ok(6, "", "", ""), ok(9, "", "", "")},
		},
		{
			name:   "bare quote",
			data:   "h,i\na\"b\"c,d\ne,f\n",
			header: []string{"h", "i"},
			want:   []got{bad(4, "bare", "a\"b\"c,d"), ok(12, "e", "f")},
		},
		{
			name:   "bare quote in a later field",
			data:   "h,i\na, \"b\"\r\ne,f\n",
			header: []string{"h", "i"},
			want:   []got{bad(4, "bare", "a, \"b\""), ok(12, "e", "f")},
		},
		{
			name:   "junk after closing quote",
			data:   "h,i\n\"a\"b,c\nd,e\n",
			header: []string{"h", "i"},
			want:   []got{bad(4, "quote", "\"a\"b,c"), ok(11, "d", "e")},
		},
		{
			name:   "CR after closing quote inside the record",
			data:   "h\n\"a\"\r\r\nb\n",
			header: []string{"h"},
			want:   []got{bad(2, "quote", "\"a\"\r"), ok(8, "b")},
		},
		{
			name:   "unterminated quote at EOF",
			data:   "h,i\na,b\n\"c,d\ne,f\n",
			header: []string{"h", "i"},
			want:   []got{ok(4, "a", "b"), bad(8, "unterminated", "\"c,d\ne,f\n")},
		},
		{
			// The bare quote opens a quoted region to EOF by the parity rule: the span is read
			// again line by line, as encoding/csv reads it.
			name:   "odd quotes run to EOF",
			data:   "h\na\"b\nc\n",
			header: []string{"h"},
			want:   []got{bad(2, "bare", "a\"b"), ok(6, "c")},
		},
		{
			// Two stray quotes in unquoted fields (`12" main`) bound a quoted region by the
			// parity rule; the records between them are records, not part of one reject.
			name:   "stray quotes do not swallow the records between them",
			data:   "h,i\na,12\" main\nb,c\nb2,c2\nd,6\" drain\ne,f\n",
			header: []string{"h", "i"},
			want: []got{bad(4, "bare", "a,12\" main"), ok(15, "b", "c"), ok(19, "b2", "c2"),
				bad(25, "bare", "d,6\" drain"), ok(36, "e", "f")},
		},
		{
			// A quoted field with a newline between stray quotes straddles two parity
			// records, and each is read again alone: the field's two lines are rejects
			// (encoding/csv, reading from the start, would read it as one record).
			name:   "a quoted newline between stray quotes is rejected",
			data:   "h,i\na,12\" main\nb,c\n\"q\nr\",s\nd,6\" drain\ne,f\n",
			header: []string{"h", "i"},
			want: []got{bad(4, "bare", "a,12\" main"), ok(15, "b", "c"), bad(19, "quote", "\"q"),
				bad(22, "bare", "r\",s"), bad(27, "bare", "d,6\" drain"), ok(38, "e", "f")},
		},
		{
			name:   "record too large",
			data:   "h\nshort\n0123456789abcdef\n\"quoted\nand long\"\nok\r\n",
			max:    8,
			header: []string{"h"},
			want: []got{ok(2, "short"), bad(8, "large", "01234567"),
				bad(25, "large", "\"quoted\n"), ok(43, "ok")},
		},
		{
			name:   "record exactly at the limit with CRLF",
			data:   "h\n12345678\r\n123456789\r\n",
			max:    8,
			header: []string{"h"},
			want:   []got{ok(2, "12345678"), bad(12, "large", "12345678")},
		},
		{
			name:   "split right after a quote",
			data:   "h,i\n\"\",\"\"\"\n\"\"\"\n\"a\",\"\n\"\n",
			header: []string{"h", "i"},
			want:   []got{ok(4, "", "\"\n\""), ok(15, "a", "\n")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			cols, dataStart, err := ReadHeader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cols, tt.header) {
				t.Fatalf("header %q, want %q", cols, tt.header)
			}
			want := make([]got, len(tt.want))
			for i, w := range tt.want {
				want[i] = w
				if w.Err == "" {
					want[i].Raw = "" // compared below through fields
				}
			}
			strip := func(recs []got) []got {
				out := slices.Clone(recs)
				for i := range out {
					if out[i].Err == "" {
						out[i].Raw = ""
					}
				}
				return out
			}
			opt := Options{Fields: len(cols), MaxRecordBytes: tt.max}
			whole, err := readWhole(data, dataStart, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffRecords(strip(whole), want); d != "" {
				t.Fatalf("whole file: %s", d)
			}
			if csvRecs, err := csvRecords(data); err == nil && tt.max == 0 {
				if d := diffRecords(fieldsOf(t, whole), csvRecs[1:]); d != "" {
					t.Fatalf("against encoding/csv: %s", d)
				}
			}
			checkAllSplits(t, data, dataStart, opt, whole)
		})
	}
}

// checkAllSplits reads data cut at every single position, cut into 1-byte splits,
// and one byte at a time, with the default and with a 1-byte lookahead, and wants
// the records of the whole-file read every time.
func checkAllSplits(t *testing.T, data []byte, dataStart int64, opt Options, whole []got) {
	t.Helper()
	n := int64(len(data))
	for _, look := range []int{0, 1} {
		opt := opt
		opt.Lookahead = look
		for c := dataStart; c <= n; c++ {
			recs, _, err := readSplits(data, dataStart, []int64{c}, opt, nil)
			if err != nil {
				t.Fatalf("lookahead %d, cut at %d: %v", look, c, err)
			}
			if d := diffRecords(recs, whole); d != "" {
				t.Fatalf("lookahead %d, cut at %d: %s", look, c, d)
			}
		}
		recs, _, err := readSplits(data, dataStart, everyCut(dataStart, 1, n), opt, iotest.OneByteReader)
		if err != nil {
			t.Fatalf("lookahead %d, 1-byte splits: %v", look, err)
		}
		if d := diffRecords(recs, whole); d != "" {
			t.Fatalf("lookahead %d, 1-byte splits: %s", look, d)
		}
	}
}

// TestSpeculationMisled builds a quoted field whose lines look like records, so
// that a split starting inside it guesses Outside, and checks that Chain catches
// the guess and the rerun gives the records of the whole file.
func TestSpeculationMisled(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,note\n1,plain\n2,\"")
	for i := range 200 {
		fmt.Fprintf(&b, "line %d,looks like a record\n", i)
	}
	b.WriteString("end\"\n3,after\n")
	data := []byte(b.String())
	_, dataStart, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	inside := int64(bytes.Index(data, []byte("line 100")))
	tests := []struct {
		name      string
		lookahead int
	}{
		{"tiny lookahead", 1},
		{"default lookahead, misleading content", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := Options{Fields: 2, Lookahead: tt.lookahead}
			whole, err := readWhole(data, dataStart, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(whole) != 3 {
				t.Fatalf("whole file: %d records, want 3", len(whole))
			}
			// The guess alone is wrong: the split starting inside the quotes
			// assumes Outside and returns lines of the field as records.
			opt.DataStart, opt.Start, opt.End = dataStart, inside, int64(len(data))
			recs, assumed, _, err := readSplit(data, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if assumed != Outside || len(recs) < 50 {
				t.Fatalf("assumed %v with %d records; the test wants a misled guess", assumed, len(recs))
			}
			all, rerun, err := readSplits(data, dataStart, []int64{inside}, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rerun, []int{1}) {
				t.Fatalf("rerun %v, want [1]", rerun)
			}
			if d := diffRecords(all, whole); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// TestSpeculation checks that the default lookahead guesses right on ordinary data:
// a split starting inside a quoted multi-line field and one starting outside.
func TestSpeculation(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,address,location\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,\"%d MAIN ST\",\"{'lat': '40.%d',\n 'lon': '-73.%d'}\"\n", i, i, i, i)
	}
	data := []byte(b.String())
	tests := []struct {
		name string
		at   string
		want State
	}{
		{"inside a quoted newline", "\n 'lon': '-73.50", Inside},
		{"at a record start", "\n50,", Outside},
		{"inside an unquoted field", "0,\"50 MAIN", Outside},
		{"inside a quoted field", "50 MAIN", Inside},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := int64(bytes.Index(data, []byte(tt.at))) + 1
			opt := Options{DataStart: 20, Start: at, End: int64(len(data)), Fields: 3}
			_, assumed, _, err := readSplit(data, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if assumed != tt.want {
				t.Fatalf("assumed %v, want %v", assumed, tt.want)
			}
		})
	}
}

func TestChain(t *testing.T) {
	O, I, U := Outside, Inside, Unknown
	tests := []struct {
		name      string
		assumed   []State
		parity    []int
		wantTruth []State
		wantRerun []int
	}{
		{"empty", nil, nil, []State{}, nil},
		{"one split", []State{O}, []int{1}, []State{O}, nil},
		{"all even, all right", []State{O, O, O}, []int{0, 0, 0}, []State{O, O, O}, nil},
		{"odd flips the next", []State{O, I, I, O}, []int{1, 0, 1, 1}, []State{O, I, I, O}, nil},
		{"wrong guess", []State{O, O, I}, []int{1, 1, 0}, []State{O, I, O}, []int{1, 2}},
		{"unknown is re-run", []State{O, U}, []int{0, 0}, []State{O, O}, []int{1}},
		{"parity taken mod 2", []State{O, O, I}, []int{2, 3, 0}, []State{O, O, I}, nil},
		{"missing parity counts as even", []State{O, O}, nil, []State{O, O}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			truth, rerun := Chain(tt.assumed, tt.parity)
			if !slices.Equal(truth, tt.wantTruth) || !slices.Equal(rerun, tt.wantRerun) {
				t.Fatalf("Chain = %v, %v; want %v, %v", truth, rerun, tt.wantTruth, tt.wantRerun)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Unknown: "unknown", Outside: "outside", Inside: "inside", 7: "State(7)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", s, got, want)
		}
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		want      []string
		wantStart int64
		wantErr   error
	}{
		{"plain", "a,b\n1,2\n", []string{"a", "b"}, 4, nil},
		{"CRLF", "a,b\r\n1,2\r\n", []string{"a", "b"}, 5, nil},
		{"BOM", "\xef\xbb\xbfa,b\n", []string{"a", "b"}, 7, nil},
		{"quoted newline", "\"a\nb\",c\nx\n", []string{"a\nb", "c"}, 8, nil},
		{"leading empty lines", "\n\r\na\n", []string{"a"}, 5, nil},
		{"no newline", "a,b", []string{"a", "b"}, 3, nil},
		{"short", "a", []string{"a"}, 1, nil},
		{"empty file", "", nil, 0, ErrNoHeader},
		{"BOM only", "\xef\xbb\xbf", nil, 0, ErrNoHeader},
		{"empty lines only", "\n\n\r\n", nil, 0, ErrNoHeader},
		{"malformed", "a\"b\"\nc\n", nil, 0, ErrBareQuote},
		{"unterminated", "\"a,b\nc\n", nil, 0, ErrUnterminated},
		// A "CSV (Macintosh)" export: before ErrBareCR, its every line made one header
		// record, and the file had no data to read.
		{"classic Mac", "a,b\r1,2\r3,4\r", nil, 0, ErrBareCR},
		{"classic Mac, one record", "a,b\r1,2", nil, 0, ErrBareCR},
		{"classic Mac, then LF", "a,b\r1,2\r3,4\n5,6\n", nil, 0, ErrBareCR},
		{"classic Mac, header only", "a,b\r", []string{"a", "b"}, 4, nil},
		{"classic Mac, too large", "a,b\r" + strings.Repeat("1,2\r", DefaultMaxRecordBytes/4+1), nil, 0, ErrBareCR},
		{"classic Mac, malformed", "a,b\r1,\"2\"x\r", nil, 0, ErrBareCR},
		{"quoted CR", "\"a\rb\",c\r\n1,2\r\n", []string{"a\rb", "c"}, 9, nil},
		{"CR CR LF", "a,b\r\r\n1,2\r\n", []string{"a", "b\r"}, 6, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols, start, err := ReadHeader(strings.NewReader(tt.data))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error %.200v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == ErrBareCR && !strings.Contains(err.Error(), "byte 3: lines end with a bare CR") {
				t.Errorf("error %q does not locate the first bare CR", err)
			}
			if !slices.Equal(cols, tt.want) || start != tt.wantStart {
				t.Fatalf("ReadHeader = %q, %d; want %q, %d", cols, start, tt.want, tt.wantStart)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"typical", Options{DataStart: 10, Start: 100, End: 200, Fields: 3}, true},
		{"empty split", Options{Start: 5, End: 5}, true},
		{"negative data start", Options{DataStart: -1}, false},
		{"start before data", Options{DataStart: 10, Start: 5, End: 20}, false},
		{"end before start", Options{Start: 20, End: 10}, false},
		{"inside at data start", Options{DataStart: 10, Start: 10, End: 20, State: Inside}, false},
		{"bad state", Options{State: 9}, false},
		{"negative fields", Options{Fields: -1}, false},
		{"negative lookahead", Options{Lookahead: -1}, false},
		{"negative max", Options{MaxRecordBytes: -1}, false},
		{"columns", Options{Columns: []int{3, 0, 3}}, true},
		{"no columns", Options{Columns: []int{}}, true},
		{"negative column", Options{Columns: []int{2, -1}}, false},
		{"huge column", Options{Columns: []int{1 << 40}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(""), tt.opt)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrOptions)) {
				t.Fatalf("NewReader: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestIOError checks that a source's error ends the split with that error, wrapped,
// rather than a short read that looks like the end of the data.
func TestIOError(t *testing.T) {
	boom := errors.New("connection reset")
	data := strings.Repeat("a,b\n", 100)
	tests := []struct {
		name string
		src  io.Reader
	}{
		{"error mid-record", io.MultiReader(strings.NewReader(data+"c,"), iotest.ErrReader(boom))},
		{"error at once", iotest.ErrReader(boom)},
		{"error before the byte at Start", iotest.ErrReader(boom)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := Options{End: 1 << 20}
			if i == 2 {
				opt = Options{DataStart: 4, Start: 8, End: 1 << 20}
			}
			rd, err := NewReader(tt.src, opt)
			if err != nil {
				t.Fatal(err)
			}
			for {
				_, err = rd.Next()
				if err != nil {
					break
				}
			}
			if !errors.Is(err, boom) {
				t.Fatalf("Next: %v, want %v", err, boom)
			}
			if _, err2 := rd.Next(); !errors.Is(err2, boom) {
				t.Fatalf("Next after the error: %v", err2)
			}
		})
	}
}

// endless yields n bytes of b repeated, then tail, without holding them.
type endless struct {
	b    byte
	n    int64
	tail io.Reader
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return e.tail.Read(p)
	}
	k := int(min(int64(len(p)), e.n))
	for i := range k {
		p[i] = e.b
	}
	e.n -= int64(k)
	return k, nil
}

// TestTooLargeBoundedMemory reads a 64 MiB record with a 1 MiB limit and checks
// that the buffer never held it: the raw bytes come back truncated and the record
// after it is intact.
func TestTooLargeBoundedMemory(t *testing.T) {
	const limit = 1 << 20
	for _, quoted := range []bool{false, true} {
		t.Run(fmt.Sprintf("quoted=%v", quoted), func(t *testing.T) {
			head, tail := "", "\nnext,ok\n"
			if quoted {
				head, tail = "\"", "\n\"\nnext,ok\n"
			}
			src := io.MultiReader(strings.NewReader(head), &endless{b: 'x', n: 64 << 20, tail: strings.NewReader(tail)})
			rd, err := NewReader(src, Options{End: 1 << 40, MaxRecordBytes: limit})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(rec.Err, ErrTooLarge) || !errors.Is(rec.Err, ErrMalformed) || len(rec.Raw) != limit || rec.Offset != 0 {
				t.Fatalf("record: err %v, %d raw bytes, offset %d", rec.Err, len(rec.Raw), rec.Offset)
			}
			var size *ParseError
			if want := int64(len(head)) + 64<<20 + int64(strings.Index(tail, "\nnext")); !errors.As(rec.Err, &size) || size.Size != want {
				t.Fatalf("record error %v, want a *ParseError of size %d", rec.Err, want)
			}
			var pe *ParseError
			if !errors.As(rec.Err, &pe) || pe.Offset != limit {
				t.Fatalf("error %#v, want a *ParseError at byte %d", rec.Err, limit)
			}
			rec, err = rd.Next()
			if err != nil || rec.Err != nil || len(rec.Fields) != 2 || string(rec.Fields[1]) != "ok" {
				t.Fatalf("next record: %v, %+v", err, rec)
			}
			if want := int64(len(head)+len(tail)) + 64<<20 - 8; rec.Offset != want {
				t.Fatalf("next record at %d, want %d", rec.Offset, want)
			}
			if n := len(rd.buf); n > limit+readChunk+2 {
				t.Fatalf("buffer grew to %d bytes", n)
			}
		})
	}
}

// TestRecordSize checks the length of each record against its line: len(Raw) for records
// that fit, ParseError.Size for records cut at the limit; with LF and CRLF terminators and a
// last record ending at EOF, under reads of one byte (every buffer boundary) and whole reads.
func TestRecordSize(t *testing.T) {
	const limit = 8
	lines := []string{"a,b", "", "abcdefgh", "abcdefghi", "abcdefghij", strings.Repeat("x", 100), "c,d"}
	for _, eol := range []string{"\n", "\r\n"} {
		for _, last := range []string{eol, ""} {
			data := strings.Join(lines, eol) + last
			for _, wrap := range []struct {
				name string
				f    wrapFunc
			}{{"whole", func(r io.Reader) io.Reader { return r }}, {"one byte", iotest.OneByteReader}} {
				t.Run(fmt.Sprintf("%q/%q/%s", eol, last, wrap.name), func(t *testing.T) {
					rd, err := NewReader(wrap.f(strings.NewReader(data)), Options{End: int64(len(data)), MaxRecordBytes: limit})
					if err != nil {
						t.Fatal(err)
					}
					var sizes []int64
					for {
						rec, err := rd.Next()
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatal(err)
						}
						size := int64(len(rec.Raw))
						var pe *ParseError
						if errors.As(rec.Err, &pe) && errors.Is(pe, ErrTooLarge) {
							if len(rec.Raw) != limit || !strings.Contains(pe.Error(), fmt.Sprintf("(%d bytes in all)", pe.Size)) {
								t.Errorf("record at %d: %v with %d raw bytes", rec.Offset, pe, len(rec.Raw))
							}
							size = pe.Size
						} else if rec.Err != nil || size > limit {
							t.Errorf("record at %d: %v with %d raw bytes", rec.Offset, rec.Err, size)
						}
						sizes = append(sizes, size)
					}
					var want []int64
					for _, l := range lines {
						if l != "" {
							want = append(want, int64(len(l)))
						}
					}
					if !slices.Equal(sizes, want) {
						t.Errorf("sizes %v, want %v", sizes, want)
					}
				})
			}
		}
	}
}

// TestZeroAllocs checks that the steady state allocates nothing per record, with
// quoted, escaped and multi-line fields.
func TestZeroAllocs(t *testing.T) {
	row := "1,\"a \"\"b\"\"\",\"x\r\ny\",plain,,\"q\"\r\n"
	data := bytes.Repeat([]byte(row), 20000)
	rd, err := NewReader(bytes.NewReader(data), Options{End: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 { // warm up: buffers reach their size
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(10000, func() {
		rec, err := rd.Next()
		if err != nil || rec.Err != nil || len(rec.Fields) != 6 {
			t.Fatalf("Next: %v, %+v", err, rec)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per record", allocs)
	}
}

// TestParseErrorMessage checks that a reject says what is wrong and where.
func TestParseErrorMessage(t *testing.T) {
	data := []byte("h\nok\nab\"c\"\n")
	rd, err := NewReader(bytes.NewReader(data[2:]), Options{DataStart: 2, Start: 2, End: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	rd.Next()
	rec, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	const want = `csv record at byte 5: bare " in non-quoted field at byte 7`
	if rec.Err == nil || rec.Err.Error() != want || string(rec.Raw) != `ab"c"` {
		t.Fatalf("got %v with raw %q, want %s", rec.Err, rec.Raw, want)
	}
}
