package sotest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

// Every function in this file runs with s.mu held.

// errBadRequest marks validation failures (HTTP 400).
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return errBadRequest{fmt.Sprintf(format, args...)}
}

// participant is one normalized participant of a booking.
type participant struct {
	assoc  int
	person int
}

// writeCtx says who writes and whether the write would notify participants.
type writeCtx struct {
	by   int
	mail bool
	now  time.Time
}

// changeLog collects what a write did, for webhooks.
type changeLog struct {
	created []*appt
	changed []rowChange
	deleted []*appt
}

type rowChange struct {
	old, cur *appt
}

func (l *changeLog) change(old *appt, cur *appt) {
	l.changed = append(l.changed, rowChange{old: old, cur: cur})
}

// fields is the writable content of a row, parsed from an entity.
type fields struct {
	start, end time.Time
	allDay     bool
	title      string
	text       string
	location   string
	agenda     string
	notes      string
	task       int
	private    int
	free       bool
	alarm      bool
	lead       time.Duration
	typ        int
}

func (s *Server) parseEntity(e *wire.AppointmentEntity, z zone, base *appt) (fields, error) {
	var f fields
	if base != nil {
		f = fields{start: base.start, end: base.end, allDay: base.allDay, title: base.title, text: base.text,
			location: base.location, agenda: base.agenda, notes: base.notes, task: base.task,
			private: base.private, free: base.free, alarm: base.alarm, lead: base.lead, typ: base.typ}
	} else {
		f.typ = wire.TypeInDiary
		f.task = s.st.tasks[0].id
	}
	start, _, err := wire.ParseDate(e.StartDate, z.loc)
	if err != nil {
		return f, badRequest("StartDate: %v", err)
	}
	end, _, err := wire.ParseDate(e.EndDate, z.loc)
	if err != nil {
		return f, badRequest("EndDate: %v", err)
	}
	if !start.IsZero() {
		f.start = start
	}
	if !end.IsZero() {
		f.end = end
	}
	if f.start.IsZero() {
		f.start = s.now().Truncate(time.Hour).Add(time.Hour)
	}
	if f.end.IsZero() {
		f.end = f.start.Add(time.Hour)
	}
	f.allDay = e.IsAlldayEvent
	f.title, f.text, f.location = e.Title, e.Description, e.Location
	f.agenda, f.notes = e.Agenda, e.InternalNotes
	f.free, f.alarm = e.IsFree, e.HasAlarm
	if f.lead, err = wire.ParseTimeSpan(e.AlarmLeadTime); err != nil {
		return f, badRequest("AlarmLeadTime: %v", err)
	}
	if e.Private != "" {
		p, ok := wire.PrivateFromName(e.Private)
		if !ok {
			return f, badRequest("Private: unknown value %q", e.Private)
		}
		f.private = p
	}
	if e.Type != "" {
		t, ok := wire.TypeFromName(e.Type)
		if !ok {
			return f, badRequest("Type: unknown value %q", e.Type)
		}
		if t != 0 {
			f.typ = t
		}
	}
	if e.Task != nil {
		switch {
		case e.Task.TaskListItemId != 0:
			if s.st.taskName(e.Task.TaskListItemId) == "" {
				return f, badRequest("Task: unknown TaskListItemId %d", e.Task.TaskListItemId)
			}
			f.task = e.Task.TaskListItemId
		case e.Task.Value != "":
			if id, ok := s.st.taskByName(e.Task.Value); ok {
				f.task = id
			}
		}
	}
	if f.allDay {
		f.start, f.end = s.allDaySpan(f.start, f.end)
	}
	if f.end.Before(f.start) {
		return f, badRequest("EndDate %s is before StartDate %s", e.EndDate, e.StartDate)
	}
	return f, nil
}

// allDaySpan normalizes an all-day appointment to 00:00 of its first day and
// 23:59 of its last day in the base zone. How SuperOffice stores the end of an
// all-day appointment is not documented [unconfirmed]; clients must accept both
// 23:59 and the next midnight, so the emulator uses the form that trips clients
// assuming the other.
func (s *Server) allDaySpan(start, end time.Time) (time.Time, time.Time) {
	first := dateOf(start.In(s.loc))
	le := end.In(s.loc)
	last := dateOf(le)
	if le.Hour() == 0 && le.Minute() == 0 && last != first {
		last = last.addDays(-1)
	}
	if last.before(first) {
		last = first
	}
	return first.at(s.loc, 0), last.at(s.loc, 23*time.Hour+59*time.Minute)
}

