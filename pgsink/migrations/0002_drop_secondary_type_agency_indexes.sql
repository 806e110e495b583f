-- 0002: drop the secondary indexes of the two largest summary tables.
--
-- request_geo and request_heat hold nine rows in ten of a publish, and each row costs the
-- server an insert into every index of its table: with the secondary index in place a COPY
-- into request_geo took about twice the server CPU it takes with the primary key alone
-- (README, "PostgreSQL"). Every viz query of these tables names the city and a month range,
-- the prefix of their primary keys, and filters on one request type or agency within it:
-- the primary key serves them, reading the range's rows of every type or agency (a few
-- hundred per city and month) where the dropped index read only the chosen one's.
DROP INDEX request_geo_type_idx;
DROP INDEX request_heat_agency_idx;
