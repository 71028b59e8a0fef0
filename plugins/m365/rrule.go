package m365

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"synchronizer/plugins/m365/internal/wintz"
	"synchronizer/plugins/sdk"
)

// Graph's patternedRecurrence has six patterns (daily, weekly, absolute/relative
// monthly, absolute/relative yearly) and three ranges (endDate, noEnd, numbered).
// They map onto a subset of RFC 5545 RRULEs; anything else is refused with
// sdk.ErrInvalidArgument rather than approximated.

var graphDays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
var icalDays = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}
var graphIndex = []string{"first", "second", "third", "fourth"}

func dayIndex(graph string) (int, bool) {
	i := slices.Index(graphDays, strings.ToLower(graph))
	return i, i >= 0
}

// icalDayOrder sorts days Monday first, as RRULEs are usually written.
func icalDayOrder(days []int) []int {
	out := slices.Clone(days)
	sort.Slice(out, func(a, b int) bool { return (out[a]+6)%7 < (out[b]+6)%7 })
	return slices.Compact(out)
}

// toRRule renders a Graph recurrence as an RRULE line. start is the series' first
// start in the recurrence zone.
func toRRule(r *gRecurrence, start time.Time, allDay bool) (string, error) {
	p := r.Pattern
	var days []int
	for _, d := range p.DaysOfWeek {
		i, ok := dayIndex(d)
		if !ok {
			return "", fmt.Errorf("unknown day of week %q", d)
		}
		days = append(days, i)
	}
	days = icalDayOrder(days)
	dayList := func(prefix string) string {
		var s []string
		for _, d := range days {
			s = append(s, prefix+icalDays[d])
		}
		return strings.Join(s, ",")
	}
	setpos := func() (string, error) {
		switch strings.ToLower(p.Index) {
		case "", "first":
			return "1", nil
		case "second":
			return "2", nil
		case "third":
			return "3", nil
		case "fourth":
			return "4", nil
		case "last":
			return "-1", nil
		}
		return "", fmt.Errorf("unknown index %q", p.Index)
	}
	var freq string
	var byMonth, byMonthDay, byDay, bySetPos string
	switch p.Type {
	case "daily":
		freq = "DAILY"
	case "weekly":
		freq = "WEEKLY"
		if len(days) == 0 {
			return "", fmt.Errorf("weekly pattern without days")
		}
		byDay = dayList("")
	case "absoluteMonthly":
		freq = "MONTHLY"
		byMonthDay = strconv.Itoa(p.DayOfMonth)
	case "relativeMonthly", "relativeYearly":
		freq = "MONTHLY"
		if p.Type == "relativeYearly" {
			freq = "YEARLY"
			byMonth = strconv.Itoa(p.Month)
		}
		pos, err := setpos()
		if err != nil {
			return "", err
		}
		if len(days) == 1 {
			byDay = pos + icalDays[days[0]]
		} else {
			byDay, bySetPos = dayList(""), pos
		}
	case "absoluteYearly":
		freq = "YEARLY"
		byMonth, byMonthDay = strconv.Itoa(p.Month), strconv.Itoa(p.DayOfMonth)
	default:
		return "", fmt.Errorf("unknown pattern type %q", p.Type)
	}
	parts := []string{"FREQ=" + freq}
	switch r.Range.Type {
	case "numbered":
		parts = append(parts, "COUNT="+strconv.Itoa(r.Range.NumberOfOccurrences))
	case "endDate":
		end, err := time.Parse("2006-01-02", r.Range.EndDate)
		if err != nil {
			return "", fmt.Errorf("range endDate %q: %w", r.Range.EndDate, err)
		}
		if allDay {
			parts = append(parts, "UNTIL="+end.Format("20060102"))
		} else {
			last := time.Date(end.Year(), end.Month(), end.Day(), start.Hour(), start.Minute(), start.Second(), 0, start.Location())
			parts = append(parts, "UNTIL="+last.UTC().Format("20060102T150405Z"))
		}
	case "noEnd", "":
	default:
		return "", fmt.Errorf("unknown range type %q", r.Range.Type)
	}
	if p.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(p.Interval))
	}
	for _, kv := range [][2]string{{"BYMONTH", byMonth}, {"BYMONTHDAY", byMonthDay}, {"BYDAY", byDay}, {"BYSETPOS", bySetPos}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if p.Type == "weekly" && p.Interval > 1 {
		wk := 0 // Graph's default first day of the week is Sunday
		if p.FirstDayOfWeek != "" {
			i, ok := dayIndex(p.FirstDayOfWeek)
			if !ok {
				return "", fmt.Errorf("unknown first day of week %q", p.FirstDayOfWeek)
			}
			wk = i
		}
		parts = append(parts, "WKST="+icalDays[wk])
	}
	return "RRULE:" + strings.Join(parts, ";"), nil
}

