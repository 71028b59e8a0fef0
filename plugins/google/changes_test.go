package google

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	gcal "google.golang.org/api/calendar/v3"

	"synchronizer/plugins/google/gcaltest"
	"synchronizer/plugins/sdk"
)

func TestFullReadThenQuietIncremental(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	if err := e.srv.SeedEvents(u, 300, 42); err != nil {
		t.Fatal(err)
	}
	tg := e.target(u)
	w := e.window()
	w.Start, w.End = w.Start.AddDate(0, 0, -2), w.End.AddDate(0, 0, 2) // the seed's whole span
	first := e.round(tg, "", w)
	if !first.full {
		t.Fatal("first round is not Full")
	}
	// 297 singles + the master + its moved exception; the cancelled occurrence is an
	// EXDATE of the master, not an item.
	if len(first.events) != 299 {
		t.Fatalf("full read listed %d items", len(first.events))
	}
	var master sdk.Event
	for _, ev := range first.events {
		if ev.Kind == sdk.KindMaster {
			master = ev
		}
	}
	if len(master.Recurrence) != 2 || !strings.HasPrefix(master.Recurrence[1], "EXDATE:") {
		t.Fatalf("master recurrence %q: want the RRULE and the cancelled occurrence", master.Recurrence)
	}
	before := e.stats().RequestsTotal
	quiet := e.round(tg, first.cursor, w)
	if len(quiet.events) != 0 || len(quiet.removed) != 0 || quiet.full {
		t.Fatalf("no-change round listed %d, removed %d", len(quiet.events), len(quiet.removed))
	}
	if n := e.stats().RequestsTotal - before; n != 1 {
		t.Fatalf("no-change round cost %d requests, want 1", n)
	}
}

