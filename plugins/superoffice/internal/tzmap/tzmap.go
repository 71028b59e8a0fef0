// Package tzmap maps SuperOffice time zone locations (TZLocationID and
// TZLocationCode, as GET /api/v1/TimeZone lists them) to IANA zone names.
//
// SuperOffice keeps its own table of time zone locations; which ids and codes a
// tenant's table holds is not documented beyond a few examples (UTC = 1,
// "NO", "US-NY" = 460) [unconfirmed]. This table covers the zones our users run
// tenants in; Lookup falls back to the location's name and cities.
package tzmap

import (
	"strings"
	"time"

	// The zone database travels in the binary: a minimal host may have none.
	_ "time/tzdata"
)

// Zone is one time zone location.
type Zone struct {
	ID     int
	Code   string
	Name   string
	Cities string
	IANA   string
}

// Zones is the known table.
var zones = []Zone{
	{1, "UTC", "Coordinated Universal Time", "UTC", "UTC"},
	{261, "NO", "Norway", "Oslo", "Europe/Oslo"},
	{262, "SE", "Sweden", "Stockholm", "Europe/Stockholm"},
	{263, "DK", "Denmark", "Copenhagen", "Europe/Copenhagen"},
	{264, "FI", "Finland", "Helsinki", "Europe/Helsinki"},
	{265, "NL", "Netherlands", "Amsterdam", "Europe/Amsterdam"},
	{266, "DE", "Germany", "Berlin", "Europe/Berlin"},
	{267, "GB", "United Kingdom", "London", "Europe/London"},
	{268, "BE", "Belgium", "Brussels", "Europe/Brussels"},
	{269, "CH", "Switzerland", "Zurich", "Europe/Zurich"},
	{270, "FR", "France", "Paris", "Europe/Paris"},
	{271, "ES", "Spain", "Madrid", "Europe/Madrid"},
	{272, "PL", "Poland", "Warsaw", "Europe/Warsaw"},
	{273, "IS", "Iceland", "Reykjavik", "Atlantic/Reykjavik"},
	{460, "US-NY", "United States (Eastern)", "New York", "America/New_York"},
	{461, "US-CHI", "United States (Central)", "Chicago", "America/Chicago"},
	{462, "US-DEN", "United States (Mountain)", "Denver", "America/Denver"},
	{463, "US-LA", "United States (Pacific)", "Los Angeles", "America/Los_Angeles"},
	{500, "JP", "Japan", "Tokyo", "Asia/Tokyo"},
	{501, "AU-SYD", "Australia (Sydney)", "Sydney", "Australia/Sydney"},
}

// All returns a copy of the table.
func All() []Zone { return append([]Zone(nil), zones...) }

// ByIANA finds the location of an IANA zone name. Unknown names get a location
// made up from the name (id 0), so an emulator can still serve any zone.
func ByIANA(name string) Zone {
	for _, z := range zones {
		if z.IANA == name {
			return z
		}
	}
	city := name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		city = strings.ReplaceAll(name[i+1:], "_", " ")
	}
	return Zone{ID: 0, Code: name, Name: name, Cities: city, IANA: name}
}

// ByCode finds a location by its code or numeric id ("NO", "261").
func ByCode(code string) (Zone, bool) {
	code = strings.TrimSpace(code)
	for _, z := range zones {
		if strings.EqualFold(z.Code, code) || (z.ID != 0 && itoa(z.ID) == code) {
			return z, true
		}
	}
	return Zone{}, false
}

// Lookup resolves a time zone location to a *time.Location: by code or id in the
// table, else by the name or code as an IANA name, else by a city of the location
// under the usual IANA regions. ok is false when nothing matched.
func Lookup(id int, code, name, cities string) (*time.Location, string, bool) {
	for _, z := range zones {
		if (id != 0 && z.ID == id) || (code != "" && strings.EqualFold(z.Code, code)) {
			if loc, err := time.LoadLocation(z.IANA); err == nil {
				return loc, z.IANA, true
			}
		}
	}
	for _, cand := range []string{code, name} {
		if strings.Contains(cand, "/") || cand == "UTC" {
			if loc, err := time.LoadLocation(cand); err == nil {
				return loc, cand, true
			}
		}
	}
	for _, city := range strings.Split(cities, ",") {
		city = strings.ReplaceAll(strings.TrimSpace(city), " ", "_")
		if city == "" {
			continue
		}
		for _, region := range []string{"Europe", "America", "Asia", "Australia", "Africa", "Atlantic", "Pacific"} {
			if loc, err := time.LoadLocation(region + "/" + city); err == nil {
				return loc, region + "/" + city, true
			}
		}
	}
	return nil, "", false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [12]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
