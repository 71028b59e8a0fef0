package gcaltest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listOpts are the parsed parameters of events.list / instances / watch.
type listOpts struct {
	maxResults     int
	showDeleted    bool
	showDeletedSet bool
	singleEvents   bool
	timeMin        time.Time
	timeMax        time.Time
	updatedMin     time.Time
	orderBy        string
	q              string
	iCalUID        string
	private        map[string]string
	shared         map[string]string
	eventTypes     map[string]bool
	tz             *time.Location
	syncToken      string
	pageToken      string
	originalStart  time.Time
}

// farFuture bounds expansions without timeMax.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// maxUnboundedInstances caps the occurrences of one endless series when the request
// has no timeMax. [unconfirmed: Google's own cap is not documented.]
const maxUnboundedInstances = 730

func parseBool(q map[string][]string, k string) (val, set bool, e *gerr) {
	v := first(q, k)
	switch v {
	case "":
		return false, false, nil
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, errInvalid(k, "Invalid boolean value: "+v)
}

func parseTime(q map[string][]string, k string) (time.Time, *gerr) {
	v := first(q, k)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errInvalid(k, "Bad Request: "+k+" must be an RFC3339 timestamp with a time zone offset.")
	}
	return t, nil
}

func parseListOpts(q map[string][]string) (*listOpts, *gerr) {
	o := &listOpts{maxResults: 250}
	if v := first(q, "maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errInvalid("maxResults", "Invalid value for maxResults: "+v)
		}
		if n > 2500 { // "The page size can never be larger than 2500 events."
			n = 2500
		}
		o.maxResults = n
	}
	var e *gerr
	if o.showDeleted, o.showDeletedSet, e = parseBool(q, "showDeleted"); e != nil {
		return nil, e
	}
	if o.singleEvents, _, e = parseBool(q, "singleEvents"); e != nil {
		return nil, e
	}
	for _, k := range []string{"showHiddenInvitations", "alwaysIncludeEmail"} {
		if _, _, e = parseBool(q, k); e != nil {
			return nil, e
		}
	}
	if o.timeMin, e = parseTime(q, "timeMin"); e != nil {
		return nil, e
	}
	if o.timeMax, e = parseTime(q, "timeMax"); e != nil {
		return nil, e
	}
	if !o.timeMin.IsZero() && !o.timeMax.IsZero() && !o.timeMin.Before(o.timeMax) {
		return nil, &gerr{code: 400, domain: "calendar", reason: "timeRangeEmpty", message: "The specified time range is empty.",
			locType: "parameter", location: "timeMax"}
	}
	if o.updatedMin, e = parseTime(q, "updatedMin"); e != nil {
		return nil, e
	}
	if t, e := parseTime(q, "originalStart"); e != nil {
		return nil, e
	} else {
		o.originalStart = t
	}
	o.orderBy = first(q, "orderBy")
	switch o.orderBy {
	case "", "updated":
	case "startTime":
		if !o.singleEvents {
			return nil, errInvalid("orderBy", "The requested ordering is not available for the particular query.")
		}
	default:
		return nil, errInvalid("orderBy", "Invalid value for orderBy: "+o.orderBy)
	}
	o.q = strings.ToLower(first(q, "q"))
	o.iCalUID = first(q, "iCalUID")
	var err *gerr
	if o.private, err = parseProps(q["privateExtendedProperty"], "privateExtendedProperty"); err != nil {
		return nil, err
	}
	if o.shared, err = parseProps(q["sharedExtendedProperty"], "sharedExtendedProperty"); err != nil {
		return nil, err
	}
	if ts := q["eventTypes"]; len(ts) > 0 {
		o.eventTypes = map[string]bool{}
		for _, t := range ts {
			o.eventTypes[t] = true
		}
	}
	if v := first(q, "timeZone"); v != "" {
		l, err := time.LoadLocation(v)
		if err != nil {
			return nil, errInvalid("timeZone", "Invalid time zone: "+v)
		}
		o.tz = l
	}
	if v := first(q, "maxAttendees"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return nil, errInvalid("maxAttendees", "Invalid value for maxAttendees")
		}
	}
	o.syncToken = first(q, "syncToken")
	o.pageToken = first(q, "pageToken")
	if o.syncToken != "" {
		// These cannot be combined with syncToken (discovery document, syncToken).
		for _, k := range []string{"iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty",
			"timeMin", "timeMax", "updatedMin"} {
			if first(q, k) != "" {
				return nil, errInvalid(k, fmt.Sprintf("Sync token cannot be combined with the %s parameter.", k))
			}
		}
		if o.showDeletedSet && !o.showDeleted {
			return nil, errInvalid("showDeleted", "Sync token cannot be combined with showDeleted=false: deleted events are always included.")
		}
	}
	return o, nil
}

