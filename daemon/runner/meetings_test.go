package runner

import (
	"slices"
	"strings"
	"testing"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/state"
)

// members returns the link names in the profile's current Meetings value.
func (h *harness) members(profile string) (*engine.Meetings, []string) {
	h.t.Helper()
	h.r.meet.mu.Lock()
	pm := h.r.meet.profiles[profile]
	h.r.meet.mu.Unlock()
	if pm == nil {
		return nil, nil
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.value == nil {
		return nil, nil
	}
	var names []string
	for _, m := range pm.value.Members {
		// The key is "profile/link/<hash of the binding>".
		names = append(names, strings.Split(m.Link, "/")[1])
	}
	slices.Sort(names)
	return pm.value, names
}

// The profile's meeting members are the links that may run and could be
// resolved, all of them before the first run of any goes on; a link that
// resolves later joins on its own run (in a new value, the one runs hold is
// never changed), and every apply builds the list anew: an unlicensed link
// leaves it.
func TestMeetingMembers(t *testing.T) {
	carl := link{"carl", "CARL", "carl@acme.example"}
	h := newHarness(t, jane, bob, carl)
	h.creds.set(func(f *fakeCreds) { f.calErr["bob"] = ErrNoConsent })

	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	first, names := h.members("p")
	if want := []string{"carl", "jane"}; !slices.Equal(names, want) {
		t.Fatalf("after jane's first run the members are %v, want %v (bob has not consented)", names, want)
	}
	for _, m := range first.Members {
		if m.SuperOffice.ID == "" || m.Calendar.ID == "" || !strings.HasPrefix(m.Link, "p/") {
			t.Errorf("member %+v lacks its accounts or key", m)
		}
	}
	// carl was resolved for jane's run: his own first run uses the same value.
	if _, err := h.run("carl", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if same, _ := h.members("p"); same != first {
		t.Error("a run of a member built a new value")
	}

	h.creds.set(func(f *fakeCreds) { delete(f.calErr, "bob") })
	if _, err := h.run("bob", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	second, names := h.members("p")
	if want := []string{"bob", "carl", "jane"}; !slices.Equal(names, want) {
		t.Fatalf("after bob's run the members are %v, want %v", names, want)
	}
	if second == first || len(first.Members) != 2 {
		t.Errorf("the value runs held was changed (%d members) instead of replaced", len(first.Members))
	}

	h.overlay[state.LinkID{Profile: "p", Link: "carl"}] = state.Unlicensed
	h.apply(hcl("30d", "365d", jane, bob, carl))
	if _, err := h.run("jane", engine.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, names = h.members("p"); !slices.Equal(names, []string{"bob", "jane"}) {
		t.Fatalf("after carl lost his licence the members are %v, want [bob jane]", names)
	}
}
