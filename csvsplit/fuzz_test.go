package csvsplit

import (
	"bytes"
	"encoding/csv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkSplits is the property both fuzz targets check on data:
//  1. whatever the bytes, reading it as random splits with speculation, then Chain
//     and the reruns, gives the records of a whole-file read, malformed ones
//     included (by offset, raw bytes and error), through short reads of random
//     sizes, with small record limits and lookaheads;
//  2. when encoding/csv reads data without error, a whole-file read gives its
//     records, field for field;
//  3. a whole-file read gives the same records whether it splits records with
//     scanFast always (with its assembly or not), never, or adaptively (the default);
//  4. and, in the fields it lists, with Options.Columns (random, unsorted, repeated).
func checkSplits(t *testing.T, data []byte, seed uint64, maxRec, lookahead int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	opt := Options{MaxRecordBytes: maxRec, Lookahead: lookahead, Fields: rng.IntN(5)}
	starts := []int64{0}
	if _, ds, err := ReadHeader(bytes.NewReader(data)); err == nil {
		starts = append(starts, ds)
	}
	for _, dataStart := range starts {
		whole, err := readWhole(data, dataStart, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []scanMode{scanSlowOnly, scanFastOnly} {
			recs, err := readWholeMode(data, dataStart, opt, nil, mode)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffRecords(recs, whole); d != "" {
				t.Fatalf("data start %d, %+v, scan mode %d against the default: %s", dataStart, opt, mode, d)
			}
		}
		restore := setScanAsm(false)
		noAsm, err := readWholeMode(data, dataStart, opt, nil, scanFastOnly)
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if d := diffRecords(noAsm, whole); d != "" {
			t.Fatalf("data start %d, %+v, scanFast without assembly against the default: %s", dataStart, opt, d)
		}
		colOpt := opt
		colOpt.Columns = []int{}
		for range rng.IntN(5) {
			colOpt.Columns = append(colOpt.Columns, rng.IntN(6))
		}
		for _, mode := range []scanMode{scanAdaptive, scanFastOnly} {
			recs, err := readWholeMode(data, dataStart, colOpt, nil, mode)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(whole)
			for i := range want {
				if want[i].Fields != nil {
					want[i] = maskColumns(want[i], colOpt.Columns)
				}
			}
			if d := diffRecords(recs, want); d != "" {
				t.Fatalf("data start %d, columns %v, scan mode %d: %s", dataStart, colOpt.Columns, mode, d)
			}
		}
		var cuts []int64
		for range 1 + rng.IntN(8) {
			cuts = append(cuts, rng.Int64N(int64(len(data))+1))
		}
		recs, _, err := readSplits(data, dataStart, cuts, opt, chunked(seed, 1+rng.IntN(64)))
		if err != nil {
			t.Fatalf("data start %d, cuts %v: %v", dataStart, cuts, err)
		}
		if d := diffRecords(recs, whole); d != "" {
			t.Fatalf("data start %d, cuts %v, %+v: %s", dataStart, cuts, opt, d)
		}
	}
	if want, err := csvRecords(data); err == nil {
		recs, err := readWhole(data, 0, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffRecords(fieldsOf(t, recs), want); d != "" {
			t.Fatalf("against encoding/csv: %s", d)
		}
	}
}

// FuzzSplits feeds arbitrary bytes to checkSplits. Run it with
// go test -fuzz=FuzzSplits ./csvsplit
func FuzzSplits(f *testing.F) {
	for _, s := range []string{
		"",
		"h1,h2\n\"a\nb\",c\nd,e\n",
		"h1,h2\r\n\"a\nb\",c\r\nd,\"e\r\nf\"\r\n",
		"\xef\xbb\xbfid,\"name\"\n1,\"x\"\"y\"\n\n\r\n2,z",
		"h\na\"b\"c\n\"d\"e\nf\n\"open\n",
		"h\n\"\"\"\n\"\"\"\n,\n\r\r\n\"",
		"\n\n\"\nx\n\",\"\"\n",
		// The NYC SODA layout (every field quoted, a newline in the location), and long fields
		// with quotes and line ends at many positions.
		"\"unique_key\",\"created_date\",\"location\"\n\"10000001\",\"2020-09-09T15:35:39.000\",\"\n,  \n(40.783108349851155, -73.94614662967072)\"\n",
		"id,long field name,x\r\n1234567,abcdefgh\"ijklmnop,\"qrstuvwx\"\"yz0123456\"\r\n\"0123456789abcdef\r\n\",x,\"y\"z\n",
	} {
		f.Add([]byte(s), uint64(len(s)), uint16(0), uint16(0))
		f.Add([]byte(s), uint64(7), uint16(4), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, maxRec, lookahead uint16) {
		checkSplits(t, data, seed, int(maxRec%512), int(lookahead%512))
	})
}

// FuzzGenerated writes random records with csv.Writer, fields built from commas,
// quotes, CR, LF and text, so that most inputs are valid CSV with quoted newlines,
// then checks them with checkSplits. Run it with go test -fuzz=FuzzGenerated ./csvsplit
func FuzzGenerated(f *testing.F) {
	f.Add(uint64(1), uint8(10), false, uint16(0))
	f.Add(uint64(2), uint8(50), true, uint16(0))
	f.Add(uint64(3), uint8(200), true, uint16(40))
	f.Add(uint64(4), uint8(30), false, uint16(9))
	f.Fuzz(func(t *testing.T, seed uint64, records uint8, crlf bool, maxRec uint16) {
		data := generate(seed, int(records), crlf)
		if _, err := csvRecords(data); err != nil {
			t.Fatalf("encoding/csv rejects what csv.Writer wrote: %v\n%q", err, data)
		}
		checkSplits(t, data, seed, int(maxRec%512), 0)
	})
}

// generate returns a header and n records of 1 to 5 random fields.
func generate(seed uint64, n int, crlf bool) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	pieces := []string{"a", "bc", "311", " ", ",", "\"", "\n", "\r\n", "\r", "\"\"", "é", ""}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = crlf
	fields := 1 + rng.IntN(5)
	header := make([]string, fields)
	for i := range header {
		header[i] = "col" + strings.Repeat("x", i)
	}
	_ = w.Write(header)
	for range n {
		rec := make([]string, fields)
		if rng.IntN(10) == 0 { // a ragged record now and then
			rec = make([]string, 1+rng.IntN(5))
		}
		for i := range rec {
			var sb strings.Builder
			for range rng.IntN(6) {
				sb.WriteString(pieces[rng.IntN(len(pieces))])
			}
			rec[i] = sb.String()
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// TestScanModesAtBlockEdges puts quotes, commas, '\r' and '\n', well-formed and not,
// at every offset around scanFast's 64-byte block edges (short fuzz inputs rarely
// reach them) and checks that every scan mode, with scanFast's assembly and without,
// reads the same records.
func TestScanModesAtBlockEdges(t *testing.T) {
	tails := []string{
		`a,b`, `"a",b`, `"a","b"`, `""`, `"",x`, `"a""b",c`, `"ab"c,d`, `a"b,c`, `"a` + "\n" + `b",c`,
		`"a` + "\r\n" + `b",c`, "a\rb,c", `"a"` + "\r", `"a",` + "\r", `,"`, `"`, `","`, `x,"y`,
		// A bare quote a block before the closing quote of its field and the '\r' of
		// the terminator that follows it.
		`a"` + strings.Repeat("q", 62) + `"`,
		// Escaped quotes, well-formed (splitEscaped) and not.
		`"a""",b`, `"""",b`, `x"",y`, `"a"""b",c`, `"{""k"": """"}",,`, `"a""b` + "\n" + `c",d`,
	}
	heads := []string{"", `"`, `"",`}
	for pad := range 140 {
		for _, head := range heads {
			for _, tail := range tails {
				rec := head + strings.Repeat("p", pad) + tail
				if head == `"` {
					rec = head + strings.Repeat("p", pad) + `",` + tail
				}
				data := []byte("h\n" + rec + "\n" + rec + "\r\n" + "z,\"q\"\n" + rec)
				want, err := readWholeMode(data, 2, Options{}, nil, scanSlowOnly)
				if err != nil {
					t.Fatal(err)
				}
				for _, asm := range []bool{true, false} {
					restore := setScanAsm(asm)
					for _, mode := range []scanMode{scanFastOnly, scanAdaptive} {
						got, err := readWholeMode(data, 2, Options{}, nil, mode)
						if err != nil {
							restore()
							t.Fatal(err)
						}
						if d := diffRecords(got, want); d != "" {
							restore()
							t.Fatalf("%q, scan mode %d, assembly %v: %s", data, mode, asm, d)
						}
					}
					restore()
				}
			}
		}
	}
}
