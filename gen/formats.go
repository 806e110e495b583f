package gen

import (
	"math/rand/v2"
	"strconv"
)

// format is one native export layout of a city. A city may have several (NYC: portal CSV,
// SODA CSV, SODA JSON; Boston: the 2022 and the 2025 systems); each gets a share of the
// city's bytes and its own range of creation years, as the real exports do.
type format struct {
	city   string
	name   string // file name stem: Dir/<city>/<name>-NNNN.<ext>
	ext    string
	header string // the real file's header line, byte for byte, with its line end
	eol    string
	q      quoting
	json   bool
	share  float64 // of the city's bytes
	years  [2]int  // created years, inclusive
	model  *cityModel
	render func(g *fileGen, r *request)
}

// Headers of the real exports (column names are not data).
const (
	headerNYCPortal = "Unique Key,Created Date,Closed Date,Agency,Agency Name,Complaint Type,Descriptor,Location Type,Incident Zip,Incident Address,Street Name,Cross Street 1,Cross Street 2,Intersection Street 1,Intersection Street 2,Address Type,City,Landmark,Facility Type,Status,Due Date,Resolution Description,Resolution Action Updated Date,Community Board,BBL,Borough,X Coordinate (State Plane),Y Coordinate (State Plane),Open Data Channel Type,Park Facility Name,Park Borough,Vehicle Type,Taxi Company Borough,Taxi Pick Up Location,Bridge Highway Name,Bridge Highway Direction,Road Ramp,Bridge Highway Segment,Latitude,Longitude,Location\n"
	headerNYCSODA   = `"unique_key","created_date","closed_date","agency","agency_name","complaint_type","descriptor","location_type","incident_zip","incident_address","street_name","cross_street_1","cross_street_2","intersection_street_1","intersection_street_2","address_type","city","landmark","facility_type","status","due_date","resolution_description","resolution_action_updated_date","community_board","bbl","borough","x_coordinate_state_plane","y_coordinate_state_plane","open_data_channel_type","park_facility_name","park_borough","vehicle_type","taxi_company_borough","taxi_pick_up_location","bridge_highway_name","bridge_highway_direction","road_ramp","bridge_highway_segment","latitude","longitude","location"` + "\n"
	headerLA        = "SRNumber,CreatedDate,UpdatedDate,ActionTaken,Owner,RequestType,Status,RequestSource,MobileOS,Anonymous,AssignTo,ServiceDate,ClosedDate,AddressVerified,ApproximateAddress,Address,HouseNumber,Direction,StreetName,Suffix,ZipCode,Latitude,Longitude,Location,TBMPage,TBMColumn,TBMRow,APC,CD,CDMember,NC,NCName,PolicePrecinct\n"
	headerSF        = `"","CaseID","Opened","Closed","Updated","Status","Status.Notes","Responsible.Agency","Category","Request.Type","Request.Details","Address","Supervisor.District","Neighborhood","Point","Source","Media.URL"` + "\n"
	headerBoston22  = "case_enquiry_id,open_dt,target_dt,closed_dt,ontime,case_status,closure_reason,case_title,subject,reason,type,queue,department,submittedphoto,closedphoto,location,fire_district,pwd_district,city_council_district,police_district,neighborhood,neighborhood_services_district,ward,precinct,location_street_name,location_zipcode,latitude,longitude,source\n"
	headerBoston25  = "case_id,open_date,close_date,target_close_date,case_topic,service_name,assigned_department,assigned_team,case_status,closure_reason,closure_comments,on_time,report_source,full_address,street_number,street_name,zip_code,neighborhood,public_works_district,city_council_district,fire_district,police_district,ward,precinct,longitude,latitude\r\n"
	headerBaltimore = "SRRecordID,ServiceRequestNum,SRType,MethodReceived,CreatedDate,SRStatus,StatusDate,DueDate,CloseDate,Agency,LastActivity,LastActivityDate,Outcome,Address,ZipCode,Neighborhood,CouncilDistrict,PoliceDistrict,PolicePost,Latitude,Longitude,GeoLocation,2010 Census Wards Precincts,2010 Census Neighborhoods,Zip Codes,DaysOpen\n"
)

