package shuffle

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"

	"github.com/ireports/ireports/record"
)

// randRequests returns n records with a realistic spread: a few cities, many months,
// repeated request ids (versions of one request) with distinct Ords, some null times and
// locations. Times are whole microseconds, so they survive the encoding unchanged.
func randRequests(seed uint64, n int) []record.Request {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	cities := []string{"nyc", "la", "sf", "boston", "baltimore", "são paulo"}
	agencies := []string{"NYPD", "DSNY", "HPD", "DOT", "Public Works", "BCC", "Street & Sanitation"}
	types := []string{"Noise - Residential", "Illegal Parking", "HEAT/HOT WATER", "Bulky Items", "Graffiti", "Pothole"}
	micros := func() time.Time {
		// 2008 … 2026, never the epoch.
		return time.UnixMicro(1_200_000_000_000_000 + rng.Int64N(580_000_000_000_000)).UTC()
	}
	out := make([]record.Request, n)
	for i := range out {
		r := &out[i]
		r.City = cities[rng.IntN(len(cities))]
		r.RequestID = strconv.Itoa(rng.IntN(n/2 + 1)) // about two versions per id
		r.CreatedAt = micros()
		r.Year, r.Month = r.CreatedAt.Year(), int(r.CreatedAt.Month())
		if rng.IntN(3) > 0 {
			r.ClosedAt = r.CreatedAt.Add(time.Duration(rng.Int64N(int64(500 * time.Hour))))
		}
		if rng.IntN(10) > 0 {
			r.UpdatedAt = micros()
		}
		r.Status = record.Status(rng.IntN(3))
		r.StatusRaw = r.Status.String()
		r.Agency = agencies[rng.IntN(len(agencies))]
		r.RequestType = types[rng.IntN(len(types))]
		r.RequestSubtype = fmt.Sprintf("subtype %d", rng.IntN(40))
		if rng.IntN(10) < 7 {
			r.HasLocation = true
			r.Latitude = 25 + rng.Float64()*20
			r.Longitude = -125 + rng.Float64()*55
		}
		r.Zip = fmt.Sprintf("%05d", 10000+rng.IntN(500))
		r.Neighborhood = fmt.Sprintf("District %d", rng.IntN(60))
		r.Channel = []string{"Phone", "Online", "Mobile", ""}[rng.IntN(4)]
		// Ord is unique per map task in real use; repeat a few to exercise full ties.
		r.Ord = uint64(i)
		if i > 0 && rng.IntN(50) == 0 {
			r.Ord = out[i-1].Ord
		}
	}
	return out
}

// wireForm is r as it comes out of the encoding.
func wireForm(t testing.TB, r *record.Request) record.Request {
	t.Helper()
	var got record.Request
	if _, err := DecodeRequest(AppendRequest(nil, r), &got); err != nil {
		t.Fatalf("round trip of %+v: %v", r, err)
	}
	return got
}

// sortedWire returns the wire forms of rs sorted into shuffle order, full ties kept in
// input order (as the Writer does).
func sortedWire(t testing.TB, rs []record.Request) []record.Request {
	out := make([]record.Request, len(rs))
	for i := range rs {
		out[i] = wireForm(t, &rs[i])
	}
	slices.SortStableFunc(out, func(a, b record.Request) int { return Compare(&a, &b) })
	return out
}

