package testenv

// RealCity is one city folder of RealData and the city's time zone.
type RealCity struct {
	Name     string // the folder, and the city's built-in schema once there is one
	Timezone string
}

// RealCities are the city folders of RealData. A test that goes over every city reads this
// list, so that adding a city is one line here.
var RealCities = []RealCity{
	{"baltimore", "America/New_York"},
	{"boston", "America/New_York"},
	{"chicago", "America/Chicago"},
	{"dc", "America/New_York"},
	{"kansas_city", "America/Chicago"},
	{"la", "America/Los_Angeles"},
	{"nyc", "America/New_York"},
	{"sf", "America/Los_Angeles"},
	{"st_louis", "America/Chicago"},
}

// Truth names, in one file of RealData, the request id column, the creation time column
// and the Go layout of the latter ("unix_ms" for epoch milliseconds): enough to count the
// file's requests per month without any schema.
type Truth struct {
	ID, Created, Layout string
}

// IndependentTruth is Truth for the files of the cities that have no built-in schema yet
// (keyed by path under RealData): tests check those cities against it until the schema
// arrives, and against the schema after.
var IndependentTruth = map[string]Truth{
	"chicago/chicago311_soda_2021_first5000.csv":         {"sr_number", "created_date", "2006-01-02T15:04:05.000"},
	"chicago/chicago_legacy_lights_2011_2013_sample.csv": {"Service Request Number", "Creation Date", "2006-01-02T15:04:05"},
	"dc/dc311_arcgis_2025_page1000.csv":                  {"SERVICEREQUESTID", "ADDDATE", "unix_ms"},
	"kansas_city/kc311_beacon_hills_2007_2020.csv":       {"CASE ID", "CREATION DATE", "01/02/2006"},
	"st_louis/stl_csb_2011.csv":                          {"REQUESTID", "DATETIMEINIT", "2006-01-02 15:04:05"},
}
