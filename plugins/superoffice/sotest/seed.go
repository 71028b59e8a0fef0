package sotest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

var seedTitles = []string{"Customer meeting", "Sales review", "Follow-up call", "Project kick-off", "Lunch with partner",
	"Demo", "Contract negotiation", "Quarterly planning", "Support escalation", "Training", "Site visit", "Budget review"}

var seedPlaces = []string{"", "", "Main office", "Customer site", "Teams", "Meeting room 2", "Café Oslo"}

// SeedEvents fills the diary of account (associate id, login name or e-mail) with
// n appointment rows, deterministically from seed: timed singles, all-day
// appointments, private and free ones, meetings with colleagues and resources when
// there are any, and weekly series of ten with one occurrence moved and one
// cancelled. Rows spread over the 30 days before and the 335 days after the
// emulator's clock. Seeding writes in-process (no HTTP, no webhooks) and takes
// about a second per few hundred thousand rows.
func (s *Server) SeedEvents(account string, n int, seed int64) error {
	if n < 0 {
		return fmt.Errorf("seed: negative count %d", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.st.findAssociate(account)
	if owner == nil || owner.kind == kindSystem {
		return fmt.Errorf("seed: no user or resource %q", account)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5eed))
	now := s.now().Truncate(time.Second)
	var colleagues, rooms []int
	for _, id := range sortedKeys(s.st.assocs) {
		a := s.st.assocs[id]
		switch {
		case a.id == owner.id || a.deleted:
		case a.kind == kindEmployee:
			colleagues = append(colleagues, a.id)
		case a.kind == kindResource:
			rooms = append(rooms, a.id)
		}
	}
	day0 := dateOf(now.In(s.loc)).addDays(-30)
	w := writeCtx{by: owner.id, now: now}
	var log changeLog
	made := 0
	seriesEvery := 500
	if n < seriesEvery {
		seriesEvery = n
	}
	for made < n {
		i := made
		d := day0.addDays(rng.IntN(365))
		reg := now.Add(-time.Duration(rng.IntN(60*24)) * time.Minute).Add(-time.Duration(rng.IntN(60*24*60)) * time.Minute)
		f := fields{typ: wire.TypeInDiary, task: s.st.tasks[rng.IntN(len(s.st.tasks))].id,
			title: seedTitles[rng.IntN(len(seedTitles))], location: seedPlaces[rng.IntN(len(seedPlaces))]}
		f.text = f.title + "\nNotes for item " + fmt.Sprint(i)
		if rng.IntN(10) == 0 {
			f.private = 1
		}
		if rng.IntN(10) == 0 {
			f.free = true
		}
		if rng.IntN(3) == 0 {
			f.alarm, f.lead = true, 15*time.Minute
		}
		// One weekly series of ten per seriesEvery rows (and at least one).
		if seriesEvery > 0 && i%seriesEvery == 0 && n-made >= 10 {
			f.start = d.at(s.loc, 9*time.Hour)
			f.end = f.start.Add(time.Hour)
			f.title, f.text = "Weekly status", "Weekly status meeting"
			p := pattern{kind: "Weekly", start: d, endType: "Counter", count: 10, cycle: 1, weekdays: []time.Weekday{d.weekday()}}
			rows, err := s.createSeries(owner.id, f, p, nil, 0, w, &log)
			if err != nil {
				return fmt.Errorf("seed series: %w", err)
			}
			// Occurrence 3 moves a day later and an hour earlier; occurrence 6 is cancelled.
			moved := rows[2]
			moved.start = moved.start.AddDate(0, 0, 1).Add(-time.Hour)
			moved.end = moved.start.Add(time.Hour)
			moved.touch(now, owner.id)
			s.st.removeAppt(rows[5].id)
			for _, r := range rows {
				r.registered = reg
			}
			made += len(rows) - 1
			continue
		}
		switch k := rng.IntN(100); {
		case k < 8: // all-day, 1 to 3 days
			span := 1 + rng.IntN(3)
			f.allDay = true
			f.title = []string{"Conference", "Vacation", "Trade fair", "Offsite"}[rng.IntN(4)]
			f.text = f.title
			f.start, f.end = d.at(s.loc, 0), d.addDays(span-1).at(s.loc, 23*time.Hour+59*time.Minute)
			f.free = f.title == "Vacation"
		default:
			f.start = d.at(s.loc, time.Duration(8*60+15*rng.IntN(40))*time.Minute)
			f.end = f.start.Add(time.Duration(30*(1+rng.IntN(4))) * time.Minute)
		}
		a := newRow(owner.id, f, w)
		a.registered = reg
		if rng.IntN(5) == 0 {
			a.touch(reg.Add(time.Duration(rng.IntN(3600))*time.Second), owner.id)
		}
		s.st.insertAppt(a)
		if !f.allDay && owner.kind == kindEmployee && rng.IntN(20) == 0 && (len(colleagues) > 0 || len(rooms) > 0) {
			var parts []participant
			if len(colleagues) > 0 {
				parts = append(parts, participant{assoc: colleagues[rng.IntN(len(colleagues))]})
			}
			if len(rooms) > 0 && rng.IntN(2) == 0 {
				parts = append(parts, participant{assoc: rooms[rng.IntN(len(rooms))]})
			}
			s.book(a, parts, w, &log)
		}
		made++
	}
	return nil
}