// parseProps reads repeated "key=value" constraints (all must match).
func parseProps(vals []string, name string) (map[string]string, *gerr) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, errInvalid(name, "Invalid value for "+name+": want key=value")
		}
		m[k] = val
	}
	return m, nil
}

// syncable tells whether a list's answer carries a nextSyncToken. [unconfirmed:
// lists filtered by something a sync token cannot carry give none; timeMin/timeMax
// do give one, as integrators report.]
func (o *listOpts) syncable() bool {
	return o.iCalUID == "" && o.orderBy == "" && o.q == "" && o.private == nil && o.shared == nil && o.updatedMin.IsZero()
}

// inRange applies timeMin (exclusive bound on the end) and timeMax (exclusive bound
// on the start).
func (o *listOpts) inRange(start, end time.Time) bool {
	if !o.timeMin.IsZero() {
		if end.Equal(start) {
			if start.Before(o.timeMin) {
				return false
			}
		} else if !end.After(o.timeMin) {
			return false
		}
	}
	if !o.timeMax.IsZero() && !start.Before(o.timeMax) {
		return false
	}
	return true
}

// matches applies the filters other than time and deletion.
func (o *listOpts) matches(ev *event) bool {
	w := ev.w
	if o.iCalUID != "" && w.ICalUID != o.iCalUID {
		return false
	}
	if !o.updatedMin.IsZero() {
		u, err := time.Parse(time.RFC3339Nano, w.Updated)
		if err == nil && u.Before(o.updatedMin) {
			return false
		}
	}
	for k, v := range o.private {
		if w.ExtendedProperties == nil || w.ExtendedProperties.Private[k] != v {
			return false
		}
		if _, ok := w.ExtendedProperties.Private[k]; !ok {
			return false
		}
	}
	for k, v := range o.shared {
		if w.ExtendedProperties == nil || w.ExtendedProperties.Shared[k] != v {
			return false
		}
		if _, ok := w.ExtendedProperties.Shared[k]; !ok {
			return false
		}
	}
	if o.eventTypes != nil {
		t := w.EventType
		if t == "" {
			t = "default"
		}
		if !o.eventTypes[t] {
			return false
		}
	}
	if o.q != "" {
		hay := strings.ToLower(w.Summary + "\n" + w.Description + "\n" + w.Location)
		for _, a := range w.Attendees {
			hay += "\n" + strings.ToLower(a.Email+" "+a.DisplayName)
		}
		if !strings.Contains(hay, o.q) {
			return false
		}
	}
	return true
}

// includeFull decides whether a stored item belongs in a non-expanded list.
func (o *listOpts) includeFull(c *calendar, ev *event) bool {
	if ev.deleted() {
		alive := false
		if ev.w.RecurringEventID != "" {
			m := c.events[ev.w.RecurringEventID]
			alive = m != nil && !m.deleted()
		}
		// Cancelled occurrences of a live series are listed whenever singleEvents is
		// false; other deletions only with showDeleted.
		if !alive && !o.showDeleted {
			return false
		}
	}
	if !o.matches(ev) {
		return false
	}
	if ev.set != nil && ev.w.RecurringEventID == "" {
		if o.timeMin.IsZero() && o.timeMax.IsZero() {
			return true
		}
		max := o.timeMax
		if max.IsZero() {
			max = farFuture
		}
		return ev.set.Overlaps(o.timeMin, max, ev.end.Sub(ev.start))
	}
	return o.inRange(ev.start, ev.end)
}

