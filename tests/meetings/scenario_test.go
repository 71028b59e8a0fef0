package meetings

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/plugins/sdk"
)

const (
	so  = engine.SuperOffice
	cal = engine.Calendar
)

var systems = []string{"m365", "google"}

func eachWorld(t *testing.T, fn func(t *testing.T, kind string, seed uint64)) {
	for _, kind := range systems {
		for _, seed := range seeds(t) {
			name := kind
			if seed != 0 {
				name += "/seed=" + strconv.FormatUint(seed, 10)
			}
			t.Run(name, func(t *testing.T) { fn(t, kind, seed) })
		}
	}
}

func want(who string, side engine.Side, n int, resp sdk.Response) copyWant {
	return copyWant{who: who, side: side, n: n, response: resp}
}

// (a) Alice creates a meeting in SuperOffice with Bob, Carol and Room 1, then
// (c) moves it on either side, (h) the store is lost, (d) Bob declines, (e) Room 1
// is booked twice and declines, (f) Alice cancels.
func TestMeetingFromSuperOffice(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC)
		const dur = time.Hour
		const title = "Kickoff"

		// (a)
		m := w.soCreate(alice, sdk.Event{Title: title, Start: start, End: start.Add(dur), TimeZone: "Europe/Oslo",
			Attendees: []sdk.Attendee{
				{AccountID: strconv.Itoa(w.assoc[bob]), Type: sdk.AttendeeRequired},
				{AccountID: strconv.Itoa(w.assoc[carol]), Type: sdk.AttendeeRequired},
				{AccountID: strconv.Itoa(w.assoc[room]), Type: sdk.AttendeeResource},
			}})
		w.settle("(a)")
		everyone := func(step string, at time.Time, bobSO, bobCal sdk.Response, bobCopies int) {
			t.Helper()
			w.expect(step, title, at, dur,
				want(alice, so, 1, sdk.ResponseOrganizer), want(bob, so, 1, bobSO), want(room, so, 1, sdk.ResponseAccepted),
				want(alice, cal, 1, ""), want(bob, cal, bobCopies, bobCal), want(room, cal, 1, sdk.ResponseAccepted))
			w.carolUntouched(step, title, 1)
		}
		everyone("(a)", start, sdk.ResponseNone, sdk.ResponseNone, 1)

		// (c) Alice moves it in SuperOffice, which owns it: every copy follows.
		w.soUpdate(alice, m.ID, func(ev *sdk.Event) { ev.Start, ev.End = ev.Start.Add(time.Hour), ev.End.Add(time.Hour) })
		// (h) The state store is lost before the move is synced; the daemon restarts.
		w.restart()
		res := w.settle("(c)+(h)")
		if n := res.count(so, engine.OpCreate) + res.count(cal, engine.OpCreate) + res.count(so, engine.OpDelete) + res.count(cal, engine.OpDelete); n != 0 {
			t.Errorf("(h): %d items created or deleted after the store was lost: %v", n, res.done)
		}
		moved := start.Add(time.Hour)
		everyone("(c)+(h)", moved, sdk.ResponseNone, sdk.ResponseNone, 1)

		// (c) Alice moves her copy in the calendar: the owner's version is written back once.
		w.calMove(alice, w.calFind(alice, title, moved), time.Hour)
		res = w.settle("(c) calendar")
		if n := res.count(cal, engine.OpUpdate); n < 1 {
			t.Errorf("(c) calendar: the owner's version was not written back: %v", res.done)
		}
		everyone("(c) calendar", moved, sdk.ResponseNone, sdk.ResponseNone, 1)

		// (d) Bob declines in SuperOffice.
		w.soUpdate(bob, w.soFind(bob, title).ID, func(ev *sdk.Event) { ev.Response = sdk.ResponseDeclined })
		w.settle("(d)")
		bobCopies := 1 // Google keeps a declined invitation in the calendar
		if kind == "m365" {
			bobCopies = 0 // the copy Bob's link wrote goes with the decline
		}
		everyone("(d)", moved, sdk.ResponseDeclined, sdk.ResponseDeclined, bobCopies)

		// (e) Alice books Room 1 in the calendar at a time it is taken: the room
		// declines, and the booking is not made in SuperOffice.
		clash := moved.Add(30 * time.Minute)
		w.calCreate(alice, calMeeting{title: "Clash", start: clash, dur: time.Hour, rooms: []string{w.mailbox[room]}})
		w.settle("(e)")
		roomCopies := 0
		if kind == "google" {
			roomCopies = 1 // the declined invitation stays in the room's calendar
		}
		w.expect("(e)", "Clash", clash, time.Hour, want(alice, so, 1, ""), want(alice, cal, 1, ""),
			want(room, so, 0, ""), want(room, cal, roomCopies, sdk.ResponseDeclined))
		everyone("(e)", moved, sdk.ResponseDeclined, sdk.ResponseDeclined, bobCopies)

		// (f) Alice cancels in SuperOffice: every copy goes, once.
		w.soDelete(alice, m.ID)
		res = w.settle("(f)")
		w.expect("(f)", title, moved, dur, want(alice, so, 0, ""), want(bob, so, 0, ""), want(room, so, 0, ""),
			want(alice, cal, 0, ""), want(bob, cal, 0, ""), want(room, cal, 0, ""))
		w.carolUntouched("(f)", title, 0)
		if n := res.count(cal, engine.OpDelete); n > 2 {
			t.Errorf("(f): %d deletes in the calendar for one cancellation: %v", n, res.done)
		}
		_ = fmt.Sprint
	})
}

