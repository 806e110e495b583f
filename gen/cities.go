package gen

// The city models. Type names, agencies, channels, statuses and neighbourhoods are the
// public vocabularies of each city's export; weights and medians are rough shapes read off
// the real samples. Nothing here is a copied row.

func s(v ...string) []string { return v }

var nycModel = &cityModel{
	name:   "nyc",
	minLat: 40.4961, maxLat: 40.9155, minLon: -74.2557, maxLon: -73.7004,
	types: []reqType{
		{name: "Noise - Residential", subs: s("Loud Music/Party", "Banging/Pounding", "Loud Talking", "Loud Television"), agency: "NYPD", agName: "New York City Police Department", weight: 15, median: 2, night: true, extra: "Residential Building/House", resolve: "The Police Department responded to the complaint and took action to fix the condition."},
		{name: "Illegal Parking", subs: s("Blocked Hydrant", "Posted Parking Sign Violation", "Double Parked Blocking Traffic", "Blocked Sidewalk"), agency: "NYPD", agName: "New York City Police Department", weight: 12, median: 3, extra: "Street/Sidewalk", resolve: "The Police Department responded and upon arrival those responsible for the condition were gone."},
		{name: "Blocked Driveway", subs: s("No Access", "Partial Access"), agency: "NYPD", agName: "New York City Police Department", weight: 6, median: 3, extra: "Street/Sidewalk", resolve: "The Police Department responded to the complaint and with the information available observed no evidence of the violation at that time."},
		{name: "Noise - Street/Sidewalk", subs: s("Loud Music/Party", "Loud Talking"), agency: "NYPD", agName: "New York City Police Department", weight: 6, median: 2, night: true, extra: "Street/Sidewalk", resolve: "The Police Department responded to the complaint and determined that police action was not necessary."},
		{name: "Noise - Commercial", subs: s("Loud Music/Party", "Banging/Pounding"), agency: "NYPD", agName: "New York City Police Department", weight: 3, median: 2, night: true, extra: "Store/Commercial", resolve: "The Police Department responded to the complaint and took action to fix the condition."},
		{name: "HEAT/HOT WATER", subs: s("ENTIRE BUILDING", "APARTMENT ONLY"), agency: "HPD", agName: "Department of Housing Preservation and Development", weight: 10, median: 60, extra: "RESIDENTIAL BUILDING", resolve: "The following complaint conditions are still open. HPD may attempt to contact you to verify the correction of the condition or may conduct an inspection."},
		{name: "UNSANITARY CONDITION", subs: s("PESTS", "GARBAGE", "MOLD"), agency: "HPD", agName: "Department of Housing Preservation and Development", weight: 5, median: 400, extra: "RESIDENTIAL BUILDING", resolve: "The Department of Housing Preservation and Development inspected the following conditions. Violations were issued."},
		{name: "PLUMBING", subs: s("WATER SUPPLY", "LEAKY FAUCET", "TOILET"), agency: "HPD", agName: "Department of Housing Preservation and Development", weight: 4, median: 300, extra: "RESIDENTIAL BUILDING", resolve: "The Department of Housing Preservation and Development inspected the following conditions. No violations were issued."},
		{name: "Street Condition", subs: s("Pothole", "Failed Street Repair", "Cave-in"), agency: "DOT", agName: "Department of Transportation", weight: 7, median: 90, extra: "Street", resolve: "The Department of Transportation has completed the request or corrected the condition."},
		{name: "Street Light Condition", subs: s("Street Light Out", "Street Light Cycling"), agency: "DOT", agName: "Department of Transportation", weight: 4, median: 200, extra: "Street", resolve: "The Department of Transportation has completed the request or corrected the condition."},
		{name: "Traffic Signal Condition", subs: s("Controller", "Ped Flasher"), agency: "DOT", agName: "Department of Transportation", weight: 2, median: 5, extra: "Street", resolve: "Service Request status for this request is available on the Department of Transportation's website."},
		{name: "Dirty Conditions", subs: s("Trash", "Illegal Dumping"), agency: "DSNY", agName: "Department of Sanitation", weight: 3, median: 120, extra: "Sidewalk", resolve: "The Department of Sanitation investigated this complaint and found no condition at the location."},
		{name: "Missed Collection", subs: s("Trash", "Recycling - Paper"), agency: "DSNY", agName: "Department of Sanitation", weight: 2, median: 48, extra: "Street", resolve: "The Department of Sanitation collected the requested items."},
		{name: "Water System", subs: s("Leak (Use Comments) (WA2)", "Hydrant Running (WC3)"), agency: "DEP", agName: "Department of Environmental Protection", weight: 2, median: 24, extra: "Street", resolve: "The Department of Environmental Protection investigated this complaint and shut the running hydrant."},
		{name: "Rodent", subs: s("Rat Sighting", "Mouse Sighting"), agency: "DOHMH", agName: "Department of Health and Mental Hygiene", weight: 2, median: 300, extra: "3+ Family Apt. Building", resolve: "The Department of Health and Mental Hygiene will review your complaint to determine appropriate action."},
		{name: "Damaged Tree", subs: s("Branch Cracked and Will Fall", "Tree Leaning/Uprooted"), agency: "DPR", agName: "Department of Parks and Recreation", weight: 2, median: 400, extra: "Street", resolve: "The Department of Parks and Recreation has completed the requested work order and corrected the problem."},
		{name: "DOF Property - Payment Issue", subs: s("Misapplied Payment", "Request Copy of Bill"), agency: "DOF", agName: "Refunds and Adjustments", weight: 1, median: 300, extra: "Property Address", resolve: "The Department of Finance resolved this issue."},
	},
	places: []place{
		{"NEW YORK", "MANHATTAN", "10036", 40.7590, -73.9880, 0.008, 6},
		{"NEW YORK", "MANHATTAN", "10024", 40.7870, -73.9750, 0.008, 4},
		{"NEW YORK", "MANHATTAN", "10027", 40.8110, -73.9480, 0.007, 5},
		{"NEW YORK", "MANHATTAN", "10033", 40.8480, -73.9360, 0.008, 5},
		{"NEW YORK", "MANHATTAN", "10002", 40.7150, -73.9860, 0.006, 4},
		{"BROOKLYN", "BROOKLYN", "11237", 40.7010, -73.9210, 0.008, 5},
		{"BROOKLYN", "BROOKLYN", "11216", 40.6810, -73.9450, 0.008, 5},
		{"BROOKLYN", "BROOKLYN", "11226", 40.6460, -73.9570, 0.008, 6},
		{"BROOKLYN", "BROOKLYN", "11220", 40.6400, -74.0110, 0.008, 4},
		{"BROOKLYN", "BROOKLYN", "11209", 40.6240, -74.0300, 0.007, 3},
		{"BROOKLYN", "BROOKLYN", "11201", 40.6940, -73.9900, 0.006, 4},
		{"ASTORIA", "QUEENS", "11103", 40.7640, -73.9130, 0.007, 3},
		{"JACKSON HEIGHTS", "QUEENS", "11372", 40.7520, -73.8830, 0.007, 4},
		{"FLUSHING", "QUEENS", "11355", 40.7510, -73.8210, 0.010, 4},
		{"JAMAICA", "QUEENS", "11432", 40.7150, -73.7930, 0.012, 4},
		{"BRONX", "BRONX", "10458", 40.8620, -73.8880, 0.008, 5},
		{"BRONX", "BRONX", "10454", 40.8060, -73.9170, 0.006, 3},
		{"BRONX", "BRONX", "10452", 40.8370, -73.9230, 0.007, 5},
		{"BRONX", "BRONX", "10467", 40.8730, -73.8710, 0.009, 4},
		{"STATEN ISLAND", "STATEN ISLAND", "10301", 40.6310, -74.0930, 0.010, 2},
		{"STATEN ISLAND", "STATEN ISLAND", "10314", 40.5990, -74.1650, 0.014, 2},
	},
	streets:   s("BROADWAY", "AMSTERDAM AVENUE", "OCEAN AVENUE", "GRAND CONCOURSE", "NOSTRAND AVENUE", "QUEENS BOULEVARD", "34 AVENUE", "WEST 178 STREET", "EAST 86 STREET", "FLATBUSH AVENUE", "ST NICHOLAS AVENUE", "JEROME AVENUE", "MYRTLE AVENUE", "HYLAN BOULEVARD", "MAIN STREET", "5 AVENUE", "LEXINGTON AVENUE", "RIVERSIDE DRIVE", "BEDFORD AVENUE", "NORTHERN BOULEVARD"),
	channels:  s("PHONE", "ONLINE", "MOBILE", "UNKNOWN"),
	chWeights: []float64{45, 30, 18, 7},
	openShare: 0.05, noLocShare: 0.03, sigmaLog: 1.3,
}

