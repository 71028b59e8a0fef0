package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

func TestDirection(t *testing.T) {
	cases := []struct {
		dir           engine.Direction
		wantSO, wantC string
	}{
		// From a synced "A": SO edits A->S, Cal creates "C" and the Cal copy of a
		// second item B is edited to "B2".
		{engine.TwoWay, "[B2 C S]", "[B2 C S]"},
		{engine.ToCalendar, "[B S]", "[B2 C S]"},
		{engine.ToSuperOffice, "[B2 C S]", "[B2 C S]"},
	}
	for _, tc := range cases {
		t.Run(string(tc.dir), func(t *testing.T) {
			t.Parallel()
			h := enginetest.NewHarness(t, engine.Policy{Direction: engine.TwoWay})
			h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
			h.SO.Put(enginetest.Single("B", enginetest.T0.Add(2*time.Hour)))
			h.Run()
			h.Link.Policy.Direction = tc.dir
			h.Run() // the policy change reads both sides in full: nothing to do
			h.Edit(engine.SuperOffice, "A", enginetest.Retitle("S"))
			h.Cal.Put(enginetest.Single("C", enginetest.T0.Add(3*time.Hour)))
			h.Edit(engine.Calendar, "B", enginetest.Retitle("B2"))
			h.Run()
			if tc.dir == engine.ToSuperOffice {
				// SO's edit is not copied, so the calendar keeps A.
				tc.wantC = "[A B2 C]"
			}
			if got := enginetest.Titles(h.SO); got != tc.wantSO {
				t.Errorf("superoffice = %s, want %s", got, tc.wantSO)
			}
			if got := enginetest.Titles(h.Cal); got != tc.wantC {
				t.Errorf("calendar = %s, want %s", got, tc.wantC)
			}
			if res := h.Run(); len(res.Done) != 0 {
				t.Errorf("second run wrote %v", res.Done)
			}
		})
	}
}

func TestPrivateBusy(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{Private: engine.PrivateBusy})
	p := enginetest.Single("Doctor", enginetest.T0.Add(time.Hour))
	p.Privacy = sdk.PrivacyPrivate
	p.Description = "secret"
	p.Location = "clinic"
	h.SO.Put(p)
	h.Run()
	ph := h.Find(engine.Calendar, engine.BusyTitle)
	if ph.Description != "" || ph.Location != "" || ph.Privacy != sdk.PrivacyPrivate {
		t.Fatalf("placeholder leaks details: %+v", ph)
	}
	// A detail change behind the placeholder writes nothing.
	h.Edit(engine.SuperOffice, "Doctor", func(e *sdk.Event) { e.Description = "more secret" })
	if res := h.Run(); len(res.Done) != 0 {
		t.Fatalf("detail change wrote %v", res.Done)
	}
	// Edits of the placeholder are not copied back over the real appointment.
	h.Edit(engine.Calendar, engine.BusyTitle, enginetest.Retitle("edited placeholder"))
	h.Run()
	if h.Find(engine.SuperOffice, "Doctor").Description != "more secret" {
		t.Fatal("the real appointment changed")
	}
	// A time change on engine.SuperOffice moves the placeholder.
	h.Edit(engine.SuperOffice, "Doctor", func(e *sdk.Event) { e.Start, e.End = e.Start.Add(time.Hour), e.End.Add(time.Hour) })
	h.Run()
	if got := h.Find(engine.Calendar, engine.BusyTitle).Start; !got.Equal(enginetest.T0.Add(2 * time.Hour)) {
		t.Fatalf("placeholder starts %s", got)
	}
	// Made public: the full appointment appears.
	h.Edit(engine.SuperOffice, "Doctor", func(e *sdk.Event) { e.Privacy = sdk.PrivacyPublic })
	h.Run()
	if got := h.Find(engine.Calendar, "Doctor"); got.Description != "more secret" {
		t.Fatalf("public copy = %+v", got)
	}
	// Private items made on the calendar are copied as private, in full.
	c := enginetest.Single("Calendar private", enginetest.T0.Add(5*time.Hour))
	c.Privacy = sdk.PrivacyPrivate
	h.Cal.Put(c)
	h.Run()
	h.Run()
	if got := h.Find(engine.SuperOffice, "Calendar private"); got.Privacy != sdk.PrivacyPrivate {
		t.Fatalf("copy lost privacy: %+v", got)
	}
	if !h.Has(engine.Calendar, "Calendar private") {
		t.Fatal("the calendar original was replaced by a placeholder")
	}
}

