// Package viz serves the ireports web page: Plotly charts over the Postgres summary tables
// (DESIGN.md, "viz"), for city analysts and agency managers.
//
// Two pages share one JSON API:
//
//   - "/" (overview): a map of requests from request_geo bins, the top request types of a
//     city, the top types compared across up to three cities (counts and shares), monthly
//     volume per city, and resolution time by agency (median and p90).
//   - "/review" (agency daily review): for one city and agency (or all), the recent months
//     against the months before them — recent in blue, historical in green, the difference
//     in purple — as a daily line, weekday × hour heat maps, average counts and resolution
//     performance.
//
// Both open on the city with the most requests unless the URL names one (?city=sf); every
// control is kept in the URL, so a view can be bookmarked.
//
// Every chart is drawn in the browser by plotly.js from one endpoint under /api/ (see
// routes in server.go). plotly.js — the npm package plotly.js-dist-min, which `make build`
// installs and copies into viz/plotly/ — is compiled into the binary and served by it, so
// the page needs neither a CDN nor map tiles, and a deployed viz reads no file at run time
// but those its flags name (plotly.go).
//
// The API (all GET; months are YYYY-MM; city, agency and type values are those
// /api/cities, /api/agencies and /api/request-types list, see "Agency and type values"):
//
//	/api/cities                                   cities with their months, days and requests
//	/api/agencies?city                            a city's agencies, busiest first
//	/api/request-types?city                       a city's request types, busiest first
//	/api/map?city&from&to&type                    request_geo bins (centres, requests), and an
//	                                              outline of where they are (outline.go)
//	/api/top-types?city&from&to&n                 the n (5) most requested types, with shares
//	/api/compare?cities=a,b,c&from&to&n           each city's top n types, counts and shares
//	/api/monthly?cities&from&to                   requests per month per city
//	/api/resolution?city&from&to&n                median and p90 hours of the n busiest agencies
//	/api/review?city&agency&end&recent&history    the agency daily review (see review.go)
//
// A city's endpoints default to the city's whole range; the cross-city ones to all time.
// Months lie between 1900-01 and 2199-12. A database written by an older normalizer may
// hold requests dated outside those years: no period holds them, so the ranges
// /api/cities gives (first, last, first_day, last_day) and every default period are those
// of the city's data within the years, and the city's outside_range and note say how many
// requests are left out of every chart. A period the API gives is always one it takes.
//
// Agency and type values: an agency or request type is named by its key as the tables
// hold it — any UTF-8 text without NUL, up to the normalizer's 1,000 bytes, line breaks,
// tabs and U+0085 included — with two exceptions that keep every value apart. The rows
// without an agency or type (the empty key, which an empty parameter could not name: ""
// means all) are "(none)". A key that itself reads as that marker — "(none)", "((none))",
// … — is given in one more pair of parentheses: a real agency named "(none)" is
// "((none))". Lists carry each key's value and label ("(no agency)" for the empty key);
// clients should send back the value they are given.
// The charts' endpoints (all but the first three) also answer format=csv with the chart's
// rows as a CSV download (csv.go); the review, which draws five charts, takes chart=daily,
// heat-recent, heat-historical, heat-difference or resolution with it. Each chart on the
// pages links to its CSV.
//
// Rules the API keeps, and callers can rely on:
//
//   - Every parameter is validated before any SQL runs: a city, agency or request type must
//     be one the summary tables hold (checked against a cached list), dates and numbers
//     must parse and lie in range, unknown or repeated parameters are refused. A bad
//     request gets 400 with a JSON {"error": "…"} that says what to fix. SQL is
//     parameterized only; no request text is ever part of a statement.
//   - Every query runs under the request's context with Config.QueryTimeout. A request out
//     of time gets 504 ("try a shorter period"), or 503 with Retry-After when it was waiting
//     for a publish that rebuilds the tables (readers wait for its commit).
//   - Responses carry Cache-Control and a strong ETag of the body; If-None-Match gets 304.
//   - A chart with nothing to show carries a "message" saying why ("no data for Boston in
//     2012"), which the page shows instead of an empty plot.
//
// The server only reads: connect it as the read-only role of pgsink.EnsureReadOnlyRole.
package viz