// (b) Alice creates the meeting in Outlook / Google Calendar with Bob, Carol and
// Room 1, then (c) moves it on either side, (d) Bob declines there, (h) the store
// is lost, (e) Room 1 is booked twice and declines, (f) Alice cancels.
func TestMeetingFromCalendar(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 3, 24, 9, 0, 0, 0, time.UTC)
		const dur = time.Hour
		const title = "Review"

		// (b)
		id := w.calCreate(alice, calMeeting{title: title, start: start, dur: dur,
			attendees: []string{w.mailbox[bob], w.mailbox[carol]}, rooms: []string{w.mailbox[room]}})
		w.settle("(b)")
		everyone := func(step string, at time.Time, bobSO, bobCal sdk.Response, bobCopies int) {
			t.Helper()
			w.expect(step, title, at, dur,
				want(alice, so, 1, sdk.ResponseOrganizer), want(bob, so, 1, bobSO), want(room, so, 1, sdk.ResponseAccepted),
				want(alice, cal, 1, sdk.ResponseOrganizer), want(bob, cal, bobCopies, bobCal), want(room, cal, 1, sdk.ResponseAccepted))
			w.carolUntouched(step, title, 1)
		}
		everyone("(b)", start, sdk.ResponseNone, sdk.ResponseNone, 1)
		if kind == "m365" {
			// Exchange's room put the organizer's name over its copy's subject; that
			// is not an edit: the booking in SuperOffice keeps the meeting's title.
			if rc := w.copies(cal, room, title, start); len(rc) == 1 && rc[0].Title == title {
				t.Errorf("(b): the room did not rewrite its copy's subject: %q", rc[0].Title)
			}
			if rs := w.copies(so, room, title, start); len(rs) != 1 || rs[0].Title != title {
				t.Errorf("(b): the room's booking in SuperOffice: %s", describe(rs))
			}
		}

		// (c) Alice moves it in the calendar, which owns it: every copy follows.
		w.calMove(alice, id, time.Hour)
		w.settle("(c)")
		moved := start.Add(time.Hour)
		everyone("(c)", moved, sdk.ResponseNone, sdk.ResponseNone, 1)

		// (c) Alice moves it in SuperOffice: the owner's version is written back once.
		w.soUpdate(alice, w.soFind(alice, title).ID, func(ev *sdk.Event) { ev.Start, ev.End = ev.Start.Add(time.Hour), ev.End.Add(time.Hour) })
		res := w.settle("(c) superoffice")
		if n := res.count(so, engine.OpUpdate); n < 1 {
			t.Errorf("(c) superoffice: the owner's version was not written back: %v", res.done)
		}
		everyone("(c) superoffice", moved, "", sdk.ResponseNone, 1)

		// (d) Bob declines in the calendar.
		w.calDecline(bob, w.calFind(bob, title, moved))
		// (h) The state store is lost before the answer is synced; the daemon restarts.
		w.restart()
		res = w.settle("(d)+(h)")
		if n := res.count(so, engine.OpCreate) + res.count(cal, engine.OpCreate) + res.count(so, engine.OpDelete) + res.count(cal, engine.OpDelete); n != 0 {
			t.Errorf("(h): %d items created or deleted after the store was lost: %v", n, res.done)
		}
		bobCopies := 1
		if kind == "m365" {
			bobCopies = 0 // Exchange removes a meeting its attendee declined
		}
		everyone("(d)+(h)", moved, sdk.ResponseDeclined, sdk.ResponseDeclined, bobCopies)

		// (e) Alice books Room 1 in the calendar at a time it is taken: the room
		// declines, and the booking is not made in SuperOffice.
		clash := moved.Add(30 * time.Minute)
		w.calCreate(alice, calMeeting{title: "Clash", start: clash, dur: time.Hour, rooms: []string{w.mailbox[room]}})
		w.settle("(e)")
		roomCopies := 0
		if kind == "google" {
			roomCopies = 1
		}
		w.expect("(e)", "Clash", clash, time.Hour, want(alice, so, 1, ""), want(alice, cal, 1, ""),
			want(room, so, 0, ""), want(room, cal, roomCopies, sdk.ResponseDeclined))
		everyone("(e)", moved, sdk.ResponseDeclined, sdk.ResponseDeclined, bobCopies)

		// (f) Alice cancels in the calendar: every copy goes, once.
		w.calDelete(alice, id)
		w.settle("(f)")
		w.expect("(f)", title, moved, dur, want(alice, so, 0, ""), want(bob, so, 0, ""), want(room, so, 0, ""),
			want(alice, cal, 0, ""), want(bob, cal, 0, ""), want(room, cal, 0, ""))
		w.carolUntouched("(f)", title, 0)
	})
}

