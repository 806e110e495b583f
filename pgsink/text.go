package pgsink

import (
	"strings"

	"github.com/ireports/ireports/pgsink/pgcopy"
	"github.com/ireports/ireports/summary"
)

// PostgreSQL's text type refuses a NUL byte and invalid UTF-8 (in a UTF8 database), in COPY
// as in parameters: one such agency or request type in a summary file would fail the whole
// publish, every time it is retried. The normalizer rejects such records (jobs.ReasonNULByte,
// jobs.ReasonInvalidUTF8), so current jobs never produce them; these functions are the
// sink's own guard for lakes written by older binaries or by other writers, so that
// publishing fails only when the database does.

// cleanText returns s with every NUL byte and every invalid UTF-8 sequence replaced by
// U+FFFD, the mark of an unreadable character: visible, unlike a stripped byte.
func cleanText(s string) string {
	if pgcopy.Storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// cleanGroup makes every text value of one group's rows storable and returns how many rows
// it changed. Two keys that differed only in what was replaced ("A\x00" and "A\uFFFD") become
// one; their rows are merged so that the primary key holds: counts add up, and a median or
// p90 of merged rows, which the parts cannot give, becomes NULL. t's slices are replaced, not
// modified, when anything changes: a LoadFunc may return the same slices on every attempt.
func cleanGroup(t *summary.Tables) int {
	var n, c int
	t.Monthly, c = cleanRows(t.Monthly,
		func(r *summary.Monthly) [3]*string { return [3]*string{&r.City, &r.RequestType, &r.Agency} },
		func(r *summary.Monthly) monthlyKey {
			return monthlyKey{r.City, r.Year, r.Month, r.RequestType, r.Agency}
		},
		func(into, from *summary.Monthly) {
			into.Requests += from.Requests
			into.Closed += from.Closed
			into.Open += from.Open
			into.MedianResolutionHours, into.P90ResolutionHours = nil, nil
		})
	n += c
	t.AgencyDaily, c = cleanRows(t.AgencyDaily,
		func(r *summary.AgencyDaily) [3]*string { return [3]*string{&r.City, &r.Agency} },
		func(r *summary.AgencyDaily) dailyKey { return dailyKey{r.City, r.Agency, r.Day} },
		func(into, from *summary.AgencyDaily) {
			into.Opened += from.Opened
			into.Closed += from.Closed
			into.MedianResolutionHours = nil
		})
	n += c
	t.Heat, c = cleanRows(t.Heat,
		func(r *summary.Heat) [3]*string { return [3]*string{&r.City, &r.Agency} },
		func(r *summary.Heat) heatKey { return heatKey{r.City, r.Year, r.Month, r.Agency, r.Weekday, r.Hour} },
		func(into, from *summary.Heat) { into.Requests += from.Requests })
	n += c
	t.Geo, c = cleanRows(t.Geo,
		func(r *summary.Geo) [3]*string { return [3]*string{&r.City, &r.RequestType} },
		func(r *summary.Geo) geoKey { return geoKey{r.City, r.Year, r.Month, r.RequestType, r.LatBin, r.LonBin} },
		func(into, from *summary.Geo) { into.Requests += from.Requests })
	return n + c
}

// The primary keys of the summary tables (migrations/0001_init.sql).
type (
	monthlyKey struct {
		city            string
		year, month     int32
		reqType, agency string
	}
	dailyKey struct {
		city, agency string
		day          int32
	}
	heatKey struct {
		city          string
		year, month   int32
		agency        string
		weekday, hour int32
	}
	geoKey struct {
		city           string
		year, month    int32
		reqType        string
		latBin, lonBin float64
	}
)

// cleanRows applies cleanText to the text fields of rows (texts lists them; nil entries are
// skipped) and merges the rows whose primary keys (key) became equal. It returns rows itself
// when every value is storable, else a new slice, and the number of rows it changed.
func cleanRows[T any, K comparable](rows []T, texts func(*T) [3]*string, key func(*T) K, merge func(into, from *T)) ([]T, int) {
	bad := func(r *T) bool {
		for _, p := range texts(r) {
			if p != nil && !pgcopy.Storable(*p) {
				return true
			}
		}
		return false
	}
	changed := 0
	for i := range rows {
		if bad(&rows[i]) {
			changed++
		}
	}
	if changed == 0 {
		return rows, 0
	}
	out := make([]T, 0, len(rows))
	at := make(map[K]int, len(rows)) // primary key → index in out
	for i := range rows {
		r := rows[i]
		for _, p := range texts(&r) {
			if p != nil {
				*p = cleanText(*p)
			}
		}
		k := key(&r)
		if j, ok := at[k]; ok {
			merge(&out[j], &r)
			continue
		}
		at[k] = len(out)
		out = append(out, r)
	}
	return out, changed
}
