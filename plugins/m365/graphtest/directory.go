package graphtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// User is a directory account. Every user has an Exchange Online mailbox with one
// default calendar unless NoMailbox is set.
type User struct {
	// ID is the object id (a GUID); AddUser generates one when empty.
	ID string
	// UserPrincipalName is the sign-in name; Mail defaults to it.
	UserPrincipalName string
	Mail              string
	DisplayName       string
	// Admin marks a global administrator (may grant tenant-wide consent).
	Admin bool
	// NoMailbox: the account has no Exchange Online mailbox, so calendar calls answer
	// 404 MailboxNotEnabledForRESTAPI.
	NoMailbox bool
}

// Room is a room mailbox: a place in the places API and a mailbox whose calendar is
// booked by inviting it. It also exists as a user object (sign-in disabled unless a
// password is set, which the emulator does not model: rooms may sign in).
type Room struct {
	// ID is the place id (not immutable in the real service); generated when empty.
	ID          string
	Email       string
	DisplayName string
	Capacity    int
	Building    string
	FloorNumber int
	// RoomList is the email address of the room list the room belongs to ("" = none;
	// the list is created on first use).
	RoomList string
	// UserID is the room mailbox's user object id; filled in by AddResource.
	UserID string
}

// App is an application registration.
type App struct {
	ClientID string
	// ClientSecret authenticates the confidential client; empty makes a public client
	// (PKCE required).
	ClientSecret string
	// RedirectURIs must match the redirect_uri of a request exactly; empty accepts any.
	RedirectURIs []string
	Name         string
}

type user struct {
	User
	idx       uint64
	room      *Room
	seq       uint64 // mailbox change counter for delta
	gen       byte   // REST-id generation (bumped by /_emulator/move)
	calendars []*calendar
	// byTxn finds the event a create with a transactionId made; an entry
	// whose event left its calendar since is stale.
	byTxn map[string]*event
}

type calendar struct {
	id        string
	name      string
	owner     *user
	isDefault bool
	events    map[uint64]*event
	tombs     []tombstone
	minSeq    uint64 // tokens based before this seq lost their tombstones: 410
}

type roomList struct {
	id, email, name string
	rooms           []*user
}

type app struct {
	ClientID     string
	ClientSecret string
	RedirectURIs []string
	Name         string
	Roles        []string
	Consented    bool
	policy       map[string]bool // user ids app-only access is fenced to; nil = all
}

func defaultAppRoles() []string {
	return []string{"Calendars.ReadWrite", "Place.Read.All", "User.Read.All"}
}

func (s *Server) lookupUserLocked(key string) *user {
	if u, ok := s.users[key]; ok {
		return u
	}
	return s.byName[strings.ToLower(key)]
}

// AddUser creates a user (and its mailbox). UserPrincipalName (or Mail) is required;
// a bare name without "@" gets the directory's domain.
func (s *Server) AddUser(u User) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nu, err := s.addUserLocked(u, nil)
	if err != nil {
		return User{}, err
	}
	return nu.User, nil
}

func (s *Server) addUserLocked(u User, room *Room) (*user, error) {
	if u.UserPrincipalName == "" {
		u.UserPrincipalName = u.Mail
	}
	if u.UserPrincipalName == "" {
		return nil, fmt.Errorf("add user: a user principal name or mail is required")
	}
	if !strings.Contains(u.UserPrincipalName, "@") {
		u.UserPrincipalName += "@" + s.domain
	}
	if u.Mail == "" {
		u.Mail = u.UserPrincipalName
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.SplitN(u.UserPrincipalName, "@", 2)[0]
	}
	for _, k := range []string{u.UserPrincipalName, u.Mail, u.ID} {
		if k == "" {
			continue
		}
		if s.lookupUserLocked(k) != nil {
			return nil, fmt.Errorf("add user %s: %q is already taken", u.UserPrincipalName, k)
		}
	}
	s.userSeq++
	if u.ID == "" {
		u.ID = s.guid("user", s.userSeq)
	}
	nu := &user{User: u, idx: s.userSeq, room: room}
	cal := &calendar{id: s.calendarID(nu.idx, 0), name: "Calendar", owner: nu, isDefault: true, events: map[uint64]*event{}}
	nu.calendars = []*calendar{cal}
	s.users[u.ID] = nu
	s.byName[strings.ToLower(u.UserPrincipalName)] = nu
	s.byName[strings.ToLower(u.Mail)] = nu
	return nu, nil
}

