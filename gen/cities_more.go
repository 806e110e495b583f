package gen

import (
	"strconv"

	"github.com/ireports/ireports/internal/crs"
)

// Chicago, Kansas City, Washington DC and St. Louis — the built-in schemas added with
// ../shared/data/311's second batch of exports — and Austin, a tenth city that no built-in
// schema reads: a job over a generated corpus defines its schema itself (AustinSchema), as
// a user's job does for a city of their own.

// Headers of the real exports (column names are not data). Austin's is modelled on the
// city's 311 portal export; no real file of it is in ../shared/data/311.
const (
	headerChicagoSODA   = "sr_number,sr_type,sr_short_code,created_department,owner_department,status,origin,created_date,last_modified_date,closed_date,street_address,city,state,zip_code,street_number,street_direction,street_name,street_type,duplicate,legacy_record,community_area,ward,electricity_grid,police_sector,police_district,police_beat,precinct,created_hour,created_day_of_week,created_month,x_coordinate,y_coordinate,latitude,longitude,location,parent_sr_number,electrical_district\n"
	headerChicagoLegacy = "Creation Date,Status,Completion Date,Service Request Number,Type of Service Request,Street Address,ZIP Code,X Coordinate,Y Coordinate,Ward,Police District,Community Area,Latitude,Longitude,Location\n"
	headerKansasCity    = "CASE ID,SOURCE,DEPARTMENT,WORK GROUP,REQUEST TYPE,CATEGORY,TYPE,DETAIL,CREATION DATE,CREATION TIME,CREATION MONTH,CREATION YEAR,STATUS,EXCEEDED EST TIMEFRAME,CLOSED DATE,CLOSED MONTH,CLOSED YEAR,DAYS TO CLOSE,STREET ADDRESS,ADDRESS WITH GEOCODE,ZIP CODE,NEIGHBORHOOD,COUNTY,COUNCIL DISTRICT,POLICE DISTRICT,PARCEL ID NO,LATITUDE,LONGITUDE,CASE URL,30-60-90 Days Open Window,nbh_id,nbh_name\n"
	headerDC            = "SERVICEREQUESTID,STREETADDRESS,CITY,STATE,ZIPCODE,SERVICECODE,SERVICECODEDESCRIPTION,SERVICETYPECODEDESCRIPTION,ORGANIZATIONACRONYM,SERVICECALLCOUNT,ADDDATE,RESOLUTIONDATE,SERVICEDUEDATE,SERVICEORDERDATE,INSPECTIONFLAG,INSPECTIONDATE,INSPECTORNAME,SERVICEORDERSTATUS,STATUS_CODE,PRIORITY,DETAILS,WARD,XCOORD,YCOORD,LATITUDE,LONGITUDE,MARADDRESSREPOSITORYID,GIS_ID,GLOBALID,CREATED,EDITED,GDB_FROM_DATE,GDB_TO_DATE,GDB_ARCHIVE_OID,OBJECTID\n"
	headerStLouis       = `"CALLERTYPE","CITY","DATECANCELLED","DATEINVTDONE","DATETIMECLOSED","DATETIMEINIT","DESCRIPTION","EXPLANATION","GROUP","NEIGHBORHOOD","PLAIN_ENGLISH_NAME_FOR_PROBLEMCODE","PRJCOMPLETEDATE","PROBADDRESS","PROBADDTYPE","PROBLEMCODE","PROBZIP","REQUESTID","SRX","SRY","STATUS","SUBMITTO","WARD"` + "\r\n"
	headerAustin        = "Service Request (SR) Number,SR Type Code,SR Description,Owning Department,Method Received,SR Status,Status Change Date,Created Date,Last Update Date,Close Date,SR Location,Street Number,Street Name,City,Zip Code,County,State Plane X Coordinate,State Plane Y Coordinate,Latitude Coordinate,Longitude Coordinate,(Latitude.Longitude),Council District,Map Page,Map Tile\n"
)

// AustinSchema is the schema block a job needs to read the generated Austin files: no
// built-in schema covers the city (scripts/corpus.job.in holds the same block).
const AustinSchema = `schema "austin" {
  city     = "austin"
  timezone = "America/Chicago"
  nulls    = [""]
  time_layouts = ["2006 Jan 02 03:04:05 PM"]

  field "request_id"   { columns = ["Service Request (SR) Number"] }
  field "created_at"   { columns = ["Created Date"] }
  field "closed_at"    { columns = ["Close Date"] }
  field "updated_at"   { columns = ["Last Update Date"] }
  field "status" {
    columns = ["SR Status"]
    closed  = ["Closed", "Duplicate (closed)", "Resolved"]
    open    = ["Open", "New", "Work In Progress"]
  }
  field "agency"       { columns = ["Owning Department"] }
  field "request_type" { columns = ["SR Description"] }
  field "zip"          { columns = ["Zip Code"] }
  field "neighborhood" { columns = ["Council District"] }
  field "channel"      { columns = ["Method Received"] }
  field "latitude"     { columns = ["Latitude Coordinate"] }
  field "longitude"    { columns = ["Longitude Coordinate"] }
  field "point"        { columns = ["(Latitude.Longitude)"] }
}
`

