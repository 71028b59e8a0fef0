package google

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

// TestRandomEditsMatchAFreshRead drives random out-of-band edits (creates, moves in
// and out of the window, deletes, series with moved and cancelled occurrences) and a
// sliding window, and checks after every incremental round that what the rounds
// reported, applied like the host applies them, matches a fresh full read of the
// window. The seed is printed; GOOGLE_TEST_SEED replays one.
func TestRandomEditsMatchAFreshRead(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("GOOGLE_TEST_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GOOGLE_TEST_SEED: %v", err)
		}
		seed = s
	}
	t.Logf("seed %d (replay with GOOGLE_TEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	e := newEnv(t, gcaltest.Options{Seed: int64(seed), QuotaPerUser: -1}, Options{RequestsPerMinute: -1, WindowQuantum: -1})
	u := gcaltest.UserEmail(1)
	g := e.google()
	ctx := context.Background()

	model := map[string]sdk.Event{}
	apply := func(r roundResult) {
		for id := range r.removed {
			delete(model, id)
		}
		for id, ev := range r.events {
			model[id] = ev
		}
	}
	// Items that exist before the first (window-bounded) read, some beyond the
	// window's end: the window reaches them later without any change to them.
	var singles, masters []string
	for i := 0; i < 12; i++ {
		s := e.window().End.Add(time.Duration(rng.IntN(240)) * time.Hour).Truncate(time.Hour)
		if i%2 == 0 {
			s = e.window().Start.Add(time.Duration(rng.IntN(24*150)) * time.Hour).Truncate(time.Hour)
		}
		ev, err := g.Events.Insert(u, &gcal.Event{Summary: fmt.Sprintf("pre%d", i),
			Start: &gcal.EventDateTime{DateTime: s.Format(time.RFC3339), TimeZone: "Europe/Oslo"},
			End:   &gcal.EventDateTime{DateTime: s.Add(time.Hour).Format(time.RFC3339), TimeZone: "Europe/Oslo"}}).Do()
		if err != nil {
			t.Fatal(err)
		}
		singles = append(singles, ev.Id)
	}
	tg := e.target(u)
	first := e.round(tg, "", e.window())
	apply(first)
	cur := first.cursor
	at := func() time.Time {
		w := e.window()
		// Anywhere from 10 days before the window to 10 days after it.
		span := w.End.Sub(w.Start) + 20*24*time.Hour
		return w.Start.Add(-10*24*time.Hour + time.Duration(rng.Int64N(int64(span/time.Hour)))*time.Hour).Truncate(time.Hour)
	}
	dt := func(t time.Time) *gcal.EventDateTime {
		return &gcal.EventDateTime{DateTime: t.Format(time.RFC3339), TimeZone: "Europe/Oslo"}
	}
	for step := 0; step < 60; step++ {
		switch op := rng.IntN(8); op {
		case 0, 1: // a new single
			s := at()
			ev, err := g.Events.Insert(u, &gcal.Event{Summary: fmt.Sprintf("s%d", step), Start: dt(s), End: dt(s.Add(time.Hour))}).Do()
			if err != nil {
				t.Fatal(err)
			}
			singles = append(singles, ev.Id)
		case 2: // move a single anywhere (maybe out of or into the window)
			if len(singles) > 0 {
				id := singles[rng.IntN(len(singles))]
				s := at()
				_, _ = g.Events.Patch(u, id, &gcal.Event{Start: dt(s), End: dt(s.Add(time.Hour))}).Do()
			}
		case 3: // delete a single
			if len(singles) > 0 {
				i := rng.IntN(len(singles))
				_ = g.Events.Delete(u, singles[i]).Do()
				singles = slices.Delete(singles, i, i+1)
			}
		case 4: // a new weekly series
			s := at()
			ev, err := g.Events.Insert(u, &gcal.Event{Summary: fmt.Sprintf("m%d", step), Start: dt(s), End: dt(s.Add(time.Hour)),
				Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=" + strconv.Itoa(2+rng.IntN(8))}}).Do()
			if err != nil {
				t.Fatal(err)
			}
			masters = append(masters, ev.Id)
		case 5, 6: // cancel or move one occurrence
			if len(masters) == 0 {
				continue
			}
			id := masters[rng.IntN(len(masters))]
			inst, err := g.Events.Instances(u, id).Do()
			if err != nil || len(inst.Items) == 0 {
				continue
			}
			it := inst.Items[rng.IntN(len(inst.Items))]
			if op == 5 {
				_ = g.Events.Delete(u, it.Id).Do()
			} else {
				s := at()
				_, _ = g.Events.Patch(u, it.Id, &gcal.Event{Summary: "moved", Start: dt(s), End: dt(s.Add(time.Hour))}).Do()
			}
		case 7: // delete a series, or let time pass
			if len(masters) > 0 && rng.IntN(2) == 0 {
				i := rng.IntN(len(masters))
				_ = g.Events.Delete(u, masters[i]).Do()
				masters = slices.Delete(masters, i, i+1)
			} else {
				e.advance(time.Duration(1+rng.IntN(72)) * time.Hour)
				tg = e.target(u)
			}
		}
		r, err := e.tryRound(ctx, tg, cur, e.window())
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		apply(r)
		cur = r.cursor
		fresh := e.round(tg, "", e.window())
		w := e.window()
		for id, want := range fresh.events {
			got, ok := model[id]
			if !ok {
				t.Fatalf("step %d: %s (%s) is in the window but was never reported", step, id, want.Title)
			}
			if got.Version != want.Version || !slices.Equal(got.Recurrence, want.Recurrence) || !got.Start.Equal(want.Start) {
				t.Fatalf("step %d: %s reported as %s %q %s, now %s %q %s", step, id, got.Version, got.Recurrence, got.Start,
					want.Version, want.Recurrence, want.Start)
			}
		}
		for id, got := range model {
			if _, ok := fresh.events[id]; ok {
				continue
			}
			in := inWindow(nil, got, w)
			if got.Kind == sdk.KindException {
				in = w.Contains(got.Start, got.End) // a full read lists exceptions by their own time
			}
			if in {
				t.Fatalf("step %d: %s (%s) is held inside the window but gone from a fresh read", step, id, got.Title)
			}
		}
	}
}
