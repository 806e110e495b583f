package jobs

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/ireports/ireports/internal/testenv"
	"github.com/ireports/ireports/record"
)

// TestBorrow checks that a borrowing normalizer fills the same requests, and rejects the same
// records, as one that interns, on the real files (nyc's repairs mojibake).
func TestBorrow(t *testing.T) {
	data := testenv.RealData(t)
	for _, tc := range []struct{ schema, file string }{
		{"nyc", "nyc/portal_2011_subset.csv"},
		{"la", "la/myla311_2017_subset.csv"},
		{"baltimore", "baltimore/baltimore311_sample_10000.csv"},
		{"st_louis", "st_louis/stl_csb_2011.csv"},
		{"kansas_city", "kansas_city/kc311_beacon_hills_2007_2020.csv"},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			f, err := os.Open(filepath.Join(data, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cr := csv.NewReader(f)
			cr.FieldsPerRecord = -1
			header, err := cr.Read()
			if err != nil {
				t.Fatal(err)
			}
			var recs [][][]byte
			for {
				rec, err := cr.Read()
				if err != nil {
					break
				}
				recs = append(recs, bs(rec...))
			}
			s, _ := Builtin(tc.schema)
			plain, err := s.Bind(header)
			if err != nil {
				t.Fatal(err)
			}
			borrow, _ := s.Bind(header)
			borrow.Borrow()
			for i, rec := range recs {
				var a, b record.Request
				errA, errB := plain.Normalize(rec, &a), borrow.Normalize(rec, &b)
				if (errA == nil) != (errB == nil) || errA != nil && errA.Error() != errB.Error() {
					t.Fatalf("record %d: errors %v and %v", i, errA, errB)
				}
				if errA == nil && a != b {
					t.Fatalf("record %d: interned %+v, borrowed %+v", i, a, b)
				}
			}
		})
	}
}
