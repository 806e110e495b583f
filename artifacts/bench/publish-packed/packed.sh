#!/usr/bin/env bash
# packed.sh DB_URL [RUNS]: what the server's part of the publish would cost if request_heat,
# request_geo (and agency_daily) were stored packed — one row per (city, year, month, agency or
# request type) with arrays of cells — instead of one row per cell. DB_URL is a database that a
# publish of `make demo`'s lake just filled (`coordinator publish demo.job --db URL`); it must be
# a superuser's (server-side COPY from /tmp). Loads each table's COPY text into a temporary
# table and builds its key, in a transaction rolled back, RUNS times (3), and prints psql's
# times in the order of the statements below. Measured only: the project does not store them so.
set -euo pipefail
url=$1 runs=${2:-3} dir=$(mktemp -d /tmp/packed.XXXXXX)
chmod 755 "$dir"
trap 'rm -rf "$dir"; PGOPTIONS="-c client_min_messages=warning" psql "$url" -qc "drop table if exists packed_heat, packed_geo, packed_daily"' EXIT
PGOPTIONS="-c client_min_messages=warning" psql "$url" -q <<SQL
drop table if exists packed_heat, packed_geo, packed_daily;
create table packed_heat as select city, year, month, agency,
  array_agg((weekday*24+hour)::smallint order by weekday, hour) cells, array_agg(requests order by weekday, hour) requests
  from request_heat group by 1, 2, 3, 4;
create table packed_geo as select city, year, month, request_type,
  array_agg((lat_bin*100)::int order by lat_bin, lon_bin) lat_bins, array_agg((lon_bin*100)::int order by lat_bin, lon_bin) lon_bins,
  array_agg(requests order by lat_bin, lon_bin) requests
  from request_geo group by 1, 2, 3, 4;
create table packed_daily as select city, year, month, agency,
  array_agg(extract(day from day)::smallint order by day) days, array_agg(opened order by day) opened,
  array_agg(closed order by day) closed, array_agg(median_resolution_hours order by day) median_resolution_hours
  from agency_daily group by 1, 2, 3, 4;
\copy request_heat to '$dir/heat'
\copy request_geo to '$dir/geo'
\copy agency_daily to '$dir/daily'
\copy request_monthly to '$dir/monthly'
\copy packed_heat to '$dir/pheat'
\copy packed_geo to '$dir/pgeo'
\copy packed_daily to '$dir/pdaily'
SQL
chmod 644 "$dir"/*
echo "rows: $(wc -l <"$dir/heat") heat, $(wc -l <"$dir/geo") geo, $(wc -l <"$dir/daily") daily, $(wc -l <"$dir/monthly") monthly;" \
  "packed: $(wc -l <"$dir/pheat") heat, $(wc -l <"$dir/pgeo") geo, $(wc -l <"$dir/pdaily") daily"
echo "columns: heat copy, key | geo copy, key | daily copy, key | monthly copy, key | packed heat copy, key | packed geo copy, key | packed daily copy, key (ms)"
for _ in $(seq "$runs"); do
  psql "$url" -q <<SQL 2>&1 | grep -o '[0-9.]* ms' | awk 'NR>1 && NR%3!=2 {printf "%s ", $1} END {print ""}'
\timing on
begin;
create temp table t1 (like request_heat); copy t1 from '$dir/heat'; alter table t1 add primary key (city, year, month, agency, weekday, hour);
create temp table t2 (like request_geo); copy t2 from '$dir/geo'; alter table t2 add primary key (city, year, month, request_type, lat_bin, lon_bin);
create temp table t3 (like agency_daily); copy t3 from '$dir/daily'; alter table t3 add primary key (city, day, agency);
create temp table t4 (like request_monthly); copy t4 from '$dir/monthly'; alter table t4 add primary key (city, year, month, request_type, agency);
create temp table t5 (like packed_heat); copy t5 from '$dir/pheat'; alter table t5 add primary key (city, year, month, agency);
create temp table t6 (like packed_geo); copy t6 from '$dir/pgeo'; alter table t6 add primary key (city, year, month, request_type);
create temp table t7 (like packed_daily); copy t7 from '$dir/pdaily'; alter table t7 add primary key (city, year, month, agency);
rollback;
SQL
done