func TestPrivateSkip(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{Private: engine.PrivateSkip})
	p := enginetest.Single("Doctor", enginetest.T0.Add(time.Hour))
	p.Privacy = sdk.PrivacyPrivate
	h.SO.Put(p)
	h.SO.Put(enginetest.Single("Public", enginetest.T0.Add(2*time.Hour)))
	h.Run()
	if got := enginetest.Titles(h.Cal); got != "[Public]" {
		t.Fatalf("calendar = %s", got)
	}
	// A synced item that becomes private leaves the calendar.
	h.Edit(engine.SuperOffice, "Public", func(e *sdk.Event) { e.Privacy = sdk.PrivacyPrivate })
	h.Run()
	if got := enginetest.Titles(h.Cal); got != "[]" {
		t.Fatalf("calendar = %s after the item became private", got)
	}
	// A full read does not bring it back; making it public does.
	h.SOP.ExpireCursors()
	h.CalP.ExpireCursors()
	h.Run()
	if got := enginetest.Titles(h.Cal); got != "[]" {
		t.Fatalf("calendar = %s after a full read", got)
	}
	h.Edit(engine.SuperOffice, "Doctor", func(e *sdk.Event) { e.Privacy = sdk.PrivacyPublic })
	h.Run()
	if got := enginetest.Titles(h.Cal); got != "[Doctor]" {
		t.Fatalf("calendar = %s after the item became public", got)
	}
	if got := enginetest.Titles(h.SO); got != "[Doctor Public]" {
		t.Fatalf("superoffice = %s: skip must never delete there", got)
	}
}

func TestMeetingOwnership(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	m := enginetest.Single("Meeting", enginetest.T0.Add(time.Hour))
	m.Organizer = sdk.Attendee{Email: "jane@example.com", Type: sdk.AttendeeRequired}
	m.Attendees = []sdk.Attendee{{Email: "bob@example.com", Type: sdk.AttendeeRequired}}
	m.IsOrganizer = true
	h.SO.Put(m)
	h.Run()
	// The calendar's edit of a engine.SuperOffice meeting is reverted once.
	h.Edit(engine.Calendar, "Meeting", enginetest.Retitle("hijacked"))
	res := h.Run()
	if enginetest.CountOps(res, engine.Calendar, engine.OpUpdate) != 1 || enginetest.CountOps(res, engine.SuperOffice, engine.OpUpdate) != 0 {
		t.Fatalf("revert wrote %v", res.Done)
	}
	if got := enginetest.Titles(h.Cal); got != "[Meeting]" {
		t.Fatalf("calendar = %s, want the owner's version", got)
	}
	if res := h.Run(); len(res.Done) != 0 {
		t.Fatalf("the revert echoed: %v", res.Done)
	}
	// The owner's edits flow as usual.
	h.Edit(engine.SuperOffice, "Meeting", enginetest.Retitle("Meeting 2"))
	h.Run()
	if got := enginetest.Titles(h.Cal); got != "[Meeting 2]" {
		t.Fatalf("calendar = %s", got)
	}
	// Both changed: the owner wins, whatever the conflict policy says.
	h.Link.Policy.Conflict = engine.ConflictCalendar
	h.Run()
	h.Edit(engine.SuperOffice, "Meeting 2", enginetest.Retitle("owner"))
	h.Clock.Advance(time.Minute)
	h.Edit(engine.Calendar, "Meeting 2", enginetest.Retitle("other"))
	h.Run()
	if enginetest.Titles(h.SO) != "[owner]" || enginetest.Titles(h.Cal) != "[owner]" {
		t.Fatalf("so %s cal %s, want the owner's version", enginetest.Titles(h.SO), enginetest.Titles(h.Cal))
	}
	// Deleting the copy does not delete the owner's meeting.
	h.Remove(engine.Calendar, "owner")
	h.Run()
	if enginetest.Titles(h.SO) != "[owner]" {
		t.Fatalf("the owner's meeting was deleted: %s", enginetest.Titles(h.SO))
	}
	// A plain appointment that gets attendees on the calendar is owned there.
	h.SO.Put(enginetest.Single("Plain", enginetest.T0.Add(3*time.Hour)))
	h.Run()
	h.Edit(engine.Calendar, "Plain", func(e *sdk.Event) {
		e.Attendees = []sdk.Attendee{{Email: "carol@example.com", Type: sdk.AttendeeRequired}}
	})
	h.Run()
	h.Edit(engine.SuperOffice, "Plain", enginetest.Retitle("edited in crm"))
	h.Run()
	if !h.Has(engine.SuperOffice, "Plain") || !h.Has(engine.Calendar, "Plain") {
		t.Fatalf("calendar-owned meeting: so %s cal %s", enginetest.Titles(h.SO), enginetest.Titles(h.Cal))
	}
}

