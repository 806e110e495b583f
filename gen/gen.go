package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Errors returned by Generate. Write and create failures are returned wrapped, naming
// the file.
var (
	// ErrInvalidOptions reports an Options value Generate cannot honour.
	ErrInvalidOptions = errors.New("gen: invalid options")
	// ErrUnknownCity reports a name in Options.Cities that has no built-in model.
	ErrUnknownCity = errors.New("gen: unknown city")
)

// Defaults applied by Generate to zero Options fields.
const (
	DefaultBadRate     = 0.002
	DefaultDupRate     = 0.01
	DefaultMaxFileSize = 256 << 20
	// MinMaxFileSize is the smallest MaxFileSize accepted; smaller files would be mostly
	// header.
	MinMaxFileSize = 16 << 10
)

// Options says what to generate. The zero value of every field but Dir and Size selects
// its default.
type Options struct {
	Dir  string // output directory; files go under Dir/<city>/
	Size int64  // total bytes to write, approximately (±1%), split across cities by a fixed weighting
	Seed int64
	// Cities to generate, from Cities(); nil or empty means all of them.
	Cities []string
	// BadRate is the share of rows that are injected rejects. 0 means DefaultBadRate; a
	// negative value means none.
	BadRate float64
	// DupRate is the share of requests written twice (open, then closed later in the same
	// file). 0 means DefaultDupRate; a negative value means none.
	DupRate float64
	// MaxFileSize caps each file, in bytes (0: DefaultMaxFileSize), so that a large
	// corpus is many files like real exports. SODA JSON files are capped at an eighth of
	// it (at least 1 MiB): the engine reads a JSON file as one task.
	MaxFileSize int64
	// NYCShare, when above 0, is NYC's share of Size (below 1); the other selected cities
	// split the rest in their fixed proportions. 0 keeps the fixed weighting (NYC 30 % of
	// ten cities), so existing corpora stay byte-identical. make bench-scale sets it to give
	// the skew of the real exports, where NYC is far larger than any other city.
	NYCShare float64
}

// Stats describes what Generate wrote. A normalizer reading the files sees
// Records[c] + the sum of Bad[c] records of city c, rejects exactly Bad[c], and after
// de-duplication keeps Records[c] - Duplicates[c] requests.
type Stats struct {
	Files      []string                    // every file written, in plan order (city, format, index)
	Bytes      int64                       // total bytes written
	Records    map[string]int64            // city → valid rows, duplicate versions included
	Bad        map[string]map[string]int64 // city → kind (BadMissingID, …) → injected rejects
	Duplicates map[string]int64            // city → later versions of already written requests
}

// Cities returns the names of the built-in cities, in plan order.
func Cities() []string { return slices.Clone(cityOrder) }

// withDefaults validates opt and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("%w: Dir is empty", ErrInvalidOptions)
	}
	if o.Size <= 0 {
		return o, fmt.Errorf("%w: Size %d is not positive", ErrInvalidOptions, o.Size)
	}
	switch {
	case o.BadRate == 0:
		o.BadRate = DefaultBadRate
	case o.BadRate < 0:
		o.BadRate = 0
	case o.BadRate > 0.5:
		return o, fmt.Errorf("%w: BadRate %g above 0.5", ErrInvalidOptions, o.BadRate)
	}
	switch {
	case o.DupRate == 0:
		o.DupRate = DefaultDupRate
	case o.DupRate < 0:
		o.DupRate = 0
	case o.DupRate > 0.5:
		return o, fmt.Errorf("%w: DupRate %g above 0.5", ErrInvalidOptions, o.DupRate)
	}
	if o.MaxFileSize == 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxFileSize < MinMaxFileSize {
		return o, fmt.Errorf("%w: MaxFileSize %d below %d", ErrInvalidOptions, o.MaxFileSize, MinMaxFileSize)
	}
	if o.NYCShare < 0 || o.NYCShare >= 1 || o.NYCShare != o.NYCShare {
		return o, fmt.Errorf("%w: NYCShare %g outside [0, 1)", ErrInvalidOptions, o.NYCShare)
	}
	if o.NYCShare > 0 && len(o.Cities) != 0 && (!slices.Contains(o.Cities, "nyc") || len(o.Cities) == 1) {
		return o, fmt.Errorf("%w: NYCShare needs nyc and another city in Cities %v", ErrInvalidOptions, o.Cities)
	}
	if len(o.Cities) == 0 {
		o.Cities = Cities()
		return o, nil
	}
	// Plan order is fixed whatever order the caller lists cities in.
	var cs []string
	for _, c := range cityOrder {
		if slices.Contains(o.Cities, c) {
			cs = append(cs, c)
		}
	}
	for _, c := range o.Cities {
		if !slices.Contains(cityOrder, c) {
			return o, fmt.Errorf("%w: %q (built in: %v)", ErrUnknownCity, c, cityOrder)
		}
	}
	o.Cities = cs
	return o, nil
}