// nycKeys are the SODA field names, in column order (the JSON member names).
var nycKeys = []string{"unique_key", "created_date", "closed_date", "agency", "agency_name", "complaint_type", "descriptor", "location_type", "incident_zip", "incident_address", "street_name", "cross_street_1", "cross_street_2", "intersection_street_1", "intersection_street_2", "address_type", "city", "landmark", "facility_type", "status", "due_date", "resolution_description", "resolution_action_updated_date", "community_board", "bbl", "borough", "x_coordinate_state_plane", "y_coordinate_state_plane", "open_data_channel_type", "park_facility_name", "park_borough", "vehicle_type", "taxi_company_borough", "taxi_pick_up_location", "bridge_highway_name", "bridge_highway_direction", "road_ramp", "bridge_highway_segment", "latitude", "longitude", "location"}

// cityWeight splits Options.Size across cities (renormalised over the selected ones).
var cityWeight = map[string]float64{"nyc": 0.30, "la": 0.12, "sf": 0.11, "boston": 0.08, "baltimore": 0.09,
	"chicago": 0.10, "kansas_city": 0.05, "dc": 0.06, "st_louis": 0.04, "austin": 0.05}

// cityOrder is the default city list and the order of the plan.
// Austin, last, has no built-in schema: a job over the corpus defines it (AustinSchema).
var cityOrder = []string{"nyc", "la", "sf", "boston", "baltimore", "chicago", "kansas_city", "dc", "st_louis", "austin"}

var formats = []*format{
	{city: "nyc", name: "portal", ext: "csv", header: headerNYCPortal, eol: "\n", q: quoteMinimal, share: 0.5, years: [2]int{2010, 2019}, model: nycModel, render: renderNYC},
	{city: "nyc", name: "soda", ext: "csv", header: headerNYCSODA, eol: "\n", q: quoteNonEmpty, share: 0.3, years: [2]int{2020, 2023}, model: nycModel, render: renderNYC},
	{city: "nyc", name: "soda", ext: "json", json: true, share: 0.2, years: [2]int{2024, 2025}, model: nycModel, render: renderNYC},
	{city: "la", name: "myla311", ext: "csv", header: headerLA, eol: "\n", q: quoteMinimal, share: 1, years: [2]int{2015, 2019}, model: laModel, render: renderLA},
	{city: "sf", name: "sf311", ext: "csv", header: headerSF, eol: "\n", q: quoteStrings, share: 1, years: [2]int{2008, 2016}, model: sfModel, render: renderSF},
	{city: "boston", name: "boston311-2022", ext: "csv", header: headerBoston22, eol: "\n", q: quoteMinimal, share: 0.7, years: [2]int{2015, 2024}, model: bostonModel, render: renderBoston22},
	{city: "boston", name: "boston311-2025", ext: "csv", header: headerBoston25, eol: "\r\n", q: quoteMinimal, share: 0.3, years: [2]int{2025, 2025}, model: bostonModel2025, render: renderBoston25},
	{city: "baltimore", name: "baltimore311", ext: "csv", header: headerBaltimore, eol: "\n", q: quoteMinimal, share: 1, years: [2]int{2013, 2019}, model: baltimoreModel, render: renderBaltimore},
	// Appended, so that the formats above keep their index in file seeds.
	{city: "chicago", name: "soda", ext: "csv", header: headerChicagoSODA, eol: "\n", q: quoteMinimal, share: 0.8, years: [2]int{2018, 2024}, model: chicagoModel, render: renderChicagoSODA},
	{city: "chicago", name: "legacy", ext: "csv", header: headerChicagoLegacy, eol: "\n", q: quoteMinimal, share: 0.2, years: [2]int{2011, 2017}, model: chicagoLegacyModel, render: renderChicagoLegacy},
	{city: "kansas_city", name: "kc311", ext: "csv", header: headerKansasCity, eol: "\n", q: quoteMinimal, share: 1, years: [2]int{2007, 2020}, model: kansasCityModel, render: renderKansasCity},
	{city: "dc", name: "dc311", ext: "csv", header: headerDC, eol: "\n", q: quoteMinimal, share: 1, years: [2]int{2019, 2025}, model: dcModel, render: renderDC},
	{city: "st_louis", name: "csb", ext: "csv", header: headerStLouis, eol: "\r\n", q: quoteAll, share: 1, years: [2]int{2009, 2021}, model: stLouisModel, render: renderStLouis},
	{city: "austin", name: "austin311", ext: "csv", header: headerAustin, eol: "\n", q: quoteMinimal, share: 1, years: [2]int{2014, 2023}, model: austinModel, render: renderAustin},
}

