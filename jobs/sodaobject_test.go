package jobs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
)

// sodaBoth scans in with ScanSODA and NormalizeJSON, and with ScanSODAObjects and
// NormalizeObject, and returns what each saw: every object's offset, request and error, and
// the scan's error.
func sodaBoth(n *Normalizer, in []byte) (viaJSON, viaObject string) {
	var a, b bytes.Buffer
	var r record.Request
	err := ScanSODA(bytes.NewReader(in), func(off int64, raw []byte) error {
		err := n.NormalizeJSON(raw, &r)
		fmt.Fprintf(&a, "%d %v\n", off, err)
		if err == nil {
			fmt.Fprintf(&a, "%+v\n", r)
		}
		return nil
	})
	fmt.Fprintf(&a, "scan: %v\n", err)
	err = ScanSODAObjects(bytes.NewReader(in), func(off int64, obj *SODAObject) error {
		err := n.NormalizeObject(obj, &r)
		fmt.Fprintf(&b, "%d %v\n", off, err)
		if err == nil {
			fmt.Fprintf(&b, "%+v\n", r)
		}
		return nil
	})
	fmt.Fprintf(&b, "scan: %v\n", err)
	return a.String(), b.String()
}

var sodaObjectSeeds = []string{
	`[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","location":{"latitude":"1","longitude":"2"}}]`,
	`[{"a":"\ud83d\ude00"},{"b":[1,{"c":"]"}]}]`,
	`[{"unique_key":"\u12"}]`,
	`[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","agency":"A\u0000"}]`,
	`[`,
	`[ { "unique_key" : "7" , "created_date" : "2024-03-01T10:00:00.000" , "agency" : null , "agency" : "X" } , {} ]`,
	`[{"uniq\u0075e_key":"8","created_date":"2024-03-01T10:00:00.000","complaint_type":"a \"b\" \\ c\n","latitude":40.7,"longitude":-73.9}]`,
	`[{"unique_key":"9","unique_key":"10","created_date":"2024-03-01T10:00:00.000","status":"Closed","closed_date":null,"x":[true,false,null,-1.5e3]}]`,
	`[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","agency":"NY` + "\x01" + `PD"}]`,
	`[{"unique_key":1,"created_date":"2024-01-01T00:00:00.000"},{"unique_key":"2" "created_date":"x"}]`,
}

// TestNormalizeObject checks that the located members give NormalizeObject what
// NormalizeJSON reads from the raw object.
func TestNormalizeObject(t *testing.T) {
	nyc, _ := Builtin("nyc")
	n := nyc.BindJSON()
	for i, in := range sodaObjectSeeds {
		if a, b := sodaBoth(n, []byte(in)); a != b {
			t.Errorf("input %d: NormalizeJSON saw\n%s\nNormalizeObject saw\n%s", i, a, b)
		}
	}
}

// TestNormalizeObjectRealData is TestNormalizeObject on the real SODA page.
func TestNormalizeObjectRealData(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(testenv.RealData(t), "nyc", "soda_erm2-nwe9_page.json"))
	if err != nil {
		t.Fatal(err)
	}
	nyc, _ := Builtin("nyc")
	if a, b := sodaBoth(nyc.BindJSON(), in); a != b {
		t.Errorf("NormalizeJSON and NormalizeObject differ on the real page")
	}
}

// FuzzSODAObjects checks NormalizeObject against NormalizeJSON on arbitrary input.
func FuzzSODAObjects(f *testing.F) {
	for _, s := range sodaObjectSeeds {
		f.Add(s)
	}
	nyc, _ := Builtin("nyc")
	n := nyc.BindJSON()
	f.Fuzz(func(t *testing.T, in string) {
		if a, b := sodaBoth(n, []byte(in)); a != b {
			t.Fatalf("NormalizeJSON saw\n%s\nNormalizeObject saw\n%s", a, b)
		}
	})
}

