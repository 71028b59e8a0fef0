package gcaltest

import (
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/google/internal/recur"
)

// Domain names of the emulated Workspace (SPEC naming).
const (
	Domain         = "google.test"
	ResourceDomain = "resource.google.test"
)

// UserEmail is the address of the i-th demo user: user1@google.test.
func UserEmail(i int) string { return fmt.Sprintf("user%d@%s", i, Domain) }

// ResourceEmail is the calendar id of the i-th demo room: room1@resource.google.test.
func ResourceEmail(i int) string { return fmt.Sprintf("room%d@%s", i, ResourceDomain) }

// User describes a user account with a primary calendar.
type User struct {
	Email    string // required, e.g. user1@google.test
	Name     string // display name; "" = the address
	Admin    bool   // a Workspace admin: manages resource calendars, reads the directory
	TimeZone string // the calendar's zone; "" = Options.TimeZone
}

// Resource describes a resource calendar (a room or equipment).
type Resource struct {
	Email    string // the calendar id, e.g. room1@resource.google.test
	Name     string // resourceName, e.g. "Room 1"
	Category string // CONFERENCE_ROOM (default) or OTHER
	Capacity int
	// Decline makes the resource decline invitations instead of accepting them.
	Decline  bool
	TimeZone string
}

// AddUser creates a user and their primary calendar.
func (s *Server) AddUser(u User) error {
	return s.addAccount(&account{email: strings.ToLower(u.Email), name: u.Name, admin: u.Admin}, u.TimeZone)
}

// AddResource creates a resource calendar listed by the Directory API.
func (s *Server) AddResource(r Resource) error {
	a := &account{email: strings.ToLower(r.Email), name: r.Name, resource: true, category: r.Category,
		capacity: int64(r.Capacity), decline: r.Decline}
	if a.name == "" {
		a.name = r.Email
	}
	return s.addAccount(a, r.TimeZone)
}