// badDates are created-date values that parse in no layout of any city: month 13, hour
// 25, spreadsheet error values.
var badDates = []string{"13/32/2019 25:61:61 PM", "2019-13-32T25:61:61.000", "0000-00-00 00:00:00", "Invalid Date", "#VALUE!"}

// malformed is the BadQuote injection: a quoted value with text after its closing quote.
// The quote count stays even, so a quote-parity split reader stays in step after the row.
const malformed = `"See notes" and call back`

// fileGen is the state of one file being written. It is owned by one goroutine.
type fileGen struct {
	f   *format
	m   *cityModel
	w   rowWriter
	rng *rand.Rand
	aux *rand.Rand // re-seeded per request from request.aux
	src *rand.PCG
	tm  timeModel
}

// seedAux makes the secondary fields of r reproducible, so that the open and the closed
// version of a duplicated request share an address, a board, a photo …
func (g *fileGen) seedAux(r *request) { g.src.Seed(r.aux, 0x9e3779b97f4a7c15) }

// house is a house number, skewed towards small numbers like real addresses.
func (g *fileGen) house() int64 {
	n := g.aux.Int64N(3000) + 1
	if g.aux.IntN(3) == 0 {
		n = g.aux.Int64N(12000) + 1
	}
	return n
}

func (g *fileGen) street() string { return g.m.streets[g.aux.IntN(len(g.m.streets))] }

// created writes the created-date column i: the stamp, or the injected garbage.
func (g *fileGen) created(i int, l layout, r *request) {
	if r.bad == badDate {
		if g.w.json {
			g.w.key(i)
			g.w.buf = appendJSONString(g.w.buf, r.badText)
			return
		}
		g.w.str(r.badText)
		return
	}
	g.w.cTs(i, l, r.created)
}

// text writes a free-text column, or the malformed-quote injection on a BadQuote row.
func (g *fileGen) text(i int, s string, r *request) {
	if r.bad == badQuote {
		g.w.raw(malformed)
		return
	}
	g.w.cStr(i, s)
}

