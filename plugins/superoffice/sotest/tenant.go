package sotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/tzmap"
)

// zone is how a request wants dates: converted to loc, with or without offset.
type zone struct {
	loc    *time.Location
	offset bool
}

// call is one tenant API request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	params map[string]string
	q      url.Values
	me     *associate
	z      zone
	base   string // scheme://host + tenant path + /api
}

type route struct {
	method  string
	pattern []string
	name    string
	h       func(*call)
}

func (s *Server) routes() []route {
	var rs []route
	add := func(method, pattern string, h func(*call)) {
		rs = append(rs, route{method: method, pattern: strings.Split(pattern, "/"), name: method + " /api/" + pattern, h: h})
	}
	add("GET", "v1", (*call).version)
	add("GET", "", (*call).version)
	// Appointment REST.
	add("GET", "v1/Appointment/default", (*call).appointmentDefault)
	add("POST", "v1/Appointment/Validate", (*call).appointmentValidate)
	add("GET", "v1/Appointment", (*call).appointmentSearch)
	add("POST", "v1/Appointment", (*call).appointmentPost)
	add("GET", "v1/Appointment/{id}", (*call).appointmentGet)
	add("PUT", "v1/Appointment/{id}", (*call).appointmentPut)
	add("DELETE", "v1/Appointment/{id}", (*call).appointmentDelete)
	add("GET", "v1/Appointment/{id}/Simple", (*call).appointmentSimple)
	add("GET", "v1/Appointment/{id}/Participants", (*call).appointmentParticipants)
	add("GET", "v1/Appointment/{id}/ForeignKey", (*call).appointmentForeignKeys)
	// Appointment agent.
	for _, m := range []struct {
		name string
		h    func(*call)
	}{
		{"CreateDefaultAppointmentEntity", (*call).appointmentDefault}, // as GET v1/Appointment/default
		{"SaveAppointmentEntity", (*call).agentSaveEntity},
		{"GetAppointmentEntity", (*call).agentGetEntity},
		{"DeleteAppointmentEntity", (*call).agentDeleteEntity},
		{"GetAppointment", (*call).agentGetAppointment},
		{"Save", (*call).agentSave},
		{"Delete", (*call).agentDelete},
		{"GetAssociateDiary", (*call).agentAssociateDiary},
		{"GetAssociatesDiary", (*call).agentAssociatesDiary},
		{"GetAppointmentList", (*call).agentAppointmentList},
		{"GetAppointmentRecords", (*call).agentRecords},
		{"UpdateAppointmentWithMode", (*call).agentUpdateWithMode},
		{"Accept", (*call).agentAccept},
		{"Reject", (*call).agentReject},
		{"CalculateDays", (*call).agentCalculateDays},
		{"CreateAppointmentForUID", (*call).agentCreateForUID},
		{"GetAppointmentFromUID", (*call).agentGetFromUID},
		{"GetUIDFromAppointmentId", (*call).agentGetUID},
		{"GetTaskListItems", (*call).agentTaskListItems},
	} {
		add("POST", "v1/Agents/Appointment/"+m.name, m.h)
	}
	// Users, licences, lists, time zones.
	add("GET", "v1/User", (*call).userSearch)
	add("GET", "v1/User/currentPrincipal", (*call).userCurrentPrincipal)
	add("GET", "v1/User/currentAssociate", (*call).userCurrentAssociate)
	add("GET", "v1/User/current", (*call).userCurrent)
	add("GET", "v1/User/{id}", (*call).userGet)
	add("POST", "v1/Agents/User/GetUser", (*call).agentGetUser)
	add("POST", "v1/Agents/User/GetUserFromName", (*call).agentGetUserFromName)
	add("GET", "v1/License", (*call).licenseAll)
	add("GET", "v1/License/User/{associateId}", (*call).licenseUser)
	add("GET", "v1/License/{owner}", (*call).licenseOwner)
	add("GET", "v1/License/{owner}/{module}", (*call).licenseModule)
	add("POST", "v1/Agents/License/GetLicenseForAllOwnersFromDB", (*call).licenseAll)
	add("POST", "v1/Agents/License/GetUserLicenses", (*call).agentUserLicenses)
	add("GET", "v1/MDOList/{list}", (*call).mdoList)
	add("POST", "v1/Agents/List/GetResourceEntity", (*call).agentResourceEntity)
	add("GET", "v1/TimeZone", (*call).timeZones)
	add("GET", "v1/TimeZone/base", (*call).timeZoneBase)
	add("GET", "v1/TimeZone/current", (*call).timeZoneCurrent)
	// Foreign keys.
	add("POST", "v1/ForeignApp/{app}/{device}/{deviceId}", (*call).foreignDevicePost)
	add("GET", "v1/ForeignApp/{app}/{device}/{deviceId}", (*call).foreignDeviceGet)
	add("POST", "v1/ForeignApp/{app}/{device}/{deviceId}/Key", (*call).foreignKeySave)
	add("PUT", "v1/ForeignApp/{app}/{device}/{deviceId}/Key", (*call).foreignKeySave)
	add("GET", "v1/ForeignApp/{app}/{device}/Key/{key}/{table}", (*call).foreignKeyByValue)
	add("GET", "v1/ForeignApp/{app}/{device}/{deviceId}/Key/{key}/{table}", (*call).foreignKeyByValue)
	add("GET", "v1/ForeignApp/{app}/{device}/Key/{key}/{table}/{record}", (*call).foreignKeyByRecord)
	add("GET", "v1/ForeignApp/{app}/{device}/Key/{key}/{table}/{record}/Value", (*call).foreignKeyValue)
	add("GET", "v1/ForeignApp/{app}/{device}/{deviceId}/Key/{key}/{table}/{record}", (*call).foreignKeyByRecord)
	add("GET", "v1/ForeignApp/{app}/{device}/{deviceId}/Key/{key}/{table}/{record}/Value", (*call).foreignKeyValue)
	add("DELETE", "v1/ForeignApp/{app}/{device}/{deviceId}/Key/{key}/{table}/{record}", (*call).foreignKeyDelete)
	// Webhooks.
	add("GET", "v1/Webhook/default", (*call).webhookDefault)
	add("GET", "v1/Webhook", (*call).webhookList)
	add("POST", "v1/Webhook", (*call).webhookPost)
	add("POST", "v1/Webhook/Test", (*call).webhookTest)
	add("GET", "v1/Webhook/{id}", (*call).webhookGet)
	add("PUT", "v1/Webhook/{id}", (*call).webhookPut)
	add("DELETE", "v1/Webhook/{id}", (*call).webhookDelete)
	add("GET", "v1/Webhook/{id}/LastError", (*call).webhookLastError)
	return rs
}