var laModel = &cityModel{
	name:   "la",
	minLat: 33.7037, maxLat: 34.3373, minLon: -118.6682, maxLon: -118.1553,
	types: []reqType{
		{name: "Bulky Items", agency: "BOS", weight: 44, median: 40},
		{name: "Graffiti Removal", agency: "OCB", weight: 29, median: 24},
		{name: "Illegal Dumping Pickup", agency: "BOS", weight: 8, median: 48},
		{name: "Metal/Household Appliances", agency: "BOS", weight: 7, median: 60},
		{name: "Electronic Waste", agency: "BOS", weight: 4, median: 48},
		{name: "Homeless Encampment", agency: "BOS", weight: 3, median: 300},
		{name: "Single Streetlight Issue", agency: "BSL", weight: 1, median: 200},
		{name: "Dead Animal Removal", agency: "BOS", weight: 1, median: 12},
		{name: "Feedback", agency: "ITA", weight: 1, median: 100},
		{name: "Multiple Streetlight Issue", agency: "BSL", weight: 0.5, median: 250},
		{name: "Report Water Waste", agency: "LADWP", weight: 0.3, median: 200},
	},
	places: []place{
		{"DOWNTOWN LOS ANGELES", "CENTRAL", "90012", 34.0480, -118.2500, 0.010, 4},
		{"HOLLYWOOD UNITED NC", "HOLLYWOOD", "90028", 34.1000, -118.3270, 0.010, 4},
		{"WILSHIRE CENTER - KOREATOWN NC", "OLYMPIC", "90005", 34.0610, -118.3000, 0.008, 4},
		{"BOYLE HEIGHTS NC", "HOLLENBECK", "90033", 34.0350, -118.2050, 0.010, 5},
		{"SOUTH CENTRAL NC", "NEWTON", "90011", 34.0000, -118.2600, 0.010, 6},
		{"EMPOWERMENT CONGRESS SOUTHEAST AREA NDC", "SOUTHEAST", "90003", 33.9600, -118.2750, 0.010, 5},
		{"WATTS NC", "SOUTHEAST", "90002", 33.9450, -118.2420, 0.008, 3},
		{"VAN NUYS NC", "VAN NUYS", "91405", 34.1950, -118.4500, 0.012, 4},
		{"NORTH HOLLYWOOD NORTHEAST NC", "NORTH HOLLYWOOD", "91605", 34.2050, -118.3950, 0.012, 3},
		{"PACOIMA NC", "MISSION", "91331", 34.2600, -118.4200, 0.012, 5},
		{"SYLMAR NC", "MISSION", "91342", 34.3050, -118.4450, 0.012, 4},
		{"RESEDA NC", "WEST VALLEY", "91335", 34.2000, -118.5400, 0.012, 3},
		{"CANOGA PARK NC", "TOPANGA", "91303", 34.2000, -118.6000, 0.010, 2},
		{"HISTORIC HIGHLAND PARK NC", "NORTHEAST", "90042", 34.1150, -118.1900, 0.010, 3},
		{"GREATER ECHO PARK ELYSIAN NC", "RAMPART", "90026", 34.0780, -118.2600, 0.008, 3},
		{"VENICE NC", "PACIFIC", "90291", 33.9920, -118.4640, 0.008, 2},
		{"WESTWOOD NC", "WEST LOS ANGELES", "90024", 34.0630, -118.4400, 0.008, 1},
		{"CENTRAL SAN PEDRO NC", "HARBOR", "90731", 33.7400, -118.2900, 0.010, 2},
		{"WILMINGTON NC", "HARBOR", "90744", 33.7850, -118.2600, 0.010, 2},
	},
	streets:   s("W BELLEVUE AVE", "E MESA AVE", "N FLORALITA AVE", "S 6TH AVE", "N GLENOAKS BLVD", "S VERMONT AVE", "S NORMANDIE AVE", "W VANOWEN ST", "S HOOVER ST", "S FIGUEROA ST", "N CAHUENGA BLVD", "W OAK TREE DR", "N LINDLEY AVE", "E CESAR E CHAVEZ AVE", "W PICO BLVD", "S CENTRAL AVE", "N SEPULVEDA BLVD", "W SUNSET BLVD"),
	channels:  s("Call", "Mobile App", "Driver Self Report", "Self Service", "Email"),
	chWeights: []float64{42, 21, 20, 16, 1},
	openShare: 0.02, noLocShare: 0.17, placeholder: 0.002, sigmaLog: 1.0,
}