// eventsEnvelope is the calendar#events answer around items.
func (c *call) eventsEnvelope(cal *calendar, items []*Event) *Events {
	upd := cal.updated
	if upd.IsZero() {
		upd = c.s.now()
	}
	rem := []Reminder{}
	if !cal.owner.resource {
		rem = []Reminder{{Method: "popup", Minutes: 10}}
	}
	if items == nil {
		items = []*Event{}
	}
	return &Events{Kind: "calendar#events", Etag: fmt.Sprintf(`"p3%014d"`, c.s.seq), Summary: cal.summary(),
		Updated: formatUpdated(upd), TimeZone: cal.tzName, AccessRole: accessRole(c.pr, cal),
		DefaultReminders: rem, Items: items}
}

// pageSize is the number of items a page holds: maxResults, or with the short_pages
// fault a random smaller number (sometimes zero) while more remain.
func (s *Server) pageSize(max int) int {
	if s.faults.ShortPages && max > 0 {
		return s.rng.IntN(max)
	}
	return max
}

// eventsList is events.list.
func (c *call) eventsList() (*response, *gerr) {
	o, e := parseListOpts(c.q)
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
	hash := paramsHash("events:"+cal.id, c.q)
	var out *Events
	switch {
	case o.syncToken != "":
		out, e = c.listChanges(cal, o, hash)
	case o.singleEvents:
		out, e = c.listExpanded(cal, o, hash)
	default:
		out, e = c.listStored(cal, o, hash)
	}
	if e != nil {
		return nil, e
	}
	for _, w := range out.Items {
		if e := c.limitAttendees(w); e != nil {
			return nil, e
		}
	}
	return jsonResponse(200, out), nil
}

// listStored lists stored items in id order (or by update time).
func (c *call) listStored(cal *calendar, o *listOpts, hash string) (*Events, *gerr) {
	s := c.s
	pt := pageToken{Kind: "list", Hash: hash, Snapshot: s.seq}
	if o.pageToken != "" {
		var e *gerr
		if pt, e = decodePageToken(o.pageToken, "list", hash); e != nil {
			return nil, e
		}
	}
	size := s.pageSize(o.maxResults)
	var items []*Event
	more := false
	if o.orderBy == "updated" {
		all := make([]*event, 0, len(cal.events))
		for _, id := range cal.sortedIDs() {
			if ev := cal.events[id]; o.includeFull(cal, ev) {
				all = append(all, ev)
			}
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].seq < all[j].seq })
		for i := pt.Offset; i < len(all); i++ {
			if len(items) == size {
				more = true
				break
			}
			items = append(items, c.renderListed(cal, all[i], o))
		}
		pt.Offset += len(items)
	} else {
		ids := cal.sortedIDs()
		i := 0
		if pt.After != "" {
			i = sort.SearchStrings(ids, pt.After)
			if i < len(ids) && ids[i] == pt.After {
				i++
			}
		}
		for ; i < len(ids); i++ {
			ev := cal.events[ids[i]]
			if !o.includeFull(cal, ev) {
				continue
			}
			if len(items) == size {
				more = true
				break
			}
			items = append(items, c.renderListed(cal, ev, o))
			pt.After = ids[i]
		}
	}
	out := c.eventsEnvelope(cal, items)
	if more {
		out.NextPageToken = pt.encode()
	} else if o.syncable() {
		out.NextSyncToken = s.issueSyncToken(cal, pt.Snapshot)
	}
	return out, nil
}

