-- The normalize job of scripts/corpus.job.in as one DuckDB script: make bench-duckdb runs it
-- on the same corpus as `coordinator run` and compares the two (scripts/benchrun duckdb).
--
-- @DATA@ is the corpus directory written by `coordinator gen`, @OUT@ the output directory;
-- the runner (scripts/duckdb) substitutes both. What it does, as the job does:
--   - reads every input of the job (thirteen layouts of ten cities; NYC's SODA export as JSON),
--     all columns as text, the schema's null spellings as NULL;
--   - maps each city's columns onto the record (jobs/schemas/*.hcl and corpus.job.in's Austin),
--     parses its timestamps in its layouts and time zone, maps its status to
--     closed/open/other, takes latitude/longitude or else the "(lat, lon)" point or else the
--     projected x/y, and drops out-of-range and placeholder points;
--   - rejects records without a request id or a creation time;
--   - keeps the newest version of each (city, request id): latest updated_at, then the closed one;
--   - writes the lake as zstd Parquet partitioned by city/year/month (local year and month), in
--     row groups of 131,072 rows, and the four summary datasets the reducers write
--     (request_monthly, agency_daily, request_heat, request_geo), partitioned the same way.
-- Where it is simpler than the job (so, if anything, cheaper): a malformed CSV row is skipped
-- (ignore_errors) rather than recorded with its byte offset; rejects are counted, not written;
-- NYC's mojibake is not repaired; the projected coordinates of Chicago, DC and St. Louis use an
-- affine fit of the projection around the city (internal/crs: within ~40 m over 15 km) instead
-- of the exact inverse; ties of updated_at between versions are broken by closed_at, not by the
-- order they were read in; rows within a group are not sorted by created_at.

SET preserve_insertion_order = false;

-- A local civil time in zone tz → TIMESTAMPTZ (timezone(text, timestamp) reads it as local).
CREATE MACRO local_ts(ts, tz) AS timezone(tz, ts);
CREATE MACRO status_of(s, closed, open) AS CASE
    WHEN s IS NULL THEN 'other'
    WHEN list_contains(closed, lower(s)) THEN 'closed'
    WHEN list_contains(open, lower(s)) THEN 'open'
    ELSE 'other' END;
-- "(lat, lon)", also at the end of a longer text (NYC SODA: address, newline, point).
CREATE MACRO point_lat(p) AS try_cast(regexp_extract(p, '\(\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*\)', 1) AS DOUBLE);
CREATE MACRO point_lon(p) AS try_cast(regexp_extract(p, '\(\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*\)', 2) AS DOUBLE);
-- "64106.0" → "64106" (integer_floats).
CREATE MACRO int_text(s) AS CASE WHEN s LIKE '%.0' THEN s[:-3] ELSE s END;
-- Unix milliseconds, possibly written as a float → TIMESTAMPTZ.
CREATE MACRO unix_ms(s) AS make_timestamp(CAST(try_cast(s AS DOUBLE) * 1000 AS BIGINT))::TIMESTAMPTZ;

CREATE TEMP TABLE raw AS
-- NYC, the portal's CSV.
SELECT 'nyc' AS city, 'America/New_York' AS tz, "Unique Key" AS request_id,
    local_ts(try_strptime("Created Date", '%m/%d/%Y %I:%M:%S %p'), 'America/New_York') AS created_at,
    local_ts(try_strptime("Closed Date", '%m/%d/%Y %I:%M:%S %p'), 'America/New_York') AS closed_at,
    local_ts(try_strptime("Resolution Action Updated Date", '%m/%d/%Y %I:%M:%S %p'), 'America/New_York') AS updated_at,
    "Status" AS status_raw,
    status_of("Status", ['closed'], ['open', 'in progress', 'assigned', 'pending', 'started', 'unassigned']) AS status,
    "Agency" AS agency, "Complaint Type" AS request_type, "Descriptor" AS request_subtype,
    "Incident Zip" AS zip, NULL AS neighborhood, "Open Data Channel Type" AS channel,
    coalesce(try_cast("Latitude" AS DOUBLE), point_lat("Location")) AS latitude,
    coalesce(try_cast("Longitude" AS DOUBLE), point_lon("Location")) AS longitude