var sfModel = &cityModel{
	name:   "sf",
	minLat: 37.7080, maxLat: 37.8324, minLon: -122.5136, maxLon: -122.3570,
	types: []reqType{
		{name: "Sidewalk_Cleaning", subs: s("Other Loose Garbage", "Furniture", "Garbage", "Mattress"), agName: "DPW Ops Queue", extra: "Street and Sidewalk Cleaning", weight: 20, median: 30, resolve: "Case Completed - resolved: Pickup completed."},
		{name: "Bulky Items", subs: s("Furniture", "Mattress", "Other Loose Garbage"), agName: "Recology_Abandoned", extra: "Street and Sidewalk Cleaning", weight: 10, median: 40, resolve: "Case Completed - resolved: done"},
		{name: "General Cleaning", subs: s("Garbage", "Human or Animal Waste", "Glass"), agName: "DPW Ops Queue", extra: "Street and Sidewalk Cleaning", weight: 8, median: 24, resolve: "Case Completed - resolved:"},
		{name: "Offensive Graffiti on Public Property", subs: s("Sidewalk_in_front_of_property - Offensive", "Pole - Offensive"), agName: "DPW Ops Queue", extra: "Graffiti Public Property", weight: 6, median: 120, resolve: "Case Resolved -"},
		{name: "Not_Offensive Graffiti on Private Property", subs: s("Building_other - Not_Offensive", "Building_residential - Not_Offensive"), agName: "DPW BSM Queue", extra: "Graffiti Private Property", weight: 6, median: 600, resolve: "Case Resolved - Notice of violation issued"},
		{name: "Abandoned Vehicle - Car4door", subs: s("Black - Honda - Civic", "Silver - Toyota - Camry", "White - Ford - Econoline"), agName: "DPT Abandoned Vehicles Work Queue", extra: "Abandoned Vehicle", weight: 7, median: 96, resolve: "DPT Abandoned Vehicles- Gone on arrival"},
		{name: "Odor", subs: s("From_other_location", "Sewer"), agName: "PUC Sewer Ops", extra: "Sewer Issues", weight: 2, median: 24, resolve: "Case Completed - resolved:"},
		{name: "Water_Main_Break", subs: s("NA"), agName: "PUC - Water - G", extra: "Sewer Issues", weight: 0.4, median: 18, resolve: ""},
		{name: "Streetlight - Light_Burnt_Out", subs: s("Streetlight - Light_Burnt_Out"), agName: "PUC - Electric/Power - G", extra: "Streetlights", weight: 3, median: 300, resolve: "Case Completed - resolved:"},
		{name: "Damaged_Parking_Meter", subs: s("Parking_Meter"), agName: "DPT Meter_Bike Queue", extra: "Damaged Property", weight: 4, median: 100, resolve: "Case Resolved - meter repaired"},
		{name: "dpw - bses - request_for_service", subs: s("dpw - bses - request_for_service"), agName: "DPW - Bureau of Street Environmental Services - G", extra: "General Requests", weight: 5, median: 200, resolve: "Case Completed - resolved:"},
		{name: "Pavement_Defect", subs: s("Pavement_Defect", "Sidewalk_Defect"), agName: "DPW BSSR Queue", extra: "Street Defects", weight: 3, median: 400, resolve: "Case Completed - resolved:"},
		{name: "Trees - Damaged_Tree", subs: s("Damaged_Tree", "Tree_Limb"), agName: "DPW Urban Forestry - G", extra: "Tree Maintenance", weight: 2, median: 500, resolve: "Case Transferred - Urban Forestry\n Work order created"},
		{name: "Temporary Sign Request for Other_Event_Type", subs: s("200 ft zone requested"), agName: "SFMTA - Temporary Sign Request Approved Queue", extra: "Temporary Sign Request", weight: 1, median: 1500, resolve: "Case Resolved -"},
	},
	places: []place{
		{"Mission", "9", "94110", 37.7599, -122.4148, 0.006, 10},
		{"South of Market", "6", "94103", 37.7785, -122.4056, 0.005, 7},
		{"Tenderloin", "6", "94102", 37.7840, -122.4140, 0.003, 5},
		{"Western Addition", "5", "94115", 37.7810, -122.4330, 0.004, 4},
		{"Inner Richmond", "1", "94118", 37.7800, -122.4650, 0.004, 3},
		{"Outer Sunset", "4", "94122", 37.7540, -122.4950, 0.006, 3},
		{"Bayview", "10", "94124", 37.7310, -122.3910, 0.006, 4},
		{"Excelsior", "11", "94112", 37.7230, -122.4320, 0.005, 3},
		{"Nob Hill", "3", "94109", 37.7930, -122.4160, 0.003, 3},
		{"Castro/Upper Market", "8", "94114", 37.7620, -122.4350, 0.004, 3},
		{"Haight Ashbury", "5", "94117", 37.7700, -122.4460, 0.003, 2},
		{"North Beach", "3", "94133", 37.8000, -122.4100, 0.003, 2},
		{"Potrero Hill", "10", "94107", 37.7580, -122.4000, 0.004, 2},
		{"Visitacion Valley", "10", "94134", 37.7130, -122.4050, 0.004, 1},
		{"Marina", "2", "94123", 37.8020, -122.4370, 0.003, 1},
	},
	streets:   s("MISSION ST", "VALENCIA ST", "MARKET ST", "FOLSOM ST", "HOWARD ST", "GEARY BLVD", "24TH ST", "16TH ST", "BERRY ST", "POWELL ST", "FILLMORE ST", "HAIGHT ST", "IRVING ST", "3RD ST", "CASTRO ST", "BOSWORTH ST"),
	channels:  s("Voice In", "Open311", "Web Self Service", "Integrated Agency", "Twitter", "Other Department"),
	chWeights: []float64{66, 15, 13, 4, 1.4, 0.1},
	openShare: 0.05, noLocShare: 0.003, sigmaLog: 1.4,
}

