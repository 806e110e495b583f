package pgsink

import (
	"context"

	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// ReadSummaries reads the summary tables of group k from the lake at root
// (<root>/_summary/<city>/<yyyy>-<mm>/<table>.parquet, written by the reducers). Every table's
// file must exist: a reducer writes all four, empty ones included, so a missing file means the
// group was not committed.
func ReadSummaries(ctx context.Context, store objstore.Store, root string, k record.Key) (summary.Tables, error) {
	var t summary.Tables
	dir, err := objstore.Join(root, lake.SummaryPath(k))
	if err != nil {
		return t, err
	}
	// The table names are constants and dir is checked, so these joins cannot fail.
	file := func(table string) string { return dir + "/" + table + ".parquet" }
	if t.Monthly, err = lake.ReadParquetFrom[summary.Monthly](ctx, store, file(summary.TableMonthly)); err != nil {
		return t, err
	}
	if t.AgencyDaily, err = lake.ReadParquetFrom[summary.AgencyDaily](ctx, store, file(summary.TableAgencyDaily)); err != nil {
		return t, err
	}
	if t.Heat, err = lake.ReadParquetFrom[summary.Heat](ctx, store, file(summary.TableHeat)); err != nil {
		return t, err
	}
	if t.Geo, err = lake.ReadParquetFrom[summary.Geo](ctx, store, file(summary.TableGeo)); err != nil {
		return t, err
	}
	return t, nil
}

// LakeLoader is the LoadFunc that reads each group's summaries from the lake at root, on
// local disk or S3.
func LakeLoader(ctx context.Context, store objstore.Store, root string) LoadFunc {
	return func(k record.Key) (summary.Tables, error) { return ReadSummaries(ctx, store, root, k) }
}

// ManifestGroups lists the groups a _SUCCESS manifest committed: what `coordinator publish`
// passes to Publish.
func ManifestGroups(m *lake.Manifest) []record.Key {
	keys := make([]record.Key, len(m.Groups))
	for i, g := range m.Groups {
		keys[i] = record.Key{City: g.City, Year: g.Year, Month: g.Month}
	}
	return keys
}
