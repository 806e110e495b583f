package coordinator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/pgsink"
)

// Publication states of a Result.
const (
	Published   = "published"
	Unpublished = "unpublished"
)

// ErrUnpublished means a job committed its lake but could not publish its summaries to
// Postgres: the data is safe, and `coordinator publish` loads the summaries later.
var ErrUnpublished = errors.New("summaries unpublished")

// publish loads the summaries of the groups the job committed into the job's Postgres, and
// records the run. Postgres being unreachable is not a job failure: the lake, the source of
// truth, is committed, and the result says the summaries are unpublished.
func (d *driver) publish(ctx context.Context, m *lake.Manifest, started time.Time) {
	if d.spec.Output.Postgres == "" {
		return
	}
	d.enter("publish")
	run := pgsink.JobRun{
		ID: d.job, Name: d.spec.Name, Status: "succeeded", Started: started, Finished: time.Now(),
		RecordsIn: d.res.RecordsIn, RecordsOut: d.res.RecordsOut, RecordsRejected: d.res.Rejected,
		Duplicates: d.res.DuplicatesRemoved, Groups: d.res.Groups,
	}
	cfg := pgsink.DefaultConfig()
	if d.pubCfg != nil {
		cfg = *d.pubCfg
	}
	if cfg.Log == nil {
		cfg.Log = d.log
	}
	err := obs.Do(ctx, d.job, obs.KindPublish, func(ctx context.Context) error {
		return Publish(ctx, d.spec, d.store, m, run, &cfg)
	})
	err = redact(err, d.spec.Output.Postgres)
	if err != nil {
		d.res.Published = Unpublished
		d.res.Warnings = append(d.res.Warnings, fmt.Sprintf(
			"the lake is committed, but its summaries are not in Postgres (%v); publish them with: coordinator publish %s", err, d.spec.File))
		d.log.Warn("summaries unpublished", "err", err)
		return
	}
	d.res.Published = Published
	d.log.Info("summaries published", "groups", len(m.Groups))
}

// Publish loads the summaries of the groups that manifest m committed, from the lake of
// spec, into spec's Postgres (migrating it first), and records run. It is idempotent: the
// groups' rows are replaced in one transaction. cfg nil means pgsink.DefaultConfig.
func Publish(ctx context.Context, spec *jobs.Spec, store objstore.Store, m *lake.Manifest, run pgsink.JobRun, cfg *pgsink.Config) error {
	c := pgsink.DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	db, err := sql.Open("postgres", spec.Output.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	sink, err := pgsink.New(db, c)
	if err != nil {
		return err
	}
	if err := sink.Migrate(ctx); err != nil {
		return err
	}
	return sink.Publish(ctx, run, pgsink.ManifestGroups(m), pgsink.LakeLoader(ctx, store, spec.Output.Parquet))
}
