package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/ireports/ireports/objstore"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// SummaryTables names the summary datasets, in the order a reducer writes them. Each is a
// directory of the summaries root, partitioned like the lake:
// <summaries>/<table>/city=<c>/year=<yyyy>/month=<mm>/part-00000.parquet.
var SummaryTables = []string{summary.TableMonthly, summary.TableAgencyDaily, summary.TableHeat, summary.TableGeo}

// PublishDir is the directory of the summaries root that holds each group's publish file: the
// group's summary rows as its reducer encoded them for the PostgreSQL publish (package
// pgsink/pgcopy), so that the publish sends them as they are instead of reading the four
// Parquet files back and encoding their rows. It is a copy of the summary datasets derived for
// the publish alone, which uses a group's file only where the run's manifest lists it; readers
// of the datasets do not see it (Hive-partitioned readers skip names that begin with "_").
const PublishDir = "_publish"

// PublishFile is group k's publish file, relative to the summaries root.
func PublishFile(k record.Key) string {
	return filepath.Join(PublishDir, GroupPath(k), "part-00000.pgcopy")
}

// StagePublishFile stages data, group k's publish file, into s, a stage of the summaries root.
func StagePublishFile(ctx context.Context, s *Stage, k record.Key, data []byte) (File, error) {
	rel := PublishFile(k)
	f, err := s.Put(ctx, rel, data)
	if err != nil {
		return f, fmt.Errorf("write %s: %w", rel, err)
	}
	return f, nil
}

// summaryDirs are the directories of the summaries root that hold a directory per group: the
// summary datasets and the publish files.
var summaryDirs = append(slices.Clone(SummaryTables), PublishDir)

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
	monthly, err := readSummaryFile(ctx, store, file(summary.TableMonthly), monthlyColumns)
	if err != nil {
		return t, err
	}
	t.Monthly = convert(monthly, func(r *MonthlyRow) summary.Monthly {
		return summary.Monthly{City: city, Year: year, Month: month, RequestType: r.RequestType, Agency: r.Agency,
			Requests: r.Requests, Closed: r.Closed, Open: r.Open, MedianResolutionHours: r.MedianResolutionHours, P90ResolutionHours: r.P90ResolutionHours}
	})
	daily, err := readSummaryFile(ctx, store, file(summary.TableAgencyDaily), dailyColumns)
	if err != nil {
		return t, err
	}
	t.AgencyDaily = convert(daily, func(r *AgencyDailyRow) summary.AgencyDaily {
		return summary.AgencyDaily{City: city, Agency: r.Agency, Day: r.Day, Opened: r.Opened, Closed: r.Closed, MedianResolutionHours: r.MedianResolutionHours}
	})
	heat, err := readSummaryFile(ctx, store, file(summary.TableHeat), heatColumns)
	if err != nil {
		return t, err
	}
	t.Heat = convert(heat, func(r *HeatRow) summary.Heat {
		return summary.Heat{City: city, Agency: r.Agency, Year: year, Month: month, Weekday: r.Weekday, Hour: r.Hour, Requests: r.Requests}
	})
	geo, err := readSummaryFile(ctx, store, file(summary.TableGeo), geoColumns)
	if err != nil {
		return t, err
	}
	t.Geo = convert(geo, func(r *GeoRow) summary.Geo {
		return summary.Geo{City: city, Year: year, Month: month, RequestType: r.RequestType, LatBin: r.LatBin, LonBin: r.LonBin, Requests: r.Requests}
	})
	return t, nil
}

// summaryColumn is one column of a summary dataset's rows of type T: its name and physical
// type in the files, and how a value of it is stored into a row.
type summaryColumn[T any] struct {
	name string
	kind parquet.Kind
	set  func(row *T, v parquet.Value, text func([]byte) string)
}

// The columns of the summary datasets, as StageSummaries writes them (the row types' tags).
var (
	monthlyColumns = []summaryColumn[MonthlyRow]{
		{"request_type", parquet.ByteArray, func(r *MonthlyRow, v parquet.Value, text func([]byte) string) { r.RequestType = text(v.ByteArray()) }},
		{"agency", parquet.ByteArray, func(r *MonthlyRow, v parquet.Value, text func([]byte) string) { r.Agency = text(v.ByteArray()) }},
		{"requests", parquet.Int64, func(r *MonthlyRow, v parquet.Value, _ func([]byte) string) { r.Requests = v.Int64() }},
		{"closed", parquet.Int64, func(r *MonthlyRow, v parquet.Value, _ func([]byte) string) { r.Closed = v.Int64() }},
		{"open", parquet.Int64, func(r *MonthlyRow, v parquet.Value, _ func([]byte) string) { r.Open = v.Int64() }},
		{"median_resolution_hours", parquet.Double, func(r *MonthlyRow, v parquet.Value, _ func([]byte) string) {
			r.MedianResolutionHours = optionalDouble(v)
		}},
		{"p90_resolution_hours", parquet.Double, func(r *MonthlyRow, v parquet.Value, _ func([]byte) string) { r.P90ResolutionHours = optionalDouble(v) }},
	}
	dailyColumns = []summaryColumn[AgencyDailyRow]{
		{"agency", parquet.ByteArray, func(r *AgencyDailyRow, v parquet.Value, text func([]byte) string) { r.Agency = text(v.ByteArray()) }},
		{"day", parquet.Int32, func(r *AgencyDailyRow, v parquet.Value, _ func([]byte) string) { r.Day = v.Int32() }},
		{"opened", parquet.Int64, func(r *AgencyDailyRow, v parquet.Value, _ func([]byte) string) { r.Opened = v.Int64() }},
		{"closed", parquet.Int64, func(r *AgencyDailyRow, v parquet.Value, _ func([]byte) string) { r.Closed = v.Int64() }},
		{"median_resolution_hours", parquet.Double, func(r *AgencyDailyRow, v parquet.Value, _ func([]byte) string) {
			r.MedianResolutionHours = optionalDouble(v)
		}},
	}
	heatColumns = []summaryColumn[HeatRow]{
		{"agency", parquet.ByteArray, func(r *HeatRow, v parquet.Value, text func([]byte) string) { r.Agency = text(v.ByteArray()) }},
		{"weekday", parquet.Int32, func(r *HeatRow, v parquet.Value, _ func([]byte) string) { r.Weekday = v.Int32() }},
		{"hour", parquet.Int32, func(r *HeatRow, v parquet.Value, _ func([]byte) string) { r.Hour = v.Int32() }},
		{"requests", parquet.Int64, func(r *HeatRow, v parquet.Value, _ func([]byte) string) { r.Requests = v.Int64() }},
	}
	geoColumns = []summaryColumn[GeoRow]{
		{"request_type", parquet.ByteArray, func(r *GeoRow, v parquet.Value, text func([]byte) string) { r.RequestType = text(v.ByteArray()) }},
		{"lat_bin", parquet.Double, func(r *GeoRow, v parquet.Value, _ func([]byte) string) { r.LatBin = v.Double() }},
		{"lon_bin", parquet.Double, func(r *GeoRow, v parquet.Value, _ func([]byte) string) { r.LonBin = v.Double() }},
		{"requests", parquet.Int64, func(r *GeoRow, v parquet.Value, _ func([]byte) string) { r.Requests = v.Int64() }},
	}
)

