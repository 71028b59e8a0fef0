package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

func TestDirection(t *testing.T) {
	cases := []struct {
		dir           Direction
		wantSO, wantC string
	}{
		// From a synced "A": SO edits A->S, Cal creates "C" and the Cal copy of a
		// second item B is edited to "B2".
		{TwoWay, "[B2 C S]", "[B2 C S]"},
		{ToCalendar, "[B S]", "[B2 C S]"},
		{ToSuperOffice, "[B2 C S]", "[B2 C S]"},
	}
	for _, tc := range cases {
		t.Run(string(tc.dir), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Policy{Direction: TwoWay})
			h.so.Put(single("A", t0.Add(time.Hour)))
			h.so.Put(single("B", t0.Add(2*time.Hour)))
			h.run()
			h.link.Policy.Direction = tc.dir
			h.run() // the policy change reads both sides in full: nothing to do
			h.edit(SuperOffice, "A", retitle("S"))
			h.cal.Put(single("C", t0.Add(3*time.Hour)))
			h.edit(Calendar, "B", retitle("B2"))
			h.run()
			if tc.dir == ToSuperOffice {
				// SO's edit is not copied, so the calendar keeps A.
				tc.wantC = "[A B2 C]"
			}
			if got := titles(h.so); got != tc.wantSO {
				t.Errorf("superoffice = %s, want %s", got, tc.wantSO)
			}
			if got := titles(h.cal); got != tc.wantC {
				t.Errorf("calendar = %s, want %s", got, tc.wantC)
			}
			if res := h.run(); len(res.Done) != 0 {
				t.Errorf("second run wrote %v", res.Done)
			}
		})
	}
}

func TestPrivateBusy(t *testing.T) {
	h := newHarness(t, Policy{Private: PrivateBusy})
	p := single("Doctor", t0.Add(time.Hour))
	p.Privacy = sdk.PrivacyPrivate
	p.Description = "secret"
	p.Location = "clinic"
	h.so.Put(p)
	h.run()
	ph := h.find(Calendar, BusyTitle)
	if ph.Description != "" || ph.Location != "" || ph.Privacy != sdk.PrivacyPrivate {
		t.Fatalf("placeholder leaks details: %+v", ph)
	}
	// A detail change behind the placeholder writes nothing.
	h.edit(SuperOffice, "Doctor", func(e *sdk.Event) { e.Description = "more secret" })
	if res := h.run(); len(res.Done) != 0 {
		t.Fatalf("detail change wrote %v", res.Done)
	}
	// Edits of the placeholder are not copied back over the real appointment.
	h.edit(Calendar, BusyTitle, retitle("edited placeholder"))
	h.run()
	if h.find(SuperOffice, "Doctor").Description != "more secret" {
		t.Fatal("the real appointment changed")
	}
	// A time change on SuperOffice moves the placeholder.
	h.edit(SuperOffice, "Doctor", func(e *sdk.Event) { e.Start, e.End = e.Start.Add(time.Hour), e.End.Add(time.Hour) })
	h.run()
	if got := h.find(Calendar, BusyTitle).Start; !got.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("placeholder starts %s", got)
	}
	// Made public: the full appointment appears.
	h.edit(SuperOffice, "Doctor", func(e *sdk.Event) { e.Privacy = sdk.PrivacyPublic })
	h.run()
	if got := h.find(Calendar, "Doctor"); got.Description != "more secret" {
		t.Fatalf("public copy = %+v", got)
	}
	// Private items made on the calendar are copied as private, in full.
	c := single("Calendar private", t0.Add(5*time.Hour))
	c.Privacy = sdk.PrivacyPrivate
	h.cal.Put(c)
	h.run()
	h.run()
	if got := h.find(SuperOffice, "Calendar private"); got.Privacy != sdk.PrivacyPrivate {
		t.Fatalf("copy lost privacy: %+v", got)
	}
	if !h.has(Calendar, "Calendar private") {
		t.Fatal("the calendar original was replaced by a placeholder")
	}
}

