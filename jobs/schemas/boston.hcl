# Boston 311 Service Requests (Analyze Boston / CKAN).
#
# Two layouts in one schema; the first candidate column present in a file wins:
#   - up to 2025 (Lagan CRM): "case_enquiry_id,open_dt,target_dt,closed_dt,...", local civil time
#     "2006-01-02 15:04:05", empty values written as a single space (trimmed, hence null);
#   - from 2025 (new system): "case_id,open_date,close_date,...", UTC with an offset and a ragged
#     fraction: "2025-08-01 06:35:06.539+00".
schema "boston" {
  city     = "boston"
  timezone = "America/New_York"
  nulls    = [""]
  time_layouts = [
    "2006-01-02 15:04:05",    # 2022 layout, local time
    "2006-01-02 15:04:05-07", # 2025 layout; any number of fraction digits is accepted
    "rfc3339",
  ]
  # 42.3594,-71.0587 is City Hall: the old system's default when a case has no location.
  placeholder_points = [[42.3594, -71.0587]]

  field "request_id" { columns = ["case_enquiry_id", "case_id"] }
  field "created_at" { columns = ["open_dt", "open_date"] }
  field "closed_at"  { columns = ["closed_dt", "close_date"] }
  field "status" {
    columns = ["case_status"]
    closed  = ["Closed"]
    open    = ["Open", "In progress", "Create", "Submit", "Needs Reallocation"]
    # "Error" (and anything new) is "other".
  }
  field "agency"       { columns = ["department", "assigned_department"] }
  field "request_type" { columns = ["type", "service_name"] }
  field "zip"          { columns = ["location_zipcode", "zip_code"] }
  field "neighborhood" { columns = ["neighborhood"] }
  field "channel"      { columns = ["source", "report_source"] }
  field "latitude"     { columns = ["latitude"] }
  field "longitude"    { columns = ["longitude"] }
}
