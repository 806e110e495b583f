package socrata

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ireports/ireports/objstore"
)

// These tests of unexported pieces stay in package socrata; every test that reads batches
// with the jobs package is in socrata_test, so that jobs may import socrata without a test
// import cycle.

// validSource is a complete Source.
func validSource() Source {
	s := DefaultSource()
	s.Name = "nyc_api"
	s.Endpoint = "https://data.cityofnewyork.us/resource/erm2-nwe9.json"
	s.Schema = "nyc"
	s.Start = "2024-01-01T00:00:00"
	s.Raw = "s3://bucket/raw/nyc"
	return s
}

func TestValidate(t *testing.T) {
	good := validSource()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(*Source)
		want string
	}{
		{"no name", func(s *Source) { s.Name = "" }, "name"},
		{"no endpoint", func(s *Source) { s.Endpoint = "" }, "endpoint is empty"},
		{"not http", func(s *Source) { s.Endpoint = "ftp://x/resource/a.json" }, "http(s)"},
		{"not json", func(s *Source) { s.Endpoint = "https://x/resource/a.csv" }, ".json"},
		{"soql in endpoint", func(s *Source) { s.Endpoint = "https://x/resource/a.json?$limit=5" }, "$limit"},
		{"token redacted", func(s *Source) { s.Endpoint = "ftp://x/a.json?$$app_token=sekrit" }, "REDACTED"},
		{"no schema", func(s *Source) { s.Schema = "" }, "schema"},
		{"page size", func(s *Source) { s.PageSize = 0 }, "page_size"},
		{"page size too big", func(s *Source) { s.PageSize = MaxPageSize + 1 }, "page_size"},
		{"bad start", func(s *Source) { s.Start = "last tuesday" }, "start"},
		{"no raw", func(s *Source) { s.Raw = "" }, "raw"},
		{"retry_for", func(s *Source) { s.RetryFor = -time.Second }, "retry_for"},
		{"backoff", func(s *Source) { s.BackoffBase = time.Hour }, "backoff"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			err := s.Validate()
			if !errors.Is(err, ErrBadSource) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v; want ErrBadSource mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	// Pull fills zero tuning fields; DefaultSource shows them.
	s := Source{Name: "a", Endpoint: good.Endpoint, Schema: "nyc", Start: "2024-01-01", Raw: "/tmp/x"}
	d, err := s.withDefaults()
	if err != nil || d.PageSize != DefaultPageSize || d.RetryFor != DefaultRetryFor || d.BackoffMax != DefaultBackoffMax {
		t.Errorf("withDefaults: %+v, %v", d, err)
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, 2*time.Second
	for k := 1; k <= 40; k++ {
		d := min(max, base<<min(k-1, 20))
		for range 20 {
			if w := backoff(base, max, k); w < d/2 || w > d {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", k, w, d/2, d)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"7", 7 * time.Second}, {" 120 ", 2 * time.Minute},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBatchName(t *testing.T) {
	a := Watermark{UpdatedAt: "2024-06-01T00:00:00.000Z", ID: "row-aaaa~aaaa.aaaa"}
	b := Watermark{UpdatedAt: "2024-06-01T00:00:00.000Z", ID: "row-bbbb~bbbb.bbbb"}
	c := Watermark{UpdatedAt: "2024-06-02T10:00:00.000Z", ID: "row-2222~2222.2222"}
	name := func(raw, start string, from, to Watermark) string {
		t.Helper()
		n, err := batchName(raw, start, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n1 := name("s3://bkt/raw/nyc", "2024-01-01T00:00:00", Watermark{}, a)
	if !strings.HasPrefix(n1, "s3://bkt/raw/nyc/batch-20240101T000000-20240601T000000000Z-") || !strings.HasSuffix(n1, ".json") {
		t.Errorf("first batch %s", n1)
	}
	if name("s3://bkt/raw/nyc", "2024-01-01T00:00:00", Watermark{}, a) != n1 {
		t.Error("batch names are not deterministic")
	}
	n2, n3 := name("/raw", "x", a, b), name("/raw", "x", b, c)
	if n2 == name("/raw", "x", a, c) || !(n1[len("s3://bkt/raw/nyc"):] < n2[len("/raw"):]) || !(n2 < n3) {
		t.Errorf("names %s, %s, %s: want distinct and in pull order", n1, n2, n3)
	}
	if _, err := batchName("s3://bkt/raw/../../other", "x", a, b); !errors.Is(err, objstore.ErrUnsafePath) {
		t.Errorf("a raw prefix that climbs out of its bucket: err = %v, want ErrUnsafePath", err)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://data.example.org/resource/a.json", "https://DATA.example.org:443/other", true},
		{"http://127.0.0.1/a", "http://127.0.0.1:80/b", true},
		{"https://data.example.org/a", "http://data.example.org/a", false}, // a downgrade
		{"https://data.example.org/a", "https://cdn.data.example.org/a", false},
		{"https://data.example.org/a", "https://data.example.org.evil.test/a", false},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a", false},
		{"http://127.0.0.1:8080/a", "http://127.0.0.2:8080/a", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := sameOrigin(a, b); got != tc.same {
			t.Errorf("sameOrigin(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

func TestMoveToken(t *testing.T) {
	for _, tc := range []struct {
		token, endpoint string
		wantToken       string
		wantEndpoint    string
	}{
		{"", "https://x/resource/a.json", "", "https://x/resource/a.json"},
		{"t", "https://x/resource/a.json", "t", "https://x/resource/a.json"},
		{"", "https://x/resource/a.json?$$app_token=sekrit", "sekrit", "https://x/resource/a.json"},
		{"field", "https://x/resource/a.json?$$app_token=sekrit&$$exclude_system_fields=false", "field", "https://x/resource/a.json?%24%24exclude_system_fields=false"},
	} {
		token, endpoint := moveToken(tc.token, tc.endpoint)
		if token != tc.wantToken || endpoint != tc.wantEndpoint {
			t.Errorf("moveToken(%q, %q) = %q, %q; want %q, %q", tc.token, tc.endpoint, token, endpoint, tc.wantToken, tc.wantEndpoint)
		}
	}
}
