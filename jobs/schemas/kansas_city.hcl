# Kansas City, MO 311 Call Center Service Requests (data.kcmo.org, 2007-2021).
#
# "CASE ID,SOURCE,DEPARTMENT,WORK GROUP,REQUEST TYPE,CATEGORY,TYPE,DETAIL,CREATION DATE,
# CREATION TIME,...": the creation date and time are two columns ("02/20/2020" and
# "07:28 AM", local time), joined before parsing; the closing date has no time. Exports
# re-written by pandas carry integers as floats ("64108.0" for a ZIP code).
schema "kansas_city" {
  city     = "kansas_city"
  timezone = "America/Chicago"
  nulls    = [""]
  integer_floats = true
  time_layouts = [
    "%m/%d/%Y %I:%M %p", # CREATION DATE + CREATION TIME
    "%m/%d/%Y",          # CLOSED DATE: local midnight
    "rfc3339",
  ]

  field "request_id" { columns = ["CASE ID"] }
  field "created_at" { columns = [["CREATION DATE", "CREATION TIME"]] }
  field "closed_at"  { columns = ["CLOSED DATE"] }
  field "status" {
    columns = ["STATUS"]
    closed  = ["RESOL", "DUP"] # resolved; closed as a duplicate
    open    = ["OPEN", "ASSIG"]
    # "CANC" (cancelled) is "other".
  }
  field "agency"          { columns = ["DEPARTMENT"] }
  field "request_type"    { columns = ["CATEGORY"] } # "Trash / Recycling"
  field "request_subtype" { columns = ["TYPE"] }     # "Trash Collection"
  field "zip"             { columns = ["ZIP CODE"] }
  field "neighborhood"    { columns = ["NEIGHBORHOOD"] }
  field "channel"         { columns = ["SOURCE"] } # PHONE, WEB, EMAIL, ...
  field "latitude"        { columns = ["LATITUDE"] }
  field "longitude"       { columns = ["LONGITUDE"] }
  # "2527 Tracy Ave64108\n(39.080413, -94.567817)": the address, a newline, the point.
  field "point"           { columns = ["ADDRESS WITH GEOCODE"] }
}
