package memory

import (
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"synchronizer/plugins/sdk"
)

// maxOccurrenceSteps bounds the expansion of one series while looking for an
// occurrence inside a window; a rule dense enough to exceed it counts as inside.
const maxOccurrenceSteps = 100000

// inWindow reports whether ev touches w. A master counts when one of its occurrences
// may overlap the window; an exception counts by its own times or by the start it
// had in the series.
func inWindow(ev sdk.Event, w sdk.Window) bool {
	if w.Start.IsZero() && w.End.IsZero() {
		return true
	}
	switch ev.Kind {
	case sdk.KindMaster:
		return seriesInWindow(ev, w)
	case sdk.KindException:
		if w.Contains(ev.Start, ev.End) {
			return true
		}
		return !ev.OriginalStart.IsZero() && w.Contains(ev.OriginalStart, ev.OriginalStart.Add(ev.End.Sub(ev.Start)))
	default:
		return w.Contains(ev.Start, ev.End)
	}
}

// seriesInWindow expands the master's rule just far enough to find an occurrence
// overlapping w. A rule it cannot parse counts as inside: a listing that shows too
// much is harmless, one that hides an item is not.
func seriesInWindow(ev sdk.Event, w sdk.Window) bool {
	if len(ev.Recurrence) == 0 {
		return w.Contains(ev.Start, ev.End)
	}
	loc := time.UTC
	if !ev.AllDay && ev.TimeZone != "" {
		if l, err := time.LoadLocation(ev.TimeZone); err == nil {
			loc = l
		}
	}
	lines := make([]string, 0, len(ev.Recurrence))
	for _, l := range ev.Recurrence {
		name := strings.ToUpper(l)
		if strings.HasPrefix(name, "RRULE") || strings.HasPrefix(name, "RDATE") || strings.HasPrefix(name, "EXDATE") {
			lines = append(lines, l)
		}
	}
	set, err := rrule.StrSliceToRRuleSetInLoc(lines, loc)
	if err != nil {
		return true
	}
	set.DTStart(ev.Start.In(loc))
	dur := ev.End.Sub(ev.Start)
	if dur < 0 {
		dur = 0
	}
	next := set.Iterator()
	for range maxOccurrenceSteps {
		t, ok := next()
		if !ok {
			return false
		}
		if !t.Before(w.End) {
			return false
		}
		if w.Contains(t, t.Add(dur)) {
			return true
		}
	}
	return true
}
