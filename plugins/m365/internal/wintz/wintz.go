// Package wintz maps between the Windows time-zone names Exchange and Microsoft Graph
// use ("W. Europe Standard Time") and IANA names ("Europe/Berlin"), and loads the
// locations behind them. The table follows the Unicode CLDR windowsZones data (the
// "001" territory gives the canonical IANA zone of each Windows zone; further IANA
// names are listed so the reverse lookup finds the Windows zone of common cities).
//
// It embeds the IANA database (time/tzdata) so that DST arithmetic is right on hosts
// without /usr/share/zoneinfo.
package wintz

import (
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // DST rules must not depend on the host's zoneinfo
)

// windows lists each Windows zone with its canonical IANA zone first, then other IANA
// zones that map to it.
var windows = [][]string{
	{"Dateline Standard Time", "Etc/GMT+12"},
	{"UTC-11", "Etc/GMT+11", "Pacific/Pago_Pago", "Pacific/Niue", "Pacific/Midway"},
	{"Aleutian Standard Time", "America/Adak"},
	{"Hawaiian Standard Time", "Pacific/Honolulu", "Pacific/Rarotonga", "Pacific/Tahiti"},
	{"Marquesas Standard Time", "Pacific/Marquesas"},
	{"Alaskan Standard Time", "America/Anchorage", "America/Juneau", "America/Nome", "America/Sitka", "America/Yakutat"},
	{"UTC-09", "Etc/GMT+9", "Pacific/Gambier"},
	{"Pacific Standard Time (Mexico)", "America/Tijuana", "America/Santa_Isabel"},
	{"UTC-08", "Etc/GMT+8", "Pacific/Pitcairn"},
	{"Pacific Standard Time", "America/Los_Angeles", "America/Vancouver", "PST8PDT", "US/Pacific"},
	{"US Mountain Standard Time", "America/Phoenix", "America/Creston", "America/Dawson_Creek", "America/Fort_Nelson", "America/Hermosillo", "Etc/GMT+7"},
	{"Mountain Standard Time (Mexico)", "America/Mazatlan", "America/Chihuahua"},
	{"Mountain Standard Time", "America/Denver", "America/Edmonton", "America/Boise", "America/Cambridge_Bay", "America/Inuvik", "America/Ciudad_Juarez", "MST7MDT", "US/Mountain"},
	{"Yukon Standard Time", "America/Whitehorse", "America/Dawson"},
	{"Central America Standard Time", "America/Guatemala", "America/Belize", "America/Costa_Rica", "America/El_Salvador", "America/Managua", "America/Tegucigalpa", "Pacific/Galapagos", "Etc/GMT+6"},
	{"Central Standard Time", "America/Chicago", "America/Winnipeg", "America/Indiana/Knox", "America/Menominee", "America/North_Dakota/Center", "America/Matamoros", "CST6CDT", "US/Central"},
	{"Easter Island Standard Time", "Pacific/Easter"},
	{"Central Standard Time (Mexico)", "America/Mexico_City", "America/Bahia_Banderas", "America/Merida", "America/Monterrey"},
	{"Canada Central Standard Time", "America/Regina", "America/Swift_Current"},
	{"SA Pacific Standard Time", "America/Bogota", "America/Lima", "America/Guayaquil", "America/Panama", "America/Jamaica", "America/Cayman", "America/Rio_Branco", "America/Eirunepe", "America/Coral_Harbour", "Etc/GMT+5"},
	{"Eastern Standard Time (Mexico)", "America/Cancun"},
	{"Eastern Standard Time", "America/New_York", "America/Toronto", "America/Detroit", "America/Nassau", "America/Montreal", "America/Kentucky/Louisville", "America/Kentucky/Monticello", "America/Iqaluit", "EST5EDT", "US/Eastern"},
	{"Haiti Standard Time", "America/Port-au-Prince"},
	{"Cuba Standard Time", "America/Havana"},
	{"US Eastern Standard Time", "America/Indiana/Indianapolis", "America/Indianapolis", "America/Indiana/Marengo", "America/Indiana/Vevay"},
	{"Turks And Caicos Standard Time", "America/Grand_Turk"},
	{"Paraguay Standard Time", "America/Asuncion"},
	{"Atlantic Standard Time", "America/Halifax", "America/Glace_Bay", "America/Goose_Bay", "America/Moncton", "Atlantic/Bermuda", "America/Thule"},
	{"Venezuela Standard Time", "America/Caracas"},
	{"Central Brazilian Standard Time", "America/Cuiaba", "America/Campo_Grande"},
	{"SA Western Standard Time", "America/La_Paz", "America/Manaus", "America/Barbados", "America/Puerto_Rico", "America/Santo_Domingo", "America/Port_of_Spain", "America/Martinique", "America/Guyana", "America/Boa_Vista", "America/Porto_Velho", "Etc/GMT+4"},
	{"Pacific SA Standard Time", "America/Santiago"},
	{"Newfoundland Standard Time", "America/St_Johns"},
	{"Tocantins Standard Time", "America/Araguaina"},
	{"E. South America Standard Time", "America/Sao_Paulo"},
	{"SA Eastern Standard Time", "America/Cayenne", "America/Paramaribo", "America/Fortaleza", "America/Belem", "America/Maceio", "America/Recife", "America/Santarem", "Atlantic/Stanley", "Antarctica/Rothera", "Etc/GMT+3"},
	{"Argentina Standard Time", "America/Argentina/Buenos_Aires", "America/Buenos_Aires", "America/Argentina/Cordoba", "America/Argentina/Mendoza", "America/Cordoba"},
	{"Greenland Standard Time", "America/Nuuk", "America/Godthab"},
	{"Montevideo Standard Time", "America/Montevideo"},
	{"Magallanes Standard Time", "America/Punta_Arenas"},
	{"Saint Pierre Standard Time", "America/Miquelon"},
	{"Bahia Standard Time", "America/Bahia"},
	{"UTC-02", "Etc/GMT+2", "America/Noronha", "Atlantic/South_Georgia"},
	{"Mid-Atlantic Standard Time"}, // retired by Windows; resolved through its alias below
	{"Azores Standard Time", "Atlantic/Azores", "America/Scoresbysund"},
	{"Cape Verde Standard Time", "Atlantic/Cape_Verde", "Etc/GMT+1"},
	{"UTC", "Etc/UTC", "UTC", "Etc/GMT", "GMT", "Etc/Universal", "Zulu", "America/Danmarkshavn"},
	{"GMT Standard Time", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Atlantic/Canary", "Atlantic/Faroe", "Atlantic/Madeira", "Europe/Guernsey", "Europe/Isle_of_Man", "Europe/Jersey"},
	{"Greenwich Standard Time", "Atlantic/Reykjavik", "Africa/Abidjan", "Africa/Accra", "Africa/Bamako", "Africa/Banjul", "Africa/Conakry", "Africa/Dakar", "Africa/Freetown", "Africa/Lome", "Africa/Monrovia", "Africa/Nouakchott", "Africa/Ouagadougou", "Africa/Bissau", "Atlantic/St_Helena"},
	{"Sao Tome Standard Time", "Africa/Sao_Tome"},
	{"Morocco Standard Time", "Africa/Casablanca", "Africa/El_Aaiun"},
	{"W. Europe Standard Time", "Europe/Berlin", "Europe/Amsterdam", "Europe/Andorra", "Europe/Gibraltar", "Europe/Luxembourg", "Europe/Malta", "Europe/Monaco", "Europe/Oslo", "Europe/Rome", "Europe/San_Marino", "Europe/Stockholm", "Europe/Vaduz", "Europe/Vatican", "Europe/Vienna", "Europe/Zurich", "Arctic/Longyearbyen", "Europe/Busingen"},
	{"Central Europe Standard Time", "Europe/Budapest", "Europe/Belgrade", "Europe/Bratislava", "Europe/Ljubljana", "Europe/Podgorica", "Europe/Prague", "Europe/Tirane"},
	{"Romance Standard Time", "Europe/Paris", "Europe/Brussels", "Europe/Copenhagen", "Europe/Madrid", "Africa/Ceuta"},
	{"Central European Standard Time", "Europe/Warsaw", "Europe/Sarajevo", "Europe/Skopje", "Europe/Zagreb"},
	{"W. Central Africa Standard Time", "Africa/Lagos", "Africa/Algiers", "Africa/Tunis", "Africa/Douala", "Africa/Kinshasa", "Africa/Luanda", "Africa/Ndjamena", "Africa/Niamey", "Africa/Porto-Novo", "Africa/Libreville", "Africa/Malabo", "Africa/Brazzaville", "Africa/Bangui", "Etc/GMT-1"},
	{"Jordan Standard Time", "Asia/Amman"},
	{"GTB Standard Time", "Europe/Bucharest", "Europe/Athens", "Asia/Nicosia", "Asia/Famagusta"},
	{"Middle East Standard Time", "Asia/Beirut"},
	{"Egypt Standard Time", "Africa/Cairo"},
	{"E. Europe Standard Time", "Europe/Chisinau"},
	{"Syria Standard Time", "Asia/Damascus"},
	{"West Bank Standard Time", "Asia/Hebron", "Asia/Gaza"},
	{"South Africa Standard Time", "Africa/Johannesburg", "Africa/Maputo", "Africa/Harare", "Africa/Lusaka", "Africa/Blantyre", "Africa/Gaborone", "Africa/Kigali", "Africa/Lubumbashi", "Africa/Bujumbura", "Africa/Maseru", "Africa/Mbabane", "Etc/GMT-2"},
	{"FLE Standard Time", "Europe/Kyiv", "Europe/Kiev", "Europe/Helsinki", "Europe/Riga", "Europe/Sofia", "Europe/Tallinn", "Europe/Vilnius", "Europe/Mariehamn", "Europe/Uzhgorod", "Europe/Zaporozhye"},
	{"Israel Standard Time", "Asia/Jerusalem", "Asia/Tel_Aviv"},
	{"South Sudan Standard Time", "Africa/Juba"},
	{"Kaliningrad Standard Time", "Europe/Kaliningrad"},
	{"Sudan Standard Time", "Africa/Khartoum"},
	{"Libya Standard Time", "Africa/Tripoli"},
	{"Namibia Standard Time", "Africa/Windhoek"},
	{"Arabic Standard Time", "Asia/Baghdad"},
	{"Turkey Standard Time", "Europe/Istanbul", "Asia/Istanbul"},
	{"Arab Standard Time", "Asia/Riyadh", "Asia/Qatar", "Asia/Kuwait", "Asia/Bahrain", "Asia/Aden"},
	{"Belarus Standard Time", "Europe/Minsk"},
	{"Russian Standard Time", "Europe/Moscow", "Europe/Kirov", "Europe/Simferopol"},
	{"E. Africa Standard Time", "Africa/Nairobi", "Africa/Addis_Ababa", "Africa/Asmera", "Africa/Dar_es_Salaam", "Africa/Djibouti", "Africa/Kampala", "Africa/Mogadishu", "Indian/Antananarivo", "Indian/Comoro", "Indian/Mayotte", "Etc/GMT-3"},
	{"Volgograd Standard Time", "Europe/Volgograd"},
	{"Iran Standard Time", "Asia/Tehran"},
	{"Arabian Standard Time", "Asia/Dubai", "Asia/Muscat", "Etc/GMT-4"},
	{"Astrakhan Standard Time", "Europe/Astrakhan", "Europe/Ulyanovsk"},
	{"Azerbaijan Standard Time", "Asia/Baku"},
	{"Russia Time Zone 3", "Europe/Samara"},
	{"Mauritius Standard Time", "Indian/Mauritius", "Indian/Reunion", "Indian/Mahe"},
	{"Saratov Standard Time", "Europe/Saratov"},
	{"Georgian Standard Time", "Asia/Tbilisi"},
	{"Caucasus Standard Time", "Asia/Yerevan"},
	{"Afghanistan Standard Time", "Asia/Kabul"},
	{"West Asia Standard Time", "Asia/Tashkent", "Asia/Samarkand", "Asia/Dushanbe", "Asia/Ashgabat", "Asia/Aqtobe", "Asia/Aqtau", "Asia/Atyrau", "Asia/Oral", "Indian/Maldives", "Indian/Kerguelen", "Etc/GMT-5"},
	{"Ekaterinburg Standard Time", "Asia/Yekaterinburg"},
	{"Pakistan Standard Time", "Asia/Karachi"},
	{"Qyzylorda Standard Time", "Asia/Qyzylorda"},
	{"India Standard Time", "Asia/Kolkata", "Asia/Calcutta"},
	{"Sri Lanka Standard Time", "Asia/Colombo"},
	{"Nepal Standard Time", "Asia/Kathmandu", "Asia/Katmandu"},
	{"Central Asia Standard Time", "Asia/Almaty", "Asia/Bishkek", "Asia/Urumqi", "Indian/Chagos", "Asia/Qostanay", "Etc/GMT-6"},
	{"Bangladesh Standard Time", "Asia/Dhaka", "Asia/Thimphu"},
	{"Omsk Standard Time", "Asia/Omsk"},
	{"Myanmar Standard Time", "Asia/Yangon", "Asia/Rangoon", "Indian/Cocos"},
	{"SE Asia Standard Time", "Asia/Bangkok", "Asia/Jakarta", "Asia/Ho_Chi_Minh", "Asia/Saigon", "Asia/Phnom_Penh", "Asia/Vientiane", "Asia/Pontianak", "Indian/Christmas", "Etc/GMT-7"},
	{"Altai Standard Time", "Asia/Barnaul"},
	{"W. Mongolia Standard Time", "Asia/Hovd"},
	{"North Asia Standard Time", "Asia/Krasnoyarsk", "Asia/Novokuznetsk"},
	{"N. Central Asia Standard Time", "Asia/Novosibirsk"},
	{"Tomsk Standard Time", "Asia/Tomsk"},
	{"China Standard Time", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Chongqing", "Asia/Harbin", "PRC"},
	{"North Asia East Standard Time", "Asia/Irkutsk"},
	{"Singapore Standard Time", "Asia/Singapore", "Asia/Kuala_Lumpur", "Asia/Manila", "Asia/Makassar", "Asia/Brunei", "Asia/Kuching", "Etc/GMT-8"},
	{"W. Australia Standard Time", "Australia/Perth"},
	{"Taipei Standard Time", "Asia/Taipei"},
	{"Ulaanbaatar Standard Time", "Asia/Ulaanbaatar", "Asia/Choibalsan"},
	{"Aus Central W. Standard Time", "Australia/Eucla"},
	{"Transbaikal Standard Time", "Asia/Chita"},
	{"Tokyo Standard Time", "Asia/Tokyo", "Asia/Jayapura", "Pacific/Palau", "Asia/Dili", "Etc/GMT-9"},
	{"North Korea Standard Time", "Asia/Pyongyang"},
	{"Korea Standard Time", "Asia/Seoul"},
	{"Yakutsk Standard Time", "Asia/Yakutsk", "Asia/Khandyga"},
	{"Cen. Australia Standard Time", "Australia/Adelaide", "Australia/Broken_Hill"},
	{"AUS Central Standard Time", "Australia/Darwin"},
	{"E. Australia Standard Time", "Australia/Brisbane", "Australia/Lindeman"},
	{"AUS Eastern Standard Time", "Australia/Sydney", "Australia/Melbourne", "Australia/Canberra"},
	{"West Pacific Standard Time", "Pacific/Port_Moresby", "Pacific/Guam", "Pacific/Saipan", "Pacific/Chuuk", "Antarctica/DumontDUrville", "Etc/GMT-10"},
	{"Tasmania Standard Time", "Australia/Hobart", "Antarctica/Macquarie"},
	{"Vladivostok Standard Time", "Asia/Vladivostok", "Asia/Ust-Nera"},
	{"Lord Howe Standard Time", "Australia/Lord_Howe"},
	{"Bougainville Standard Time", "Pacific/Bougainville"},
	{"Russia Time Zone 10", "Asia/Srednekolymsk"},
	{"Magadan Standard Time", "Asia/Magadan"},
	{"Norfolk Standard Time", "Pacific/Norfolk"},
	{"Sakhalin Standard Time", "Asia/Sakhalin"},
	{"Central Pacific Standard Time", "Pacific/Guadalcanal", "Pacific/Noumea", "Pacific/Efate", "Pacific/Pohnpei", "Pacific/Kosrae", "Etc/GMT-11"},
	{"Russia Time Zone 11", "Asia/Kamchatka", "Asia/Anadyr"},
	{"New Zealand Standard Time", "Pacific/Auckland", "Antarctica/McMurdo"},
	{"UTC+12", "Etc/GMT-12", "Pacific/Tarawa", "Pacific/Majuro", "Pacific/Kwajalein", "Pacific/Nauru", "Pacific/Funafuti", "Pacific/Wake", "Pacific/Wallis"},
	{"Fiji Standard Time", "Pacific/Fiji"},
	{"Chatham Islands Standard Time", "Pacific/Chatham"},
	{"UTC+13", "Etc/GMT-13", "Pacific/Enderbury", "Pacific/Kanton", "Pacific/Fakaofo"},
	{"Tonga Standard Time", "Pacific/Tongatapu"},
	{"Samoa Standard Time", "Pacific/Apia"},
	{"Line Islands Standard Time", "Pacific/Kiritimati", "Etc/GMT-14"},
}

// retired Windows names still found on old items, with the zone they resolve to.
var retired = map[string]string{
	"mid-atlantic standard time": "Etc/GMT+2",
	"kamchatka standard time":    "Asia/Kamchatka",
	"coordinated universal time": "Etc/UTC",
	"greenwich mean time":        "Etc/UTC",
	"tzone://microsoft/utc":      "Etc/UTC",
}

type tables struct {
	toIANA    map[string]string // lower-case Windows name -> canonical IANA
	toWindows map[string]string // lower-case IANA name -> Windows name
	canonical map[string]string // lower-case Windows name -> Windows name as spelled
	ianaCase  map[string]string // lower-case IANA name -> IANA name as spelled
}

// tab is built once at start-up and only read afterwards.
var tab = build()

func build() *tables {
	t := &tables{
		toIANA:    map[string]string{},
		toWindows: map[string]string{},
		canonical: map[string]string{},
		ianaCase:  map[string]string{},
	}
	for _, row := range windows {
		win := row[0]
		key := strings.ToLower(win)
		t.canonical[key] = win
		if len(row) > 1 {
			t.toIANA[key] = row[1]
		}
		for _, z := range row[1:] {
			lz := strings.ToLower(z)
			if _, dup := t.toWindows[lz]; !dup {
				t.toWindows[lz] = win
			}
			t.ianaCase[lz] = z
		}
	}
	for k, v := range retired {
		if _, ok := t.toIANA[k]; !ok {
			t.toIANA[k] = v
		}
	}
	return t
}

// IANA returns the canonical IANA name of a Windows zone name (case-insensitive), and
// whether the name is a known Windows zone.
func IANA(windowsName string) (string, bool) {
	z, ok := tab.toIANA[strings.ToLower(strings.TrimSpace(windowsName))]
	return z, ok
}

// Windows returns the Windows zone name for an IANA zone name (case-insensitive), and
// whether one is known.
func Windows(iana string) (string, bool) {
	w, ok := tab.toWindows[strings.ToLower(strings.TrimSpace(iana))]
	return w, ok
}

// CanonicalWindows returns a known Windows zone name spelled as Windows spells it.
func CanonicalWindows(name string) (string, bool) {
	w, ok := tab.canonical[strings.ToLower(strings.TrimSpace(name))]
	return w, ok
}

// Resolve turns a zone name as Graph accepts it on input — a Windows name, an IANA
// name, "UTC" or one of the tzone:// forms — into a location. It reports the IANA name
// of the location as well.
func Resolve(name string) (*time.Location, string, bool) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, "", false
	}
	if strings.EqualFold(name, "UTC") || strings.EqualFold(name, "Etc/UTC") {
		return time.UTC, "UTC", true
	}
	if iana, ok := IANA(name); ok {
		loc, err := time.LoadLocation(iana)
		if err != nil {
			return nil, "", false
		}
		return loc, iana, true
	}
	if strings.Contains(name, "/") && !strings.HasPrefix(strings.ToLower(name), "tzone:") {
		spelled := name
		if s, ok := tab.ianaCase[strings.ToLower(name)]; ok {
			spelled = s
		}
		loc, err := time.LoadLocation(spelled)
		if err != nil {
			return nil, "", false
		}
		return loc, spelled, true
	}
	return nil, "", false
}

// Zones is Resolve with a memory: loading a location reads the zone database,
// and a writer resolves the same few names for every item. The zero value is
// ready and safe for concurrent use; a nil *Zones resolves every time.
type Zones struct {
	mu sync.Mutex
	m  map[string]resolved
}

type resolved struct {
	loc  *time.Location
	name string
	ok   bool
}

// maxZones bounds a Zones: names come from the service and from callers.
const maxZones = 1000

// Resolve is the package's Resolve, remembered per name.
func (z *Zones) Resolve(name string) (*time.Location, string, bool) {
	if z == nil {
		return Resolve(name)
	}
	z.mu.Lock()
	r, ok := z.m[name]
	z.mu.Unlock()
	if ok {
		return r.loc, r.name, r.ok
	}
	r.loc, r.name, r.ok = Resolve(name)
	z.mu.Lock()
	if z.m == nil || len(z.m) >= maxZones {
		z.m = map[string]resolved{}
	}
	z.m[name] = r
	z.mu.Unlock()
	return r.loc, r.name, r.ok
}
