package memory

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
)

// calKey names one calendar: an instance's account's calendar ("" = default).
type calKey struct {
	instance, account, calendar string
}

// calendar is the stored state of one calendar. Every field is guarded by the
// provider's mutex.
type calendar struct {
	key calKey
	// seq counts writes; every write gets the next number, which is the item's change
	// sequence and (formatted) its Version.
	seq uint64
	// nextID numbers generated ids.
	nextID uint64
	events map[string]*stored
	// removed maps the id of a deleted item to the sequence of its deletion, so an
	// incremental read can report it.
	removed map[string]uint64
	// changed is called (with the provider's mutex held) on every write, for
	// push notifications (push.go); nil when nobody listens.
	changed func()
}

type stored struct {
	ev  sdk.Event
	seq uint64 // sequence of the last write
}

func newCalendar(k calKey) *calendar {
	return &calendar{key: k, events: map[string]*stored{}, removed: map[string]uint64{}}
}

// Calendar is a handle on one account's calendar, for tests that play the user or
// look at what sync wrote. It is safe for concurrent use.
type Calendar struct {
	p   *Provider
	key calKey
}

// Put stores ev as a user's edit or create made outside sync: a new id when ev.ID is
// empty (an exception gets the id of its occurrence, as a real service would), a new
// Version, Updated from the provider's clock; the write is recorded as a change.
// Putting an exception whose master does not exist is accepted as it is (tests may
// want odd data); the returned event is what is stored.
func (c *Calendar) Put(ev sdk.Event) sdk.Event {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	cal := c.p.cal(c.key)
	return cal.put(ev, c.p.now())
}

// Remove deletes id as a user would outside sync and records the change. Removing
// an exception cancels its occurrence (an EXDATE on the master); removing a master
// removes its exceptions too. It reports whether id existed.
func (c *Calendar) Remove(id string) bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	cal := c.p.cal(c.key)
	if _, ok := cal.events[id]; !ok {
		return false
	}
	cal.remove(id, c.p.now())
	return true
}

// Events returns a snapshot of the stored items, sorted by ID.
func (c *Calendar) Events() []sdk.Event {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	cal := c.p.cal(c.key)
	out := make([]sdk.Event, 0, len(cal.events))
	for _, id := range cal.sortedIDs() {
		out = append(out, cloneEvent(cal.events[id].ev))
	}
	return out
}

// Event returns the stored item id, and whether it exists.
func (c *Calendar) Event(id string) (sdk.Event, bool) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	s, ok := c.p.cal(c.key).events[id]
	if !ok {
		return sdk.Event{}, false
	}
	return cloneEvent(s.ev), true
}

// Len returns the number of stored items.
func (c *Calendar) Len() int {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return len(c.p.cal(c.key).events)
}

func (cal *calendar) sortedIDs() []string {
	ids := make([]string, 0, len(cal.events))
	for id := range cal.events {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (cal *calendar) nextSeq() uint64 {
	cal.seq++
	if cal.changed != nil {
		cal.changed()
	}
	return cal.seq
}

func versionOf(seq uint64) string { return "v" + strconv.FormatUint(seq, 10) }

// exceptionID is the id of the occurrence of series that starts at original.
func exceptionID(series string, original time.Time) string {
	return series + "_" + original.UTC().Format("20060102T150405Z")
}

// put stores ev (a create when its id is empty or unknown, else a replacement) and
// returns the stored copy.
func (cal *calendar) put(ev sdk.Event, now time.Time) sdk.Event {
	ev = normalize(cloneEvent(ev))
	if ev.ID == "" {
		if ev.Kind == sdk.KindException && ev.SeriesID != "" && !ev.OriginalStart.IsZero() {
			ev.ID = exceptionID(ev.SeriesID, ev.OriginalStart)
		} else {
			cal.nextID++
			ev.ID = fmt.Sprintf("mem-%06d", cal.nextID)
		}
	}
	if ev.Kind == "" {
		ev.Kind = sdk.KindSingle
	}
	seq := cal.nextSeq()
	ev.Version = versionOf(seq)
	if old, ok := cal.events[ev.ID]; ok {
		ev.Created = old.ev.Created
		if ev.ICalUID == "" {
			ev.ICalUID = old.ev.ICalUID
		}
	} else if ev.Created.IsZero() {
		ev.Created = now
	}
	if ev.ICalUID == "" {
		ev.ICalUID = ev.ID + "@memory.invalid"
	}
	ev.Updated = now
	cal.events[ev.ID] = &stored{ev: ev, seq: seq}
	delete(cal.removed, ev.ID)
	return cloneEvent(ev)
}

// remove deletes id (which must exist) with the cascade a calendar service applies:
// a master takes its exceptions along, an exception becomes an EXDATE of its master.
func (cal *calendar) remove(id string, now time.Time) {
	s := cal.events[id]
	delete(cal.events, id)
	cal.removed[id] = cal.nextSeq()
	switch s.ev.Kind {
	case sdk.KindMaster:
		for _, xid := range cal.sortedIDs() {
			x := cal.events[xid]
			if x.ev.Kind == sdk.KindException && x.ev.SeriesID == id {
				delete(cal.events, xid)
				cal.removed[xid] = cal.nextSeq()
			}
		}
	case sdk.KindException:
		m, ok := cal.events[s.ev.SeriesID]
		if !ok || s.ev.OriginalStart.IsZero() {
			return
		}
		ev := cloneEvent(m.ev)
		ev.Recurrence = append(ev.Recurrence, exdateLine(s.ev.OriginalStart, ev.AllDay))
		cal.put(ev, now)
	}
}

func exdateLine(original time.Time, allDay bool) string {
	if allDay {
		return "EXDATE;VALUE=DATE:" + original.UTC().Format("20060102")
	}
	return "EXDATE:" + original.UTC().Format("20060102T150405Z")
}

// normalize makes ev look as a service stores it: instants in UTC.
func normalize(ev sdk.Event) sdk.Event {
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC()
	}
	ev.Start, ev.End = utc(ev.Start), utc(ev.End)
	ev.OriginalStart = utc(ev.OriginalStart)
	ev.Created, ev.Updated = utc(ev.Created), utc(ev.Updated)
	for i, l := range ev.Recurrence {
		ev.Recurrence[i] = strings.TrimSpace(l)
	}
	return ev
}

// cloneEvent copies ev deeply enough that no caller shares a slice or map with the
// store.
func cloneEvent(ev sdk.Event) sdk.Event {
	ev.Recurrence = slices.Clone(ev.Recurrence)
	ev.Attendees = slices.Clone(ev.Attendees)
	if ev.Extras != nil {
		ev.Extras = maps.Clone(ev.Extras)
	}
	return ev
}