func (s *Server) addAccount(a *account, tz string) error {
	if !strings.Contains(a.email, "@") {
		return fmt.Errorf("account address %q: want name@domain", a.email)
	}
	if tz == "" {
		tz = s.opts.TimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return fmt.Errorf("account %s: time zone %q: %w", a.email, tz, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.accounts[a.email]; old != nil && !old.deleted {
		return fmt.Errorf("account %s already exists", a.email)
	}
	s.nextNumID++
	a.numericID = strconv.FormatInt(s.nextNumID, 10)
	if a.resource {
		a.resourceID = strconv.FormatInt(s.nextNumID%1000000000, 10)
	}
	a.cal = &calendar{id: a.email, owner: a, tzName: tz, loc: loc, events: map[string]*event{}}
	s.accounts[a.email] = a
	s.calendars[a.email] = a.cal
	return nil
}

// Event returns an event of a calendar as the API would render it to the calendar's
// owner, for test assertions.
func (s *Server) Event(calendarID, eventID string) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendars[strings.ToLower(calendarID)]
	if c == nil {
		return Event{}, false
	}
	ev, _ := s.resolve(c, eventID)
	if ev == nil {
		return Event{}, false
	}
	return *render(c, ev, nil), true
}

// EventIDs returns the ids of a calendar's stored items that are not deleted.
func (s *Server) EventIDs(calendarID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendars[strings.ToLower(calendarID)]
	if c == nil {
		return nil
	}
	var out []string
	for _, id := range c.sortedIDs() {
		if !c.events[id].deleted() {
			out = append(out, id)
		}
	}
	return out
}

// SeedEvents fills a calendar with n deterministic items in-process (no HTTP): weekly
// series with one moved and one cancelled occurrence each (three items per series;
// one series, plus one more per 500 items), and for the rest single events between 30 days back and 120 days ahead: every tenth
// all-day (one to three days), every tenth private, every tenth free, the rest timed
// working-hours meetings of 30 to 120 minutes in the calendar's zone. The same seed
// on the same day gives the same events; seeding the same calendar twice with the
// same seed is an error.
func (s *Server) SeedEvents(account string, n int, seed int64) error {
	if n < 0 {
		return fmt.Errorf("seed %s: negative count %d", account, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendars[strings.ToLower(account)]
	if c == nil {
		return fmt.Errorf("seed %s: %w", account, errNoCalendar)
	}
	rng := mrand.New(mrand.NewPCG(uint64(seed), uint64(calHash(c.id))))
	y, m, d := s.now().In(c.loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, c.loc)
	org := &Person{Email: c.id, DisplayName: c.owner.name}
	id := func(i int) string { return fmt.Sprintf("seed%08x%08x", uint32(seed), uint32(i)) }
	if n > 0 && c.events[id(0)] != nil {
		return fmt.Errorf("seed %s: already seeded with seed %d", account, seed)
	}
	mk := func(w *Event, start, end time.Time, allDay bool) *event {
		w.Organizer, w.Creator = org, org
		if w.ICalUID == "" {
			w.ICalUID = w.ID + "@google.com"
		}
		if allDay {
			w.Start = &EventDateTime{Date: start.Format(dateLayout)}
			w.End = &EventDateTime{Date: end.Format(dateLayout)}
		} else {
			w.Start = &EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: c.tzName}
			w.End = &EventDateTime{DateTime: end.Format(time.RFC3339), TimeZone: c.tzName}
		}
		return &event{w: w, start: start, end: end, allDay: allDay, loc: c.loc}
	}
	i := 0
	series := 0
	if n >= 3 {
		series = max(1, n/500) // a realistic share of recurring meetings
	}
	for sn := 0; sn < series; sn++ {
		start := today.AddDate(0, 0, -14+sn%7).Add(time.Duration(10+sn%4) * time.Hour)
		mid := id(i)
		title := "Weekly planning"
		if sn > 0 {
			title = fmt.Sprintf("Weekly meeting %d", sn+1)
		}
		mw := &Event{ID: mid, Summary: title, Location: "Room 1", Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=16"}}
		mev := mk(mw, start, start.Add(time.Hour), false)
		set, err := recur.Parse(mw.Recurrence, start, c.loc, false)
		if err != nil {
			return fmt.Errorf("seed %s: %w", account, err)
		}
		mev.set = set
		s.commit(c, mev)
		occ := set.Between(start, start.AddDate(1, 0, 0), 16)
		moved := occ[2]
		xw := &Event{ID: instanceID(mid, moved, false), Summary: title + " (moved)", Location: "Room 1",
			RecurringEventID: mid, ICalUID: mw.ICalUID,
			OriginalStartTime: &EventDateTime{DateTime: moved.Format(time.RFC3339), TimeZone: c.tzName}}
		xev := mk(xw, moved.Add(2*time.Hour), moved.Add(3*time.Hour), false)
		xev.orig = moved
		s.commit(c, xev)
		cancelled := occ[4]
		cw := &Event{ID: instanceID(mid, cancelled, false), Status: "cancelled", RecurringEventID: mid, ICalUID: mw.ICalUID,
			Organizer: org, OriginalStartTime: &EventDateTime{DateTime: cancelled.Format(time.RFC3339), TimeZone: c.tzName}}
		s.commit(c, &event{w: cw, start: cancelled, end: cancelled.Add(time.Hour), loc: c.loc, orig: cancelled})
		i += 3
	}
	titles := []string{"Customer call", "Project review", "Lunch with partner", "Sales meeting", "1:1",
		"Budget follow-up", "Demo", "Interview", "Workshop", "Site visit"}
	for k := 1; i < n; i, k = i+1, k+1 {
		day := today.AddDate(0, 0, rng.IntN(151)-30)
		w := &Event{ID: id(i), Summary: titles[rng.IntN(len(titles))]}
		var ev *event
		switch k % 10 {
		case 0:
			end := day.AddDate(0, 0, 1+rng.IntN(3))
			w.Summary = "Conference"
			ev = mk(w, day, end, true)
		default:
			start := day.Add(time.Duration(8+rng.IntN(9))*time.Hour + time.Duration(rng.IntN(4))*15*time.Minute)
			ev = mk(w, start, start.Add(time.Duration(1+rng.IntN(4))*30*time.Minute), false)
			switch k % 10 {
			case 1:
				w.Visibility = "private"
				w.Summary = "Doctor"
			case 2:
				w.Transparency = "transparent"
			case 3:
				w.Location = "Customer site"
				w.Description = "Agenda:\n1. Status\n2. Next steps"
			}
		}
		s.commit(c, ev)
	}
	return nil
}