func matchRoute(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	for i, p := range pattern {
		if !strings.HasPrefix(p, "{") && !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	var params map[string]string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") {
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = segs[i]
		}
	}
	return params, true
}

func (s *Server) serveTenant(w http.ResponseWriter, r *http.Request, prefix, rest string) {
	if !s.opts.Onsite {
		s.mu.Lock()
		want := "/" + s.st.hostLabel + "/" + s.opts.ContextID
		state := s.st.tenantState
		s.mu.Unlock()
		if !strings.EqualFold(prefix, want) {
			parts := strings.Split(strings.Trim(prefix, "/"), "/")
			if len(parts) > 0 && strings.EqualFold(parts[len(parts)-1], s.opts.ContextID) {
				s.count("421 wrong host")
				writeError(w, http.StatusMisdirectedRequest, "WrongSubdomain", "Wrong subdomain used to access tenant")
				return
			}
			s.count("unknown")
			writeError(w, http.StatusNotFound, "SoNotFoundException", "Unknown tenant")
			return
		}
		switch state {
		case "Running", "OnlineMaintenance":
		case "OfflineMaintenance":
			s.count("503 maintenance")
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusServiceUnavailable, "OfflineMaintenance", "The tenant is being upgraded")
			return
		default:
			s.count("403 tenant " + state)
			writeError(w, http.StatusForbidden, "TenantNotRunning", "The tenant is "+state)
			return
		}
	} else if !strings.EqualFold(prefix, "/SuperOffice") {
		s.count("unknown")
		writeError(w, http.StatusNotFound, "SoNotFoundException", "No such resource")
		return
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if rest == "" || rest == "/" {
		segs = []string{""}
	}
	var rt *route
	var params map[string]string
	for i := range s.rt {
		cand := &s.rt[i]
		if cand.method != r.Method {
			continue
		}
		if p, ok := matchRoute(cand.pattern, segs); ok {
			rt, params = cand, p
			break
		}
	}
	if rt == nil {
		s.count("unknown")
		if r.Method == http.MethodGet && len(segs) >= 3 && strings.EqualFold(segs[1], "Agents") {
			// A GET on an agent method only describes it.
			writeJSON(w, http.StatusOK, map[string]string{"Method": strings.Join(segs, "/"), "Info": "POST to call"})
			return
		}
		writeError(w, http.StatusNotFound, "SoNotFoundException", "No such resource: "+r.Method+" /api"+rest)
		return
	}
	s.count(rt.name)
	me, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	c := &call{s: s, w: w, r: r, params: params, q: query(r), me: me,
		base: requestBase(r) + prefix + "/api"}
	c.z = s.zoneOf(r.Header.Get("SO-TimeZone"))
	rt.h(c)
}

