# New York City 311 Service Requests (NYC Open Data, dataset erm2-nwe9).
#
# One schema reads both spellings of the export:
#   - the portal's CSV download: "Unique Key,Created Date,Closed Date,...", local time written as
#     "01/02/2006 03:04:05 PM";
#   - the SODA API (CSV at /resource/erm2-nwe9.csv, or JSON): snake_case keys
#     "unique_key,created_date,...", floating local time "2006-01-02T15:04:05.000".
# Columns are listed portal name first, API name second; the first one present in a file wins.
schema "nyc" {
  city     = "nyc"
  timezone = "America/New_York"
  nulls    = ["", "N/A"]
  time_layouts = [
    "01/02/2006 03:04:05 PM",  # portal CSV
    "2006-01-02T15:04:05.000", # SODA API: local civil time without an offset
    "rfc3339",
  ]
  # The portal double-encodes some UTF-8 text ("Â " for a no-break space).
  repair_mojibake = true

  field "request_id" { columns = ["Unique Key", "unique_key"] }
  field "created_at" { columns = ["Created Date", "created_date"] }
  field "closed_at"  { columns = ["Closed Date", "closed_date"] }
  # When the record last changed; the lake keeps the version with the latest updated_at.
  # Pulled from the API (source blocks), Socrata's system field :updated_at changes on every
  # edit; files have only the latest resolution action's date.
  field "updated_at" { columns = [":updated_at", "Resolution Action Updated Date", "resolution_action_updated_date"] }
  field "status" {
    columns = ["Status", "status"]
    closed  = ["Closed"]
    open    = ["Open", "In Progress", "Assigned", "Pending", "Started", "Unassigned"]
    # Anything else ("Email Sent", "Draft", "Unspecified") is "other".
  }
  field "agency"          { columns = ["Agency", "agency"] }
  field "request_type"    { columns = ["Complaint Type", "complaint_type"] }
  field "request_subtype" { columns = ["Descriptor", "descriptor"] }
  field "zip"             { columns = ["Incident Zip", "incident_zip"] }
  field "channel"         { columns = ["Open Data Channel Type", "open_data_channel_type"] }
  # NYC publishes no neighborhood; "Borough" is too coarse and "Community Board" is an
  # administrative district, so neighborhood is left null. Map one of them in a copy if you want.
  field "latitude"  { columns = ["Latitude", "latitude"] }
  field "longitude" { columns = ["Longitude", "longitude"] }
  # "(lat, lon)" in the portal CSV; in SODA CSV an (empty) address, a newline, then "(lat, lon)";
  # in SODA JSON an object {"latitude": "..", "longitude": ".."}.
  field "point" { columns = ["Location", "location"] }
}