FROM read_csv('@DATA@/nyc/portal-*.csv', header = true, all_varchar = true, strict_mode = false, nullstr = ['', 'N/A'], ignore_errors = true)
UNION ALL
-- NYC, the SODA API's CSV.
SELECT 'nyc', 'America/New_York', unique_key,
    local_ts(try_strptime(created_date, '%Y-%m-%dT%H:%M:%S.%g'), 'America/New_York'),
    local_ts(try_strptime(closed_date, '%Y-%m-%dT%H:%M:%S.%g'), 'America/New_York'),
    local_ts(try_strptime(resolution_action_updated_date, '%Y-%m-%dT%H:%M:%S.%g'), 'America/New_York'),
    status, status_of(status, ['closed'], ['open', 'in progress', 'assigned', 'pending', 'started', 'unassigned']),
    agency, complaint_type, descriptor, incident_zip, NULL, open_data_channel_type,
    coalesce(try_cast(latitude AS DOUBLE), point_lat(location)),
    coalesce(try_cast(longitude AS DOUBLE), point_lon(location))
FROM read_csv('@DATA@/nyc/soda-*.csv', header = true, all_varchar = true, strict_mode = false, nullstr = ['', 'N/A'], ignore_errors = true)
UNION ALL
-- NYC, the SODA API's JSON (an array of objects; location is an object, latitude/longitude suffice).
SELECT 'nyc', 'America/New_York', unique_key,
    local_ts(try_strptime(created_date, '%Y-%m-%dT%H:%M:%S.%g'), 'America/New_York'),
    local_ts(try_strptime(closed_date, '%Y-%m-%dT%H:%M:%S.%g'), 'America/New_York'),
    local_ts(try_strptime(resolution_action_updated_date, '%Y-%m-%dT%H:%M:%S.%g'), 'America/New_York'),
    status, status_of(status, ['closed'], ['open', 'in progress', 'assigned', 'pending', 'started', 'unassigned']),
    agency, complaint_type, descriptor, nullif(incident_zip, 'N/A'), NULL, open_data_channel_type,
    try_cast(latitude AS DOUBLE), try_cast(longitude AS DOUBLE)
FROM read_json('@DATA@/nyc/soda-*.json', format = 'array', ignore_errors = true, columns = {
    unique_key: 'VARCHAR', created_date: 'VARCHAR', closed_date: 'VARCHAR',
    resolution_action_updated_date: 'VARCHAR', status: 'VARCHAR', agency: 'VARCHAR',
    complaint_type: 'VARCHAR', descriptor: 'VARCHAR', incident_zip: 'VARCHAR',
    open_data_channel_type: 'VARCHAR', latitude: 'VARCHAR', longitude: 'VARCHAR'})
UNION ALL
-- Los Angeles (MyLA311).
SELECT 'la', 'America/Los_Angeles', "SRNumber",
    local_ts(try_strptime("CreatedDate", '%m/%d/%Y %I:%M:%S %p'), 'America/Los_Angeles'),
    local_ts(try_strptime("ClosedDate", '%m/%d/%Y %I:%M:%S %p'), 'America/Los_Angeles'),
    local_ts(try_strptime("UpdatedDate", '%m/%d/%Y %I:%M:%S %p'), 'America/Los_Angeles'),
    "Status", status_of("Status", ['closed'], ['open', 'pending', 'in progress']),
    "Owner", "RequestType", NULL, "ZipCode", "NCName", "RequestSource",
    coalesce(try_cast("Latitude" AS DOUBLE), point_lat("Location")),
    coalesce(try_cast("Longitude" AS DOUBLE), point_lon("Location"))
