package sodatest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWhere(t *testing.T) {
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	rows := []*row{
		{id: "row-a", updatedAt: t0, fields: []field{{"status", json.RawMessage(`"Open"`)}}},
		{id: "row-b", updatedAt: t0, fields: []field{{"status", json.RawMessage(`"Closed"`)}}},
		{id: "row-c", updatedAt: t0.Add(time.Second)},
		{id: "row-d", updatedAt: t0.Add(1500 * time.Millisecond)},
	}
	cases := []struct {
		name, where string
		want        []string // ids matched
	}{
		{"keyset", ":updated_at > '2024-06-01T00:00:00.000Z' OR (:updated_at = '2024-06-01T00:00:00.000Z' AND :id > 'row-a')", []string{"row-b", "row-c", "row-d"}},
		{"keyset floating literal", ":updated_at > '2024-06-01T00:00:01' OR (:updated_at = '2024-06-01T00:00:01' AND :id > 'row-c')", []string{"row-d"}},
		{"start", ":updated_at >= '2024-06-01T00:00:01'", []string{"row-c", "row-d"}},
		{"date literal", ":updated_at >= '2024-06-01'", []string{"row-a", "row-b", "row-c", "row-d"}},
		{"fraction", ":updated_at > '2024-06-01T00:00:01.499Z'", []string{"row-d"}},
		{"literal first", "'row-b' < :id", []string{"row-c", "row-d"}},
		{"keywords any case", ":id = 'row-a' or :id = 'row-c' And not :id = 'row-c'", []string{"row-a"}},
		{"field", "status = 'Closed'", []string{"row-b"}},
		{"null field", "status != 'Closed'", []string{"row-a"}},
		{"not equal", ":id <> 'row-a'", []string{"row-b", "row-c", "row-d"}},
		{"quote escape", ":id = 'it''s'", nil},
		{"parentheses", "(:id >= 'row-b') AND ((:id <= 'row-c'))", []string{"row-b", "row-c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pred, err := parseWhere(tc.where)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				if pred(r) {
					got = append(got, r.id)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	cases := []struct{ name, query string }{
		{"unterminated string", "$where=:id > 'row"},
		{"bad timestamp", "$where=:updated_at > 'yesterday'"},
		{"column to column", "$where=:id > :updated_at"},
		{"dangling", "$where=:id > 'a' AND"},
		{"unbalanced", "$where=(:id > 'a'"},
		{"unknown system field", "$where=:version > 'a'"},
		{"bad limit", "$limit=-1"},
		{"bad order", "$order=:updated_at sideways"},
		{"unknown parameter", "$group=agency"},
		{"simple filter", "agency=DOT"},
		{"bad select", "$select=count(*)"},
		{"repeated", "$limit=1&$limit=2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseQuery(q); err == nil {
				t.Errorf("parseQuery(%q) succeeded, want an error", tc.query)
			}
		})
	}
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type sysRecord struct {
	ID        string `json:":id"`
	UpdatedAt string `json:":updated_at"`
	CreatedAt string `json:":created_at"`
	Key       string `json:"unique_key"`
	Status    string `json:"status"`
}

func get(t *testing.T, s *Server, params url.Values, header http.Header) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.Endpoint+"?"+params.Encode(), nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestKeysetPaging pages through a dataset the way the socrata package does and checks that
// every record comes exactly once, in order.
func TestKeysetPaging(t *testing.T) {
	s := newServer(t, Config{Generate: 237, Seed: 7})
	var all []sysRecord
	where := ":updated_at >= '2024-01-01T00:00:00'"
	for {
		code, body := get(t, s, url.Values{"$select": {":*,*"}, "$where": {where}, "$order": {":updated_at,:id"}, "$limit": {"50"}}, nil)
		if code != 200 {
			t.Fatalf("HTTP %d: %s", code, body)
		}
		var page []sysRecord
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		last := page[len(page)-1]
		where = ":updated_at > '" + last.UpdatedAt + "' OR (:updated_at = '" + last.UpdatedAt + "' AND :id > '" + last.ID + "')"
	}
	if len(all) != 237 {
		t.Fatalf("paged %d records, want 237", len(all))
	}
	seen := map[string]bool{}
	for i, r := range all {
		if r.ID == "" || r.UpdatedAt == "" || r.CreatedAt == "" || r.Key == "" {
			t.Fatalf("record %d lacks a field: %+v", i, r)
		}
		if seen[r.ID] {
			t.Fatalf("record %s twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 {
			p := all[i-1]
			if p.UpdatedAt > r.UpdatedAt || p.UpdatedAt == r.UpdatedAt && p.ID >= r.ID {
				t.Fatalf("records %d and %d out of order: %+v, %+v", i-1, i, p, r)
			}
		}
	}
	var whole []sysRecord
	if err := json.Unmarshal(s.Records(), &whole); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(whole, all) {
		t.Error("Records() differs from the paged dataset")
	}
	if s.Pages() != 6 || s.Requests() != 6 {
		t.Errorf("pages %d, requests %d, want 6 and 6", s.Pages(), s.Requests())
	}
}

func TestSelect(t *testing.T) {
	s := newServer(t, Config{Generate: 3})
	cases := []struct {
		sel        string
		sys, field bool
	}{{"", false, true}, {"*", false, true}, {":*,*", true, true}, {":*", true, false}, {":id, unique_key", false, true}}
	for _, tc := range cases {
		q := url.Values{}
		if tc.sel != "" {
			q.Set("$select", tc.sel)
		}
		_, body := get(t, s, q, nil)
		var recs []map[string]any
		if err := json.Unmarshal(body, &recs); err != nil {
			t.Fatal(err)
		}
		_, hasUpdated := recs[0][":updated_at"]
		_, hasKey := recs[0]["unique_key"]
		if hasUpdated != tc.sys || hasKey != tc.field {
			t.Errorf("$select=%q: :updated_at %v, unique_key %v; want %v, %v", tc.sel, hasUpdated, hasKey, tc.sys, tc.field)
		}
	}
}

func TestAppToken(t *testing.T) {
	s := newServer(t, Config{Generate: 3, AppToken: "s3cret"})
	if code, _ := get(t, s, nil, nil); code != http.StatusForbidden {
		t.Errorf("no token: HTTP %d, want 403", code)
	}
	if code, _ := get(t, s, nil, http.Header{"X-App-Token": {"wrong"}}); code != http.StatusForbidden {
		t.Errorf("wrong token: HTTP %d, want 403", code)
	}
	if code, _ := get(t, s, nil, http.Header{"X-App-Token": {"s3cret"}}); code != http.StatusOK {
		t.Errorf("token: HTTP %d, want 200", code)
	}
	if code, _ := get(t, s, url.Values{"$$app_token": {"s3cret"}}, nil); code != http.StatusOK {
		t.Errorf("$$app_token: HTTP %d, want 200", code)
	}
}

func TestFaults(t *testing.T) {
	s := newServer(t, Config{Generate: 3})
	status := func() int {
		resp, err := http.Get(s.Endpoint)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err != nil {
			return -2
		}
		return resp.StatusCode
	}
	s.FailAfter(1, TooManyRequests("7"), 2)
	got := []int{status(), status(), status(), status()}
	if want := []int{200, 429, 429, 200}; !slices.Equal(got, want) {
		t.Errorf("FailAfter(1, 429, 2): %v, want %v", got, want)
	}
	s.Fail(Processing, 1)
	if got := status(); got != 202 {
		t.Errorf("Processing: %d", got)
	}
	s.Fail(Unavailable, -1)
	for range 3 {
		if got := status(); got != 503 {
			t.Errorf("Unavailable: %d", got)
		}
	}
	s.Recover()
	if got := status(); got != 200 {
		t.Errorf("after Recover: %d", got)
	}
	s.Fail(Truncated, 1)
	if got := status(); got != -2 {
		t.Errorf("Truncated: %d, want a body cut short", got)
	}
	// net/http may retry a GET once on a reused connection that died: plan two resets.
	s.Fail(Reset, 2)
	if got := status(); got >= 0 {
		t.Errorf("Reset answered %d", got)
	}
	// The window starts now, not when the request arrives: leave a loaded machine room.
	s.FailFor(time.Second, Unavailable)
	if got := status(); got != 503 {
		t.Errorf("FailFor: %d", got)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := status(); got != 200 {
		t.Errorf("after FailFor: %d", got)
	}
	s.Fail(Slow(50*time.Millisecond), 1)
	start := time.Now()
	if got := status(); got != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("Slow: %d after %v", got, time.Since(start))
	}
	s.Fail(Outage, 1)
	if got := status(); got >= 0 {
		t.Errorf("Outage: %d", got)
	}
	if got := status(); got != -1 {
		t.Errorf("while down: %d, want connection refused", got)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 200 {
		t.Errorf("after Resume: %d", got)
	}
}

func TestUpdates(t *testing.T) {
	s := newServer(t, Config{Generate: 10})
	at := time.Date(2024, 7, 4, 15, 0, 0, 0, time.UTC)
	if err := s.CloseRequest("90000003", at); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseRequest("nope", at); err == nil {
		t.Error("closing an unknown request succeeded")
	}
	keys := s.Add(2, at.Add(time.Minute))
	if s.Len() != 12 || len(keys) != 2 {
		t.Fatalf("Len %d, keys %v", s.Len(), keys)
	}
	_, body := get(t, s, url.Values{"$select": {":*,*"}, "$where": {":updated_at >= '2024-07-04T15:00:00'"}, "$order": {":updated_at,:id"}}, nil)
	var recs []sysRecord
	if err := json.Unmarshal(body, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Key != "90000003" || recs[0].Status != "Closed" || recs[0].UpdatedAt != "2024-07-04T15:00:00.000Z" {
		t.Fatalf("updated records: %+v", recs)
	}
	if !strings.Contains(string(body), `"closed_date":"2024-07-04T11:00:00.000"`) {
		t.Errorf("closed_date is not New York civil time: %s", body)
	}
}

func TestFixture(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "311", "nyc", "soda_erm2-nwe9_page.json")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixture %s not found (it lives in the shared data folder beside the repository): %v", path, err)
	}
	s := newServer(t, Config{Fixture: path})
	if s.Len() != 1000 {
		t.Fatalf("Len %d, want the fixture's 1000 records", s.Len())
	}
	var recs []map[string]any
	if err := json.Unmarshal(s.Records(), &recs); err != nil {
		t.Fatal(err)
	}
	if recs[0][":updated_at"] != "2024-06-01T00:00:00.000Z" || recs[0]["unique_key"] == nil {
		t.Errorf("first record: %v", recs[0])
	}
}
