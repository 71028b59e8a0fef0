package superoffice

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	rrule "github.com/teambition/rrule-go"

	"synchronizer/plugins/superoffice/internal/wire"
)

// Recurrence travels in two shapes: the neutral model's RFC 5545 lines (RRULE,
// EXDATE, RDATE) on a master, and SuperOffice's RecurrenceInfo (a pattern with a
// required end) over rows stored one per occurrence. This file converts between
// the rule parts; series.go matches rows to occurrences.

// rule is a parsed RRULE, restricted to what we need to reason about.
type rule struct {
	freq       string // DAILY WEEKLY MONTHLY YEARLY
	interval   int
	count      int
	until      time.Time // zero: none
	untilDate  bool      // UNTIL was a DATE
	byDay      []weekdayN
	byMonthDay []int
	byMonth    []int
	bySetPos   []int
	other      []string // parts we do not map (BYHOUR, BYWEEKNO, ...)
	raw        string   // the RRULE value as given
}

type weekdayN struct {
	n   int // 0: every; 1..5, -1: nth
	day time.Weekday
}

var rruleDays = map[string]time.Weekday{"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday}

func dayCode(d time.Weekday) string {
	return [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}[d]
}

// recurrenceLines splits a master's Recurrence into its RRULE value and its
// EXDATE and RDATE instants (read in loc when they carry TZID or no zone).
func recurrenceLines(lines []string, loc *time.Location) (rr string, exdates, rdates []time.Time, err error) {
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return "", nil, nil, fmt.Errorf("recurrence line %q has no value", line)
		}
		params := strings.Split(name, ";")
		switch strings.ToUpper(params[0]) {
		case "RRULE":
			if rr != "" {
				return "", nil, nil, fmt.Errorf("more than one RRULE")
			}
			rr = value
		case "EXDATE", "RDATE":
			ploc := loc
			for _, p := range params[1:] {
				if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "TZID") {
					if l, err := time.LoadLocation(v); err == nil {
						ploc = l
					}
				}
			}
			for _, v := range strings.Split(value, ",") {
				t, _, err := parseICalTime(strings.TrimSpace(v), ploc)
				if err != nil {
					return "", nil, nil, fmt.Errorf("recurrence line %q: %w", line, err)
				}
				if strings.EqualFold(params[0], "EXDATE") {
					exdates = append(exdates, t)
				} else {
					rdates = append(rdates, t)
				}
			}
		case "DTSTART", "EXRULE":
			// DTSTART is the event's start; EXRULE is deprecated and unsupported.
			if strings.EqualFold(params[0], "EXRULE") {
				return "", nil, nil, fmt.Errorf("EXRULE is not supported")
			}
		default:
			return "", nil, nil, fmt.Errorf("unknown recurrence line %q", line)
		}
	}
	return rr, exdates, rdates, nil
}

// parseICalTime reads 20240506T070000Z, 20240506T090000 (in loc) or 20240506
// (a date: midnight UTC, as the neutral model writes all-day dates).
func parseICalTime(v string, loc *time.Location) (time.Time, bool, error) {
	switch {
	case len(v) == 8:
		t, err := time.ParseInLocation("20060102", v, time.UTC)
		return t, true, err
	case strings.HasSuffix(v, "Z"):
		t, err := time.Parse("20060102T150405Z", v)
		return t, false, err
	default:
		t, err := time.ParseInLocation("20060102T150405", v, loc)
		return t, false, err
	}
}