FROM read_csv('@DATA@/la/*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- San Francisco (an R export: NA for missing values).
SELECT 'sf', 'America/Los_Angeles', "CaseID",
    local_ts(try_strptime("Opened", '%m/%d/%Y %I:%M:%S %p'), 'America/Los_Angeles'),
    local_ts(try_strptime("Closed", '%m/%d/%Y %I:%M:%S %p'), 'America/Los_Angeles'),
    local_ts(try_strptime("Updated", '%m/%d/%Y %I:%M:%S %p'), 'America/Los_Angeles'),
    "Status", status_of("Status", ['closed'], ['open']),
    "Responsible.Agency", "Category", "Request.Type", NULL, "Neighborhood", "Source",
    point_lat("Point"), point_lon("Point")
FROM read_csv('@DATA@/sf/*.csv', header = true, all_varchar = true, strict_mode = false, nullstr = ['', 'NA'], ignore_errors = true)
UNION ALL
-- Boston, the 2022 system (local time).
SELECT 'boston', 'America/New_York', case_enquiry_id,
    local_ts(try_strptime(open_dt, '%Y-%m-%d %H:%M:%S'), 'America/New_York'),
    local_ts(try_strptime(closed_dt, '%Y-%m-%d %H:%M:%S'), 'America/New_York'),
    NULL::TIMESTAMPTZ,
    case_status, status_of(case_status, ['closed'], ['open', 'in progress', 'create', 'submit', 'needs reallocation']),
    department, type, NULL, location_zipcode, neighborhood, source,
    try_cast(latitude AS DOUBLE), try_cast(longitude AS DOUBLE)
FROM read_csv('@DATA@/boston/boston311-2022-*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- Boston, the 2025 system (UTC offsets, any number of fraction digits).
SELECT 'boston', 'America/New_York', case_id,
    try_cast(open_date AS TIMESTAMPTZ), try_cast(close_date AS TIMESTAMPTZ), NULL::TIMESTAMPTZ,
    case_status, status_of(case_status, ['closed'], ['open', 'in progress', 'create', 'submit', 'needs reallocation']),
    assigned_department, service_name, NULL, zip_code, neighborhood, report_source,
    try_cast(latitude AS DOUBLE), try_cast(longitude AS DOUBLE)
FROM read_csv('@DATA@/boston/boston311-2025-*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- Baltimore.
SELECT 'baltimore', 'America/New_York', coalesce("ServiceRequestNum", "SRRecordID"),
    local_ts(try_strptime("CreatedDate", '%m/%d/%Y %I:%M:%S %p'), 'America/New_York'),
    local_ts(try_strptime("CloseDate", '%m/%d/%Y %I:%M:%S %p'), 'America/New_York'),
    local_ts(try_strptime("StatusDate", '%m/%d/%Y %I:%M:%S %p'), 'America/New_York'),
    "SRStatus", status_of("SRStatus", ['closed', 'closed (duplicate)', 'closed (transferred)'],
        ['open', 'new', 'pending', 'in progress', 'open (duplicate)', 'new (duplicate)']),
    "Agency", "SRType", NULL, "ZipCode", "Neighborhood", "MethodReceived",
    coalesce(try_cast("Latitude" AS DOUBLE), point_lat("GeoLocation")),
    coalesce(try_cast("Longitude" AS DOUBLE), point_lon("GeoLocation"))
FROM read_csv('@DATA@/baltimore/*.csv', header = true, all_varchar = true, strict_mode = false, nullstr = ['', 'NA'], ignore_errors = true)
UNION ALL
-- Chicago, the SODA export (x/y: EPSG:3435, feet).
SELECT 'chicago', 'America/Chicago', sr_number,
    local_ts(try_strptime(created_date, ['%Y-%m-%dT%H:%M:%S.%g', '%Y-%m-%dT%H:%M:%S']), 'America/Chicago'),
    local_ts(try_strptime(closed_date, ['%Y-%m-%dT%H:%M:%S.%g', '%Y-%m-%dT%H:%M:%S']), 'America/Chicago'),
    local_ts(try_strptime(last_modified_date, ['%Y-%m-%dT%H:%M:%S.%g', '%Y-%m-%dT%H:%M:%S']), 'America/Chicago'),
    status, status_of(status, ['completed', 'completed - dup'], ['open', 'open - dup']),
    owner_department, sr_type, NULL, zip_code, community_area, origin,
    coalesce(try_cast(latitude AS DOUBLE), 41.85 + (try_cast(x_coordinate AS DOUBLE) - 1162251.196) * -2.0877378e-08
        + (try_cast(y_coordinate AS DOUBLE) - 1888607.232) * 2.7441015e-06),
    coalesce(try_cast(longitude AS DOUBLE), -87.68 + (try_cast(x_coordinate AS DOUBLE) - 1162251.196) * 3.6701573e-06
        + (try_cast(y_coordinate AS DOUBLE) - 1888607.232) * 2.7922904e-08)
FROM read_csv('@DATA@/chicago/soda-*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- Chicago, the legacy export.
SELECT 'chicago', 'America/Chicago', "Service Request Number",
    local_ts(try_strptime("Creation Date", ['%Y-%m-%dT%H:%M:%S.%g', '%Y-%m-%dT%H:%M:%S']), 'America/Chicago'),
    local_ts(try_strptime("Completion Date", ['%Y-%m-%dT%H:%M:%S.%g', '%Y-%m-%dT%H:%M:%S']), 'America/Chicago'),
    NULL::TIMESTAMPTZ,
    "Status", status_of("Status", ['completed', 'completed - dup'], ['open', 'open - dup']),
    NULL, "Type of Service Request", NULL, "ZIP Code", "Community Area", NULL,
    coalesce(try_cast("Latitude" AS DOUBLE), 41.85 + (try_cast("X Coordinate" AS DOUBLE) - 1162251.196) * -2.0877378e-08
        + (try_cast("Y Coordinate" AS DOUBLE) - 1888607.232) * 2.7441015e-06),
    coalesce(try_cast("Longitude" AS DOUBLE), -87.68 + (try_cast("X Coordinate" AS DOUBLE) - 1162251.196) * 3.6701573e-06
        + (try_cast("Y Coordinate" AS DOUBLE) - 1888607.232) * 2.7922904e-08)
FROM read_csv('@DATA@/chicago/legacy-*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- Kansas City (creation date and time in two columns; closed dates at local midnight).
SELECT 'kansas_city', 'America/Chicago', "CASE ID",
    local_ts(try_strptime("CREATION DATE" || ' ' || "CREATION TIME", '%m/%d/%Y %I:%M %p'), 'America/Chicago'),
    local_ts(try_strptime("CLOSED DATE", '%m/%d/%Y'), 'America/Chicago'),
    NULL::TIMESTAMPTZ,
    "STATUS", status_of("STATUS", ['resol', 'dup'], ['open', 'assig']),
    "DEPARTMENT", "CATEGORY", "TYPE", int_text("ZIP CODE"), "NEIGHBORHOOD", "SOURCE",
    coalesce(try_cast("LATITUDE" AS DOUBLE), point_lat("ADDRESS WITH GEOCODE")),
    coalesce(try_cast("LONGITUDE" AS DOUBLE), point_lon("ADDRESS WITH GEOCODE"))
FROM read_csv('@DATA@/kansas_city/*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- Washington, DC (Unix milliseconds; the year 9999 as null; x/y: EPSG:26985, metres).
SELECT 'dc', 'America/New_York', "SERVICEREQUESTID",
    unix_ms("ADDDATE"), unix_ms("RESOLUTIONDATE"), unix_ms("GDB_FROM_DATE"),
    "SERVICEORDERSTATUS", status_of("SERVICEORDERSTATUS", ['closed', 'closed (duplicate)', 'closed (transferred)'], ['open', 'in-progress']),
    "ORGANIZATIONACRONYM", "SERVICECODEDESCRIPTION", NULL, int_text("ZIPCODE"), NULL, NULL,
    coalesce(try_cast("LATITUDE" AS DOUBLE), 38.9 + (try_cast("XCOORD" AS DOUBLE) - 398265.123) * 1.9736016e-09
        + (try_cast("YCOORD" AS DOUBLE) - 136905.491) * 9.0083573e-06),
    coalesce(try_cast("LONGITUDE" AS DOUBLE), -77.02 + (try_cast("XCOORD" AS DOUBLE) - 398265.123) * 1.1528191e-05
        + (try_cast("YCOORD" AS DOUBLE) - 136905.491) * -2.5256625e-09)
FROM read_csv('@DATA@/dc/*.csv', header = true, all_varchar = true, strict_mode = false,
    nullstr = ['', '253402300799000', '253402300799000.0'], ignore_errors = true)
UNION ALL
-- St. Louis (only projected coordinates: ESRI:102696, feet).
SELECT 'st_louis', 'America/Chicago', "REQUESTID",
    local_ts(try_cast("DATETIMEINIT" AS TIMESTAMP), 'America/Chicago'),
    local_ts(try_cast("DATETIMECLOSED" AS TIMESTAMP), 'America/Chicago'),
    NULL::TIMESTAMPTZ,
    "STATUS", status_of("STATUS", ['closed'], ['open', 'scheduled', 'in progress']),
    "SUBMITTO", "PROBLEMCODE", NULL, "PROBZIP", "NEIGHBORHOOD", "CALLERTYPE",
    38.63 + (try_cast("SRX" AS DOUBLE) - 894480.505) * -7.778995e-09 + (try_cast("SRY" AS DOUBLE) - 1018341.714) * 2.7458976e-06,
    -90.24 + (try_cast("SRX" AS DOUBLE) - 894480.505) * 3.5006047e-06 + (try_cast("SRY" AS DOUBLE) - 1018341.714) * 9.917045e-09
FROM read_csv('@DATA@/st_louis/*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true)
UNION ALL
-- Austin (the city scripts/corpus.job.in defines).
SELECT 'austin', 'America/Chicago', "Service Request (SR) Number",
    local_ts(try_strptime("Created Date", '%Y %b %d %I:%M:%S %p'), 'America/Chicago'),
    local_ts(try_strptime("Close Date", '%Y %b %d %I:%M:%S %p'), 'America/Chicago'),
    local_ts(try_strptime("Last Update Date", '%Y %b %d %I:%M:%S %p'), 'America/Chicago'),
    "SR Status", status_of("SR Status", ['closed', 'duplicate (closed)', 'resolved'], ['open', 'new', 'work in progress']),
    "Owning Department", "SR Description", NULL, "Zip Code", "Council District", "Method Received",
    coalesce(try_cast("Latitude Coordinate" AS DOUBLE), point_lat("(Latitude.Longitude)")),
    coalesce(try_cast("Longitude Coordinate" AS DOUBLE), point_lon("(Latitude.Longitude)"))
FROM read_csv('@DATA@/austin/*.csv', header = true, all_varchar = true, strict_mode = false, ignore_errors = true);

CREATE TEMP TABLE rejects AS
SELECT city, count(*) AS n FROM raw WHERE request_id IS NULL OR created_at IS NULL GROUP BY city;

-- The lake's rows: one version per request, located where the point is usable.
CREATE TEMP TABLE requests AS
SELECT city, tz, request_id, created_at, closed_at, updated_at, status, status_raw, agency,
    request_type, request_subtype, zip, neighborhood, channel,
    CASE WHEN usable THEN latitude END AS latitude,
    CASE WHEN usable THEN longitude END AS longitude,
    CASE WHEN closed_at >= created_at THEN date_diff('microsecond', created_at, closed_at) / 3.6e9 END AS resolution_hours,
    CAST(year(local) AS INTEGER) AS year, CAST(month(local) AS INTEGER) AS month, local
FROM (
    SELECT *, timezone(tz, created_at) AS local,
        coalesce(abs(latitude) <= 90 AND abs(longitude) <= 180
            AND NOT (abs(latitude) < 1e-9 AND abs(longitude) < 1e-9)
            AND NOT (city = 'baltimore' AND abs(latitude - 39) < 1e-9 AND (abs(longitude + 77) < 1e-9 OR abs(longitude + 76) < 1e-9))
            AND NOT (city = 'boston' AND abs(latitude - 42.3594) < 1e-9 AND abs(longitude + 71.0587) < 1e-9), false) AS usable
    FROM raw
    WHERE request_id IS NOT NULL AND created_at IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY city, request_id ORDER BY updated_at DESC NULLS LAST, closed_at DESC NULLS LAST) = 1
);
DROP TABLE raw;

COPY (SELECT request_id, created_at, closed_at, updated_at, status, status_raw, agency, request_type,
        request_subtype, latitude, longitude, zip, neighborhood, channel, resolution_hours, city, year, month
    FROM requests)
TO '@OUT@/requests' (FORMAT parquet, PARTITION_BY (city, year, month), COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 131072);

COPY (SELECT city, year, month, coalesce(request_type, '') AS request_type, coalesce(agency, '') AS agency,
        count(*) AS requests, count(*) FILTER (status = 'closed') AS closed, count(*) FILTER (status = 'open') AS open,
        quantile_cont(resolution_hours, 0.5) AS median_resolution_hours,
        quantile_cont(resolution_hours, 0.9) AS p90_resolution_hours
    FROM requests GROUP BY ALL)
TO '@OUT@/summaries/request_monthly' (FORMAT parquet, PARTITION_BY (city, year, month), COMPRESSION zstd, COMPRESSION_LEVEL 1);

COPY (SELECT city, year, month, coalesce(agency, '') AS agency, CAST(local AS DATE) AS day,
        count(*) AS opened, count(*) FILTER (status = 'closed') AS closed,
        quantile_cont(resolution_hours, 0.5) AS median_resolution_hours
    FROM requests GROUP BY ALL)
TO '@OUT@/summaries/agency_daily' (FORMAT parquet, PARTITION_BY (city, year, month), COMPRESSION zstd, COMPRESSION_LEVEL 1);

COPY (SELECT city, year, month, coalesce(agency, '') AS agency, CAST(dayofweek(local) AS INTEGER) AS weekday,
        CAST(hour(local) AS INTEGER) AS hour, count(*) AS requests
    FROM requests GROUP BY ALL)
TO '@OUT@/summaries/request_heat' (FORMAT parquet, PARTITION_BY (city, year, month), COMPRESSION zstd, COMPRESSION_LEVEL 1);

COPY (SELECT city, year, month, coalesce(request_type, '') AS request_type,
        round(floor(latitude / 0.01) * 0.01, 6) AS lat_bin, round(floor(longitude / 0.01) * 0.01, 6) AS lon_bin,
        count(*) AS requests
    FROM requests WHERE latitude IS NOT NULL GROUP BY ALL)
TO '@OUT@/summaries/request_geo' (FORMAT parquet, PARTITION_BY (city, year, month), COMPRESSION zstd, COMPRESSION_LEVEL 1);
