package jobs

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sourceJob = `
source "nyc_api" {
  kind       = "socrata"
  endpoint   = "https://data.cityofnewyork.us/resource/erm2-nwe9.json"
  app_token  = env("IREPORTS_JOB_TEST_TOKEN", "")
  schema     = "nyc"
  page_size  = 50000
  start      = "2024-01-01T00:00:00"
  raw        = "s3://bucket/raw/nyc"
  retry_for  = "15m"
}
job "nyc_daily" {
  input "nyc" { source = "nyc_api" }
  schedule = "daily 02:00 America/New_York"
  output {
    parquet  = "s3://bucket/lake/requests"
    postgres = "postgres://u@h/db"
  }
}
`

func TestParseSource(t *testing.T) {
	t.Setenv("IREPORTS_JOB_TEST_TOKEN", "secret")
	spec, err := Parse([]byte(sourceJob), "daily.job")
	if err != nil {
		t.Fatal(err)
	}
	in := spec.Inputs[0]
	src := spec.Sources["nyc_api"]
	if src == nil || in.Source != "nyc_api" || in.Path != "s3://bucket/raw/nyc/batch-*.json" || in.Format != FormatSODAJSON ||
		in.SchemaName != "nyc" || in.Schema == nil || !spec.Merge {
		t.Fatalf("input %+v, source %+v, merge %v", in, src, spec.Merge)
	}
	if src.AppToken != "secret" || src.PageSize != 50000 || src.RetryFor != 15*time.Minute || src.Start != "2024-01-01T00:00:00" {
		t.Errorf("source %+v", src)
	}
	if spec.Schedule == nil || spec.Schedule.Hour != 2 || spec.Schedule.Zone != "America/New_York" {
		t.Errorf("schedule %+v", spec.Schedule)
	}
	for _, c := range []struct{ old, new, want string }{
		{`kind       = "socrata"`, `kind = "ckan"`, "daily.job:3:"},
		{`start      = "2024-01-01T00:00:00"`, `start = "yesterday"`, "daily.job:8:"},
		{`retry_for  = "15m"`, `retry_for = "soon"`, "daily.job:10:"},
		{`{ source = "nyc_api" }`, `{ source = "la_api" }`, "daily.job:13:"},
		{`{ source = "nyc_api" }`, "{\n source = \"nyc_api\"\n schema = \"la\"\n }", "daily.job:15:"},
		{`schedule = "daily 02:00 America/New_York"`, `schedule = "daily 2am"`, "daily.job:14:"},
		{`    postgres = "postgres://u@h/db"` + "\n", "", "daily.job:15:"},
	} {
		_, err := Parse([]byte(strings.Replace(sourceJob, c.old, c.new, 1)), "daily.job")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: err = %v, want one at %s", c.old, c.new, err, c.want)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	sc, err := ParseSchedule("daily 02:00 America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	at := time.Date(2026, 3, 7, 3, 0, 0, 0, ny) // the day before DST starts
	// 02:00 does not exist on 2026-03-08 in New York: the run is some time that night.
	if got := sc.Next(at).In(ny); got.Day() != 8 || got.Hour() > 3 {
		t.Errorf("Next(%v) = %v, want the night of March 8", at, got)
	}
	if got, want := sc.Next(time.Date(2026, 3, 8, 12, 0, 0, 0, ny)), time.Date(2026, 3, 9, 2, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("Next after DST = %v, want %v", got, want)
	}
	if got, want := sc.Prev(at), time.Date(2026, 3, 7, 2, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("Prev(%v) = %v, want %v", at, got, want)
	}
	ev, err := ParseSchedule("every 6h")
	if err != nil {
		t.Fatal(err)
	}
	at = time.Date(2026, 1, 1, 7, 30, 0, 0, time.UTC)
	if got := ev.Next(at); !got.Equal(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("every 6h: Next(%v) = %v", at, got)
	}
	for _, bad := range []string{"weekly", "daily 25:00", "daily 02:00 Mars/Olympus", "every 0s", "every soon"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded", bad)
		}
	}
}

// TestShippedJobFilesParse keeps the job files of the repository valid, as `coordinator run`
// parses them: with the user's own environment.
func TestShippedJobFilesParse(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://ireports@localhost/ireports")
	files, _ := filepath.Glob("../examples/*.job")
	files = append(files, "../normalize.job")
	for _, f := range files {
		if _, err := ParseFileWith(f, ParseOptions{Env: EnvPolicy{AllowAll: true}}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(files) < 2 {
		t.Errorf("found only %v", files)
	}
}
