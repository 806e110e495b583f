package pgsink

import (
	"path/filepath"

	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// ReadSummaries reads the summary tables of group k from the lake at root
// (<root>/_summary/<city>/<yyyy>-<mm>/<table>.parquet, written by the reducers). Every table's
// file must exist: a reducer writes all four, empty ones included, so a missing file means the
// group was not committed.
func ReadSummaries(root string, k record.Key) (summary.Tables, error) {
	dir := filepath.Join(root, lake.SummaryPath(k))
	file := func(table string) string { return filepath.Join(dir, table+".parquet") }
	var t summary.Tables
	var err error
	if t.Monthly, err = lake.ReadParquet[summary.Monthly](file(summary.TableMonthly)); err != nil {
		return t, err
	}
	if t.AgencyDaily, err = lake.ReadParquet[summary.AgencyDaily](file(summary.TableAgencyDaily)); err != nil {
		return t, err
	}
	if t.Heat, err = lake.ReadParquet[summary.Heat](file(summary.TableHeat)); err != nil {
		return t, err
	}
	if t.Geo, err = lake.ReadParquet[summary.Geo](file(summary.TableGeo)); err != nil {
		return t, err
	}
	return t, nil
}

// LakeLoader is the LoadFunc that reads each group's summaries from the lake at root.
func LakeLoader(root string) LoadFunc {
	return func(k record.Key) (summary.Tables, error) { return ReadSummaries(root, k) }
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