func TestPrivateSkip(t *testing.T) {
	h := newHarness(t, Policy{Private: PrivateSkip})
	p := single("Doctor", t0.Add(time.Hour))
	p.Privacy = sdk.PrivacyPrivate
	h.so.Put(p)
	h.so.Put(single("Public", t0.Add(2*time.Hour)))
	h.run()
	if got := titles(h.cal); got != "[Public]" {
		t.Fatalf("calendar = %s", got)
	}
	// A synced item that becomes private leaves the calendar.
	h.edit(SuperOffice, "Public", func(e *sdk.Event) { e.Privacy = sdk.PrivacyPrivate })
	h.run()
	if got := titles(h.cal); got != "[]" {
		t.Fatalf("calendar = %s after the item became private", got)
	}
	// A full read does not bring it back; making it public does.
	h.soP.ExpireCursors()
	h.calP.ExpireCursors()
	h.run()
	if got := titles(h.cal); got != "[]" {
		t.Fatalf("calendar = %s after a full read", got)
	}
	h.edit(SuperOffice, "Doctor", func(e *sdk.Event) { e.Privacy = sdk.PrivacyPublic })
	h.run()
	if got := titles(h.cal); got != "[Doctor]" {
		t.Fatalf("calendar = %s after the item became public", got)
	}
	if got := titles(h.so); got != "[Doctor Public]" {
		t.Fatalf("superoffice = %s: skip must never delete there", got)
	}
}

func TestMeetingOwnership(t *testing.T) {
	h := newHarness(t, Policy{})
	m := single("Meeting", t0.Add(time.Hour))
	m.Organizer = sdk.Attendee{Email: "jane@example.com", Type: sdk.AttendeeRequired}
	m.Attendees = []sdk.Attendee{{Email: "bob@example.com", Type: sdk.AttendeeRequired}}
	m.IsOrganizer = true
	h.so.Put(m)
	h.run()
	// The calendar's edit of a SuperOffice meeting is reverted once.
	h.edit(Calendar, "Meeting", retitle("hijacked"))
	res := h.run()
	if countOps(res, Calendar, OpUpdate) != 1 || countOps(res, SuperOffice, OpUpdate) != 0 {
		t.Fatalf("revert wrote %v", res.Done)
	}
	if got := titles(h.cal); got != "[Meeting]" {
		t.Fatalf("calendar = %s, want the owner's version", got)
	}
	if res := h.run(); len(res.Done) != 0 {
		t.Fatalf("the revert echoed: %v", res.Done)
	}
	// The owner's edits flow as usual.
	h.edit(SuperOffice, "Meeting", retitle("Meeting 2"))
	h.run()
	if got := titles(h.cal); got != "[Meeting 2]" {
		t.Fatalf("calendar = %s", got)
	}
	// Both changed: the owner wins, whatever the conflict policy says.
	h.link.Policy.Conflict = ConflictCalendar
	h.run()
	h.edit(SuperOffice, "Meeting 2", retitle("owner"))
	h.clock.Advance(time.Minute)
	h.edit(Calendar, "Meeting 2", retitle("other"))
	h.run()
	if titles(h.so) != "[owner]" || titles(h.cal) != "[owner]" {
		t.Fatalf("so %s cal %s, want the owner's version", titles(h.so), titles(h.cal))
	}
	// Deleting the copy does not delete the owner's meeting.
	h.remove(Calendar, "owner")
	h.run()
	if titles(h.so) != "[owner]" {
		t.Fatalf("the owner's meeting was deleted: %s", titles(h.so))
	}
	// A plain appointment that gets attendees on the calendar is owned there.
	h.so.Put(single("Plain", t0.Add(3*time.Hour)))
	h.run()
	h.edit(Calendar, "Plain", func(e *sdk.Event) {
		e.Attendees = []sdk.Attendee{{Email: "carol@example.com", Type: sdk.AttendeeRequired}}
	})
	h.run()
	h.edit(SuperOffice, "Plain", retitle("edited in crm"))
	h.run()
	if !h.has(SuperOffice, "Plain") || !h.has(Calendar, "Plain") {
		t.Fatalf("calendar-owned meeting: so %s cal %s", titles(h.so), titles(h.cal))
	}
}

// rewriting wraps an endpoint whose service rewrites every item after our write
// (a room mailbox that renames subjects, a CRM that trims them): the kind of pair
// that makes a naive sync loop.
type rewriting struct {
	Endpoint
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
	h := newHarness(t, Policy{})
	h.cfg.FlapMax = 4
	h.rebuild()
	h.so.Put(single("A", t0.Add(time.Hour)))
	h.run()
	h.clock.Advance(2 * time.Hour) // the create is out of the flap window
	h.link.Calendar = rewriting{h.link.Calendar, h.cal, func(s string) string { return s + "!" }}
	h.link.SuperOffice = rewriting{h.link.SuperOffice, h.so, func(s string) string { return strings.TrimSuffix(s, "!") }}
	h.edit(SuperOffice, "A", retitle("B"))
	var writes int
	for i := 0; i < 20; i++ {
		res := h.run()
		writes += len(res.Done)
		h.clock.Advance(time.Minute)
	}
	if len(h.obs.quarantined) != 1 {
		t.Fatalf("quarantined = %v, want one pair", h.obs.quarantined)
	}
	if writes != 4 {
		t.Fatalf("%d writes before the quarantine, want 4", writes)
	}
	// Once the quarantine is over the pair is looked at again (and, still
	// flapping, quarantined again after a few writes).
	h.clock.Advance(25 * time.Hour)
	writes = 0
	for i := 0; i < 20; i++ {
		res := h.run()
		writes += len(res.Done)
		h.clock.Advance(time.Minute)
	}
	if len(h.obs.quarantined) != 2 || writes == 0 || writes > 4 {
		t.Fatalf("after the quarantine: %d writes, quarantined %v", writes, h.obs.quarantined)
	}
}