func TestIncrementalChangesDeletesAndCancelledOccurrences(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	a, err := e.p.Create(ctx, tg, single("A", t0.Add(24*time.Hour), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := single("Series", t0.Add(48*time.Hour), time.Hour)
	m.Kind, m.Recurrence, m.CorrelationID = sdk.KindMaster, []string{"RRULE:FREQ=WEEKLY;COUNT=6"}, "c-series"
	master, err := e.p.Create(ctx, tg, m)
	if err != nil {
		t.Fatal(err)
	}
	w := e.window()
	base := e.round(tg, "", w)
	if len(base.events) != 2 {
		t.Fatalf("base: %d", len(base.events))
	}
	g := e.google()
	// Out of band: delete A, cancel the second occurrence, move the third.
	if err := g.Events.Delete(u, a.ID).Do(); err != nil {
		t.Fatal(err)
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	// Weekly at 09:00 Oslo: after the DST change that is 07:00Z, not 08:00Z.
	second := master.Start.In(oslo).AddDate(0, 0, 7)
	third := master.Start.In(oslo).AddDate(0, 0, 14)
	if err := g.Events.Delete(u, instanceID(master.ID, second, false)).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Events.Patch(u, instanceID(master.ID, third, false), &gcal.Event{Summary: "Moved",
		Start: &gcal.EventDateTime{DateTime: third.Add(2 * time.Hour).Format(time.RFC3339)},
		End:   &gcal.EventDateTime{DateTime: third.Add(3 * time.Hour).Format(time.RFC3339)}}).Do(); err != nil {
		t.Fatal(err)
	}
	inc := e.round(tg, base.cursor, w)
	if !inc.removed[a.ID] {
		t.Fatalf("deleted single not removed: %v", inc.removed)
	}
	gotMaster, ok := inc.events[master.ID]
	if !ok {
		t.Fatalf("series not reported after a cancelled occurrence: %v", inc.events)
	}
	want := "EXDATE:" + second.UTC().Format("20060102T150405Z")
	if !slices.Contains(gotMaster.Recurrence, want) {
		t.Fatalf("master recurrence %q lacks %s", gotMaster.Recurrence, want)
	}
	exc, ok := byTitle(inc.events, "Moved")
	if !ok || exc.Kind != sdk.KindException || exc.SeriesID != master.ID || !exc.OriginalStart.Equal(third) {
		t.Fatalf("exception: %+v", exc)
	}
	// Get confirms: the deleted single is gone, the cancelled occurrence too.
	_, err = e.p.Get(ctx, tg, a.ID)
	mustErrIs(t, err, sdk.ErrNotFound)
	_, err = e.p.Get(ctx, tg, instanceID(master.ID, second, false))
	mustErrIs(t, err, sdk.ErrNotFound)
	// Deleting the whole series removes master and exception.
	if err := g.Events.Delete(u, master.ID).Do(); err != nil {
		t.Fatal(err)
	}
	gone := e.round(tg, inc.cursor, w)
	if !gone.removed[master.ID] || !gone.removed[exc.ID] {
		t.Fatalf("series delete: removed %v events %v", gone.removed, gone.events)
	}
}

// A sync token covers the whole calendar but the first read was bounded by the
// window: an untouched event that the sliding window reaches must still be listed.
func TestSyncTokenOutlivesWindowSlide(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	w1 := e.window()
	ahead, err := e.p.Create(context.Background(), tg, single("Beyond", w1.End.Add(48*time.Hour), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	behind, err := e.p.Create(context.Background(), tg, single("Before", w1.Start.Add(-48*time.Hour), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r1 := e.round(tg, "", w1)
	if _, ok := r1.events[ahead.ID]; ok || len(r1.events) != 0 {
		t.Fatalf("first read: %v", r1.events)
	}
	// Half an hour later: the gap is under the quantum, nothing is read beyond the token.
	e.advance(30 * time.Minute)
	before := e.stats().RequestsTotal
	r2 := e.round(tg, r1.cursor, e.window())
	if len(r2.events) != 0 || e.stats().RequestsTotal-before != 1 {
		t.Fatalf("small slide: %d events, %d requests", len(r2.events), e.stats().RequestsTotal-before)
	}
	// Three days later the event has entered the window.
	e.advance(72 * time.Hour)
	tg = e.target(u) // the host refreshed its token meanwhile
	r3 := e.round(tg, r2.cursor, e.window())
	if _, ok := r3.events[ahead.ID]; !ok {
		t.Fatalf("event that entered the window not listed: %v", r3.events)
	}
	if r3.full {
		t.Fatal("a window extension is not a Full round")
	}
	// And only once: the next quiet round lists nothing.
	r4 := e.round(tg, r3.cursor, e.window())
	if len(r4.events) != 0 {
		t.Fatalf("listed again: %v", r4.events)
	}
	// Widening the past brings in the older event.
	w5 := e.window()
	w5.Start = w5.Start.AddDate(0, 0, -10)
	r5 := e.round(tg, r4.cursor, w5)
	if _, ok := r5.events[behind.ID]; !ok {
		t.Fatalf("widened past not read: %v", r5.events)
	}
}

func TestEventMovedOutOfAndBackIntoTheWindow(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ev, err := e.p.Create(context.Background(), tg, single("Wanderer", t0.Add(24*time.Hour), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	w := e.window()
	r1 := e.round(tg, "", w)
	g := e.google()
	far := w.End.AddDate(0, 1, 0)
	if _, err := g.Events.Patch(u, ev.ID, &gcal.Event{Start: &gcal.EventDateTime{DateTime: far.Format(time.RFC3339)},
		End: &gcal.EventDateTime{DateTime: far.Add(time.Hour).Format(time.RFC3339)}}).Do(); err != nil {
		t.Fatal(err)
	}
	// The change is reported where the item now is, so the host can freeze it.
	r2 := e.round(tg, r1.cursor, w)
	out, ok := r2.events[ev.ID]
	if !ok || inWindow(nil, out, w) {
		t.Fatalf("moved out: %v", r2.events)
	}
	back := t0.Add(48 * time.Hour)
	if _, err := g.Events.Patch(u, ev.ID, &gcal.Event{Start: &gcal.EventDateTime{DateTime: back.Format(time.RFC3339)},
		End: &gcal.EventDateTime{DateTime: back.Add(time.Hour).Format(time.RFC3339)}}).Do(); err != nil {
		t.Fatal(err)
	}
	r3 := e.round(tg, r2.cursor, w)
	if got, ok := r3.events[ev.ID]; !ok || !got.Start.Equal(back) {
		t.Fatalf("moved back: %v", r3.events)
	}
}

func TestExpiredCursorAndBadCursor(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	tg := e.target(gcaltest.UserEmail(1))
	r := e.round(tg, "", e.window())
	e.faults(gcaltest.Faults{ExpireCursors: true})
	_, err := e.p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: r.cursor, Window: e.window()})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)
	_, err = e.p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: "not a cursor", Window: e.window()})
	mustErrIs(t, err, sdk.ErrFullSyncRequired)
	_, err = e.p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Window: sdk.Window{Start: t0, End: t0}})
	mustErrIs(t, err, sdk.ErrInvalidArgument)
}

func TestShortPagesAndPageSize(t *testing.T) {
	e := newEnv(t, gcaltest.Options{Seed: 3}, Options{})
	u := gcaltest.UserEmail(1)
	if err := e.srv.SeedEvents(u, 120, 9); err != nil {
		t.Fatal(err)
	}
	tg := e.target(u)
	e.faults(gcaltest.Faults{ShortPages: true})
	var all map[string]sdk.Event
	cur := ""
	all = map[string]sdk.Event{}
	for pages := 0; ; pages++ {
		if pages > 500 {
			t.Fatal("no end")
		}
		ch, err := e.p.ListChanges(context.Background(), tg, sdk.ChangesRequest{Cursor: cur, Window: e.window(), PageSize: 25})
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Events) > 25 {
			t.Fatalf("page of %d with page size 25", len(ch.Events))
		}
		for _, ev := range ch.Events {
			all[ev.ID] = ev
		}
		cur = ch.Cursor
		if !ch.More {
			break
		}
	}
	if len(all) != 119 {
		t.Fatalf("listed %d of 119", len(all))
	}
}

func TestDSTAndAllDay(t *testing.T) {
	e := newEnv(t, gcaltest.Options{}, Options{})
	u := gcaltest.UserEmail(1)
	tg := e.target(u)
	ctx := context.Background()
	oslo, _ := time.LoadLocation("Europe/Oslo")
	// A weekly series at 09:00 Oslo across the change on 31 March 2024.
	start := time.Date(2024, 3, 26, 9, 0, 0, 0, oslo)
	m := sdk.Event{Kind: sdk.KindMaster, Title: "Standup", Start: start, End: start.Add(30 * time.Minute), TimeZone: "Europe/Oslo",
		Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=3"}, CorrelationID: "dst-1"}
	master, err := e.p.Create(ctx, tg, m)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.google().Events.Instances(u, master.ID).Do()
	if err != nil || len(inst.Items) != 3 {
		t.Fatalf("instances: %v", err)
	}
	for _, it := range inst.Items {
		st, _ := time.Parse(time.RFC3339, it.Start.DateTime)
		if h := st.In(oslo).Hour(); h != 9 {
			t.Fatalf("occurrence %s at %d:00 Oslo", it.Start.DateTime, h)
		}
	}
	// An occurrence after the change, moved: the exception's original start is the
	// UTC instant of 09:00 summer time.
	orig := time.Date(2024, 4, 2, 9, 0, 0, 0, oslo)
	exc, err := e.p.Create(ctx, tg, sdk.Event{Kind: sdk.KindException, SeriesID: master.ID, OriginalStart: orig, Title: "Standup late",
		Start: orig.Add(time.Hour), End: orig.Add(90 * time.Minute), TimeZone: "Europe/Oslo", CorrelationID: "dst-2"})
	if err != nil {
		t.Fatal(err)
	}
	if exc.ID != master.ID+"_20240402T070000Z" || !exc.OriginalStart.Equal(orig) {
		t.Fatalf("exception %s original %s", exc.ID, exc.OriginalStart)
	}
	// All-day across the change: midnight UTC, end exclusive, whatever the zones.
	ad, err := e.p.Create(ctx, tg, sdk.Event{Kind: sdk.KindSingle, AllDay: true, Title: "Easter",
		Start: time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC), CorrelationID: "dst-3"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.round(tg, "", e.window())
	got := r.events[ad.ID]
	if !got.AllDay || !got.Start.Equal(time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC)) || !got.End.Equal(time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("all-day: %+v", got)
	}
	// A timed event on the DST day keeps its instant and zone.
	dstDay := time.Date(2024, 3, 31, 3, 30, 0, 0, oslo) // 03:30 CEST = 01:30Z, just after the jump
	ev, err := e.p.Create(ctx, tg, single("Early", dstDay, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	back, err := e.p.Get(ctx, tg, ev.ID)
	if err != nil || !back.Start.Equal(dstDay) || back.TimeZone != "Europe/Oslo" {
		t.Fatalf("DST day: %v %+v", err, back)
	}
}
