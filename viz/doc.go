// Package viz will serve the Plotly charts over the Postgres summary tables (DESIGN.md,
// "viz"). Until the Postgres sink lands, the summaries are Parquet files under the lake's
// _summary/ directory and this package has nothing to serve.
package viz