var chicagoModel = &cityModel{
	name:   "chicago",
	minLat: 41.6445, maxLat: 42.0230, minLon: -87.9401, maxLon: -87.5240,
	// agency is the short code, agName the owner department.
	types: []reqType{
		{name: "311 INFORMATION ONLY CALL", agency: "311IOC", agName: "311 City Services", weight: 30, median: 0.01},
		{name: "Aircraft Noise Complaint", agency: "AVN", agName: "Aviation", weight: 8, median: 0.02, night: true},
		{name: "Graffiti Removal Request", agency: "GRAF", agName: "Streets and Sanitation", weight: 6, median: 48},
		{name: "Street Light Out Complaint", agency: "SFD", agName: "CDOT - Department of Transportation", weight: 5, median: 200},
		{name: "Pothole in Street Complaint", agency: "PHF", agName: "CDOT - Department of Transportation", weight: 6, median: 120},
		{name: "Abandoned Vehicle Complaint", agency: "SKA", agName: "Streets and Sanitation", weight: 4, median: 300},
		{name: "Rodent Baiting/Rat Complaint", agency: "SGA", agName: "Streets and Sanitation", weight: 4, median: 96},
		{name: "Garbage Cart Maintenance", agency: "SIE", agName: "Streets and Sanitation", weight: 3, median: 150},
		{name: "Traffic Signal Out Complaint", agency: "SFB", agName: "CDOT - Department of Transportation", weight: 2, median: 6},
		{name: "Building Violation", agency: "BBA", agName: "DOB - Buildings", weight: 2, median: 700},
		{name: "Missed Garbage Pick-Up Complaint", agency: "SCC", agName: "Streets and Sanitation", weight: 2, median: 30},
		{name: "Snow – Uncleared Sidewalk Complaint", agency: "SWSNOREM", agName: "CDOT - Department of Transportation", weight: 1, median: 48},
	},
	// name is the community area number, district the ward.
	places: []place{
		{"28", "27", "60612", 41.8740, -87.6720, 0.008, 6},
		{"8", "42", "60611", 41.8970, -87.6240, 0.006, 6},
		{"24", "1", "60622", 41.9010, -87.6770, 0.008, 5},
		{"6", "44", "60657", 41.9400, -87.6530, 0.007, 5},
		{"25", "29", "60644", 41.8820, -87.7580, 0.008, 5},
		{"43", "5", "60649", 41.7630, -87.5750, 0.007, 4},
		{"68", "20", "60621", 41.7760, -87.6420, 0.008, 4},
		{"66", "16", "60629", 41.7720, -87.6940, 0.008, 4},
		{"22", "35", "60647", 41.9230, -87.6970, 0.008, 4},
		{"76", "41", "60666", 41.9780, -87.9040, 0.008, 2},
	},
	streets:   s("W Lexington ST", "N Milwaukee AVE", "S Ashland AVE", "W Madison ST", "N Clark ST", "S Halsted ST", "W 63rd ST", "S Cottage Grove AVE", "N Pulaski RD", "W Fullerton AVE", "S Western AVE", "N Broadway"),
	channels:  s("Phone Call", "Internet", "Mobile Device", "Mass Entry", "spot-open311-SeeClickFix"),
	chWeights: []float64{72, 21, 5, 1, 0.2},
	openShare: 0.02, noLocShare: 0.01, sigmaLog: 1.5,
}

// chicagoLegacyTypes are the street light types of the legacy per-type datasets.
var chicagoLegacyModel = func() *cityModel {
	m := *chicagoModel
	m.types = []reqType{
		{name: "Alley Light Out", weight: 1, median: 100},
		{name: "Street Lights - All/Out", weight: 1, median: 120},
		{name: "Street Light - 1/Out", weight: 1, median: 150},
	}
	m.openShare = 0 // every legacy record has a completion date
	return &m
}()