// writeMapOutput writes rs through a Writer with R reducers into dir and returns the path.
func writeMapOutput(t testing.TB, dir string, name string, R int, rs []record.Request) (string, Index) {
	t.Helper()
	w, err := NewWriter(R)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if err := w.Add(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	x, err := w.WriteFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, x
}

// encodeMapOutput is writeMapOutput in memory.
func encodeMapOutput(t testing.TB, R int, rs []record.Request) ([]byte, Index) {
	t.Helper()
	w, err := NewWriter(R)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if err := w.Add(&rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	x, err := w.writeTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), x
}

// readInput opens reducer's input over locs and drains it.
func readInput(t testing.TB, f Fetcher, locs []Location, reducer int, cfg InputConfig) []record.Request {
	t.Helper()
	in, err := OpenInput(context.Background(), f, locs, reducer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got, err := readAll(in)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// readAll drains a source.
func readAll(src Source) ([]record.Request, error) {
	var out []record.Request
	for {
		var r record.Request
		err := src.Next(&r)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func segmentReader(file []byte, seg Segment) *SegmentReader {
	return NewSegmentReader(bytes.NewReader(file[seg.Offset:seg.Offset+seg.Length]), seg)
}

// diffRecords reports the first difference between two record lists.
func diffRecords(got, want []record.Request) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	return ""
}

// realRequests turns every CSV fixture's rows into records crudely — column names matched
// by substring, a few timestamp layouts — which is all the shuffle needs: real strings
// (mojibake, newlines, long free text) and a real spread of keys. Normalizing properly is
// the schemas' job, not this package's.
func realRequests(t testing.TB) []record.Request {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RealData(t), "*", "*.csv"))
	if err != nil || len(files) == 0 {
		t.Skipf("no CSV fixtures found: %v", err)
	}
	layouts := []string{"01/02/2006 03:04:05 PM", "2006-01-02T15:04:05.000", "2006-01-02 15:04:05",
		"2006-01-02 15:04:05-07", "01/02/2006 15:04", "2006-01-02T15:04:05"}
	parseTime := func(s string) time.Time {
		s = strings.TrimSpace(s)
		if i := strings.IndexByte(s, '.'); i > 0 && strings.HasSuffix(s, "+00") {
			s = s[:i] // ragged fractions with an offset: the seconds are enough here
		}
		for _, l := range layouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC()
			}
		}
		return time.Time{}
	}
	var out []record.Request
	for fi, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(f)
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		header, err := cr.Read()
		if err != nil {
			f.Close()
			t.Fatalf("%s: header: %v", path, err)
		}
		col := func(subs ...string) int {
			for _, sub := range subs {
				for i, h := range header {
					if strings.Contains(strings.ToLower(h), sub) {
						return i
					}
				}
			}
			return -1
		}
		idCol := 0
		if header[0] == "" {
			idCol = 1
		}
		cols := map[string]int{
			"created": col("creat", "open"), "closed": col("close"), "updated": col("updat"),
			"status": col("status"), "agency": col("agency", "department", "owner"),
			"type": col("complaint type", "requesttype", "request.type", "srtype", "type"),
			"sub":  col("descriptor", "subject", "category"), "zip": col("zip"),
			"hood": col("neighborhood"), "channel": col("source", "method", "channel"),
			"lat": col("latitude"), "lon": col("longitude"),
		}
		city := filepath.Base(filepath.Dir(path))
		for row := 0; ; row++ {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue // a malformed line: the parser's problem, not the shuffle's
			}
			get := func(name string) string {
				if i := cols[name]; i >= 0 && i < len(rec) {
					return rec[i]
				}
				return ""
			}
			r := record.Request{
				City:           city,
				RequestID:      rec[min(idCol, len(rec)-1)],
				CreatedAt:      parseTime(get("created")),
				ClosedAt:       parseTime(get("closed")),
				UpdatedAt:      parseTime(get("updated")),
				StatusRaw:      get("status"),
				Agency:         get("agency"),
				RequestType:    get("type"),
				RequestSubtype: get("sub"),
				Zip:            get("zip"),
				Neighborhood:   get("hood"),
				Channel:        get("channel"),
				Ord:            uint64(fi)<<32 | uint64(row),
			}
			if lat, err := strconv.ParseFloat(get("lat"), 64); err == nil {
				if lon, err := strconv.ParseFloat(get("lon"), 64); err == nil {
					r.Latitude, r.Longitude, r.HasLocation = lat, lon, true
				}
			}
			if !r.CreatedAt.IsZero() {
				r.Year, r.Month = r.CreatedAt.Year(), int(r.CreatedAt.Month())
			}
			out = append(out, r)
		}
		f.Close()
	}
	return out
}
