package gen

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
)

// layoutOf is how each format's files are checked: which columns hold the id and the
// dates, in which Go layout, where the coordinates are, and the real file with the same
// header.
type layoutOf struct {
	real       []string // real files (relative to the data dir) with the same header
	id         int      // request id column
	created    int
	closed     int
	status     int
	timeLayout string // a Go layout, or "unix_ms"
	lat, lon   int    // -1: coordinates in a "(lat, lon)" column at lat; -2: none (x/y only)
	// dateOnly: created and closed have no time of day, so a request closed the day it
	// was opened has closed == created.
	dateOnly   bool
	closedWord string // the status a closed version starts with; default "Closed"
}

var checks = map[string]layoutOf{
	"nyc/portal":             {real: []string{"nyc/portal_2011_subset.csv", "nyc/portal_2010_2020_sample100.csv"}, id: 0, created: 1, closed: 2, status: 19, timeLayout: "01/02/2006 03:04:05 PM", lat: 38, lon: 39},
	"nyc/soda":               {real: []string{"nyc/soda_erm2-nwe9_page.csv"}, id: 0, created: 1, closed: 2, status: 19, timeLayout: "2006-01-02T15:04:05.000", lat: 38, lon: 39},
	"la/myla311":             {real: []string{"la/myla311_2017_subset.csv"}, id: 0, created: 1, closed: 12, status: 6, timeLayout: "01/02/2006 03:04:05 PM", lat: 21, lon: 22},
	"sf/sf311":               {real: []string{"sf/sf311_cases_sample_10000.csv"}, id: 1, created: 2, closed: 3, status: 5, timeLayout: "01/02/2006 03:04:05 PM", lat: 14, lon: -1},
	"boston/boston311-2022":  {real: []string{"boston/boston311_2022_sample100.csv"}, id: 0, created: 1, closed: 3, status: 5, timeLayout: "2006-01-02 15:04:05", lat: 26, lon: 27},
	"boston/boston311-2025":  {real: []string{"boston/boston311_2025_cases.csv"}, id: 0, created: 1, closed: 2, status: 8, timeLayout: "2006-01-02 15:04:05-07", lat: 25, lon: 24},
	"baltimore/baltimore311": {real: []string{"baltimore/baltimore311_sample_10000.csv"}, id: 1, created: 4, closed: 8, status: 5, timeLayout: "01/02/2006 03:04:05 PM", lat: 19, lon: 20},
	"chicago/soda":           {real: []string{"chicago/chicago311_soda_2021_first5000.csv"}, id: 0, created: 7, closed: 9, status: 5, timeLayout: "2006-01-02T15:04:05.000", lat: 32, lon: 33, closedWord: "Completed"},
	"chicago/legacy":         {real: []string{"chicago/chicago_legacy_lights_2011_2013_sample.csv"}, id: 3, created: 0, closed: 2, status: 1, timeLayout: "2006-01-02T15:04:05", lat: 12, lon: 13, dateOnly: true, closedWord: "Completed"},
	"kansas_city/kc311":      {real: []string{"kansas_city/kc311_beacon_hills_2007_2020.csv"}, id: 0, created: 8, closed: 14, status: 12, timeLayout: "01/02/2006", lat: 26, lon: 27, dateOnly: true, closedWord: "RESOL"},
	"dc/dc311":               {real: []string{"dc/dc311_arcgis_2025_page1000.csv"}, id: 0, created: 10, closed: 11, status: 17, timeLayout: "unix_ms", lat: 24, lon: 25},
	"st_louis/csb":           {real: []string{"st_louis/stl_csb_2011.csv"}, id: 16, created: 5, closed: 4, status: 19, timeLayout: "2006-01-02 15:04:05", lat: -2, lon: -2, closedWord: "CLOSED"},
	"austin/austin311":       {id: 0, created: 7, closed: 9, status: 5, timeLayout: "2006 Jan 02 03:04:05 PM", lat: 18, lon: 19},
}

