package sotest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/tzmap"
	"synchronizer/plugins/superoffice/internal/wire"
)

// User describes an associate to add with AddUser.
type User struct {
	// Login is the login name ("USER1"); required and unique.
	Login string
	// FullName defaults to Login; Email may be empty.
	FullName string
	Email    string
	// Admin makes the user a tenant administrator, whose consent yields the
	// system_token (and whose sign-in re-authorises a revoked application).
	Admin bool
	// NoLicense adds the user without a "user" licence assigned.
	NoLicense bool
	// Password enables onsite Basic authentication for the user.
	Password string
}

// AddUser adds an employee associate and returns its associate id. It fails
// when the login name is taken.
func (s *Server) AddUser(u User) (int, error) {
	if strings.TrimSpace(u.Login) == "" {
		return 0, badRequest("a user needs a login name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.findAssociate(u.Login) != nil {
		return 0, badRequest("login name %q is taken", u.Login)
	}
	if u.FullName == "" {
		u.FullName = u.Login
	}
	a := &associate{id: s.st.nextAssoc, name: u.Login, fullName: u.FullName, email: u.Email,
		kind: kindEmployee, admin: u.Admin, licensed: !u.NoLicense, password: u.Password, created: s.now()}
	s.st.nextAssoc++
	a.personID = s.st.nextPerson
	s.st.persons[a.personID] = &person{id: a.personID, name: a.fullName, email: a.email}
	s.st.nextPerson++
	s.st.assocs[a.id] = a
	s.notifyAssociateLocked("associate.created", a)
	return a.id, nil
}

// AddResource adds a diary resource (an associate of type Resource) named name
// ("ROOM1"); location marks a meeting room (item type Location) rather than
// equipment. It returns the resource's associate id.
func (s *Server) AddResource(name string, location bool) (int, error) {
	if strings.TrimSpace(name) == "" {
		return 0, badRequest("a resource needs a name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.findAssociate(name) != nil {
		return 0, badRequest("name %q is taken", name)
	}
	a := &associate{id: s.st.nextAssoc, name: name, fullName: name, kind: kindResource, location: location, created: s.now()}
	s.st.nextAssoc++
	s.st.assocs[a.id] = a
	s.notifyAssociateLocked("associate.created", a)
	return a.id, nil
}

// DeleteAssociate marks an associate deleted (retired).
func (s *Server) DeleteAssociate(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.findAssociate(key)
	if a == nil {
		return badRequest("no associate %q", key)
	}
	a.deleted = true
	s.notifyAssociateLocked("associate.changed", a)
	return nil
}

// AssociateID resolves a login name, e-mail or id to an associate id.
func (s *Server) AssociateID(key string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.findAssociate(key)
	if a == nil {
		return 0, false
	}
	return a.id, true
}

// SetLicenses changes the number of purchased user licences at run time.
func (s *Server) SetLicenses(n int) {
	s.mu.Lock()
	s.st.licenses = n
	s.mu.Unlock()
}

// Licenses returns the purchased and used user licences.
func (s *Server) Licenses() (total, inUse int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.licenses, s.st.usersInUse()
}

func (s *Server) userCarrier(a *associate, base string) *wire.User {
	u := &wire.User{AssociateId: a.id, Name: a.name, Type: a.typeName(), Deleted: a.deleted,
		UserName: a.name, NickName: a.name, Lastlogin: wire.ZeroDate, Lastlogout: wire.ZeroDate,
		Role:        &wire.Role{Id: 1, Value: "User"},
		UserGroup:   &wire.UserGroup{Id: 1, Value: "Sales", Rank: 1},
		OtherGroups: []wire.UserGroup{}, Credentials: []wire.Credential{},
		ExtraFields: map[string]string{}, CustomFields: map[string]string{}, TableRight: rights(),
		LicenseOwners: s.licenseOwners(a)}
	if a.kind == kindEmployee {
		u.Person = &wire.Person{PersonId: a.personID, Firstname: a.fullName, Email: a.email, FullName: a.fullName}
	}
	if a.admin {
		u.Role = &wire.Role{Id: 2, Value: "Administrator"}
	}
	if base != "" {
		u.Links_ = map[string]string{"Self": base + "/v1/User/" + strconv.Itoa(a.id)}
	}
	return u
}

func (s *Server) licenseOwners(a *associate) []wire.LicenseOwner {
	total, inUse := s.st.licenses, s.st.usersInUse()
	link := wire.ModuleLicenseLink{Name: "user", Description: "User (log in)", Total: total, InUse: inUse,
		Free: max(total-inUse, 0), Assigned: a.kind == kindEmployee && a.licensed, CanAssign: true, ModuleLicenseId: 1}
	return []wire.LicenseOwner{{Name: "SuperOffice", Description: "SuperOffice CRM",
		RestrictedModuleLicenses: []wire.ModuleLicenseLink{link}, UnrestrictedModuleLicenses: []wire.ModuleLicenseLink{}}}
}

func (c *call) userGet() {
	key := c.params["id"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.findAssociate(key)
	if a == nil {
		c.notFound("User", key)
		return
	}
	if _, err := strconv.Atoi(key); err == nil {
		c.json(http.StatusOK, c.s.userCarrier(a, c.base))
		return
	}
	c.json(http.StatusOK, c.s.userCarrier(a, ""))
}

func (c *call) userCurrent() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.json(http.StatusOK, c.s.userCarrier(c.me, ""))
}

func (c *call) userCurrentAssociate() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.json(http.StatusOK, c.s.assocCarrier(c.me.id))
}

func (c *call) userCurrentPrincipal() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.me
	p := wire.SoPrincipalCarrier{UserType: a.typeName(), Associate: a.name, AssociateId: a.id,
		IsPerson: a.personID != 0, PersonId: a.personID, RoleId: 1, RoleName: "User", RoleType: "Employee",
		FullName: a.fullName, EMailAddress: a.email, FunctionRights: []string{},
		DatabaseContextIdentifier: c.s.opts.ContextID, UserName: a.name, Licenses: []wire.GrantedModuleLicense{}}
	if a.kind == kindSystem {
		p.RoleType, p.RoleName = "System", "System"
	}
	if a.admin {
		p.RoleName = "Administrator"
	}
	if a.kind == kindEmployee && a.licensed {
		p.Licenses = append(p.Licenses, wire.GrantedModuleLicense{OwnerId: 1, OwnerName: "SuperOffice",
			OwnerDescription: "SuperOffice CRM", ModuleId: 1, Name: "user", Description: "User (log in)", LicenseType: "UserLicense"})
	}
	c.json(http.StatusOK, p)
}

