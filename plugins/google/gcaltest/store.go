package gcaltest

import (
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"synchronizer/plugins/google/internal/recur"
)

// account is a user or a resource.
type account struct {
	email     string // lower case
	name      string
	resource  bool
	admin     bool
	numericID string
	deleted   bool
	cal       *calendar

	// resources only
	resourceID  string
	category    string
	description string
	capacity    int64
	decline     bool
}

// calendar is one calendar and its events.
type calendar struct {
	id      string
	owner   *account
	tzName  string
	loc     *time.Location
	events  map[string]*event
	ids     []string // sorted event ids; rebuilt when dirty
	dirty   bool
	log     []logEntry // change log in seq order (may hold superseded entries)
	updated time.Time
}

type logEntry struct {
	seq uint64
	id  string
}

// event is one stored item of a calendar: a single event, a master, an exception,
// or the tombstone of any of them.
type event struct {
	w      *Event // stored form; never mutated after commit (copy on write)
	seq    uint64
	etag   string
	seqNo  int64 // iCalendar SEQUENCE
	start  time.Time
	end    time.Time
	allDay bool
	loc    *time.Location // zone of the series / of the event
	set    *recur.Set     // masters only
	orig   time.Time      // exceptions: original start instant
	// origAllDay marks an exception of an all-day series.
	origAllDay bool
}

func (e *event) deleted() bool   { return e.w.Status == "cancelled" }
func (e *event) master() bool    { return len(e.w.Recurrence) > 0 && e.w.RecurringEventID == "" }
func (e *event) exception() bool { return e.w.RecurringEventID != "" }

func (c *calendar) clear() {
	c.events = map[string]*event{}
	c.ids = nil
	c.dirty = false
	c.log = nil
}

// sortedIDs returns the calendar's event ids in order.
func (c *calendar) sortedIDs() []string {
	if c.dirty || len(c.ids) != len(c.events) {
		c.ids = c.ids[:0]
		for id := range c.events {
			c.ids = append(c.ids, id)
		}
		sort.Strings(c.ids)
		c.dirty = false
	}
	return c.ids
}

// commit stores ev as the new state of its id: a new change number, etag and update
// time, an entry in the change log, and push notifications. Callers hold s.mu.
func (s *Server) commit(c *calendar, ev *event) {
	s.seq++
	ev.seq = s.seq
	now := s.now()
	ev.etag = fmt.Sprintf(`"3%015d"`, s.seq)
	w := *ev.w
	w.Updated = formatUpdated(now)
	if w.Created == "" {
		w.Created = w.Updated
	}
	ev.w = &w
	if _, ok := c.events[w.ID]; !ok {
		c.dirty = true
	}
	c.events[w.ID] = ev
	c.log = append(c.log, logEntry{seq: ev.seq, id: w.ID})
	c.updated = now
	if len(c.log) > 2*len(c.events)+1024 {
		c.compact()
	}
	s.notifyLocked(c)
}

// compact drops superseded change-log entries.
func (c *calendar) compact() {
	out := make([]logEntry, 0, len(c.events))
	for id, ev := range c.events {
		out = append(out, logEntry{seq: ev.seq, id: id})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	c.log = out
}

// changedSince returns the events changed after seq and at or before upto, in
// change order.
func (c *calendar) changedSince(seq, upto uint64) []*event {
	i := sort.Search(len(c.log), func(i int) bool { return c.log[i].seq > seq })
	var out []*event
	for ; i < len(c.log) && c.log[i].seq <= upto; i++ {
		ev := c.events[c.log[i].id]
		if ev != nil && ev.seq == c.log[i].seq {
			out = append(out, ev)
		}
	}
	return out
}

// calendarByID finds a calendar by id ("primary" = the principal's own).
func (s *Server) calendarByID(pr *principal, id string) (*calendar, *gerr) {
	if id == "primary" {
		if pr.acct == nil || pr.acct.cal == nil {
			return nil, errNotFound()
		}
		return pr.acct.cal, nil
	}
	c := s.calendars[strings.ToLower(id)]
	if c == nil || c.owner.deleted {
		return nil, errNotFound()
	}
	if !s.canAccess(pr, c) {
		// Google answers 404 for a calendar the caller cannot see.
		return nil, errNotFound()
	}
	return c, nil
}

// canAccess: owners reach their own calendar; admins reach every resource calendar;
// the admin token reaches everything.
func (s *Server) canAccess(pr *principal, c *calendar) bool {
	if pr.super {
		return true
	}
	if pr.acct == nil {
		return false
	}
	if pr.acct == c.owner {
		return true
	}
	return c.owner.resource && pr.acct.admin
}

// accessRole is the role the principal has on c.
func accessRole(pr *principal, c *calendar) string {
	if pr.acct != nil && pr.acct == c.owner {
		return "owner"
	}
	return "writer"
}

// newEventID makes a base32hex id that is unique in the server.
func (s *Server) newEventID(c *calendar) string {
	for {
		s.seq++ // ids consume change numbers too, which keeps them unique
		h := sha1.Sum([]byte(fmt.Sprintf("%s/%d", c.id, s.seq)))
		id := strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:16]))
		if c.events[id] == nil {
			return id
		}
	}
}