func unsupportedRule(line, why string) error {
	return fmt.Errorf("%w: recurrence %q cannot be expressed in Microsoft 365: %s", sdk.ErrInvalidArgument, line, why)
}

// fromRRule builds a Graph recurrence from an RRULE line for a series starting at
// start (an instant) in loc. tzName is the zone name written to Graph.
func fromRRule(line string, start time.Time, loc *time.Location, allDay bool, tzName string) (*gRecurrence, error) {
	body := strings.TrimPrefix(strings.TrimSpace(line), "RRULE:")
	opt, err := rrule.StrToROptionInLocation(body, loc)
	if err != nil {
		return nil, fmt.Errorf("%w: recurrence %q: %v", sdk.ErrInvalidArgument, line, err)
	}
	for _, k := range []struct {
		set  bool
		name string
	}{{len(opt.Byhour) > 0, "BYHOUR"}, {len(opt.Byminute) > 0, "BYMINUTE"}, {len(opt.Bysecond) > 0, "BYSECOND"}, {len(opt.Byyearday) > 0, "BYYEARDAY"}, {len(opt.Byweekno) > 0, "BYWEEKNO"}, {len(opt.Byeaster) > 0, "BYEASTER"}} {
		if k.set {
			return nil, unsupportedRule(line, k.name+" has no equivalent")
		}
	}
	if opt.Count > 0 && !opt.Until.IsZero() {
		return nil, unsupportedRule(line, "COUNT and UNTIL together")
	}
	local := start.In(loc)
	if allDay {
		local = start.UTC()
	}
	interval := max(opt.Interval, 1)
	rec := &gRecurrence{Pattern: gPattern{Interval: interval, FirstDayOfWeek: "monday"}} // RFC 5545's default WKST
	var plainDays []string
	ordinal := 0
	for _, wd := range opt.Byweekday {
		// rrule-go numbers Monday 0 .. Sunday 6; Graph names Sunday first.
		name := graphDays[(wd.Day()+1)%7]
		plainDays = append(plainDays, name)
		if wd.N() != 0 {
			if ordinal != 0 && ordinal != wd.N() {
				return nil, unsupportedRule(line, "BYDAY with different ordinals")
			}
			ordinal = wd.N()
		}
	}
	if len(opt.Bysetpos) > 1 {
		return nil, unsupportedRule(line, "more than one BYSETPOS")
	}
	if len(opt.Bysetpos) == 1 {
		if ordinal != 0 {
			return nil, unsupportedRule(line, "BYSETPOS with ordinal BYDAY")
		}
		ordinal = opt.Bysetpos[0]
	}
	index := func() (string, error) {
		switch {
		case ordinal >= 1 && ordinal <= 4:
			return graphIndex[ordinal-1], nil
		case ordinal == -1:
			return "last", nil
		}
		return "", unsupportedRule(line, "only the first to fourth or the last weekday of a month can repeat")
	}
	if len(opt.Bymonthday) > 1 || len(opt.Bymonth) > 1 {
		return nil, unsupportedRule(line, "several BYMONTHDAY or BYMONTH values")
	}
	if len(opt.Bymonthday) == 1 && opt.Bymonthday[0] < 1 {
		return nil, unsupportedRule(line, "days counted from the end of the month")
	}
	switch opt.Freq {
	case rrule.DAILY:
		switch {
		case len(plainDays) == 0:
			rec.Pattern.Type = "daily"
		case interval == 1 && ordinal == 0:
			rec.Pattern.Type = "weekly" // every day, on some weekdays only
			rec.Pattern.DaysOfWeek = plainDays
		default:
			return nil, unsupportedRule(line, "daily with BYDAY")
		}
		if len(opt.Bymonthday) > 0 || len(opt.Bymonth) > 0 {
			return nil, unsupportedRule(line, "daily with BYMONTHDAY or BYMONTH")
		}
	case rrule.WEEKLY:
		if ordinal != 0 || len(opt.Bymonthday) > 0 || len(opt.Bymonth) > 0 {
			return nil, unsupportedRule(line, "weekly with ordinals, BYMONTHDAY or BYMONTH")
		}
		rec.Pattern.Type = "weekly"
		rec.Pattern.DaysOfWeek = plainDays
		if len(plainDays) == 0 {
			rec.Pattern.DaysOfWeek = []string{graphDays[local.Weekday()]}
		}
		rec.Pattern.FirstDayOfWeek = graphDays[(opt.Wkst.Day()+1)%7]
	case rrule.MONTHLY, rrule.YEARLY:
		yearly := opt.Freq == rrule.YEARLY
		if len(opt.Bymonth) > 0 && !yearly {
			return nil, unsupportedRule(line, "monthly with BYMONTH")
		}
		month := int(local.Month())
		if len(opt.Bymonth) == 1 {
			month = opt.Bymonth[0]
		}
		switch {
		case len(plainDays) > 0:
			if ordinal == 0 {
				return nil, unsupportedRule(line, "every matching weekday of a month")
			}
			if len(opt.Bymonthday) > 0 {
				return nil, unsupportedRule(line, "BYDAY with BYMONTHDAY")
			}
			idx, err := index()
			if err != nil {
				return nil, err
			}
			rec.Pattern.Type, rec.Pattern.DaysOfWeek, rec.Pattern.Index = "relativeMonthly", plainDays, idx
			if yearly {
				rec.Pattern.Type, rec.Pattern.Month = "relativeYearly", month
			}
		default:
			if ordinal != 0 {
				return nil, unsupportedRule(line, "BYSETPOS without BYDAY")
			}
			day := local.Day()
			if len(opt.Bymonthday) == 1 {
				day = opt.Bymonthday[0]
			}
			rec.Pattern.Type, rec.Pattern.DayOfMonth = "absoluteMonthly", day
			if yearly {
				rec.Pattern.Type, rec.Pattern.Month = "absoluteYearly", month
			}
		}
	default:
		return nil, unsupportedRule(line, "only daily, weekly, monthly and yearly rules exist")
	}
	rec.Range = gRange{Type: "noEnd", StartDate: local.Format("2006-01-02"), RecurrenceTimeZone: tzName}
	switch {
	case opt.Count > 0:
		rec.Range.Type, rec.Range.NumberOfOccurrences = "numbered", opt.Count
	case !opt.Until.IsZero():
		rec.Range.Type = "endDate"
		rec.Range.EndDate = untilToEndDate(body, opt.Until, local, loc, allDay).Format("2006-01-02")
		if rec.Range.EndDate < rec.Range.StartDate {
			return nil, fmt.Errorf("%w: recurrence %q ends before it starts", sdk.ErrInvalidArgument, line)
		}
	}
	return rec, nil
}

