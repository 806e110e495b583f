package pgsink

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/ireports/ireports/lake"
	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/record"
	"github.com/ireports/ireports/summary"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		ok     bool
	}{
		{"default", func(*Config) {}, true},
		{"single attempt", func(c *Config) { c.RetryDeadline = 0 }, true},
		{"no attempt timeout", func(c *Config) { c.AttemptTimeout = 0 }, true},
		{"negative deadline", func(c *Config) { c.RetryDeadline = -time.Second }, false},
		{"zero backoff", func(c *Config) { c.BackoffInitial = 0 }, false},
		{"max below initial", func(c *Config) { c.BackoffMax = c.BackoffInitial / 2 }, false},
		{"negative connect timeout", func(c *Config) { c.ConnectTimeout = -1 }, false},
		{"negative attempt timeout", func(c *Config) { c.AttemptTimeout = -1 }, false},
		{"zero batch", func(c *Config) { c.BatchRows = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.modify(&cfg)
			_, err := New(nil, cfg)
			if tc.ok && err != nil {
				t.Fatalf("New: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrConfig) {
				t.Fatalf("New: %v, want ErrConfig", err)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("publish: %w", refused), true},
		{"connection reset", os.NewSyscallError("read", syscall.ECONNRESET), true},
		{"bad conn", driver.ErrBadConn, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"admin shutdown", &pq.Error{Code: pqerror.AdminShutdown}, true},
		{"starting up", &pq.Error{Code: pqerror.CannotConnectNow}, true},
		{"serialization failure", &pq.Error{Code: pqerror.TRSerializationFailure}, true},
		{"deadlock", &pq.Error{Code: pqerror.TRDeadlockDetected}, true},
		{"too many connections", &pq.Error{Code: pqerror.TooManyConnections}, true},
		{"connection failure", &pq.Error{Code: pqerror.ConnectionFailure}, true},
		{"unique violation", &pq.Error{Code: pqerror.UniqueViolation}, false},
		{"undefined table", &pq.Error{Code: pqerror.UndefinedTable}, false},
		{"insufficient privilege", &pq.Error{Code: pqerror.InsufficientPrivilege}, false},
		{"load error", fs.ErrNotExist, false},
		{"foreign row", ErrForeignRow, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	fast := Config{RetryDeadline: 200 * time.Millisecond, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond, BatchRows: 1, Log: quiet}
	refused := os.NewSyscallError("connect", syscall.ECONNREFUSED)
	permanent := &pq.Error{Code: pqerror.UndefinedTable}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		failures []error // returned by successive attempts, then nil
		want     []error // errors.Is targets; none: success
		attempts int
	}{
		{"first try", context.Background(), nil, nil, 1},
		{"recovers", context.Background(), []error{refused, refused}, nil, 3},
		{"permanent", context.Background(), []error{permanent, refused}, []error{permanent}, 1},
		{"never recovers", context.Background(), repeat(refused, 10000), []error{ErrUnavailable, syscall.ECONNREFUSED}, -1},
		{"cancelled", cancelled, repeat(refused, 10000), []error{ErrUnavailable, context.Canceled}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(nil, fast)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = s.cfg.retry(tc.ctx, "op", func(context.Context) error {
				n++
				if n <= len(tc.failures) {
					return tc.failures[n-1]
				}
				return nil
			})
			if len(tc.want) == 0 && err != nil {
				t.Fatalf("retry: %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("retry: %v, want errors.Is %v", err, w)
				}
			}
			if tc.attempts >= 0 && n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
			if tc.attempts < 0 && n < 2 {
				t.Errorf("%d attempts, want several within the deadline", n)
			}
		})
	}
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations %v: want versions from 1", ms)
	}
}

func TestCheckGroup(t *testing.T) {
	k := record.Key{City: "sf", Year: 2020, Month: 2}
	feb29 := int32(time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	for _, tc := range []struct {
		name string
		t    summary.Tables
		ok   bool
	}{
		{"empty", summary.Tables{}, true},
		{"own rows", summary.Tables{
			Monthly:     []summary.Monthly{{City: "sf", Year: 2020, Month: 2}},
			AgencyDaily: []summary.AgencyDaily{{City: "sf", Day: feb29}},
			Heat:        []summary.Heat{{City: "sf", Year: 2020, Month: 2}},
			Geo:         []summary.Geo{{City: "sf", Year: 2020, Month: 2}},
		}, true},
		{"monthly of another city", summary.Tables{Monthly: []summary.Monthly{{City: "la", Year: 2020, Month: 2}}}, false},
		{"day of the next month", summary.Tables{AgencyDaily: []summary.AgencyDaily{{City: "sf", Day: feb29 + 1}}}, false},
		{"heat of another year", summary.Tables{Heat: []summary.Heat{{City: "sf", Year: 2021, Month: 2}}}, false},
		{"geo of another month", summary.Tables{Geo: []summary.Geo{{City: "sf", Year: 2020, Month: 3}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pgcopy.CheckGroup(k, &tc.t)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, ErrForeignRow) {
				t.Fatalf("checkGroup: %v, want ErrForeignRow", err)
			}
		})
	}
}

// TestLakeLoader reads a group's summaries back from the summary datasets, and from a lake
// of the old layout (summaries inside it, in files that carry city, year and month), and
// names the way out when they are gone.
func TestLakeLoader(t *testing.T) {
	k := record.Key{City: "new york", Year: 2024, Month: 5}
	med := 3.5
	want := summary.Tables{
		Monthly:     []summary.Monthly{{City: k.City, Year: 2024, Month: 5, RequestType: "Noise", Requests: 2, Closed: 1, Open: 1, MedianResolutionHours: &med}},
		AgencyDaily: []summary.AgencyDaily{{City: k.City, Day: 19860, Opened: 2, Closed: 1}},
		Heat:        []summary.Heat{{City: k.City, Year: 2024, Month: 5, Weekday: 3, Hour: 23, Requests: 2}},
	}
	ctx := context.Background()
	// The old layout, written as old binaries wrote it.
	oldLake := t.TempDir()
	oldDir := filepath.Join(oldLake, "_summary", "new%20york", "2024-05")
	for _, err := range []error{
		lake.WriteParquet(filepath.Join(oldDir, "request_monthly.parquet"), want.Monthly),
		lake.WriteParquet(filepath.Join(oldDir, "agency_daily.parquet"), want.AgencyDaily),
		lake.WriteParquet(filepath.Join(oldDir, "request_heat.parquet"), want.Heat),
		lake.WriteParquet(filepath.Join(oldDir, "request_geo.parquet"), want.Geo),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	sums := writeSummaries(t, t.TempDir(), k, want)
	for _, tc := range []struct {
		name     string
		lake     string
		m        *lake.Manifest
		geo      string // the group's request_geo file
		wantHint string // in the error once that file is gone
	}{
		{"summary datasets", t.TempDir(), summariesManifest(sums),
			filepath.Join(sums, "request_geo", "city=new%20york", "year=2024", "month=5", "part-00000.parquet"), "re-run the job"},
		{"old layout", oldLake, &lake.Manifest{Job: "old"},
			filepath.Join(oldDir, "request_geo.parquet"), "old layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load := LakeLoader(ctx, testStore(t), tc.lake, tc.m)
			got, err := load(k)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := tableRows(want), tableRows(got); !equalStrings(a, b) {
				t.Fatalf("read back\n%v\nwant\n%v", b, a)
			}
			if err := os.Remove(tc.geo); err != nil {
				t.Fatal(err)
			}
			_, err = load(k)
			if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), tc.wantHint) {
				t.Fatalf("load without the geo file: %v, want fs.ErrNotExist saying %q", err, tc.wantHint)
			}
		})
	}
}

