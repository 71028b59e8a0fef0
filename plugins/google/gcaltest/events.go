package gcaltest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// eventFields are the body keys the emulator accepts for an Event: the modelled
// ones (json tags of Event) plus the verbatim ones.
var eventFields = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Event{})
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	for k := range eventOtherFields {
		m[k] = true
	}
	return m
}()

// readBodyMap reads a JSON object body. Unknown field names are refused.
func readBodyMap(r *http.Request, allowed map[string]bool) (map[string]json.RawMessage, *gerr) {
	m, _, e := readBody(r, allowed)
	return m, e
}

// readBody is readBodyMap that also returns the body as sent.
func readBody(r *http.Request, allowed map[string]bool) (map[string]json.RawMessage, []byte, *gerr) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, nil, errBadRequest("cannot read body")
	}
	var m map[string]json.RawMessage
	if len(strings.TrimSpace(string(b))) == 0 {
		return map[string]json.RawMessage{}, nil, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, &gerr{code: 400, domain: "global", reason: "parseError", message: "Parse Error"}
	}
	for k := range m {
		if allowed != nil && !allowed[k] {
			return nil, nil, errInvalid(k, `Invalid JSON payload received. Unknown name "`+k+`": Cannot find field.`)
		}
	}
	return m, b, nil
}

// eventFromMap turns a body map into an Event.
func eventFromMap(m map[string]json.RawMessage) (*Event, *gerr) {
	plainMap := map[string]json.RawMessage{}
	other := map[string]json.RawMessage{}
	for k, v := range m {
		if string(v) == "null" {
			continue
		}
		if eventOtherFields[k] {
			other[k] = v
		} else {
			plainMap[k] = v
		}
	}
	b, err := json.Marshal(plainMap)
	if err != nil {
		return nil, errBadRequest("bad body")
	}
	type plain Event
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, errBadRequest("Invalid value: " + err.Error())
	}
	ev := Event(p)
	if len(other) > 0 {
		ev.Other = other
	}
	return &ev, nil
}

// eventToMap is the stored event as a body map (for PATCH merging).
func eventToMap(w *Event) map[string]json.RawMessage {
	b, _ := json.Marshal(w)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m
}

// mergePatch applies PATCH semantics: top-level fields replace (arrays and objects
// as a whole, start/end included), null resets a field; extendedProperties merge per
// key, where null deletes a key.
func mergePatch(cur *Event, patch map[string]json.RawMessage) (*Event, *gerr) {
	m := eventToMap(cur)
	for k, v := range patch {
		if k == "extendedProperties" && string(v) != "null" {
			merged, e := mergeExtended(m[k], v)
			if e != nil {
				return nil, e
			}
			m[k] = merged
			continue
		}
		if string(v) == "null" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return eventFromMap(m)
}

func mergeExtended(cur, patch json.RawMessage) (json.RawMessage, *gerr) {
	var c map[string]map[string]string
	if len(cur) > 0 {
		_ = json.Unmarshal(cur, &c)
	}
	if c == nil {
		c = map[string]map[string]string{}
	}
	var p map[string]map[string]*string
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, errBadRequest("Invalid value for extendedProperties")
	}
	for scope, kv := range p {
		if scope != "private" && scope != "shared" {
			return nil, errInvalid("extendedProperties", `Unknown name "`+scope+`"`)
		}
		if kv == nil {
			delete(c, scope)
			continue
		}
		if c[scope] == nil {
			c[scope] = map[string]string{}
		}
		for k, v := range kv {
			if v == nil {
				delete(c[scope], k)
			} else {
				c[scope][k] = *v
			}
		}
		if len(c[scope]) == 0 {
			delete(c, scope)
		}
	}
	b, _ := json.Marshal(c)
	return b, nil
}

