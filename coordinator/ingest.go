package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/journal"
	"github.com/ireports/ireports/socrata"
)

// Pull is what a run's pull of one source did, as the result reports it.
type Pull struct {
	Source    string  `json:"source"`
	Status    string  `json:"status"` // caught up, source unavailable, failed
	Records   int64   `json:"records"`
	Batches   int     `json:"batches"`
	Retries   int     `json:"retries"`
	Seconds   float64 `json:"seconds"`
	Watermark string  `json:"watermark"` // the watermark the pull ended at
}

// pullSources pulls every source of the job (the Pulling state; DESIGN: each page is stored
// as a raw batch before its watermark advances), so that the run's inputs — the batches no
// run has consumed yet — include everything the sources have updated since the last run.
// Each batch is journaled before its watermark advances, so that a restarted coordinator
// replays the pull instead of pulling again (replayPulls). When every source stays
// unavailable it returns errSourceUnavailable: the run ends SourceUnavailable.
func (d *driver) pullSources(ctx context.Context) error {
	var unavailable []string
	db, _, err := d.sink(ctx)
	if err != nil {
		return fmt.Errorf("watermarks: %w", err)
	}
	wm := socrata.NewPGWatermarks(db)
	replayed, err := d.replayPulls(ctx, wm)
	if err != nil {
		return err
	}
	if d.from != nil && d.from.plan != nil {
		// The pulls had ended before the restart (the plan is written after them): the
		// journaled plan reads what they stored, and the next run pulls what came since.
		for _, name := range slices.Sorted(maps.Keys(replayed)) {
			d.res.Pulls = append(d.res.Pulls, *replayed[name])
		}
		d.log.Info("resumed: the sources were pulled before the restart", "batches", len(d.from.batches))
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(d.spec.Sources)) {
		ss := d.spec.Sources[name]
		src := socrata.DefaultSource()
		src.Name, src.Endpoint, src.AppToken, src.Schema, src.Start, src.Raw = name, ss.Endpoint, ss.AppToken, ss.Schema, ss.Start, ss.Raw
		if ss.PageSize > 0 {
			src.PageSize = ss.PageSize
		}
		if ss.RetryFor > 0 {
			src.RetryFor = ss.RetryFor
		}
		if d.sourceTuning != nil {
			d.sourceTuning(&src)
		}
		src.Logger = d.log.With("source", name)
		src.Stored = d.journalBatch(name)
		res, err := socrata.Pull(ctx, src, wm, d.store)
		p := Pull{
			Source: name, Status: res.Status.String(), Records: res.Records, Batches: len(res.Batches),
			Retries: res.Retries, Seconds: res.Elapsed.Seconds(), Watermark: res.To.String(),
		}
		if r := replayed[name]; r != nil {
			// The batches pulled before the restart are part of this run's pull.
			p.Records, p.Batches = p.Records+r.Records, p.Batches+r.Batches
		}
		d.res.Pulls = append(d.res.Pulls, p)
		d.log.Info("pulled", "source", name, "status", res.Status, "records", res.Records, "batches", len(res.Batches), "err", RedactDSN(err, d.spec.Output.Postgres))
		if errors.Is(err, socrata.ErrSourceUnavailable) {
			// One city's API being down must not hold back the others: go on, and run with
			// what every source has stored (the pages this one stored before it went down
			// included); it catches up next time.
			unavailable = append(unavailable, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if err != nil {
			return fmt.Errorf("source %s: %w", name, RedactDSN(err, d.spec.Output.Postgres))
		}
	}
	switch {
	case len(unavailable) == len(d.spec.Sources):
		return fmt.Errorf("%w: %s", errSourceUnavailable, strings.Join(unavailable, "; "))
	case len(unavailable) > 0:
		d.res.Warnings = append(d.res.Warnings, SourceUnavailable.String()+": "+strings.Join(unavailable, "; ")+"; the next run catches up")
	}
	return nil
}

// batchRange is a SourceBatch record's watermark: the range (From, To] of the batch, so
// that a resumed run can finish the watermark's advance over it.
type batchRange struct {
	From socrata.Watermark `json:"from"`
	To   socrata.Watermark `json:"to"`
}

// pulledBeforeRestart is the status of a pull that a resumed run replayed from its journal.
const pulledBeforeRestart = "pulled before the restart"

// journalBatch returns the socrata.Source.Stored hook that journals source's batches (Sync:
// the record is durable before the watermark passes the batch), or nil for a run without a
// journal.
func (d *driver) journalBatch(source string) func(context.Context, socrata.Batch) error {
	if d.jr == nil {
		return nil
	}
	return func(ctx context.Context, b socrata.Batch) error {
		r, err := json.Marshal(batchRange{From: b.From, To: b.To})
		if err != nil {
			return fmt.Errorf("encode the watermark of batch %s: %w", b.Object, err)
		}
		return d.jr.sync(ctx, &journal.SourceBatch{Source: source, Object: b.Object, Records: int64(b.Records),
			Bytes: b.Bytes, SHA256: b.SHA256, Watermark: r})
	}
}

// replayPulls takes over the source batches that an earlier run of this job journaled: each
// must still be where it was stored (or in its source's consumed/ folder, when the crash
// came while the run was consuming), with its size and SHA-256, since the watermark has
// passed its records and nobody will pull them again. Then each source's watermark is
// advanced over its last journaled batch: the crash may have come between the record and
// the advance (socrata.Source.Stored), and the advance is a compare-and-set from the batch's
// start, so it happens once; a watermark that is neither at the batch's start nor at its end
// was moved by another pull, which fails the run. It returns what was pulled, by source.
func (d *driver) replayPulls(ctx context.Context, wm socrata.WatermarkStore) (map[string]*Pull, error) {
	if d.from == nil || len(d.from.batches) == 0 {
		return nil, nil
	}
	pulls := map[string]*Pull{}
	last := map[string]batchRange{}
	for _, b := range d.from.batches {
		ss := d.spec.Sources[b.Source]
		if ss == nil {
			return nil, fmt.Errorf("%w: batch %s of source %q: the job has no such source", ErrJournal, b.Object, b.Source)
		}
		var r batchRange
		if err := json.Unmarshal(b.Watermark, &r); err != nil || r.To.IsZero() {
			return nil, fmt.Errorf("%w: batch %s of source %s: bad watermark %s", ErrJournal, b.Object, b.Source, b.Watermark)
		}
		if err := d.checkBatch(ctx, ss, b); err != nil {
			return nil, err
		}
		last[b.Source] = r
		p := pulls[b.Source]
		if p == nil {
			p = &Pull{Source: b.Source, Status: pulledBeforeRestart}
			pulls[b.Source] = p
		}
		p.Records += b.Records
		p.Batches++
		p.Watermark = r.To.String()
	}
	for _, name := range slices.Sorted(maps.Keys(last)) {
		r := last[name]
		if err := wm.Advance(ctx, name, r.From, r.To); err != nil {
			return nil, fmt.Errorf("source %s: the journal's last batch ends at %v: %w", name, r.To, RedactDSN(err, d.spec.Output.Postgres))
		}
	}
	d.log.Info("resumed: source batches replayed from the journal", "batches", len(d.from.batches), "sources", len(last))
	return pulls, nil
}

// checkBatch finds journaled batch b where it was stored, or in its source's consumed/
// folder, and checks its size and SHA-256.
func (d *driver) checkBatch(ctx context.Context, ss *jobs.SourceSpec, b journal.SourceBatch) error {
	name := b.Object
	if _, err := d.store.Stat(ctx, name); errors.Is(err, fs.ErrNotExist) {
		if consumed, cerr := consumedName(ss, name); cerr == nil {
			if _, serr := d.store.Stat(ctx, consumed); serr == nil {
				name = consumed
			}
		}
	}
	rc, err := d.store.OpenRange(ctx, name, 0, -1)
	if err != nil {
		return fmt.Errorf("source %s: batch %s was pulled before the restart but cannot be read, and the watermark is past its %d records (restore it, or move the watermark back in ingest_watermarks): %w",
			b.Source, b.Object, b.Records, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("source %s: read batch %s: %w", b.Source, name, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != b.Bytes || b.SHA256 != "" && sum != b.SHA256 {
		return fmt.Errorf("source %s: batch %s changed since it was pulled: %d bytes with SHA-256 %s, the journal says %d bytes with %s",
			b.Source, name, n, sum, b.Bytes, b.SHA256)
	}
	return nil
}

// consumedName is where consumeBatches moves batch file of source ss.
func consumedName(ss *jobs.SourceSpec, file string) (string, error) {
	dir, err := ss.ConsumedDir()
	if err != nil {
		return "", err
	}
	return dir + "/" + path.Base(file), nil
}

// consumeBatches moves the source batches the committed run read to their source's
// consumed/ folder (the Consuming state), so the next run reads only newer ones. A crash
// before this only makes the next run read them again, which merging makes harmless.
func (d *driver) consumeBatches(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	for _, m := range d.plan.Maps {
		in := d.spec.Inputs[m.Input]
		if in.Source == "" {
			continue
		}
		dst, err := consumedName(d.spec.Sources[in.Source], m.File)
		if err != nil {
			return fmt.Errorf("consume batch: %w", err)
		}
		if err := d.store.Rename(ctx, m.File, dst); err != nil {
			if _, serr := d.store.Stat(ctx, dst); d.from != nil && errors.Is(err, fs.ErrNotExist) && serr == nil {
				continue // consumed before the restart
			}
			return fmt.Errorf("consume batch: %w", err)
		}
	}
	return nil
}
