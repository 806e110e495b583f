-- 0004: request_heat, request_geo and agency_daily stored packed, behind views of their rows.
--
-- These three tables held nine rows in ten of a publish, each row one cell (one hour of a
-- weekday, one geo bin, one day) of a (city, month, agency or request type): in `make demo`
-- 735,000 rows, whose COPY and key builds were most of the server's part of the publish
-- (artifacts/bench/publish-packed). Each now stores one row per (city, year, month, agency or
-- request type), its cells in arrays in key order: 28,000 rows, a quarter of the server's time.
-- A view with each table's old name, columns and types unnests them, so every query of the
-- rows (viz's, an analyst's) reads them as before; a condition on city, year, month and the
-- agency or request type is one on the packed table's primary key.
--
-- The cells of a row are distinct and in key order, their arrays of one length, with no
-- NULL key: what the old primary keys held. The publisher writes them so and checks them
-- (pgsink's encoder); the CHECKs below keep any other writer to the same shape.

CREATE TABLE request_heat_packed (
    city     text       NOT NULL,
    year     smallint   NOT NULL,
    month    smallint   NOT NULL CHECK (month BETWEEN 1 AND 12),
    agency   text       NOT NULL DEFAULT '',
    cells    smallint[] NOT NULL, -- weekday * 24 + hour, weekday 0 = Sunday, increasing
    requests bigint[]   NOT NULL,
    PRIMARY KEY (city, year, month, agency),
    CHECK (cardinality(cells) = cardinality(requests) AND array_ndims(cells) = 1 AND array_ndims(requests) = 1
        AND 0 <= ALL (cells) AND 167 >= ALL (cells) AND array_position(cells, NULL) IS NULL
        AND array_position(requests, NULL) IS NULL)
);

CREATE TABLE request_geo_packed (
    city         text               NOT NULL,
    year         smallint           NOT NULL,
    month        smallint           NOT NULL CHECK (month BETWEEN 1 AND 12),
    request_type text               NOT NULL DEFAULT '',
    lat_bins     double precision[] NOT NULL, -- with lon_bins, increasing
    lon_bins     double precision[] NOT NULL,
    requests     bigint[]           NOT NULL,
    PRIMARY KEY (city, year, month, request_type),
    CHECK (cardinality(lat_bins) = cardinality(requests) AND cardinality(lon_bins) = cardinality(requests)
        AND array_ndims(lat_bins) = 1 AND array_ndims(lon_bins) = 1 AND array_ndims(requests) = 1
        AND array_position(lat_bins, NULL) IS NULL AND array_position(lon_bins, NULL) IS NULL
        AND array_position(requests, NULL) IS NULL)
);

-- days are days of the month, increasing; median_resolution_hours may hold NULLs.
CREATE TABLE agency_daily_packed (
    city                    text               NOT NULL,
    year                    smallint           NOT NULL,
    month                   smallint           NOT NULL CHECK (month BETWEEN 1 AND 12),
    agency                  text               NOT NULL DEFAULT '',
    days                    smallint[]         NOT NULL,
    opened                  bigint[]           NOT NULL,
    closed                  bigint[]           NOT NULL,
    median_resolution_hours double precision[] NOT NULL,
    PRIMARY KEY (city, year, month, agency),
    CHECK (cardinality(days) = cardinality(opened) AND cardinality(closed) = cardinality(opened)
        AND cardinality(median_resolution_hours) = cardinality(opened)
        AND array_ndims(days) = 1 AND array_ndims(opened) = 1 AND array_ndims(closed) = 1
        AND array_ndims(median_resolution_hours) = 1
        AND array_lower(opened, 1) = 1 AND array_lower(closed, 1) = 1 AND array_lower(median_resolution_hours, 1) = 1
        AND 1 <= ALL (days) AND array_position(days, NULL) IS NULL
        -- a day the month has: the view's make_date fails on any other, and every query with it
        AND extract(day FROM make_date(year, month, 1) + interval '1 month' - interval '1 day') >= ALL (days)
        AND array_position(opened, NULL) IS NULL AND array_position(closed, NULL) IS NULL)
);

-- The rows of a database published by an older binary, packed.
INSERT INTO request_heat_packed
SELECT city, year, month, agency, array_agg((weekday * 24 + hour)::smallint ORDER BY weekday, hour),
    array_agg(requests ORDER BY weekday, hour)
FROM request_heat GROUP BY city, year, month, agency;

INSERT INTO request_geo_packed
SELECT city, year, month, request_type, array_agg(lat_bin ORDER BY lat_bin, lon_bin),
    array_agg(lon_bin ORDER BY lat_bin, lon_bin), array_agg(requests ORDER BY lat_bin, lon_bin)
FROM request_geo GROUP BY city, year, month, request_type;

INSERT INTO agency_daily_packed
SELECT city, year, month, agency, array_agg(extract(day FROM day)::smallint ORDER BY day),
    array_agg(opened ORDER BY day), array_agg(closed ORDER BY day),
    array_agg(median_resolution_hours ORDER BY day)
FROM agency_daily GROUP BY city, year, month, agency;

-- The views take the tables' names; whoever could read a table can read its view. A role
-- that could write a table (a publisher that is not the owner: SELECT, INSERT, DELETE, maybe
-- TRUNCATE) can do to its packed table all it could do to the table, so that it publishes on
-- after the upgrade; a role that could only read it reads the view, as on a new database.
CREATE TEMPORARY TABLE pgsink_0004_grants ON COMMIT DROP AS
SELECT DISTINCT table_name::text AS tab, grantee::text AS grantee, privilege_type::text AS priv,
    is_grantable::text = 'YES' AS grantable
FROM information_schema.role_table_grants
WHERE table_schema = current_schema() AND grantee <> current_user
    AND table_name IN ('request_heat', 'request_geo', 'agency_daily');

DROP TABLE request_heat, request_geo, agency_daily;

CREATE VIEW request_heat AS
SELECT p.city, p.agency, p.year, p.month, (c.cell / 24)::smallint AS weekday, (c.cell % 24)::smallint AS hour,
    c.requests
FROM request_heat_packed p, unnest(p.cells, p.requests) AS c(cell, requests);

CREATE VIEW request_geo AS
SELECT p.city, p.year, p.month, p.request_type, c.lat_bin, c.lon_bin, c.requests
FROM request_geo_packed p, unnest(p.lat_bins, p.lon_bins, p.requests) AS c(lat_bin, lon_bin, requests);

-- The days unnest alone, and each query reads of the other arrays only the elements it names:
-- viz's first and last day of each city reads the days, in half the time an unnest of all four
-- arrays takes.
CREATE VIEW agency_daily AS
SELECT p.city, p.agency, make_date(p.year, p.month, c.day) AS day, p.year, p.month, p.opened[c.i] AS opened,
    p.closed[c.i] AS closed, p.median_resolution_hours[c.i] AS median_resolution_hours
FROM agency_daily_packed p, unnest(p.days) WITH ORDINALITY AS c(day, i);

DO $$
DECLARE
    g record;
    grantee text;
    opt text;
BEGIN
    FOR g IN SELECT * FROM pgsink_0004_grants ORDER BY tab, grantee, priv LOOP
        grantee := CASE WHEN g.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(g.grantee) END;
        opt := CASE WHEN g.grantable THEN ' WITH GRANT OPTION' ELSE '' END;
        IF g.priv = 'SELECT' THEN
            EXECUTE format('GRANT SELECT ON %I TO %s%s', g.tab, grantee, opt);
        END IF;
        IF EXISTS (SELECT FROM pgsink_0004_grants w WHERE w.tab = g.tab AND w.grantee = g.grantee AND w.priv <> 'SELECT') THEN
            EXECUTE format('GRANT %s ON %I TO %s%s', g.priv, g.tab || '_packed', grantee, opt);
        END IF;
    END LOOP;
END $$;
