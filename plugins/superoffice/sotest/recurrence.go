package sotest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

// maxOccurrences bounds one series. SuperOffice's own limit is not documented
// [unconfirmed]; a bound keeps the emulator's memory in check.
const maxOccurrences = 2000

// pattern is a parsed RecurrenceInfo.
type pattern struct {
	kind    string // Daily, Weekly, Monthly, Yearly, Custom
	start   civilDate
	end     civilDate // last date, inclusive (endType EndDate)
	count   int       // endType Counter
	endType string

	dayPattern   string
	cycle        int
	weekdays     []time.Weekday
	monthPattern string
	day          int
	weekday      time.Weekday
	weekOfMonth  int // 1..4, 5 = Last
	dates        []civilDate
}

var errNoEnd = errors.New("a recurrence needs an end: set EndDate or RecurrenceCounter")

// parsePattern reads a RecurrenceInfo whose dates are in zone z; the pattern's
// dates are dates of the base zone base. first is the start of the appointment
// being saved, used where the info leaves a date out.
func parsePattern(info *wire.RecurrenceInfo, z zone, base *time.Location, first time.Time) (pattern, error) {
	p := pattern{kind: canonical(info.Pattern, "Daily", "Weekly", "Monthly", "Yearly", "Custom")}
	if p.kind == "" {
		return p, fmt.Errorf("unknown recurrence pattern %q", info.Pattern)
	}
	start, _, err := wire.ParseDate(info.StartDate, z.loc)
	if err != nil {
		return p, fmt.Errorf("recurrence StartDate: %w", err)
	}
	if start.IsZero() {
		start = first
	}
	p.start = dateOf(start.In(base))
	end, _, err := wire.ParseDate(info.EndDate, z.loc)
	if err != nil {
		return p, fmt.Errorf("recurrence EndDate: %w", err)
	}
	p.endType = canonical(info.RecurrenceEndType, "EndDate", "Counter")
	if p.endType == "" {
		switch {
		case info.RecurrenceCounter > 0:
			p.endType = "Counter"
		case !end.IsZero():
			p.endType = "EndDate"
		}
	}
	switch p.endType {
	case "Counter":
		if info.RecurrenceCounter <= 0 {
			return p, errNoEnd
		}
		p.count = info.RecurrenceCounter
	case "EndDate":
		if end.IsZero() {
			return p, errNoEnd
		}
		p.end = dateOf(end.In(base))
	default:
		if p.kind != "Custom" {
			return p, errNoEnd
		}
	}
	p.cycle = 1
	switch p.kind {
	case "Daily":
		if info.DayPattern != nil {
			p.dayPattern = canonical(info.DayPattern.Pattern, "EveryWorkday", "EveryWeekday", "EveryCyclicDay")
			if info.DayPattern.Cycle > 0 {
				p.cycle = info.DayPattern.Cycle
			}
		}
		if p.dayPattern == "" {
			p.dayPattern = "EveryCyclicDay"
		}
	case "Weekly":
		if info.WeekPattern != nil {
			days, err := wire.ParseWeekdays(info.WeekPattern.Weekdays)
			if err != nil {
				return p, err
			}
			p.weekdays = days
			if info.WeekPattern.Cycle > 0 {
				p.cycle = info.WeekPattern.Cycle
			}
		}
		if len(p.weekdays) == 0 {
			p.weekdays = []time.Weekday{p.start.weekday()}
		}
	case "Monthly", "Yearly":
		mp := info.MonthPattern
		if p.kind == "Yearly" {
			mp = info.YearPattern
		}
		p.monthPattern = "DayOfMonth"
		p.day = p.start.D
		if mp != nil {
			if c := canonical(mp.Pattern, "DayOfMonth", "WeekdayOfMonth"); c != "" {
				p.monthPattern = c
			}
			if mp.Cycle > 0 {
				p.cycle = mp.Cycle
			}
			if mp.Day > 0 {
				p.day = mp.Day
			}
			if wd, ok := wire.ParseWeekday(mp.Weekday); ok {
				p.weekday = wd
			} else {
				p.weekday = p.start.weekday()
			}
			switch canonical(mp.WeekOfMonth, "First", "Second", "Third", "Fourth", "Last") {
			case "First":
				p.weekOfMonth = 1
			case "Second":
				p.weekOfMonth = 2
			case "Third":
				p.weekOfMonth = 3
			case "Fourth":
				p.weekOfMonth = 4
			case "Last":
				p.weekOfMonth = 5
			default:
				p.weekOfMonth = (p.start.D-1)/7 + 1
			}
		}
	case "Custom":
		for _, d := range info.Dates {
			t, _, err := wire.ParseDate(d.Date, z.loc)
			if err != nil {
				return p, fmt.Errorf("recurrence date: %w", err)
			}
			if !t.IsZero() {
				p.dates = append(p.dates, dateOf(t.In(base)))
			}
		}
		if len(p.dates) == 0 {
			return p, errors.New("a custom recurrence needs Dates")
		}
	}
	return p, nil
}

