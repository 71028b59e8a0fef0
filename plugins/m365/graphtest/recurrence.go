package graphtest

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"synchronizer/plugins/m365/internal/wintz"
)

// recurrence is a patternedRecurrence: one of six patterns and one of three ranges.
// Range dates are plain dates, held as midnight UTC.
type recurrence struct {
	typ        string // daily weekly absoluteMonthly relativeMonthly absoluteYearly relativeYearly
	interval   int
	month      int
	dayOfMonth int
	days       []time.Weekday
	firstDay   time.Weekday
	index      string // first second third fourth last

	rangeType string // endDate noEnd numbered
	startDate time.Time
	endDate   time.Time
	count     int
	tzName    string
	loc       *time.Location
}

var weekdayNames = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

func parseWeekday(s string) (time.Weekday, bool) {
	i := slices.Index(weekdayNames, strings.ToLower(s))
	return time.Weekday(i), i >= 0
}

var indexNames = []string{"first", "second", "third", "fourth", "last"}

func invalidRecurrence(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "ErrorPropertyValidationFailure", "At least one property failed validation. Recurrence: "+format, args...)
}

func parseDate(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// parseRecurrence validates a patternedRecurrence. defaultTZ is the event's start zone.
func parseRecurrence(zones *wintz.Zones, j *jsonRecurrence, defaultTZ string) (*recurrence, *apiError) {
	r := &recurrence{typ: j.Pattern.Type, interval: j.Pattern.Interval, month: j.Pattern.Month, dayOfMonth: j.Pattern.DayOfMonth, index: strings.ToLower(j.Pattern.Index)}
	switch r.typ {
	case "daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly":
	default:
		return nil, invalidRecurrence("unknown pattern type '%s'", j.Pattern.Type)
	}
	if r.interval < 1 {
		return nil, invalidRecurrence("interval must be at least 1")
	}
	for _, d := range j.Pattern.DaysOfWeek {
		wd, ok := parseWeekday(d)
		if !ok {
			return nil, invalidRecurrence("unknown day of week '%s'", d)
		}
		if !slices.Contains(r.days, wd) {
			r.days = append(r.days, wd)
		}
	}
	r.firstDay = time.Sunday
	if j.Pattern.FirstDayOfWeek != "" {
		wd, ok := parseWeekday(j.Pattern.FirstDayOfWeek)
		if !ok {
			return nil, invalidRecurrence("unknown first day of week '%s'", j.Pattern.FirstDayOfWeek)
		}
		r.firstDay = wd
	}
	if r.index == "" {
		r.index = "first"
	}
	if !slices.Contains(indexNames, r.index) {
		return nil, invalidRecurrence("unknown index '%s'", j.Pattern.Index)
	}
	switch r.typ {
	case "weekly", "relativeMonthly", "relativeYearly":
		if len(r.days) == 0 {
			return nil, invalidRecurrence("daysOfWeek is required for a %s pattern", r.typ)
		}
	}
	switch r.typ {
	case "absoluteMonthly", "absoluteYearly":
		if r.dayOfMonth < 1 || r.dayOfMonth > 31 {
			return nil, invalidRecurrence("dayOfMonth must be between 1 and 31")
		}
	}
	switch r.typ {
	case "absoluteYearly", "relativeYearly":
		if r.month < 1 || r.month > 12 {
			return nil, invalidRecurrence("month must be between 1 and 12")
		}
	}
	r.rangeType = j.Range.Type
	var ok bool
	if r.startDate, ok = parseDate(j.Range.StartDate); !ok {
		return nil, invalidRecurrence("range startDate '%s' is not a date", j.Range.StartDate)
	}
	switch r.rangeType {
	case "endDate":
		if r.endDate, ok = parseDate(j.Range.EndDate); !ok {
			return nil, invalidRecurrence("range endDate '%s' is not a date", j.Range.EndDate)
		}
		if r.endDate.Before(r.startDate) {
			return nil, invalidRecurrence("range endDate is before startDate")
		}
	case "numbered":
		if j.Range.NumberOfOccurrences < 1 {
			return nil, invalidRecurrence("numberOfOccurrences must be at least 1")
		}
		r.count = j.Range.NumberOfOccurrences
	case "noEnd":
	default:
		return nil, invalidRecurrence("unknown range type '%s'", j.Range.Type)
	}
	r.tzName = j.Range.RecurrenceTimeZone
	if r.tzName == "" {
		r.tzName = defaultTZ
	}
	loc, _, ok := zones.Resolve(r.tzName)
	if !ok {
		return nil, errf(http.StatusBadRequest, "TimeZoneNotSupportedException", "A valid TimeZone value must be specified. The following TimeZone value is not supported: '%s'.", r.tzName)
	}
	r.loc = loc
	if w, ok := wintz.Windows(r.tzName); ok {
		r.tzName = w
	} else if w, ok := wintz.CanonicalWindows(r.tzName); ok {
		r.tzName = w
	}
	return r, nil
}

func (r *recurrence) toJSON() jsonRecurrence {
	days := []string{}
	for _, d := range r.days {
		days = append(days, weekdayNames[d])
	}
	j := jsonRecurrence{
		Pattern: jsonPattern{Type: r.typ, Interval: r.interval, Month: r.month, DayOfMonth: r.dayOfMonth, DaysOfWeek: days, FirstDayOfWeek: weekdayNames[r.firstDay], Index: r.index},
		Range:   jsonRange{Type: r.rangeType, StartDate: r.startDate.Format("2006-01-02"), EndDate: "0001-01-01", RecurrenceTimeZone: r.tzName, NumberOfOccurrences: r.count},
	}
	if r.rangeType == "endDate" {
		j.Range.EndDate = r.endDate.Format("2006-01-02")
	}
	return j
}

func (r *recurrence) equal(o *recurrence) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.typ == o.typ && r.interval == o.interval && r.month == o.month && r.dayOfMonth == o.dayOfMonth &&
		slices.Equal(sortedDays(r.days), sortedDays(o.days)) && r.firstDay == o.firstDay && r.index == o.index &&
		r.rangeType == o.rangeType && r.startDate.Equal(o.startDate) && r.endDate.Equal(o.endDate) && r.count == o.count &&
		strings.EqualFold(r.tzName, o.tzName)
}

