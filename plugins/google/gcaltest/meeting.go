package gcaltest

import (
	"sort"
	"strings"
)

// Meetings: an event with attendees lives in the organizer's calendar, and Google
// puts a copy under the same event id into the calendar of every attendee it knows
// (users and resources of the domain). The organizer's writes flow to the copies;
// an attendee's answer flows back to the organizer's attendee list.

// afterWrite runs the side effects of a write of ev (prev is the state before, nil
// on insert) in calendar c: copies, resource answers and mail counting. Callers hold
// s.mu.
func (s *Server) afterWrite(c *calendar, ev, prev *event, mails bool) {
	if ev == nil {
		return
	}
	org := ""
	if ev.w.Organizer != nil {
		org = strings.ToLower(ev.w.Organizer.Email)
	}
	if org == "" || org == c.id {
		s.organizerWrote(c, ev, prev, mails)
		return
	}
	s.attendeeWrote(c, ev, prev, org, mails)
}

// organizerWrote propagates the organizer's event to the attendees' calendars.
func (s *Server) organizerWrote(c *calendar, ev, prev *event, mails bool) {
	now := attendeeSet(ev, c.id)
	var before map[string]Attendee
	if prev != nil {
		before = attendeeSet(prev, c.id)
	}
	if len(now) == 0 && len(before) == 0 {
		return
	}
	if mails {
		n := 0
		for email, a := range now {
			if !a.Resource && !s.isResource(email) {
				n++
			}
		}
		for email, a := range before {
			if _, still := now[email]; !still && !a.Resource && !s.isResource(email) {
				n++ // cancellation to a removed guest
			}
		}
		s.stats.mails += int64(n)
	}
	// Resources answer by themselves, as a change of their own after the write.
	if !ev.deleted() {
		if answered := s.resourceAnswers(ev); answered != nil {
			s.commit(c, answered)
			ev = c.events[ev.w.ID]
		}
	}
	for email := range now {
		if t := s.calendars[email]; t != nil && t != c && !t.owner.deleted {
			s.upsertCopy(t, ev)
		}
	}
	for email := range before {
		if _, still := now[email]; still {
			continue
		}
		if t := s.calendars[email]; t != nil && t != c {
			if cp := t.events[ev.w.ID]; cp != nil && !cp.deleted() {
				s.tombstone(t, cp, cp.w.RecurringEventID != "")
			}
		}
	}
}

// attendeeSet maps the attendees of ev other than the organizer by address.
func attendeeSet(ev *event, organizer string) map[string]Attendee {
	out := map[string]Attendee{}
	for _, a := range ev.w.Attendees {
		e := strings.ToLower(a.Email)
		if e != organizer {
			out[e] = a
		}
	}
	return out
}

func (s *Server) isResource(email string) bool {
	a := s.accounts[strings.ToLower(email)]
	return a != nil && a.resource
}

// resourceAnswers returns ev with every known resource's pending answer filled
// in (accepted, or declined when the resource is set to decline), or nil when no
// answer changed.
func (s *Server) resourceAnswers(ev *event) *event {
	var changed bool
	atts := append([]Attendee(nil), ev.w.Attendees...)
	for i, a := range atts {
		acct := s.accounts[strings.ToLower(a.Email)]
		if acct == nil || !acct.resource || (a.ResponseStatus != "" && a.ResponseStatus != "needsAction") {
			continue
		}
		atts[i].ResponseStatus = "accepted"
		if acct.decline || s.opts.ResourcesDeclineConflicts && s.busy(strings.ToLower(a.Email), ev) {
			atts[i].ResponseStatus = "declined"
		}
		atts[i].Resource = true
		changed = true
	}
	if !changed {
		return nil
	}
	next := *ev
	w := *ev.w
	w.Attendees = atts
	next.w = &w
	return &next
}