// Kansas City types: name is REQUEST TYPE, agency DEPARTMENT, agName WORK GROUP, extra
// CATEGORY, extra2 TYPE, subs DETAIL.
var kansasCityModel = &cityModel{
	name:   "kansas_city",
	minLat: 38.8500, maxLat: 39.3500, minLon: -94.7700, maxLon: -94.3800,
	types: []reqType{
		{name: "Property Violations", agency: "NHS", agName: "NHS-Neighborhood Preservation-", extra: "Property Violations", extra2: "Private Property", subs: s("All"), weight: 12, median: 600},
		{name: "Trash - Missed by City", agency: "Public Works", agName: "Public Works-Solid Waste-", extra: "Trash", extra2: "City", subs: s("Missed"), weight: 8, median: 30},
		{name: "Animal At Large", agency: "NHS", agName: "NHS-Animal Health and Safety-", extra: "Animal", extra2: "Owned or Stray at Large", subs: s("All"), weight: 4, median: 24},
		{name: "Nuisance Violations", agency: "NHS", agName: "NHS-Neighborhood Preservation-", extra: "Nuisance Violations", extra2: "Private Property", subs: s("All"), weight: 4, median: 500},
		{name: "Mowing / Weeds", agency: "NHS", agName: "NHS-Neighborhood Preservation-", extra: "Mowing / Weeds", extra2: "Private / Commercial", subs: s("Lot - Structure", "Lot - Vacant"), weight: 6, median: 400},
		{name: "Dead Animal Pick-up", agency: "Public Works", agName: "Public Works-Solid Waste-", extra: "Trash", extra2: "Animal", subs: s("Dead"), weight: 3, median: 20},
		{name: "Trash / Recycling-Trash Collection-Missed by City", agency: "NHS", agName: "NHS-Solid Waste-", extra: "Trash / Recycling", extra2: "Trash Collection", subs: s("Missed by City"), weight: 3, median: 30},
		{name: "Streets / Roadways / Alleys-Snow / Ice-District 2", agency: "Public Works", agName: "Public Works-Street and Traffic-Snow", extra: "Streets / Roadways / Alleys", extra2: "Snow / Ice", subs: s("District 2"), weight: 2, median: 40},
		{name: "Water Main Break", agency: "Water Services", agName: "Water Services-Water Distribution-", extra: "Water", extra2: "Main", subs: s("Break"), weight: 1, median: 72},
	},
	places: []place{
		{"Beacon Hills", "Central", "64108", 39.0830, -94.5670, 0.004, 5},
		{"Westport", "Central", "64111", 39.0520, -94.5930, 0.004, 3},
		{"Downtown Loop", "Central", "64106", 39.1000, -94.5800, 0.004, 3},
		{"Northeast", "East Patrol", "64124", 39.1100, -94.5400, 0.006, 4},
		{"Waldo", "South Patrol", "64114", 38.9800, -94.5950, 0.006, 3},
		{"Swope Park", "Metro", "64132", 38.9950, -94.5300, 0.007, 3},
		{"Briarcliff", "North Patrol", "64116", 39.1600, -94.5900, 0.007, 2},
		{"Ivanhoe", "Central", "64130", 39.0300, -94.5550, 0.005, 4},
	},
	streets:   s("Tracy Ave", "Troost Ave", "E 28th St", "Prospect Ave", "Main St", "E 24th St", "Paseo Blvd", "Independence Ave", "Wornall Rd", "E 31st St"),
	channels:  s("PHONE", "WEB", "EMAIL", "SYS", "INSPE", "TWIR", "BOT"),
	chWeights: []float64{73, 17, 5, 1.5, 1.2, 0.9, 0.6},
	openShare: 0.015, sigmaLog: 1.4,
}

var kcCouncil = map[string]int64{"Central": 3, "East Patrol": 3, "South Patrol": 6, "Metro": 5, "North Patrol": 2}

// DC types: name is SERVICECODEDESCRIPTION, agency ORGANIZATIONACRONYM, extra SERVICECODE,
// agName SERVICETYPECODEDESCRIPTION (the administration, misspelt as DC spells it).
var dcModel = &cityModel{
	name:   "dc",
	minLat: 38.7916, maxLat: 38.9955, minLon: -77.1198, maxLon: -76.9094,
	types: []reqType{
		{name: "Bulk Collection", agency: "DPW", extra: "S0031", agName: "SWMA- Solid Waste Management Admistration", weight: 22, median: 300},
		{name: "Parking Enforcement", agency: "DPW", extra: "S0261", agName: "PEMA- Parking Enforcement Management Administration", weight: 10, median: 1},
		{name: "Scheduled Yard Waste", agency: "DPW", extra: "S0477", agName: "SWMA- Solid Waste Management Administration", weight: 7, median: 150},
		{name: "Illegal Dumping", agency: "DPW", extra: "S0181", agName: "SWMA- Solid Waste Management Admistration", weight: 6, median: 100},
		{name: "DC Government Information", agency: "OUC", extra: "DCGOVTINFO", agName: "311- Call Center", weight: 5, median: 0.02},
		{name: "Trash Collection - Missed", agency: "DPW", extra: "S0441", agName: "SWMA- Solid Waste Management Admistration", weight: 5, median: 30},
		{name: "Roadway Signs", agency: "DDOT", extra: "SIGNMISS_v2", agName: "", weight: 4, median: 400},
		{name: "Rodent Inspection and Treatment", agency: "DOH", extra: "S0311", agName: "DOH- Department Of Health", weight: 4, median: 200},
		{name: "Streetlight Repair Investigation", agency: "DDOT", extra: "S0456", agName: "TOA- Transportation Operations Administration", weight: 3, median: 150},
		{name: "Pothole", agency: "DDOT", extra: "S0386", agName: "TOA- Transportation Operations Administration", weight: 3, median: 72},
	},
	places: []place{
		{"Ward 6", "6", "20003", 38.8800, -76.9900, 0.006, 6},
		{"Ward 1", "1", "20010", 38.9300, -77.0330, 0.005, 5},
		{"Ward 3", "3", "20016", 38.9350, -77.0850, 0.006, 3},
		{"Ward 8", "8", "20020", 38.8600, -76.9800, 0.006, 4},
		{"Ward 2", "2", "20001", 38.9050, -77.0150, 0.005, 5},
		{"Ward 4", "4", "20011", 38.9550, -77.0200, 0.006, 5},
		{"Ward 5", "5", "20002", 38.9050, -76.9850, 0.006, 5},
		{"Ward 7", "7", "20019", 38.8900, -76.9400, 0.006, 4},
	},
	streets:   s("K STREET SE", "PARK ROAD NW", "MACOMB STREET NW", "16TH STREET SE", "K STREET NE", "3RD STREET NE", "GEORGIA AVENUE NW", "BENNING ROAD NE", "MARTIN LUTHER KING JR AVENUE SE", "CONNECTICUT AVENUE NW"),
	channels:  s("-"), // no channel column
	chWeights: []float64{1},
	openShare: 0.05, sigmaLog: 1.4,
}

