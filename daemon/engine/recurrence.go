package engine

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"synchronizer/plugins/sdk"
)

// maxExpand bounds rule expansion when looking for a series' last occurrence.
const maxExpand = 50000

// recLine is one parsed recurrence line: NAME;PARAMS:VALUE.
type recLine struct {
	name   string
	params map[string]string
	value  string
}

func parseRecLine(l string) (recLine, bool) {
	l = strings.TrimSpace(l)
	colon := strings.IndexByte(l, ':')
	if colon < 0 {
		return recLine{}, false
	}
	head, value := l[:colon], l[colon+1:]
	parts := strings.Split(head, ";")
	rl := recLine{name: strings.ToUpper(strings.TrimSpace(parts[0])), value: strings.TrimSpace(value), params: map[string]string{}}
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(p, "="); ok {
			rl.params[strings.ToUpper(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return rl, true
}

// rruleParts splits an RRULE value into upper-cased KEY=VALUE parts.
func rruleParts(v string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(v, ";") {
		if k, val, ok := strings.Cut(p, "="); ok {
			out[strings.ToUpper(strings.TrimSpace(k))] = strings.ToUpper(strings.TrimSpace(val))
		}
	}
	return out
}

func joinParts(parts map[string]string) string {
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k + "=" + parts[k])
	}
	return b.String()
}

// dateValues parses the values of an EXDATE or RDATE line into instants (UTC) or,
// for VALUE=DATE and all-day series, dates at midnight UTC.
func dateValues(rl recLine, allDay bool) []time.Time {
	loc := time.UTC
	if tz := rl.params["TZID"]; tz != "" {
		if l, err := time.LoadLocation(strings.Trim(tz, `"`)); err == nil {
			loc = l
		}
	}
	var out []time.Time
	for _, v := range strings.Split(rl.value, ",") {
		v = strings.TrimSpace(v)
		var t time.Time
		var err error
		switch {
		case len(v) == 8:
			t, err = time.ParseInLocation("20060102", v, time.UTC)
		case strings.HasSuffix(v, "Z"):
			t, err = time.Parse("20060102T150405Z", v)
		default:
			t, err = time.ParseInLocation("20060102T150405", v, loc)
		}
		if err != nil {
			continue
		}
		if allDay {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		out = append(out, t.UTC())
	}
	return out
}

// normRecurrence renders a master's rule canonically: RRULE parts sorted, EXDATE and
// RDATE values merged, deduplicated and in UTC. With a non-zero cut, an UNTIL or
// COUNT that ends at or after cut is dropped (treated as no end).
func normRecurrence(lines []string, ev sdk.Event, cut time.Time) []string {
	var rules, ex, rd []string
	for _, l := range lines {
		rl, ok := parseRecLine(l)
		if !ok {
			rules = append(rules, "RAW:"+strings.TrimSpace(l))
			continue
		}
		switch rl.name {
		case "RRULE":
			parts := rruleParts(rl.value)
			if !cut.IsZero() && seriesEndsAfter(parts, ev, cut) {
				delete(parts, "UNTIL")
				delete(parts, "COUNT")
			}
			if u, ok := parts["UNTIL"]; ok {
				parts["UNTIL"] = normUntil(u, ev.AllDay)
			}
			rules = append(rules, "RRULE:"+joinParts(parts))
		case "EXDATE", "RDATE":
			for _, t := range dateValues(rl, ev.AllDay) {
				s := stamp(t, ev.AllDay)
				if rl.name == "EXDATE" {
					ex = append(ex, s)
				} else {
					rd = append(rd, s)
				}
			}
		default:
			rules = append(rules, rl.name+":"+rl.value)
		}
	}
	slices.Sort(rules)
	slices.Sort(ex)
	slices.Sort(rd)
	out := slices.Compact(rules)
	if ex = slices.Compact(ex); len(ex) > 0 {
		out = append(out, "EXDATE:"+strings.Join(ex, ","))
	}
	if rd = slices.Compact(rd); len(rd) > 0 {
		out = append(out, "RDATE:"+strings.Join(rd, ","))
	}
	return out
}

func normUntil(u string, allDay bool) string {
	var t time.Time
	var err error
	switch {
	case len(u) == 8:
		t, err = time.Parse("20060102", u)
	case strings.HasSuffix(u, "Z"):
		t, err = time.Parse("20060102T150405Z", u)
	default:
		t, err = time.Parse("20060102T150405", u)
	}
	if err != nil {
		return u
	}
	return stamp(t, allDay)
}

// endless reports whether a master's rule has no end.
func endless(ev sdk.Event) bool {
	if ev.Kind != sdk.KindMaster {
		return false
	}
	for _, l := range ev.Recurrence {
		rl, ok := parseRecLine(l)
		if !ok || rl.name != "RRULE" {
			continue
		}
		parts := rruleParts(rl.value)
		if _, ok := parts["UNTIL"]; ok {
			return false
		}
		if _, ok := parts["COUNT"]; ok {
			return false
		}
		return true
	}
	return false
}

// seriesEndsAfter reports whether the rule's UNTIL, or the last occurrence its COUNT
// gives, is at or after cut.
func seriesEndsAfter(parts map[string]string, ev sdk.Event, cut time.Time) bool {
	if u, ok := parts["UNTIL"]; ok {
		t, err := time.Parse("20060102T150405Z", u)
		if err != nil {
			t, err = time.Parse("20060102", u)
		}
		if err != nil {
			t, err = time.Parse("20060102T150405", u)
		}
		return err == nil && !t.Before(cut)
	}
	if c, ok := parts["COUNT"]; ok {
		n, err := strconv.Atoi(c)
		if err != nil || n <= 0 {
			return false
		}
		last, ok := lastOccurrence([]string{"RRULE:" + joinParts(parts)}, ev)
		return ok && !last.Before(cut)
	}
	return false
}

// ruleSet builds the series' rule set, or false when it cannot be parsed.
func ruleSet(lines []string, ev sdk.Event) (*rrule.Set, bool) {
	loc := time.UTC
	if !ev.AllDay && ev.TimeZone != "" {
		if l, err := time.LoadLocation(ev.TimeZone); err == nil {
			loc = l
		}
	}
	var keep []string
	for _, l := range lines {
		rl, ok := parseRecLine(l)
		if ok && (rl.name == "RRULE" || rl.name == "EXDATE" || rl.name == "RDATE") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	if len(keep) == 0 {
		return nil, false
	}
	set, err := rrule.StrSliceToRRuleSetInLoc(keep, loc)
	if err != nil {
		return nil, false
	}
	set.DTStart(ev.Start.In(loc))
	return set, true
}

// lastOccurrence returns the start of the series' last occurrence; false when the
// series has no end or cannot be expanded.
func lastOccurrence(lines []string, ev sdk.Event) (time.Time, bool) {
	set, ok := ruleSet(lines, ev)
	if !ok {
		return time.Time{}, false
	}
	next := set.Iterator()
	var last time.Time
	for range maxExpand {
		t, ok := next()
		if !ok {
			return last, !last.IsZero()
		}
		last = t
	}
	return time.Time{}, false
}

// extent returns the span an item covers: its own times, or for a series from its
// first start to the end of its last occurrence (end zero when it never ends).
func extent(ev sdk.Event) (start, end time.Time) {
	start, end = ev.Start, ev.End
	if end.Before(start) {
		end = start
	}
	if ev.Kind != sdk.KindMaster || len(ev.Recurrence) == 0 {
		if ev.Kind == sdk.KindException && !ev.OriginalStart.IsZero() {
			// An exception also touches the slot it was moved from.
			if ev.OriginalStart.Before(start) {
				start = ev.OriginalStart
			}
			if o := ev.OriginalStart.Add(ev.End.Sub(ev.Start)); o.After(end) {
				end = o
			}
		}
		return start, end
	}
	if endless(ev) {
		return start, time.Time{}
	}
	last, ok := lastOccurrence(ev.Recurrence, ev)
	if !ok {
		return start, time.Time{} // unknown: assume it goes on
	}
	return start, last.Add(ev.End.Sub(ev.Start))
}

// overlaps reports whether an extent touches the window (end zero = no end).
func overlaps(start, end time.Time, w sdk.Window) bool {
	if end.IsZero() {
		return start.Before(w.End)
	}
	return w.Contains(start, end)
}

// InWindow reports whether ev touches the window. A series counts when one of its
// occurrences does; a rule that cannot be expanded counts by its span.
func InWindow(ev sdk.Event, w sdk.Window) bool {
	if ev.Kind == sdk.KindException && !ev.OriginalStart.IsZero() {
		return w.Contains(ev.Start, ev.End) || w.Contains(ev.OriginalStart, ev.OriginalStart.Add(ev.End.Sub(ev.Start)))
	}
	s, e := extent(ev)
	if !overlaps(s, e, w) {
		return false
	}
	if ev.Kind != sdk.KindMaster || len(ev.Recurrence) == 0 {
		return true
	}
	set, ok := ruleSet(ev.Recurrence, ev)
	if !ok {
		return true
	}
	dur := max(ev.End.Sub(ev.Start), 0)
	next := set.Iterator()
	for range maxExpand {
		t, ok := next()
		if !ok || !t.Before(w.End) {
			return false
		}
		if w.Contains(t, t.Add(dur)) {
			return true
		}
	}
	return true
}