func parseRule(value string, loc *time.Location) (rule, error) {
	r := rule{interval: 1, raw: value}
	for _, part := range strings.Split(value, ";") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return r, fmt.Errorf("RRULE part %q has no value", part)
		}
		k = strings.ToUpper(k)
		switch k {
		case "FREQ":
			r.freq = strings.ToUpper(v)
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("RRULE INTERVAL %q", v)
			}
			r.interval = n
		case "COUNT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return r, fmt.Errorf("RRULE COUNT %q", v)
			}
			r.count = n
		case "UNTIL":
			t, isDate, err := parseICalTime(v, loc)
			if err != nil {
				return r, fmt.Errorf("RRULE UNTIL %q: %w", v, err)
			}
			r.until, r.untilDate = t, isDate
		case "BYDAY":
			for _, d := range strings.Split(v, ",") {
				d = strings.ToUpper(strings.TrimSpace(d))
				if len(d) < 2 {
					return r, fmt.Errorf("RRULE BYDAY %q", v)
				}
				wd, ok := rruleDays[d[len(d)-2:]]
				if !ok {
					return r, fmt.Errorf("RRULE BYDAY %q", v)
				}
				n := 0
				if len(d) > 2 {
					var err error
					if n, err = strconv.Atoi(d[:len(d)-2]); err != nil {
						return r, fmt.Errorf("RRULE BYDAY %q", v)
					}
				}
				r.byDay = append(r.byDay, weekdayN{n: n, day: wd})
			}
		case "BYMONTHDAY", "BYMONTH", "BYSETPOS":
			for _, x := range strings.Split(v, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(x))
				if err != nil {
					return r, fmt.Errorf("RRULE %s %q", k, v)
				}
				switch k {
				case "BYMONTHDAY":
					r.byMonthDay = append(r.byMonthDay, n)
				case "BYMONTH":
					r.byMonth = append(r.byMonth, n)
				default:
					r.bySetPos = append(r.bySetPos, n)
				}
			}
		case "WKST":
			if strings.ToUpper(v) != "MO" {
				r.other = append(r.other, part)
			}
		default:
			r.other = append(r.other, part)
		}
	}
	switch r.freq {
	case "DAILY", "WEEKLY", "MONTHLY", "YEARLY":
	case "":
		return r, fmt.Errorf("RRULE has no FREQ")
	default:
		r.other = append(r.other, "FREQ="+r.freq)
	}
	if r.count > 0 && !r.until.IsZero() {
		return r, fmt.Errorf("RRULE has both COUNT and UNTIL")
	}
	return r, nil
}

// toPattern maps a rule starting at start (local) onto a SuperOffice pattern. ok
// is false when SuperOffice's patterns cannot express it (the caller then writes
// the dates as a Custom pattern).
func (r rule) toPattern(start time.Time) (info wire.RecurrenceInfo, ok bool) {
	if len(r.other) > 0 {
		return info, false
	}
	info = wire.RecurrenceInfo{IsRecurrence: true, Pattern: "Unknown"}
	switch r.freq {
	case "DAILY":
		if len(r.byDay) > 0 || len(r.byMonthDay) > 0 || len(r.byMonth) > 0 || len(r.bySetPos) > 0 {
			return info, false
		}
		info.Pattern = "Daily"
		info.DayPattern = &wire.RecurrenceDayPattern{Pattern: "EveryCyclicDay", Cycle: r.interval}
	case "WEEKLY":
		if len(r.byMonthDay) > 0 || len(r.byMonth) > 0 || len(r.bySetPos) > 0 {
			return info, false
		}
		var days []time.Weekday
		for _, d := range r.byDay {
			if d.n != 0 {
				return info, false
			}
			days = append(days, d.day)
		}
		if len(days) == 0 {
			days = []time.Weekday{start.Weekday()}
		}
		info.Pattern = "Weekly"
		info.WeekPattern = &wire.RecurrenceWeekPattern{Weekdays: wire.FormatWeekdays(days), Cycle: r.interval}
	case "MONTHLY", "YEARLY":
		mp, ok := r.monthPattern(start)
		if !ok {
			return info, false
		}
		if r.freq == "MONTHLY" {
			if len(r.byMonth) > 0 {
				return info, false
			}
			info.Pattern, info.MonthPattern = "Monthly", mp
		} else {
			if len(r.byMonth) > 1 || (len(r.byMonth) == 1 && time.Month(r.byMonth[0]) != start.Month()) {
				return info, false
			}
			info.Pattern, info.YearPattern = "Yearly", mp
		}
	default:
		return info, false
	}
	return info, true
}

func (r rule) monthPattern(start time.Time) (*wire.RecurrenceMonthPattern, bool) {
	mp := &wire.RecurrenceMonthPattern{Cycle: r.interval, Weekday: "Unknown", WeekOfMonth: "Unknown"}
	switch {
	case len(r.byDay) == 0 && len(r.bySetPos) == 0:
		day := start.Day()
		if len(r.byMonthDay) > 1 {
			return nil, false
		}
		if len(r.byMonthDay) == 1 {
			day = r.byMonthDay[0]
		}
		if day < 1 || day > 31 {
			return nil, false
		}
		mp.Pattern, mp.Day = "DayOfMonth", day
	case len(r.byDay) == 1 && len(r.byMonthDay) == 0:
		n := r.byDay[0].n
		if len(r.bySetPos) == 1 && n == 0 {
			n = r.bySetPos[0]
		} else if len(r.bySetPos) > 0 {
			return nil, false
		}
		names := map[int]string{1: "First", 2: "Second", 3: "Third", 4: "Fourth", -1: "Last"}
		name, ok := names[n]
		if !ok {
			return nil, false
		}
		mp.Pattern, mp.Weekday, mp.WeekOfMonth = "WeekdayOfMonth", wire.WeekdayName(r.byDay[0].day), name
	default:
		return nil, false
	}
	return mp, true
}

