package lake

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// SummaryTables names the summary datasets, in the order a reducer writes them. Each is a
// directory of the summaries root, partitioned like the lake:
// <summaries>/<table>/city=<c>/year=<yyyy>/month=<mm>/part-00000.parquet.
var SummaryTables = []string{summary.TableMonthly, summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo}

// SummaryGroupPath is the directory of group k in the summary dataset table, relative to the
// summaries root.
func SummaryGroupPath(table string, k record.Key) string {
	return filepath.Join(table, GroupPath(k))
}

// The summary datasets' Parquet rows. As in the lake, the partition columns (city, year,
// month) are in the path, not in the files; readers with Hive partitioning add them back.

// MonthlyRow is a request_monthly row.
type MonthlyRow struct {
	RequestType           string   `parquet:"request_type,dict"`
	Agency                string   `parquet:"agency,dict"`
	Requests              int64    `parquet:"requests"`
	Closed                int64    `parquet:"closed"`
	Open                  int64    `parquet:"open"`
	MedianResolutionHours *float64 `parquet:"median_resolution_hours,optional"`
	P90ResolutionHours    *float64 `parquet:"p90_resolution_hours,optional"`
}

// AgencyDailyRow is an agency_daily row; Day is the local date the requests were opened.
type AgencyDailyRow struct {
	Agency                string   `parquet:"agency,dict"`
	Day                   int32    `parquet:"day,date"`
	Opened                int64    `parquet:"opened"`
	Closed                int64    `parquet:"closed"`
	MedianResolutionHours *float64 `parquet:"median_resolution_hours,optional"`
}

// HeatRow is a request_heat row.
type HeatRow struct {
	Agency   string `parquet:"agency,dict"`
	Weekday  int32  `parquet:"weekday"`
	Hour     int32  `parquet:"hour"`
	Requests int64  `parquet:"requests"`
}

// GeoRow is a request_geo row.
type GeoRow struct {
	RequestType string  `parquet:"request_type,dict"`
	LatBin      float64 `parquet:"lat_bin"`
	LonBin      float64 `parquet:"lon_bin"`
	Requests    int64   `parquet:"requests"`
}

// StageSummaries encodes group k's summary tables, one file per dataset (empty tables
// included, so that a reader can tell an empty table from a group that was never committed),
// and stages them into s, a stage of the summaries root.
func StageSummaries(ctx context.Context, s *Stage, k record.Key, t summary.Tables) ([]File, error) {
	var files []File
	stage := func(table string, write func(rel string) (File, error)) error {
		f, err := write(filepath.Join(SummaryGroupPath(table, k), PartFile(0)))
		files = append(files, f)
		return err
	}
	err := errors.Join(
		stage(summary.TableMonthly, func(rel string) (File, error) {
			return StageParquet(ctx, s, rel, convert(t.Monthly, func(r *summary.Monthly) MonthlyRow {
				return MonthlyRow{RequestType: r.RequestType, Agency: r.Agency, Requests: r.Requests, Closed: r.Closed, Open: r.Open,
					MedianResolutionHours: r.MedianResolutionHours, P90ResolutionHours: r.P90ResolutionHours}
			}))
		}),
		stage(summary.TableAgencyDaily, func(rel string) (File, error) {
			return StageParquet(ctx, s, rel, convert(t.AgencyDaily, func(r *summary.AgencyDaily) AgencyDailyRow {
				return AgencyDailyRow{Agency: r.Agency, Day: r.Day, Opened: r.Opened, Closed: r.Closed, MedianResolutionHours: r.MedianResolutionHours}
			}))
		}),
		stage(summary.TableHeat, func(rel string) (File, error) {
			return StageParquet(ctx, s, rel, convert(t.Heat, func(r *summary.Heat) HeatRow {
				return HeatRow{Agency: r.Agency, Weekday: r.Weekday, Hour: r.Hour, Requests: r.Requests}
			}))
		}),
		stage(summary.TableGeo, func(rel string) (File, error) {
			return StageParquet(ctx, s, rel, convert(t.Geo, func(r *summary.Geo) GeoRow {
				return GeoRow{RequestType: r.RequestType, LatBin: r.LatBin, LonBin: r.LonBin, Requests: r.Requests}
			}))
		}),
	)
	return files, err
}

// ReadSummaries reads group k's summary tables from the summary datasets at root, on local
// disk or S3. Every table's file must exist (a reducer writes all four): a missing one
// means the group was not committed, and the error wraps fs.ErrNotExist.
func ReadSummaries(ctx context.Context, store objstore.Store, root string, k record.Key) (summary.Tables, error) {
	var t summary.Tables
	if _, err := objstore.Join(root, GroupPath(k)); err != nil {
		return t, err
	}
	// root and the group's path are checked, and the tables are constants: these joins
	// cannot fail.
	file := func(table string) string {
		name, _ := objstore.Join(root, SummaryGroupPath(table, k), PartFile(0))
		return name
	}
	city, year, month := k.City, int32(k.Year), int32(k.Month)
	monthly, err := ReadParquetFrom[MonthlyRow](ctx, store, file(summary.TableMonthly))
	if err != nil {
		return t, err
	}
	t.Monthly = convert(monthly, func(r *MonthlyRow) summary.Monthly {
		return summary.Monthly{City: city, Year: year, Month: month, RequestType: r.RequestType, Agency: r.Agency,
			Requests: r.Requests, Closed: r.Closed, Open: r.Open, MedianResolutionHours: r.MedianResolutionHours, P90ResolutionHours: r.P90ResolutionHours}
	})
	daily, err := ReadParquetFrom[AgencyDailyRow](ctx, store, file(summary.TableAgencyDaily))
	if err != nil {
		return t, err
	}
	t.AgencyDaily = convert(daily, func(r *AgencyDailyRow) summary.AgencyDaily {
		return summary.AgencyDaily{City: city, Agency: r.Agency, Day: r.Day, Opened: r.Opened, Closed: r.Closed, MedianResolutionHours: r.MedianResolutionHours}
	})
	heat, err := ReadParquetFrom[HeatRow](ctx, store, file(summary.TableHeat))
	if err != nil {
		return t, err
	}
	t.Heat = convert(heat, func(r *HeatRow) summary.Heat {
		return summary.Heat{City: city, Agency: r.Agency, Year: year, Month: month, Weekday: r.Weekday, Hour: r.Hour, Requests: r.Requests}
	})
	geo, err := ReadParquetFrom[GeoRow](ctx, store, file(summary.TableGeo))
	if err != nil {
		return t, err
	}
	t.Geo = convert(geo, func(r *GeoRow) summary.Geo {
		return summary.Geo{City: city, Year: year, Month: month, RequestType: r.RequestType, LatBin: r.LatBin, LonBin: r.LonBin, Requests: r.Requests}
	})
	return t, nil
}

func convert[From, To any](rows []From, f func(*From) To) []To {
	if len(rows) == 0 {
		return nil
	}
	out := make([]To, len(rows))
	for i := range rows {
		out[i] = f(&rows[i])
	}
	return out
}
