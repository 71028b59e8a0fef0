package engine_test

import (
	"strings"
	"testing"
	"time"

	"synchronizer/daemon/engine"
	"synchronizer/daemon/engine/enginetest"
	"synchronizer/plugins/sdk"
)

// TestPlanningCases covers every planning case from one synced item "A"
// (created on engine.SuperOffice, copied to the calendar).
func TestPlanningCases(t *testing.T) {
	day := 24 * time.Hour
	type want struct {
		so, cal   string // titles on each side after the run
		writes    map[string]int
		conflicts map[engine.Side]int
	}
	cases := []struct {
		name   string
		policy engine.Policy
		change func(h *enginetest.Harness)
		want   want
	}{
		{
			name:   "new on superoffice",
			change: func(h *enginetest.Harness) { h.SO.Put(enginetest.Single("N", enginetest.T0.Add(day))) },
			want:   want{so: "[A N]", cal: "[A N]", writes: map[string]int{"calendar/create": 1}},
		},
		{
			name:   "new on calendar",
			change: func(h *enginetest.Harness) { h.Cal.Put(enginetest.Single("N", enginetest.T0.Add(day))) },
			want:   want{so: "[A N]", cal: "[A N]", writes: map[string]int{"superoffice/create": 1}},
		},
		{
			name:   "changed on superoffice",
			change: func(h *enginetest.Harness) { h.Edit(engine.SuperOffice, "A", enginetest.Retitle("A2")) },
			want:   want{so: "[A2]", cal: "[A2]", writes: map[string]int{"calendar/update": 1}},
		},
		{
			name:   "changed on calendar",
			change: func(h *enginetest.Harness) { h.Edit(engine.Calendar, "A", enginetest.Retitle("A2")) },
			want:   want{so: "[A2]", cal: "[A2]", writes: map[string]int{"superoffice/update": 1}},
		},
		{
			name: "changed on both, newest wins (calendar later)",
			change: func(h *enginetest.Harness) {
				h.Edit(engine.SuperOffice, "A", enginetest.Retitle("S"))
				h.Clock.Advance(time.Minute)
				h.Edit(engine.Calendar, "A", enginetest.Retitle("C"))
			},
			want: want{so: "[C]", cal: "[C]", writes: map[string]int{"superoffice/update": 1}, conflicts: map[engine.Side]int{engine.Calendar: 1}},
		},
		{
			name: "changed on both, newest wins (superoffice later)",
			change: func(h *enginetest.Harness) {
				h.Edit(engine.Calendar, "A", enginetest.Retitle("C"))
				h.Clock.Advance(time.Minute)
				h.Edit(engine.SuperOffice, "A", enginetest.Retitle("S"))
			},
			want: want{so: "[S]", cal: "[S]", writes: map[string]int{"calendar/update": 1}, conflicts: map[engine.Side]int{engine.SuperOffice: 1}},
		},
		{
			name:   "changed on both, conflict = superoffice",
			policy: engine.Policy{Conflict: engine.ConflictSuperOffice},
			change: func(h *enginetest.Harness) {
				h.Edit(engine.SuperOffice, "A", enginetest.Retitle("S"))
				h.Clock.Advance(time.Minute)
				h.Edit(engine.Calendar, "A", enginetest.Retitle("C"))
			},
			want: want{so: "[S]", cal: "[S]", writes: map[string]int{"calendar/update": 1}, conflicts: map[engine.Side]int{engine.SuperOffice: 1}},
		},
		{
			name:   "changed on both, conflict = calendar",
			policy: engine.Policy{Conflict: engine.ConflictCalendar},
			change: func(h *enginetest.Harness) {
				h.Edit(engine.Calendar, "A", enginetest.Retitle("C"))
				h.Clock.Advance(time.Minute)
				h.Edit(engine.SuperOffice, "A", enginetest.Retitle("S"))
			},
			want: want{so: "[C]", cal: "[C]", writes: map[string]int{"superoffice/update": 1}, conflicts: map[engine.Side]int{engine.Calendar: 1}},
		},
		{
			name: "changed on both to the same content",
			change: func(h *enginetest.Harness) {
				h.Edit(engine.SuperOffice, "A", enginetest.Retitle("same"))
				h.Edit(engine.Calendar, "A", enginetest.Retitle("same"))
			},
			want: want{so: "[same]", cal: "[same]"},
		},
		{
			name:   "deleted on superoffice",
			change: func(h *enginetest.Harness) { h.Remove(engine.SuperOffice, "A") },
			want:   want{so: "[]", cal: "[]", writes: map[string]int{"calendar/delete": 1}},
		},
		{
			name:   "deleted on calendar",
			change: func(h *enginetest.Harness) { h.Remove(engine.Calendar, "A") },
			want:   want{so: "[]", cal: "[]", writes: map[string]int{"superoffice/delete": 1}},
		},
		{
			name: "deleted on superoffice, changed on calendar: the edit wins",
			change: func(h *enginetest.Harness) {
				h.Remove(engine.SuperOffice, "A")
				h.Edit(engine.Calendar, "A", enginetest.Retitle("C"))
			},
			want: want{so: "[C]", cal: "[C]", writes: map[string]int{"superoffice/create": 1}, conflicts: map[engine.Side]int{engine.Calendar: 1}},
		},
		{
			name: "deleted on calendar, changed on superoffice: the edit wins",
			change: func(h *enginetest.Harness) {
				h.Remove(engine.Calendar, "A")
				h.Edit(engine.SuperOffice, "A", enginetest.Retitle("S"))
			},
			want: want{so: "[S]", cal: "[S]", writes: map[string]int{"calendar/create": 1}, conflicts: map[engine.Side]int{engine.SuperOffice: 1}},
		},
		{
			name:   "deleted on superoffice, changed on calendar, conflict = superoffice: the delete wins",
			policy: engine.Policy{Conflict: engine.ConflictSuperOffice},
			change: func(h *enginetest.Harness) {
				h.Remove(engine.SuperOffice, "A")
				h.Edit(engine.Calendar, "A", enginetest.Retitle("C"))
			},
			want: want{so: "[]", cal: "[]", writes: map[string]int{"calendar/delete": 1}, conflicts: map[engine.Side]int{engine.SuperOffice: 1}},
		},
		{
			name: "moved out of the window on superoffice: frozen, nothing deleted",
			change: func(h *enginetest.Harness) {
				h.Edit(engine.SuperOffice, "A", func(e *sdk.Event) {
					e.Title = "far"
					e.Start, e.End = enginetest.T0.Add(400*day), enginetest.T0.Add(400*day+time.Hour)
				})
				h.SOP.ExpireCursors() // a full read, where the item is missing
			},
			want: want{so: "[far]", cal: "[A]"},
		},
		{
			name: "moved into the window on superoffice: copied once",
			change: func(h *enginetest.Harness) {
				far := h.SO.Put(enginetest.Single("F", enginetest.T0.Add(500*day)))
				h.Run() // not in the window: nothing happens
				far.Start, far.End = enginetest.T0.Add(2*day), enginetest.T0.Add(2*day+time.Hour)
				h.SO.Put(far)
			},
			want: want{so: "[A F]", cal: "[A F]", writes: map[string]int{"calendar/create": 1}},
		},
		{
			name:   "echo of our own write",
			change: func(h *enginetest.Harness) {},
			want:   want{so: "[A]", cal: "[A]"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := enginetest.NewHarness(t, tc.policy)
			h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
			h.Run()
			h.Clock.Advance(time.Minute)
			tc.change(h)
			h.Clock.Advance(time.Minute)
			res := h.Run()
			if got := enginetest.Titles(h.SO); got != tc.want.so {
				t.Errorf("superoffice = %s, want %s", got, tc.want.so)
			}
			if got := enginetest.Titles(h.Cal); got != tc.want.cal {
				t.Errorf("calendar = %s, want %s", got, tc.want.cal)
			}
			got := map[string]int{}
			for _, a := range res.Done {
				got[string(a.Side)+"/"+string(a.Op)]++
			}
			if !sameCounts(got, tc.want.writes) {
				t.Errorf("writes = %v, want %v (plan %v, notes %v)", got, tc.want.writes, res.Plan, res.Notes)
			}
			if !sameCounts(h.Obs.Conflicts, tc.want.conflicts) {
				t.Errorf("conflicts = %v, want %v", h.Obs.Conflicts, tc.want.conflicts)
			}
			// Whatever happened, the next run is quiet: our writes never echo.
			h.Ops.Reset()
			if again := h.Run(); len(again.Done) != 0 {
				t.Errorf("second run wrote %v", again.Done)
			}
			if n := h.Ops.Writes(); n != 0 {
				t.Errorf("second run made %d provider writes", n)
			}
			h.RequireTagged()
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
	h := enginetest.NewHarness(t, engine.Policy{})
	a := h.SO.Put(enginetest.Single("A", enginetest.T0.Add(time.Hour)))
	h.Run()
	c := h.Find(engine.Calendar, "A")
	if want := engine.CorrelationFor(engine.SuperOffice, a.ID); c.CorrelationID != want {
		t.Fatalf("copy carries %q, want %q", c.CorrelationID, want)
	}
	if !strings.HasPrefix(c.CorrelationID, "s") {
		t.Fatalf("correlation id %q does not name its origin", c.CorrelationID)
	}
}