// TestSODALoneSurrogate: a \u escape of a lone UTF-16 surrogate in a kept text field is
// rejected as invalid_utf8, as raw invalid UTF-8 is (it became U+FFFD and was kept), by both
// JSON paths; a surrogate pair is its character, and a lone one in a member no field reads
// changes nothing.
func TestSODALoneSurrogate(t *testing.T) {
	nyc, _ := Builtin("nyc")
	n := nyc.BindJSON()
	obj := func(agency, other string) string {
		return `[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000","agency":"` + agency + `","unread":"` + other + `"}]`
	}
	for _, tc := range []struct{ agency, other, want string }{
		{`NYPD \ud800`, ``, ReasonInvalidUTF8},
		{`\udfff`, ``, ReasonInvalidUTF8},
		{`\ud800\u0041`, ``, ReasonInvalidUTF8},
		{`\ud83d\ude00`, `\ud800`, ""},
		{`NYPD`, `\udc00`, ""},
	} {
		viaJSON, viaObject := sodaBoth(n, []byte(obj(tc.agency, tc.other)))
		if viaJSON != viaObject {
			t.Errorf("agency %s: the two JSON paths differ:\n%s\n%s", tc.agency, viaJSON, viaObject)
		}
		var r record.Request
		err := ScanSODA(bytes.NewReader([]byte(obj(tc.agency, tc.other))), func(_ int64, raw []byte) error {
			err := n.NormalizeJSON(raw, &r)
			var re *RejectError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("agency %s: %v", tc.agency, err)
			case tc.want != "" && (!errors.As(err, &re) || re.Reason != tc.want || re.Field != "agency"):
				t.Errorf("agency %s: %v; want a %s reject of agency", tc.agency, err, tc.want)
			case tc.want == "" && r.Agency == "\uFFFD":
				t.Errorf("agency %s read as U+FFFD", tc.agency)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSODANestedValues: an object or array where a text, time or number is expected is a
// bad_json reject naming the field (it was kept as its JSON source: agency `{"a":1}`), by
// both JSON paths; SODA's location object is a point, and a number or a boolean is text.
func TestSODANestedValues(t *testing.T) {
	nyc, _ := Builtin("nyc")
	n := nyc.BindJSON()
	for _, tc := range []struct{ members, field string }{
		{`"agency":{"a":1}`, "agency"},
		{`"complaint_type":["Noise"]`, "request_type"},
		{`"closed_date":{"t":"2024-01-02T00:00:00.000"}`, "closed_at"},
		{`"agency":1`, ""},
		{`"agency":true`, ""},
		{`"location":{"latitude":"40.7","longitude":"-73.9"}`, ""},
		{`"unread":{"a":[1]}`, ""},
	} {
		in := []byte(`[{"unique_key":"1","created_date":"2024-01-01T00:00:00.000",` + tc.members + `}]`)
		if a, b := sodaBoth(n, in); a != b {
			t.Errorf("%s: the two JSON paths differ:\n%s\n%s", tc.members, a, b)
		}
		var r record.Request
		if err := ScanSODA(bytes.NewReader(in), func(_ int64, raw []byte) error {
			err := n.NormalizeJSON(raw, &r)
			var re *RejectError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("%s: %v", tc.members, err)
			case tc.field != "" && (!errors.As(err, &re) || re.Reason != ReasonBadJSON || re.Field != tc.field):
				t.Errorf("%s: %v; want a bad_json reject of %s", tc.members, err, tc.field)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSODAAbsentKeyNamed: a SODA object without the request id is rejected naming the key a
// SODA export uses (unique_key), not the CSV export's column the built-in schema lists first.
func TestSODAAbsentKeyNamed(t *testing.T) {
	nyc, _ := Builtin("nyc")
	var r record.Request
	err := nyc.BindJSON().NormalizeJSON([]byte(`{"created_date":"2024-01-01T00:00:00.000"}`), &r)
	var re *RejectError
	if !errors.As(err, &re) || re.Reason != ReasonMissingRequestID || re.Column != "unique_key" {
		t.Errorf("NormalizeJSON of an object without unique_key: %+v; want missing_request_id naming unique_key", err)
	}
	for cands, want := range map[string]string{"Unique Key|unique_key": "unique_key", "Case ID|case id": "Case ID", ":id|id": ":id"} {
		if got := absentKey(strings.Split(cands, "|")); got != want {
			t.Errorf("absentKey(%s) = %q, want %q", cands, got, want)
		}
	}
}