// (g) A weekly meeting with Room 1, one occurrence moved and one cancelled, made
// in the calendar and in SuperOffice; then the series is cancelled.
func TestRecurringMeetingWithRoom(t *testing.T) {
	for _, origin := range []engine.Side{cal, so} {
		t.Run("from "+string(origin), func(t *testing.T) {
			eachWorld(t, func(t *testing.T, kind string, seed uint64) {
				w := newWorld(t, kind, seed)
				// Thursdays, clear of daylight saving changes.
				first := time.Date(2026, 4, 9, 12, 0, 0, 0, time.UTC)
				const dur = time.Hour
				const title = "Weekly"
				week := 7 * 24 * time.Hour
				var seriesID string
				if origin == cal {
					seriesID = w.calCreate(alice, calMeeting{title: title, start: first, dur: dur,
						attendees: []string{w.mailbox[bob]}, rooms: []string{w.mailbox[room]}, weeklyN: 4})
				} else {
					m := w.soCreate(alice, sdk.Event{Kind: sdk.KindMaster, Title: title, Start: first, End: first.Add(dur), TimeZone: "UTC",
						Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4"},
						Attendees: []sdk.Attendee{
							{AccountID: strconv.Itoa(w.assoc[bob]), Type: sdk.AttendeeRequired},
							{AccountID: strconv.Itoa(w.assoc[room]), Type: sdk.AttendeeResource},
						}})
					seriesID = m.ID
				}
				w.settle("(g) created")
				all := []time.Time{first, first.Add(week), first.Add(2 * week), first.Add(3 * week)}
				w.expectSeries("(g) created", title, first, dur, all)

				// One occurrence moved by an hour, one cancelled, by the organizer.
				if origin == cal {
					occ := w.occurrences(alice, seriesID, first.Add(-time.Hour), first.Add(4*week))
					w.calMove(alice, occ[all[1]], time.Hour)
					w.calDelete(alice, occ[all[2]])
				} else {
					w.clk.Advance(time.Minute)
					if _, err := w.sop.Create(context.Background(), w.soTarget(alice), sdk.Event{Kind: sdk.KindException,
						SeriesID: seriesID, OriginalStart: all[1], Title: title, Start: all[1].Add(time.Hour), End: all[1].Add(time.Hour + dur),
						TimeZone: "UTC", Attendees: w.soGet(alice, seriesID).Attendees}); err != nil {
						t.Fatalf("move an occurrence in SuperOffice: %v", err)
					}
					w.soUpdate(alice, seriesID, func(ev *sdk.Event) {
						ev.Recurrence = append(ev.Recurrence, "EXDATE:"+all[2].UTC().Format("20060102T150405Z"))
					})
				}
				w.settle("(g) changed")
				w.expectSeries("(g) changed", title, first, dur, []time.Time{all[0], all[1].Add(time.Hour), all[3]})

				// The organizer cancels the series.
				if origin == cal {
					w.calDelete(alice, seriesID)
				} else {
					w.soDelete(alice, seriesID)
				}
				w.settle("(g) cancelled")
				w.expectSeries("(g) cancelled", title, first, dur, nil)
			})
		})
	}
}

