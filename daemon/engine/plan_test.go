package engine

import (
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
)

func (h *harness) find(s Side, title string) sdk.Event {
	h.t.Helper()
	var found []sdk.Event
	for _, e := range h.calendar(s).Events() {
		if e.Title == title {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		h.t.Fatalf("%s has %d items titled %q, want 1 (all: %s)", s, len(found), title, titles(h.calendar(s)))
	}
	return found[0]
}

func (h *harness) has(s Side, title string) bool {
	for _, e := range h.calendar(s).Events() {
		if e.Title == title {
			return true
		}
	}
	return false
}

func (h *harness) edit(s Side, title string, fn func(*sdk.Event)) {
	h.t.Helper()
	ev := h.find(s, title)
	fn(&ev)
	h.calendar(s).Put(ev)
}

func (h *harness) remove(s Side, title string) {
	h.t.Helper()
	if !h.calendar(s).Remove(h.find(s, title).ID) {
		h.t.Fatalf("remove %q on %s failed", title, s)
	}
}

func retitle(t string) func(*sdk.Event) { return func(e *sdk.Event) { e.Title = t } }

func countOps(res Result, side Side, op Op) int {
	n := 0
	for _, a := range res.Done {
		if a.Side == side && a.Op == op {
			n++
		}
	}
	return n
}

// TestPlanningCases covers every planning case from one synced item "A"
// (created on SuperOffice, copied to the calendar).
func TestPlanningCases(t *testing.T) {
	day := 24 * time.Hour
	type want struct {
		so, cal   string // titles on each side after the run
		writes    map[string]int
		conflicts map[Side]int
	}
	cases := []struct {
		name   string
		policy Policy
		change func(h *harness)
		want   want
	}{
		{
			name:   "new on superoffice",
			change: func(h *harness) { h.so.Put(single("N", t0.Add(day))) },
			want:   want{so: "[A N]", cal: "[A N]", writes: map[string]int{"calendar/create": 1}},
		},
		{
			name:   "new on calendar",
			change: func(h *harness) { h.cal.Put(single("N", t0.Add(day))) },
			want:   want{so: "[A N]", cal: "[A N]", writes: map[string]int{"superoffice/create": 1}},
		},
		{
			name:   "changed on superoffice",
			change: func(h *harness) { h.edit(SuperOffice, "A", retitle("A2")) },
			want:   want{so: "[A2]", cal: "[A2]", writes: map[string]int{"calendar/update": 1}},
		},
		{
			name:   "changed on calendar",
			change: func(h *harness) { h.edit(Calendar, "A", retitle("A2")) },
			want:   want{so: "[A2]", cal: "[A2]", writes: map[string]int{"superoffice/update": 1}},
		},
		{
			name: "changed on both, newest wins (calendar later)",
			change: func(h *harness) {
				h.edit(SuperOffice, "A", retitle("S"))
				h.clock.Advance(time.Minute)
				h.edit(Calendar, "A", retitle("C"))
			},
			want: want{so: "[C]", cal: "[C]", writes: map[string]int{"superoffice/update": 1}, conflicts: map[Side]int{Calendar: 1}},
		},
		{
			name: "changed on both, newest wins (superoffice later)",
			change: func(h *harness) {
				h.edit(Calendar, "A", retitle("C"))
				h.clock.Advance(time.Minute)
				h.edit(SuperOffice, "A", retitle("S"))
			},
			want: want{so: "[S]", cal: "[S]", writes: map[string]int{"calendar/update": 1}, conflicts: map[Side]int{SuperOffice: 1}},
		},
		{
			name:   "changed on both, conflict = superoffice",
			policy: Policy{Conflict: ConflictSuperOffice},
			change: func(h *harness) {
				h.edit(SuperOffice, "A", retitle("S"))
				h.clock.Advance(time.Minute)
				h.edit(Calendar, "A", retitle("C"))
			},
			want: want{so: "[S]", cal: "[S]", writes: map[string]int{"calendar/update": 1}, conflicts: map[Side]int{SuperOffice: 1}},
		},
		{
			name:   "changed on both, conflict = calendar",
			policy: Policy{Conflict: ConflictCalendar},
			change: func(h *harness) {
				h.edit(Calendar, "A", retitle("C"))
				h.clock.Advance(time.Minute)
				h.edit(SuperOffice, "A", retitle("S"))
			},
			want: want{so: "[C]", cal: "[C]", writes: map[string]int{"superoffice/update": 1}, conflicts: map[Side]int{Calendar: 1}},
		},
		{
			name: "changed on both to the same content",
			change: func(h *harness) {
				h.edit(SuperOffice, "A", retitle("same"))
				h.edit(Calendar, "A", retitle("same"))
			},
			want: want{so: "[same]", cal: "[same]"},
		},
		{
			name:   "deleted on superoffice",
			change: func(h *harness) { h.remove(SuperOffice, "A") },
			want:   want{so: "[]", cal: "[]", writes: map[string]int{"calendar/delete": 1}},
		},
		{
			name:   "deleted on calendar",
			change: func(h *harness) { h.remove(Calendar, "A") },
			want:   want{so: "[]", cal: "[]", writes: map[string]int{"superoffice/delete": 1}},
		},
		{
			name: "deleted on superoffice, changed on calendar: the edit wins",
			change: func(h *harness) {
				h.remove(SuperOffice, "A")
				h.edit(Calendar, "A", retitle("C"))
			},
			want: want{so: "[C]", cal: "[C]", writes: map[string]int{"superoffice/create": 1}, conflicts: map[Side]int{Calendar: 1}},
		},
		{
			name: "deleted on calendar, changed on superoffice: the edit wins",
			change: func(h *harness) {
				h.remove(Calendar, "A")
				h.edit(SuperOffice, "A", retitle("S"))
			},
			want: want{so: "[S]", cal: "[S]", writes: map[string]int{"calendar/create": 1}, conflicts: map[Side]int{SuperOffice: 1}},
		},
		{
			name:   "deleted on superoffice, changed on calendar, conflict = superoffice: the delete wins",
			policy: Policy{Conflict: ConflictSuperOffice},
			change: func(h *harness) {
				h.remove(SuperOffice, "A")
				h.edit(Calendar, "A", retitle("C"))
			},
			want: want{so: "[]", cal: "[]", writes: map[string]int{"calendar/delete": 1}, conflicts: map[Side]int{SuperOffice: 1}},
		},
		{
			name: "moved out of the window on superoffice: frozen, nothing deleted",
			change: func(h *harness) {
				h.edit(SuperOffice, "A", func(e *sdk.Event) {
					e.Title = "far"
					e.Start, e.End = t0.Add(400*day), t0.Add(400*day+time.Hour)
				})
				h.soP.ExpireCursors() // a full read, where the item is missing
			},
			want: want{so: "[far]", cal: "[A]"},
		},
		{
			name: "moved into the window on superoffice: copied once",
			change: func(h *harness) {
				far := h.so.Put(single("F", t0.Add(500*day)))
				h.run() // not in the window: nothing happens
				far.Start, far.End = t0.Add(2*day), t0.Add(2*day+time.Hour)
				h.so.Put(far)
			},
			want: want{so: "[A F]", cal: "[A F]", writes: map[string]int{"calendar/create": 1}},
		},
		{
			name:   "echo of our own write",
			change: func(h *harness) {},
			want:   want{so: "[A]", cal: "[A]"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.policy)
			h.so.Put(single("A", t0.Add(time.Hour)))
			h.run()
			h.clock.Advance(time.Minute)
			tc.change(h)
			h.clock.Advance(time.Minute)
			res := h.run()
			if got := titles(h.so); got != tc.want.so {
				t.Errorf("superoffice = %s, want %s", got, tc.want.so)
			}
			if got := titles(h.cal); got != tc.want.cal {
				t.Errorf("calendar = %s, want %s", got, tc.want.cal)
			}
			got := map[string]int{}
			for _, a := range res.Done {
				got[string(a.Side)+"/"+string(a.Op)]++
			}
			if !sameCounts(got, tc.want.writes) {
				t.Errorf("writes = %v, want %v (plan %v, notes %v)", got, tc.want.writes, res.Plan, res.Notes)
			}
			if !sameCounts(h.obs.conflicts, tc.want.conflicts) {
				t.Errorf("conflicts = %v, want %v", h.obs.conflicts, tc.want.conflicts)
			}
			// Whatever happened, the next run is quiet: our writes never echo.
			h.ops.reset()
			if again := h.run(); len(again.Done) != 0 {
				t.Errorf("second run wrote %v", again.Done)
			}
			if n := h.ops.writes(); n != 0 {
				t.Errorf("second run made %d provider writes", n)
			}
			h.requireTagged()
		})
	}
}

func sameCounts[K comparable](a, b map[K]int) bool {
	n := 0
	for k, v := range a {
		if v != 0 {
			n++
			if b[k] != v {
				return false
			}
		}
	}
	m := 0
	for _, v := range b {
		if v != 0 {
			m++
		}
	}
	return n == m
}

// TestCorrelationStamped checks the copy carries the id derived from its original.
func TestCorrelationStamped(t *testing.T) {
	h := newHarness(t, Policy{})
	a := h.so.Put(single("A", t0.Add(time.Hour)))
	h.run()
	c := h.find(Calendar, "A")
	if want := CorrelationFor(SuperOffice, a.ID); c.CorrelationID != want {
		t.Fatalf("copy carries %q, want %q", c.CorrelationID, want)
	}
	if !strings.HasPrefix(c.CorrelationID, "s") {
		t.Fatalf("correlation id %q does not name its origin", c.CorrelationID)
	}
}