// AddResource creates a room mailbox and lists it in the places API (and in its room
// list, when RoomList is set).
func (s *Server) AddResource(r Room) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Email == "" {
		return Room{}, fmt.Errorf("add resource: an email address is required")
	}
	if !strings.Contains(r.Email, "@") {
		r.Email += "@" + s.domain
	}
	if r.DisplayName == "" {
		r.DisplayName = strings.SplitN(r.Email, "@", 2)[0]
	}
	room := r
	nu, err := s.addUserLocked(User{UserPrincipalName: r.Email, DisplayName: r.DisplayName}, &room)
	if err != nil {
		return Room{}, fmt.Errorf("add resource: %w", err)
	}
	if room.ID == "" {
		room.ID = s.guid("place", nu.idx)
	}
	room.UserID = nu.ID
	if room.RoomList != "" {
		list := s.roomListLocked(room.RoomList)
		list.rooms = append(list.rooms, nu)
	}
	return room, nil
}

func (s *Server) roomListLocked(email string) *roomList {
	if !strings.Contains(email, "@") {
		email += "@" + s.domain
	}
	for _, l := range s.lists {
		if strings.EqualFold(l.email, email) {
			return l
		}
	}
	l := &roomList{id: s.guid("roomlist", uint64(len(s.lists)+1)), email: email, name: strings.SplitN(email, "@", 2)[0]}
	s.lists = append(s.lists, l)
	return l
}

// Populate adds users user1..user{users}@domain and rooms room1..room{rooms}@domain
// (named "Meeting room N", in the room list rooms@domain), the accounts SPEC names for
// the demo. user1 is a global administrator.
func (s *Server) Populate(users, rooms int) error {
	for i := 1; i <= users; i++ {
		if _, err := s.AddUser(User{UserPrincipalName: fmt.Sprintf("user%d@%s", i, s.domain), DisplayName: fmt.Sprintf("User %d", i), Admin: i == 1}); err != nil {
			return err
		}
	}
	for i := 1; i <= rooms; i++ {
		if _, err := s.AddResource(Room{Email: fmt.Sprintf("room%d@%s", i, s.domain), DisplayName: fmt.Sprintf("Meeting room %d", i), Capacity: 4 + 2*i, Building: "Main", FloorNumber: 1 + i%3, RoomList: "rooms@" + s.domain}); err != nil {
			return err
		}
	}
	return nil
}

// AddCalendar adds a secondary calendar to a mailbox and returns its id.
func (s *Server) AddCalendar(account, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(account)
	if u == nil {
		return "", fmt.Errorf("add calendar: no user %q", account)
	}
	c := &calendar{id: s.calendarID(u.idx, uint64(len(u.calendars))), name: name, owner: u, events: map[uint64]*event{}}
	u.calendars = append(u.calendars, c)
	return c.id, nil
}

// RegisterApp adds (or replaces) an application registration. Its admin consent is
// not granted yet.
func (s *Server) RegisterApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.ClientID] = &app{ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURIs: slices.Clone(a.RedirectURIs), Name: a.Name, Roles: defaultAppRoles()}
}

// GrantAdminConsent records a tenant admin's consent to the application's
// permissions, as the adminconsent page does.
func (s *Server) GrantAdminConsent(clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[clientID]
	if a == nil {
		return fmt.Errorf("grant admin consent: no application %q", clientID)
	}
	a.Consented = true
	return nil
}

// SetAccessPolicy fences the application's app-only access to the listed mailboxes,
// like an Exchange ApplicationAccessPolicy; no mailboxes lifts the fence. Calls to
// other mailboxes answer 403 ErrorAccessDenied.
func (s *Server) SetAccessPolicy(clientID string, mailboxes ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[clientID]
	if a == nil {
		return fmt.Errorf("set access policy: no application %q", clientID)
	}
	if len(mailboxes) == 0 {
		a.policy = nil
		return nil
	}
	a.policy = map[string]bool{}
	for _, m := range mailboxes {
		u := s.lookupUserLocked(m)
		if u == nil {
			return fmt.Errorf("set access policy: no mailbox %q", m)
		}
		a.policy[u.ID] = true
	}
	return nil
}

