package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

func weekly(title string, rule ...string) sdk.Event {
	ev := enginetest.Single(title, enginetest.T0.Add(-60*24*time.Hour)) // starts before the window
	ev.Kind = sdk.KindMaster
	ev.Recurrence = rule
	return ev
}

func TestSeriesRoundTrip(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	m := h.Cal.Put(weekly("standup", "RRULE:FREQ=WEEKLY"))
	h.Run()
	so := h.Find(engine.SuperOffice, "standup")
	if so.Kind != sdk.KindMaster || len(so.Recurrence) != 1 || so.Recurrence[0] != "RRULE:FREQ=WEEKLY" {
		t.Fatalf("copy of a series that began before the window = %+v", so)
	}
	// An exception and a cancelled occurrence travel as such.
	orig := m.Start.Add(10 * 7 * 24 * time.Hour)
	h.Cal.Put(sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: orig, Title: "standup moved",
		Start: orig.Add(time.Hour), End: orig.Add(2 * time.Hour), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	h.Edit(engine.Calendar, "standup", func(e *sdk.Event) {
		e.Recurrence = append(e.Recurrence, "EXDATE:"+orig.Add(7*24*time.Hour).UTC().Format("20060102T150405Z"))
	})
	h.Run()
	h.RequireSame()
	x := h.Find(engine.SuperOffice, "standup moved")
	if x.Kind != sdk.KindException || x.SeriesID != so.ID || !x.OriginalStart.Equal(orig) {
		t.Fatalf("exception copy = %+v", x)
	}
	// Deleting the exception on one side cancels the occurrence on the other.
	h.Remove(engine.SuperOffice, "standup moved")
	h.Settle()
	h.RequireSame()
	if h.Has(engine.Calendar, "standup moved") {
		t.Fatal("the exception survived its delete")
	}
	if got := h.Find(engine.Calendar, "standup").Recurrence; len(got) < 2 {
		t.Fatalf("calendar series lost its cancellations: %v", got)
	}
}

// TestEndlessSeriesStaysEndless: a side that cuts an endless series at a horizon
// (and moves it as time goes by) never makes the other side's series end.
func TestEndlessSeriesStaysEndless(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{Past: 30 * 24 * time.Hour, Future: 365 * 24 * time.Hour})
	h.Cal.Put(weekly("endless", "RRULE:FREQ=WEEKLY"))
	h.Run()
	horizon := func(until time.Time) func(*sdk.Event) {
		return func(e *sdk.Event) {
			e.Recurrence = []string{"RRULE:FREQ=WEEKLY;UNTIL=" + until.UTC().Format("20060102T150405Z")}
		}
	}
	h.Edit(engine.SuperOffice, "endless", horizon(enginetest.T0.AddDate(2, 0, 0)))
	h.Ops.Reset()
	h.Run()
	if n := h.Ops.Writes(); n != 0 {
		t.Fatalf("a horizon on superoffice caused %d writes", n)
	}
	h.Edit(engine.SuperOffice, "endless", horizon(enginetest.T0.AddDate(3, 0, 0)))
	h.Run()
	if got := h.Find(engine.Calendar, "endless").Recurrence; len(got) != 1 || strings.Contains(got[0], "UNTIL") {
		t.Fatalf("calendar series got an end: %v", got)
	}
	// A real end inside the window is an edit and travels.
	h.Edit(engine.SuperOffice, "endless", horizon(enginetest.T0.AddDate(0, 2, 0)))
	h.Run()
	if got := h.Find(engine.Calendar, "endless").Recurrence; len(got) != 1 || !strings.Contains(got[0], "UNTIL") {
		t.Fatalf("the end set on superoffice did not travel: %v", got)
	}
	// A title edit on superoffice, with the horizon moved, keeps the calendar endless.
	h2 := enginetest.NewHarness(t, engine.Policy{})
	h2.Cal.Put(weekly("endless", "RRULE:FREQ=WEEKLY"))
	h2.Run()
	h2.Edit(engine.SuperOffice, "endless", func(e *sdk.Event) {
		horizon(enginetest.T0.AddDate(2, 0, 0))(e)
		e.Title = "renamed"
	})
	h2.Run()
	if got := h2.Find(engine.Calendar, "renamed").Recurrence; len(got) != 1 || strings.Contains(got[0], "UNTIL") {
		t.Fatalf("calendar series got an end with a rename: %v", got)
	}
}

// TestSeriesEditBeatsDelete: a series deleted on one side and edited on the other
// comes back with its exceptions.
func TestSeriesEditBeatsDelete(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	m := h.SO.Put(weekly("series", "RRULE:FREQ=WEEKLY;COUNT=30"))
	orig := m.Start.Add(12 * 7 * 24 * time.Hour)
	h.SO.Put(sdk.Event{Kind: sdk.KindException, SeriesID: m.ID, OriginalStart: orig, Title: "moved",
		Start: orig.Add(time.Hour), End: orig.Add(2 * time.Hour), ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic})
	h.Run()
	h.Remove(engine.Calendar, "series")
	h.Clock.Advance(time.Minute)
	h.Edit(engine.SuperOffice, "series", enginetest.Retitle("series edited"))
	h.Settle()
	h.RequireSame()
	if !h.Has(engine.Calendar, "moved") || !h.Has(engine.Calendar, "series edited") {
		t.Fatalf("calendar = %s", enginetest.Titles(h.Cal))
	}
}

// noLookup hides FindByCorrelation, as a provider without the capability.
type noLookup struct{ engine.Endpoint }

func (noLookup) FindByCorrelation(context.Context, string) ([]sdk.Event, error) {
	return nil, sdk.ErrUnsupported
}

// failAfterCreate loses the answer of the next create (the item is made).
type failAfterCreate struct {
	engine.Endpoint
	armed *bool
}

func (f failAfterCreate) Create(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	got, err := f.Endpoint.Create(ctx, ev)
	if err == nil && *f.armed {
		*f.armed = false
		return sdk.Event{}, context.DeadlineExceeded
	}
	return got, err
}

// TestPendingCreateWithoutLookup: when the target cannot look ids up, a pending
// create is settled by a full read of the target, not created again.
func TestPendingCreateWithoutLookup(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
	armed := true
	h.Link.Calendar = noLookup{failAfterCreate{h.Link.Calendar, &armed}}
	if _, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{}); err == nil {
		t.Fatal("the lost answer did not fail the run")
	}
	if h.Cal.Len() != 1 {
		t.Fatalf("calendar has %d items", h.Cal.Len())
	}
	h.Rebuild()
	h.Settle()
	if h.Cal.Len() != 1 || h.Pairs() != 1 {
		t.Fatalf("after the restart: calendar %d, pairs %d", h.Cal.Len(), h.Pairs())
	}
	if ins, _ := h.Store.Intents(context.Background(), h.Link.Key); len(ins) != 0 {
		t.Fatalf("intents left: %+v", ins)
	}
}

// TestLostAnswerSettledInRun: a create whose answer is lost is found by its
// correlation id at once, without a failed run.
func TestLostAnswerSettledInRun(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
	armed := true
	h.Link.Calendar = failAfterCreate{h.Link.Calendar, &armed}
	res := h.Run()
	if len(res.Done) != 1 || h.Cal.Len() != 1 || h.Pairs() != 1 {
		t.Fatalf("done %v, calendar %d, pairs %d", res.Done, h.Cal.Len(), h.Pairs())
	}
	if again := h.Run(); len(again.Done) != 0 {
		t.Fatalf("second run wrote %v", again.Done)
	}
}