// patternRule maps a SuperOffice pattern back to an RRULE value (without its
// end). ok is false for Custom and unknown patterns.
func patternRule(info *wire.RecurrenceInfo, start time.Time) (string, bool) {
	var parts []string
	interval := func(n int) {
		if n > 1 {
			parts = append(parts, "INTERVAL="+strconv.Itoa(n))
		}
	}
	switch strings.ToLower(info.Pattern) {
	case "daily":
		dp := info.DayPattern
		if dp != nil && (strings.EqualFold(dp.Pattern, "EveryWorkday") || strings.EqualFold(dp.Pattern, "EveryWeekday")) {
			// Every working day [inferred: both names mean Monday to Friday].
			return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", true
		}
		parts = append(parts, "FREQ=DAILY")
		if dp != nil {
			interval(dp.Cycle)
		}
	case "weekly":
		parts = append(parts, "FREQ=WEEKLY")
		days := []time.Weekday{start.Weekday()}
		cycle := 1
		if wp := info.WeekPattern; wp != nil {
			if d, err := wire.ParseWeekdays(wp.Weekdays); err == nil && len(d) > 0 {
				days = d
			}
			cycle = wp.Cycle
		}
		interval(cycle)
		sort.Slice(days, func(i, j int) bool { return (days[i]+6)%7 < (days[j]+6)%7 })
		var codes []string
		for _, d := range days {
			codes = append(codes, dayCode(d))
		}
		parts = append(parts, "BYDAY="+strings.Join(codes, ","))
	case "monthly", "yearly":
		mp := info.MonthPattern
		freq := "FREQ=MONTHLY"
		if strings.EqualFold(info.Pattern, "yearly") {
			mp, freq = info.YearPattern, "FREQ=YEARLY"
		}
		parts = append(parts, freq)
		if mp != nil {
			interval(mp.Cycle)
		}
		if freq == "FREQ=YEARLY" {
			parts = append(parts, "BYMONTH="+strconv.Itoa(int(start.Month())))
		}
		if mp != nil && strings.EqualFold(mp.Pattern, "WeekdayOfMonth") {
			wd, ok := wire.ParseWeekday(mp.Weekday)
			if !ok {
				wd = start.Weekday()
			}
			n := map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}[strings.ToLower(mp.WeekOfMonth)]
			if n == 0 {
				n = (start.Day()-1)/7 + 1
			}
			parts = append(parts, "BYDAY="+strconv.Itoa(n)+dayCode(wd))
		} else {
			day := start.Day()
			if mp != nil && mp.Day > 0 {
				day = mp.Day
			}
			parts = append(parts, "BYMONTHDAY="+strconv.Itoa(day))
		}
	default:
		return "", false
	}
	return strings.Join(parts, ";"), true
}

// withEnd appends an end to an RRULE value without one.
func withEnd(rr string, count int, until time.Time, allDay bool) string {
	switch {
	case count > 0:
		return rr + ";COUNT=" + strconv.Itoa(count)
	case !until.IsZero() && allDay:
		return rr + ";UNTIL=" + until.UTC().Format("20060102")
	case !until.IsZero():
		return rr + ";UNTIL=" + until.UTC().Format("20060102T150405Z")
	}
	return rr
}

// stripEnd removes COUNT and UNTIL from an RRULE value.
func stripEnd(rr string) string {
	var keep []string
	for _, p := range strings.Split(rr, ";") {
		k, _, _ := strings.Cut(p, "=")
		if k = strings.ToUpper(k); k != "COUNT" && k != "UNTIL" && p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ";")
}

// expand lists the local start instants of a rule from dtstart (a wall-clock time
// in loc) up to and including limit, at most max of them. Wall clock is kept
// across DST changes, as calendars do.
func expand(rr string, dtstart time.Time, limit time.Time, max int) ([]time.Time, error) {
	opt, err := rrule.StrToROptionInLocation(rr, dtstart.Location())
	if err != nil {
		return nil, fmt.Errorf("RRULE %q: %w", rr, err)
	}
	opt.Dtstart = dtstart
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("RRULE %q: %w", rr, err)
	}
	var out []time.Time
	next := r.Iterator()
	for len(out) < max {
		t, ok := next()
		if !ok || t.After(limit) {
			break
		}
		out = append(out, t)
	}
	return out, nil
}