func (c *call) renderListed(cal *calendar, ev *event, o *listOpts) *Event {
	if ev.deleted() {
		return stub(cal, ev)
	}
	return render(cal, ev, o.tz)
}

// expand returns the instances of the stored items for singleEvents=true.
func (c *call) expand(cal *calendar, evs []*event, o *listOpts) []*event {
	var out []*event
	for _, ev := range evs {
		switch {
		case ev.set != nil && ev.w.RecurringEventID == "":
			if ev.deleted() {
				continue
			}
			out = append(out, seriesInstances(cal, ev, o)...)
		case ev.w.RecurringEventID != "" && liveMaster(cal, ev.w.RecurringEventID):
			// Listed by its series' expansion.
		case ev.deleted():
			if o.showDeleted && ev.w.RecurringEventID != "" && o.matches(ev) && o.inRange(ev.start, ev.end) {
				out = append(out, ev)
			}
		default:
			if o.matches(ev) && o.inRange(ev.start, ev.end) {
				out = append(out, ev)
			}
		}
	}
	return out
}

func liveMaster(cal *calendar, id string) bool {
	m := cal.events[id]
	return m != nil && !m.deleted() && m.set != nil
}

// seriesInstances expands master m inside o's time range: rule occurrences without
// an exception, and the exceptions themselves (cancelled ones with showDeleted).
func seriesInstances(cal *calendar, m *event, o *listOpts) []*event {
	ex := exceptionsOf(cal, m.w.ID)
	dur := m.end.Sub(m.start)
	from := o.timeMin
	if !from.IsZero() {
		from = from.Add(-dur)
	}
	to, max := o.timeMax, 0
	if to.IsZero() {
		to, max = farFuture, maxUnboundedInstances
	}
	var out []*event
	for _, t := range m.set.Between(from, to, max) {
		key := occurrenceKey(t, m.allDay)
		if x, ok := ex[key]; ok {
			delete(ex, key)
			if x.deleted() && !o.showDeleted {
				continue
			}
			if o.matches(x) && (x.deleted() || o.inRange(x.start, x.end)) {
				out = append(out, x)
			}
			continue
		}
		inst := instanceOf(m, t)
		if !o.originalStart.IsZero() && !inst.orig.Equal(o.originalStart) {
			continue
		}
		if o.matches(inst) && o.inRange(inst.start, inst.end) {
			out = append(out, inst)
		}
	}
	// Exceptions moved away from their rule slot, or on slots outside the range.
	for _, x := range ex {
		if x.deleted() {
			continue
		}
		if o.matches(x) && o.inRange(x.start, x.end) {
			out = append(out, x)
		}
	}
	if !o.originalStart.IsZero() {
		var kept []*event
		for _, x := range out {
			if x.orig.Equal(o.originalStart) {
				kept = append(kept, x)
			}
		}
		out = kept
	}
	return out
}

// listExpanded lists with singleEvents=true.
func (c *call) listExpanded(cal *calendar, o *listOpts, hash string) (*Events, *gerr) {
	s := c.s
	pt := pageToken{Kind: "single", Hash: hash, Snapshot: s.seq}
	if o.pageToken != "" {
		var e *gerr
		if pt, e = decodePageToken(o.pageToken, "single", hash); e != nil {
			return nil, e
		}
	}
	var stored []*event
	for _, id := range cal.sortedIDs() {
		stored = append(stored, cal.events[id])
	}
	all := c.expand(cal, stored, o)
	sortInstances(all, o.orderBy)
	items, next := c.pageOf(cal, all, &pt, o)
	out := c.eventsEnvelope(cal, items)
	if next {
		out.NextPageToken = pt.encode()
	} else if o.syncable() {
		out.NextSyncToken = s.issueSyncToken(cal, pt.Snapshot)
	}
	return out, nil
}

