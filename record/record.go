// Package record defines the normalized 311 service request: the one shape every city's raw
// export is turned into, the unit the shuffle moves, and the row type of the Parquet lake.
//
// Conventions callers rely on:
//   - Times are UTC instants. A zero time.Time means null (not known).
//   - An empty string means null.
//   - Latitude and Longitude are meaningful only when HasLocation is true; placeholder
//     coordinates (0,0, Baltimore's 39,-77, …) are normalized to HasLocation=false.
//   - Year and Month are the calendar month of CreatedAt in the city's local time zone: together
//     with City they form the partition key of the lake.
package record

import (
	"fmt"
	"time"
)

// Status is the normalized request status.
type Status uint8

// The statuses, in the order their wire values are assigned. Never reorder: the shuffle
// encoding stores the numeric value.
const (
	StatusOther Status = iota
	StatusOpen
	StatusClosed
)

func (s Status) String() string {
	switch s {
	case StatusOpen:
		return "open"
	case StatusClosed:
		return "closed"
	case StatusOther:
		return "other"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Request is one normalized service request.
type Request struct {
	City           string
	RequestID      string
	CreatedAt      time.Time // required; UTC
	ClosedAt       time.Time // zero: null
	UpdatedAt      time.Time // zero: null
	Status         Status
	StatusRaw      string
	Agency         string
	RequestType    string
	RequestSubtype string
	Latitude       float64 // valid when HasLocation
	Longitude      float64 // valid when HasLocation
	HasLocation    bool
	Zip            string
	Neighborhood   string
	Channel        string

	// Year and Month are CreatedAt's calendar month in the city's time zone.
	Year  int
	Month int

	// Ord orders the versions of one request that have equal UpdatedAt: the version read
	// later (a later file in the plan, or a later byte offset in the same file) has a larger
	// Ord. It makes de-duplication deterministic; it is not written to the lake.
	Ord uint64
}

// Key is the partition key of the lake: a (city, year, month) group.
type Key struct {
	City  string
	Year  int
	Month int
}

func (k Key) String() string { return fmt.Sprintf("%s/%04d-%02d", k.City, k.Year, k.Month) }

// Less orders keys by city, then year, then month.
func (k Key) Less(o Key) bool {
	if k.City != o.City {
		return k.City < o.City
	}
	if k.Year != o.Year {
		return k.Year < o.Year
	}
	return k.Month < o.Month
}

// Key returns the partition key of r.
func (r *Request) Key() Key { return Key{City: r.City, Year: r.Year, Month: r.Month} }

// ResolutionHours is the time from creation to closing in hours, and whether it is known:
// it is unknown when the request is not closed or when the source's closing time precedes
// its creation (a data error the lake keeps in closed_at but does not turn into a duration).
func (r *Request) ResolutionHours() (float64, bool) {
	if r.ClosedAt.IsZero() || r.ClosedAt.Before(r.CreatedAt) {
		return 0, false
	}
	return r.ClosedAt.Sub(r.CreatedAt).Hours(), true
}

// Newer reports whether r is a later version of the same request than o: a later UpdatedAt
// wins; on a tie, the version read later (larger Ord).
func (r *Request) Newer(o *Request) bool {
	if !r.UpdatedAt.Equal(o.UpdatedAt) {
		return r.UpdatedAt.After(o.UpdatedAt)
	}
	return r.Ord > o.Ord
}