// idBase is where each city's numeric request ids start, near the real ids' magnitudes.
var idBase = map[string]int64{"nyc": 10_000_000, "la": 800_000_000, "sf": 200_000, "boston": 60_000, "baltimore": 100_000,
	"chicago": 1, "kansas_city": 2_007_000_000, "dc": 1, "st_louis": 200_000, "austin": 1}

// filePlan is one file to write. Everything that decides its bytes is in here.
type filePlan struct {
	f      *format
	path   string
	target int64 // bytes
	seed   uint64
	// Ids are id = idBase + k*idStride + idOff for the file's k-th request: interleaved
	// across the city's files, so they are unique whatever each file's row count.
	idBase, idStride, idOff int64
}

func plan(o Options) []filePlan {
	var total, others float64
	for _, c := range o.Cities {
		total += cityWeight[c]
		if c != "nyc" {
			others += cityWeight[c]
		}
	}
	var plans []filePlan
	for _, c := range o.Cities {
		first := len(plans)
		cityBytes := float64(o.Size) * cityWeight[c] / total
		switch {
		case o.NYCShare > 0 && c == "nyc":
			cityBytes = float64(o.Size) * o.NYCShare
		case o.NYCShare > 0:
			cityBytes = float64(o.Size) * (1 - o.NYCShare) * cityWeight[c] / others
		}
		for fi, f := range formats {
			if f.city != c {
				continue
			}
			bytes := int64(cityBytes * f.share)
			maxFile := o.MaxFileSize
			if f.json {
				maxFile = max(o.MaxFileSize/8, min(o.MaxFileSize, 1<<20))
			}
			n := max((bytes+maxFile-1)/maxFile, 1)
			for i := range n {
				target := bytes / n
				if i == n-1 {
					target = bytes - target*(n-1)
				}
				plans = append(plans, filePlan{
					f:      f,
					path:   filepath.Join(o.Dir, c, fmt.Sprintf("%s-%04d.%s", f.name, i, f.ext)),
					target: target,
					seed:   fileSeed(o.Seed, c, fi, i),
					idBase: idBase[c],
				})
			}
		}
		for i := first; i < len(plans); i++ {
			plans[i].idStride = int64(len(plans) - first)
			plans[i].idOff = int64(i - first)
		}
	}
	return plans
}

// fileSeed derives a file's PRNG seed from the corpus seed and the file's identity only.
func fileSeed(seed int64, city string, format int, index int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(city))
	x := uint64(seed) ^ h.Sum64()
	x = splitmix(x + uint64(format)*0x9e3779b97f4a7c15)
	return splitmix(x + uint64(index))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// fileResult is what one file contributed to Stats.
type fileResult struct {
	bytes   int64
	records int64
	dups    int64
	bad     [badQuote + 1]int64
}