// Boston types carry both systems' vocabularies: extra is the 2022 queue, extra2 the
// 2022 reason; agency/agName are the 2022 department code and subject.
var bostonModel = &cityModel{
	name:   "boston",
	minLat: 42.2279, maxLat: 42.3974, minLon: -71.1912, maxLon: -70.9860,
	types: []reqType{
		{name: "Parking Enforcement", agency: "BTDT", agName: "Transportation - Traffic Division", extra: "BTDT_Parking Enforcement", extra2: "Enforcement & Abandoned Vehicles", weight: 20, median: 4},
		{name: "Requests for Street Cleaning", agency: "PWDx", agName: "Public Works Department", extra: "PWDx_District 1C: Downtown", extra2: "Street Cleaning", weight: 10, median: 20},
		{name: "Improper Storage of Trash (Barrels)", agency: "PWDx", agName: "Public Works Department", extra: "PWDx_Code Enforcement", extra2: "Code Enforcement", weight: 8, median: 72},
		{name: "Request for Pothole Repair", agency: "PWDx", agName: "Public Works Department", extra: "PWDx_Highway Maintenance", extra2: "Highway Maintenance", weight: 6, median: 48},
		{name: "Street Light Outages", agency: "PWDx", agName: "Public Works Department", extra: "PWDx_Street Light Outages", extra2: "Street Lights", weight: 5, median: 200},
		{name: "Pick up Dead Animal", agency: "PWDx", agName: "Public Works Department", extra: "PWDx_District 03: North Dorchester", extra2: "Street Cleaning", weight: 3, median: 6},
		{name: "Needle Pickup", agency: "GEN_", agName: "Mayor's 24 Hour Hotline", extra: "GEN_Needle_Pickup", extra2: "Needle Program", weight: 3, median: 2},
		{name: "Unsatisfactory Living Conditions", agency: "ISD", agName: "Inspectional Services", extra: "ISD_Housing (INTERNAL)", extra2: "Housing", weight: 3, median: 600},
		{name: "Schedule a Bulk Item Pickup", agency: "PWDx", agName: "Public Works Department", extra: "PWDx_Missed Trash\\Recycling\\Yard Waste\\Bulk Item", extra2: "Sanitation", weight: 6, median: 90},
		{name: "Tree Maintenance Requests", agency: "PARK", agName: "Parks & Recreation Department", extra: "PARK_Maintenance_Tree Maintenance", extra2: "Trees", weight: 2, median: 900},
	},
	places: []place{
		{"Dorchester", "C11", "02124", 42.2960, -71.0650, 0.008, 10},
		{"South End", "D4", "02118", 42.3410, -71.0760, 0.004, 5},
		{"Jamaica Plain", "E13", "02130", 42.3100, -71.1130, 0.006, 4},
		{"Roxbury", "B2", "02119", 42.3230, -71.0850, 0.005, 4},
		{"South Boston / South Boston Waterfront", "C6", "02127", 42.3350, -71.0450, 0.005, 3},
		{"Brighton", "D14", "02135", 42.3490, -71.1550, 0.005, 3},
		{"Allston", "D14", "02134", 42.3550, -71.1300, 0.004, 2},
		{"East Boston", "A7", "02128", 42.3750, -71.0300, 0.006, 3},
		{"Charlestown", "A15", "02129", 42.3780, -71.0620, 0.004, 2},
		{"Back Bay", "D4", "02116", 42.3500, -71.0800, 0.004, 3},
		{"Downtown / Financial District", "A1", "02110", 42.3560, -71.0580, 0.003, 4},
		{"Roslindale", "E5", "02131", 42.2850, -71.1280, 0.006, 2},
		{"Hyde Park", "E18", "02136", 42.2550, -71.1230, 0.007, 2},
		{"Mattapan", "B3", "02126", 42.2720, -71.0880, 0.005, 2},
		{"West Roxbury", "E5", "02132", 42.2800, -71.1600, 0.006, 2},
	},
	streets:   s("Washington St", "Commonwealth Ave", "Boylston St", "Dorchester Ave", "Tremont St", "Columbus Ave", "Blue Hill Ave", "Centre St", "Cambridge St", "Hyde Park Ave", "W Broadway", "Gallivan Blvd", "Beacon St", "Bennington St"),
	channels:  s("Citizens Connect App", "Constituent Call", "City Worker App", "Self Service", "Employee Generated"),
	chWeights: []float64{50, 32, 12, 4, 2},
	openShare: 0.06, noLocShare: 0.01, placeholder: 0.05, sigmaLog: 1.3,
}

