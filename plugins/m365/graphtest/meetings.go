package graphtest

import (
	"slices"
	"strings"
	"time"
)

// Meetings. When a mailbox organizes an event with attendees, Exchange mails each
// attendee and puts a copy of the meeting (same iCalUId, its own id) into the calendar
// of every attendee inside the organization. Rooms answer by themselves: they accept
// (or decline, with Options.RoomsDecline) and may rewrite the subject of their copy.
// The emulator does the same synchronously and counts every mail the real service
// would have sent in /_emulator/stats ("mails_sent").
//
// Choices where the real behaviour is not documented:
//   - Deleting an attendee's copy sends nothing (only accept/decline/tentativelyAccept
//     with sendResponse answer the organizer).
//   - Changing categories, reminders or showAs of a meeting sends no update; subject,
//     body, location, times and recurrence do.
//   - Attendees' copies show "tentative" until answered; rooms that accept show busy.

func (s *Server) recordMail(kind, from, to, subject string) {
	s.stats.mail(Mail{Kind: kind, From: from, To: to, Subject: subject})
}

func (e *event) attendeeIndex(addr string) int {
	return slices.IndexFunc(e.attendees, func(a attendee) bool { return strings.EqualFold(a.address, addr) })
}

// meetingWrittenLocked reacts to a create or update of an organizer's meeting (or of
// one of its exceptions).
func (s *Server) meetingWrittenLocked(e *event, cs changeSet, created bool) {
	top := e.top()
	org := top.organizer.address
	switch {
	case created:
		for _, a := range top.attendees {
			if !strings.EqualFold(a.address, org) {
				s.recordMail("invitation", org, a.address, top.subject)
			}
		}
	case e.master != nil:
		if cs.meetingUpdate() {
			for _, a := range top.attendees {
				if !strings.EqualFold(a.address, org) {
					s.recordMail("update", org, a.address, e.subject)
				}
			}
		}
	default:
		for _, addr := range cs.addedAttendees {
			if !strings.EqualFold(addr, org) {
				s.recordMail("invitation", org, addr, top.subject)
			}
		}
		for _, addr := range cs.removedAttendees {
			if !strings.EqualFold(addr, org) {
				s.recordMail("cancellation", org, addr, top.subject)
			}
		}
		if cs.meetingUpdate() {
			for _, a := range top.attendees {
				if !strings.EqualFold(a.address, org) && !slices.ContainsFunc(cs.addedAttendees, func(x string) bool { return strings.EqualFold(x, a.address) }) {
					s.recordMail("update", org, a.address, top.subject)
				}
			}
		}
	}
	s.syncCopiesLocked(top)
}

// syncCopiesLocked makes every internal attendee's copy match the organizer's item.
func (s *Server) syncCopiesLocked(org *event) {
	existing := map[string]*event{}
	for _, k := range org.copies {
		if c := s.events[k]; c != nil {
			existing[c.cal.owner.ID] = c
		}
	}
	var keep []uint64
	orgChanged := false
	for _, a := range org.attendees {
		u := s.lookupUserLocked(a.address)
		if u == nil || u == org.cal.owner || u.NoMailbox {
			continue
		}
		c := existing[u.ID]
		delete(existing, u.ID)
		isNew := c == nil
		if isNew {
			if u.room != nil && (s.opts.RoomsDecline || s.opts.RoomsDeclineConflicts && s.roomBusyLocked(u, org)) {
				if i := org.attendeeIndex(a.address); i >= 0 && org.attendees[i].response != "declined" {
					org.attendees[i].response, org.attendees[i].time = "declined", s.now()
					orgChanged = true
					s.recordMail("response", u.Mail, org.organizer.address, "Declined: "+org.subject)
				}
				continue
			}
			c = s.newEventLocked(u.calendars[0])
			c.orgKey = org.key
			c.uidKey = org.uidKey
			if c.uidKey == 0 {
				c.uidKey = org.key
			}
			c.isOrganizer = false
			c.response = "notResponded"
			c.showAs = "tentative"
			c.categories = nil
			if u.room != nil {
				c.response, c.responseTime, c.showAs = "accepted", s.now(), "busy"
			}
		}
		s.copyMeetingFields(c, org, u)
		if isNew {
			s.insertLocked(c)
			s.touchLocked(c, "created")
			if u.room != nil {
				if i := org.attendeeIndex(a.address); i >= 0 {
					org.attendees[i].response, org.attendees[i].time = "accepted", s.now()
					orgChanged = true
				}
				s.recordMail("response", u.Mail, org.organizer.address, "Accepted: "+org.subject)
			}
		} else {
			s.touchLocked(c, "updated")
		}
		keep = append(keep, c.key)
	}
	for _, c := range existing {
		s.cancelCopyLocked(c)
	}
	org.copies = keep
	if orgChanged {
		s.touchLocked(org, "updated")
	}
}