// St. Louis types: name is PROBLEMCODE, agency SUBMITTO, extra GROUP, extra2 DESCRIPTION,
// resolve the plain-English name (empty on some codes, as in the real files).
var stLouisModel = &cityModel{
	name:   "st_louis",
	minLat: 38.5323, maxLat: 38.7742, minLon: -90.3205, maxLon: -90.1664,
	types: []reqType{
		{name: "Inspect City Tree", agency: "FORESTRY,", extra: "Trees", extra2: "Inspect City Tree", resolve: "Inspect city tree", weight: 40, median: 900},
		{name: "Inspect Private Tree", agency: "FORESTRY,", extra: "Trees", extra2: "Inspect Private Tree", resolve: "Inspect private tree - possibly hazardous", weight: 6, median: 500},
		{name: "City Tree Limb Down", agency: "FORESTRY,", extra: "Trees", extra2: "City Tree Limb Down", resolve: "Limb from a city tree has fallen", weight: 4, median: 48},
		{name: "Short Term Initiativ", agency: "NST,", extra: "NSO Initiatives", extra2: "Short Term Initiativ", weight: 4, median: 300},
		{name: "Derelict-Privt Ppty", agency: "NST,", extra: "Vehicles", extra2: "Derelict Vehicle - Private Pro", resolve: "Derelict vehicle on private property", weight: 3, median: 400},
		{name: "Ppty Maint Code-Ext", agency: "BUILDING DIV,", extra: "Prpty Insp Comml", extra2: "Property Maintenance Code - Ex", resolve: "Inspect for exterior building code violations", weight: 2, median: 600},
		{name: "Vehicle-Rt of Way", agency: "TREAS PRKG SVC,", extra: "Vehicles", extra2: "Vehicle-Rt of Way", resolve: "Vehicle (operable) illegally parked in right of way", weight: 1, median: 72},
		{name: "Raw Garbage, Ext", agency: "REFUSE,", extra: "Trash/Debris", extra2: "Raw Garbage, Ext", resolve: "Raw garbage on property", weight: 2, median: 200},
		{name: "Traffic Signal Out", agency: "TRAFFIC DIVISION, 511", extra: "Traffic", extra2: "Traffic Signal Out", resolve: "Traffic signal not working", weight: 1, median: 8},
	},
	// name is the neighborhood number, district the ward (both zero-padded).
	places: []place{
		{"07", "16", "63109", 38.5880, -90.2900, 0.006, 5},
		{"52", "22", "63115", 38.6800, -90.2400, 0.006, 4},
		{"18", "20", "63111", 38.5550, -90.2500, 0.005, 3},
		{"39", "08", "63116", 38.5850, -90.2650, 0.005, 5},
		{"35", "28", "63112", 38.6550, -90.2900, 0.005, 3},
		{"59", "19", "63103", 38.6300, -90.2150, 0.004, 2},
		{"46", "06", "63110", 38.6200, -90.2600, 0.005, 3},
	},
	streets:   s("JANUARY AVE", "HEREFORD ST", "MURDOCH AVE", "MARINE AVE", "NORTHLAND AVE", "GRAVOIS AVE", "KINGSHIGHWAY BLVD", "CHIPPEWA ST", "NATURAL BRIDGE AVE", "DELMAR BLVD"),
	channels:  s("", "WEB", "PHONE", "DEPT_REF", "TWITTER"),
	chWeights: []float64{86, 12.8, 0.5, 0.5, 0.3},
	openShare: 0.01, noLocShare: 0.018, sigmaLog: 1.5,
}

