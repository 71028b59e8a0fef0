package graphtest

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// resolveLocked finds the item an id names inside a mailbox. An occurrence id gives a
// computed view of its master.
func (s *Server) resolveLocked(sc scope, id string) (*eventView, *apiError) {
	ref, immutable, gen, ok := s.decodeItemID(id)
	if !ok {
		if looksLikeID(id) {
			return nil, notFoundItem()
		}
		return nil, errf(http.StatusBadRequest, "ErrorInvalidIdMalformed", "Id is malformed.")
	}
	if !immutable && gen != sc.u.gen {
		return nil, notFoundItem() // the REST id went stale when the item moved
	}
	e := s.events[ref.key]
	if e == nil || e.cal.owner != sc.u {
		return nil, notFoundItem()
	}
	if sc.cal != nil && e.cal != sc.cal {
		return nil, notFoundItem()
	}
	if ref.occ == 0 {
		return viewOf(e), nil
	}
	if e.typ != "seriesMaster" {
		return nil, notFoundItem()
	}
	orig := time.Unix(ref.occ, 0).UTC()
	if x, ok := e.exceptions[ref.occ]; ok {
		return viewOf(x), nil
	}
	if _, gone := e.cancelledOcc[ref.occ]; gone {
		return nil, notFoundItem()
	}
	if !e.isOccurrence(orig) {
		return nil, notFoundItem()
	}
	return &eventView{ev: e, occ: true, origStart: orig, start: orig, end: orig.Add(e.end.Sub(e.start))}, nil
}

// etagOfView is the etag a client saw for the view (an occurrence shows its master's).
func (s *Server) etagOfView(v *eventView) string {
	e := v.ev
	if e.master != nil {
		return etagOf(s.changeKey(e.master.key^uint64(e.origStart.Unix())<<1, e.version))
	}
	return etagOf(s.changeKey(e.key, e.version))
}

func (s *Server) checkIfMatch(rc *reqCtx, v *eventView) *apiError {
	want := rc.r.Header.Get("If-Match")
	if want == "" || want == "*" {
		return nil
	}
	have := s.etagOfView(v)
	norm := func(t string) string {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		return strings.Trim(t, `"`)
	}
	for _, w := range strings.Split(want, ",") {
		if norm(w) == norm(have) {
			return nil
		}
	}
	return errf(http.StatusPreconditionFailed, "ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.")
}

func (s *Server) renderOut(rc *reqCtx, v *eventView, exp expandSpec, withContext bool) any {
	j := s.render(rc, v, exp)
	if withContext {
		j.ODataContext = rc.base + "/v1.0/$metadata#users('" + v.ev.owner().ID + "')/events/$entity"
	}
	if sel := rc.query.Get("$select"); sel != "" {
		return applySelect(toMap(j), sel)
	}
	return j
}