func TestMassDeleteGuard(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 20 {
		h.so.Put(single(fmt.Sprintf("item %02d", i), t0.Add(time.Duration(i+1)*time.Hour)))
	}
	h.run()
	if h.cal.Len() != 20 {
		t.Fatalf("calendar has %d items", h.cal.Len())
	}
	for _, e := range h.cal.Events() {
		h.cal.Remove(e.ID)
	}
	h.ops.reset()
	res, err := h.eng.Run(context.Background(), h.link, RunOptions{})
	var mde *MassDeleteError
	if !errors.Is(err, ErrMassDelete) || !errors.As(err, &mde) || mde.Side != Calendar || mde.Deletes != 20 {
		t.Fatalf("err = %v, want the mass-delete guard on calendar", err)
	}
	if h.ops.writes() != 0 || h.so.Len() != 20 {
		t.Fatalf("guard let %d writes through; superoffice has %d", h.ops.writes(), h.so.Len())
	}
	// It keeps stopping until forced, and a dry run shows what force would do.
	if _, err := h.eng.Run(context.Background(), h.link, RunOptions{}); !errors.Is(err, ErrMassDelete) {
		t.Fatalf("second run: %v", err)
	}
	dry, err := h.eng.Run(context.Background(), h.link, RunOptions{DryRun: true, ForceDelete: true})
	if err != nil || len(dry.PlanFor(SuperOffice)) != 20 || h.so.Len() != 20 {
		t.Fatalf("dry run: err %v, plan %d, superoffice %d", err, len(dry.PlanFor(SuperOffice)), h.so.Len())
	}
	_ = res
	h.run(RunOptions{ForceDelete: true})
	if h.so.Len() != 0 {
		t.Fatalf("forced run left %d items", h.so.Len())
	}
	// A few deletes stay below the guard.
	for i := range 20 {
		h.so.Put(single(fmt.Sprintf("again %02d", i), t0.Add(time.Duration(i+1)*time.Hour)))
	}
	h.run()
	for _, e := range h.cal.Events()[:3] {
		h.cal.Remove(e.ID)
	}
	h.run()
	if h.so.Len() != 17 {
		t.Fatalf("superoffice has %d, want 17", h.so.Len())
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, Policy{})
	h.so.Put(single("A", t0.Add(time.Hour)))
	h.cal.Put(single("B", t0.Add(2*time.Hour)))
	for range 2 {
		res := h.run(RunOptions{DryRun: true})
		if len(res.PlanFor(Calendar)) != 1 || len(res.PlanFor(SuperOffice)) != 1 || len(res.Done) != 0 {
			t.Fatalf("dry run plan %v done %v", res.Plan, res.Done)
		}
		if s := res.Plan[0].String(); s == "" {
			t.Fatal("empty action text")
		}
	}
	if h.so.Len() != 1 || h.cal.Len() != 1 || h.store.Len(h.link.Key) != 0 {
		t.Fatal("dry run wrote something")
	}
	h.run()
	h.requireSame()
}

func TestWindowChangeNeverDuplicatesOrDeletes(t *testing.T) {
	day := 24 * time.Hour
	h := newHarness(t, Policy{Past: 30 * day, Future: 365 * day})
	for i := range 10 {
		h.so.Put(single(fmt.Sprintf("so %d", i), t0.Add(time.Duration(i*40)*day)))
		h.cal.Put(single(fmt.Sprintf("cal %d", i), t0.Add(time.Duration(i*40)*day+time.Hour)))
	}
	h.run()
	before := h.so.Len() + h.cal.Len()
	for _, fut := range []time.Duration{30 * day, 7 * day, 400 * day, 90 * day, 365 * day} {
		h.link.Policy.Future = fut
		res := h.run()
		if n := countOps(res, SuperOffice, OpDelete) + countOps(res, Calendar, OpDelete); n != 0 {
			t.Fatalf("future %s: %d deletes", fut, n)
		}
		h.link.Policy.Past = fut / 2
		h.run()
	}
	h.link.Policy.Future, h.link.Policy.Past = 400*day, 30*day
	h.run()
	h.settle()
	if h.so.Len() != h.cal.Len() {
		t.Fatalf("superoffice %d, calendar %d", h.so.Len(), h.cal.Len())
	}
	if after := h.so.Len() + h.cal.Len(); after < before {
		t.Fatalf("items lost: %d -> %d", before, after)
	}
	h.requireSame()
	h.requireTagged()
}

