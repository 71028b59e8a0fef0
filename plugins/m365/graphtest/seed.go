package graphtest

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"synchronizer/plugins/m365/internal/wintz"
)

var seedSubjects = []string{
	"Customer call", "Project review", "Budget meeting", "1:1", "Sales pipeline",
	"Quarterly planning", "Lunch with partner", "Design workshop", "Support escalation",
	"Board preparation", "Demo for prospect", "Hiring interview", "Training", "Team sync",
	"Contract negotiation", "Site visit", "Release retrospective", "Webinar", "Dentist", "Travel",
}

var seedLocations = []string{"", "", "Room 1", "Room 2", "Teams", "Customer office", "Cafeteria", "Oslo office"}

// SeedEvents fills the default calendar of account with n items: a weekly series with
// one moved and one cancelled occurrence, more series of the other patterns every 500
// items, and otherwise singles around now (about 10 % all-day, 10 % private, some
// free or tentative). The mix depends only on seed, account and the clock's day.
// It writes in-process, without notifications, so large calendars seed fast.
func (s *Server) SeedEvents(account string, n int, seed int64) error {
	if n < 0 {
		return fmt.Errorf("seed %s: negative count", account)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(account)
	if u == nil {
		return fmt.Errorf("seed: no user %q", account)
	}
	if u.NoMailbox {
		return fmt.Errorf("seed %s: the account has no mailbox", account)
	}
	h := fnv.New64a()
	h.Write([]byte(u.ID))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	cal := u.calendars[0]
	const zone = "W. Europe Standard Time"
	loc, _, _ := wintz.Resolve(zone)
	today := s.now().In(loc)
	base := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	add := func(e *event) {
		u.seq++
		e.seq, e.version = u.seq, 1
		s.insertLocked(e)
	}
	for i := 0; i < n; i++ {
		e := s.newEventLocked(cal)
		e.startTZ, e.endTZ = zone, zone
		switch {
		case i == 0:
			// The weekly series: 09:00 local, 26 weeks, two weeks into the past.
			d := base.AddDate(0, 0, -14)
			e.subject = "Weekly team meeting"
			e.location = "Room 1"
			e.start = time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, loc)
			e.end = e.start.Add(time.Hour)
			e.typ = "seriesMaster"
			e.rec = &recurrence{typ: "weekly", interval: 1, days: []time.Weekday{d.Weekday()}, firstDay: time.Sunday, index: "first",
				rangeType: "numbered", count: 26, startDate: time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC), tzName: zone, loc: loc}
			starts := e.seriesStarts(e.start.Add(-time.Hour), e.start.AddDate(0, 0, 60))
			if len(starts) >= 5 {
				moved := e.clone()
				moved.typ, moved.master, moved.origStart = "exception", e, starts[2]
				moved.rec = nil
				moved.start, moved.end = starts[2].Add(2*time.Hour), starts[2].Add(3*time.Hour)
				moved.subject = "Weekly team meeting (moved)"
				moved.version = 1
				e.exceptions = map[int64]*event{starts[2].Unix(): moved}
				e.cancelledOcc = map[int64]uint64{starts[4].Unix(): 1}
			}
		case i%500 == 250:
			s.seedSeries(e, i/500, base, loc, rng)
		default:
			e.subject = seedSubjects[rng.IntN(len(seedSubjects))]
			e.location = seedLocations[rng.IntN(len(seedLocations))]
			day := base.AddDate(0, 0, rng.IntN(395)-30)
			r := rng.IntN(100)
			switch {
			case r < 10:
				e.allDay = true
				e.start = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
				e.end = e.start.AddDate(0, 0, 1+rng.IntN(3))
				e.showAs = "free"
				e.reminderMin = 1080
			default:
				e.start = time.Date(day.Year(), day.Month(), day.Day(), 8+rng.IntN(9), 30*rng.IntN(2), 0, 0, loc)
				e.end = e.start.Add(time.Duration(30*(1+rng.IntN(4))) * time.Minute)
				if r < 20 {
					e.sensitivity = "private"
					e.subject = "Private appointment"
				}
				switch rng.IntN(10) {
				case 0:
					e.showAs = "tentative"
				case 1:
					e.showAs = "free"
				}
			}
			if rng.IntN(4) == 0 {
				e.body = "Agenda:\n- status\n- next steps"
			}
			if rng.IntN(5) == 0 {
				e.reminderOn = false
			}
		}
		add(e)
	}
	return nil
}

func (s *Server) seedSeries(e *event, n int, base time.Time, loc *time.Location, rng *rand.Rand) {
	d := base.AddDate(0, 0, rng.IntN(60)-10)
	e.start = time.Date(d.Year(), d.Month(), d.Day(), 8+rng.IntN(8), 0, 0, 0, loc)
	e.end = e.start.Add(30 * time.Minute)
	e.typ = "seriesMaster"
	sd := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	r := &recurrence{interval: 1, firstDay: time.Sunday, index: "first", startDate: sd, tzName: e.startTZ, loc: loc, rangeType: "noEnd"}
	switch n % 5 {
	case 0:
		e.subject = "Daily stand-up"
		r.typ, r.rangeType, r.count = "daily", "numbered", 10
	case 1:
		e.subject = "Monthly report"
		r.typ, r.dayOfMonth = "absoluteMonthly", d.Day()
	case 2:
		e.subject = "Steering group"
		r.typ, r.days = "relativeMonthly", []time.Weekday{d.Weekday()}
		r.index = indexNames[min((d.Day()-1)/7, 3)]
	case 3:
		e.subject = "Anniversary"
		r.typ, r.month, r.dayOfMonth = "absoluteYearly", int(d.Month()), d.Day()
	case 4:
		e.subject = "Annual review"
		r.typ, r.month, r.days = "relativeYearly", int(d.Month()), []time.Weekday{d.Weekday()}
		r.index = indexNames[min((d.Day()-1)/7, 3)]
		r.rangeType, r.endDate = "endDate", sd.AddDate(3, 0, 0)
	}
	e.rec = r
	_ = alignSeries(e)
}