// A meeting whose organizer has no link (Carol) is copied into each linked
// participant's calendar or diary as a private copy without attendees: nobody is
// invited, the copies follow the organizer's changes, deleting one declines, and
// the organizer's cancellation removes them.
func TestMeetingOfAnUnlinkedOrganizer(t *testing.T) {
	for _, origin := range []engine.Side{so, cal} {
		t.Run("from "+string(origin), func(t *testing.T) {
			eachWorld(t, func(t *testing.T, kind string, seed uint64) {
				w := newWorld(t, kind, seed)
				start := time.Date(2026, 3, 26, 14, 0, 0, 0, time.UTC)
				const dur = 30 * time.Minute
				const title = "Carol's sync"
				other := origin.Other()
				var id string
				if origin == so {
					id = w.soCreate(carol, sdk.Event{Title: title, Start: start, End: start.Add(dur), TimeZone: "UTC",
						Attendees: []sdk.Attendee{{AccountID: strconv.Itoa(w.assoc[bob])}, {AccountID: strconv.Itoa(w.assoc[room]), Type: sdk.AttendeeResource}}}).ID
				} else {
					id = w.calCreate(carol, calMeeting{title: title, start: start, dur: dur, attendees: []string{w.mailbox[bob]}, rooms: []string{w.mailbox[room]}})
				}
				w.settle("created")
				w.expect("created", title, start, dur, want(bob, origin, 1, ""), want(room, origin, 1, ""),
					want(bob, other, 1, ""), want(room, other, 1, ""), want(alice, so, 0, ""), want(alice, cal, 0, ""))
				for _, who := range []string{bob, room} {
					for _, ev := range w.copies(other, who, title, start) {
						if len(ev.Attendees) > 0 || ev.MeetingKey != "" {
							t.Errorf("created: %s's private copy on %s has attendees %v (key %q)", who, other, ev.Attendees, ev.MeetingKey)
						}
					}
				}

				// Carol moves it: the copies follow.
				moved := start.Add(2 * time.Hour)
				if origin == so {
					w.soUpdate(carol, id, func(ev *sdk.Event) { ev.Start, ev.End = moved, moved.Add(dur) })
				} else {
					w.calMove(carol, id, 2*time.Hour)
				}
				w.settle("moved")
				w.expect("moved", title, moved, dur, want(bob, origin, 1, ""), want(room, origin, 1, ""), want(bob, other, 1, ""), want(room, other, 1, ""))

				// Bob deletes his private copy: he declines the invitation.
				priv := w.copies(other, bob, title, moved)
				if len(priv) == 1 {
					if other == so {
						w.soDelete(bob, priv[0].ID)
					} else {
						w.calDelete(bob, priv[0].ID)
					}
				}
				w.settle("declined")
				bobCopies := 1
				if origin == cal && kind == "m365" {
					bobCopies = 0 // Exchange removes what its owner declined
				}
				w.expect("declined", title, moved, dur, want(bob, origin, bobCopies, sdk.ResponseDeclined), want(bob, other, 0, ""),
					want(room, other, 1, ""))

				// Carol cancels: the room's copy goes.
				if origin == so {
					w.soDelete(carol, id)
				} else {
					w.calDelete(carol, id)
				}
				w.settle("cancelled")
				w.expect("cancelled", title, moved, dur, want(bob, other, 0, ""), want(room, other, 0, ""), want(room, origin, 0, ""))
			})
		})
	}
}

// newMeeting is Alice's meeting with Bob, Carol and Room 1, made in SuperOffice.
func (w *world) newMeeting(title string, start time.Time, dur time.Duration) sdk.Event {
	return w.soCreate(alice, sdk.Event{Title: title, Start: start, End: start.Add(dur), TimeZone: "UTC",
		Attendees: []sdk.Attendee{
			{AccountID: strconv.Itoa(w.assoc[bob])},
			{AccountID: strconv.Itoa(w.assoc[carol])},
			{AccountID: strconv.Itoa(w.assoc[room]), Type: sdk.AttendeeResource},
		}})
}

