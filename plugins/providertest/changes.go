package providertest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

func (s *suite) simple(t *testing.T, title string, d int) sdk.Event {
	start := s.local(t, "Europe/Oslo", d, 10, 0)
	return sdk.Event{
		Kind: sdk.KindSingle, CorrelationID: s.corr(t), Title: title,
		Start: start, End: start.Add(time.Hour), TimeZone: "Europe/Oslo",
		ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, Category: s.h.Category,
	}
}

// paging reads more than three pages, fully and incrementally.
func (s *suite) paging(t *testing.T) {
	tg := s.target(t)
	ps := s.h.PageSize
	n := 3*ps + 1
	ids := map[string]sdk.Event{}
	for i := range n {
		ev := s.create(t, tg, s.simple(t, fmt.Sprintf("Paged %02d", i), 1+i%20))
		ids[ev.ID] = ev
	}
	r := s.readRound(t, tg, "", ps)
	if !r.full {
		t.Error("a read with an empty cursor is not Full")
	}
	seen := map[string]int{}
	for _, ev := range r.events {
		seen[ev.ID]++
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("item %s listed %d times in the full round", id, seen[id])
		}
	}
	if r.pages < 2 {
		t.Errorf("%d events with page size %d came in %d page(s): the page size hint is ignored", n, ps, r.pages)
	}

	// Change more than two pages' worth and read them incrementally.
	var changed []string
	titles := map[string]string{}
	for _, id := range sortedKeys(ids) {
		if len(changed) == 2*ps+1 {
			break
		}
		ev := ids[id]
		ev.Title += " (edited)"
		titles[id] = s.put(t, tg, ev).Title
		changed = append(changed, id)
	}
	inc := s.readRound(t, tg, r.cursor, ps)
	got := inc.byID()
	for _, id := range changed {
		if ev, ok := got[id]; !ok {
			t.Errorf("the incremental round lacks the edited item %s", id)
		} else if ev.Title != titles[id] {
			t.Errorf("item %s listed with title %q after the edit to %q", id, ev.Title, titles[id])
		}
	}
	if inc.pages < 2 {
		t.Errorf("%d changes with page size %d came in %d page(s)", len(changed), ps, inc.pages)
	}
}

// incremental checks that a cursor returns exactly what changed since: creates,
// edits and deletes made by a user, and nothing when nothing changed.
func (s *suite) incremental(t *testing.T) {
	tg := s.target(t)
	a := s.create(t, tg, s.simple(t, "Stays, then edited", 2))
	b := s.create(t, tg, s.simple(t, "Deleted by the user", 3))
	c := s.create(t, tg, s.simple(t, "Untouched", 4))
	full := s.readRound(t, tg, "", 0)
	for _, id := range []string{a.ID, b.ID, c.ID} {
		if _, ok := full.byID()[id]; !ok {
			t.Fatalf("the full round lacks %s", id)
		}
	}

	quiet := s.readRound(t, tg, full.cursor, 0)
	if quiet.full || len(quiet.events) > 0 || len(quiet.removed) > 0 {
		t.Errorf("a round with no change returned full=%v, %d events %v, removed %v",
			quiet.full, len(quiet.events), idsOf(quiet.events), quiet.removed)
	}

	edited := a
	edited.Title = "Edited by the user"
	edited.Location = "Somewhere else"
	stored := s.put(t, tg, edited)
	s.remove(t, tg, b.ID)
	d := s.put(t, tg, s.simple(t, "Created by the user", 5))

	inc := s.readRound(t, tg, quiet.cursor, 0)
	if inc.full {
		t.Error("an incremental round says Full")
	}
	got := inc.byID()
	if ev, ok := got[a.ID]; !ok {
		t.Errorf("the edited item %s is missing from the changes", a.ID)
	} else {
		if ev.Title != stored.Title || ev.Location != stored.Location || ev.Title == a.Title {
			t.Errorf("the edited item is listed as %q at %q, stored as %q at %q", ev.Title, ev.Location, stored.Title, stored.Location)
		}
		if ev.Version == a.Version {
			t.Errorf("the edited item kept its version %q", ev.Version)
		}
	}
	if _, ok := got[d.ID]; !ok {
		t.Errorf("the created item %s is missing from the changes", d.ID)
	}
	if !slices.Contains(inc.removed, b.ID) {
		t.Errorf("the deleted item %s is not in Removed (%v)", b.ID, inc.removed)
	}
	if _, ok := got[b.ID]; ok {
		t.Errorf("the deleted item %s is listed as an event", b.ID)
	}
	if _, err := s.h.Provider.Get(s.ctx(t), tg, b.ID); err == nil {
		if ev, _ := s.h.Provider.Get(s.ctx(t), tg, b.ID); !ev.Cancelled {
			t.Errorf("the deleted item %s can still be read", b.ID)
		}
	} else if !isNotFound(err) {
		t.Errorf("Get of the deleted item: %v, want sdk.ErrNotFound", err)
	}

	again := s.readRound(t, tg, inc.cursor, 0)
	if len(again.events) > 0 || len(again.removed) > 0 {
		t.Errorf("reading the changes did not move the cursor on: again %v, removed %v", idsOf(again.events), again.removed)
	}
}

// expiredCursor checks the typed "full sync required" answer and the recovery.
func (s *suite) expiredCursor(t *testing.T) {
	if s.h.ExpireCursors == nil {
		t.Skip("the Harness cannot expire cursors")
	}
	tg := s.target(t)
	ev := s.create(t, tg, s.simple(t, "Survives the full sync", 2))
	r := s.readRound(t, tg, "", 0)
	s.h.ExpireCursors(t)
	_, err := s.h.Provider.ListChanges(s.ctx(t), tg, sdk.ChangesRequest{Cursor: r.cursor, Window: s.window()})
	mustBe(t, "ListChanges with an expired cursor", err, sdk.ErrFullSyncRequired)
	again := s.readRound(t, tg, "", 0)
	if !again.full {
		t.Error("the read after expiry is not Full")
	}
	if _, ok := again.byID()[ev.ID]; !ok {
		t.Errorf("the full read after expiry lacks %s", ev.ID)
	}
	// The new cursor works.
	s.readRound(t, tg, again.cursor, 0)
}

func idsOf(evs []sdk.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