// bostonTypes2025 is the new system's vocabulary: extra is the team, agName the department.
var bostonTypes2025 = []reqType{
	{name: "Domestic Animal Issue", agName: "Animal Care & Control", extra: "Animal control staff", weight: 30, median: 30},
	{name: "Street Light Outage", agName: "Public Works Department (PWD)", extra: "PWD Street Lighting", weight: 27, median: 150},
	{name: "Wild Animal Issue", agName: "Animal Care & Control", extra: "Animal control staff", weight: 15, median: 48},
	{name: "Fallen Tree or Branches", agName: "Parks & Recreation", extra: "Urban Forestry", weight: 10, median: 100},
	{name: "Street Light Other", agName: "Public Works Department (PWD)", extra: "PWD Street Lighting", weight: 5, median: 200},
	{name: "Street Light Knockdown", agName: "Public Works Department (PWD)", extra: "PWD Street Lighting", weight: 3, median: 300},
	{name: "Traffic Signal Issue", agName: "Boston Transportation Department (BTD)", extra: "BTD Traffic Investigation", weight: 1, median: 24},
}

var baltimoreModel = &cityModel{
	name:   "baltimore",
	minLat: 39.1972, maxLat: 39.3720, minLon: -76.7114, maxLon: -76.5294,
	types: []reqType{
		{name: "SW-Rat Rubout Proactive", agency: "Solid Waste", weight: 17, median: 120},
		{name: "SW-Bulk Scheduled", agency: "Solid Waste", weight: 9, median: 200},
		{name: "HCD-Sanitation Property", agency: "Housing", weight: 7, median: 300},
		{name: "TRS-Parking Complaint", agency: "Transportation", weight: 4, median: 12},
		{name: "SW-Dirty Alley", agency: "Solid Waste", weight: 4, median: 96},
		{name: "BGE-StLight(s) Out", agency: "BGE", weight: 3, median: 120},
		{name: "WW-Water Leak (Exterior)", agency: "Water Wastewater", weight: 3, median: 48},
		{name: "SW-Cleaning", agency: "Solid Waste", weight: 3, median: 100},
		{name: "FIN-Water Bill Inquiry", agency: "Finance", weight: 3, median: 200},
		{name: "TTR-Vehicle Removal", agency: "Transportation", weight: 2, median: 300},
		{name: "HCD-Illegal Dumping", agency: "Housing", weight: 2, median: 250},
		{name: "TRT-Traffic Signal Repairs", agency: "Transportation", weight: 1, median: 4},
		{name: "FOR-Fallen Limb", agency: "Recreation & Parks", weight: 1, median: 200},
		{name: "ECC-Vehicle Look Up", agency: "Call Center", weight: 1, median: 0.1},
	},
	places: []place{
		{"Belair-Edison", "Northeastern", "21213", 39.3220, -76.5690, 0.005, 5},
		{"Canton", "Southeastern", "21224", 39.2810, -76.5770, 0.004, 4},
		{"Broadway East", "Eastern", "21205", 39.3050, -76.5870, 0.003, 3},
		{"Sandtown-Winchester", "Western", "21217", 39.3010, -76.6420, 0.003, 3},
		{"Coldstream Homestead Montebello", "Northeastern", "21218", 39.3220, -76.5910, 0.003, 3},
		{"Hollins Market", "Southern", "21223", 39.2870, -76.6360, 0.003, 2},
		{"Federal Hill", "Southern", "21230", 39.2780, -76.6120, 0.003, 2},
		{"Edgewood", "Southwestern", "21229", 39.2940, -76.6770, 0.004, 2},
		{"Arcadia", "Northeastern", "21214", 39.3350, -76.5680, 0.003, 2},
		{"Upton", "Central", "21201", 39.2970, -76.6310, 0.003, 2},
		{"Central Park Heights", "Northwestern", "21215", 39.3450, -76.6690, 0.004, 3},
		{"Highlandtown", "Southeastern", "21224", 39.2880, -76.5690, 0.003, 2},
		{"Park Heights", "Northwestern", "21215", 39.3370, -76.6560, 0.004, 2},
	},
	streets:   s("GARRISON BLVD", "THORNDALE AVE", "S STOCKTON ST", "JANICE AVE", "JUNEAU PL", "MYRTLE AVE", "S CHARLES ST", "N GRANTLEY ST", "GREENMOUNT AVE", "REISTERSTOWN RD", "HARFORD RD", "BELAIR RD", "E NORTHERN PKWY", "EASTERN AVE", "W NORTH AVE"),
	channels:  s("Phone", "API", "Internal", "Mail", "System", "Other"),
	chWeights: []float64{50, 26, 22, 2, 0.2, 0.1},
	openShare: 0.02, noLocShare: 0.06, placeholder: 0.09, sigmaLog: 1.4,
}

var bostonModel2025 = func() *cityModel {
	m := *bostonModel
	m.types = bostonTypes2025
	m.channels = s("Call", "BOS311")
	m.chWeights = []float64{62, 38}
	m.openShare = 0.25 // the new system's export is recent: many cases are still in progress
	m.placeholder = 0
	return &m
}()

func init() {
	for _, m := range []*cityModel{nycModel, laModel, sfModel, bostonModel, bostonModel2025, baltimoreModel} {
		m.init()
	}
}
