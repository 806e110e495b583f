package coordinator

import (
	"context"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/objstore"
)

// A dry run (`coordinator plan`, in the command line's package) plans a job file by file
// with PlanJob's own code, to report every problem rather than the first. These are the
// pieces of PlanJob it uses.

// ListInput resolves an input path to its files as PlanJob does: a file, a directory (its
// files, recursively, skipping hidden and underscore-prefixed names) or a glob, sorted by
// name. An error wrapping fs.ErrNotExist says nothing is there.
func ListInput(ctx context.Context, store objstore.Store, path string) ([]objstore.ObjectInfo, error) {
	return expand(ctx, store, path)
}

// FilePlan is what Plan.AddFile learned of a file.
type FilePlan struct {
	Header   []string           // a CSV file's header (nil for SODA JSON)
	Dialects []jobs.TimeDialect // detected for the schema's "auto" time fields
}

// AddFile cuts file fi of input i into map tasks of job and appends them to p, as PlanJob
// does for each file. It returns the file's CSV header also when the input's schema does
// not bind to it, so that a dry run can show why, and the dialects it detected.
func (p *Plan) AddFile(ctx context.Context, store objstore.Store, spec *jobs.Spec, job string, i int, fi objstore.ObjectInfo) (FilePlan, error) {
	pf, err := p.addFile(ctx, store, spec, job, i, fi)
	return FilePlan{Header: pf.header, Dialects: pf.dialects}, err
}