// validID is Google's rule for client-chosen ids: base32hex, 5 to 1024 characters.
func validID(id string) bool {
	if len(id) < 5 || len(id) > 1024 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'v' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// splitInstanceID parses "<master>_20240506T070000Z" or "<master>_20240506".
func splitInstanceID(id string) (masterID string, orig time.Time, allDay bool, ok bool) {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 {
		return "", time.Time{}, false, false
	}
	suffix := id[i+1:]
	switch len(suffix) {
	case len("20060102T150405Z"):
		t, err := time.Parse("20060102T150405Z", suffix)
		if err != nil {
			return "", time.Time{}, false, false
		}
		return id[:i], t, false, true
	case len("20060102"):
		t, err := time.Parse("20060102", suffix)
		if err != nil {
			return "", time.Time{}, false, false
		}
		return id[:i], t, true, true
	}
	return "", time.Time{}, false, false
}

// instanceID names an occurrence of master starting at orig.
func instanceID(masterID string, orig time.Time, allDay bool) string {
	if allDay {
		return masterID + "_" + orig.UTC().Format("20060102")
	}
	return masterID + "_" + orig.UTC().Format("20060102T150405Z")
}

// parseEDT reads an EventDateTime. All-day dates become midnight in the calendar's
// zone (that is how they are compared with timeMin/timeMax).
func (s *Server) parseEDT(d *EventDateTime, which string, calLoc *time.Location) (t time.Time, allDay bool, loc *time.Location, e *gerr) {
	if d == nil || (d.Date == "" && d.DateTime == "") {
		return time.Time{}, false, nil, &gerr{code: 400, domain: "global", reason: "required",
			message: "Missing " + which + " time."}
	}
	if d.Date != "" && d.DateTime != "" {
		return time.Time{}, false, nil, errInvalid(which, "Invalid "+which+" time: date and dateTime are both set.")
	}
	loc = calLoc
	if d.TimeZone != "" {
		l, err := s.zones.Load(d.TimeZone)
		if err != nil || d.TimeZone == "Local" {
			return time.Time{}, false, nil, errInvalid(which+".timeZone", "Invalid time zone definition for "+which+" time.")
		}
		loc = l
	}
	if d.Date != "" {
		day, err := time.ParseInLocation(dateLayout, d.Date, calLoc)
		if err != nil {
			return time.Time{}, false, nil, errInvalid(which+".date", "Invalid "+which+" time.")
		}
		return day, true, loc, nil
	}
	t, err := time.Parse(time.RFC3339Nano, d.DateTime)
	if err != nil {
		if d.TimeZone == "" {
			return time.Time{}, false, nil, errInvalid(which+".dateTime", "Invalid "+which+" time.")
		}
		t, err = time.ParseInLocation("2006-01-02T15:04:05", d.DateTime, loc)
		if err != nil {
			return time.Time{}, false, nil, errInvalid(which+".dateTime", "Invalid "+which+" time.")
		}
	}
	return t.Truncate(time.Second), false, loc, nil
}

// canonicalEDT renders an instant the way the emulator stores it.
func canonicalEDT(t time.Time, allDay bool, loc *time.Location, tz string) *EventDateTime {
	if allDay {
		return &EventDateTime{Date: t.Format(dateLayout)}
	}
	return &EventDateTime{DateTime: t.In(loc).Format(time.RFC3339), TimeZone: tz}
}

// build validates a wire event and computes its internal form for calendar c.
// prev is the event being replaced (nil on insert).
func (s *Server) build(c *calendar, w *Event, prev *event) (*event, *gerr) {
	ev := &event{w: w}
	if w.Status == "cancelled" && prev != nil && len(w.Attendees) == 0 && w.Start == nil {
		// A cancelled stub (exception tombstone) keeps no times of its own.
		ev.start, ev.end, ev.allDay, ev.loc = prev.start, prev.end, prev.allDay, prev.loc
		ev.orig, ev.origAllDay = prev.orig, prev.origAllDay
		return ev, nil
	}
	start, sAllDay, sLoc, e := s.parseEDT(w.Start, "start", c.loc)
	if e != nil {
		return nil, e
	}
	end, eAllDay, eLoc, e := s.parseEDT(w.End, "end", c.loc)
	if e != nil {
		return nil, e
	}
	if sAllDay != eAllDay {
		return nil, errInvalid("end", "Start and end times must either both be date or both be dateTime.")
	}
	if end.Before(start) || (sAllDay && !end.After(start)) {
		return nil, &gerr{code: 400, domain: "calendar", reason: "timeRangeEmpty", message: "The specified time range is empty.",
			locType: "parameter", location: "end"}
	}
	ev.start, ev.end, ev.allDay, ev.loc = start, end, sAllDay, sLoc
	w.Start = canonicalEDT(start, sAllDay, sLoc, w.Start.TimeZone)
	w.End = canonicalEDT(end, eAllDay, eLoc, w.End.TimeZone)
	switch w.Status {
	case "", "confirmed", "tentative", "cancelled":
	default:
		return nil, errInvalid("status", "Invalid value for status: "+w.Status)
	}
	switch w.Transparency {
	case "", "opaque", "transparent":
	default:
		return nil, errInvalid("transparency", "Invalid value for transparency: "+w.Transparency)
	}
	switch w.Visibility {
	case "", "default", "public", "private", "confidential":
	default:
		return nil, errInvalid("visibility", "Invalid value for visibility: "+w.Visibility)
	}
	switch w.EventType {
	case "", "default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday":
	default:
		return nil, errInvalid("eventType", "Invalid value for eventType: "+w.EventType)
	}
	if r := w.Reminders; r != nil {
		if len(r.Overrides) > 5 {
			return nil, errInvalid("reminders.overrides", "Too many reminders.")
		}
		for _, o := range r.Overrides {
			if (o.Method != "popup" && o.Method != "email") || o.Minutes < 0 || o.Minutes > 40320 {
				return nil, errInvalid("reminders.overrides", "Invalid reminder.")
			}
		}
		if r.UseDefault && len(r.Overrides) > 0 {
			return nil, &gerr{code: 400, domain: "calendar", reason: "cannotUseDefaultRemindersAndSpecifyOverride",
				message: "Cannot specify both default reminders and overrides at the same time."}
		}
	}
	for _, a := range w.Attendees {
		if a.Email == "" {
			return nil, errRequired("attendees.email")
		}
		switch a.ResponseStatus {
		case "", "needsAction", "declined", "tentative", "accepted":
		default:
			return nil, errInvalid("attendees.responseStatus", "Invalid attendee response status.")
		}
	}
	if e := checkExtendedProperties(w.ExtendedProperties); e != nil {
		return nil, e
	}
	if len(w.Recurrence) > 0 {
		if w.RecurringEventID != "" {
			return nil, errInvalid("recurrence", "An instance of a recurring event cannot have a recurrence.")
		}
		if !sAllDay && w.Start.TimeZone == "" {
			return nil, errInvalid("start.timeZone", "Missing time zone definition for start time.")
		}
		set, err := recur.Parse(w.Recurrence, start, sLoc, sAllDay)
		if err != nil {
			return nil, errInvalid("recurrence", "Invalid recurrence rule.")
		}
		ev.set = set
	}
	if w.RecurringEventID != "" {
		if prev != nil {
			ev.orig, ev.origAllDay = prev.orig, prev.origAllDay
		}
	}
	return ev, nil
}

// checkExtendedProperties applies the size limits. [unconfirmed: the commonly quoted
// limits are key <= 44 characters, value <= 1024, at most 300 properties, 32 kB total.]
func checkExtendedProperties(p *ExtendedProperties) *gerr {
	if p == nil {
		return nil
	}
	n, size := 0, 0
	for _, m := range []map[string]string{p.Private, p.Shared} {
		for k, v := range m {
			if k == "" || len(k) > 44 || len(v) > 1024 {
				return errInvalid("extendedProperties", "Invalid extended property: key or value too long.")
			}
			n++
			size += len(k) + len(v)
		}
	}
	if n > 300 || size > 32*1024 {
		return errInvalid("extendedProperties", "Too many extended properties.")
	}
	return nil
}

// render returns the wire form of ev as seen from calendar c. tz (optional) is the
// zone dateTime values are written in.
func render(c *calendar, ev *event, tz *time.Location) *Event {
	w := *ev.w
	w.Kind = "calendar#event"
	w.Etag = ev.etag
	if w.Status == "" {
		w.Status = "confirmed"
	}
	seq := ev.seqNo
	w.Sequence = &seq
	if w.Organizer != nil {
		o := *w.Organizer
		o.Self = strings.EqualFold(o.Email, c.id)
		w.Organizer = &o
	}
	if w.Creator != nil {
		cr := *w.Creator
		cr.Self = strings.EqualFold(cr.Email, c.id)
		w.Creator = &cr
	}
	if len(w.Attendees) > 0 {
		as := make([]Attendee, len(w.Attendees))
		for i, a := range w.Attendees {
			a.Self = strings.EqualFold(a.Email, c.id)
			a.Organizer = w.Organizer != nil && strings.EqualFold(a.Email, w.Organizer.Email)
			if a.ResponseStatus == "" {
				a.ResponseStatus = "needsAction"
			}
			as[i] = a
		}
		w.Attendees = as
	}
	if tz != nil && !ev.allDay && w.Start != nil && w.End != nil {
		w.Start = &EventDateTime{DateTime: ev.start.In(tz).Format(time.RFC3339), TimeZone: w.Start.TimeZone}
		w.End = &EventDateTime{DateTime: ev.end.In(tz).Format(time.RFC3339), TimeZone: w.End.TimeZone}
	}
	return &w
}

// stub is the minimal form of a cancelled item in lists and incremental sync:
// id only, plus recurringEventId and originalStartTime for a cancelled occurrence
// of a series that is still alive.
func stub(c *calendar, ev *event) *Event {
	w := &Event{Kind: "calendar#event", Etag: ev.etag, ID: ev.w.ID, Status: "cancelled"}
	if ev.w.RecurringEventID != "" {
		if m := c.events[ev.w.RecurringEventID]; m != nil && !m.deleted() {
			w.RecurringEventID = ev.w.RecurringEventID
			w.OriginalStartTime = ev.w.OriginalStartTime
		}
	}
	return w
}

// instanceOf builds the (unstored) occurrence of master m starting at orig.
func instanceOf(m *event, orig time.Time) *event {
	w := *m.w
	dur := m.end.Sub(m.start)
	w.Recurrence = nil
	w.RecurringEventID = m.w.ID
	var start, end time.Time
	if m.allDay {
		// Occurrences of all-day series are dates; keep the calendar-zone midnight form.
		y, mo, d := orig.UTC().Date()
		start = time.Date(y, mo, d, 0, 0, 0, 0, m.start.Location())
		days := int(dur.Hours()/24 + 0.5)
		end = start.AddDate(0, 0, days)
		w.ID = instanceID(m.w.ID, orig, true)
		w.OriginalStartTime = &EventDateTime{Date: start.Format(dateLayout)}
	} else {
		start = orig
		end = orig.Add(dur)
		w.ID = instanceID(m.w.ID, orig, false)
		w.OriginalStartTime = &EventDateTime{DateTime: orig.In(m.loc).Format(time.RFC3339), TimeZone: m.w.Start.TimeZone}
	}
	w.Start = canonicalEDT(start, m.allDay, m.loc, m.w.Start.TimeZone)
	w.End = canonicalEDT(end, m.allDay, m.loc, m.w.End.TimeZone)
	return &event{w: &w, seq: m.seq, etag: m.etag, seqNo: m.seqNo, start: start, end: end, allDay: m.allDay,
		loc: m.loc, orig: orig, origAllDay: m.allDay}
}

// occurrenceKey is how exceptions are matched with rule occurrences.
func occurrenceKey(t time.Time, allDay bool) string {
	if allDay {
		return t.UTC().Format("20060102")
	}
	return t.UTC().Format("20060102T150405Z")
}

// seriesOccurrence returns the occurrence start of master m at the instance id's
// time, and whether the rule produces it.
func seriesOccurrence(m *event, orig time.Time, allDay bool) (time.Time, bool) {
	if m.set == nil || m.allDay != allDay {
		return time.Time{}, false
	}
	if allDay {
		t := time.Date(orig.Year(), orig.Month(), orig.Day(), 0, 0, 0, 0, time.UTC)
		return t, m.set.Contains(t)
	}
	return orig, m.set.Contains(orig.In(m.loc))
}

// resolve finds an event by id in c: a stored item, or an occurrence of a stored
// series not yet modified (materialised on the fly).
func (s *Server) resolve(c *calendar, id string) (*event, bool) {
	if ev := c.events[id]; ev != nil {
		return ev, true
	}
	mid, orig, allDay, ok := splitInstanceID(id)
	if !ok {
		return nil, false
	}
	m := c.events[mid]
	if m == nil || !m.master() || m.deleted() {
		return nil, false
	}
	o, ok := seriesOccurrence(m, orig, allDay)
	if !ok {
		return nil, false
	}
	return instanceOf(m, o), false
}

// exceptionsOf returns the stored exceptions of master id, keyed by occurrence.
func exceptionsOf(c *calendar, masterID string) map[string]*event {
	out := map[string]*event{}
	prefix := masterID + "_"
	ids := c.sortedIDs()
	i := sort.SearchStrings(ids, prefix)
	for ; i < len(ids) && strings.HasPrefix(ids[i], prefix); i++ {
		ev := c.events[ids[i]]
		if ev != nil && ev.w.RecurringEventID == masterID {
			out[occurrenceKey(ev.orig, ev.origAllDay)] = ev
		}
	}
	return out
}

// errNoCalendar is returned by the Go seeding API for unknown accounts.
var errNoCalendar = errors.New("no such calendar")

// u64 encodes v for tokens.
func u64(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