// zoneOf reads SO-TimeZone ("UTC,includeTZOffset", "NO, includeTZOffset", "261").
// Without the header the base zone applies and nothing is converted. An unknown
// code is ignored [unconfirmed].
func (s *Server) zoneOf(h string) zone {
	z := zone{loc: s.loc}
	if strings.TrimSpace(h) == "" {
		return z
	}
	parts := strings.Split(h, ",")
	for _, p := range parts[1:] {
		if strings.EqualFold(strings.TrimSpace(p), "includeTZOffset") {
			z.offset = true
		}
	}
	code := strings.TrimSpace(parts[0])
	if tz, ok := tzmap.ByCode(code); ok {
		if loc, err := s.zones.Load(tz.IANA); err == nil {
			z.loc = loc
		}
	} else if loc, err := s.zones.Load(code); err == nil && code != "" && code != "Local" {
		z.loc = loc
	}
	return z
}

// decodeBody reads a JSON body into v. An empty body or the literal null (what
// SuperOffice's client posts to methods without arguments) leaves v as it is.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

// body decodes the request body, answering 400 when it is missing or bad.
func (c *call) body(v any, required bool) bool {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 16<<20))
	if err != nil {
		writeError(c.w, http.StatusBadRequest, "BadRequest", "read body: "+err.Error())
		return false
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		if required {
			writeError(c.w, http.StatusBadRequest, "ArgumentNullException", "The request has no body")
			return false
		}
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		writeError(c.w, http.StatusBadRequest, "BadRequest", "bad JSON body: "+err.Error())
		return false
	}
	return true
}

// arg reads an agent argument from the query string or, failing that, from a
// JSON body object, matching names case-insensitively.
func (c *call) argInt(name string, bodyArgs map[string]json.RawMessage) (int, bool) {
	if n, ok := queryInt(c.q, name); ok {
		return n, true
	}
	for k, v := range bodyArgs {
		if strings.EqualFold(k, name) {
			var n json.Number
			if err := json.Unmarshal(v, &n); err == nil {
				i, err := strconv.Atoi(n.String())
				return i, err == nil
			}
			var s string
			if err := json.Unmarshal(v, &s); err == nil {
				i, err := strconv.Atoi(s)
				return i, err == nil
			}
		}
	}
	return 0, false
}

func (c *call) bodyArgs() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if !c.body(&m, false) {
		return nil
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	return m
}

func (c *call) json(status int, v any) {
	buf := c.s.answers.get()
	defer c.s.answers.put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(c.w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeRawJSON(c.w, status, bytes.TrimRight(buf.Bytes(), "\n"))
}

func (c *call) err(status int, typ, msg string) { writeError(c.w, status, typ, msg) }

func (c *call) notFound(what string, id any) {
	c.err(http.StatusNotFound, "SoNotFoundException", fmt.Sprintf("%s id %v not found", what, id))
}

func (c *call) version() {
	c.s.mu.Lock()
	v := c.s.st.version()
	c.s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{"Version": "v1", "NetServerVersion": v, "Services": "Services88",
		"Links": map[string]string{"v1": c.base + "/v1"}})
}

func (c *call) pathInt(name string) (int, bool) {
	n, err := strconv.Atoi(c.params[name])
	if err != nil {
		c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("%s must be a number", name))
		return 0, false
	}
	return n, true
}
