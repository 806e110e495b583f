# San Francisco SF311 Case Data (data.sfgov.org, dataset vw6y-z8j6).
#
# Reads three spellings of the header:
#   - the portal CSV: "CaseID,Opened,Closed,Updated,Status,Status Notes,Responsible Agency,...";
#   - the same re-written by R (read.csv/write.csv): a leading unnamed row-name column "" and
#     dots for spaces ("Responsible.Agency", "Request.Type");
#   - the SODA API: service_request_id, requested_datetime, agency_responsible, ...
# Times are local civil time, "01/02/2006 03:04:05 PM" (portal) or "2006-01-02T15:04:05.000" (API).
schema "sf" {
  city     = "sf"
  timezone = "America/Los_Angeles"
  nulls    = ["", "NA"] # R writes NA for missing values
  time_layouts = ["01/02/2006 03:04:05 PM", "2006-01-02T15:04:05.000", "rfc3339"]

  field "request_id" { columns = ["CaseID", "service_request_id"] }
  field "created_at" { columns = ["Opened", "requested_datetime"] }
  field "closed_at"  { columns = ["Closed", "closed_date"] }
  field "updated_at" { columns = ["Updated", "updated_datetime"] }
  field "status" {
    columns = ["Status", "status_description"]
    closed  = ["Closed"]
    open    = ["Open"]
  }
  field "agency"          { columns = ["Responsible Agency", "Responsible.Agency", "agency_responsible"] }
  field "request_type"    { columns = ["Category", "service_name"] }
  field "request_subtype" { columns = ["Request Type", "Request.Type", "service_subtype"] }
  field "neighborhood"    { columns = ["Neighborhood", "neighborhoods_sffind_boundaries", "analysis_neighborhood"] }
  field "channel"         { columns = ["Source", "source"] }
  field "latitude"        { columns = ["lat"] }
  field "longitude"       { columns = ["long"] }
  field "point"           { columns = ["Point", "point"] } # "(lat, lon)" or GeoJSON
}
