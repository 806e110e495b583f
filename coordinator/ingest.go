package coordinator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

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
// When every source stays unavailable it returns errSourceUnavailable: the run ends
// SourceUnavailable.
func (d *driver) pullSources(ctx context.Context) error {
	var unavailable []string
	db, _, err := d.sink(ctx)
	if err != nil {
		return fmt.Errorf("watermarks: %w", err)
	}
	wm := socrata.NewPGWatermarks(db)
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
		res, err := socrata.Pull(ctx, src, wm, d.store)
		d.res.Pulls = append(d.res.Pulls, Pull{
			Source: name, Status: res.Status.String(), Records: res.Records, Batches: len(res.Batches),
			Retries: res.Retries, Seconds: res.Elapsed.Seconds(), Watermark: res.To.String(),
		})
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
		consumed, err := d.spec.Sources[in.Source].ConsumedDir()
		if err != nil {
			return fmt.Errorf("consume batch: %w", err)
		}
		dst := consumed + "/" + path.Base(m.File)
		if err := d.store.Rename(ctx, m.File, dst); err != nil {
			return fmt.Errorf("consume batch: %w", err)
		}
	}
	return nil
}