var austinModel = &cityModel{
	name:   "austin",
	minLat: 30.0986, maxLat: 30.5168, minLon: -97.9383, maxLon: -97.5614,
	// agency is the SR type code, agName the owning department.
	types: []reqType{
		{name: "Austin Code - Request Code Officer", agency: "CODECOMP", agName: "Austin Code", weight: 12, median: 400},
		{name: "ARR Missed Recycling", agency: "SWSRECYC", agName: "Austin Resource Recovery", weight: 10, median: 30},
		{name: "ARR Missed Garbage", agency: "SWSGARBA", agName: "Austin Resource Recovery", weight: 8, median: 24},
		{name: "Loose Dog", agency: "ACLONAG", agName: "Animal Services", weight: 8, median: 12},
		{name: "Street Light Issue- Address", agency: "STREETL2", agName: "Austin Energy", weight: 5, median: 200},
		{name: "Pothole Repair", agency: "SBPOTREP", agName: "Transportation & Public Works", weight: 5, median: 60},
		{name: "Traffic Signal - Maintenance", agency: "TRASIGMA", agName: "Transportation & Public Works", weight: 3, median: 10},
		{name: "Graffiti Abatement", agency: "PRGRDISS", agName: "Parks & Recreation", weight: 3, median: 96},
		{name: "Obstruction in ROW", agency: "OBSTMIDB", agName: "Transportation & Public Works", weight: 2, median: 150},
	},
	// name is the zip code's area, district the council district.
	places: []place{
		{"Downtown", "9", "78701", 30.2680, -97.7430, 0.006, 5},
		{"Bouldin", "5", "78704", 30.2430, -97.7650, 0.008, 5},
		{"East Austin", "1", "78702", 30.2630, -97.7150, 0.007, 5},
		{"South Manchaca", "5", "78745", 30.2070, -97.7950, 0.009, 4},
		{"North Lamar", "7", "78758", 30.3870, -97.7060, 0.009, 4},
		{"Montopolis", "3", "78741", 30.2310, -97.7210, 0.008, 4},
		{"Rundberg", "4", "78753", 30.3650, -97.6730, 0.008, 3},
		{"Windsor Park", "1", "78723", 30.3050, -97.6850, 0.008, 3},
	},
	streets:   s("CONGRESS AVE", "S LAMAR BLVD", "E CESAR CHAVEZ ST", "MANCHACA RD", "RUNDBERG LN", "RIVERSIDE DR", "E 12TH ST", "BURNET RD", "AIRPORT BLVD", "WILLIAM CANNON DR"),
	channels:  s("Phone", "Spot311 Interface", "Web", "Mobile Device", "E-Mail"),
	chWeights: []float64{60, 18, 12, 8, 2},
	openShare: 0.04, noLocShare: 0.02, sigmaLog: 1.3,
}

func init() {
	for _, m := range []*cityModel{chicagoModel, chicagoLegacyModel, kansasCityModel, dcModel, stLouisModel, austinModel} {
		m.init()
	}
}

// The state-plane systems the formats write x/y in; the normalizer reads them with the
// same definitions (internal/crs).
var (
	illinoisEastFt = mustCRS("EPSG:3435")
	missouriEastFt = mustCRS("ESRI:102696")
	marylandM      = mustCRS("EPSG:26985")
)

func mustCRS(name string) *crs.CRS {
	c, err := crs.Lookup(name)
	if err != nil {
		panic(err) // a name above that internal/crs does not know: a build-time mistake
	}
	return c
}

