package gcaltest

import (
	"net/http"
	"strings"
)

// principal is who a request acts as.
type principal struct {
	super  bool     // the AdminToken: every calendar, no quota
	acct   *account // the signed-in (or impersonated) account
	email  string
	scopes map[string]bool
}

// admin reports whether the principal may manage resource calendars and read the
// directory.
func (p *principal) admin() bool { return p.super || (p.acct != nil && p.acct.admin) }

const scopePrefix = "https://www.googleapis.com/auth/"

// scopeSet is the list of scopes any one of which allows a method.
type scopeSet []string

func scopes(names ...string) scopeSet {
	out := make(scopeSet, len(names))
	for i, n := range names {
		out[i] = scopePrefix + n
	}
	return out
}

// The scopes each kind of method accepts (a subset of what the discovery document
// lists for it; a test checks that).
var (
	scopeEventsRead = scopes("calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly",
		"calendar.events.owned", "calendar.events.owned.readonly")
	scopeEventsWrite      = scopes("calendar", "calendar.events", "calendar.events.owned")
	scopeCalendarRead     = scopes("calendar", "calendar.readonly", "calendar.calendars", "calendar.calendars.readonly")
	scopeCalendarListRead = scopes("calendar", "calendar.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly")
	scopeAnyCalendar      = scopes("calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly",
		"calendar.events.owned", "calendar.events.owned.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly")
	scopeDirectoryResources = scopes("admin.directory.resource.calendar", "admin.directory.resource.calendar.readonly")
	scopeDirectoryUsers     = scopes("admin.directory.user", "admin.directory.user.readonly")
)

func (ss scopeSet) check(p *principal) *gerr {
	if p.super {
		return nil
	}
	for _, s := range ss {
		if p.scopes[s] {
			return nil
		}
	}
	return &gerr{code: 403, domain: "global", reason: "insufficientPermissions",
		message: "Request had insufficient authentication scopes."}
}

// authenticate resolves the bearer token of a request.
func (s *Server) authenticate(r *http.Request) (*principal, *gerr) {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, errAuth()
		}
		tok = strings.TrimSpace(rest)
	} else if t := r.URL.Query().Get("oauth_token"); t != "" {
		tok = t
	}
	if tok == "" {
		return nil, &gerr{code: 401, domain: "global", reason: "required", message: "Login Required.",
			locType: "header", location: "Authorization"}
	}
	if tok == s.oauth.adminToken {
		return &principal{super: true, email: "admin-token"}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.oauth.access[tok]
	if g == nil || g.revoked || !s.now().Before(g.expiry) || g.serial < s.oauth.accessFloor {
		return nil, errAuth()
	}
	if g.acct == nil || g.acct.deleted {
		return nil, errAuth()
	}
	return &principal{acct: g.acct, email: g.acct.email, scopes: g.scopes}, nil
}