// sendsMail tells whether a write's parameters let Google mail attendees. The brief
// of this emulator counts every write that does not say sendUpdates=none (or the
// deprecated sendNotifications=false).
func sendsMail(q map[string][]string) bool {
	if v := first(q, "sendUpdates"); v != "" {
		return v != "none"
	}
	if v := first(q, "sendNotifications"); v != "" {
		return v != "false"
	}
	return true
}

func first(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *call) checkWriteParams() *gerr {
	switch v := c.q.Get("sendUpdates"); v {
	case "", "all", "externalOnly", "none":
	default:
		return errInvalid("sendUpdates", "Invalid value for sendUpdates: "+v)
	}
	if v := c.q.Get("sendNotifications"); v != "" && v != "true" && v != "false" {
		return errInvalid("sendNotifications", "Invalid boolean value: "+v)
	}
	return nil
}

// readEvent reads the event resource in the request body (insert, import,
// update).
func (c *call) readEvent() (*Event, *gerr) {
	body, raw, e := readBody(c.r, eventFields)
	if e != nil {
		return nil, e
	}
	if raw == nil {
		return eventFromMap(body)
	}
	return eventFromBody(raw, body)
}

// eventFromBody is eventFromMap for a body as sent, whose members m holds: the
// modelled fields are read from it at once (null leaves a field unset, as
// leaving the member out does), the verbatim ones taken from m.
func eventFromBody(raw []byte, m map[string]json.RawMessage) (*Event, *gerr) {
	type plain Event
	var p plain
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, errBadRequest("Invalid value: " + err.Error())
	}
	ev := Event(p)
	for k, v := range m {
		if eventOtherFields[k] && string(v) != "null" {
			if ev.Other == nil {
				ev.Other = map[string]json.RawMessage{}
			}
			ev.Other[k] = v
		}
	}
	return &ev, nil
}

// calendarGet is calendars.get.
func (c *call) calendarGet() (*response, *gerr) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	return jsonResponse(200, Calendar{Kind: "calendar#calendar", Etag: `"` + strconv.FormatInt(int64(calHash(cal.id)), 10) + `"`,
		ID: cal.id, Summary: cal.summary(), TimeZone: cal.tzName}), nil
}

func (cal *calendar) summary() string {
	if cal.owner.resource && cal.owner.name != "" {
		return cal.owner.name
	}
	return cal.id
}

func (s *Server) listEntry(pr *principal, cal *calendar) *CalendarListEntry {
	rem := []Reminder{}
	if !cal.owner.resource {
		rem = []Reminder{{Method: "popup", Minutes: 10}}
	}
	return &CalendarListEntry{Kind: "calendar#calendarListEntry", Etag: `"` + strconv.FormatInt(int64(calHash(cal.id)), 10) + `"`,
		ID: cal.id, Summary: cal.summary(), TimeZone: cal.tzName, AccessRole: accessRole(pr, cal),
		Primary: pr.acct != nil && pr.acct == cal.owner, Selected: true, DefaultReminders: rem}
}

// calendarListList is calendarList.list: the caller's own calendar, plus for admins
// every resource calendar.
func (c *call) calendarListList() (*response, *gerr) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := CalendarList{Kind: "calendar#calendarList", Etag: `"1"`, Items: []*CalendarListEntry{}}
	for _, id := range sortedKeys(s.calendars) {
		cal := s.calendars[id]
		if cal.owner.deleted || !s.canAccess(c.pr, cal) {
			continue
		}
		if c.pr.super && !cal.owner.resource {
			continue
		}
		out.Items = append(out.Items, s.listEntry(c.pr, cal))
	}
	return jsonResponse(200, out), nil
}

func (c *call) calendarListGet() (*response, *gerr) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	return jsonResponse(200, s.listEntry(c.pr, cal)), nil
}