// pyBool is how pandas writes a boolean.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func renderChicagoSODA(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	t, p := r.typ, r.place
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.begin(false)
		y, _, _ := civil(r.created.sec / 86400)
		w.buf = append(w.buf, "SR"...)
		w.buf = append2(w.buf, y%100)
		w.buf = append(w.buf, '-')
		if n := digits(r.id); n < 8 {
			w.buf = append(w.buf, "0000000"[:8-n]...)
		}
		w.buf = strconv.AppendInt(w.buf, r.id, 10)
		w.end(false)
	}
	g.text(1, t.name, r)
	w.str(t.agency)
	if g.aux.IntN(4) == 0 {
		w.null("")
	} else {
		w.str(t.agName)
	}
	w.str(t.agName)
	switch {
	case r.open:
		w.str("Open")
	case !r.update && g.aux.IntN(100) == 0:
		w.str("Canceled")
	default:
		w.str("Completed")
	}
	w.str(r.channel)
	g.created(7, layoutSODA, r)
	w.ts(layoutSODA, r.updated, "")
	w.ts(layoutSODA, r.closed, "")
	house, st := g.house(), g.street()
	dir, name, suffix := splitStreet(st)
	noCity := g.aux.IntN(4) == 0
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.end(false)
	if noCity {
		w.null("")
		w.null("")
	} else {
		w.str("Chicago")
		if g.aux.IntN(3) == 0 {
			w.str("IL")
		} else {
			w.str("Illinois")
		}
	}
	w.str(p.zip)
	w.num(house)
	w.str(dir)
	w.str(name)
	w.str(suffix)
	w.str(pyBool(false))
	w.str(pyBool(false))
	w.str(p.name)
	w.str(p.district)
	w.begin(false)
	w.buf = append(w.buf, 'K')
	w.buf = strconv.AppendInt(w.buf, 10+g.aux.Int64N(80), 10)
	w.end(false)
	w.num(int64(g.aux.IntN(5) + 1))
	w.num(int64(g.aux.IntN(25) + 1))
	w.num(int64(g.aux.IntN(25)*100 + g.aux.IntN(30) + 100))
	w.num(int64(g.aux.IntN(60) + 1))
	hh := r.created.sec % 86400 / 3600
	_, m, _ := civil(r.created.sec / 86400)
	w.num(hh)
	w.num(int64(weekday(r.created.sec/86400) + 1))
	w.num(int64(m))
	if r.loc != locPoint {
		for range 5 {
			w.null("")
		}
	} else {
		x, y := illinoisEastFt.FromLatLon(r.lat, r.lon)
		w.float(x, 6)
		w.float(y, 6)
		w.float(r.lat, -1)
		w.float(r.lon, -1)
		// A Python dict repr holding a JSON string: quoted, its quotes doubled.
		w.begin(true)
		w.buf = append(w.buf, "{'latitude': '"...)
		w.buf = strconv.AppendFloat(w.buf, r.lat, 'f', -1, 64)
		w.buf = append(w.buf, "', 'longitude': '"...)
		w.buf = strconv.AppendFloat(w.buf, r.lon, 'f', -1, 64)
		w.buf = append(w.buf, `', 'human_address': '{""address"": """", ""city"": """", ""state"": """", ""zip"": """"}'}`...)
		w.end(true)
	}
	w.null("")
	w.null("")
}

func renderChicagoLegacy(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	p := r.place
	g.created(0, layoutISODay, r)
	switch {
	case r.open:
		w.str("Open")
	case g.aux.IntN(8) < 5:
		w.str("Completed - Dup")
	default:
		w.str("Completed")
	}
	w.ts(layoutISODay, r.closed, "")
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.begin(false)
		y, _, _ := civil(r.created.sec / 86400)
		w.buf = append2(w.buf, y%100)
		w.buf = append(w.buf, '-')
		if n := digits(r.id); n < 8 {
			w.buf = append(w.buf, "0000000"[:8-n]...)
		}
		w.buf = strconv.AppendInt(w.buf, r.id, 10)
		w.end(false)
	}
	g.text(4, r.typ.name, r)
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, g.house(), 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, g.street()...)
	w.end(false)
	if g.aux.IntN(300) == 0 {
		w.null("")
	} else {
		w.str(p.zip)
	}
	if r.loc != locPoint {
		w.null("")
		w.null("")
	} else {
		x, y := illinoisEastFt.FromLatLon(r.lat, r.lon)
		w.float(x, 8)
		w.float(y, 8)
	}
	w.str(p.district)
	w.num(int64(g.aux.IntN(25) + 1))
	w.str(p.name)
	if r.loc != locPoint {
		w.null("")
		w.null("")
		w.null("")
		return
	}
	w.float(r.lat, -1)
	w.float(r.lon, -1)
	w.begin(true)
	w.buf = append(w.buf, "{'latitude': '"...)
	w.buf = strconv.AppendFloat(w.buf, r.lat, 'f', -1, 64)
	w.buf = append(w.buf, "', 'longitude': '"...)
	w.buf = strconv.AppendFloat(w.buf, r.lon, 'f', -1, 64)
	w.buf = append(w.buf, "', 'needs_recoding': False}"...)
	w.end(true)
}

// floatInt writes an integer as pandas writes an integer column with gaps: 64108.0.
func (w *rowWriter) floatInt(v int64) {
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.buf = append(w.buf, ".0"...)
	w.end(false)
}

