# Los Angeles MyLA311 Service Request Data (data.lacity.org), "SRNumber,CreatedDate,..." CSV.
# Times are local civil time, "01/02/2006 03:04:05 PM"; the SODA API spells them
# "2006-01-02T15:04:05.000" and its keys in lower case (srnumber, createddate, ...).
schema "la" {
  city     = "la"
  timezone = "America/Los_Angeles"
  nulls    = [""]
  time_layouts = ["01/02/2006 03:04:05 PM", "2006-01-02T15:04:05.000", "rfc3339"]

  field "request_id" { columns = ["SRNumber", "srnumber"] }
  field "created_at" { columns = ["CreatedDate", "createddate"] }
  field "closed_at"  { columns = ["ClosedDate", "closeddate"] }
  field "updated_at" { columns = ["UpdatedDate", "updateddate"] }
  field "status" {
    columns = ["Status", "status"]
    closed  = ["Closed"]
    open    = ["Open", "Pending", "In Progress"]
    # "Cancelled" and "Referred Out" end the request without resolving it: "other".
  }
  # The department that owns the request (BOS = Bureau of Sanitation, OCB, ITA, BSL, LADWP).
  field "agency"       { columns = ["Owner", "owner"] }
  field "request_type" { columns = ["RequestType", "requesttype"] }
  field "zip"          { columns = ["ZipCode", "zipcode"] }
  # The Neighborhood Council, LA's own neighborhood unit.
  field "neighborhood" { columns = ["NCName", "ncname"] }
  field "channel"      { columns = ["RequestSource", "requestsource"] }
  field "latitude"     { columns = ["Latitude", "latitude"] }
  field "longitude"    { columns = ["Longitude", "longitude"] }
  field "point"        { columns = ["Location", "location"] } # "(lat, lon)"
}