func canonical(v string, names ...string) string {
	for _, n := range names {
		if strings.EqualFold(strings.TrimSpace(v), n) {
			return n
		}
	}
	return ""
}

// expand lists the dates of the pattern, in order.
func (p pattern) expand() ([]civilDate, error) {
	if p.kind == "Custom" {
		out := append([]civilDate(nil), p.dates...)
		return out, nil
	}
	var out []civilDate
	done := func(d civilDate) bool {
		if p.endType == "Counter" {
			return len(out) >= p.count
		}
		return p.end.before(d)
	}
	add := func(d civilDate) bool {
		if d.before(p.start) {
			return true
		}
		if done(d) {
			return false
		}
		out = append(out, d)
		return len(out) < maxOccurrences+1
	}
	// A hard stop for patterns that never match (e.g. day 31 every 12 months
	// starting in a short month).
	limit := p.start.addDays(366 * 50)
	switch p.kind {
	case "Daily":
		for d := p.start; !limit.before(d); {
			if p.dayPattern == "EveryCyclicDay" {
				if !add(d) {
					break
				}
				d = d.addDays(p.cycle)
				continue
			}
			if wd := d.weekday(); wd != time.Saturday && wd != time.Sunday {
				if !add(d) {
					break
				}
			} else if done(d) {
				break
			}
			d = d.addDays(1)
		}
	case "Weekly":
		monday := p.start.addDays(-((int(p.start.weekday()) + 6) % 7))
		for week := 0; ; week += p.cycle {
			base := monday.addDays(7 * week)
			if limit.before(base) {
				break
			}
			stop := false
			for i := 0; i < 7 && !stop; i++ {
				d := base.addDays(i)
				if !hasWeekday(p.weekdays, d.weekday()) {
					continue
				}
				stop = !add(d)
			}
			if stop || (p.endType == "EndDate" && p.end.before(base)) {
				break
			}
		}
	case "Monthly", "Yearly":
		step := p.cycle
		if p.kind == "Yearly" {
			step = 12 * p.cycle
		}
		for k := 0; ; k += step {
			first := dateOf(time.Date(p.start.Y, p.start.M+time.Month(k), 1, 12, 0, 0, 0, time.UTC))
			if limit.before(first) || (p.endType == "EndDate" && p.end.before(first)) {
				break
			}
			d, ok := p.inMonth(first)
			if !ok {
				continue
			}
			if !add(d) {
				break
			}
		}
	}
	if len(out) > maxOccurrences {
		return nil, fmt.Errorf("the recurrence has more than %d occurrences", maxOccurrences)
	}
	return out, nil
}