var boroughCode = map[string]int64{"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}

func renderNYC(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	t, p := r.typ, r.place
	soda := g.f.q == quoteNonEmpty || w.json
	l := layoutUS12
	if soda {
		l = layoutSODA
	}
	if r.bad == badMissingID {
		w.cNull(0)
	} else {
		w.cNum(0, r.id)
	}
	g.created(1, l, r)
	w.cTs(2, l, r.closed)
	w.cStr(3, t.agency)
	w.cStr(4, t.agName)
	w.cStr(5, t.name)
	g.text(6, r.sub, r)
	if g.aux.IntN(20) == 0 {
		w.cNull(7)
	} else {
		w.cStr(7, t.extra)
	}
	w.cStr(8, p.zip)
	intersection := g.aux.IntN(8) == 0
	st := g.street()
	if intersection {
		for i := 9; i <= 12; i++ {
			w.cNull(i)
		}
		w.cStr(13, st)
		w.cStr(14, g.street())
		w.cStr(15, "INTERSECTION")
	} else {
		if w.json {
			w.key(9)
			w.buf = append(w.buf, '"')
		} else {
			w.begin(w.valQuoted())
		}
		w.buf = strconv.AppendInt(w.buf, g.house(), 10)
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, st...)
		if w.json {
			w.buf = append(w.buf, '"')
		} else {
			w.end(w.valQuoted())
		}
		w.cStr(10, st)
		w.cStr(11, g.street())
		w.cStr(12, g.street())
		w.cNull(13)
		w.cNull(14)
		w.cStr(15, "ADDRESS")
	}
	w.cStr(16, p.name)
	w.cNull(17)
	switch {
	case soda && g.aux.IntN(16) != 0:
		w.cNull(18)
	case t.agency == "NYPD":
		w.cStr(18, "Precinct")
	default:
		w.cStr(18, "N/A")
	}
	w.cStr(19, nycStatus(g, r))
	if !soda && !r.open && g.aux.IntN(4) != 0 {
		w.cTs(20, l, stamp{sec: r.created.sec + 8*3600 + g.aux.Int64N(14*86400)})
	} else {
		w.cNull(20)
	}
	if r.open && g.aux.IntN(2) == 0 {
		w.cNull(21)
	} else {
		w.cStr(21, t.resolve)
	}
	w.cTs(22, l, r.updated)
	board := g.aux.Int64N(18) + 1
	if w.json {
		w.key(23)
		w.buf = append(w.buf, '"')
	} else {
		w.begin(w.valQuoted())
	}
	w.buf = append2(w.buf, int(board))
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, p.district...)
	if w.json {
		w.buf = append(w.buf, '"')
	} else {
		w.end(w.valQuoted())
	}
	if g.aux.IntN(4) == 0 {
		w.cNull(24)
	} else {
		w.cNum(24, boroughCode[p.district]*1_000_000_000+g.aux.Int64N(16000)*10_000+g.aux.Int64N(200)+1)
	}
	w.cStr(25, p.district)
	if r.loc == locPoint {
		// New York–Long Island state plane feet, linearised around the city centre.
		w.cNum(26, int64(983000+(r.lon+74.0)*276900))
		w.cNum(27, int64(200000+(r.lat-40.72)*364000))
	} else {
		w.cNull(26)
		w.cNull(27)
	}
	w.cStr(28, r.channel)
	w.cStr(29, "Unspecified")
	w.cStr(30, p.district)
	for i := 31; i <= 37; i++ {
		w.cNull(i)
	}
	if r.loc != locPoint {
		w.cNull(38)
		w.cNull(39)
		w.cNull(40)
		return
	}
	w.cFloat(38, r.lat, -1)
	w.cFloat(39, r.lon, -1)
	switch {
	case w.json:
		w.key(40)
		w.buf = append(w.buf, `{"latitude":"`...)
		w.buf = strconv.AppendFloat(w.buf, r.lat, 'f', -1, 64)
		w.buf = append(w.buf, `","longitude":"`...)
		w.buf = strconv.AppendFloat(w.buf, r.lon, 'f', -1, 64)
		w.buf = append(w.buf, `","human_address":"{\"address\": \"\", \"city\": \"\", \"state\": \"\", \"zip\": \"\"}"}`...)
		w.buf = append(w.buf, `,":@computed_region_efsh_h5xi":"`...)
		w.buf = strconv.AppendInt(w.buf, 10000+g.aux.Int64N(8000), 10)
		w.buf = append(w.buf, `",":@computed_region_f5dn_yrer":"`...)
		w.buf = strconv.AppendInt(w.buf, g.aux.Int64N(70)+1, 10)
		w.buf = append(w.buf, `"`...)
	case soda && r.bad == badNone:
		// SODA CSV writes the location as "<address>\n,  \n(lat, lon)" with an empty
		// address: the newlines inside a quoted field the split reader must survive.
		// Rejects get the one-line form, so that a lenient reader resynchronises right
		// after them.
		w.begin(true)
		w.buf = append(w.buf, "\n,  \n("...)
		w.buf = strconv.AppendFloat(w.buf, r.lat, 'f', -1, 64)
		w.buf = append(w.buf, ", "...)
		w.buf = strconv.AppendFloat(w.buf, r.lon, 'f', -1, 64)
		w.buf = append(w.buf, ')')
		w.end(true)
	default:
		w.latLon(r.lat, r.lon, -1)
	}
}

func nycStatus(g *fileGen, r *request) string {
	if !r.open {
		return "Closed"
	}
	switch g.aux.IntN(10) {
	case 0:
		return "Assigned"
	case 1, 2:
		return "Pending"
	case 3, 4, 5:
		return "In Progress"
	}
	return "Open"
}

// splitStreet splits "W BELLEVUE AVE" into direction, name and suffix.
func splitStreet(st string) (dir, name, suffix string) {
	if len(st) > 2 && st[1] == ' ' {
		dir, st = st[:1], st[2:]
	}
	for i := len(st) - 1; i > 0; i-- {
		if st[i] == ' ' {
			return dir, st[:i], st[i+1:]
		}
	}
	return dir, st, ""
}

var (
	laAPC      = []string{"Central APC", "East Los Angeles APC", "Harbor APC", "North Valley APC", "South Los Angeles APC", "South Valley APC", "West Los Angeles APC"}
	laAssign   = []string{"EV", "NC", "WV", "SLA", "WLA", "SLABT", "NV"}
	laCouncil  = []string{"Gilbert Cedillo", "Paul Krekorian", "Bob Blumenfield", "David Ryu", "Paul Koretz", "Nury Martinez", "Monica Rodriguez", "Marqueece Harris-Dawson", "Curren D. Price Jr.", "Herb J. Wesson Jr.", "Mike Bonin", "Mitchell Englander", "Mitch O'Farrell", "Jose Huizar", "Joe Buscaino"}
	tbmColumns = "ABCDEFGHJ"
)