// parseStamp parses a generated timestamp as the format's check says.
func parseStamp(layout, s string) (time.Time, error) {
	if layout != "unix_ms" {
		return time.ParseInLocation(layout, s, time.UTC)
	}
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// checkKey maps a generated file path to its entry in checks.
func checkKey(path string) string {
	city := filepath.Base(filepath.Dir(path))
	stem := filepath.Base(path)
	stem = stem[:strings.LastIndexByte(stem, '-')]
	return city + "/" + stem
}

func generate(t testing.TB, opt Options) Stats {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	st, err := Generate(context.Background(), opt)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return st
}

func TestDeterministic(t *testing.T) {
	opt := Options{Size: 3 << 20, Seed: 42, MaxFileSize: 256 << 10}
	a := generate(t, opt)

	// A different degree of parallelism must not change a byte.
	prev := runtime.GOMAXPROCS(1)
	b := generate(t, opt)
	runtime.GOMAXPROCS(prev)

	opt.Seed = 43
	c := generate(t, opt)

	if len(a.Files) != len(b.Files) || len(a.Files) < 10 {
		t.Fatalf("file counts %d, %d; want equal and ≥ 10", len(a.Files), len(b.Files))
	}
	sameStats := func(x, y Stats) bool {
		return x.Bytes == y.Bytes && reflect.DeepEqual(x.Records, y.Records) &&
			reflect.DeepEqual(x.Bad, y.Bad) && reflect.DeepEqual(x.Duplicates, y.Duplicates)
	}
	if !sameStats(a, b) {
		t.Errorf("stats differ between runs:\n%+v\n%+v", a, b)
	}
	differ := 0
	for i := range a.Files {
		x, err := os.ReadFile(a.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(b.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s and %s differ", a.Files[i], b.Files[i])
		}
		z, err := os.ReadFile(c.Files[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, z) {
			differ++
		}
	}
	if differ != len(a.Files) {
		t.Errorf("another seed changed only %d of %d files", differ, len(a.Files))
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"one MiB all cities", Options{Size: 1 << 20, MaxFileSize: 1 << 20}},
		{"8 MiB small files", Options{Size: 8 << 20, MaxFileSize: 512 << 10}},
		{"6 MiB default files", Options{Size: 6 << 20}},
		{"2 MiB two cities", Options{Size: 2 << 20, Cities: []string{"sf", "baltimore"}, MaxFileSize: 300 << 10}},
		{"2 MiB no rejects no duplicates", Options{Size: 2 << 20, BadRate: -1, DupRate: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := generate(t, tt.opt)
			if d := math.Abs(float64(st.Bytes-tt.opt.Size)) / float64(tt.opt.Size); d > 0.01 {
				t.Errorf("wrote %d bytes for Size %d: off by %.2f%%", st.Bytes, tt.opt.Size, 100*d)
			}
			var onDisk int64
			for _, f := range st.Files {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				onDisk += fi.Size()
				max := tt.opt.MaxFileSize
				if max == 0 {
					max = DefaultMaxFileSize
				}
				if fi.Size() > max+max/50 {
					t.Errorf("%s: %d bytes, above MaxFileSize %d", f, fi.Size(), max)
				}
			}
			if onDisk != st.Bytes {
				t.Errorf("Stats.Bytes %d, files hold %d", st.Bytes, onDisk)
			}
			wantCities := tt.opt.Cities
			if len(wantCities) == 0 {
				wantCities = Cities()
			}
			for _, c := range wantCities {
				if st.Records[c] == 0 {
					t.Errorf("no records for %s", c)
				}
			}
			if tt.opt.BadRate < 0 || tt.opt.DupRate < 0 {
				for c := range st.Bad {
					for k, n := range st.Bad[c] {
						if n != 0 {
							t.Errorf("%s: %d %s rows with BadRate < 0", c, n, k)
						}
					}
					if st.Duplicates[c] != 0 {
						t.Errorf("%s: %d duplicates with DupRate < 0", c, st.Duplicates[c])
					}
				}
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want error
	}{
		{"no dir", Options{Size: 1}, ErrInvalidOptions},
		{"no size", Options{Dir: "x"}, ErrInvalidOptions},
		{"unknown city", Options{Dir: "x", Size: 1, Cities: []string{"nyc", "paris"}}, ErrUnknownCity},
		{"tiny files", Options{Dir: "x", Size: 1, MaxFileSize: 100}, ErrInvalidOptions},
		{"bad rate too high", Options{Dir: "x", Size: 1, BadRate: 0.9}, ErrInvalidOptions},
		{"dup rate too high", Options{Dir: "x", Size: 1, DupRate: 0.6}, ErrInvalidOptions},
		{"nyc share 1", Options{Dir: "x", Size: 1, NYCShare: 1}, ErrInvalidOptions},
		{"nyc share negative", Options{Dir: "x", Size: 1, NYCShare: -0.1}, ErrInvalidOptions},
		{"nyc share NaN", Options{Dir: "x", Size: 1, NYCShare: math.NaN()}, ErrInvalidOptions},
		{"nyc share without nyc", Options{Dir: "x", Size: 1, NYCShare: 0.5, Cities: []string{"la", "sf"}}, ErrInvalidOptions},
		{"nyc share of nyc alone", Options{Dir: "x", Size: 1, NYCShare: 0.5, Cities: []string{"nyc"}}, ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(context.Background(), tt.opt); !errors.Is(err, tt.want) {
				t.Errorf("Generate(%+v) = %v, want %v", tt.opt, err, tt.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, Options{Dir: t.TempDir(), Size: 64 << 20})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context = %v, want context.Canceled", err)
	}
}

// recount tallies what a file holds, read back independently of the generator.
type recount struct {
	records, dups int64
	bad           map[string]int64
}

func isBadDate(s string) bool { return slices.Contains(badDates, s) }

// TestRecount reads every file back — CSV with encoding/csv, JSON with encoding/json —
// and checks the headers, the Stats, the ids, the dates and the coordinates.
func TestRecount(t *testing.T) {
	opt := Options{Size: 8 << 20, Seed: 7, MaxFileSize: 1 << 20, BadRate: 0.02, DupRate: 0.03}
	st := generate(t, opt)

	got := map[string]*recount{}
	seen := map[string]map[string]int{} // city → id → versions
	for _, c := range Cities() {
		got[c] = &recount{bad: map[string]int64{BadMissingID: 0, BadDate: 0, BadRagged: 0, BadQuote: 0}}
		seen[c] = map[string]int{}
	}
	for _, path := range st.Files {
		city := filepath.Base(filepath.Dir(path))
		t.Run(filepath.Join(city, filepath.Base(path)), func(t *testing.T) {
			if strings.HasSuffix(path, ".json") {
				recountJSON(t, path, got[city], seen[city])
				return
			}
			recountCSV(t, path, got[city], seen[city])
		})
	}
	for _, c := range Cities() {
		if got[c].records != st.Records[c] {
			t.Errorf("%s: read %d valid records, Stats says %d", c, got[c].records, st.Records[c])
		}
		if got[c].dups != st.Duplicates[c] {
			t.Errorf("%s: read %d repeated ids, Stats says %d duplicates", c, got[c].dups, st.Duplicates[c])
		}
		if !reflect.DeepEqual(got[c].bad, st.Bad[c]) {
			t.Errorf("%s: read rejects %v, Stats says %v", c, got[c].bad, st.Bad[c])
		}
		for k, n := range st.Bad[c] {
			if n == 0 && (k == BadMissingID || k == BadDate) {
				t.Errorf("%s: no %s rows at BadRate %g", c, k, opt.BadRate)
			}
		}
		if st.Duplicates[c] == 0 {
			t.Errorf("%s: no duplicates at DupRate %g", c, opt.DupRate)
		}
	}
}

func recountCSV(t *testing.T, path string, rc *recount, seen map[string]int) {
	chk, ok := checks[checkKey(path)]
	if !ok {
		t.Fatalf("no check for %s", checkKey(path))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := data[:bytes.IndexByte(data, '\n')+1]
	var f *format
	for _, ff := range formats {
		if checkKey(path) == ff.city+"/"+ff.name && !ff.json {
			f = ff
		}
	}
	if string(header) != f.header {
		t.Errorf("header %q, want %q", header, f.header)
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	width := len(head)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)) {
				rc.bad[BadQuote]++
				continue
			}
			t.Fatalf("unexpected parse error: %v", err)
		}
		line, _ := r.FieldPos(0)
		switch {
		case len(rec) != width:
			rc.bad[BadRagged]++
			continue
		case rec[chk.id] == "":
			rc.bad[BadMissingID]++
			continue
		case isBadDate(rec[chk.created]):
			rc.bad[BadDate]++
			continue
		}
		rc.records++
		id := rec[chk.id]
		seen[id]++
		switch seen[id] {
		case 1:
		case 2:
			rc.dups++
			if rec[chk.closed] == "" || !strings.HasPrefix(rec[chk.status], cmp.Or(chk.closedWord, "Closed")) {
				t.Errorf("line %d: second version of %s is not closed: status %q closed %q", line, id, rec[chk.status], rec[chk.closed])
			}
		default:
			t.Errorf("line %d: id %s seen %d times", line, id, seen[id])
		}
		created, err := parseStamp(chk.timeLayout, rec[chk.created])
		if err != nil {
			t.Errorf("line %d: created: %v", line, err)
			continue
		}
		if y := created.Year(); y < 2007 || y > 2026 {
			t.Errorf("line %d: created %v outside the corpus years", line, created)
		}
		if s := rec[chk.closed]; s != "" {
			closed, err := parseStamp(chk.timeLayout, s)
			if err != nil {
				t.Errorf("line %d: closed: %v", line, err)
			} else if chk.dateOnly && closed.Before(created) || !chk.dateOnly && !closed.After(created) {
				t.Errorf("line %d: closed %v not after created %v", line, closed, created)
			}
		}
		checkCoords(t, line, checkKey(path), chk, rec)
	}
}

// checkCoords checks that a row's coordinates are empty, a known placeholder, or inside
// the city's bounding box.
func checkCoords(t *testing.T, line int, key string, chk layoutOf, rec []string) {
	var latS, lonS string
	if chk.lon == -2 {
		return
	}
	if chk.lon < 0 {
		p := strings.Trim(rec[chk.lat], "()")
		if p == "" {
			return
		}
		latS, lonS, _ = strings.Cut(p, ", ")
	} else {
		latS, lonS = rec[chk.lat], rec[chk.lon]
	}
	if latS == "" && lonS == "" {
		return
	}
	lat, err1 := strconv.ParseFloat(latS, 64)
	lon, err2 := strconv.ParseFloat(lonS, 64)
	if err1 != nil || err2 != nil {
		t.Errorf("line %d: coordinates %q, %q do not parse", line, latS, lonS)
		return
	}
	if lat == 0 && lon == 0 || lat == 39 && lon == -77 {
		return // placeholders
	}
	var m *cityModel
	for _, f := range formats {
		if strings.HasPrefix(key, f.city+"/") {
			m = f.model
		}
	}
	if lat < m.minLat || lat > m.maxLat || lon < m.minLon || lon > m.maxLon {
		t.Errorf("line %d: (%v, %v) outside %s's bounding box", line, lat, lon, m.name)
	}
}

func recountJSON(t *testing.T, path string, rc *recount, seen map[string]int) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatal("not valid JSON")
	}
	var objs []map[string]any
	if err := json.Unmarshal(data, &objs); err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		for k, v := range o {
			if _, ok := v.(string); !ok && k != "location" {
				t.Errorf("object %d: %s is %T, want string", i, k, v)
			}
			if v == "" {
				t.Errorf("object %d: empty %s, want it omitted", i, k)
			}
		}
		id, _ := o["unique_key"].(string)
		created, _ := o["created_date"].(string)
		switch {
		case id == "":
			rc.bad[BadMissingID]++
			continue
		case isBadDate(created):
			rc.bad[BadDate]++
			continue
		}
		rc.records++
		seen[id]++
		if seen[id] == 2 {
			rc.dups++
			if o["status"] != "Closed" || o["closed_date"] == nil {
				t.Errorf("object %d: second version of %s is not closed", i, id)
			}
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000", created); err != nil {
			t.Errorf("object %d: created: %v", i, err)
		}
		if l, ok := o["location"].(map[string]any); ok && (l["latitude"] != o["latitude"] || l["longitude"] != o["longitude"]) {
			t.Errorf("object %d: location %v disagrees with latitude/longitude", i, l)
		}
	}
}

// TestHeadersMatchRealFiles compares each format's header with the first line of the real
// export it imitates, line end included.
func TestHeadersMatchRealFiles(t *testing.T) {
	data := testenv.RealData(t)
	for _, f := range formats {
		if f.json {
			continue
		}
		chk := checks[f.city+"/"+f.name]
		for _, real := range chk.real {
			t.Run(real, func(t *testing.T) {
				file, err := os.Open(filepath.Join(data, real))
				if err != nil {
					t.Fatal(err)
				}
				defer file.Close()
				first, err := bufio.NewReader(file).ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if first != f.header {
					t.Errorf("header of %s/%s differs from %s:\n got %q\nwant %q", f.city, f.name, real, f.header, first)
				}
			})
		}
	}
}

// TestTimeShape checks the hour-of-week pattern: weekday office hours are far busier than
// the small hours, and every month of the year occurs.
func TestTimeShape(t *testing.T) {
	tm := timeModel{from: daysFromCivil(2015, 1, 1), to: daysFromCivil(2019, 1, 1)}
	g := newTestRand(1)
	var hours [7][24]int
	var months [13]int
	for range 200000 {
		s := tm.created(g, false)
		days := s.sec / 86400
		hours[weekday(days)][s.sec%86400/3600]++
		_, m, _ := civil(days)
		months[m]++
	}
	for m := 1; m <= 12; m++ {
		if months[m] == 0 {
			t.Errorf("no requests in month %d", m)
		}
	}
	if day, night := hours[2][11], hours[2][3]; day < 10*night {
		t.Errorf("Tuesday 11:00 has %d requests, 03:00 has %d: want a daytime peak", day, night)
	}
	if wd, we := hours[3][11], hours[0][11]; wd < we*13/10 {
		t.Errorf("Wednesday 11:00 has %d requests, Sunday 11:00 %d: want weekdays busier", wd, we)
	}
}

func TestCivil(t *testing.T) {
	for d := int64(0); d < 40000; d += 37 {
		want := time.Unix(d*86400, 0).UTC()
		y, m, dd := civil(d)
		if y != want.Year() || m != int(want.Month()) || dd != want.Day() {
			t.Fatalf("civil(%d) = %d-%d-%d, want %v", d, y, m, dd, want)
		}
		if got := daysFromCivil(y, m, dd); got != d {
			t.Fatalf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, dd, got, d)
		}
		if weekday(d) != int(want.Weekday()) {
			t.Fatalf("weekday(%d) = %d, want %d", d, weekday(d), want.Weekday())
		}
	}
}

func TestStampLayouts(t *testing.T) {
	sec := daysFromCivil(2025, 8, 1)*86400 + 2*3600 + 35*60 + 6 // 02:35:06 EDT = 06:35:06Z
	tests := []struct {
		name string
		l    layout
		t    stamp
		want string
	}{
		{"us12 morning", layoutUS12, stamp{sec: sec}, "08/01/2025 02:35:06 AM"},
		{"us12 noon", layoutUS12, stamp{sec: sec + 10*3600}, "08/01/2025 12:35:06 PM"},
		{"us12 midnight", layoutUS12, stamp{sec: sec - 2*3600}, "08/01/2025 12:35:06 AM"},
		{"soda", layoutSODA, stamp{sec: sec, ms: 7}, "2025-08-01T02:35:06.000"},
		{"sql", layoutSQL, stamp{sec: sec}, "2025-08-01 02:35:06"},
		{"pg summer", layoutPGUTC, stamp{sec: sec, ms: 539}, "2025-08-01 06:35:06.539+00"},
		{"pg ragged", layoutPGUTC, stamp{sec: sec, ms: 710}, "2025-08-01 06:35:06.71+00"},
		{"pg whole", layoutPGUTC, stamp{sec: sec}, "2025-08-01 06:35:06+00"},
		{"pg winter", layoutPGUTC, stamp{sec: sec - 200*86400, ms: 500}, "2025-01-13 07:35:06.5+00"},
		{"iso day", layoutISODay, stamp{sec: sec, ms: 7}, "2025-08-01T00:00:00"},
		{"us date", layoutUSDate, stamp{sec: sec}, "08/01/2025"},
		{"us time morning", layoutUSTime, stamp{sec: sec}, "02:35 AM"},
		{"us time noon", layoutUSTime, stamp{sec: sec + 10*3600}, "12:35 PM"},
		{"us time midnight", layoutUSTime, stamp{sec: sec - 2*3600}, "12:35 AM"},
		{"epoch ms summer", layoutEpochMS, stamp{sec: sec, ms: 539}, "1754030106539"}, // 06:35:06.539Z
		{"epoch ms float", layoutEpochMSF, stamp{sec: sec}, "1754030106000.0"},
		{"epoch ms winter", layoutEpochMS, stamp{sec: sec - 200*86400}, "1736753706000"}, // 2025-01-13 07:35:06Z
		{"csb ragged", layoutCSB, stamp{sec: sec, ms: 540}, "2025-08-01 02:35:06.54"},
		{"csb whole", layoutCSB, stamp{sec: sec}, "2025-08-01 02:35:06.0"},
		{"csb full", layoutCSB, stamp{sec: sec, ms: 703}, "2025-08-01 02:35:06.703"},
		{"austin", layoutAustin, stamp{sec: sec + 10*3600}, "2025 Aug 01 12:35:06 PM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendStamp(nil, tt.l, tt.t)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func newTestRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// TestNYCShare checks the skew option: NYC gets NYCShare of the bytes written and the other
// cities keep their proportions to one another, as in the fixed weighting.
func TestNYCShare(t *testing.T) {
	cityBytes := func(st Stats) map[string]int64 {
		m := map[string]int64{}
		for _, f := range st.Files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			m[filepath.Base(filepath.Dir(f))] += fi.Size()
		}
		return m
	}
	const size = 8 << 20
	plain := cityBytes(generate(t, Options{Size: size, Seed: 5}))
	skewed := generate(t, Options{Size: size, Seed: 5, NYCShare: 0.6})
	if d := math.Abs(float64(skewed.Bytes-size)) / size; d > 0.01 {
		t.Errorf("wrote %d bytes for Size %d: off by %.2f%%", skewed.Bytes, size, 100*d)
	}
	sk := cityBytes(skewed)
	if share := float64(sk["nyc"]) / float64(skewed.Bytes); math.Abs(share-0.6) > 0.02 {
		t.Errorf("nyc holds %.3f of the bytes, want 0.60", share)
	}
	if share := float64(plain["nyc"]) / float64(size); math.Abs(share-0.30) > 0.02 {
		t.Errorf("without NYCShare nyc holds %.3f of the bytes, want the fixed 0.30", share)
	}
	for _, c := range Cities()[1:] {
		// Each other city shrinks by the same factor, (1-0.6)/(1-0.3).
		got := float64(sk[c]) / float64(plain[c])
		if math.Abs(got-0.4/0.7) > 0.05 {
			t.Errorf("%s: %d bytes skewed vs %d plain, ratio %.3f, want %.3f", c, sk[c], plain[c], got, 0.4/0.7)
		}
	}
}

// TestPlanLarge plans (without writing) corpora up to the 20 GB the engine is tested on.
func TestPlanLarge(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{"bench 1 GiB", Options{Dir: "d", Size: 1 << 30}},
		{"20 GB", Options{Dir: "d", Size: 20_000_000_000}},
		{"20 GB in 1 GiB files", Options{Dir: "d", Size: 20_000_000_000, MaxFileSize: 1 << 30}},
		{"20 GB, NYC 60 %", Options{Dir: "d", Size: 20_000_000_000, NYCShare: 0.6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := tt.opt.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			plans := plan(opt)
			var sum int64
			paths := map[string]bool{}
			ids := map[string]map[int64]bool{}
			for _, p := range plans {
				sum += p.target
				if p.target > opt.MaxFileSize {
					t.Errorf("%s: target %d above MaxFileSize", p.path, p.target)
				}
				if p.f.json && p.target > max(opt.MaxFileSize/8, 1<<20) {
					t.Errorf("%s: JSON target %d above its cap", p.path, p.target)
				}
				if paths[p.path] {
					t.Errorf("%s planned twice", p.path)
				}
				paths[p.path] = true
				if ids[p.f.city] == nil {
					ids[p.f.city] = map[int64]bool{}
				}
				if ids[p.f.city][p.idOff] || p.idOff >= p.idStride {
					t.Errorf("%s: id offset %d of stride %d reused or out of range", p.path, p.idOff, p.idStride)
				}
				ids[p.f.city][p.idOff] = true
			}
			if d := math.Abs(float64(sum-opt.Size)) / float64(opt.Size); d > 0.001 {
				t.Errorf("planned %d bytes for %d", sum, opt.Size)
			}
		})
	}
}