func (p pattern) inMonth(first civilDate) (civilDate, bool) {
	days := time.Date(first.Y, first.M+1, 0, 12, 0, 0, 0, time.UTC).Day()
	if p.monthPattern == "DayOfMonth" {
		if p.day > days {
			return civilDate{}, false
		}
		return civilDate{first.Y, first.M, p.day}, true
	}
	if p.weekOfMonth == 5 {
		for d := days; d >= 1; d-- {
			c := civilDate{first.Y, first.M, d}
			if c.weekday() == p.weekday {
				return c, true
			}
		}
		return civilDate{}, false
	}
	n := 0
	for d := 1; d <= days; d++ {
		c := civilDate{first.Y, first.M, d}
		if c.weekday() == p.weekday {
			n++
			if n == p.weekOfMonth {
				return c, true
			}
		}
	}
	return civilDate{}, false
}

func hasWeekday(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// toWire renders the pattern as a RecurrenceInfo in zone z, with its dates.
func (p pattern) toWire(id int, z zone, base *time.Location, dates []civilDate) *wire.RecurrenceInfo {
	info := &wire.RecurrenceInfo{
		RecurrenceId:      id,
		StartDate:         fmtLocal(p.start.at(base, 0), z),
		EndDate:           wire.ZeroDate,
		RecurrenceCounter: p.count,
		RecurrenceEndType: p.endType,
		Pattern:           p.kind,
		IsRecurrence:      true,
	}
	if info.RecurrenceEndType == "" {
		info.RecurrenceEndType = "Unknown"
	}
	if p.endType == "EndDate" {
		info.EndDate = fmtLocal(p.end.at(base, 0), z)
	} else if len(dates) > 0 {
		info.EndDate = fmtLocal(dates[len(dates)-1].at(base, 0), z)
	}
	info.DayPattern = &wire.RecurrenceDayPattern{Pattern: "Unknown"}
	info.WeekPattern = &wire.RecurrenceWeekPattern{Weekdays: "Unknown"}
	info.MonthPattern = &wire.RecurrenceMonthPattern{Pattern: "Unknown", Weekday: "Unknown", WeekOfMonth: "Unknown"}
	info.YearPattern = &wire.RecurrenceMonthPattern{Pattern: "Unknown", Weekday: "Unknown", WeekOfMonth: "Unknown"}
	switch p.kind {
	case "Daily":
		info.DayPattern = &wire.RecurrenceDayPattern{Pattern: p.dayPattern, Cycle: p.cycle}
	case "Weekly":
		info.WeekPattern = &wire.RecurrenceWeekPattern{Weekdays: wire.FormatWeekdays(p.weekdays), Cycle: p.cycle}
	case "Monthly", "Yearly":
		mp := &wire.RecurrenceMonthPattern{Pattern: p.monthPattern, Cycle: p.cycle, Day: p.day,
			Weekday: wire.WeekdayName(p.weekday), WeekOfMonth: []string{"Unknown", "First", "Second", "Third", "Fourth", "Last"}[p.weekOfMonth]}
		if p.monthPattern == "DayOfMonth" {
			mp.Weekday, mp.WeekOfMonth = "Unknown", "Unknown"
		}
		if p.kind == "Monthly" {
			info.MonthPattern = mp
		} else {
			info.YearPattern = mp
		}
	}
	for _, d := range dates {
		info.Dates = append(info.Dates, wire.RecurrenceDate{Date: fmtLocal(d.at(base, 0), z)})
	}
	return info
}

// samePattern reports whether two patterns describe the same rule apart from
// their end.
func samePattern(a, b pattern) bool {
	if a.kind != b.kind || a.start != b.start || a.cycle != b.cycle || a.dayPattern != b.dayPattern ||
		a.monthPattern != b.monthPattern || a.day != b.day || a.weekday != b.weekday || a.weekOfMonth != b.weekOfMonth {
		return false
	}
	if len(a.weekdays) != len(b.weekdays) || len(a.dates) != len(b.dates) {
		return false
	}
	for _, d := range a.weekdays {
		if !hasWeekday(b.weekdays, d) {
			return false
		}
	}
	for i := range a.dates {
		if a.dates[i] != b.dates[i] {
			return false
		}
	}
	return true
}