func renderKansasCity(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	t, p := r.typ, r.place
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.num(r.id)
	}
	w.str(r.channel)
	w.str(t.agency)
	w.str(t.agName)
	w.str(t.name)
	w.str(t.extra)
	w.str(t.extra2)
	g.text(7, r.sub, r)
	g.created(8, layoutUSDate, r)
	w.ts(layoutUSTime, r.created, "")
	cy, cm, _ := civil(r.created.sec / 86400)
	w.num(int64(cm))
	w.num(int64(cy))
	switch {
	case r.open && g.aux.IntN(30) == 0:
		w.str("ASSIG")
	case r.open:
		w.str("OPEN")
	case r.update:
		w.str("RESOL")
	default:
		switch g.aux.IntN(120) {
		case 0, 1:
			w.str("CANC")
		case 2:
			w.str("DUP")
		default:
			w.str("RESOL")
		}
	}
	closedDays := (r.closed.sec/86400 - r.created.sec/86400)
	if !r.open && closedDays > int64(t.median/24*2) {
		w.str("Y")
	} else {
		w.str("N")
	}
	w.ts(layoutUSDate, r.closed, "")
	if r.open {
		w.null("")
		w.null("")
		w.null("")
	} else {
		y, m, _ := civil(r.closed.sec / 86400)
		w.floatInt(int64(m))
		w.floatInt(int64(y))
		w.floatInt(closedDays)
	}
	house, st := g.house(), g.street()
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.end(false)
	// The address, the ZIP code run on, a newline, then the point: every record spans
	// two lines. Rejects get the one-line form, so that a lenient reader resynchronises
	// right after them.
	w.begin(true)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.buf = append(w.buf, p.zip...)
	if r.bad == badNone {
		w.buf = append(w.buf, '\n')
	} else {
		w.buf = append(w.buf, ' ')
	}
	w.buf = appendLatLon(w.buf, r.lat, r.lon, 6)
	w.end(true)
	zip, _ := strconv.ParseInt(p.zip, 10, 64)
	w.floatInt(zip)
	w.str(p.name)
	w.str("Jackson")
	w.floatInt(kcCouncil[p.district])
	w.str(p.district)
	w.num(10000 + g.aux.Int64N(290000))
	w.float(r.lat, 6)
	w.float(r.lon, 6)
	w.begin(false)
	w.buf = append(w.buf, "http://city.kcmo.org/kc/ActionCenterRequest/CaseInfo.aspx?CaseID="...)
	w.buf = strconv.AppendInt(w.buf, r.id, 10)
	w.end(false)
	w.null("")
	pi := placeIndex(g.m, p)
	w.num(int64(25 + pi))
	w.str(p.name)
}

func renderDC(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	t, p := r.typ, r.place
	y, _, _ := civil(r.created.sec / 86400)
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.begin(false)
		w.buf = append2(w.buf, y%100)
		w.buf = append(w.buf, '-')
		if n := digits(r.id); n < 8 {
			w.buf = append(w.buf, "0000000"[:8-n]...)
		}
		w.buf = strconv.AppendInt(w.buf, r.id, 10)
		w.end(false)
	}
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, g.house(), 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, g.street()...)
	w.end(false)
	w.str("WASHINGTON")
	w.str("DC")
	if g.aux.IntN(60) == 0 {
		w.null("")
	} else {
		zip, _ := strconv.ParseInt(p.zip, 10, 64)
		w.floatInt(zip)
	}
	w.str(t.extra)
	g.text(6, t.name, r)
	w.str(t.agName)
	w.str(t.agency)
	w.num(1)
	created := stamp{sec: r.created.sec} // ArcGIS stores whole seconds
	g.created(10, layoutEpochMS, &request{created: created, bad: r.bad, badText: r.badText})
	w.ts(layoutEpochMSF, stamp{sec: r.closed.sec}, "")
	w.ts(layoutEpochMS, stamp{sec: r.created.sec + (2+g.aux.Int64N(14))*86400}, "")
	w.ts(layoutEpochMS, created, "")
	w.null("")
	w.null("")
	w.null("")
	switch {
	case r.open && g.aux.IntN(4) == 0:
		w.str("Open")
	case r.open:
		w.str("In-Progress")
	case r.update:
		w.str("Closed")
	default:
		switch g.aux.IntN(60) {
		case 0:
			w.str("Closed (Duplicate)")
		case 1:
			w.str("Canceled")
		default:
			w.str("Closed")
		}
	}
	w.null("")
	if g.aux.IntN(1000) == 0 {
		w.str("Emergency")
	} else {
		w.str("Standard")
	}
	w.null("")
	w.str(p.name)
	if r.loc != locPoint {
		for range 4 {
			w.null("")
		}
	} else {
		// Maryland state-plane metres, with pandas's float noise on some rows.
		x, yy := marylandM.FromLatLon(r.lat, r.lon)
		w.floatTrim(x, 2)
		w.floatTrim(yy, 2)
		w.floatTrim(r.lat, 8)
		w.floatTrim(r.lon, 8)
	}
	w.num(1000 + g.aux.Int64N(330000))
	w.null("")
	w.begin(false)
	w.buf = append(w.buf, '{')
	w.buf = appendHex(w.buf, g.aux.Uint64(), 8)
	w.buf = append(w.buf, '-')
	w.buf = appendHex(w.buf, g.aux.Uint64(), 4)
	w.buf = append(w.buf, "-766F-E063-"...)
	w.buf = appendHex(w.buf, g.aux.Uint64(), 12)
	w.buf = append(w.buf, '}')
	w.end(false)
	w.null("")
	w.null("")
	w.ts(layoutEpochMS, stamp{sec: r.updated.sec}, "")
	w.raw("253402300799000")
	w.num(4_000_000 + r.id%1_000_000)
	w.num(11_000_000 + r.id%1_000_000)
}