// eventResponse renders ev for the caller, honouring timeZone and maxAttendees.
func (c *call) eventResponse(cal *calendar, ev *event) (*response, *gerr) {
	var tz *time.Location
	if name := c.q.Get("timeZone"); name != "" {
		l, err := c.s.zones.Load(name)
		if err != nil {
			return nil, errInvalid("timeZone", "Invalid time zone: "+name)
		}
		tz = l
	}
	w := render(cal, ev, tz)
	if e := c.limitAttendees(w); e != nil {
		return nil, e
	}
	resp := jsonResponse(200, w)
	resp.header.Set("ETag", ev.etag)
	return resp, nil
}

func (c *call) limitAttendees(w *Event) *gerr {
	v := c.q.Get("maxAttendees")
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errInvalid("maxAttendees", "Invalid value for maxAttendees")
	}
	if len(w.Attendees) > n {
		var self []Attendee
		for _, a := range w.Attendees {
			if a.Self {
				self = append(self, a)
			}
		}
		w.Attendees = self
		w.AttendeesOmitted = true
	}
	return nil
}

// eventsInsert is events.insert: 200 with the event (Google does not answer 201).
func (c *call) eventsInsert() (*response, *gerr) {
	if e := c.checkWriteParams(); e != nil {
		return nil, e
	}
	w, e := c.readEvent()
	if e != nil {
		return nil, e
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	// Read-only on insert.
	w.Kind, w.Etag, w.HTMLLink, w.Created, w.Updated = "", "", "", "", ""
	w.Creator, w.Organizer, w.RecurringEventID, w.OriginalStartTime = nil, nil, "", nil
	w.HangoutLink, w.PrivateCopy, w.Locked = "", false, false
	if w.ID != "" {
		if !validID(w.ID) {
			return nil, errInvalid("id", "Invalid resource id value.")
		}
		if w.ICalUID != "" {
			// The reference: supply either id or iCalUID at create, not both.
			return nil, errInvalid("iCalUID", "Cannot specify both id and iCalUID.")
		}
		if cal.events[w.ID] != nil {
			return nil, errDuplicate()
		}
	} else {
		w.ID = s.newEventID(cal)
	}
	if w.ICalUID == "" {
		w.ICalUID = w.ID + "@google.com"
	}
	if w.Status == "cancelled" {
		w.Status = "confirmed"
	}
	c.stampPeople(cal, w)
	ev, e := s.build(cal, w, nil)
	if e != nil {
		return nil, e
	}
	if w.Sequence != nil {
		ev.seqNo = *w.Sequence
	}
	w.Sequence = nil
	w.HTMLLink = htmlLink(w.ID, cal.id)
	s.commit(cal, ev)
	resp, e := c.eventResponse(cal, cal.events[w.ID])
	s.afterWrite(cal, cal.events[w.ID], nil, sendsMail(c.q))
	return resp, e
}

// stampPeople sets creator and organizer of a new event.
func (c *call) stampPeople(cal *calendar, w *Event) {
	creator := cal.id
	if c.pr.acct != nil {
		creator = c.pr.email
	}
	w.Creator = &Person{Email: creator}
	w.Organizer = &Person{Email: cal.id, DisplayName: cal.owner.name}
}

func htmlLink(id, calID string) string {
	return "https://www.google.com/calendar/event?eid=" +
		strings.TrimRight(base64URL(id+" "+calID), "=")
}

// eventsImport is events.import: a private copy that keeps the given iCalUID.
func (c *call) eventsImport() (*response, *gerr) {
	w, e := c.readEvent()
	if e != nil {
		return nil, e
	}
	if w.ICalUID == "" {
		return nil, errRequired("iCalUID")
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	w.Kind, w.Etag, w.Created, w.Updated, w.RecurringEventID, w.OriginalStartTime = "", "", "", "", "", nil
	// Importing the same iCalUID again updates the earlier import.
	for _, ev := range cal.events {
		if ev.w.ICalUID == w.ICalUID && ev.w.RecurringEventID == "" && !ev.deleted() {
			w.ID = ev.w.ID
			break
		}
	}
	if w.ID == "" || !validID(w.ID) && cal.events[w.ID] == nil {
		w.ID = s.newEventID(cal)
	}
	if w.Organizer == nil {
		c.stampPeople(cal, w)
	}
	w.PrivateCopy = true
	prev := cal.events[w.ID]
	ev, e := s.build(cal, w, prev)
	if e != nil {
		return nil, e
	}
	if prev != nil {
		w.Created = prev.w.Created
	}
	s.commit(cal, ev)
	return c.eventResponse(cal, cal.events[w.ID])
}

// eventsGet is events.get: cancelled events are returned too; If-None-Match gives 304.
func (c *call) eventsGet() (*response, *gerr) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	ev, _ := s.resolve(cal, c.p["eventId"])
	if ev == nil {
		return nil, errNotFound()
	}
	if inm := c.r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, ev.etag) {
		return &response{code: http.StatusNotModified, header: http.Header{"Etag": {ev.etag}}}, nil
	}
	if ev.deleted() && ev.w.Start == nil {
		return jsonResponse(200, stub(cal, ev)), nil
	}
	return c.eventResponse(cal, ev)
}