// upsertCopy writes the organizer's event into attendee calendar t, keeping what
// belongs to the copy: private extended properties, reminders, colour and
// transparency.
func (s *Server) upsertCopy(t *calendar, org *event) {
	w := *org.w
	cp := t.events[org.w.ID]
	w.ExtendedProperties = nil
	if org.w.ExtendedProperties != nil && len(org.w.ExtendedProperties.Shared) > 0 {
		w.ExtendedProperties = &ExtendedProperties{Shared: org.w.ExtendedProperties.Shared}
	}
	w.Reminders = &Reminders{UseDefault: true}
	if cp != nil {
		if cp.w.ExtendedProperties != nil && len(cp.w.ExtendedProperties.Private) > 0 {
			if w.ExtendedProperties == nil {
				w.ExtendedProperties = &ExtendedProperties{}
			} else {
				ext := *w.ExtendedProperties
				w.ExtendedProperties = &ext
			}
			w.ExtendedProperties.Private = cp.w.ExtendedProperties.Private
		}
		if cp.w.Reminders != nil {
			w.Reminders = cp.w.Reminders
		}
		w.ColorID = cp.w.ColorID
		w.Transparency = cp.w.Transparency
		w.Created = cp.w.Created
		if org.deleted() && cp.deleted() {
			return
		}
	} else if org.deleted() {
		// A cancelled occurrence of a series the attendee holds is cancelled in the
		// attendee's copy too; anything else the attendee never had stays absent.
		if m := t.events[org.w.RecurringEventID]; org.w.RecurringEventID == "" || m == nil || m.deleted() {
			return
		}
	}
	if org.deleted() && org.master() {
		// The organizer cancelled the series: the attendee's exceptions go with it.
		exs := exceptionsOf(t, org.w.ID)
		keys := make([]string, 0, len(exs))
		for k := range exs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ex := exs[k]; !ex.deleted() {
				s.tombstone(t, ex, false)
			}
		}
	}
	if org.deleted() && org.w.Start == nil {
		w.Reminders, w.ExtendedProperties = nil, nil
	}
	next := &event{w: &w, seqNo: org.seqNo, start: org.start, end: org.end, allDay: org.allDay, loc: org.loc,
		set: org.set, orig: org.orig, origAllDay: org.origAllDay}
	s.commit(t, next)
}

// attendeeWrote handles a write on an attendee's copy: the attendee's own answer
// (or a delete, which declines) goes back to the organizer and the other copies.
// Other edits stay local to the copy.
func (s *Server) attendeeWrote(c *calendar, ev, prev *event, org string, mails bool) {
	oc := s.calendars[org]
	if oc == nil {
		return
	}
	oev := oc.events[ev.w.ID]
	if oev == nil || oev.deleted() {
		return
	}
	answer := ""
	if ev.deleted() {
		answer = "declined"
	} else {
		for _, a := range ev.w.Attendees {
			if strings.EqualFold(a.Email, c.id) {
				answer = a.ResponseStatus
			}
		}
	}
	if answer == "" {
		return
	}
	atts := append([]Attendee(nil), oev.w.Attendees...)
	changed := false
	for i, a := range atts {
		if strings.EqualFold(a.Email, c.id) && a.ResponseStatus != answer {
			atts[i].ResponseStatus = answer
			changed = true
		}
	}
	if !changed {
		return
	}
	next := *oev
	w := *oev.w
	w.Attendees = atts
	next.w = &w
	s.commit(oc, &next)
	if mails {
		s.stats.mails++ // the reply to the organizer
	}
	stored := oc.events[ev.w.ID]
	for email := range attendeeSet(stored, oc.id) {
		if t := s.calendars[email]; t != nil && t != c && t != oc {
			s.upsertCopy(t, stored)
		}
	}
}

// busy reports whether the calendar of resource email holds a busy single event
// (not ev itself, not one it declined) that overlaps ev. Callers hold s.mu.
func (s *Server) busy(email string, ev *event) bool {
	t := s.calendars[email]
	if t == nil || len(ev.w.Recurrence) > 0 || !ev.end.After(ev.start) {
		return false
	}
	for _, e := range t.events {
		if e.w.ID == ev.w.ID || e.deleted() || e.master() || e.w.Transparency == "transparent" {
			continue
		}
		declined := false
		for _, a := range e.w.Attendees {
			if strings.EqualFold(a.Email, email) && a.ResponseStatus == "declined" {
				declined = true
			}
		}
		if !declined && e.start.Before(ev.end) && ev.start.Before(e.end) {
			return true
		}
	}
	return false
}