func renderLA(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	pi := placeIndex(g.m, r.place)
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.begin(false)
		w.buf = append(w.buf, "1-"...)
		w.buf = strconv.AppendInt(w.buf, r.id, 10)
		w.end(false)
	}
	g.created(1, layoutUS12, r)
	w.ts(layoutUS12, r.updated, "")
	w.str("SR Created")
	w.str(r.typ.agency)
	w.str(r.typ.name)
	switch {
	case r.open && g.aux.IntN(4) == 0:
		w.str("Pending")
	case r.open:
		w.str("Open")
	case r.update:
		w.str("Closed")
	default:
		switch g.aux.IntN(40) {
		case 0:
			w.str("Cancelled")
		case 1:
			w.str("Referred Out")
		default:
			w.str("Closed")
		}
	}
	w.str(r.channel)
	switch {
	case r.channel != "Mobile App":
		w.null("")
	case g.aux.IntN(3) == 0:
		w.str("Android")
	default:
		w.str("iOS")
	}
	if g.aux.IntN(12) == 0 {
		w.str("Y")
	} else {
		w.str("N")
	}
	w.str(laAssign[pi%len(laAssign)])
	w.ts(layoutUS12, stamp{sec: (r.created.sec/86400 + 1 + g.aux.Int64N(5)) * 86400}, "")
	w.ts(layoutUS12, r.closed, "")
	w.str("Y")
	switch g.aux.IntN(3) {
	case 0:
		w.null("")
	default:
		w.str("N")
	}
	st := g.street()
	dir, name, suffix := splitStreet(st)
	house := g.house()
	w.begin(true)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.buf = append(w.buf, ", "...)
	w.buf = append(w.buf, r.place.zip...)
	w.end(true)
	w.num(house)
	w.str(dir)
	w.str(name)
	w.str(suffix)
	w.str(r.place.zip)
	switch r.loc {
	case locPoint:
		w.float(r.lat, 9)
		w.float(r.lon, 9)
		w.latLon(r.lat, r.lon, 9)
	case locPlaceholder:
		w.raw("0")
		w.raw("0")
		w.str("(0.0, 0.0)")
	default:
		w.null("")
		w.null("")
		w.null("")
	}
	w.num(500 + int64(pi)*9 + g.aux.Int64N(9))
	w.begin(false)
	w.buf = append(w.buf, tbmColumns[g.aux.IntN(len(tbmColumns))])
	w.end(false)
	w.num(g.aux.Int64N(7) + 1)
	w.str(laAPC[pi%len(laAPC)])
	cd := pi % len(laCouncil)
	w.num(int64(cd + 1))
	g.text(29, laCouncil[cd], r)
	w.num(int64(pi*5 + 7))
	w.str(r.place.name)
	w.str(r.place.district)
}

func placeIndex(m *cityModel, p *place) int {
	for i := range m.places {
		if &m.places[i] == p {
			return i
		}
	}
	return 0
}

// sfNotesMultiline are status notes with line breaks, as agencies type them.
var sfNotesMultiline = []string{
	"Case Transferred - Healthy Housing & Vector Control\n Program, DPH\n Inspector assigned",
	"Case Resolved - Sent to District Supervisor.\n \n Thank you,",
	"Case is a Duplicate - Checking Complaint Status\n \n Within 10 business days of filing a complaint, you may contact the division.",
}