// Users lists the directory's accounts (rooms included), in creation order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.User)
	}
	slices.SortFunc(out, func(a, b User) int {
		return int(s.users[a.ID].idx) - int(s.users[b.ID].idx)
	})
	return out
}

func (s *Server) userJSON(rc *reqCtx, u *user) map[string]any {
	return map[string]any{
		"businessPhones":    []string{},
		"displayName":       u.DisplayName,
		"givenName":         nil,
		"jobTitle":          nil,
		"mail":              u.Mail,
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": "en-US",
		"surname":           nil,
		"userPrincipalName": u.UserPrincipalName,
		"id":                u.ID,
	}
}

// canReadUser: a delegated caller reads itself with User.Read and others with
// User.ReadBasic.All / User.Read.All; an application needs User.Read.All.
func (p *principal) canReadUser(u *user) bool {
	switch {
	case p.admin:
		return true
	case p.user != nil:
		if p.user == u {
			return p.has("User.Read") || p.has("User.ReadBasic.All") || p.has("User.Read.All")
		}
		return p.has("User.ReadBasic.All") || p.has("User.Read.All")
	default:
		return p.has("User.Read.All") || p.has("User.ReadBasic.All") || p.has("Directory.Read.All")
	}
}

func (s *Server) handleUser(rc *reqCtx, u *user) (int, any, *apiError) {
	if !rc.prin.canReadUser(u) {
		return 0, nil, errf(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	out := s.userJSON(rc, u)
	out["@odata.context"] = rc.base + "/v1.0/$metadata#users/$entity"
	return http.StatusOK, applySelect(out, rc.query.Get("$select")), nil
}

func (s *Server) handleUserList(rc *reqCtx) (int, any, *apiError) {
	if !(rc.prin.admin || rc.prin.has("User.Read.All") || rc.prin.has("User.ReadBasic.All") || rc.prin.has("Directory.Read.All")) {
		return 0, nil, errf(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	}
	var all []*user
	for _, u := range s.users {
		all = append(all, u)
	}
	slices.SortFunc(all, func(a, b *user) int { return int(a.idx) - int(b.idx) })
	if f := rc.query.Get("$filter"); f != "" {
		field, value, ok := parseEqFilter(f)
		if !ok || !slices.Contains([]string{"mail", "userprincipalname", "id", "displayname"}, strings.ToLower(field)) {
			return 0, nil, errf(http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", field)
		}
		var keep []*user
		for _, u := range all {
			var v string
			switch strings.ToLower(field) {
			case "mail":
				v = u.Mail
			case "userprincipalname":
				v = u.UserPrincipalName
			case "id":
				v = u.ID
			case "displayname":
				v = u.DisplayName
			}
			if strings.EqualFold(v, value) {
				keep = append(keep, u)
			}
		}
		all = keep
	}
	top, skip, err := pageParams(rc, 100, 999)
	if err != nil {
		return 0, nil, err
	}
	end := min(skip+top, len(all))
	page := []any{}
	for _, u := range all[min(skip, len(all)):end] {
		page = append(page, applySelect(s.userJSON(rc, u), rc.query.Get("$select")))
	}
	out := map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#users", "value": page}
	if end < len(all) {
		out["@odata.nextLink"] = nextSkipLink(rc, end)
	}
	return http.StatusOK, out, nil
}

func (s *Server) handleOrganization(rc *reqCtx) (int, any, *apiError) {
	return http.StatusOK, map[string]any{
		"@odata.context": rc.base + "/v1.0/$metadata#organization",
		"value": []any{map[string]any{
			"id":              s.tenantID,
			"displayName":     "Emulated tenant",
			"verifiedDomains": []any{map[string]any{"name": s.domain, "isDefault": true, "isInitial": true, "type": "Managed"}},
		}},
	}, nil
}

func (s *Server) roomJSON(u *user) map[string]any {
	r := u.room
	return map[string]any{
		"id":                     r.ID,
		"emailAddress":           u.Mail,
		"displayName":            u.DisplayName,
		"address":                map[string]any{"street": "", "city": "", "state": "", "countryOrRegion": "", "postalCode": ""},
		"geoCoordinates":         nil,
		"phone":                  nil,
		"nickname":               u.DisplayName,
		"label":                  nil,
		"capacity":               r.Capacity,
		"building":               r.Building,
		"floorLabel":             nil,
		"floorNumber":            r.FloorNumber,
		"isWheelChairAccessible": false,
		"bookingType":            "standard",
		"tags":                   []string{},
		"audioDeviceName":        nil,
		"videoDeviceName":        nil,
		"displayDeviceName":      nil,
	}
}

// handlePlaces serves /places/microsoft.graph.room, /places/microsoft.graph.roomlist
// and /places/{list email}/microsoft.graph.roomlist/rooms.
func (s *Server) handlePlaces(rc *reqCtx, segs []string) (int, any, *apiError) {
	if !(rc.prin.admin || rc.prin.has("Place.Read.All")) {
		return 0, nil, errf(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	}
	var items []map[string]any
	ctx := ""
	switch {
	case len(segs) == 1 && segs[0] == "microsoft.graph.room":
		ctx = "places/microsoft.graph.room"
		var rooms []*user
		for _, u := range s.users {
			if u.room != nil {
				rooms = append(rooms, u)
			}
		}
		slices.SortFunc(rooms, func(a, b *user) int { return int(a.idx) - int(b.idx) })
		for _, u := range rooms {
			items = append(items, s.roomJSON(u))
		}
	case len(segs) == 1 && segs[0] == "microsoft.graph.roomlist":
		ctx = "places/microsoft.graph.roomList"
		for _, l := range s.lists {
			items = append(items, map[string]any{"id": l.id, "displayName": l.name, "emailAddress": l.email, "address": nil, "geoCoordinates": nil, "phone": nil})
		}
	case len(segs) == 3 && segs[1] == "microsoft.graph.roomlist" && segs[2] == "rooms":
		ctx = "places('" + segs[0] + "')/microsoft.graph.roomList/rooms"
		var list *roomList
		for _, l := range s.lists {
			if strings.EqualFold(l.email, segs[0]) || l.id == segs[0] {
				list = l
			}
		}
		if list == nil {
			return 0, nil, errf(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		}
		for _, u := range list.rooms {
			items = append(items, s.roomJSON(u))
		}
	default:
		return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", strings.Join(segs, "/"))
	}
	if f := rc.query.Get("$filter"); f != "" {
		field, value, ok := parseEqFilter(f)
		if !ok {
			return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
		}
		var keep []map[string]any
		for _, it := range items {
			if v, ok := it[field].(string); ok && strings.EqualFold(v, value) {
				keep = append(keep, it)
			}
		}
		items = keep
	}
	top, skip, err := pageParams(rc, 100, 100)
	if err != nil {
		return 0, nil, err
	}
	end := min(skip+top, len(items))
	page := []any{}
	for _, it := range items[min(skip, len(items)):end] {
		page = append(page, applySelect(it, rc.query.Get("$select")))
	}
	out := map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#" + ctx, "value": page}
	if rc.query.Get("$count") == "true" {
		out["@odata.count"] = len(items)
	}
	if end < len(items) {
		out["@odata.nextLink"] = nextSkipLink(rc, end)
	}
	return http.StatusOK, out, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// Settings are the m365 provider settings that point an instance at this emulator
// served at baseURL (scheme://host:port): endpoint, tenant_id, client_id,
// client_secret and auth ("delegated", or "application" when application is set).
func (s *Server) Settings(baseURL string, application bool) map[string]string {
	auth := "delegated"
	if application {
		auth = "application"
	}
	return map[string]string{
		"endpoint":      strings.TrimRight(baseURL, "/"),
		"tenant_id":     s.tenantID,
		"client_id":     s.opts.ClientID,
		"client_secret": s.opts.ClientSecret,
		"auth":          auth,
	}
}