// Generate writes the corpus described by opt and returns what it wrote. Files are
// written by GOMAXPROCS goroutines; each file's bytes depend only on opt and the file's
// identity. On cancellation Generate stops within a few thousand rows and returns an
// error wrapping ctx.Err().
func Generate(ctx context.Context, opt Options) (Stats, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	for _, c := range opt.Cities {
		if err := os.MkdirAll(filepath.Join(opt.Dir, c), 0o755); err != nil {
			return Stats{}, fmt.Errorf("gen: %w", err)
		}
	}
	plans := plan(opt)
	results := make([]fileResult, len(plans))

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	workers := min(runtime.GOMAXPROCS(0), len(plans))
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plans) || ctx.Err() != nil {
					return
				}
				res, err := writeFile(ctx, opt, &plans[i])
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				results[i] = res
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return Stats{}, firstErr
	}
	if err := parent.Err(); err != nil {
		// Workers stop quietly between files; the corpus is incomplete all the same.
		return Stats{}, fmt.Errorf("gen: %w", err)
	}

	st := Stats{
		Records:    map[string]int64{},
		Bad:        map[string]map[string]int64{},
		Duplicates: map[string]int64{},
	}
	for _, c := range opt.Cities {
		st.Records[c] = 0
		st.Duplicates[c] = 0
		st.Bad[c] = map[string]int64{BadMissingID: 0, BadDate: 0, BadRagged: 0, BadQuote: 0}
	}
	for i, p := range plans {
		r := results[i]
		c := p.f.city
		st.Files = append(st.Files, p.path)
		st.Bytes += r.bytes
		st.Records[c] += r.records
		st.Duplicates[c] += r.dups
		for k := badMissingID; k <= badQuote; k++ {
			st.Bad[c][k.String()] += r.bad[k]
		}
	}
	return st, nil
}

// pendingUpdate is a duplicated request waiting for its closed version to be written.
type pendingUpdate struct {
	r   request
	due int64 // row number at which to write it
}

