package providertest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"synchronizer/plugins/sdk"
)

// diffEvent lists how got differs from want in the synced fields. Server-assigned
// fields (ID, Version, ICalUID, MeetingKey, Created, Updated, Extras) are not
// compared; Recurrence is compared by the occurrences it yields in w; instants
// with Equal; attendees in any order.
func diffEvent(want, got sdk.Event, w sdk.Window) []string {
	var d []string
	field := func(name string, a, b any) {
		if a != b {
			d = append(d, fmt.Sprintf("%s: want %q, got %q", name, fmt.Sprint(a), fmt.Sprint(b)))
		}
	}
	instant := func(name string, a, b time.Time) {
		if !a.Equal(b) {
			d = append(d, fmt.Sprintf("%s: want %s, got %s", name, fmtTime(a), fmtTime(b)))
		}
	}
	field("Kind", want.Kind, got.Kind)
	field("CorrelationID", want.CorrelationID, got.CorrelationID)
	if want.Kind == sdk.KindException {
		field("SeriesID", want.SeriesID, got.SeriesID)
		instant("OriginalStart", want.OriginalStart, got.OriginalStart)
	}
	field("Cancelled", want.Cancelled, got.Cancelled)
	field("Title", want.Title, got.Title)
	field("Description", want.Description, got.Description)
	field("DescriptionHTML", want.DescriptionHTML, got.DescriptionHTML)
	field("Location", want.Location, got.Location)
	instant("Start", want.Start, got.Start)
	instant("End", want.End, got.End)
	if !want.AllDay {
		field("TimeZone", want.TimeZone, got.TimeZone)
	}
	field("AllDay", want.AllDay, got.AllDay)
	field("ShowAs", want.ShowAs, got.ShowAs)
	field("Privacy", want.Privacy, got.Privacy)
	field("HasReminder", want.HasReminder, got.HasReminder)
	if want.HasReminder {
		field("ReminderMinutes", want.ReminderMinutes, got.ReminderMinutes)
	}
	field("Category", want.Category, got.Category)
	field("Organizer", fmtAttendee(want.Organizer), fmtAttendee(got.Organizer))
	field("Attendees", fmtAttendees(want.Attendees), fmtAttendees(got.Attendees))
	field("IsOrganizer", want.IsOrganizer, got.IsOrganizer)
	field("Response", want.Response, got.Response)
	if want.Kind == sdk.KindMaster || got.Kind == sdk.KindMaster {
		wo, werr := occurrences(want, w)
		go_, gerr := occurrences(got, w)
		switch {
		case werr != nil:
			d = append(d, fmt.Sprintf("Recurrence sent cannot be expanded: %v", werr))
		case gerr != nil:
			d = append(d, fmt.Sprintf("Recurrence %q cannot be expanded: %v", got.Recurrence, gerr))
		default:
			if extra, missing := setDiff(wo, go_); len(extra)+len(missing) > 0 {
				d = append(d, fmt.Sprintf("Recurrence %q yields other occurrences than %q: not expected %s; missing %s",
					got.Recurrence, want.Recurrence, fmtTimes(extra), fmtTimes(missing)))
			}
		}
	}
	return d
}

// checkEvent fails t when got is not what want says.
func checkEvent(t *testing.T, what string, want, got sdk.Event, w sdk.Window) {
	t.Helper()
	if d := diffEvent(want, got, w); len(d) > 0 {
		t.Errorf("%s differs:\n  %s", what, strings.Join(d, "\n  "))
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTimes(ts []time.Time) string {
	if len(ts) == 0 {
		return "none"
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = fmtTime(t)
	}
	if len(out) > 6 {
		out = append(out[:6], fmt.Sprintf("... (%d in all)", len(ts)))
	}
	return strings.Join(out, ", ")
}

func fmtAttendee(a sdk.Attendee) string {
	if a == (sdk.Attendee{}) {
		return ""
	}
	return fmt.Sprintf("%s <%s> %s/%s %s", a.Name, strings.ToLower(a.Email), a.Type, a.Response, a.AccountID)
}

func fmtAttendees(as []sdk.Attendee) string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, fmtAttendee(a))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// occurrences expands a master's Recurrence (RRULE, RDATE, EXDATE in their UTC,
// DATE and TZID forms) from its Start in its TimeZone, inside w.
func occurrences(ev sdk.Event, w sdk.Window) ([]time.Time, error) {
	if len(ev.Recurrence) == 0 {
		return nil, fmt.Errorf("no recurrence lines")
	}
	loc := time.UTC
	if !ev.AllDay && ev.TimeZone != "" {
		l, err := time.LoadLocation(ev.TimeZone)
		if err != nil {
			return nil, err
		}
		loc = l
	}
	set, err := rrule.StrSliceToRRuleSetInLoc(ev.Recurrence, loc)
	if err != nil {
		return nil, err
	}
	start := ev.Start.In(loc)
	if ev.AllDay {
		start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	}
	set.DTStart(start)
	var out []time.Time
	next := set.Iterator()
	for range 5000 {
		t, ok := next()
		if !ok || !t.Before(w.End) {
			break
		}
		if !t.Before(w.Start) {
			out = append(out, t.UTC())
		}
	}
	return out, nil
}

// setDiff returns the instants only in b (extra) and only in a (missing).
func setDiff(a, b []time.Time) (extra, missing []time.Time) {
	in := func(ts []time.Time, x time.Time) bool {
		return slices.ContainsFunc(ts, func(t time.Time) bool { return t.Equal(x) })
	}
	for _, x := range b {
		if !in(a, x) {
			extra = append(extra, x)
		}
	}
	for _, x := range a {
		if !in(b, x) {
			missing = append(missing, x)
		}
	}
	slices.SortFunc(extra, func(x, y time.Time) int { return x.Compare(y) })
	slices.SortFunc(missing, func(x, y time.Time) int { return x.Compare(y) })
	return extra, missing
}

// nextTransition returns the first instant after from (within 400 days) at which
// loc's UTC offset changes, or the zero time.
func nextTransition(loc *time.Location, from time.Time) time.Time {
	_, off := from.In(loc).Zone()
	lo := from
	for d := 1; d <= 400; d++ {
		hi := from.AddDate(0, 0, d)
		if _, o := hi.In(loc).Zone(); o != off {
			for hi.Sub(lo) > time.Minute { // bisect to the minute
				mid := lo.Add(hi.Sub(lo) / 2)
				if _, o := mid.In(loc).Zone(); o == off {
					lo = mid
				} else {
					hi = mid
				}
			}
			return hi.Truncate(time.Minute)
		}
		lo = hi
	}
	return time.Time{}
}