func TestExpiredCursorRereadsWithoutWrites(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 30 {
		h.so.Put(single(fmt.Sprintf("s%d", i), t0.Add(time.Duration(i)*time.Hour)))
		h.cal.Put(single(fmt.Sprintf("c%d", i), t0.Add(time.Duration(i)*time.Hour+30*time.Minute)))
	}
	h.run()
	h.soP.ExpireCursors()
	h.calP.ExpireCursors()
	h.ops.reset()
	res := h.run()
	if len(res.Full) != 2 || len(res.Done) != 0 || h.ops.writes() != 0 {
		t.Fatalf("full=%v done=%v writes=%d", res.Full, res.Done, h.ops.writes())
	}
	// A real difference made meanwhile is still applied.
	h.edit(SuperOffice, "s3", retitle("s3 edited"))
	h.soP.ExpireCursors()
	res = h.run()
	if countOps(res, Calendar, OpUpdate) != 1 || len(res.Done) != 1 {
		t.Fatalf("done = %v", res.Done)
	}
	h.requireSame()
}

func TestLostStoreRepairsByCorrelation(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 15 {
		h.so.Put(single(fmt.Sprintf("s%d", i), t0.Add(time.Duration(i)*time.Hour)))
		h.cal.Put(single(fmt.Sprintf("c%d", i), t0.Add(time.Duration(i)*time.Hour+30*time.Minute)))
	}
	h.run()
	// A re-created item (edit beat a delete) carries the pair's id on both sides.
	h.remove(SuperOffice, "s1")
	h.edit(Calendar, "s1", retitle("s1 kept"))
	h.run()
	pairs := h.store.Len(h.link.Key)
	// The store is lost, and an edit happens meanwhile.
	h.store = NewMemStore()
	h.cfg.Store = h.store
	h.rebuild()
	h.clock.Advance(time.Minute)
	h.edit(Calendar, "s2", retitle("s2 edited while the store was gone"))
	h.ops.reset()
	res := h.run()
	if n := countOps(res, SuperOffice, OpCreate) + countOps(res, Calendar, OpCreate); n != 0 {
		t.Fatalf("re-pairing created %d items: %v", n, res.Done)
	}
	if countOps(res, SuperOffice, OpUpdate) != 1 {
		t.Fatalf("the edit made meanwhile was not applied: %v", res.Done)
	}
	if got := h.store.Len(h.link.Key); got != pairs {
		t.Fatalf("pairs %d, want %d", got, pairs)
	}
	h.requireSame()
	if res := h.run(); len(res.Done) != 0 {
		t.Fatalf("quiet run wrote %v", res.Done)
	}
}

func TestIdleRunCost(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := range 50 {
		h.so.Put(single(fmt.Sprintf("s%d", i), t0.Add(time.Duration(i)*time.Hour)))
	}
	h.run()
	h.run()
	h.ops.reset()
	res := h.run()
	if h.ops.get("superoffice.ListChanges") != 1 || h.ops.get("calendar.ListChanges") != 1 {
		t.Fatalf("idle run listed %v", h.ops.ops)
	}
	if total := len(h.ops.ops); total != 2 || len(res.Done) != 0 {
		t.Fatalf("idle run made calls %v", h.ops.ops)
	}
}

// throttling wraps an endpoint that refuses the first n calls.
type throttling struct {
	Endpoint
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
	h := newHarness(t, Policy{})
	h.so.Put(single("A", t0.Add(time.Hour)))
	left := 2
	h.link.Calendar = throttling{h.link.Calendar, &left, 7 * time.Second}
	h.run()
	if len(h.sleeps) != 2 || h.sleeps[0] < 7*time.Second || h.sleeps[1] < 7*time.Second {
		t.Fatalf("sleeps = %v, want two of at least 7s", h.sleeps)
	}
	// A hint longer than the in-run budget fails the run with the throttle error.
	left = 1
	h.link.Calendar = throttling{h.link.Calendar.(throttling).Endpoint, &left, time.Hour}
	_, err := h.eng.Run(context.Background(), h.link, RunOptions{})
	if d, ok := sdk.RetryAfter(err); !ok || d != time.Hour {
		t.Fatalf("err = %v, want a throttle with retry-after 1h", err)
	}
}