// Bob deletes his copy of Alice's meeting in the calendar: that declines it in
// SuperOffice, and the copy is not made again.
func TestDeletingACopyDeclines(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 3, 27, 9, 0, 0, 0, time.UTC)
		const title = "Planning"
		w.newMeeting(title, start, time.Hour)
		w.settle("created")
		w.calDelete(bob, w.calFind(bob, title, start))
		w.settle("deleted")
		w.expect("deleted", title, start, time.Hour, want(bob, so, 1, sdk.ResponseDeclined), want(bob, cal, 0, ""),
			want(alice, cal, 1, ""), want(room, cal, 1, sdk.ResponseAccepted))
		// A later move by the organizer does not bring Bob's copy back (Google
		// shows a declined invitation again, as declined).
		w.soUpdate(alice, w.soFind(alice, title).ID, func(ev *sdk.Event) { ev.Start, ev.End = ev.Start.Add(time.Hour), ev.End.Add(time.Hour) })
		w.settle("moved")
		bobCopies, bobAnswer := 0, sdk.Response("")
		if kind == "google" {
			bobCopies, bobAnswer = 1, sdk.ResponseDeclined
		}
		w.expect("moved", title, start.Add(time.Hour), time.Hour, want(bob, so, 1, ""), want(bob, cal, bobCopies, bobAnswer), want(alice, cal, 1, ""))
	})
}

// While the organizer's link is down, a participant's copy waits instead of being
// copied on its own; the wait is reported once it lasts, and ends when the
// organizer's link runs.
func TestParticipantWaitsForTheOrganizersLink(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 3, 27, 13, 0, 0, 0, time.UTC)
		const title = "Waiting"
		w.calCreate(alice, calMeeting{title: title, start: start, dur: time.Hour, attendees: []string{w.mailbox[bob]}, rooms: []string{w.mailbox[room]}})
		reported := map[string]bool{}
		for i := 0; i < 4; i++ {
			w.clk.Advance(30 * time.Minute)
			for _, who := range []string{bob, room} {
				res, err := w.eng.Run(context.Background(), w.links[who], engine.RunOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Done) != 0 {
					t.Fatalf("%s's link wrote while the organizer's link was down: %v", who, res.Done)
				}
				if res.Waiting != 1 {
					t.Fatalf("%s's link: %d waiting, want 1 (notes %v)", who, res.Waiting, res.Notes)
				}
				for _, e := range res.ItemErrors {
					if strings.Contains(e, "emu/alice") {
						reported[who] = true
					}
				}
			}
		}
		if !reported[bob] || !reported[room] {
			t.Errorf("a wait of two hours was not reported: %v", reported)
		}
		// The organizer's link runs again first (the others would report their wait
		// once more in a round that ran them before it).
		if _, err := w.eng.Run(context.Background(), w.links[alice], engine.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		w.settle("organizer back")
		w.expect("organizer back", title, start, time.Hour, want(alice, so, 1, sdk.ResponseOrganizer), want(bob, so, 1, ""),
			want(room, so, 1, sdk.ResponseAccepted), want(bob, cal, 1, ""), want(room, cal, 1, sdk.ResponseAccepted))
	})
}

// Alice keeps moving her copy of a meeting SuperOffice owns: each time the owner's
// version is written back, until the flap guard quarantines the pair and leaves
// it alone.
func TestFlapGuardQuarantinesAMeeting(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC)
		const title = "Tug of war"
		w.newMeeting(title, start, time.Hour)
		w.settle("created")
		w.quarantineOK = true
		reverts := 0
		for i := 0; i < 12 && len(w.obs.quarantined()) == 0; i++ {
			w.calMove(alice, w.calFind(alice, title, start), time.Duration(i+1)*time.Minute)
			res := w.settle(fmt.Sprintf("move %d", i+1))
			reverts += res.count(cal, engine.OpUpdate)
		}
		if len(w.obs.quarantined()) != 1 {
			t.Fatalf("quarantined %v after %d write-backs", w.obs.quarantined(), reverts)
		}
		if reverts < 5 || reverts > 10 {
			t.Errorf("%d write-backs before the quarantine, want each edit written back once up to the guard", reverts)
		}
		// Left alone: Alice's edit stays, SuperOffice and the other copies keep the owner's time.
		got := w.copies(cal, alice, title, start)
		if len(got) != 1 || got[0].Start.Equal(start) {
			t.Errorf("Alice's quarantined copy: %s", describe(got))
		}
		w.expect("quarantined", title, start, time.Hour, want(alice, so, 1, ""), want(bob, so, 1, ""), want(room, so, 1, ""))
		if len(got) == 1 {
			// The calendar's copies: Microsoft 365's are the links' own and keep the
			// owner's version; Google's are the organizer's event, which Google
			// shows its attendees as it now is.
			at := start
			if kind == "google" {
				at = got[0].Start
			}
			w.expect("quarantined", title, at, time.Hour, want(bob, cal, 1, ""), want(room, cal, 1, ""))
		}
	})
}