// rewriting wraps an endpoint whose service rewrites every item after our write
// (a room mailbox that renames subjects, a CRM that trims them): the kind of pair
// that makes a naive sync loop.
type rewriting struct {
	engine.Endpoint
	cal     interface{ Put(sdk.Event) sdk.Event }
	rewrite func(string) string
}

func (w rewriting) Update(ctx context.Context, ev sdk.Event) (sdk.Event, error) {
	got, err := w.Endpoint.Update(ctx, ev)
	if err == nil {
		later := got
		later.Title = w.rewrite(got.Title)
		w.cal.Put(later)
	}
	return got, err
}

func TestFlapGuard(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	h.Cfg.FlapMax = 4
	h.Rebuild()
	h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
	h.Run()
	h.Clock.Advance(2 * time.Hour) // the create is out of the flap window
	h.Link.Calendar = rewriting{h.Link.Calendar, h.Cal, func(s string) string { return s + "!" }}
	h.Link.SuperOffice = rewriting{h.Link.SuperOffice, h.SO, func(s string) string { return strings.TrimSuffix(s, "!") }}
	h.Edit(engine.SuperOffice, "A", enginetest.Retitle("B"))
	var writes int
	for i := 0; i < 20; i++ {
		res := h.Run()
		writes += len(res.Done)
		h.Clock.Advance(time.Minute)
	}
	if len(h.Obs.QuarantinedPairs) != 1 {
		t.Fatalf("quarantined = %v, want one pair", h.Obs.QuarantinedPairs)
	}
	if writes != 4 {
		t.Fatalf("%d writes before the quarantine, want 4", writes)
	}
	// Once the quarantine is over the pair is looked at again (and, still
	// flapping, quarantined again after a few writes).
	h.Clock.Advance(25 * time.Hour)
	writes = 0
	for i := 0; i < 20; i++ {
		res := h.Run()
		writes += len(res.Done)
		h.Clock.Advance(time.Minute)
	}
	if len(h.Obs.QuarantinedPairs) != 2 || writes == 0 || writes > 4 {
		t.Fatalf("after the quarantine: %d writes, quarantined %v", writes, h.Obs.QuarantinedPairs)
	}
}