func (s *Server) handleGetEvent(rc *reqCtx, sc scope, id string) (int, any, *apiError) {
	v, err := s.resolveLocked(sc, id)
	if err != nil {
		return 0, nil, err
	}
	exp, err := parseExpand(rc.query.Get("$expand"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.renderOut(rc, v, exp, true), nil
}

// touchLocked records a write: the mailbox's change counter, the item's version and
// modification time, and the notifications subscribers get.
func (s *Server) touchLocked(e *event, change string) {
	u := e.owner()
	u.seq++
	now := s.now()
	e.seq, e.version, e.modified = u.seq, e.version+1, now
	if m := e.master; m != nil {
		// Exchange keeps exceptions inside the master item, so the master changes too.
		m.seq, m.version, m.modified = u.seq, m.version+1, now
	}
	s.notifyLocked(e.top(), change)
}

func (s *Server) newEventLocked(cal *calendar) *event {
	s.nextKey++
	now := s.now()
	owner := cal.owner
	return &event{
		key: s.nextKey, cal: cal, typ: "singleInstance", created: now, modified: now,
		bodyType: "text", showAs: "busy", sensitivity: "normal", importance: "normal",
		reminderOn: true, reminderMin: 15, responseRequested: true, allowNewTimeProposals: true,
		response: "organizer", isOrganizer: true,
		organizer: emailAddress{name: owner.DisplayName, address: owner.Mail},
		startTZ:   "UTC", endTZ: "UTC",
	}
}

// clone copies an item deeply enough that a failed write can be thrown away.
func (e *event) clone() *event {
	c := *e
	c.categories = slices.Clone(e.categories)
	c.attendees = slices.Clone(e.attendees)
	c.props = slices.Clone(e.props)
	c.exts = slices.Clone(e.exts)
	c.copies = slices.Clone(e.copies)
	if e.rec != nil {
		r := *e.rec
		r.days = slices.Clone(e.rec.days)
		c.rec = &r
	}
	return &c
}

func (s *Server) insertLocked(e *event) {
	s.events[e.key] = e
	e.cal.events[e.key] = e
}

// alignSeries moves a master's start to its first occurrence, as Exchange does.
func alignSeries(e *event) *apiError {
	if e.rec == nil {
		return nil
	}
	first, ok := e.firstOccurrence()
	if !ok {
		return invalidRecurrence("the pattern has no occurrence in its range")
	}
	if !first.Equal(e.start) {
		d := e.end.Sub(e.start)
		e.start, e.end = first, first.Add(d)
	}
	return nil
}

func (s *Server) handleCreateEvent(rc *reqCtx, sc scope) (int, any, *apiError) {
	body, err := readJSONBody(rc.r)
	if err != nil {
		return 0, nil, err
	}
	cal := sc.target()
	if raw, ok := body["transactionId"]; ok {
		var tid string
		if json.Unmarshal(raw, &tid) == nil && tid != "" {
			// A retried create with the same transactionId returns the first one.
			if e := sc.u.byTxn[tid]; e != nil && e.transactionID == tid && e.cal.owner == sc.u && e.cal.events[e.key] == e {
				return http.StatusCreated, s.renderOut(rc, viewOf(e), expandSpec{}, true), nil
			}
		}
	}
	e := s.newEventLocked(cal)
	cs, err := s.applyEvent(e, body, true)
	if err != nil {
		return 0, nil, err
	}
	if err := alignSeries(e); err != nil {
		return 0, nil, err
	}
	s.insertLocked(e)
	if e.transactionID != "" {
		if sc.u.byTxn == nil {
			sc.u.byTxn = map[string]*event{}
		}
		sc.u.byTxn[e.transactionID] = e
	}
	s.touchLocked(e, "created")
	if len(e.attendees) > 0 {
		s.meetingWrittenLocked(e, cs, true)
	}
	return http.StatusCreated, s.renderOut(rc, viewOf(e), expandSpec{}, true), nil
}

// checkCrossing enforces Exchange's rule that a changed occurrence stays between its
// neighbours: it may not move to or before the previous occurrence's day, nor to or
// after the next one's.
func checkCrossing(m *event, x *event) *apiError {
	loc := time.UTC
	if !m.allDay && m.rec != nil {
		loc = m.rec.loc
	}
	day := func(t time.Time) time.Time {
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	}
	var prev, next time.Time
	span := 400 * 24 * time.Hour
	for _, st := range m.seriesStarts(x.origStart.Add(-span), x.origStart.Add(span)) {
		switch {
		case st.Before(x.origStart):
			prev = st
		case st.After(x.origStart) && next.IsZero():
			next = st
		}
	}
	// Neighbours that are themselves exceptions count where they are now.
	if p, ok := m.exceptions[prev.Unix()]; ok && !prev.IsZero() {
		prev = p.start
	}
	if n, ok := m.exceptions[next.Unix()]; ok && !next.IsZero() {
		next = n.start
	}
	d := day(x.start)
	if !prev.IsZero() && !d.After(day(prev)) || !next.IsZero() && !d.Before(day(next)) {
		return errf(http.StatusBadRequest, "ErrorOccurrenceCrossingBoundary", "An occurrence of a recurring series cannot be moved to or beyond the day of an adjacent occurrence.")
	}
	return nil
}

func (s *Server) handlePatchEvent(rc *reqCtx, sc scope, id string) (int, any, *apiError) {
	v, err := s.resolveLocked(sc, id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkIfMatch(rc, v); err != nil {
		return 0, nil, err
	}
	body, err := readJSONBody(rc.r)
	if err != nil {
		return 0, nil, err
	}
	if _, ok := body["transactionId"]; ok {
		return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidRequest", "transactionId can only be set when the event is created.")
	}
	var target *event
	switch {
	case v.occ:
		// Changing an occurrence turns it into an exception.
		m := v.ev
		x := m.clone()
		x.typ, x.master, x.origStart = "exception", m, v.origStart
		x.rec, x.exceptions, x.cancelledOcc, x.copies, x.orgKey = nil, nil, nil, nil, 0
		x.start, x.end = v.start, v.end
		x.created = s.now()
		x.version = 0
		cs, err := s.applyEvent(x, body, false)
		if err != nil {
			return 0, nil, err
		}
		if err := checkCrossing(m, x); err != nil {
			return 0, nil, err
		}
		if m.exceptions == nil {
			m.exceptions = map[int64]*event{}
		}
		m.exceptions[v.origStart.Unix()] = x
		s.touchLocked(x, "updated")
		if m.isOrganizer && len(m.attendees) > 0 {
			s.meetingWrittenLocked(x, cs, false)
		}
		target = x
	default:
		e := v.ev
		c := e.clone()
		cs, err := s.applyEvent(c, body, false)
		if err != nil {
			return 0, nil, err
		}
		if c.typ == "exception" {
			if err := checkCrossing(e.master, c); err != nil {
				return 0, nil, err
			}
		}
		if c.typ == "seriesMaster" && (cs.recurrence || cs.time) {
			// A new pattern or time for the series drops its exceptions and deletions.
			c.exceptions, c.cancelledOcc = nil, nil
		}
		if c.typ == "singleInstance" {
			c.exceptions, c.cancelledOcc = nil, nil
		}
		if err := alignSeries(c); err != nil {
			return 0, nil, err
		}
		hadMeeting := len(e.attendees) > 0
		*e = *c
		s.touchLocked(e, "updated")
		if e.isOrganizer && (hadMeeting || len(e.attendees) > 0) {
			s.meetingWrittenLocked(e, cs, false)
		}
		target = e
	}
	return http.StatusOK, s.renderOut(rc, viewOf(target), expandSpec{}, true), nil
}

type tombstone struct {
	ref itemRef
	seq uint64
	ev  *event // what was deleted (a master lists its instances for removals)
}

func (s *Server) addTombstoneLocked(cal *calendar, ref itemRef, e *event) {
	cal.tombs = append(cal.tombs, tombstone{ref: ref, seq: cal.owner.seq, ev: e})
	if over := len(cal.tombs) - s.opts.TombstoneLimit; over > 0 {
		cal.minSeq = cal.tombs[over-1].seq
		cal.tombs = slices.Clone(cal.tombs[over:])
	}
}

// deleteItemLocked removes a single, a master or a copy from its calendar.
func (s *Server) deleteItemLocked(e *event) {
	delete(s.events, e.key)
	delete(e.cal.events, e.key)
	u := e.cal.owner
	u.seq++
	e.seq = u.seq
	s.addTombstoneLocked(e.cal, itemRef{key: e.key}, e)
	s.notifyLocked(e, "deleted")
}

// cancelOccurrenceLocked deletes one occurrence (or exception) of a master.
func (s *Server) cancelOccurrenceLocked(m *event, orig time.Time) {
	u := m.cal.owner
	delete(m.exceptions, orig.Unix())
	if m.cancelledOcc == nil {
		m.cancelledOcc = map[int64]uint64{}
	}
	u.seq++
	m.cancelledOcc[orig.Unix()] = u.seq
	m.seq, m.version, m.modified = u.seq, m.version+1, s.now()
	s.notifyLocked(m, "updated")
}

func (s *Server) handleDeleteEvent(rc *reqCtx, sc scope, id string) (int, any, *apiError) {
	v, err := s.resolveLocked(sc, id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkIfMatch(rc, v); err != nil {
		return 0, nil, err
	}
	switch {
	case v.occ || v.ev.master != nil:
		m := v.ev.top()
		s.cancelOccurrenceLocked(m, v.origStart)
		if m.isOrganizer && len(m.attendees) > 0 {
			s.meetingOccurrenceCancelledLocked(m, v.origStart)
		}
	default:
		e := v.ev
		s.deleteItemLocked(e)
		switch {
		case e.isOrganizer && len(e.attendees) > 0:
			s.meetingCancelledLocked(e)
		case e.orgKey != 0:
			if org := s.events[e.orgKey]; org != nil {
				org.copies = slices.DeleteFunc(org.copies, func(k uint64) bool { return k == e.key })
			}
		}
	}
	return http.StatusNoContent, nil, nil
}

// windowParams reads startDateTime/endDateTime (required; UTC when no offset).
func windowParams(rc *reqCtx) (time.Time, time.Time, *apiError) {
	get := func(name string) string {
		for k, v := range rc.query {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
	a, b := get("startDateTime"), get("endDateTime")
	if a == "" || b == "" {
		return time.Time{}, time.Time{}, errf(http.StatusBadRequest, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
	}
	from, err1 := parseGraphTime(a, time.UTC)
	to, err2 := parseGraphTime(b, time.UTC)
	if err1 != nil || err2 != nil {
		return time.Time{}, time.Time{}, errf(http.StatusBadRequest, "ErrorInvalidParameter", "The parameter 'StartDateTime' or 'EndDateTime' has an invalid value.")
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, errf(http.StatusBadRequest, "ErrorInvalidParameter", "The value of EndDateTime must be after StartDateTime.")
	}
	return from, to, nil
}

func (s *Server) handleInstances(rc *reqCtx, sc scope, id string) (int, any, *apiError) {
	v, err := s.resolveLocked(sc, id)
	if err != nil {
		return 0, nil, err
	}
	if v.occ || v.ev.typ != "seriesMaster" {
		return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidRequest", "The instances of an event can only be listed for a series master.")
	}
	from, to, err := windowParams(rc)
	if err != nil {
		return 0, nil, err
	}
	exp, err := parseExpand(rc.query.Get("$expand"))
	if err != nil {
		return 0, nil, err
	}
	views := v.ev.instances(from, to)
	return s.pageOfViews(rc, views, exp, "users('"+sc.u.ID+"')/events('"+id+"')/instances")
}

func (s *Server) pageOfViews(rc *reqCtx, views []*eventView, exp expandSpec, ctx string) (int, any, *apiError) {
	top, skip, err := pageParams(rc, 10, 1000)
	if err != nil {
		return 0, nil, err
	}
	end := min(skip+top, len(views))
	page := make([]any, 0, max(0, end-skip))
	for _, v := range views[min(skip, len(views)):end] {
		page = append(page, s.renderOut(rc, v, exp, false))
	}
	out := map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#" + ctx, "value": page}
	if end < len(views) {
		out["@odata.nextLink"] = nextSkipLink(rc, end)
	}
	return http.StatusOK, out, nil
}

// listQuery reads the $expand and $filter of a listing.
func listQuery(rc *reqCtx) (expandSpec, eventPred, *apiError) {
	exp, err := parseExpand(rc.query.Get("$expand"))
	if err != nil {
		return exp, nil, err
	}
	var pred eventPred
	if f := rc.query.Get("$filter"); f != "" {
		if pred, err = compileEventFilter(f); err != nil {
			return exp, nil, err
		}
	}
	return exp, pred, nil
}

func (s *Server) handleCalendarView(rc *reqCtx, sc scope) (int, any, *apiError) {
	from, to, err := windowParams(rc)
	if err != nil {
		return 0, nil, err
	}
	exp, pred, err := listQuery(rc)
	if err != nil {
		return 0, nil, err
	}
	views := s.viewsInWindow(sc.cal, from, to)
	if pred != nil {
		views = slices.DeleteFunc(views, func(v *eventView) bool { return !pred(v) })
	}
	return s.pageOfViews(rc, views, exp, "users('"+sc.u.ID+"')/calendarView")
}

// viewsInWindow lists singles, occurrences and exceptions overlapping [from, to), by
// start.
func (s *Server) viewsInWindow(cal *calendar, from, to time.Time) []*eventView {
	var out []*eventView
	for _, e := range cal.events {
		switch e.typ {
		case "seriesMaster":
			out = append(out, e.instances(from, to)...)
		default:
			if overlaps(e.start, e.end, from, to) {
				out = append(out, viewOf(e))
			}
		}
	}
	slices.SortFunc(out, func(a, b *eventView) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		if a.ev.key != b.ev.key {
			return int(a.ev.key) - int(b.ev.key)
		}
		return a.origStart.Compare(b.origStart)
	})
	return out
}

func (s *Server) handleListEvents(rc *reqCtx, sc scope) (int, any, *apiError) {
	exp, pred, err := listQuery(rc)
	if err != nil {
		return 0, nil, err
	}
	var views []*eventView
	sc.eachEvent(func(e *event) {
		v := viewOf(e)
		if pred == nil || pred(v) {
			views = append(views, v)
		}
	})
	order := strings.ToLower(strings.TrimSpace(rc.query.Get("$orderby")))
	desc := strings.HasSuffix(order, " desc")
	order = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(order, " desc"), " asc"))
	var key func(v *eventView) string
	switch order {
	case "":
		key = nil
	case "start/datetime":
		key = func(v *eventView) string { return v.start.UTC().Format(time.RFC3339) }
	case "lastmodifieddatetime":
		key = func(v *eventView) string { return v.ev.modified.UTC().Format(time.RFC3339Nano) }
	case "createddatetime":
		key = func(v *eventView) string { return v.ev.created.UTC().Format(time.RFC3339Nano) }
	case "subject":
		key = func(v *eventView) string { return strings.ToLower(v.ev.subject) }
	default:
		return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidUrlQuery", "The $orderby property '%s' is not supported.", order)
	}
	slices.SortStableFunc(views, func(a, b *eventView) int {
		if key != nil {
			c := strings.Compare(key(a), key(b))
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return int(a.ev.key) - int(b.ev.key)
	})
	return s.pageOfViews(rc, views, exp, "users('"+sc.u.ID+"')/events")
}

func (s *Server) handleEventAction(rc *reqCtx, sc scope, id, action string) (int, any, *apiError) {
	v, err := s.resolveLocked(sc, id)
	if err != nil {
		return 0, nil, err
	}
	var req struct {
		Comment      string `json:"comment"`
		SendResponse *bool  `json:"sendResponse"`
	}
	if rc.r.ContentLength != 0 && rc.r.Body != nil {
		if body, err := readJSONBody(rc.r); err == nil {
			_ = json.Unmarshal(body["comment"], &req.Comment)
			if raw, ok := body["sendResponse"]; ok {
				var b bool
				if json.Unmarshal(raw, &b) == nil {
					req.SendResponse = &b
				}
			}
		}
	}
	e := v.ev.top()
	switch action {
	case "dismissReminder", "snoozeReminder":
		return http.StatusAccepted, nil, nil
	case "cancel":
		if !e.isOrganizer {
			return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You need to be an organizer to cancel a meeting.")
		}
		if v.occ || v.ev.master != nil {
			s.cancelOccurrenceLocked(e, v.origStart)
			s.meetingOccurrenceCancelledLocked(e, v.origStart)
		} else {
			s.deleteItemLocked(e)
			s.meetingCancelledLocked(e)
		}
		return http.StatusAccepted, nil, nil
	}
	if e.isOrganizer {
		return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidRequest", "Your request can't be completed. You can't respond to this meeting because you're the meeting organizer.")
	}
	resp := map[string]string{"accept": "accepted", "tentativelyAccept": "tentativelyAccepted", "decline": "declined"}[action]
	send := req.SendResponse == nil || *req.SendResponse
	s.respondLocked(e, resp, send)
	return http.StatusAccepted, nil, nil
}

func (s *Server) handleExtensions(rc *reqCtx, sc scope, id string, rest []string) (int, any, *apiError) {
	v, err := s.resolveLocked(sc, id)
	if err != nil {
		return 0, nil, err
	}
	if v.occ {
		return 0, nil, errf(http.StatusBadRequest, "ErrorInvalidRequest", "Extensions cannot be added to an occurrence.")
	}
	e := v.ev
	m := rc.r.Method
	find := func(name string) int {
		return slices.IndexFunc(e.exts, func(x extension) bool { return extMatches(x.name, name) })
	}
	switch len(rest) {
	case 0:
		switch m {
		case http.MethodGet:
			vals := []any{}
			for _, x := range e.exts {
				vals = append(vals, x.json())
			}
			return http.StatusOK, map[string]any{"@odata.context": rc.base + "/v1.0/$metadata#users('" + sc.u.ID + "')/events('" + id + "')/extensions", "value": vals}, nil
		case http.MethodPost:
			body, err := readJSONBody(rc.r)
			if err != nil {
				return 0, nil, err
			}
			var raw map[string]any
			b, _ := json.Marshal(body)
			_ = json.Unmarshal(b, &raw)
			x, err := parseExtension(raw)
			if err != nil {
				return 0, nil, err
			}
			if find(x.name) >= 0 {
				return 0, nil, errf(http.StatusConflict, "ErrorItemAlreadyExists", "An extension named '%s' already exists on the item.", x.name)
			}
			e.exts = append(e.exts, x)
			s.touchLocked(e, "updated")
			return http.StatusCreated, x.json(), nil
		}
		return 0, nil, methodNotAllowed()
	case 1:
		i := find(rest[0])
		if i < 0 {
			return 0, nil, notFoundItem()
		}
		switch m {
		case http.MethodGet:
			return http.StatusOK, e.exts[i].json(), nil
		case http.MethodPatch:
			body, err := readJSONBody(rc.r)
			if err != nil {
				return 0, nil, err
			}
			data := maps.Clone(e.exts[i].data)
			for k, raw := range body {
				if strings.HasPrefix(k, "@odata.") || k == "extensionName" || k == "id" {
					continue
				}
				var val any
				_ = json.Unmarshal(raw, &val)
				data[k] = val
			}
			e.exts[i].data = data
			s.touchLocked(e, "updated")
			return http.StatusOK, e.exts[i].json(), nil
		case http.MethodDelete:
			e.exts = slices.Delete(e.exts, i, i+1)
			s.touchLocked(e, "updated")
			return http.StatusNoContent, nil, nil
		}
		return 0, nil, methodNotAllowed()
	}
	return 0, nil, errf(http.StatusBadRequest, "BadRequest", "Resource not found for the segment.")
}
