package jobs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ireports/ireports/record"
)

func TestScanSODA(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		offsets []int64
		objects []string
		errAt   string // substring of the error; empty: success
	}{
		{"empty array", " [ ] \n", nil, nil, ""},
		{"two objects", `[{"a":"1"},` + "\n" + ` {"b":{"c":"}]"}}]`, []int64{1, 13}, []string{`{"a":"1"}`, `{"b":{"c":"}]"}}`}, ""},
		{"escaped quote in string", `[{"a":"x\"}"}]`, []int64{1}, []string{`{"a":"x\"}"}`}, ""},
		{"empty input", "", nil, nil, "offset 0: unexpected end of input"},
		{"not an array", `{"a":1}`, nil, nil, "offset 0: unexpected '{', want '['"},
		{"array of numbers", `[1]`, nil, nil, "offset 1: unexpected '1', want an object"},
		{"truncated", `[{"a":"1"},{"b":`, []int64{1}, []string{`{"a":"1"}`}, "offset 11: unexpected end of input inside this object"},
		{"missing comma", `[{"a":"1"} {"b":"2"}]`, []int64{1}, []string{`{"a":"1"}`}, "offset 11: unexpected '{', want ',' or ']'"},
		{"invalid object", `[{"a" "1"}]`, nil, nil, "offset 1: the object is not valid JSON"},
		{"trailing data", `[]x`, nil, nil, "offset 2: unexpected 'x' after the array"},
		{"trailing comma", `[{"a":"1"},]`, []int64{1}, []string{`{"a":"1"}`}, "offset 11: unexpected ']', want an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var offsets []int64
			var objects []string
			// OneByteReader makes every read short, as a slow network would.
			err := ScanSODA(iotest.OneByteReader(strings.NewReader(tc.in)), func(off int64, raw []byte) error {
				offsets = append(offsets, off)
				objects = append(objects, string(raw))
				return nil
			})
			if tc.errAt == "" && err != nil {
				t.Fatal(err)
			}
			if tc.errAt != "" && (err == nil || !errors.Is(err, ErrMalformedJSON) || !strings.Contains(err.Error(), tc.errAt)) {
				t.Fatalf("error %v, want ErrMalformedJSON with %q", err, tc.errAt)
			}
			if !reflect.DeepEqual(offsets, tc.offsets) || !reflect.DeepEqual(objects, tc.objects) {
				t.Errorf("got %v %q, want %v %q", offsets, objects, tc.offsets, tc.objects)
			}
		})
	}
}

func TestScanSODACallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := ScanSODA(strings.NewReader(`[{},{},{}]`), func(int64, []byte) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("got %v after %d objects, want the callback's error after 1", err, n)
	}
}

func TestNormalizeJSON(t *testing.T) {
	nyc, _ := Builtin("nyc")
	tests := []struct {
		name   string
		raw    string
		want   record.Request
		reject string
	}{
		{
			name: "strings, nested location, null and unknown keys",
			raw: `{"unique_key":"61276295","created_date":"2024-05-27T02:08:51.000","closed_date":null,"status":"In Progress",
				"agency":"DOT","complaint_type":"Street \"Condition\"","descriptor":"Pothole \u2013 big","incident_zip":"10033",
				"location":{"latitude":"40.8","longitude":"-73.9","human_address":"{\"address\": \"\"}"},":@computed_region_x":"13"}`,
			want: record.Request{City: "nyc", RequestID: "61276295", CreatedAt: utc("2024-05-27T06:08:51Z"),
				Status: record.StatusOpen, StatusRaw: "In Progress", Agency: "DOT", RequestType: `Street "Condition"`,
				RequestSubtype: "Pothole – big", Zip: "10033", Latitude: 40.8, Longitude: -73.9, HasLocation: true, Year: 2024, Month: 5},
		},
		{
			name: "first candidate key wins regardless of key order",
			raw:  `{"unique_key":"2","Unique Key":"1","created_date":"2024-01-01T00:00:00.000","latitude":"40.1","longitude":"-74","location":{"latitude":"1","longitude":"1"}}`,
			want: record.Request{City: "nyc", RequestID: "1", CreatedAt: utc("2024-01-01T05:00:00Z"),
				Latitude: 40.1, Longitude: -74, HasLocation: true, Year: 2024, Month: 1},
		},
		{
			name: "numbers instead of strings",
			raw:  `{"unique_key":7,"created_date":"2024-01-01T00:00:00.000","latitude":40.5,"longitude":-74.25}`,
			want: record.Request{City: "nyc", RequestID: "7", CreatedAt: utc("2024-01-01T05:00:00Z"),
				Latitude: 40.5, Longitude: -74.25, HasLocation: true, Year: 2024, Month: 1},
		},
		{name: "missing created", raw: `{"unique_key":"1"}`, reject: ReasonMissingCreatedAt},
		{name: "escaped NUL in request id", raw: `{"unique_key":"1\u0000","created_date":"2024-01-01T00:00:00.000"}`, reject: ReasonNULByte},
		{name: "escaped NUL in agency", raw: `{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","agency":"D\u0000OT"}`, reject: ReasonNULByte},
		{name: "not an object", raw: `["a"]`, reject: ReasonBadJSON},
		{name: "truncated", raw: `{"unique_key":"1",`, reject: ReasonBadJSON},
		{name: "bad escape", raw: `{"unique_key":"\q"}`, reject: ReasonBadJSON},
	}
	n := nyc.BindJSON()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			var got record.Request
			err := n.NormalizeJSON(raw, &got)
			if tc.reject != "" {
				var rej *RejectError
				if !errors.As(err, &rej) || rej.Reason != tc.reject {
					t.Fatalf("got %v, want reject %s", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				raw[i] = 'X'
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if err := n.Normalize(nil, &record.Request{}); !errors.Is(err, ErrWrongBinding) {
		t.Errorf("Normalize on a JSON normalizer: %v", err)
	}
}

// TestKeyTable checks the key table against the map it is built from, for every key of every
// built-in schema and for keys that differ from one in a byte, in length or not at all.
func TestKeyTable(t *testing.T) {
	for _, name := range BuiltinNames() {
		s, _ := Builtin(name)
		n := s.BindJSON()
		probes := []string{"", "x", "unique_key_", "latitudE"}
		for k := range n.keys {
			probes = append(probes, k, k+"_", k[:len(k)-1], "_"+k, strings.ToUpper(k))
		}
		for _, k := range probes {
			if got, want := n.keyTab.refs([]byte(k)), n.keys[k]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: refs(%q) = %v, want %v", name, k, got, want)
			}
		}
	}
}
