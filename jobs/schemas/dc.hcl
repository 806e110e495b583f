# Washington, DC 311 City Service Requests (Open Data DC, ArcGIS FeatureServer).
#
# "SERVICEREQUESTID,STREETADDRESS,CITY,STATE,ZIPCODE,SERVICECODE,SERVICECODEDESCRIPTION,...":
# every date is epoch milliseconds UTC ("1735708943000"), written as a float where a
# pandas round trip met a gap ("1737823859000.0"); 253402300799000 (9999-12-31) means
# "no date". ZIP codes come as "20003.0".
schema "dc" {
  city     = "dc"
  timezone = "America/New_York"
  nulls    = ["", "253402300799000", "253402300799000.0"]
  integer_floats = true
  time_layouts   = ["unix_ms", "rfc3339"]

  field "request_id" { columns = ["SERVICEREQUESTID"] }
  field "created_at" { columns = ["ADDDATE"] }
  field "closed_at"  { columns = ["RESOLUTIONDATE"] }
  # When this version of the row was archived: a later version of a request has a later one.
  field "updated_at" { columns = ["GDB_FROM_DATE"] }
  field "status" {
    columns = ["SERVICEORDERSTATUS"]
    closed  = ["Closed", "Closed (Duplicate)", "Closed (Transferred)"]
    open    = ["Open", "In-Progress"]
    # "Canceled" (and anything new) is "other".
  }
  field "agency"       { columns = ["ORGANIZATIONACRONYM"] } # DPW, DDOT, DOEE, ...
  field "request_type" { columns = ["SERVICECODEDESCRIPTION"] }
  field "zip"          { columns = ["ZIPCODE"] }
  # DC publishes wards ("Ward 6"), a political district, and no neighborhood: left null.
  field "latitude"     { columns = ["LATITUDE"] }
  field "longitude"    { columns = ["LONGITUDE"] }
  # XCOORD/YCOORD are Maryland state-plane metres, the fallback where latitude/longitude are
  # empty. Some rows (DC Water) carry longitude/latitude there instead: they convert to a
  # point far outside the state plane's area and stay null.
  field "point" {
    x   = "XCOORD"
    y   = "YCOORD"
    crs = "EPSG:26985" # NAD83 / Maryland
  }
}