func (c *call) agentGetUser() {
	id, ok := c.argInt("associateId", c.bodyArgs())
	if !ok {
		c.err(http.StatusBadRequest, "ArgumentException", "associateId is required")
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.assocs[id]
	if a == nil {
		c.null()
		return
	}
	c.json(http.StatusOK, c.s.userCarrier(a, ""))
}

func (c *call) agentGetUserFromName() {
	args := c.bodyArgs()
	name := c.q.Get("username")
	for k, v := range args {
		if strings.EqualFold(k, "userName") {
			_ = jsonString(v, &name)
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.findAssociate(name)
	if a == nil || name == "" {
		c.null()
		return
	}
	c.json(http.StatusOK, c.s.userCarrier(a, ""))
}

// extendedLicense is owner SuperOffice's licence with the "user" module.
func (s *Server) extendedLicense() wire.ExtendedLicenseInfo {
	total, inUse := s.st.licenses, s.st.usersInUse()
	zero := wire.ZeroDate
	mod := &wire.ModuleLicense{OwnerName: "SuperOffice", ModuleName: "user", ModuleDescription: "User (log in)",
		LicenseType: "UserLicense", AllowedUserType: "InternalAssociate", NumberOfLicenses: total, SortOrder: 1}
	res := &wire.ModuleLicense{OwnerName: "SuperOffice", ModuleName: "resource", ModuleDescription: "Diary resources",
		LicenseType: "SiteLicense", AllowedUserType: "ResourceAssociate", NumberOfLicenses: 0, Unrestricted: true, SortOrder: 2}
	info := &wire.LicenseInfo{CompanyName: "Emulated Company", SerialNr: "1234567890", OwnerName: "SuperOffice",
		OwnerDescription: "SuperOffice CRM", NextCheckDate: zero, MaintenanceDate: zero,
		ExpiryDate:     s.now().UTC().AddDate(1, 0, 0).Format("2006-01-02T15:04:05"),
		LicenseVersion: "11", ProductType: "Online", ProductDescription: "SuperOffice CRM Online",
		ModuleLicenses: []wire.ModuleLicense{*mod, *res}}
	return wire.ExtendedLicenseInfo{Current: info, New: info, CanBeActivated: false, AccumulatedNextCheckDate: zero,
		ExtendedModuleLicenses: []wire.ExtendedModuleLicense{
			{Current: mod, New: mod, NumberOfLicensesTotal: total, NumberOfLicensesInUse: inUse,
				NumberOfLicensesFree: max(total-inUse, 0), NumberOfLicensesNewTotal: total, NumberOfLicensesNewFree: max(total-inUse, 0)},
			{Current: res, New: res},
		}}
}

func (c *call) licenseAll() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.json(http.StatusOK, []wire.ExtendedLicenseInfo{c.s.extendedLicense()})
}

func (c *call) licenseOwner() {
	if !strings.EqualFold(c.params["owner"], "SuperOffice") {
		c.notFound("License owner", c.params["owner"])
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.json(http.StatusOK, c.s.extendedLicense())
}

func (c *call) licenseModule() {
	owner, module := c.params["owner"], c.params["module"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if n, err := strconv.Atoi(module); err == nil {
		// License/{moduleOwner}/{associateId}
		a := c.s.st.assocs[n]
		if a == nil {
			c.notFound("Associate", n)
			return
		}
		c.json(http.StatusOK, c.s.licenseOwners(a)[0].RestrictedModuleLicenses)
		return
	}
	ext := c.s.extendedLicense()
	if strings.EqualFold(owner, "SuperOffice") {
		for _, m := range ext.Current.ModuleLicenses {
			if strings.EqualFold(m.ModuleName, module) {
				c.json(http.StatusOK, m)
				return
			}
		}
	}
	c.notFound("Module license", owner+"/"+module)
}

func (c *call) licenseUser() {
	id, ok := c.pathInt("associateId")
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.assocs[id]
	if a == nil {
		c.notFound("Associate", id)
		return
	}
	c.json(http.StatusOK, c.s.licenseOwners(a))
}

func (c *call) agentUserLicenses() {
	id, ok := c.argInt("associateId", c.bodyArgs())
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.assocs[id]
	if !ok || a == nil {
		c.null()
		return
	}
	c.json(http.StatusOK, c.s.licenseOwners(a))
}

func (c *call) mdoList() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := []wire.MDOListItem{}
	switch strings.ToLower(c.params["list"]) {
	case "resource", "resources":
		for _, id := range sortedKeys(c.s.st.assocs) {
			a := c.s.st.assocs[id]
			if a.kind != kindResource {
				continue
			}
			typ := "Other"
			if a.location {
				typ = "Location"
			}
			out = append(out, wire.MDOListItem{Id: a.id, Name: a.name, ToolTip: a.fullName, Deleted: a.deleted,
				Rank: len(out) + 1, Type: typ, ChildItems: []wire.MDOListItem{}, FullName: a.fullName})
		}
	case "task", "tasks", "appointmenttask":
		for i, t := range c.s.st.tasks {
			out = append(out, wire.MDOListItem{Id: t.id, Name: t.name, Rank: i + 1, ChildItems: []wire.MDOListItem{}})
		}
	case "associate", "associates":
		for _, id := range sortedKeys(c.s.st.assocs) {
			a := c.s.st.assocs[id]
			if a.kind == kindSystem {
				continue
			}
			out = append(out, wire.MDOListItem{Id: a.id, Name: a.name, FullName: a.fullName, Deleted: a.deleted,
				Rank: len(out) + 1, ChildItems: []wire.MDOListItem{}})
		}
	default:
		c.notFound("List", c.params["list"])
		return
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentResourceEntity() {
	id, ok := c.argInt("resourceEntityId", c.bodyArgs())
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.assocs[id]
	if !ok || a == nil || a.kind != kindResource {
		c.null()
		return
	}
	c.json(http.StatusOK, map[string]any{"ResourceId": a.id, "Name": a.name, "Rank": a.id, "Tooltip": a.fullName,
		"Deleted": a.deleted, "IsLocation": a.location, "LocationAddress": nil})
}

func zoneData(z tzmap.Zone, now time.Time) wire.TimeZoneData {
	d := wire.TimeZoneData{TZLocationID: z.ID, Name: z.Name, TZLocationCode: z.Code, TZLocationCities: z.Cities,
		TimeZoneSTDRules: map[string]wire.TimeZoneRule{}, TimeZoneDSTRules: map[string]wire.TimeZoneRule{}}
	if loc, err := time.LoadLocation(z.IANA); err == nil {
		jan := time.Date(now.Year(), 1, 1, 12, 0, 0, 0, loc)
		jul := time.Date(now.Year(), 7, 1, 12, 0, 0, 0, loc)
		_, std := jan.Zone()
		_, dst := jul.Zone()
		if dst < std { // southern hemisphere
			std, dst = dst, std
		}
		year := strconv.Itoa(now.Year())
		d.TimeZoneSTDRules[year] = wire.TimeZoneRule{TZOffset: std / 60}
		if dst != std {
			d.TimeZoneDSTRules[year] = wire.TimeZoneRule{TZOffset: dst / 60, StartRulePattern: "Last Sunday of March", EndRulePattern: "Last Sunday of October"}
		}
	}
	return d
}

func (c *call) timeZones() {
	var rows []map[string]any
	for _, z := range tzmap.All() {
		rows = append(rows, map[string]any{"PrimaryKey": strconv.Itoa(z.ID), "EntityName": "timezone",
			"TZLocationID": z.ID, "Name": z.Name, "TZLocationCode": z.Code, "TZLocationCities": z.Cities})
	}
	c.json(http.StatusOK, wire.ODataResponse{Metadata: c.base + "/v1/Archive/$metadata", Value: rows})
}

func (c *call) timeZoneBase() {
	c.json(http.StatusOK, zoneData(tzmap.ByIANA(c.s.opts.TimeZone), c.s.now()))
}

func (c *call) timeZoneCurrent() {
	name := c.z.loc.String()
	c.json(http.StatusOK, zoneData(tzmap.ByIANA(name), c.s.now()))
}