func TestMassDeleteGuard(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	for i := range 20 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("item %02d", i), enginetest.T0.Add(time.Duration(i+1)*time.Hour)))
	}
	h.Run()
	if h.Cal.Len() != 20 {
		t.Fatalf("calendar has %d items", h.Cal.Len())
	}
	for _, e := range h.Cal.Events() {
		h.Cal.Remove(e.ID)
	}
	h.Ops.Reset()
	res, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
	var mde *engine.MassDeleteError
	if !errors.Is(err, engine.ErrMassDelete) || !errors.As(err, &mde) || mde.Side != engine.Calendar || mde.Deletes != 20 {
		t.Fatalf("err = %v, want the mass-delete guard on calendar", err)
	}
	if h.Ops.Writes() != 0 || h.SO.Len() != 20 {
		t.Fatalf("guard let %d writes through; superoffice has %d", h.Ops.Writes(), h.SO.Len())
	}
	// It keeps stopping until forced, and a dry run shows what force would do.
	if _, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{}); !errors.Is(err, engine.ErrMassDelete) {
		t.Fatalf("second run: %v", err)
	}
	dry, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{DryRun: true, ForceDelete: true})
	if err != nil || len(dry.PlanFor(engine.SuperOffice)) != 20 || h.SO.Len() != 20 {
		t.Fatalf("dry run: err %v, plan %d, superoffice %d", err, len(dry.PlanFor(engine.SuperOffice)), h.SO.Len())
	}
	_ = res
	h.Run(engine.RunOptions{ForceDelete: true})
	if h.SO.Len() != 0 {
		t.Fatalf("forced run left %d items", h.SO.Len())
	}
	// A few deletes stay below the guard.
	for i := range 20 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("again %02d", i), enginetest.T0.Add(time.Duration(i+1)*time.Hour)))
	}
	h.Run()
	for _, e := range h.Cal.Events()[:3] {
		h.Cal.Remove(e.ID)
	}
	h.Run()
	if h.SO.Len() != 17 {
		t.Fatalf("superoffice has %d, want 17", h.SO.Len())
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
	h.Cal.Put(enginetest.Single("B", enginetest.T0.Add(2*time.Hour)))
	for range 2 {
		res := h.Run(engine.RunOptions{DryRun: true})
		if len(res.PlanFor(engine.Calendar)) != 1 || len(res.PlanFor(engine.SuperOffice)) != 1 || len(res.Done) != 0 {
			t.Fatalf("dry run plan %v done %v", res.Plan, res.Done)
		}
		if s := res.Plan[0].String(); s == "" {
			t.Fatal("empty action text")
		}
	}
	if h.SO.Len() != 1 || h.Cal.Len() != 1 || h.Pairs() != 0 {
		t.Fatal("dry run wrote something")
	}
	h.Run()
	h.RequireSame()
}

func TestWindowChangeNeverDuplicatesOrDeletes(t *testing.T) {
	day := 24 * time.Hour
	h := enginetest.NewHarness(t, engine.Policy{Past: 30 * day, Future: 365 * day})
	for i := range 10 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("so %d", i), enginetest.T0.Add(time.Duration(i*40)*day)))
		h.Cal.Put(enginetest.Single(fmt.Sprintf("cal %d", i), enginetest.T0.Add(time.Duration(i*40)*day+time.Hour)))
	}
	h.Run()
	before := h.SO.Len() + h.Cal.Len()
	for _, fut := range []time.Duration{30 * day, 7 * day, 400 * day, 90 * day, 365 * day} {
		h.Link.Policy.Future = fut
		res := h.Run()
		if n := enginetest.CountOps(res, engine.SuperOffice, engine.OpDelete) + enginetest.CountOps(res, engine.Calendar, engine.OpDelete); n != 0 {
			t.Fatalf("future %s: %d deletes", fut, n)
		}
		h.Link.Policy.Past = fut / 2
		h.Run()
	}
	h.Link.Policy.Future, h.Link.Policy.Past = 400*day, 30*day
	h.Run()
	h.Settle()
	if h.SO.Len() != h.Cal.Len() {
		t.Fatalf("superoffice %d, calendar %d", h.SO.Len(), h.Cal.Len())
	}
	if after := h.SO.Len() + h.Cal.Len(); after < before {
		t.Fatalf("items lost: %d -> %d", before, after)
	}
	h.RequireSame()
	h.RequireTagged()
}

func TestExpiredCursorRereadsWithoutWrites(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	for i := range 30 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("s%d", i), enginetest.T0.Add(time.Duration(i)*time.Hour)))
		h.Cal.Put(enginetest.Single(fmt.Sprintf("c%d", i), enginetest.T0.Add(time.Duration(i)*time.Hour+30*time.Minute)))
	}
	h.Run()
	h.SOP.ExpireCursors()
	h.CalP.ExpireCursors()
	h.Ops.Reset()
	res := h.Run()
	if len(res.Full) != 2 || len(res.Done) != 0 || h.Ops.Writes() != 0 {
		t.Fatalf("full=%v done=%v writes=%d", res.Full, res.Done, h.Ops.Writes())
	}
	// A real difference made meanwhile is still applied.
	h.Edit(engine.SuperOffice, "s3", enginetest.Retitle("s3 edited"))
	h.SOP.ExpireCursors()
	res = h.Run()
	if enginetest.CountOps(res, engine.Calendar, engine.OpUpdate) != 1 || len(res.Done) != 1 {
		t.Fatalf("done = %v", res.Done)
	}
	h.RequireSame()
}