// etagMatch compares an If-Match / If-None-Match value with an etag ("*" matches).
func etagMatch(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}

// target resolves the event a write addresses, checking If-Match. stored is false
// for an occurrence of a series that has no exception yet.
func (c *call) target(cal *calendar) (*event, *gerr) {
	ev, _ := c.s.resolve(cal, c.p["eventId"])
	if ev == nil {
		return nil, errNotFound()
	}
	if im := c.r.Header.Get("If-Match"); im != "" && !etagMatch(im, ev.etag) {
		return nil, errConditionNotMet()
	}
	return ev, nil
}

// eventsUpdate is events.update (PUT): a full replacement.
func (c *call) eventsUpdate() (*response, *gerr) {
	if e := c.checkWriteParams(); e != nil {
		return nil, e
	}
	w, e := c.readEvent()
	if e != nil {
		return nil, e
	}
	return c.replace(w, true)
}

// eventsPatch is events.patch: a merge.
func (c *call) eventsPatch() (*response, *gerr) {
	if e := c.checkWriteParams(); e != nil {
		return nil, e
	}
	body, e := readBodyMap(c.r, eventFields)
	if e != nil {
		return nil, e
	}
	s := c.s
	s.mu.Lock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	prev, e := c.target(cal)
	if e != nil {
		s.mu.Unlock()
		return nil, e
	}
	cur := *prev.w
	if prev.deleted() && prev.w.Start == nil && prev.w.RecurringEventID != "" {
		// A cancelled occurrence patched back (status "confirmed") takes the series'
		// values again.
		if m := cal.events[prev.w.RecurringEventID]; m != nil && !m.deleted() && m.set != nil {
			cur = *instanceOf(m, prev.orig).w
			cur.Status = "cancelled"
		}
	}
	cur.Sequence = nil // only a sequence in the patch itself counts
	w, e := mergePatch(&cur, body)
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	return c.replace(w, false)
}