func (s *Server) copyMeetingFields(c, org *event, u *user) {
	c.subject = org.subject
	if u.room != nil && s.opts.RoomSubjectRewrite {
		c.subject = org.organizer.name
	}
	c.bodyType, c.body = org.bodyType, org.body
	c.location = org.location
	c.start, c.end, c.startTZ, c.endTZ, c.allDay = org.start, org.end, org.startTZ, org.endTZ, org.allDay
	c.sensitivity, c.importance = org.sensitivity, org.importance
	c.attendees = slices.Clone(org.attendees)
	c.organizer = org.organizer
	c.cancelled = org.cancelled
	c.typ = org.typ
	c.rec = nil
	if org.rec != nil {
		r := *org.rec
		r.days = slices.Clone(org.rec.days)
		c.rec = &r
	}
	c.cancelledOcc = nil
	for k, v := range org.cancelledOcc {
		if c.cancelledOcc == nil {
			c.cancelledOcc = map[int64]uint64{}
		}
		c.cancelledOcc[k] = v
	}
	old := c.exceptions
	c.exceptions = nil
	for k, x := range org.exceptions {
		cx := x.clone()
		cx.master = c
		cx.isOrganizer = false
		cx.response = c.response
		cx.categories = nil
		if prev, ok := old[k]; ok {
			cx.response, cx.categories = prev.response, prev.categories
		}
		if u.room != nil && s.opts.RoomSubjectRewrite {
			cx.subject = org.organizer.name
		}
		if c.exceptions == nil {
			c.exceptions = map[int64]*event{}
		}
		c.exceptions[k] = cx
	}
}

// cancelCopyLocked: the organizer cancelled (or dropped the attendee). People keep a
// cancelled copy until they remove it; rooms drop it.
func (s *Server) cancelCopyLocked(c *event) {
	if c.cal.owner.room != nil {
		s.deleteItemLocked(c)
		return
	}
	c.cancelled = true
	if !strings.HasPrefix(c.subject, "Canceled: ") {
		c.subject = "Canceled: " + c.subject
	}
	s.touchLocked(c, "updated")
}

func (s *Server) meetingCancelledLocked(org *event) {
	for _, a := range org.attendees {
		if !strings.EqualFold(a.address, org.organizer.address) {
			s.recordMail("cancellation", org.organizer.address, a.address, org.subject)
		}
	}
	for _, k := range org.copies {
		if c := s.events[k]; c != nil {
			s.cancelCopyLocked(c)
		}
	}
	org.copies = nil
}

func (s *Server) meetingOccurrenceCancelledLocked(org *event, orig time.Time) {
	for _, a := range org.attendees {
		if !strings.EqualFold(a.address, org.organizer.address) {
			s.recordMail("cancellation", org.organizer.address, a.address, org.subject)
		}
	}
	for _, k := range org.copies {
		if c := s.events[k]; c != nil && c.typ == "seriesMaster" {
			s.cancelOccurrenceLocked(c, orig)
		}
	}
}

// respondLocked records an attendee's answer on its copy and on the organizer's item.
func (s *Server) respondLocked(c *event, resp string, send bool) {
	now := s.now()
	c.response, c.responseTime = resp, now
	switch resp {
	case "accepted":
		c.showAs = "busy"
	case "tentativelyAccepted":
		c.showAs = "tentative"
	}
	me := c.cal.owner
	if org := s.events[c.orgKey]; org != nil {
		if i := org.attendeeIndex(me.Mail); i >= 0 {
			org.attendees[i].response, org.attendees[i].time = resp, now
			s.touchLocked(org, "updated")
		}
		if send {
			s.recordMail("response", me.Mail, org.organizer.address, resp+": "+org.subject)
		}
		if resp == "declined" {
			org.copies = slices.DeleteFunc(org.copies, func(k uint64) bool { return k == c.key })
		}
	} else if send {
		s.recordMail("response", me.Mail, c.organizer.address, resp+": "+c.subject)
	}
	if resp == "declined" {
		s.deleteItemLocked(c)
		return
	}
	s.touchLocked(c, "updated")
}

// roomBusyLocked reports whether room u holds a busy single item (or exception)
// overlapping the single meeting org.
func (s *Server) roomBusyLocked(u *user, org *event) bool {
	if org.typ == "seriesMaster" || !org.end.After(org.start) {
		return false
	}
	for _, c := range u.calendars {
		for _, e := range c.events {
			if e.typ == "seriesMaster" || e.cancelled || e.showAs == "free" || e.uidKey == org.key || e.orgKey == org.key {
				continue
			}
			if e.start.Before(org.end) && org.start.Before(e.end) {
				return true
			}
		}
	}
	return false
}