func renderStLouis(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	t, p := r.typ, r.place
	w.str(r.channel)
	if g.aux.IntN(5) < 2 {
		w.null("")
	} else {
		w.str("St. Louis")
	}
	status := "CLOSED"
	switch {
	case r.open:
		status = "SCHEDULED"
	case r.update:
	case g.aux.IntN(20) == 0:
		status = "CANCEL"
		if g.aux.IntN(8) == 0 {
			status = "Cancel"
		}
	}
	if status == "CANCEL" || status == "Cancel" {
		w.ts(layoutCSB, stamp{sec: r.closed.sec}, "")
	} else {
		w.null("")
	}
	w.ts(layoutCSB, stamp{sec: (r.created.sec/86400 + 1 + g.aux.Int64N(20)) * 86400}, "")
	w.ts(layoutCSB, r.closed, "")
	g.created(5, layoutCSB, r)
	g.text(6, t.extra2, r)
	w.null("")
	w.str(t.extra)
	w.str(p.name)
	w.str(t.resolve)
	w.ts(layoutCSB, stamp{sec: (r.created.sec/86400 + 21) * 86400}, "")
	w.begin(true)
	w.buf = strconv.AppendInt(w.buf, g.house(), 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, g.street()...)
	w.end(true)
	if g.aux.IntN(30) == 0 {
		w.str("A")
	} else {
		w.str("B")
	}
	w.str(t.name)
	if g.aux.IntN(5) == 0 {
		w.str(p.zip)
	} else {
		w.null("")
	}
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.num(r.id)
	}
	if r.loc != locPoint {
		w.null("")
		w.null("")
	} else {
		// Whole feet, written with eight zero decimals.
		x, y := missouriEastFt.FromLatLon(r.lat, r.lon)
		w.float(float64(int64(x)), 8)
		w.float(float64(int64(y)), 8)
	}
	w.str(status)
	w.str(t.agency)
	w.str(p.district)
}

var austinCounty = []string{"TRAVIS", "TRAVIS", "TRAVIS", "WILLIAMSON"}

func renderAustin(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	t, p := r.typ, r.place
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.begin(false)
		y, _, _ := civil(r.created.sec / 86400)
		w.buf = append2(w.buf, y%100)
		w.buf = append(w.buf, '-')
		if n := digits(r.id); n < 8 {
			w.buf = append(w.buf, "0000000"[:8-n]...)
		}
		w.buf = strconv.AppendInt(w.buf, r.id, 10)
		w.end(false)
	}
	w.str(t.agency)
	g.text(2, t.name, r)
	w.str(t.agName)
	w.str(r.channel)
	switch {
	case r.open && g.aux.IntN(3) == 0:
		w.str("Work In Progress")
	case r.open:
		w.str("Open")
	case !r.update && g.aux.IntN(40) == 0:
		w.str("Duplicate (closed)")
	default:
		w.str("Closed")
	}
	w.ts(layoutAustin, r.updated, "")
	g.created(7, layoutAustin, r)
	w.ts(layoutAustin, r.updated, "")
	w.ts(layoutAustin, r.closed, "")
	house, st := g.house(), g.street()
	w.begin(true)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.buf = append(w.buf, ", AUSTIN, TX "...)
	w.buf = append(w.buf, p.zip...)
	w.end(true)
	w.num(house)
	w.str(st)
	w.str("AUSTIN")
	w.str(p.zip)
	w.str(austinCounty[g.aux.IntN(len(austinCounty))])
	if r.loc != locPoint {
		for range 5 {
			w.null("")
		}
	} else {
		// Texas Central state-plane feet, linearised around the city centre.
		w.floatTrim(3114000+(r.lon+97.74)*316000, 2)
		w.floatTrim(10070000+(r.lat-30.27)*364000, 2)
		w.float(r.lat, 8)
		w.float(r.lon, 8)
		w.latLon(r.lat, r.lon, 8)
	}
	w.str(p.district)
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, 500+g.aux.Int64N(200), 10)
	w.buf = append(w.buf, 'A'+byte(g.aux.IntN(26)))
	w.end(false)
	w.begin(false)
	w.buf = append(w.buf, 'M', 'H')
	w.buf = strconv.AppendInt(w.buf, 10+g.aux.Int64N(30), 10)
	w.end(false)
}
