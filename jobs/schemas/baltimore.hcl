# Baltimore 311 Customer Service Requests (Open Baltimore).
#
# "SRRecordID,ServiceRequestNum,SRType,MethodReceived,CreatedDate,SRStatus,...", local civil
# time "01/02/2006 03:04:05 PM". Samples re-written by R spell missing values NA.
schema "baltimore" {
  city     = "baltimore"
  timezone = "America/New_York"
  nulls    = ["", "NA"]
  time_layouts = ["01/02/2006 03:04:05 PM", "2006-01-02T15:04:05.000", "rfc3339"]
  # Records without a geocode carry 39,-77 (and a few 39,-76): whole degrees outside the city.
  placeholder_points = [[39, -77], [39, -76]]

  # ServiceRequestNum ("18-00269879") is the request number users see; SRRecordID is sometimes a
  # CRM record id ("5004100000j6t9wAAA") and is the fallback.
  field "request_id" { columns = ["ServiceRequestNum", "SRRecordID"] }
  field "created_at" { columns = ["CreatedDate"] }
  field "closed_at"  { columns = ["CloseDate"] }
  field "updated_at" { columns = ["StatusDate"] } # when the status last changed
  field "status" {
    columns = ["SRStatus"]
    closed  = ["Closed", "Closed (Duplicate)", "Closed (Transferred)"]
    open    = ["Open", "New", "Pending", "In Progress", "Open (Duplicate)", "New (Duplicate)"]
  }
  field "agency"       { columns = ["Agency"] }
  field "request_type" { columns = ["SRType"] }
  field "zip"          { columns = ["ZipCode"] } # not "Zip Codes", an internal area id
  field "neighborhood" { columns = ["Neighborhood"] }
  field "channel"      { columns = ["MethodReceived"] }
  field "latitude"     { columns = ["Latitude"] }
  field "longitude"    { columns = ["Longitude"] }
  field "point"        { columns = ["GeoLocation"] } # "(lat, lon)"
}
