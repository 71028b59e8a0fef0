package providertest

import (
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// roundTrip creates events that between them set every synced field, and checks
// that Create's answer, Get, a full listing and an Update keep them.
func (s *suite) roundTrip(t *testing.T) {
	base := func(t *testing.T, title string, start time.Time, dur time.Duration, zone string) sdk.Event {
		return sdk.Event{
			Kind: sdk.KindSingle, CorrelationID: s.corr(t), Title: title,
			Start: start, End: start.Add(dur), TimeZone: zone,
			ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
		}
	}
	cases := []struct {
		name string
		make func(t *testing.T) sdk.Event
	}{
		{"single", func(t *testing.T) sdk.Event {
			ev := base(t, "Quarterly review – Ærøskøbing ✓", s.local(t, "Europe/Oslo", 3, 9, 30), 90*time.Minute, "Europe/Oslo")
			ev.Description = "Agenda:\n1. Numbers\n2. \"Quotes\" & <brackets>"
			ev.Location = "Room 4, 2nd floor"
			ev.HasReminder, ev.ReminderMinutes = true, 30
			return ev
		}},
		{"free-private", func(t *testing.T) sdk.Event {
			ev := base(t, "Dentist", s.local(t, "America/New_York", 4, 16, 0), 45*time.Minute, "America/New_York")
			ev.ShowAs, ev.Privacy = sdk.ShowFree, sdk.PrivacyPrivate
			return ev
		}},
		{"tentative", func(t *testing.T) sdk.Event {
			ev := base(t, "Maybe lunch", s.local(t, "Europe/Oslo", 5, 11, 0), time.Hour, "Europe/Oslo")
			ev.ShowAs = sdk.ShowTentative
			return ev
		}},
		{"out-of-office", func(t *testing.T) sdk.Event {
			ev := base(t, "Conference", s.local(t, "Asia/Tokyo", 6, 8, 0), 8*time.Hour, "Asia/Tokyo")
			ev.ShowAs = sdk.ShowOOF
			return ev
		}},
		{"html", func(t *testing.T) sdk.Event {
			ev := base(t, "Formatted", s.local(t, "UTC", 7, 13, 0), time.Hour, "UTC")
			ev.Description = "Hello world"
			ev.DescriptionHTML = "<p>Hello <b>world</b></p>"
			return ev
		}},
		{"all-day", func(t *testing.T) sdk.Event {
			return sdk.Event{
				Kind: sdk.KindSingle, CorrelationID: s.corr(t), Title: "Company offsite",
				Start: s.day(10), End: s.day(13), AllDay: true,
				ShowAs: sdk.ShowFree, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
			}
		}},
		{"all-day-one", func(t *testing.T) sdk.Event {
			return sdk.Event{
				Kind: sdk.KindSingle, CorrelationID: s.corr(t), Title: "Holiday",
				Start: s.day(20), End: s.day(21), AllDay: true,
				ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
			}
		}},
		{"dst-europe", func(t *testing.T) sdk.Event {
			return s.acrossDST(t, base, "Europe/Oslo")
		}},
		{"dst-america", func(t *testing.T) sdk.Event {
			return s.acrossDST(t, base, "America/New_York")
		}},
		{"meeting", func(t *testing.T) sdk.Event {
			if len(s.h.Attendees) == 0 {
				t.Skip("the Harness names no Attendees")
			}
			ev := base(t, "Planning meeting", s.local(t, "Europe/Oslo", 8, 10, 0), time.Hour, "Europe/Oslo")
			ev.Attendees = append([]sdk.Attendee(nil), s.h.Attendees...)
			ev.IsOrganizer = true
			return ev
		}},
	}
	for _, c := range cases {
		s.run(t, c.name, func(t *testing.T) {
			tg := s.target(t)
			sent := c.make(t)
			s.checkRoundTrip(t, tg, sent)
		})
	}
	s.run(t, "update", func(t *testing.T) {
		tg := s.target(t)
		sent := base(t, "Before", s.local(t, "Europe/Oslo", 2, 14, 0), time.Hour, "Europe/Oslo")
		created := s.create(t, tg, sent)
		changed := sent
		changed.ID, changed.Version = created.ID, created.Version
		changed.Title, changed.Location = "After", "Moved to room 7"
		changed.Start, changed.End = sent.Start.Add(26*time.Hour), sent.End.Add(27*time.Hour)
		changed.ShowAs, changed.HasReminder, changed.ReminderMinutes = sdk.ShowFree, true, 10
		got, err := s.h.Provider.Update(s.ctx(t), tg, changed)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if got.ID != created.ID {
			t.Fatalf("Update changed the id from %s to %s", created.ID, got.ID)
		}
		if got.Version == created.Version {
			t.Errorf("Update kept the version %q", got.Version)
		}
		want := s.h.Expect(changed)
		checkEvent(t, "Update's answer", want, got, s.window())
		checkEvent(t, "Get after Update", want, s.get(t, tg, created.ID), s.window())
	})
}

// acrossDST is an event in zone that starts an hour before the zone's next
// change of UTC offset and lasts three hours.
func (s *suite) acrossDST(t *testing.T, base func(*testing.T, string, time.Time, time.Duration, string) sdk.Event, zone string) sdk.Event {
	loc := mustZone(t, zone)
	tr := nextTransition(loc, s.h.Now().Add(24*time.Hour))
	if tr.IsZero() {
		t.Skipf("%s changes its offset nowhere in the next 400 days", zone)
	}
	return base(t, "Across the clock change in "+zone, tr.Add(-time.Hour), 3*time.Hour, zone)
}

// checkRoundTrip creates sent and compares Create's answer, Get and the full
// listing with what Expect says.
func (s *suite) checkRoundTrip(t *testing.T, tg sdk.Target, sent sdk.Event) sdk.Event {
	t.Helper()
	want := s.h.Expect(sent)
	w := s.window()
	created := s.create(t, tg, sent)
	checkEvent(t, "Create's answer", want, created, w)
	got := s.get(t, tg, created.ID)
	checkEvent(t, "Get", want, got, w)
	r := s.readRound(t, tg, "", 0)
	if !r.full {
		t.Errorf("a read with an empty cursor is not Full")
	}
	listed, ok := r.byID()[created.ID]
	if !ok {
		t.Fatalf("the full listing of the window lacks %s", created.ID)
	}
	checkEvent(t, "the full listing", want, listed, w)
	if listed.Version != got.Version {
		t.Errorf("the listing's version %q differs from Get's %q with no change in between", listed.Version, got.Version)
	}
	return created
}