func (f fields) apply(a *appt) {
	a.start, a.end, a.allDay = f.start, f.end, f.allDay
	a.title, a.text, a.location, a.agenda, a.notes = f.title, f.text, f.location, f.agenda, f.notes
	a.task, a.private, a.free, a.alarm, a.lead = f.task, f.private, f.free, f.alarm, f.lead
	if a.typ == wire.TypeInDiary || a.typ == wire.TypeInChecklist || a.typ == 0 {
		a.typ = f.typ
	}
}

// contentOf copies the fields a booking's rows share.
func contentOf(src, dst *appt) {
	dst.start, dst.end, dst.allDay = src.start, src.end, src.allDay
	dst.title, dst.text, dst.location, dst.agenda = src.title, src.text, src.location, src.agenda
	dst.task, dst.private, dst.free, dst.alarm, dst.lead = src.task, src.private, src.free, src.alarm, src.lead
	dst.rule = src.rule
}

// parseParticipants normalizes a participant list: associates by id, persons by
// id, and bare e-mail addresses matched to an associate or else to a person
// (created on the fly) [unconfirmed: what the real server does with an address
// that matches nobody]. The owner is left out.
func (s *Server) parseParticipants(in []wire.ParticipantInfo, owner int) ([]participant, error) {
	var out []participant
	seen := map[participant]bool{}
	for _, p := range in {
		var q participant
		switch {
		case p.AssociateId != 0:
			a := s.st.assocs[p.AssociateId]
			if a == nil || a.deleted {
				return nil, badRequest("participant associate %d does not exist", p.AssociateId)
			}
			q.assoc = a.id
		case p.PersonId != 0:
			if s.st.persons[p.PersonId] == nil {
				return nil, badRequest("participant person %d does not exist", p.PersonId)
			}
			q.person = p.PersonId
		case strings.TrimSpace(p.EmailAddress) != "":
			addr := strings.TrimSpace(p.EmailAddress)
			if a := s.st.findAssociate(addr); a != nil && strings.EqualFold(a.email, addr) {
				q.assoc = a.id
			} else if s.opts.RejectAddressOnlyParticipants {
				return nil, badRequest("participant %s is neither an associate nor a contact person", addr)
			} else {
				q.person = s.personByEmail(addr, p.Description)
			}
		default:
			continue
		}
		if q.assoc == owner || seen[q] {
			continue
		}
		seen[q] = true
		out = append(out, q)
	}
	return out, nil
}

func (s *Server) personByEmail(addr, name string) int {
	for _, id := range sortedKeys(s.st.persons) {
		if strings.EqualFold(s.st.persons[id].email, addr) {
			return id
		}
	}
	if name == "" {
		name = addr
	}
	p := &person{id: s.st.nextPerson, name: name, email: addr}
	s.st.nextPerson++
	s.st.persons[p.id] = p
	return p.id
}

// AddPerson adds an external contact person and returns its id.
func (s *Server) AddPerson(name, email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &person{id: s.st.nextPerson, name: name, email: email}
	s.st.nextPerson++
	s.st.persons[p.id] = p
	return p.id
}

// newRow makes a row for owner from fields.
func newRow(owner int, f fields, w writeCtx) *appt {
	a := &appt{assoc: owner, typ: wire.TypeInDiary, status: wire.StatusNotStarted,
		registered: w.now, regBy: w.by}
	f.apply(a)
	return a
}

// book turns an inserted row into the mother of a booking with parts, adding a
// child row per participant.
func (s *Server) book(m *appt, parts []participant, w writeCtx, log *changeLog) {
	if len(parts) == 0 {
		return
	}
	m.mother = m.id
	s.st.noteMother(m)
	for _, p := range parts {
		s.addChild(m, p, w, log)
	}
	s.mail(w, len(mailable(s, parts)))
}

