# St. Louis, MO Citizens' Service Bureau (CSB) service requests, the city's yearly files.
#
# "CALLERTYPE","CITY","DATECANCELLED",...: every value double-quoted, columns in
# alphabetical order, floating local time with a ragged fraction ("2011-01-03 08:12:24.0",
# "2013-04-17 14:15:03.703"). No latitude/longitude: a request is located by SRX/SRY,
# Missouri East state-plane US survey feet.
schema "st_louis" {
  city     = "st_louis"
  timezone = "America/Chicago"
  nulls    = [""]
  # The fast path accepts any number of fraction digits after the one the layout shows.
  time_layouts = ["2006-01-02 15:04:05.0", "rfc3339"]

  field "request_id" { columns = ["REQUESTID"] }
  field "created_at" { columns = ["DATETIMEINIT"] }
  field "closed_at"  { columns = ["DATETIMECLOSED"] }
  field "status" {
    # Spelled in several cases ("CANCEL", "Cancel"); status values compare case-insensitively.
    columns = ["STATUS"]
    closed  = ["CLOSED"]
    open    = ["OPEN", "SCHEDULED", "IN PROGRESS"]
    # "CANCEL" (and anything new) is "other".
  }
  # "FORESTRY,", "TRAFFIC DIVISION, 511": the department, as the city writes it.
  field "agency"       { columns = ["SUBMITTO"] }
  field "request_type" { columns = ["PROBLEMCODE"] } # "Inspect City Tree"
  field "zip"          { columns = ["PROBZIP"] }
  field "neighborhood" { columns = ["NEIGHBORHOOD"] } # the city's neighborhood number
  field "channel"      { columns = ["CALLERTYPE"] }   # WEB, PHONE, DEPT_REF, TWITTER
  field "point" {
    x   = "SRX"
    y   = "SRY"
    crs = "ESRI:102696" # NAD 1983 StatePlane Missouri East FIPS 2401 Feet
  }
}