// writeFile writes one planned file.
func writeFile(ctx context.Context, opt Options, p *filePlan) (res fileResult, err error) {
	f, err := os.Create(p.path)
	if err != nil {
		return res, fmt.Errorf("gen: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("gen: close %s: %w", p.path, cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	res, err = generateFile(ctx, opt, p, bw)
	if err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("gen: write %s: %w", p.path, err)
	}
	return res, nil
}

// generateFile writes the rows of p to bw. Errors name p.path.
func generateFile(ctx context.Context, opt Options, p *filePlan, bw io.Writer) (res fileResult, err error) {
	src := rand.NewPCG(p.seed, p.seed^0xda942042e4dd58b5)
	auxSrc := rand.NewPCG(0, 0)
	g := &fileGen{
		f:   p.f,
		m:   p.f.model,
		rng: rand.New(src),
		aux: rand.New(auxSrc),
		src: auxSrc,
		tm: timeModel{
			from: daysFromCivil(p.f.years[0], 1, 1),
			to:   daysFromCivil(p.f.years[1]+1, 1, 1),
		},
	}
	g.w = rowWriter{q: p.f.q, eol: p.f.eol, json: p.f.json, buf: make([]byte, 0, 4096)}
	if p.f.json {
		g.w.keys = nycKeys
	}
	kinds := []badKind{badMissingID, badDate, badRagged, badQuote}
	if p.f.json {
		kinds = kinds[:2] // a JSON file cannot hold a ragged row or a stray quote and stay JSON
	}

	write := func(b []byte) error {
		res.bytes += int64(len(b))
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("gen: write %s at offset %d: %w", p.path, res.bytes-int64(len(b)), err)
		}
		return nil
	}
	if p.f.json {
		err = write([]byte("["))
	} else {
		err = write([]byte(p.f.header))
	}
	if err != nil {
		return res, err
	}

	// Keep the wait of a duplicate's second version short relative to the file, so the
	// versions still pending when the byte target is reached add little.
	maxDelay := min(max(p.target/450/16, 1), 2000)
	var (
		pending []pendingUpdate
		k       int64 // requests drawn, the id sequence
		rows    int64
		r       request
	)
	emit := func(r *request) error {
		g.w.reset()
		if p.f.json {
			if rows > 0 {
				g.w.buf = append(g.w.buf, '\n', ',')
			}
			g.w.buf = append(g.w.buf, '{')
			g.w.n = 0
		}
		p.f.render(g, r)
		if p.f.json {
			g.w.buf = append(g.w.buf, '}')
		} else {
			if r.bad == badRagged {
				g.w.dropLastField()
			}
			g.w.endRecord()
		}
		switch {
		case r.bad != badNone:
			res.bad[r.bad]++
		case r.update:
			res.records++
			res.dups++
		default:
			res.records++
		}
		rows++
		return write(g.w.buf)
	}

	for res.bytes < p.target || rows == 0 || len(pending) > 0 {
		if rows&1023 == 0 && ctx.Err() != nil {
			return res, fmt.Errorf("gen: %s: %w", p.path, ctx.Err())
		}
		if len(pending) > 0 && (pending[0].due <= rows || res.bytes >= p.target) {
			u := pending[0].r
			pending = pending[1:]
			u.update, u.open = true, false
			u.closed = u.final
			u.updated = stamp{sec: u.final.sec + 30 + g.rng.Int64N(3600)}
			if err := emit(&u); err != nil {
				return res, err
			}
			continue
		}
		r = request{}
		g.draw(&r, p, k, opt, kinds)
		k++
		if r.bad == badNone && opt.DupRate > 0 && g.rng.Float64() < opt.DupRate {
			r.open = true
			r.updated = stamp{sec: r.created.sec + (r.final.sec-r.created.sec)/4}
			r.closed = stamp{}
			pending = append(pending, pendingUpdate{r: r, due: rows + 1 + g.rng.Int64N(maxDelay)})
		}
		if err := emit(&r); err != nil {
			return res, err
		}
	}
	if p.f.json {
		if err := write([]byte("]\n")); err != nil {
			return res, err
		}
	}
	return res, nil
}

// draw fills r with a new request: the k-th of the file.
func (g *fileGen) draw(r *request, p *filePlan, k int64, opt Options, kinds []badKind) {
	m, rng := g.m, g.rng
	r.id = p.idBase + k*p.idStride + p.idOff
	r.typ = &m.types[pick(rng, m.typeCum)]
	if len(r.typ.subs) > 0 {
		r.sub = r.typ.subs[rng.IntN(len(r.typ.subs))]
	}
	r.place = &m.places[pick(rng, m.placeCum)]
	switch u := rng.Float64(); {
	case u < m.noLocShare:
		r.loc = locNone
	case u < m.noLocShare+m.placeholder:
		r.loc = locPlaceholder
	default:
		r.loc = locPoint
		r.lat, r.lon = m.point(rng, r.place)
	}
	r.channel = m.channels[pick(rng, m.chCum)]
	r.created = g.tm.created(rng, r.typ.night)
	dur := duration(rng, r.typ.median, m.sigmaLog)
	r.final = stamp{sec: r.created.sec + dur}
	// A request whose closing would fall well after the export's end is still open.
	if rng.Float64() < m.openShare || r.final.sec > g.tm.to*86400+30*86400 {
		r.open = true
		r.updated = stamp{sec: r.created.sec + rng.Int64N(dur/2+1)}
	} else {
		r.closed = r.final
		r.updated = stamp{sec: r.final.sec + rng.Int64N(600)}
	}
	r.aux = rng.Uint64()
	if opt.BadRate > 0 && rng.Float64() < opt.BadRate {
		r.bad = kinds[rng.IntN(len(kinds))]
		if r.bad == badDate {
			r.badText = badDates[rng.IntN(len(badDates))]
		}
	}
}