// TestLakeEncoded reads a group's publish file where the commit's manifest lists it, as the
// rows its summary files encode to, and no other: not one the manifest does not list (another
// run's), not one of a group whose reducer wrote none; and refuses a file that is not the
// group's.
func TestLakeEncoded(t *testing.T) {
	ctx := context.Background()
	k := record.Key{City: "new york", Year: 2024, Month: 5}
	tab := summary.Tables{
		Heat: []summary.Heat{{City: k.City, Agency: "NYPD", Year: 2024, Month: 5, Weekday: 3, Hour: 23, Requests: 2},
			{City: k.City, Agency: "NYPD", Year: 2024, Month: 5, Weekday: 1, Hour: 0, Requests: 1}},
		Geo: []summary.Geo{{City: k.City, Year: 2024, Month: 5, RequestType: "Noise", LatBin: 40.7, LonBin: -74, Requests: 3}},
	}
	lakeRoot, root := t.TempDir(), t.TempDir()
	m := commitSummaries(t, lakeRoot, root, k, tab)
	enc := LakeEncoded(ctx, testStore(t), lakeRoot, m)
	if enc == nil {
		t.Fatalf("no EncodedFunc for a manifest listing %v", m.Summaries.Files)
	}
	g, ok, err := enc(k)
	if err != nil || !ok {
		t.Fatalf("enc(%s) = %v, %v", k, ok, err)
	}
	var want pgcopy.Batch
	if err := want.Encode(k, &tab); err != nil {
		t.Fatal(err)
	}
	for i := range want.Bufs {
		if string(g.Bufs[i].Data) != string(want.Bufs[i].Data) {
			t.Errorf("%s: read %q, want %q", pgcopy.Tables[i].Name, g.Bufs[i].Data, want.Bufs[i].Data)
		}
	}
	if g.SummaryRows != 3 {
		t.Errorf("%d summary rows, want 3", g.SummaryRows)
	}
	if _, ok, err := enc(record.Key{City: k.City, Year: 2024, Month: 6}); ok || err != nil {
		t.Errorf("a group without a publish file: %v, %v", ok, err)
	}

	// The same file, not listed: a manifest of a run whose reducers wrote none.
	unlisted := *m
	s := *m.Summaries
	s.Files = slices.DeleteFunc(slices.Clone(s.Files), func(f lake.File) bool { return strings.HasPrefix(f.Path, lake.PublishDir+"/") })
	unlisted.Summaries = &s
	if enc := LakeEncoded(ctx, testStore(t), lakeRoot, &unlisted); enc != nil {
		if _, ok, err := enc(k); ok || err != nil {
			t.Errorf("a publish file the manifest does not list: %v, %v", ok, err)
		}
	}
	if enc := LakeEncoded(ctx, testStore(t), t.TempDir(), &lake.Manifest{Job: "old"}); enc != nil {
		t.Errorf("an EncodedFunc for a lake of the old layout")
	}

	// Another group's file in its place.
	other := record.Key{City: k.City, Year: 2024, Month: 6}
	data, err := pgcopy.Marshal(other, &summary.Tables{Heat: []summary.Heat{{City: k.City, Year: 2024, Month: 6, Requests: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, lake.PublishFile(k)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := enc(k); ok || !errors.Is(err, pgcopy.ErrFormat) || !strings.Contains(err.Error(), lake.PublishFile(k)) {
		t.Errorf("another group's file: %v, %v; want ErrFormat naming the file", ok, err)
	}
}

func TestManifestGroups(t *testing.T) {
	m := &lake.Manifest{Groups: []lake.ManifestGroup{{City: "la", Year: 2017, Month: 12, Rows: 5}, {City: "sf", Year: 2014, Month: 4}}}
	got := ManifestGroups(m)
	want := []record.Key{{City: "la", Year: 2017, Month: 12}, {City: "sf", Year: 2014, Month: 4}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ManifestGroups = %v, want %v", got, want)
	}
}
