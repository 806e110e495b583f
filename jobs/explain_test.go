package jobs

import (
	"errors"
	"reflect"
	"testing"
)

// explainSchema has a required field with two candidates, optional fields and a field whose
// column no test header has.
const explainSchema = `
schema "t" {
  city     = "t"
  timezone = "UTC"
  time_layouts = ["rfc3339"] # Bind needs no detected dialect
  field "request_id" { columns = ["Case ID", "id"] }
  field "created_at" { columns = ["Opened"] }
  field "status"     { columns = ["Status"] }
  field "agency"     { columns = ["Dept", "Agency"] }
  field "channel"    { columns = ["Source"] }
}
job "j" {
  input "i" {
    path   = "x.csv"
    schema = "t"
  }
  output { parquet = "out" }
}
`

func TestMatchHeader(t *testing.T) {
	spec, err := Parse([]byte(explainSchema), "t.job")
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Inputs[0].Schema
	for _, tc := range []struct {
		name    string
		header  []string
		columns map[string]string // field → column; absent: none
		unread  []string
	}{
		{
			name:    "all found, first candidate wins",
			header:  []string{"id", "Case ID", "Opened", "Status", "Agency", "Dept", "Source"},
			columns: map[string]string{"request_id": "Case ID", "created_at": "Opened", "status": "Status", "agency": "Dept", "channel": "Source"},
			unread:  []string{"id", "Agency"},
		},
		{
			name:    "BOM, spaces and case as Bind reads them",
			header:  []string{"\uFEFFcase id", " OPENED ", "agency", "Extra"},
			columns: map[string]string{"request_id": "\uFEFFcase id", "created_at": " OPENED ", "agency": "agency"},
			unread:  []string{"Extra"},
		},
		{
			name:    "required fields without a column",
			header:  []string{"Key", "Created", "Status"},
			columns: map[string]string{"status": "Status"},
			unread:  []string{"Key", "Created"},
		},
		{
			name:   "empty header",
			header: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := s.MatchHeader(tc.header)
			if len(m.Fields) != len(s.Fields) {
				t.Fatalf("%d fields, want %d", len(m.Fields), len(s.Fields))
			}
			for i, f := range m.Fields {
				if f.Field != s.Fields[i].Name {
					t.Errorf("field %d is %s, want %s (the schema's order)", i, f.Field, s.Fields[i].Name)
				}
				if f.Column != tc.columns[f.Field] {
					t.Errorf("%s takes %q, want %q", f.Field, f.Column, tc.columns[f.Field])
				}
				if (f.Column == "") != (f.Index < 0) || f.Index >= 0 && tc.header[f.Index] != f.Column {
					t.Errorf("%s: index %d does not name column %q", f.Field, f.Index, f.Column)
				}
				if want := f.Field == "request_id" || f.Field == "created_at"; f.Required != want {
					t.Errorf("%s: required %v", f.Field, f.Required)
				}
			}
			if !reflect.DeepEqual(m.Unread, tc.unread) {
				t.Errorf("unread %q, want %q", m.Unread, tc.unread)
			}
			// The match is Bind's: the same columns, and Bind refuses exactly the headers
			// that leave a required field without one.
			n, err := s.Bind(tc.header)
			if missing := m.Unmatched(true); len(missing) > 0 {
				if !errors.Is(err, ErrNoColumns) {
					t.Errorf("required %v unmatched, but Bind: %v", missing, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind: %v", err)
			}
			for _, f := range m.Fields {
				id, _ := lookupField(f.Field)
				if n.col[id] != f.Index || n.colName[id] != f.Column {
					t.Errorf("%s: Bind takes column %d %q, MatchHeader %d %q", f.Field, n.col[id], n.colName[id], f.Index, f.Column)
				}
			}
		})
	}
}

func TestMatchKeys(t *testing.T) {
	spec, err := Parse([]byte(explainSchema), "t.job")
	if err != nil {
		t.Fatal(err)
	}
	s := spec.Inputs[0].Schema
	var keys []string
	for _, obj := range []string{
		`{"id": "1", "Opened": "2024-01-01T00:00:00Z", "Source": null, "x": 1}`,
		`{"id": "2", "Opened": "2024-01-02T00:00:00Z", "Agency": "DOT", "x": {"a": "}"}}`,
		`{"Case ID": "3", "opened": "late"}`,
	} {
		if keys, err = SODAKeys([]byte(obj), keys); err != nil {
			t.Fatalf("SODAKeys(%s): %v", obj, err)
		}
	}
	// A null is absent, as NormalizeJSON reads it; each key once, in order of appearance.
	if want := []string{"id", "Opened", "x", "Agency", "Case ID", "opened"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	m := s.MatchKeys(keys)
	got := map[string]string{}
	for _, f := range m.Fields {
		if f.Index != -1 {
			t.Errorf("%s: index %d for JSON", f.Field, f.Index)
		}
		got[f.Field] = f.Column
	}
	// Keys compare exactly ("opened" is not "Opened"), the first candidate present wins.
	want := map[string]string{"request_id": "Case ID", "created_at": "Opened", "status": "", "agency": "Agency", "channel": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns %v, want %v", got, want)
	}
	if want := []string{"id", "x", "opened"}; !reflect.DeepEqual(m.Unread, want) {
		t.Errorf("unread %q, want %q", m.Unread, want)
	}
	if u := m.Unmatched(false); !reflect.DeepEqual(u, []string{"status", "channel"}) {
		t.Errorf("unmatched %q", u)
	}
	if _, err := SODAKeys([]byte(`{"id": 1,}`), nil); err == nil {
		t.Error("SODAKeys accepted a malformed object")
	}
}