func renderSF(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	w.begin(true)
	w.buf = strconv.AppendInt(w.buf, 1+int64(g.aux.Uint32()%1_800_000), 10)
	w.end(true)
	if r.bad == badMissingID {
		// Empty rather than R's NA: a reject must not depend on the schema's null tokens.
		w.raw("")
	} else {
		w.raw(strconv.FormatInt(r.id, 10))
	}
	g.created(2, layoutUS12, r)
	w.ts(layoutUS12, r.closed, "")
	w.ts(layoutUS12, r.updated, "")
	if r.open {
		w.str("Open")
	} else {
		w.str("Closed")
	}
	switch {
	case r.bad == badQuote:
		w.raw(malformed)
	case r.open && g.aux.IntN(3) == 0:
		w.str("Open")
	case r.open:
		w.str("")
	case g.aux.IntN(100) == 0:
		w.str(sfNotesMultiline[g.aux.IntN(len(sfNotesMultiline))])
	case g.aux.IntN(2) == 0:
		w.str("")
	default:
		w.str(r.typ.resolve)
	}
	w.str(r.typ.agName)
	w.str(r.typ.extra)
	w.str(r.typ.name)
	if r.sub == "NA" {
		w.raw("NA")
	} else {
		w.str(r.sub)
	}
	w.begin(true)
	if g.aux.IntN(3) == 0 {
		w.buf = append(w.buf, "Intersection of "...)
		w.buf = append(w.buf, g.street()...)
		w.buf = append(w.buf, " and "...)
		w.buf = append(w.buf, g.street()...)
	} else {
		w.buf = strconv.AppendInt(w.buf, g.house(), 10)
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, g.street()...)
		w.buf = append(w.buf, ", SAN FRANCISCO, CA, "...)
		w.buf = append(w.buf, r.place.zip...)
	}
	w.end(true)
	w.raw(r.place.district)
	w.str(r.place.name)
	if r.loc == locPoint {
		w.latLon(r.lat, r.lon, 12)
	} else {
		w.str("")
	}
	w.str(r.channel)
	if r.channel == "Open311" && g.aux.IntN(2) == 0 {
		w.begin(true)
		w.buf = append(w.buf, "http://mobile311.sfgov.org/media/san_francisco/report/photos/"...)
		w.buf = appendHex(w.buf, g.aux.Uint64(), 16)
		w.buf = appendHex(w.buf, g.aux.Uint64(), 8)
		w.buf = append(w.buf, "/report.jpg"...)
		w.end(true)
	} else {
		w.str("")
	}
}

func appendHex(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, "0123456789abcdef"[(v>>(4*uint(i)))&15])
	}
	return b
}

var (
	dayNames   = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	monthNames = [13]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// appendUnixDate appends Java's Date.toString form, "Wed Jan 19 11:42:16 EST 2022", that
// Boston's closure reasons embed.
func appendUnixDate(b []byte, sec int64) []byte {
	days := sec / 86400
	rem := int(sec - days*86400)
	y, m, d := civil(days)
	b = append(b, dayNames[weekday(days)]...)
	b = append(b, ' ')
	b = append(b, monthNames[m]...)
	b = append(b, ' ')
	b = append2(b, d)
	b = append(b, ' ')
	b = append2(b, rem/3600)
	b = append(b, ':')
	b = append2(b, rem/60%60)
	b = append(b, ':')
	b = append2(b, rem%60)
	if easternToUTC(sec) == 4*3600 {
		b = append(b, " EDT "...)
	} else {
		b = append(b, " EST "...)
	}
	return append4(b, y)
}

// Boston's default geocode (City Hall): written on rows without a usable address.
const bostonDefaultLat, bostonDefaultLon = 42.3594, -71.0587

func renderBoston22(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	p := r.place
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.num(101_000_000_000 + r.id)
	}
	g.created(1, layoutSQL, r)
	var target stamp
	if g.aux.IntN(9) != 0 {
		target = stamp{sec: (r.created.sec/86400+1+g.aux.Int64N(14))*86400 + 8*3600 + 1800}
	}
	w.ts(layoutSQL, target, "")
	w.ts(layoutSQL, r.closed, "")
	if target.sec != 0 && (r.closed.sec > target.sec || r.closed.sec == 0 && g.aux.IntN(2) == 0) {
		w.str("OVERDUE")
	} else {
		w.str("ONTIME")
	}
	if r.open {
		w.str("Open")
		w.raw(" ")
	} else {
		w.str("Closed")
		w.begin(false)
		w.buf = append(w.buf, "Case Closed. Closed date : "...)
		w.buf = appendUnixDate(w.buf, r.closed.sec)
		if g.aux.IntN(3) == 0 {
			w.buf = append(w.buf, " Noted "...)
		} else {
			w.buf = append(w.buf, " Resolved "...)
		}
		w.end(false)
	}
	w.str(r.typ.name)
	w.str(r.typ.agName)
	w.str(r.typ.extra2)
	w.str(r.typ.name)
	w.str(r.typ.extra)
	g.text(12, r.typ.agency, r)
	if r.channel == "Citizens Connect App" && g.aux.IntN(2) == 0 {
		w.begin(false)
		w.buf = append(w.buf, "https://311.boston.gov/media/boston/report/photos/"...)
		w.buf = appendHex(w.buf, g.aux.Uint64(), 16)
		w.buf = appendHex(w.buf, g.aux.Uint64(), 8)
		w.buf = append(w.buf, ".jpg"...)
		w.end(false)
	} else {
		w.null("")
	}
	w.null("")
	house, st := g.house(), g.street()
	if r.loc == locNone {
		// No address: every location column is a single space, coordinates the default.
		for range 9 {
			w.raw(" ")
		}
		w.null("")
		w.null("")
		w.float(bostonDefaultLat, 4)
		w.float(bostonDefaultLon, 4)
		w.str(r.channel)
		return
	}
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.buf = append(w.buf, "  "...)
	w.buf = append(w.buf, p.name...)
	w.buf = append(w.buf, "  MA  "...)
	w.buf = append(w.buf, p.zip...)
	w.end(false)
	pi := placeIndex(g.m, p)
	w.num(int64(pi%11 + 1))
	w.str(bostonPWD[pi%len(bostonPWD)])
	w.num(int64(pi%9 + 1))
	w.str(p.district)
	w.str(p.name)
	w.num(int64(pi%15 + 1))
	ward := pi + 1 + g.aux.IntN(3)
	w.begin(false)
	w.buf = append(w.buf, "Ward "...)
	w.buf = strconv.AppendInt(w.buf, int64(ward), 10)
	w.end(false)
	w.begin(false)
	w.buf = append2(w.buf, ward)
	w.buf = append2(w.buf, g.aux.IntN(12)+1)
	w.end(false)
	w.begin(false)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.end(false)
	w.str(p.zip)
	if r.loc == locPlaceholder {
		w.float(bostonDefaultLat, 4)
		w.float(bostonDefaultLon, 4)
	} else {
		w.floatTrim(r.lat, 4)
		w.floatTrim(r.lon, 4)
	}
	w.str(r.channel)
}