func sortedDays(d []time.Weekday) []time.Weekday {
	c := slices.Clone(d)
	slices.Sort(c)
	return c
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func addMonths(d time.Time, n int) (int, time.Month) {
	t := time.Date(d.Year(), d.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	return t.Year(), t.Month()
}

// nthWeekday finds the index-th day in month y/m whose weekday is in days.
func nthWeekday(y int, m time.Month, days []time.Weekday, index string) (time.Time, bool) {
	var matches []time.Time
	for d := 1; d <= daysIn(y, m); d++ {
		t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if slices.Contains(days, t.Weekday()) {
			matches = append(matches, t)
		}
	}
	if len(matches) == 0 {
		return time.Time{}, false
	}
	if index == "last" {
		return matches[len(matches)-1], true
	}
	i := slices.Index(indexNames, index)
	if i >= len(matches) {
		return time.Time{}, false
	}
	return matches[i], true
}

// maxExpansion bounds one expansion so a bad window cannot spin.
const maxExpansion = 200000

// dates yields the pattern's occurrence dates in order from the range start, until
// yield returns false or the range ends. Months too short for dayOfMonth get their
// last day, as Outlook schedules them.
func (r *recurrence) dates(yield func(time.Time) bool) {
	n := 0
	emit := func(d time.Time) bool {
		if d.Before(r.startDate) {
			return true
		}
		if r.rangeType == "endDate" && d.After(r.endDate) {
			return false
		}
		if r.rangeType == "numbered" && n >= r.count {
			return false
		}
		n++
		return yield(d)
	}
	sd := r.startDate
	for step := 0; step < maxExpansion; step++ {
		switch r.typ {
		case "daily":
			if !emit(sd.AddDate(0, 0, step*r.interval)) {
				return
			}
		case "weekly":
			offset := (int(sd.Weekday()) - int(r.firstDay) + 7) % 7
			weekStart := sd.AddDate(0, 0, -offset+7*step*r.interval)
			for i := 0; i < 7; i++ {
				d := weekStart.AddDate(0, 0, i)
				if slices.Contains(r.days, d.Weekday()) && !emit(d) {
					return
				}
			}
		case "absoluteMonthly":
			y, m := addMonths(sd, step*r.interval)
			if !emit(time.Date(y, m, min(r.dayOfMonth, daysIn(y, m)), 0, 0, 0, 0, time.UTC)) {
				return
			}
		case "relativeMonthly":
			y, m := addMonths(sd, step*r.interval)
			if d, ok := nthWeekday(y, m, r.days, r.index); ok && !emit(d) {
				return
			}
		case "absoluteYearly":
			y := sd.Year() + step*r.interval
			m := time.Month(r.month)
			if !emit(time.Date(y, m, min(r.dayOfMonth, daysIn(y, m)), 0, 0, 0, 0, time.UTC)) {
				return
			}
		case "relativeYearly":
			y := sd.Year() + step*r.interval
			if d, ok := nthWeekday(y, time.Month(r.month), r.days, r.index); ok && !emit(d) {
				return
			}
		default:
			return
		}
	}
}

// occurrenceStart is the start instant of the occurrence on date d: the master's
// wall-clock time on that date in the recurrence zone (so DST keeps 09:00 at 09:00),
// or midnight UTC for all-day series.
func (e *event) occurrenceStart(d time.Time) time.Time {
	if e.allDay {
		return d
	}
	r := e.rec
	local := e.start.In(r.loc)
	return time.Date(d.Year(), d.Month(), d.Day(), local.Hour(), local.Minute(), local.Second(), 0, r.loc)
}

// seriesStarts lists the original starts of the series' occurrences that begin before
// `before` and end after `after` (cancelled ones included), in order.
func (e *event) seriesStarts(after, before time.Time) []time.Time {
	if e.rec == nil {
		return nil
	}
	dur := e.end.Sub(e.start)
	var out []time.Time
	e.rec.dates(func(d time.Time) bool {
		st := e.occurrenceStart(d)
		if !st.Before(before) {
			return false
		}
		if st.Add(dur).After(after) || (dur == 0 && !st.Before(after)) {
			out = append(out, st)
		}
		return true
	})
	return out
}

// isOccurrence tells whether t is an original start of the series.
func (e *event) isOccurrence(t time.Time) bool {
	for _, st := range e.seriesStarts(t.Add(-time.Second), t.Add(time.Second)) {
		if st.Equal(t) {
			return true
		}
	}
	return false
}

// firstOccurrence is the first original start of the series, if any.
func (e *event) firstOccurrence() (time.Time, bool) {
	var first time.Time
	found := false
	e.rec.dates(func(d time.Time) bool {
		first, found = e.occurrenceStart(d), true
		return false
	})
	return first, found
}

// instances lists the views of a master that overlap [from, to): occurrences by the
// pattern (minus cancelled and changed ones) and exceptions wherever they moved.
func (e *event) instances(from, to time.Time) []*eventView {
	var out []*eventView
	dur := e.end.Sub(e.start)
	// Exceptions can move up to the neighbouring occurrences: widen the pattern scan
	// so a moved exception is still found through its own start below.
	for _, st := range e.seriesStarts(from, to) {
		u := st.Unix()
		if _, gone := e.cancelledOcc[u]; gone {
			continue
		}
		if _, changed := e.exceptions[u]; changed {
			continue
		}
		out = append(out, &eventView{ev: e, occ: true, origStart: st, start: st, end: st.Add(dur)})
	}
	for _, x := range e.exceptions {
		if overlaps(x.start, x.end, from, to) {
			out = append(out, viewOf(x))
		}
	}
	slices.SortFunc(out, func(a, b *eventView) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return a.origStart.Compare(b.origStart)
	})
	return out
}

// overlaps is calendarView's rule: the item overlaps [from, to); a zero-length item
// counts at its instant.
func overlaps(start, end, from, to time.Time) bool {
	if !end.After(start) {
		return !start.Before(from) && start.Before(to)
	}
	return start.Before(to) && end.After(from)
}
