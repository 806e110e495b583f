package worker

import (
	"context"
	"fmt"

	"github.com/ireports/ireports/jobs"
	"github.com/ireports/ireports/mapinput"
	"github.com/ireports/ireports/task"
)

// dialectSchema returns the schema that t's records are normalized with: the input's, with
// the dialects of its "auto" time fields, taken from the task or, when it carries none,
// detected from the file.
func dialectSchema(ctx context.Context, env Env, schema *jobs.Schema, t task.Map) (*jobs.Schema, error) {
	if !schema.NeedsDetection() {
		return schema, nil
	}
	layouts := t.TimeLayouts
	if layouts == nil {
		ds, err := mapinput.DetectDialects(ctx, env.Store, schema, t)
		if err != nil {
			return nil, err
		}
		layouts = jobs.DialectLayouts(ds)
	}
	s, err := schema.WithDialects(layouts)
	if err != nil {
		return nil, task.Fatal(fmt.Errorf("%s: %w", t.File, err))
	}
	return s, nil
}