var bostonPWD = []string{"1A", "1B", "1C", "02", "03", "04", "05", "06", "07", "08", "09", "10A", "10B"}

var bostonComments = []string{"Installed new 40W head", "outages repaired", "tree limb removed by crew", "duplicate", "Animal returned to owner", "Checked area, unable to locate animal"}

func renderBoston25(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	p := r.place
	if r.bad == badMissingID {
		w.null("")
	} else {
		w.begin(false)
		w.buf = append(w.buf, "BCS-"...)
		if n := digits(r.id); n < 8 {
			w.buf = append(w.buf, "0000000"[:8-n]...)
		}
		w.buf = strconv.AppendInt(w.buf, r.id, 10)
		w.end(false)
	}
	g.created(1, layoutPGUTC, r)
	// The new system stores close times without a fraction.
	w.ts(layoutPGUTC, stamp{sec: r.closed.sec}, "")
	target := stamp{sec: r.created.sec + 3*86400, ms: r.created.ms}
	w.ts(layoutPGUTC, target, "")
	w.str(r.typ.name)
	g.text(5, r.typ.name, r)
	w.str(r.typ.agName)
	w.str(r.typ.extra)
	if r.open {
		w.str("In progress")
		w.null("")
		w.null("")
	} else {
		w.str("Closed")
		switch g.aux.IntN(10) {
		case 0, 1:
			w.str("Noted")
		case 2:
			w.str("Transitioned")
		default:
			w.str("Resolved")
		}
		switch g.aux.IntN(6) {
		case 0:
			w.str(bostonComments[g.aux.IntN(len(bostonComments))])
		case 1:
			if r.bad != badNone {
				// Rejects stay on one line, so that a lenient reader resynchronises
				// right after them.
				w.null("")
				break
			}
			// A bare LF inside a quoted field of a CRLF file.
			w.begin(true)
			w.buf = append(w.buf, bostonComments[g.aux.IntN(len(bostonComments))]...)
			w.buf = append(w.buf, "\nchecked again next day"...)
			w.end(true)
		default:
			w.null("")
		}
	}
	if target.sec < r.closed.sec || r.closed.sec == 0 && g.aux.IntN(2) == 0 {
		w.str("OVERDUE")
	} else {
		w.str("ONTIME")
	}
	w.str(r.channel)
	house, st := g.house(), g.street()
	if r.loc == locNone {
		for range 11 {
			w.null("")
		}
		w.null("")
		w.null("")
		return
	}
	w.begin(true)
	w.buf = strconv.AppendInt(w.buf, house, 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, st...)
	w.buf = append(w.buf, ", "...)
	w.buf = append(w.buf, p.name...)
	w.buf = append(w.buf, ", MA "...)
	w.buf = append(w.buf, p.zip...)
	w.end(true)
	w.num(house)
	w.str(st)
	w.str(p.zip)
	w.str(p.name)
	pi := placeIndex(g.m, p)
	w.str(bostonPWD[pi%len(bostonPWD)])
	w.num(int64(pi%9 + 1))
	w.num(int64(pi%11 + 1))
	w.str(p.district)
	w.begin(false)
	w.buf = append2(w.buf, pi+1+g.aux.IntN(3))
	w.end(false)
	w.begin(false)
	w.buf = append2(w.buf, g.aux.IntN(12)+1)
	w.end(false)
	w.floatTrim(r.lon, 7)
	w.floatTrim(r.lat, 6)
}