// untilToEndDate is the last date on which an occurrence can start: UNTIL's date in
// the series zone, one day earlier when UNTIL falls before the daily start time.
func untilToEndDate(body string, until, local time.Time, loc *time.Location, allDay bool) time.Time {
	dateOnly := false
	for _, part := range strings.Split(body, ";") {
		if v, ok := strings.CutPrefix(part, "UNTIL="); ok && !strings.Contains(v, "T") {
			dateOnly = true
		}
	}
	if allDay || dateOnly {
		u := until
		if !dateOnly {
			u = until.In(loc)
		}
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	u := until.In(loc)
	d := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	tod := func(t time.Time) int { return t.Hour()*3600 + t.Minute()*60 + t.Second() }
	if tod(u) < tod(local) {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// expand lists the starts the rule gives in [from, to). dtstart is the series start
// in its zone (wall-clock times keep across DST).
func expand(line string, dtstart time.Time, from, to time.Time) ([]time.Time, error) {
	opt, err := rrule.StrToROptionInLocation(strings.TrimPrefix(line, "RRULE:"), dtstart.Location())
	if err != nil {
		return nil, err
	}
	opt.Dtstart = dtstart
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, err
	}
	out := r.Between(from, to, true)
	if n := len(out); n > 0 && out[n-1].Equal(to) {
		out = out[:n-1]
	}
	return out, nil
}

// recurrenceLines splits sdk recurrence lines into the RRULE and the EXDATE instants.
func recurrenceLines(lines []string) (rule string, exdates []time.Time, err error) {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		name, _, _ := strings.Cut(l, ":")
		name, _, _ = strings.Cut(name, ";")
		switch strings.ToUpper(name) {
		case "RRULE":
			if rule != "" {
				return "", nil, fmt.Errorf("%w: more than one RRULE", sdk.ErrInvalidArgument)
			}
			rule = l
		case "EXDATE":
			ts, err := parseDateList(l)
			if err != nil {
				return "", nil, err
			}
			exdates = append(exdates, ts...)
		case "RDATE":
			return "", nil, fmt.Errorf("%w: RDATE (extra occurrences) cannot be expressed in Microsoft 365", sdk.ErrInvalidArgument)
		case "":
		default:
			return "", nil, fmt.Errorf("%w: unknown recurrence line %q", sdk.ErrInvalidArgument, l)
		}
	}
	return rule, exdates, nil
}

// parseDateList reads "EXDATE:20240506T070000Z,...", "EXDATE;VALUE=DATE:20240506" and
// "EXDATE;TZID=Europe/Berlin:20240506T090000".
func parseDateList(line string) ([]time.Time, error) {
	head, values, ok := strings.Cut(line, ":")
	if !ok {
		return nil, fmt.Errorf("%w: malformed %q", sdk.ErrInvalidArgument, line)
	}
	loc := time.UTC
	for _, param := range strings.Split(head, ";")[1:] {
		k, v, _ := strings.Cut(param, "=")
		if strings.EqualFold(k, "TZID") {
			l, err := time.LoadLocation(strings.Trim(v, `"`))
			if err != nil {
				if zl, _, ok := wintz.Resolve(strings.Trim(v, `"`)); ok {
					l = zl
				} else {
					return nil, fmt.Errorf("%w: %q: unknown TZID", sdk.ErrInvalidArgument, line)
				}
			}
			loc = l
		}
	}
	var out []time.Time
	for _, v := range strings.Split(values, ",") {
		v = strings.TrimSpace(v)
		var t time.Time
		var err error
		switch {
		case strings.HasSuffix(v, "Z"):
			t, err = time.Parse("20060102T150405Z", v)
		case strings.Contains(v, "T"):
			t, err = time.ParseInLocation("20060102T150405", v, loc)
		default:
			t, err = time.Parse("20060102", v)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", sdk.ErrInvalidArgument, line, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// exdateLines renders cancelled occurrences, one EXDATE line each, sorted.
func exdateLines(ts []time.Time, allDay bool) []string {
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	var out []string
	for _, t := range sorted {
		if allDay {
			out = append(out, "EXDATE;VALUE=DATE:"+t.UTC().Format("20060102"))
		} else {
			out = append(out, "EXDATE:"+t.UTC().Format("20060102T150405Z"))
		}
	}
	return slices.Compact(out)
}