// replace stores w as the new state of the addressed event (PUT and PATCH).
func (c *call) replace(w *Event, put bool) (*response, *gerr) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	prev, e := c.target(cal)
	if e != nil {
		return nil, e
	}
	if w.ID != "" && w.ID != prev.w.ID {
		return nil, errInvalid("id", "The event id cannot be changed.")
	}
	// Fields a write cannot change.
	w.ID, w.Kind, w.Etag, w.HTMLLink = prev.w.ID, "", "", prev.w.HTMLLink
	w.Created, w.Creator, w.Organizer = prev.w.Created, prev.w.Creator, prev.w.Organizer
	w.RecurringEventID, w.OriginalStartTime = prev.w.RecurringEventID, prev.w.OriginalStartTime
	if w.ICalUID == "" || put {
		w.ICalUID = prev.w.ICalUID
	}
	if w.ICalUID != prev.w.ICalUID {
		return nil, errInvalid("iCalUID", "The iCalUID cannot be changed.")
	}
	if put && w.Status == "" {
		w.Status = "confirmed"
	}
	if w.Status == "cancelled" && prev.w.RecurringEventID != "" {
		// Cancelling one occurrence: keep a minimal tombstone.
		resp, e := c.cancel(cal, prev)
		return resp, e
	}
	if w.Status == "cancelled" {
		return nil, errInvalid("status", "Use events.delete to cancel an event.")
	}
	given := w.Sequence
	w.Sequence = nil
	ev, e := s.build(cal, w, prev)
	if e != nil {
		return nil, e
	}
	switch {
	case given != nil && *given < prev.seqNo:
		return nil, &gerr{code: 400, domain: "global", reason: "invalid",
			message: "Invalid sequence value. The specified sequence number is below the current sequence number of the resource.",
			locType: "parameter", location: "sequence"}
	case given != nil:
		ev.seqNo = *given
	case !ev.start.Equal(prev.start) || !ev.end.Equal(prev.end) || !slices.Equal(w.Recurrence, prev.w.Recurrence):
		// [unconfirmed] Google raises SEQUENCE when the time or the rule changes.
		ev.seqNo = prev.seqNo + 1
	default:
		ev.seqNo = prev.seqNo
	}
	if prev.exception() || prev.w.RecurringEventID != "" {
		ev.orig, ev.origAllDay = prev.orig, prev.origAllDay
	}
	s.commit(cal, ev)
	stored := cal.events[ev.w.ID]
	resp, e := c.eventResponse(cal, stored)
	s.afterWrite(cal, stored, prev, sendsMail(c.q))
	return resp, e
}

// eventsDelete is events.delete: 204; an event already deleted gives 410 deleted.
func (c *call) eventsDelete() (*response, *gerr) {
	if e := c.checkWriteParams(); e != nil {
		return nil, e
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cal, e := s.calendarByID(c.pr, c.p["calendarId"])
	if e != nil {
		return nil, e
	}
	prev, e := c.target(cal)
	if e != nil {
		return nil, e
	}
	if prev.deleted() {
		return nil, errDeleted()
	}
	if _, e := c.cancel(cal, prev); e != nil {
		return nil, e
	}
	return &response{code: http.StatusNoContent, header: http.Header{}}, nil
}

// cancel deletes prev (a single event, a master with its exceptions, or one
// occurrence). Callers hold s.mu.
func (c *call) cancel(cal *calendar, prev *event) (*response, *gerr) {
	s := c.s
	mails := sendsMail(c.q)
	if prev.deleted() {
		return nil, errDeleted()
	}
	if prev.master() {
		for _, ex := range exceptionsOf(cal, prev.w.ID) {
			if !ex.deleted() {
				s.tombstone(cal, ex, false)
			}
		}
	}
	s.tombstone(cal, prev, prev.w.RecurringEventID != "")
	stored := cal.events[prev.w.ID]
	s.afterWrite(cal, stored, prev, mails)
	return c.eventResponse(cal, stored)
}

// tombstone stores the cancelled form of ev. Occurrences keep only their identity;
// other events keep their details (the organizer can still read and restore them).
func (s *Server) tombstone(cal *calendar, ev *event, occurrence bool) {
	var w Event
	if occurrence {
		w = Event{ID: ev.w.ID, Status: "cancelled", RecurringEventID: ev.w.RecurringEventID,
			OriginalStartTime: ev.w.OriginalStartTime, ICalUID: ev.w.ICalUID, Organizer: ev.w.Organizer,
			Created: ev.w.Created, Attendees: ev.w.Attendees}
	} else {
		w = *ev.w
		w.Status = "cancelled"
	}
	next := &event{w: &w, seqNo: ev.seqNo, start: ev.start, end: ev.end, allDay: ev.allDay, loc: ev.loc,
		set: ev.set, orig: ev.orig, origAllDay: ev.origAllDay}
	if occurrence {
		w.Start, w.End = nil, nil
	}
	s.commit(cal, next)
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
