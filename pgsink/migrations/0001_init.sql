-- 0001: the summary tables of DESIGN.md, the job history and the ingest watermarks.
--
-- Every summary table carries city, year and month, the (city, month) group a job replaces
-- as a whole, and its primary key begins with them where the viz queries allow, so
-- replacing a group is one index range delete. Column names are the summary package's
-- parquet tags. Text keys are NOT NULL: '' means "none" (no agency, no request type), which
-- keeps every key total and lets the primary keys cover them.

CREATE TABLE request_monthly (
    city                    text             NOT NULL,
    year                    smallint         NOT NULL,
    month                   smallint         NOT NULL CHECK (month BETWEEN 1 AND 12),
    request_type            text             NOT NULL DEFAULT '',
    agency                  text             NOT NULL DEFAULT '',
    requests                bigint           NOT NULL,
    closed                  bigint           NOT NULL,
    open                    bigint           NOT NULL,
    median_resolution_hours double precision,
    p90_resolution_hours    double precision,
    PRIMARY KEY (city, year, month, request_type, agency)
);
-- Top request types per city and period: an index-only scan summing requests.
CREATE INDEX request_monthly_type_idx ON request_monthly (city, year, month, request_type) INCLUDE (requests);
-- One agency's months in a city (agency resolution performance).
CREATE INDEX request_monthly_agency_idx ON request_monthly (city, agency, year, month);

-- day is the local calendar date the requests were opened; year and month are that day's,
-- stored so a group's rows are deleted exactly (the summary files carry only the day).
CREATE TABLE agency_daily (
    city                    text             NOT NULL,
    agency                  text             NOT NULL DEFAULT '',
    day                     date             NOT NULL,
    year                    smallint         NOT NULL,
    month                   smallint         NOT NULL CHECK (month BETWEEN 1 AND 12),
    opened                  bigint           NOT NULL,
    closed                  bigint           NOT NULL,
    median_resolution_hours double precision,
    PRIMARY KEY (city, agency, day),
    CHECK (year = extract(year FROM day) AND month = extract(month FROM day))
);
-- Group replacement, and every agency of a city over a day range.
CREATE INDEX agency_daily_group_idx ON agency_daily (city, year, month);
CREATE INDEX agency_daily_city_day_idx ON agency_daily (city, day);

CREATE TABLE request_heat (
    city     text     NOT NULL,
    agency   text     NOT NULL DEFAULT '',
    year     smallint NOT NULL,
    month    smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    weekday  smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6), -- 0 = Sunday
    hour     smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    requests bigint   NOT NULL,
    PRIMARY KEY (city, year, month, agency, weekday, hour)
);
CREATE INDEX request_heat_agency_idx ON request_heat (city, agency, year, month);

-- lat_bin and lon_bin are the bin's south-west corner (summary.GeoBinDegrees), stored as the
-- exact float64 the summary files hold.
CREATE TABLE request_geo (
    city         text             NOT NULL,
    year         smallint         NOT NULL,
    month        smallint         NOT NULL CHECK (month BETWEEN 1 AND 12),
    request_type text             NOT NULL DEFAULT '',
    lat_bin      double precision NOT NULL,
    lon_bin      double precision NOT NULL,
    requests     bigint           NOT NULL,
    PRIMARY KEY (city, year, month, request_type, lat_bin, lon_bin)
);
-- Geo bins of one request type in a city over a month range.
CREATE INDEX request_geo_type_idx ON request_geo (city, request_type, year, month);

-- One row per job run. published_at is when the run's summaries were last published (NULL:
-- unpublished, e.g. Postgres was down when the job ended; `coordinator publish` fills it).
CREATE TABLE job_runs (
    job_id           text        PRIMARY KEY,
    name             text        NOT NULL,
    status           text        NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    records_in       bigint      NOT NULL DEFAULT 0,
    records_out      bigint      NOT NULL DEFAULT 0,
    records_rejected bigint      NOT NULL DEFAULT 0,
    duplicates       bigint      NOT NULL DEFAULT 0,
    groups           integer     NOT NULL DEFAULT 0,
    error            text        NOT NULL DEFAULT '',
    published_at     timestamptz
);
CREATE INDEX job_runs_name_idx ON job_runs (name, started_at DESC);

-- Where the incremental pull of one source resumes: SoQL keyset paging on (:updated_at, :id).
-- updated_at is text, the source's own literal (Socrata's floating timestamps have no zone
-- and millisecond precision), so the next query compares exactly what the API returned.
CREATE TABLE ingest_watermarks (
    source      text        PRIMARY KEY,
    updated_at  text        NOT NULL,
    id          text        NOT NULL,
    advanced_at timestamptz NOT NULL DEFAULT now()
);