func mailable(s *Server, parts []participant) []participant {
	var out []participant
	for _, p := range parts {
		if p.assoc != 0 && s.st.assocs[p.assoc].kind == kindResource {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) mail(w writeCtx, n int) {
	if w.mail && n > 0 {
		s.st.mailsSent += n
	}
}

func (s *Server) addChild(m *appt, p participant, w writeCtx, log *changeLog) *appt {
	c := &appt{assoc: m.assoc, mother: m.id, typ: wire.TypeBookingForDiary, status: wire.StatusBooking,
		registered: w.now, regBy: w.by}
	contentOf(m, c)
	if p.assoc != 0 {
		c.assoc = p.assoc
		if s.st.assocs[p.assoc].kind == kindResource {
			// Resources accept at once.
			c.typ, c.status = wire.TypeInDiary, wire.StatusNotStarted
		}
	} else {
		// An external person's row lives in the organizer's diary with the person
		// set [unconfirmed]; clients must not take it for a second appointment.
		c.personID = p.person
	}
	s.st.insertAppt(c)
	log.created = append(log.created, c)
	return c
}

func participantOf(s *Server, row *appt, motherID int) (participant, bool) {
	if row.id == motherID {
		return participant{}, false
	}
	if row.personID != 0 {
		return participant{person: row.personID}, true
	}
	return participant{assoc: row.assoc}, true
}

// updateBooking copies the mother's content to its children, marks them moved
// when the time changed, and brings the participant set in line with parts
// (nil parts leaves the set alone).
func (s *Server) updateBooking(m *appt, old appt, parts []participant, w writeCtx, log *changeLog) {
	moved := !old.start.Equal(m.start) || !old.end.Equal(m.end)
	rows := s.st.bookingRows(m.mother)
	if m.mother == 0 {
		if len(parts) > 0 {
			s.book(m, parts, w, log)
		}
		return
	}
	want := map[participant]bool{}
	for _, p := range parts {
		want[p] = true
	}
	have := map[participant]bool{}
	notified := 0
	for _, r := range rows {
		p, ok := participantOf(s, r, m.id)
		if !ok {
			continue
		}
		have[p] = true
		if parts != nil && !want[p] {
			s.st.removeAppt(r.id)
			log.deleted = append(log.deleted, r)
			notified++
			continue
		}
		before := *r
		contentOf(m, r)
		s.st.noteRule(r)
		if moved && r.status != wire.StatusBookingDeclined && !(r.assoc != 0 && s.st.assocs[r.assoc].kind == kindResource) {
			r.status = wire.StatusBookingMoved
			r.typ = wire.TypeBookingForDiary
		}
		if rowDiffers(&before, r) {
			r.touch(w.now, w.by)
			log.change(&before, r)
			if moved {
				notified++
			}
		}
	}
	for _, p := range parts {
		if !have[p] {
			s.addChild(m, p, w, log)
			notified++
		}
	}
	if parts != nil && len(parts) == 0 {
		m.mother = 0
	}
	s.mail(w, notified)
}

func rowDiffers(a, b *appt) bool {
	return !a.start.Equal(b.start) || !a.end.Equal(b.end) || a.allDay != b.allDay || a.title != b.title ||
		a.text != b.text || a.location != b.location || a.agenda != b.agenda || a.notes != b.notes ||
		a.task != b.task || a.private != b.private || a.free != b.free || a.alarm != b.alarm ||
		a.lead != b.lead || a.status != b.status || a.typ != b.typ || a.rule != b.rule || a.mother != b.mother
}

// deleteBooking deletes row r. Deleting a mother cancels the booking: its
// children become BookingDeleted, person rows go. Deleting a child removes only
// that participant's row.
func (s *Server) deleteRow(r *appt, w writeCtx, log *changeLog) {
	if r.mother != 0 && r.mother == r.id {
		n := 0
		for _, c := range s.st.bookingRows(r.id) {
			if c.id == r.id {
				continue
			}
			if c.personID != 0 {
				s.st.removeAppt(c.id)
				log.deleted = append(log.deleted, c)
				n++
				continue
			}
			before := *c
			if s.st.assocs[c.assoc].kind == kindResource {
				s.st.removeAppt(c.id)
				log.deleted = append(log.deleted, c)
				continue
			}
			c.status = wire.StatusBookingDeleted
			c.touch(w.now, w.by)
			log.change(&before, c)
			n++
		}
		s.mail(w, n)
	}
	s.st.removeAppt(r.id)
	log.deleted = append(log.deleted, r)
	s.dropEmptyRule(r.rule)
}

func (s *Server) dropEmptyRule(rule int) {
	if rule == 0 {
		return
	}
	for _, a := range s.st.appts {
		if a.rule == rule {
			return
		}
	}
	delete(s.st.rules, rule)
}

// createAppointment saves a new entity: a single row, a booking, or a series.
func (s *Server) createAppointment(e *wire.AppointmentEntity, z zone, w writeCtx, log *changeLog) (*appt, error) {
	owner := w.by
	if e.Associate != nil && e.Associate.AssociateId != 0 {
		owner = e.Associate.AssociateId
	}
	oa := s.st.assocs[owner]
	if oa == nil || oa.deleted {
		return nil, badRequest("associate %d does not exist", owner)
	}
	if oa.kind == kindSystem {
		return nil, badRequest("Associate is required: the system user has no diary")
	}
	f, err := s.parseEntity(e, z, nil)
	if err != nil {
		return nil, err
	}
	parts, err := s.parseParticipants(e.Participants, owner)
	if err != nil {
		return nil, err
	}
	if e.Recurrence != nil && e.Recurrence.IsRecurrence {
		p, err := parsePattern(e.Recurrence, z, s.loc, f.start)
		if err != nil {
			return nil, errBadRequest{err.Error()}
		}
		rows, err := s.createSeries(owner, f, p, parts, 0, w, log)
		if err != nil {
			return nil, err
		}
		return rows[0], nil
	}
	a := newRow(owner, f, w)
	s.st.insertAppt(a)
	log.created = append(log.created, a)
	s.book(a, parts, w, log)
	return a, nil
}

// createSeries expands p into rows for owner, one booking per occurrence. ruleID 0
// makes a new rule.
func (s *Server) createSeries(owner int, f fields, p pattern, parts []participant, ruleID int, w writeCtx, log *changeLog) ([]*appt, error) {
	dates, err := p.expand()
	if err != nil {
		return nil, errBadRequest{err.Error()}
	}
	if len(dates) == 0 {
		return nil, badRequest("the recurrence has no occurrences")
	}
	if ruleID == 0 {
		ruleID = s.st.nextRule
		s.st.nextRule++
	}
	s.st.rules[ruleID] = &recurRule{id: ruleID, info: p}
	clock := clockOf(f.start, s.loc)
	dur := f.end.Sub(f.start)
	spanDays := 0
	if f.allDay {
		spanDays = int(dateOf(f.end.In(s.loc)).at(time.UTC, 0).Sub(dateOf(f.start.In(s.loc)).at(time.UTC, 0)) / (24 * time.Hour))
	}
	var rows []*appt
	for _, d := range dates {
		g := f
		if f.allDay {
			g.start = d.at(s.loc, 0)
			g.end = d.addDays(spanDays).at(s.loc, 23*time.Hour+59*time.Minute)
		} else {
			g.start = d.at(s.loc, clock)
			g.end = g.start.Add(dur)
		}
		a := newRow(owner, g, w)
		a.rule = ruleID
		s.st.insertAppt(a)
		log.created = append(log.created, a)
		s.book(a, parts, w, log)
		rows = append(rows, a)
	}
	return rows, nil
}

// seriesRows returns the rows of a rule in one diary that are not participant
// copies of someone else's booking, by start.
func (s *Server) ownSeriesRows(rule, owner int) []*appt {
	var out []*appt
	for _, a := range s.st.ruleRows(rule) {
		if a.assoc == owner && (a.mother == 0 || a.mother == a.id) && a.personID == 0 {
			out = append(out, a)
		}
	}
	return out
}

// updateAppointment saves an existing row with an update mode.
func (s *Server) updateAppointment(r *appt, e *wire.AppointmentEntity, mode string, z zone, w writeCtx, log *changeLog) (*appt, error) {
	f, err := s.parseEntity(e, z, r)
	if err != nil {
		return nil, err
	}
	var parts []participant
	if e.Participants != nil {
		if parts, err = s.parseParticipants(e.Participants, r.assoc); err != nil {
			return nil, err
		}
		if parts == nil {
			parts = []participant{}
		}
	}
	mode = canonical(mode, "OnlyThis", "ThisAndForward", "StopRecurrence")
	isChild := r.mother != 0 && r.mother != r.id
	if r.rule == 0 && e.Recurrence != nil && e.Recurrence.IsRecurrence && !isChild {
		// A single appointment becomes a series starting with this row.
		p, err := parsePattern(e.Recurrence, z, s.loc, f.start)
		if err != nil {
			return nil, errBadRequest{err.Error()}
		}
		if parts == nil {
			parts = s.currentParts(r)
		}
		s.deleteRow(r, writeCtx{by: w.by, now: w.now}, log)
		rows, err := s.createSeries(r.assoc, f, p, parts, 0, w, log)
		if err != nil {
			return nil, err
		}
		return rows[0], nil
	}
	if r.rule == 0 || isChild || mode == "" || mode == "OnlyThis" {
		return s.updateOne(r, f, parts, w, log), nil
	}
	rule := s.st.rules[r.rule]
	all := s.ownSeriesRows(r.rule, r.assoc)
	var forward []*appt
	for _, a := range all {
		if !a.start.Before(r.start) {
			forward = append(forward, a)
		}
	}
	if mode == "StopRecurrence" {
		for _, a := range forward[1:] {
			s.deleteRow(a, w, log)
		}
		if rule != nil {
			rule.info.endType, rule.info.end, rule.info.count = "EndDate", dateOf(r.start.In(s.loc)), 0
		}
		return s.updateOne(r, f, parts, w, log), nil
	}
	// ThisAndForward.
	timeChanged := clockOf(f.start, s.loc) != clockOf(r.start, s.loc) || f.end.Sub(f.start) != r.end.Sub(r.start) ||
		dateOf(f.start.In(s.loc)) != dateOf(r.start.In(s.loc)) || f.allDay != r.allDay
	var np *pattern
	if e.Recurrence != nil && e.Recurrence.IsRecurrence {
		p, err := parsePattern(e.Recurrence, z, s.loc, f.start)
		if err != nil {
			return nil, errBadRequest{err.Error()}
		}
		np = &p
	}
	if parts == nil {
		parts = s.currentParts(r)
	}
	if rule != nil && np != nil && !timeChanged && samePattern(rule.info, *np) {
		// Only the end moved: extend or truncate, keeping every existing row.
		return s.resizeSeries(r, rule, *np, f, parts, all, w, log)
	}
	if timeChanged || (np != nil && rule != nil && !samePattern(rule.info, *np)) {
		p := rule.info
		if np != nil {
			p = *np
		}
		if dateOf(f.start.In(s.loc)) != p.start {
			p.start = dateOf(f.start.In(s.loc))
		}
		reuse := 0
		if len(all) > 0 && all[0].id == r.id {
			reuse = r.rule
		} else if rule != nil {
			rule.info.endType, rule.info.count = "EndDate", 0
			rule.info.end = dateOf(r.start.In(s.loc)).addDays(-1)
		}
		for _, a := range forward {
			s.deleteRow(a, writeCtx{by: w.by, now: w.now}, log)
		}
		rows, err := s.createSeries(r.assoc, f, p, parts, reuse, w, log)
		if err != nil {
			return nil, err
		}
		return rows[0], nil
	}
	// Same times, same pattern: carry the other fields forward.
	var first *appt
	for _, a := range forward {
		g := f
		g.start, g.end, g.allDay = a.start, a.end, a.allDay
		u := s.updateOne(a, g, parts, w, log)
		if first == nil {
			first = u
		}
	}
	return first, nil
}

func (s *Server) currentParts(r *appt) []participant {
	if r.mother == 0 || r.mother != r.id {
		return nil
	}
	var out []participant
	for _, c := range s.st.bookingRows(r.id) {
		if p, ok := participantOf(s, c, r.id); ok {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) resizeSeries(r *appt, rule *recurRule, np pattern, f fields, parts []participant, all []*appt, w writeCtx, log *changeLog) (*appt, error) {
	newDates, err := np.expand()
	if err != nil {
		return nil, errBadRequest{err.Error()}
	}
	oldDates, _ := rule.info.expand()
	var oldLast civilDate
	if len(oldDates) > 0 {
		oldLast = oldDates[len(oldDates)-1]
	}
	var newLast civilDate
	if len(newDates) > 0 {
		newLast = newDates[len(newDates)-1]
	}
	// Drop rows past the new end.
	for _, a := range all {
		if newLast.before(dateOf(a.start.In(s.loc))) {
			s.deleteRow(a, w, log)
		}
	}
	rule.info = np
	// Add occurrences past the old end (cancelled ones inside stay cancelled).
	var tmpl *appt
	for _, a := range all {
		if s.st.appts[a.id] != nil {
			tmpl = a
			break
		}
	}
	if tmpl == nil {
		tmpl = r
	}
	clock := clockOf(tmpl.start, s.loc)
	dur := tmpl.end.Sub(tmpl.start)
	for _, d := range newDates {
		if !oldLast.before(d) {
			continue
		}
		g := f
		g.start, g.end, g.allDay = d.at(s.loc, clock), d.at(s.loc, clock).Add(dur), tmpl.allDay
		if tmpl.allDay {
			g.start, g.end = s.allDaySpan(d.at(s.loc, 0), d.at(s.loc, 0).Add(dur))
		}
		a := newRow(r.assoc, g, w)
		a.rule = rule.id
		s.st.insertAppt(a)
		log.created = append(log.created, a)
		s.book(a, parts, w, log)
	}
	return s.st.appts[r.id], nil
}

// updateOne updates one row (and, for a mother, its booking).
func (s *Server) updateOne(r *appt, f fields, parts []participant, w writeCtx, log *changeLog) *appt {
	before := *r
	f.apply(r)
	if rowDiffers(&before, r) {
		r.touch(w.now, w.by)
		log.change(&before, r)
	}
	if r.mother == r.id || (r.mother == 0 && len(parts) > 0) {
		s.updateBooking(r, before, parts, w, log)
		if rowDiffers(&before, r) && r.updated.IsZero() {
			r.touch(w.now, w.by)
		}
	}
	return r
}

// deleteAppointment deletes a row with an update mode.
func (s *Server) deleteAppointment(r *appt, mode string, w writeCtx, log *changeLog) {
	mode = canonical(mode, "OnlyThis", "ThisAndForward", "StopRecurrence")
	if r.rule == 0 || mode != "ThisAndForward" || (r.mother != 0 && r.mother != r.id) {
		s.deleteRow(r, w, log)
		return
	}
	rule := s.st.rules[r.rule]
	for _, a := range s.ownSeriesRows(r.rule, r.assoc) {
		if !a.start.Before(r.start) {
			s.deleteRow(a, w, log)
		}
	}
	if rule != nil {
		rule.info.endType, rule.info.count = "EndDate", 0
		rule.info.end = dateOf(r.start.In(s.loc)).addDays(-1)
	}
}

// setStatus changes a participant row's status (accept, reject).
func (s *Server) setStatus(r *appt, status, typ int, reason string, w writeCtx, log *changeLog) {
	before := *r
	r.status, r.typ, r.reject = status, typ, reason
	if rowDiffers(&before, r) || before.reject != reason {
		r.touch(w.now, w.by)
		log.change(&before, r)
	}
}

var errNotFound = errors.New("not found")

func (s *Server) row(id int) (*appt, error) {
	a := s.st.appts[id]
	if a == nil {
		return nil, errNotFound
	}
	return a, nil
}

// diary returns the rows of an associate overlapping [from, to), by start.
func (s *Server) diary(assoc int, from, to time.Time) []*appt {
	var out []*appt
	for _, id := range s.st.byOwner[assoc] {
		a := s.st.appts[id]
		if a.start.Before(to) && (a.end.After(from) || (a.end.Equal(a.start) && !a.start.Before(from))) {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}
