package viz

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/pgsink"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

// Names from the cities' exports reach the page, the CSV and spreadsheets: the synthetic
// city "zzz" carries names that would run as formulas, HTML, quotes, commas, a line break
// and one too long for any margin.
const longAgency = "Department of Exceptionally Long Names for Municipal Service Request Coordination and Oversight"

var hostileAgencies = []string{
	`=HYPERLINK("http://evil.example","click")`,
	"+1+cmd|' /C calc'!A0",
	"-2+3",
	"@SUM(A1:A9)",
	"<b>bold</b> & co",
	longAgency,
}

var hostileTypes = []string{`Quote "and", comma`, "two\nlines", "=1+1", "Plain"}

// syntheticDB publishes two made-up cities into a new database of pg and returns its URL:
// "aaa", first by name with 3 requests, and "zzz", the busiest, with the names above. One
// month each, January 2020.
func syntheticDB(t *testing.T, pg *testenv.PostgresServer) string {
	t.Helper()
	ctx := context.Background()
	dsn := pg.CreateDatabase(t, "viz_synthetic")
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sink, err := pgsink.New(db, pgsink.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	day := int32(time.Date(2020, 1, 15, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	tables := map[string]summary.Tables{}
	group := func(city string, agencies, types []string, n int64) summary.Tables {
		var tab summary.Tables
		med, p90 := 5.0, 40.0
		for i, ag := range agencies {
			for j, typ := range types {
				tab.Monthly = append(tab.Monthly, summary.Monthly{City: city, Year: 2020, Month: 1, RequestType: typ, Agency: ag,
					Requests: n, Closed: n - 1, Open: 1, MedianResolutionHours: &med, P90ResolutionHours: &p90})
				tab.Geo = append(tab.Geo, summary.Geo{City: city, Year: 2020, Month: 1, RequestType: typ,
					LatBin: 40 + float64(i)*0.01, LonBin: -74 + float64(j)*0.01, Requests: n})
			}
			tab.AgencyDaily = append(tab.AgencyDaily, summary.AgencyDaily{City: city, Agency: ag, Day: day,
				Opened: n * int64(len(types)), Closed: (n - 1) * int64(len(types)), MedianResolutionHours: &med})
			tab.Heat = append(tab.Heat, summary.Heat{City: city, Agency: ag, Year: 2020, Month: 1, Weekday: 3, Hour: 10,
				Requests: n * int64(len(types))})
		}
		return tab
	}
	tables["aaa"] = group("aaa", []string{"Roads"}, []string{"Pothole"}, 3)
	tables["zzz"] = group("zzz", hostileAgencies, hostileTypes, 100)
	keys := []record.Key{{City: "aaa", Year: 2020, Month: 1}, {City: "zzz", Year: 2020, Month: 1}}
	run := pgsink.JobRun{ID: "synthetic", Name: "synthetic", Status: "succeeded", Started: time.Unix(1700000000, 0), Groups: len(keys)}
	if err := sink.Publish(ctx, run, keys, func(k record.Key) (summary.Tables, error) { return tables[k.City], nil }); err != nil {
		t.Fatal(err)
	}
	return dsn
}
