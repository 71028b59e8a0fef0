package graphtest

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// graphResult is one Graph answer before it is written (or placed in a $batch).
type graphResult struct {
	status   int
	body     any
	headers  http.Header
	err      *apiError
	truncate bool
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	res := s.execGraph(r, false)
	s.writeResult(w, r, res)
}

func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, res graphResult) {
	for k, vs := range res.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if res.err != nil {
		if res.err.retryAfter > 0 {
			w.Header().Set("Retry-After", retryAfterSeconds(res.err.retryAfter))
		}
		if res.err.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="`+graphAppID+`"`)
		}
		s.writeError(w, r, res.err.status, res.err.code, res.err.msg)
		return
	}
	rid, crid := s.requestIDs(r)
	w.Header().Set("request-id", rid)
	w.Header().Set("client-request-id", crid)
	w.Header().Set("OData-Version", "4.0")
	if res.body == nil {
		w.WriteHeader(res.status)
		return
	}
	writeJSONBody(w, res.status, res.body, res.truncate)
}

// routeTemplate names a request for /_emulator/stats without its ids.
func routeTemplate(method string, segs []string) string {
	out := []string{"/v1.0"}
	for i, sg := range segs {
		prev := ""
		if i > 0 {
			prev = segs[i-1]
		}
		switch {
		case prev == "users":
			sg = "{user}"
		case prev == "calendars":
			sg = "{calendar}"
		case prev == "events":
			sg = "{id}"
		case prev == "subscriptions", prev == "extensions":
			sg = "{id}"
		case prev == "places" && !strings.HasPrefix(sg, "microsoft.graph."):
			sg = "{list}"
		case isDeltaSegment(sg):
			sg = "delta"
		}
		out = append(out, sg)
	}
	return method + " " + strings.Join(out, "/")
}

func isDeltaSegment(s string) bool {
	return s == "delta" || s == "delta()" || s == "microsoft.graph.delta" || s == "microsoft.graph.delta()"
}

// execGraph runs one Graph request: counting, faults, authentication, throttling,
// then the handler.
func (s *Server) execGraph(r *http.Request, inBatch bool) (res graphResult) {
	all := splitPath(r.URL.EscapedPath())
	segs := all[1:]
	route := routeTemplate(r.Method, segs)
	if inBatch {
		s.stats.count("batch-item", route)
	} else {
		s.stats.count("graph", route)
	}
	s.log.Debug("graph request", "method", r.Method, "route", route, "batch", inBatch)
	fail := func(e *apiError) graphResult { return graphResult{err: e} }

	s.mu.Lock()
	f := &s.faults
	unauth := f.UnauthorizedNext > 0
	if unauth {
		f.UnauthorizedNext--
	}
	truncate := f.TruncateNext > 0 && !(len(segs) == 1 && segs[0] == "$batch")
	if truncate {
		f.TruncateNext--
	}
	var injected *apiError
	retry := s.opts.RetryAfter
	if f.RetryAfter > 0 {
		retry = time.Duration(f.RetryAfter) * time.Second
	}
	switch {
	case f.Throttle > 0 && s.rng.Float64() < f.Throttle:
		injected = errf(http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please try again later.")
		injected.retryAfter = retry
	case f.ServerErrors > 0 && s.rng.Float64() < f.ServerErrors:
		f.serverErrorTurn++
		if f.serverErrorTurn%2 == 1 {
			injected = errf(http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.")
			injected.retryAfter = retry
		} else {
			injected = errf(http.StatusInternalServerError, "generalException", "An unexpected error occurred.")
		}
	}
	s.mu.Unlock()

	if unauth {
		return fail(errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."))
	}
	prin, aerr := s.authenticate(r)
	if aerr != nil {
		return fail(aerr)
	}
	pref, aerr := parsePrefer(&s.zones, r.Header)
	if aerr != nil {
		return fail(aerr)
	}
	if injected != nil {
		if injected.status == http.StatusTooManyRequests {
			s.stats.add(&s.stats.throttled)
		} else {
			s.stats.add(&s.stats.serverErrors)
		}
		return fail(injected)
	}
	rc := &reqCtx{r: r, base: baseURL(r), path: r.URL.EscapedPath(), query: r.URL.Query(), prin: prin, prefer: pref, route: route}

	// Per application and mailbox limits.
	if mb := s.mailboxOf(prin, segs); mb != "" {
		release, terr := s.throttle.acquire(prin.appID+"|"+mb, s.now(), s.opts.RetryAfter)
		if terr != nil {
			s.stats.add(&s.stats.throttled)
			return fail(terr)
		}
		defer release()
	}
	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	var (
		status int
		body   any
	)
	switch {
	case len(segs) == 1 && segs[0] == "$batch":
		if r.Method != http.MethodPost {
			return fail(errf(http.StatusMethodNotAllowed, "BadRequest", "The $batch endpoint only accepts POST."))
		}
		status, body, aerr = s.handleBatch(rc)
	case len(segs) == 1 && segs[0] == "subscriptions" && r.Method == http.MethodPost:
		status, body, aerr = s.createSubscription(rc) // calls out: must not hold the lock
	default:
		s.mu.Lock()
		status, body, aerr = s.route(rc, segs)
		s.mu.Unlock()
	}
	if aerr != nil {
		return fail(aerr)
	}
	h := http.Header{}
	if len(pref.applied) > 0 {
		h.Set("Preference-Applied", strings.Join(pref.applied, ", "))
	}
	if status == http.StatusOK && pref.minimal && (r.Method == http.MethodPatch || r.Method == http.MethodPost) && body != nil && len(segs) > 0 && segs[0] != "$batch" {
		status, body = http.StatusNoContent, nil
	}
	return graphResult{status: status, body: body, headers: h, truncate: truncate}
}

// mailboxOf names the mailbox a request acts on, for throttling.
func (s *Server) mailboxOf(p *principal, segs []string) string {
	if len(segs) >= 2 && segs[0] == "me" || len(segs) == 1 && segs[0] == "me" {
		if p.user != nil {
			return p.user.ID
		}
		return ""
	}
	if len(segs) >= 3 && segs[0] == "users" {
		s.mu.Lock()
		defer s.mu.Unlock()
		if u := s.lookupUserLocked(segs[1]); u != nil {
			return u.ID
		}
	}
	return ""
}

func badSegment(segs []string) *apiError {
	return errf(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", segs[len(segs)-1])
}

func methodNotAllowed() *apiError {
	return errf(http.StatusMethodNotAllowed, "BadRequest", "The HTTP method is not supported by this resource.")
}

// route dispatches a Graph request; the caller holds s.mu.
func (s *Server) route(rc *reqCtx, segs []string) (int, any, *apiError) {
	if len(segs) == 0 {
		return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Invalid request.")
	}
	m := rc.r.Method
	switch segs[0] {
	case "me":
		if rc.prin.user == nil {
			return 0, nil, errf(http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
		}
		return s.routeUser(rc, rc.prin.user, segs[1:], segs)
	case "users":
		if len(segs) == 1 {
			if m != http.MethodGet {
				return 0, nil, methodNotAllowed()
			}
			return s.handleUserList(rc)
		}
		u := s.lookupUserLocked(segs[1])
		if u == nil {
			if len(segs) == 2 {
				return 0, nil, errf(http.StatusNotFound, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", segs[1])
			}
			return 0, nil, errf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", segs[1])
		}
		return s.routeUser(rc, u, segs[2:], segs)
	case "places":
		if m != http.MethodGet {
			return 0, nil, methodNotAllowed()
		}
		return s.handlePlaces(rc, segs[1:])
	case "organization":
		if m != http.MethodGet || len(segs) != 1 {
			return 0, nil, methodNotAllowed()
		}
		return s.handleOrganization(rc)
	case "subscriptions":
		return s.routeSubscriptions(rc, segs[1:])
	}
	return 0, nil, badSegment(segs)
}

// scope is the set of events a path addresses.
type scope struct {
	u   *user
	cal *calendar // nil = every calendar of the mailbox (/users/{u}/events)
}

func (sc scope) target() *calendar {
	if sc.cal != nil {
		return sc.cal
	}
	return sc.u.calendars[0]
}

func (sc scope) eachEvent(fn func(e *event)) {
	cals := sc.u.calendars
	if sc.cal != nil {
		cals = []*calendar{sc.cal}
	}
	for _, c := range cals {
		for _, e := range c.events {
			fn(e)
		}
	}
}

func (s *Server) routeUser(rc *reqCtx, u *user, rest, full []string) (int, any, *apiError) {
	m := rc.r.Method
	if len(rest) == 0 {
		if m != http.MethodGet {
			return 0, nil, methodNotAllowed()
		}
		return s.handleUser(rc, u)
	}
	switch rest[0] {
	case "calendar":
		if len(rest) == 1 {
			if err := s.mailboxAccess(rc, u, false); err != nil {
				return 0, nil, err
			}
			if m != http.MethodGet {
				return 0, nil, methodNotAllowed()
			}
			return http.StatusOK, s.calendarJSON(rc, u.calendars[0], true), nil
		}
		return s.routeScope(rc, scope{u: u, cal: u.calendars[0]}, rest[1:], full)
	case "calendars":
		if err := s.mailboxAccess(rc, u, m != http.MethodGet); err != nil {
			return 0, nil, err
		}
		if len(rest) == 1 {
			switch m {
			case http.MethodGet:
				var vals []any
				for _, c := range u.calendars {
					vals = append(vals, s.calendarJSON(rc, c, false))
				}
				return http.StatusOK, map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#users('" + u.ID + "')/calendars", "value": vals}, nil
			case http.MethodPost:
				body, err := readJSONBody(rc.r)
				if err != nil {
					return 0, nil, err
				}
				var name string
				_ = json.Unmarshal(body["name"], &name)
				if name == "" {
					return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidRequest", "A calendar needs a name.")
				}
				c := &calendar{id: s.calendarID(u.idx, uint64(len(u.calendars))), name: name, owner: u, events: map[uint64]*event{}}
				u.calendars = append(u.calendars, c)
				return http.StatusCreated, s.calendarJSON(rc, c, true), nil
			}
			return 0, nil, methodNotAllowed()
		}
		var cal *calendar
		for _, c := range u.calendars {
			if c.id == rest[1] {
				cal = c
			}
		}
		if cal == nil {
			return 0, nil, notFoundItem()
		}
		if len(rest) == 2 {
			if m != http.MethodGet {
				return 0, nil, methodNotAllowed()
			}
			return http.StatusOK, s.calendarJSON(rc, cal, true), nil
		}
		return s.routeScope(rc, scope{u: u, cal: cal}, rest[2:], full)
	case "events":
		return s.routeScope(rc, scope{u: u}, rest, full)
	case "calendarView":
		return s.routeScope(rc, scope{u: u, cal: u.calendars[0]}, rest, full)
	}
	return 0, nil, badSegment(full)
}

// mailboxAccess checks that the caller may read (or write) the mailbox's calendars.
func (s *Server) mailboxAccess(rc *reqCtx, u *user, write bool) *apiError {
	if u.NoMailbox {
		return errf(http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	}
	p := rc.prin
	if p.admin {
		return nil
	}
	perm := "Calendars.Read"
	if write {
		perm = "Calendars.ReadWrite"
	}
	denied := errf(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
	if p.user != nil {
		if p.user != u {
			// Delegated access to someone else's calendar (sharing, delegates) is not
			// modelled: the real service needs Calendars.*.Shared plus a share.
			return denied
		}
		if !p.has(perm) {
			return denied
		}
		return nil
	}
	if !p.has(perm) {
		return denied
	}
	if a := s.apps[p.appID]; a != nil && a.policy != nil && !a.policy[u.ID] {
		return errf(http.StatusForbidden, "ErrorAccessDenied", "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.")
	}
	return nil
}

func (s *Server) calendarJSON(rc *reqCtx, c *calendar, withContext bool) map[string]any {
	out := map[string]any{
		"id":                            c.id,
		"name":                          c.name,
		"color":                         "auto",
		"hexColor":                      "",
		"isDefaultCalendar":             c.isDefault,
		"changeKey":                     s.changeKey(c.owner.idx<<20, 1),
		"canShare":                      true,
		"canViewPrivateItems":           true,
		"canEdit":                       true,
		"allowedOnlineMeetingProviders": []string{"teamsForBusiness"},
		"defaultOnlineMeetingProvider":  "teamsForBusiness",
		"isTallyingResponses":           true,
		"isRemovable":                   !c.isDefault,
		"owner":                         map[string]string{"name": c.owner.DisplayName, "address": c.owner.Mail},
	}
	if withContext {
		out["@odata.context"] = rc.base + "/v1.0/$metadata#users('" + c.owner.ID + "')/calendars/$entity"
	}
	return out
}

func (s *Server) routeScope(rc *reqCtx, sc scope, rest, full []string) (int, any, *apiError) {
	m := rc.r.Method
	if len(rest) == 0 {
		return 0, nil, badSegment(full)
	}
	if err := s.mailboxAccess(rc, sc.u, m != http.MethodGet); err != nil {
		return 0, nil, err
	}
	switch rest[0] {
	case "calendarView":
		if sc.cal == nil {
			sc.cal = sc.u.calendars[0]
		}
		if m != http.MethodGet {
			return 0, nil, methodNotAllowed()
		}
		if len(rest) == 1 {
			return s.handleCalendarView(rc, sc)
		}
		if len(rest) == 2 && isDeltaSegment(rest[1]) {
			return s.handleDelta(rc, sc)
		}
	case "events":
		switch len(rest) {
		case 1:
			switch m {
			case http.MethodGet:
				return s.handleListEvents(rc, sc)
			case http.MethodPost:
				return s.handleCreateEvent(rc, sc)
			}
			return 0, nil, methodNotAllowed()
		case 2:
			if isDeltaSegment(rest[1]) {
				return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Change tracking over events is only available on the beta endpoint; use calendarView/delta.")
			}
			switch m {
			case http.MethodGet:
				return s.handleGetEvent(rc, sc, rest[1])
			case http.MethodPatch:
				return s.handlePatchEvent(rc, sc, rest[1])
			case http.MethodDelete:
				return s.handleDeleteEvent(rc, sc, rest[1])
			}
			return 0, nil, methodNotAllowed()
		default:
			action := rest[2]
			switch {
			case action == "instances" && len(rest) == 3:
				if m != http.MethodGet {
					return 0, nil, methodNotAllowed()
				}
				return s.handleInstances(rc, sc, rest[1])
			case action == "extensions":
				return s.handleExtensions(rc, sc, rest[1], rest[3:])
			case len(rest) == 3 && slices.Contains([]string{"accept", "decline", "tentativelyAccept", "cancel", "dismissReminder", "snoozeReminder"}, action):
				if m != http.MethodPost {
					return 0, nil, methodNotAllowed()
				}
				return s.handleEventAction(rc, sc, rest[1], action)
			}
		}
	}
	return 0, nil, badSegment(full)
}

const maxBody = 4 << 20

// readJSONBody reads a JSON object body, gzip-compressed or not.
func readJSONBody(r *http.Request) (map[string]json.RawMessage, *apiError) {
	if r.Body == nil {
		return nil, errf(http.StatusBadRequest, "BadRequest", "Empty Payload. JSON content expected.")
	}
	var rd io.Reader = io.LimitReader(r.Body, maxBody+1)
	switch strings.ToLower(r.Header.Get("Content-Encoding")) {
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, errf(http.StatusBadRequest, "BadRequest", "The gzip request body is not valid.")
		}
		defer zr.Close()
		rd = io.LimitReader(zr, maxBody+1)
	case "", "identity":
	default:
		return nil, errf(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Content-Encoding '%s' is not supported.", r.Header.Get("Content-Encoding"))
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "BadRequest", "The request body could not be read.")
	}
	if len(b) > maxBody {
		return nil, errf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request body is too large.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, errf(http.StatusBadRequest, "BadRequest", "Empty Payload. JSON content expected.")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errf(http.StatusBadRequest, "RequestBodyRead", "Invalid JSON: %v.", err)
	}
	return m, nil
}

func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }
