# Chicago 311 Service Requests (Chicago Data Portal).
#
# One schema reads both layouts; the first candidate column present in a file wins:
#   - today's dataset (v6vf-nfxy), from the SODA API or the portal, snake_case:
#     "sr_number,sr_type,sr_short_code,created_department,owner_department,status,origin,
#     created_date,...", floating local time "2021-01-01T00:00:09.000";
#   - the legacy per-type datasets (before 2018), one per request type, whose headers differ
#     from type to type (street lights in Title Case, pot holes in ALL CAPS; names compare
#     case-insensitively): "Creation Date,Status,Completion Date,Service Request Number,
#     Type of Service Request,...", "2011-01-01T00:00:00" (date-only precision).
# Both locate a request by latitude/longitude and by Illinois East state-plane feet.
schema "chicago" {
  city     = "chicago"
  timezone = "America/Chicago"
  nulls    = [""]
  # The fraction is optional in the fast path: one layout reads both datasets.
  time_layouts = ["2006-01-02T15:04:05.000", "rfc3339"]

  field "request_id" { columns = ["sr_number", "Service Request Number"] }
  field "created_at" { columns = ["created_date", "Creation Date"] }
  field "closed_at"  { columns = ["closed_date", "Completion Date"] }
  field "updated_at" { columns = ["last_modified_date"] }
  field "status" {
    columns = ["status", "Status"]
    # "Completed - Dup" closes a request as a duplicate of another.
    closed = ["Completed", "Completed - Dup"]
    open   = ["Open", "Open - Dup"]
    # "Canceled" ends a request without resolving it: "other".
  }
  field "agency"       { columns = ["owner_department"] } # the department that handles it
  field "request_type" { columns = ["sr_type", "Type of Service Request"] }
  field "zip"          { columns = ["zip_code", "ZIP Code"] }
  # Chicago's 77 community areas, by number: the city's own neighborhood unit.
  field "neighborhood" { columns = ["community_area", "Community Area"] }
  field "channel"      { columns = ["origin"] }
  field "latitude"     { columns = ["latitude", "Latitude"] }
  field "longitude"    { columns = ["longitude", "Longitude"] }
  # "location" is a Python dict written by pandas ({'latitude': '41.87', ...}), not a
  # point: where latitude/longitude are empty, the state-plane x/y are the fallback.
  field "point" {
    x   = ["x_coordinate", "X Coordinate"]
    y   = ["y_coordinate", "Y Coordinate"]
    crs = "EPSG:3435" # NAD83 / Illinois East (US survey feet)
  }
}
