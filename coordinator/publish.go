package coordinator

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ireports/ireports/internal/obs"
	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/pgsink"
)

// Publication states of a Result.
const (
	Published   = "published"
	Unpublished = "unpublished"
)

// publish loads the summaries of the groups the job committed into the job's Postgres (the
// Publishing state), and records the run. Postgres being unreachable is not a job failure:
// the lake, the source of truth, is committed, and the result says the summaries are
// unpublished.
func (d *driver) publish(ctx context.Context, m *lake.Manifest) {
	run := pgsink.JobRun{
		ID: d.job, Name: d.spec.Name, Status: Succeeded.String(), Started: d.started, Finished: time.Now(),
		RecordsIn: d.res.RecordsIn, RecordsOut: d.res.RecordsOut, RecordsRejected: d.res.Rejected,
		Duplicates: d.res.DuplicatesRemoved, Groups: d.res.Groups,
	}
	err := obs.Do(ctx, d.job, obs.KindPublish, func(ctx context.Context) error {
		_, sink, err := d.sink(ctx)
		if err != nil {
			return err
		}
		return RedactDSN(sink.PublishEncoded(ctx, run, pgsink.ManifestGroups(m),
			pgsink.LakeEncoded(ctx, d.store, d.spec.Output.Parquet, m), pgsink.LakeLoader(ctx, d.store, d.spec.Output.Parquet, m)), d.spec.Output.Postgres)
	})
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

// sink returns the run's Postgres, opened and migrated on first use and closed by RunJob,
// so that a run that pulls sources and then publishes migrates once.
func (d *driver) sink(ctx context.Context) (*sql.DB, *pgsink.Sink, error) {
	if d.pg == nil {
		cfg := pgsink.DefaultConfig()
		if d.pubCfg != nil {
			cfg = *d.pubCfg
		}
		if cfg.Log == nil {
			cfg.Log = d.sinkLog
		}
		if d.pubCfg == nil {
			cfg.Readers = pgsink.LakeReaders(d.spec.Output.Parquet)
		}
		cfg.Progress = d.publishProgress(cfg.Progress)
		db, sink, err := OpenSink(ctx, d.spec.Output.Postgres, cfg)
		if err != nil {
			return nil, nil, err
		}
		d.pgdb, d.pg = db, sink
	}
	return d.pgdb, d.pg, nil
}

// publishProgress returns a pgsink progress callback that shows the publish in the run's
// progress, then calls next, if set.
func (d *driver) publishProgress(next func(pgsink.PublishProgress)) func(pgsink.PublishProgress) {
	return func(p pgsink.PublishProgress) {
		d.prog.update(func(pr *Progress) { pr.SetPublish(p) })
		if next != nil {
			next(p)
		}
	}
}

// SetPublish sets pr's publish fields from a publish's progress report.
func (pr *Progress) SetPublish(p pgsink.PublishProgress) {
	pr.PublishGroups, pr.PublishGroupsTotal, pr.PublishRows = p.Groups, p.GroupsTotal, p.Rows
	pr.PublishFinishing = p.Finishing
}

// OpenSink opens the database at dsn and brings its schema up to date. Its errors do not
// show the URL's password.
func OpenSink(ctx context.Context, dsn string, cfg pgsink.Config) (*sql.DB, *pgsink.Sink, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, nil, RedactDSN(err, dsn)
	}
	sink, err := pgsink.New(db, cfg)
	if err == nil {
		err = sink.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, nil, RedactDSN(err, dsn)
	}
	return db, sink, nil
}

// RedactDSN removes the password of the database URL dsn from err's message: drivers quote
// the URL in some errors, and errors end up in results, logs and the job history.
func RedactDSN(err error, dsn string) error {
	if err == nil || dsn == "" {
		return err
	}
	msg := err.Error()
	pw := ""
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		pw, _ = u.User.Password()
	} else if i := strings.Index(dsn, "://"); i >= 0 {
		// An unparsable URL: the password is between the user's ':' and the '@'.
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				pw = dsn[i+3+c+1 : at]
			}
		}
	} else if j := strings.Index(dsn, "password="); j >= 0 {
		pw = strings.Fields(dsn[j+len("password="):] + " ")[0]
	}
	if pw == "" || !strings.Contains(msg, pw) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(msg, pw, "xxxxx"), err: err}
}

// redactedError is an error whose message hides a secret; errors.Is still sees the cause.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