func sortInstances(all []*event, orderBy string) {
	switch orderBy {
	case "startTime":
		sort.SliceStable(all, func(i, j int) bool {
			if !all[i].start.Equal(all[j].start) {
				return all[i].start.Before(all[j].start)
			}
			return all[i].w.ID < all[j].w.ID
		})
	case "updated":
		sort.SliceStable(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	default:
		sort.SliceStable(all, func(i, j int) bool { return all[i].w.ID < all[j].w.ID })
	}
}

// pageOf cuts one page out of a sorted list by offset.
func (c *call) pageOf(cal *calendar, all []*event, pt *pageToken, o *listOpts) ([]*Event, bool) {
	size := c.s.pageSize(o.maxResults)
	var items []*Event
	i := pt.Offset
	for ; i < len(all) && len(items) < size; i++ {
		items = append(items, c.renderListed(cal, all[i], o))
	}
	pt.Offset = i
	return items, i < len(all)
}

// listChanges is an incremental list: everything changed since the sync token, the
// whole calendar, deletions as cancelled stubs.
func (c *call) listChanges(cal *calendar, o *listOpts, hash string) (*Events, *gerr) {
	s := c.s
	tok, e := s.parseSyncToken(cal, o.syncToken)
	if e != nil {
		return nil, e
	}
	pt := pageToken{Kind: "sync", Hash: hash, Snapshot: s.seq, Base: tok.seq, Serial: tok.serial}
	if o.pageToken != "" {
		if pt, e = decodePageToken(o.pageToken, "sync", hash); e != nil {
			return nil, e
		}
		if pt.Serial < s.tokFloor {
			return nil, errFullSync()
		}
	}
	after := pt.Base
	if pt.After != "" {
		after, _ = strconv.ParseUint(pt.After, 10, 64)
	}
	changed := cal.changedSince(after, pt.Snapshot)
	size := s.pageSize(o.maxResults)
	var items []*Event
	more := false
	for _, ev := range changed {
		if o.eventTypes != nil && !ev.deleted() && !o.matches(ev) {
			pt.After = strconv.FormatUint(ev.seq, 10)
			continue
		}
		if len(items) >= size {
			more = true
			break
		}
		if o.singleEvents && ev.set != nil && ev.w.RecurringEventID == "" && !ev.deleted() {
			all := seriesInstances(cal, ev, &listOpts{})
			for _, x := range all {
				items = append(items, c.renderListed(cal, x, o))
			}
		} else {
			items = append(items, c.renderListed(cal, ev, o))
		}
		pt.After = strconv.FormatUint(ev.seq, 10)
	}
	out := c.eventsEnvelope(cal, items)
	if more {
		out.NextPageToken = pt.encode()
	} else {
		out.NextSyncToken = s.issueSyncToken(cal, pt.Snapshot)
	}
	return out, nil
}

// eventsInstances is events.instances.
func (c *call) eventsInstances() (*response, *gerr) {
	o, e := parseListOpts(c.q)
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
	m := cal.events[c.p["eventId"]]
	if m == nil {
		return nil, errNotFound()
	}
	if m.deleted() {
		return nil, errDeleted()
	}
	hash := paramsHash("instances:"+cal.id+"/"+m.w.ID, c.q)
	pt := pageToken{Kind: "inst", Hash: hash, Snapshot: s.seq}
	if o.pageToken != "" {
		if pt, e = decodePageToken(o.pageToken, "inst", hash); e != nil {
			return nil, e
		}
	}
	var all []*event
	if m.set != nil && m.w.RecurringEventID == "" {
		all = seriesInstances(cal, m, o)
	} else if o.inRange(m.start, m.end) {
		all = []*event{m}
	}
	sortInstances(all, "startTime")
	items, next := c.pageOf(cal, all, &pt, o)
	out := c.eventsEnvelope(cal, items)
	if next {
		out.NextPageToken = pt.encode()
	}
	for _, w := range out.Items {
		if e := c.limitAttendees(w); e != nil {
			return nil, e
		}
	}
	return jsonResponse(200, out), nil
}
