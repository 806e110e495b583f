package summary

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ireports/ireports/record"
)

// BenchmarkCompute aggregates one month's group of requests (a reducer calls the Builder
// once per request and Tables once per group); rows/s and ns/op are its cost per group of
// that size.
func BenchmarkCompute(b *testing.B) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		b.Skip(err)
	}
	for _, n := range []int{500, 20_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 8))
			agencies := []string{"DOT", "NYPD", "DSNY", "HPD", "DEP", "DOB", "DPR", "DOHMH", ""}
			var types []string
			for i := range 120 {
				types = append(types, "type "+strconv.Itoa(i))
			}
			base := time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC).Unix()
			reqs := make([]record.Request, n)
			for i := range reqs {
				r := &reqs[i]
				r.CreatedAt = time.Unix(base+rng.Int64N(31*86400), 0).UTC()
				r.Agency, r.RequestType = agencies[rng.IntN(len(agencies))], types[rng.IntN(len(types))]
				r.Status = record.StatusOpen
				if rng.IntN(4) > 0 {
					r.Status, r.ClosedAt = record.StatusClosed, r.CreatedAt.Add(time.Duration(rng.Int64N(100*3600))*time.Second)
				}
				if rng.IntN(5) > 0 {
					r.HasLocation, r.Latitude, r.Longitude = true, 40.5+rng.Float64()*0.4, -74.2+rng.Float64()*0.4
				}
			}
			k := record.Key{City: "nyc", Year: 2024, Month: 3}
			for b.Loop() {
				Compute(k, ny, reqs)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
