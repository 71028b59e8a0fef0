package providertest

import (
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

// recurrence checks series: a weekly series long enough to cross a DST change
// with a cancelled occurrence (EXDATE), a moved occurrence (an exception), the
// cancellation of that exception, and an all-day series.
func (s *suite) recurrence(t *testing.T) {
	s.run(t, "weekly", func(t *testing.T) {
		tg := s.target(t)
		w := s.window()
		start := s.local(t, "Europe/Oslo", 2, 9, 0)
		master := sdk.Event{
			Kind: sdk.KindMaster, CorrelationID: s.corr(t), Title: "Weekly sync",
			Start: start, End: start.Add(45 * time.Minute), TimeZone: "Europe/Oslo",
			ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
			// 35 weeks always cross a change of daylight saving time.
			Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=35"},
		}
		occ, err := occurrences(master, w)
		if err != nil || len(occ) < 10 {
			t.Fatalf("test series expands to %d occurrences: %v", len(occ), err)
		}
		master.Recurrence = append(master.Recurrence, "EXDATE:"+occ[2].UTC().Format("20060102T150405Z"))
		created := s.checkRoundTrip(t, tg, master)
		offsets := map[int]bool{}
		for _, o := range occ {
			_, off := o.In(mustZone(t, "Europe/Oslo")).Zone()
			offsets[off] = true
			if h := o.In(mustZone(t, "Europe/Oslo")).Hour(); h != 9 {
				t.Fatalf("test series: occurrence at %d:00 local", h)
			}
		}
		if len(offsets) < 2 {
			t.Fatal("test series does not cross a change of daylight saving time")
		}

		// Move the second occurrence an hour later.
		orig := occ[1]
		exc := sdk.Event{
			Kind: sdk.KindException, SeriesID: created.ID, OriginalStart: orig, CorrelationID: s.corr(t),
			Title: "Weekly sync (moved)", Start: orig.Add(time.Hour), End: orig.Add(time.Hour + 45*time.Minute),
			TimeZone: "Europe/Oslo", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
		}
		excGot := s.create(t, tg, exc)
		checkEvent(t, "the exception's Create answer", s.h.Expect(exc), excGot, w)
		checkEvent(t, "the exception by Get", s.h.Expect(exc), s.get(t, tg, excGot.ID), w)

		r := s.readRound(t, tg, "", 0)
		byID := r.byID()
		for _, ev := range r.events {
			if ev.Kind != sdk.KindSingle && ev.Kind != sdk.KindMaster && ev.Kind != sdk.KindException {
				t.Errorf("listed %s of kind %q: plain occurrences must not be listed", ev.ID, ev.Kind)
			}
		}
		m, ok := byID[created.ID]
		if !ok {
			t.Fatal("the full listing lacks the master")
		}
		checkEvent(t, "the listed master", s.h.Expect(master), m, w)
		x, ok := byID[excGot.ID]
		if !ok {
			t.Fatal("the full listing lacks the exception")
		}
		checkEvent(t, "the listed exception", s.h.Expect(exc), x, w)

		// Cancel the moved occurrence: it must show as an EXDATE on the master.
		if err := s.h.Provider.Delete(s.ctx(t), tg, excGot.ID, ""); err != nil {
			t.Fatalf("Delete the exception: %v", err)
		}
		m2 := s.get(t, tg, created.ID)
		got, err := occurrences(m2, w)
		if err != nil {
			t.Fatalf("master after cancelling an occurrence: recurrence %q: %v", m2.Recurrence, err)
		}
		if slices.ContainsFunc(got, orig.Equal) {
			t.Errorf("the cancelled occurrence %s still appears in the master's recurrence %q", fmtTime(orig), m2.Recurrence)
		}
		if slices.ContainsFunc(got, occ[2].Equal) {
			t.Errorf("the excluded occurrence %s reappeared in %q", fmtTime(occ[2]), m2.Recurrence)
		}
		if !slices.ContainsFunc(got, occ[3].Equal) {
			t.Errorf("the untouched occurrence %s vanished from %q", fmtTime(occ[3]), m2.Recurrence)
		}
		if _, err := s.h.Provider.Get(s.ctx(t), tg, excGot.ID); err == nil {
			if ev, _ := s.h.Provider.Get(s.ctx(t), tg, excGot.ID); !ev.Cancelled {
				t.Errorf("the cancelled exception %s can still be read, not cancelled", excGot.ID)
			}
		}
	})
	s.run(t, "all-day", func(t *testing.T) {
		tg := s.target(t)
		start := s.day(5)
		master := sdk.Event{
			Kind: sdk.KindMaster, CorrelationID: s.corr(t), Title: "Payday",
			Start: start, End: start.AddDate(0, 0, 1), AllDay: true,
			ShowAs: sdk.ShowFree, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
			Recurrence: []string{"RRULE:FREQ=MONTHLY;COUNT=6",
				"EXDATE;VALUE=DATE:" + start.AddDate(0, 1, 0).Format("20060102")},
		}
		s.checkRoundTrip(t, tg, master)
	})
}