func optionalDouble(v parquet.Value) *float64 {
	if v.IsNull() {
		return nil
	}
	d := v.Double()
	return &d
}

// readSummaryFile reads the rows of one summary file column by column, straight from its
// pages into the rows. A publish reads four small files per group, thousands per job, and
// reading them as rows (ReadParquetFrom: rows of values assembled, then taken apart into
// the struct by reflection) was most of the client's CPU in a publish. The text of a file's
// rows repeats (dictionary columns of a few request types or agencies): each distinct value
// is one string. A file whose columns are not the expected ones, or not of the expected
// types (written by another writer), is read by ReadParquetFrom, which converts.
func readSummaryFile[T any](ctx context.Context, store objstore.Store, name string, cols []summaryColumn[T]) ([]T, error) {
	b, err := objstore.ReadAll(ctx, store, name)
	if err != nil {
		return nil, err
	}
	rows, ok, err := decodeSummaryFile(b, cols)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if ok {
		return rows, nil
	}
	rows, err = parquet.Read[T](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return rows, nil
}

// decodeSummaryFile decodes a summary file's bytes; ok is false, and nothing decoded, when
// its schema is not cols'.
func decodeSummaryFile[T any](b []byte, cols []summaryColumn[T]) (rows []T, ok bool, err error) {
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, false, err
	}
	// leaf[i] is the file's column index of cols[i].
	leaf := make([]int, len(cols))
	fileCols := f.Schema().Columns()
	if len(fileCols) != len(cols) {
		return nil, false, nil
	}
	for i, c := range cols {
		leaf[i] = slices.IndexFunc(fileCols, func(path []string) bool { return len(path) == 1 && path[0] == c.name })
		if leaf[i] < 0 {
			return nil, false, nil
		}
	}
	for _, rg := range f.RowGroups() {
		for i, c := range cols {
			if rg.ColumnChunks()[leaf[i]].Type().Kind() != c.kind {
				return nil, false, nil
			}
		}
	}
	rows = make([]T, f.NumRows())
	strs := map[string]string{}
	text := func(b []byte) string {
		if s, ok := strs[string(b)]; ok {
			return s
		}
		s := string(b)
		strs[s] = s
		return s
	}
	buf := make([]parquet.Value, 256)
	base := 0
	for _, rg := range f.RowGroups() {
		n := int(rg.NumRows())
		if base+n > len(rows) {
			return nil, false, fmt.Errorf("row groups hold more than the file's %d rows", len(rows))
		}
		for i, c := range cols {
			got, err := readColumn(rg.ColumnChunks()[leaf[i]], rows[base:base+n], buf, c, text)
			if err != nil {
				return nil, false, fmt.Errorf("column %s: %w", c.name, err)
			}
			if got != n {
				return nil, false, fmt.Errorf("column %s: %d values in a row group of %d rows", c.name, got, n)
			}
		}
		base += n
	}
	if base != len(rows) {
		return nil, false, fmt.Errorf("row groups hold %d of the file's %d rows", base, len(rows))
	}
	return rows, true, nil
}

// readColumn stores the values of one column chunk into rows, in order, and returns how
// many it read (at most len(rows)).
func readColumn[T any](cc parquet.ColumnChunk, rows []T, buf []parquet.Value, c summaryColumn[T], text func([]byte) string) (int, error) {
	pages := cc.Pages()
	defer pages.Close()
	r := 0
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		err = func() error {
			defer parquet.Release(p)
			values := p.Values()
			for {
				n, err := values.ReadValues(buf)
				if r+n > len(rows) {
					return fmt.Errorf("more values than the row group's %d rows", len(rows))
				}
				for _, v := range buf[:n] {
					c.set(&rows[r], v, text)
					r++
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}()
		if err != nil {
			return r, err
		}
	}
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
