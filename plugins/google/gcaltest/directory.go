package gcaltest

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// decodeInto turns a body map into v.
func decodeInto(m map[string]json.RawMessage, v any) *gerr {
	b, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return errBadRequest("Invalid value: " + err.Error())
	}
	return nil
}

// directoryAllowed checks the customer and that the caller is an admin.
func (c *call) directoryAllowed() *gerr {
	if cu := c.p["customer"]; cu != "" && cu != "my_customer" && cu != c.s.customer {
		return &gerr{code: 400, domain: "global", reason: "badRequest", message: "Bad Request"}
	}
	if !c.pr.admin() {
		return &gerr{code: 403, domain: "global", reason: "forbidden", message: "Not Authorized to access this resource/api"}
	}
	return nil
}

func (s *Server) resourceJSON(a *account) *CalendarResource {
	cat := a.category
	if cat == "" {
		cat = "CONFERENCE_ROOM"
	}
	return &CalendarResource{Kind: "admin#directory#resources#calendars#CalendarResource",
		Etags: `"` + strconv.FormatInt(int64(calHash(a.email)), 10) + `"`, ResourceID: a.resourceID,
		ResourceName: a.name, GeneratedResourceName: a.name, ResourceType: "Room", ResourceDescription: a.description,
		ResourceEmail: a.email, Capacity: a.capacity, ResourceCategory: cat}
}

// resourcesList is resources.calendars.list with paging and a small query language:
// space-separated terms "field=value" or "field:prefix*" over resourceName,
// resourceEmail, resourceCategory and resourceId.
func (c *call) resourcesList() (*response, *gerr) {
	if e := c.directoryAllowed(); e != nil {
		return nil, e
	}
	max := 100
	if v := c.q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return nil, errInvalid("maxResults", "Invalid value for maxResults: "+v)
		}
		max = n
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*account
	for _, a := range s.accounts {
		if a.resource && !a.deleted && matchResource(a, c.q.Get("query")) {
			all = append(all, a)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if c.q.Get("orderBy") == "resourceName" && all[i].name != all[j].name {
			return all[i].name < all[j].name
		}
		return all[i].email < all[j].email
	})
	hash := paramsHash("resources", c.q)
	pt := pageToken{Kind: "res", Hash: hash}
	if v := c.q.Get("pageToken"); v != "" {
		var e *gerr
		if pt, e = decodePageToken(v, "res", hash); e != nil {
			return nil, e
		}
	}
	out := CalendarResources{Kind: "admin#directory#resources#calendars#calendarResourcesList", Etag: `"r1"`}
	i := pt.Offset
	for ; i < len(all) && len(out.Items) < max; i++ {
		out.Items = append(out.Items, s.resourceJSON(all[i]))
	}
	if i < len(all) {
		pt.Offset = i
		out.NextPageToken = pt.encode()
	}
	return jsonResponse(200, out), nil
}

func matchResource(a *account, query string) bool {
	for _, term := range strings.Fields(query) {
		field, val, prefix := "", "", false
		if k, v, ok := strings.Cut(term, "="); ok {
			field, val = k, v
		} else if k, v, ok := strings.Cut(term, ":"); ok {
			field, val, prefix = k, strings.TrimSuffix(v, "*"), strings.HasSuffix(v, "*")
		} else {
			return false
		}
		val = strings.Trim(val, `"'`)
		var have string
		switch field {
		case "resourceName":
			have = a.name
		case "resourceEmail":
			have = a.email
		case "resourceCategory":
			have = a.category
			if have == "" {
				have = "CONFERENCE_ROOM"
			}
		case "resourceId":
			have = a.resourceID
		default:
			return false
		}
		if prefix {
			if !strings.HasPrefix(strings.ToLower(have), strings.ToLower(val)) {
				return false
			}
		} else if !strings.EqualFold(have, val) {
			return false
		}
	}
	return true
}

// resourcesGet is resources.calendars.get by resourceId.
func (c *call) resourcesGet() (*response, *gerr) {
	if e := c.directoryAllowed(); e != nil {
		return nil, e
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	id := c.p["calendarResourceId"]
	for _, a := range s.accounts {
		if a.resource && !a.deleted && a.resourceID == id {
			return jsonResponse(200, s.resourceJSON(a)), nil
		}
	}
	return nil, &gerr{code: 404, domain: "global", reason: "notFound", message: "Resource Not Found: " + id}
}

// usersGet is users.get by primary address or numeric id.
func (c *call) usersGet() (*response, *gerr) {
	if e := c.directoryAllowed(); e != nil {
		return nil, e
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(c.p["userKey"])
	for _, a := range s.accounts {
		if a.resource || a.deleted || (a.email != key && a.numericID != key) {
			continue
		}
		given, family, _ := strings.Cut(a.name, " ")
		return jsonResponse(200, DirectoryUser{Kind: "admin#directory#user", ID: a.numericID,
			Etag: `"` + strconv.FormatInt(int64(calHash(a.email)), 10) + `"`, PrimaryEmail: a.email,
			Name: DirectoryName{FullName: a.name, GivenName: given, FamilyName: family}, IsAdmin: a.admin,
			CustomerID: s.customer}), nil
	}
	return nil, &gerr{code: 404, domain: "global", reason: "notFound", message: "Resource Not Found: userKey"}
}