func digits(v int64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func renderBaltimore(g *fileGen, r *request) {
	w := &g.w
	g.seedAux(r)
	p := r.place
	y, _, _ := civil(r.created.sec / 86400)
	// R wrote some of the sample's rows with NA for missing text.
	na := ""
	if g.aux.IntN(3) == 0 {
		na = "NA"
	}
	if r.bad == badMissingID {
		w.null("")
		w.null("")
	} else {
		w.begin(false)
		if g.aux.IntN(10) == 0 {
			// Salesforce record id: a bijective base-62 spelling of the request id.
			w.buf = append(w.buf, "50041"...)
			v := uint64(r.id)
			var d [10]byte
			for i := 9; i >= 0; i-- {
				d[i] = base62[v%62]
				v /= 62
			}
			w.buf = append(w.buf, d[:]...)
			w.buf = append(w.buf, "AAA"...)
		} else {
			w.buf = appendBaltimoreID(w.buf, y, r.id)
		}
		w.end(false)
		w.begin(false)
		w.buf = appendBaltimoreID(w.buf, y, r.id)
		w.end(false)
	}
	g.text(2, r.typ.name, r)
	w.str(r.channel)
	g.created(4, layoutUS12, r)
	switch {
	case r.open && g.aux.IntN(3) == 0:
		w.str("New")
	case r.open && g.aux.IntN(4) == 0:
		w.str("Pending")
	case r.open:
		w.str("Open")
	case r.update:
		w.str("Closed")
	default:
		switch g.aux.IntN(50) {
		case 0:
			w.str("Closed (Duplicate)")
		case 1:
			w.str("Closed (Transferred)")
		default:
			w.str("Closed")
		}
	}
	w.ts(layoutUS12, r.updated, "")
	if g.aux.IntN(35) == 0 {
		w.null("")
	} else {
		w.ts(layoutUS12, stamp{sec: r.created.sec + (1+g.aux.Int64N(14))*86400}, "")
	}
	w.ts(layoutUS12, r.closed, "")
	w.str(r.typ.agency)
	w.null(na)
	w.null("")
	w.null(na)
	house, st := g.house(), g.street()
	if r.loc == locNone {
		for range 9 {
			w.null("")
		}
	} else {
		w.begin(true)
		w.buf = strconv.AppendInt(w.buf, house, 10)
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, st...)
		w.buf = append(w.buf, ", BALTIMORE, MD, "...)
		w.buf = append(w.buf, p.zip...)
		w.end(true)
		w.str(p.zip)
		w.str(p.name)
		pi := placeIndex(g.m, p)
		w.num(int64(pi%14 + 1))
		w.str(p.district)
		w.num(int64(100*(pi%9+1) + 10*g.aux.IntN(5) + g.aux.IntN(5) + 1))
		switch r.loc {
		case locPlaceholder:
			w.raw("39")
			w.raw("-77")
			w.str("(39.0, -77.0)")
		default:
			w.float(r.lat, 6)
			w.float(r.lon, 6)
			w.latLon(r.lat, r.lon, 6)
		}
	}
	if r.loc == locPoint {
		w.num(int64(g.aux.IntN(290) + 1))
		w.num(int64(g.aux.IntN(278) + 1))
	} else {
		w.null(na)
		w.null(na)
	}
	w.num(26000 + int64(placeIndex(g.m, p))*137)
	days := int64(0)
	if !r.open {
		days = (r.closed.sec - r.created.sec) / 86400
	} else {
		days = (r.updated.sec - r.created.sec) / 86400
	}
	w.num(days)
}

// appendBaltimoreID spells "YY-NNNNNNNN": the two-digit creation year and a number that
// is unique in the city on its own.
func appendBaltimoreID(b []byte, year int, id int64) []byte {
	b = append2(b, year%100)
	b = append(b, '-')
	if n := digits(id); n < 8 {
		b = append(b, "0000000"[:8-n]...)
	}
	return strconv.AppendInt(b, id, 10)
}