// Bob's link runs before Alice's link belongs to the profile (added later, or
// licensed again): Bob gets a private copy of Alice's meeting, which gives way to
// the proper arrangement once Alice's link runs — no duplicates.
func TestOrganizersLinkJoinsLater(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC)
		const title = "Late"
		members := w.meetings.Members
		w.meetings.Members = members[1:] // without Alice
		m := w.newMeeting(title, start, time.Hour)
		for _, who := range []string{bob, room} {
			w.clk.Advance(2 * time.Second)
			if _, err := w.eng.Run(context.Background(), w.links[who], engine.RunOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		w.expect("private", title, start, time.Hour, want(bob, cal, 1, ""), want(room, cal, 1, ""))
		w.meetings.Members = members
		// The organizer changes the meeting, so the participants' links see it again.
		w.soUpdate(alice, m.ID, func(ev *sdk.Event) { ev.Start, ev.End = ev.Start.Add(time.Hour), ev.End.Add(time.Hour) })
		w.settle("alice linked")
		moved := start.Add(time.Hour)
		w.expect("alice linked", title, moved, time.Hour,
			want(alice, so, 1, sdk.ResponseOrganizer), want(bob, so, 1, ""), want(room, so, 1, sdk.ResponseAccepted),
			want(alice, cal, 1, ""), want(bob, cal, 1, ""), want(room, cal, 1, sdk.ResponseAccepted))
	})
}

// Bob declines in the calendar before the meeting was ever synced (Exchange then
// removes his copy at once): the organizer's answers carry the decline to his row
// in SuperOffice.
func TestDeclinedBeforeTheFirstSync(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
		const title = "Early no"
		w.calCreate(alice, calMeeting{title: title, start: start, dur: time.Hour, attendees: []string{w.mailbox[bob]}, rooms: []string{w.mailbox[room]}})
		w.calDecline(bob, w.calFind(bob, title, start))
		w.settle("declined")
		bobCopies := 1
		if kind == "m365" {
			bobCopies = 0
		}
		w.expect("declined", title, start, time.Hour, want(alice, so, 1, sdk.ResponseOrganizer), want(bob, so, 1, sdk.ResponseDeclined),
			want(bob, cal, bobCopies, sdk.ResponseDeclined), want(room, so, 1, sdk.ResponseAccepted), want(room, cal, 1, sdk.ResponseAccepted))
	})
}

// Room 1 is booked twice in SuperOffice (which allows it). In Google the room
// declines the second booking, and the decline comes back to the room's row of it
// in SuperOffice; in Microsoft 365 the room's link writes the booking into the
// room's calendar itself, where Exchange's booking rules do not apply, so both
// bookings stand (as they do in SuperOffice).
func TestRoomBookedTwiceInSuperOffice(t *testing.T) {
	eachWorld(t, func(t *testing.T, kind string, seed uint64) {
		w := newWorld(t, kind, seed)
		start := time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
		w.newMeeting("Kickoff", start, time.Hour)
		w.settle("first")
		clash := start.Add(30 * time.Minute)
		w.soCreate(bob, sdk.Event{Title: "Clash", Start: clash, End: clash.Add(time.Hour), TimeZone: "UTC",
			Attendees: []sdk.Attendee{{AccountID: strconv.Itoa(w.assoc[room]), Type: sdk.AttendeeResource}}})
		w.settle("second")
		answer := sdk.ResponseDeclined
		if kind == "m365" {
			answer = sdk.ResponseAccepted
		}
		w.expect("second", "Clash", clash, time.Hour, want(bob, so, 1, sdk.ResponseOrganizer), want(bob, cal, 1, ""),
			want(room, so, 1, answer), want(room, cal, 1, answer))
		w.expect("second", "Kickoff", start, time.Hour, want(room, so, 1, sdk.ResponseAccepted), want(room, cal, 1, sdk.ResponseAccepted))
	})
}