func TestLostStoreRepairsByCorrelation(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	for i := range 15 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("s%d", i), enginetest.T0.Add(time.Duration(i)*time.Hour)))
		h.Cal.Put(enginetest.Single(fmt.Sprintf("c%d", i), enginetest.T0.Add(time.Duration(i)*time.Hour+30*time.Minute)))
	}
	h.Run()
	// A re-created item (edit beat a delete) carries the pair's id on both sides.
	h.Remove(engine.SuperOffice, "s1")
	h.Edit(engine.Calendar, "s1", enginetest.Retitle("s1 kept"))
	h.Run()
	pairs := h.Pairs()
	// The store is lost, and an edit happens meanwhile.
	h.Store = engine.NewMemStore()
	h.Cfg.Store = h.Store
	h.Rebuild()
	h.Clock.Advance(time.Minute)
	h.Edit(engine.Calendar, "s2", enginetest.Retitle("s2 edited while the store was gone"))
	h.Ops.Reset()
	res := h.Run()
	if n := enginetest.CountOps(res, engine.SuperOffice, engine.OpCreate) + enginetest.CountOps(res, engine.Calendar, engine.OpCreate); n != 0 {
		t.Fatalf("re-pairing created %d items: %v", n, res.Done)
	}
	if enginetest.CountOps(res, engine.SuperOffice, engine.OpUpdate) != 1 {
		t.Fatalf("the edit made meanwhile was not applied: %v", res.Done)
	}
	if got := h.Pairs(); got != pairs {
		t.Fatalf("pairs %d, want %d", got, pairs)
	}
	h.RequireSame()
	if res := h.Run(); len(res.Done) != 0 {
		t.Fatalf("quiet run wrote %v", res.Done)
	}
}

func TestIdleRunCost(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	for i := range 50 {
		h.SO.Put(enginetest.Single(fmt.Sprintf("s%d", i), enginetest.T0.Add(time.Duration(i)*time.Hour)))
	}
	h.Run()
	h.Run()
	h.Ops.Reset()
	res := h.Run()
	if h.Ops.Get("superoffice.ListChanges") != 1 || h.Ops.Get("calendar.ListChanges") != 1 {
		t.Fatalf("idle run listed %v", h.Ops.All())
	}
	if total := len(h.Ops.All()); total != 2 || len(res.Done) != 0 {
		t.Fatalf("idle run made calls %v", h.Ops.All())
	}
}

// throttling wraps an endpoint that refuses the first n calls.
type throttling struct {
	engine.Endpoint
	left  *int
	after time.Duration
}

func (t throttling) ListChanges(ctx context.Context, req sdk.ChangesRequest) (sdk.Changes, error) {
	if *t.left > 0 {
		*t.left--
		return sdk.Changes{}, &sdk.ThrottledError{RetryAfter: t.after, Reason: "test"}
	}
	return t.Endpoint.ListChanges(ctx, req)
}

func TestThrottleHonoursRetryAfter(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
	left := 2
	h.Link.Calendar = throttling{h.Link.Calendar, &left, 7 * time.Second}
	h.Run()
	if len(h.Sleeps) != 2 || h.Sleeps[0] < 7*time.Second || h.Sleeps[1] < 7*time.Second {
		t.Fatalf("sleeps = %v, want two of at least 7s", h.Sleeps)
	}
	// A hint longer than the in-run budget fails the run with the throttle error.
	left = 1
	h.Link.Calendar = throttling{h.Link.Calendar.(throttling).Endpoint, &left, time.Hour}
	_, err := h.Eng.Run(context.Background(), h.Link, engine.RunOptions{})
	if d, ok := sdk.RetryAfter(err); !ok || d != time.Hour {
		t.Fatalf("err = %v, want a throttle with retry-after 1h", err)
	}
}
