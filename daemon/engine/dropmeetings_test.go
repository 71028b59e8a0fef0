package engine_test

import (
	"context"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

// A profile that leaves the configuration loses its meeting registry; should it
// come back, its organizers' links register their meetings again on their next
// run, even when nothing changed.
func TestDropMeetings(t *testing.T) {
	h := enginetest.NewHarness(t, engine.Policy{})
	store := h.Store.(*engine.MemStore)
	h.Link.Meetings = &engine.Meetings{Profile: "p1", Members: []engine.Member{{Link: h.Link.Key, Kind: sdk.AccountUser,
		SuperOffice: sdk.Account{ID: "JANE", Email: "jane@crm.example"}, Calendar: sdk.Account{ID: "jane@example.com", Email: "jane@example.com"}}}}
	ev := enginetest.Single("Planning", enginetest.T0.Add(48*time.Hour))
	ev.MeetingKey, ev.IsOrganizer, ev.Response = "M1", true, sdk.ResponseOrganizer
	ev.Organizer = sdk.Attendee{AccountID: "JANE", Email: "jane@crm.example", Response: sdk.ResponseOrganizer}
	ev.Attendees = []sdk.Attendee{{Email: "guest@elsewhere.example", Type: sdk.AttendeeRequired}}
	h.SO.Put(ev)
	h.Settle()
	if n := store.MemMeetings.Len("p1"); n != 1 {
		t.Fatalf("the registry holds %d meetings, want 1", n)
	}
	if err := h.Eng.DropMeetings(context.Background(), "p1"); err != nil {
		t.Fatal(err)
	}
	if n := store.MemMeetings.Len("p1"); n != 0 {
		t.Fatalf("after the drop the registry holds %d meetings", n)
	}
	if err := h.Eng.DropMeetings(context.Background(), "unknown"); err != nil {
		t.Fatalf("dropping a profile without meetings: %v", err)
	}
	if res := h.Run(); len(res.Done) != 0 {
		t.Fatalf("the run after the drop wrote %v", res.Done)
	}
	if n := store.MemMeetings.Len("p1"); n != 1 {
		t.Fatalf("the profile's next run registered %d meetings, want 1", n)
	}
}
