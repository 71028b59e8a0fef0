package gcaltest

import (
	"net/http"
	"net/url"
	"strings"
)

// call is one API request being handled.
type call struct {
	s    *Server
	r    *http.Request
	q    url.Values
	p    map[string]string // path parameters
	pr   *principal
	base string // scheme://host
}

// route is one API method.
type route struct {
	method  string
	prefix  string   // "/calendar/v3/" or "/admin/directory/v1/"
	pattern []string // path segments after the prefix; "{x}" is a parameter
	name    string   // stats key, e.g. "GET /calendar/v3/calendars/{calendarId}/events"
	// params are the method's query parameters (besides the standard ones), exactly as
	// the discovery document names them.
	params []string
	scopes scopeSet
	h      func(*call) (*response, *gerr)
}

// standardParams are accepted by every method (the discovery document's top-level
// parameters).
var standardParams = map[string]bool{
	"alt": true, "fields": true, "key": true, "oauth_token": true, "prettyPrint": true,
	"quotaUser": true, "userIp": true,
}

var (
	listParams = []string{"alwaysIncludeEmail", "eventTypes", "iCalUID", "maxAttendees", "maxResults", "orderBy",
		"pageToken", "privateExtendedProperty", "q", "sharedExtendedProperty", "showDeleted", "showHiddenInvitations",
		"singleEvents", "syncToken", "timeMax", "timeMin", "timeZone", "updatedMin"}
	writeParams = []string{"conferenceDataVersion", "eventLabelVersion", "maxAttendees", "sendNotifications",
		"sendUpdates", "supportsAttachments"}
)

// routes is the API surface. Order matters only where patterns overlap: literal
// segments are listed before parameters.
var routes = []*route{
	{method: "GET", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}"},
		scopes: scopeCalendarRead, h: (*call).calendarGet},
	{method: "GET", prefix: "/calendar/v3/", pattern: []string{"users", "me", "calendarList"},
		params: []string{"maxResults", "minAccessRole", "pageToken", "showDeleted", "showHidden", "showOwnOrganizationOnly", "syncToken"},
		scopes: scopeCalendarListRead, h: (*call).calendarListList},
	{method: "GET", prefix: "/calendar/v3/", pattern: []string{"users", "me", "calendarList", "{calendarId}"},
		scopes: scopeCalendarListRead, h: (*call).calendarListGet},
	{method: "GET", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events"},
		params: listParams, scopes: scopeEventsRead, h: (*call).eventsList},
	{method: "POST", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events"},
		params: []string{"conferenceDataVersion", "eventLabelVersion", "maxAttendees", "sendNotifications", "sendUpdates", "supportsAttachments"},
		scopes: scopeEventsWrite, h: (*call).eventsInsert},
	{method: "POST", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "import"},
		params: []string{"conferenceDataVersion", "eventLabelVersion", "supportsAttachments"},
		scopes: scopeEventsWrite, h: (*call).eventsImport},
	{method: "POST", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "watch"},
		params: listParams, scopes: scopeEventsRead, h: (*call).eventsWatch},
	{method: "GET", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "{eventId}"},
		params: []string{"alwaysIncludeEmail", "maxAttendees", "timeZone"}, scopes: scopeEventsRead, h: (*call).eventsGet},
	{method: "PUT", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "{eventId}"},
		params: append([]string{"alwaysIncludeEmail"}, writeParams...), scopes: scopeEventsWrite, h: (*call).eventsUpdate},
	{method: "PATCH", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "{eventId}"},
		params: append([]string{"alwaysIncludeEmail"}, writeParams...), scopes: scopeEventsWrite, h: (*call).eventsPatch},
	{method: "DELETE", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "{eventId}"},
		params: []string{"sendNotifications", "sendUpdates"}, scopes: scopeEventsWrite, h: (*call).eventsDelete},
	{method: "GET", prefix: "/calendar/v3/", pattern: []string{"calendars", "{calendarId}", "events", "{eventId}", "instances"},
		params: []string{"alwaysIncludeEmail", "maxAttendees", "maxResults", "originalStart", "pageToken", "showDeleted",
			"timeMax", "timeMin", "timeZone"}, scopes: scopeEventsRead, h: (*call).eventsInstances},
	{method: "POST", prefix: "/calendar/v3/", pattern: []string{"channels", "stop"},
		scopes: scopeAnyCalendar, h: (*call).channelsStop},
	{method: "GET", prefix: "/admin/directory/v1/", pattern: []string{"customer", "{customer}", "resources", "calendars"},
		params: []string{"maxResults", "orderBy", "pageToken", "query"}, scopes: scopeDirectoryResources, h: (*call).resourcesList},
	{method: "GET", prefix: "/admin/directory/v1/", pattern: []string{"customer", "{customer}", "resources", "calendars", "{calendarResourceId}"},
		scopes: scopeDirectoryResources, h: (*call).resourcesGet},
	{method: "GET", prefix: "/admin/directory/v1/", pattern: []string{"users", "{userKey}"},
		params: []string{"customFieldMask", "projection", "viewType"}, scopes: scopeDirectoryUsers, h: (*call).usersGet},
}

func init() {
	for _, rt := range routes {
		rt.name = rt.method + " " + rt.prefix + strings.Join(rt.pattern, "/")
	}
}

// matchRoute finds the route of a request and its path parameters (unescaped).
func matchRoute(method string, u *url.URL) (*route, map[string]string, *gerr) {
	path := u.EscapedPath()
	pathMatched := false
	for _, rt := range routes {
		if !strings.HasPrefix(path, rt.prefix) {
			continue
		}
		segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, rt.prefix), "/"), "/")
		if len(segs) != len(rt.pattern) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, pat := range rt.pattern {
			seg, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, nil, errBadRequest("Malformed path")
			}
			if strings.HasPrefix(pat, "{") {
				if seg == "" {
					ok = false
					break
				}
				params[strings.Trim(pat, "{}")] = seg
			} else if seg != pat {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method != method {
			continue
		}
		return rt, params, nil
	}
	if pathMatched {
		return nil, nil, &gerr{code: 405, domain: "global", reason: "httpMethodNotAllowed", message: "Method Not Allowed"}
	}
	return nil, nil, errNotFound()
}

// checkParams refuses query parameters the method does not define. [unconfirmed:
// Google may ignore unknown parameters; refusing them makes a client's typo visible.]
func checkParams(rt *route, q url.Values) *gerr {
	for k := range q {
		if standardParams[k] {
			continue
		}
		known := false
		for _, p := range rt.params {
			if p == k {
				known = true
				break
			}
		}
		if !known {
			return errInvalid(k, "Invalid parameter: "+k)
		}
	}
	return nil
}
