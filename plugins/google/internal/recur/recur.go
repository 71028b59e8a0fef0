// Package recur expands RFC 5545 recurrence lines (RRULE, RDATE, EXDATE, EXRULE) the
// way Google Calendar stores them on a series master: no DTSTART line, the series
// starts at the master's start in the master's time zone. Both the google provider
// (to tell whether a series touches the sync window) and the emulator (to expand
// series for singleEvents=true and /instances) use it.
//
// Every expansion is bounded by the caller: a time span and a maximum count, so an
// endless rule never loops for ever.
package recur

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Set is a parsed recurrence anchored at the start of its series.
type Set struct {
	start   time.Time // first occurrence, in the series' zone (UTC midnight for all-day)
	allDay  bool
	rules   []*rrule.RRule
	exrules []*rrule.RRule
	rdates  []time.Time
	exdates map[int64]bool  // exact instants (unix seconds)
	exdays  map[string]bool // VALUE=DATE exclusions, "20060102" in the series' zone
}

// Parse reads recurrence lines for a series that starts at start. For timed series,
// loc is the zone the rule is expanded in (wall-clock times stay put across DST); for
// all-day series start is midnight UTC of the first day and loc is ignored.
func Parse(lines []string, start time.Time, loc *time.Location, allDay bool) (*Set, error) {
	if loc == nil || allDay {
		loc = time.UTC
	}
	s := &Set{allDay: allDay, exdates: map[int64]bool{}, exdays: map[string]bool{}}
	if allDay {
		y, m, d := start.UTC().Date()
		s.start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	} else {
		s.start = start.In(loc).Truncate(time.Second)
	}
	for _, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		name, params, value, err := split(line)
		if err != nil {
			return nil, err
		}
		switch name {
		case "RRULE", "EXRULE":
			opt, err := rrule.StrToROptionInLocation(value, loc)
			if err != nil {
				return nil, fmt.Errorf("bad %s %q: %w", name, line, err)
			}
			opt.Dtstart = s.start
			if !opt.Until.IsZero() && allDay {
				// An all-day UNTIL given as a date means "through that day".
				y, m, d := opt.Until.Date()
				opt.Until = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
			}
			r, err := rrule.NewRRule(*opt)
			if err != nil {
				return nil, fmt.Errorf("bad %s %q: %w", name, line, err)
			}
			if name == "RRULE" {
				s.rules = append(s.rules, r)
			} else {
				s.exrules = append(s.exrules, r)
			}
		case "RDATE", "EXDATE":
			vals, dateOnly, err := parseDates(params, value, loc)
			if err != nil {
				return nil, fmt.Errorf("bad %s %q: %w", name, line, err)
			}
			for _, v := range vals {
				switch {
				case name == "RDATE" && allDay:
					y, m, d := v.Date()
					s.rdates = append(s.rdates, time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
				case name == "RDATE" && dateOnly:
					// A date-only RDATE on a timed series takes the series' time of day.
					h, mi, se := s.start.Clock()
					y, m, d := v.Date()
					s.rdates = append(s.rdates, time.Date(y, m, d, h, mi, se, 0, loc))
				case name == "RDATE":
					s.rdates = append(s.rdates, v)
				case dateOnly || allDay:
					// Compared by calendar date: the date as written (its own zone).
					s.exdays[v.Format("20060102")] = true
				default:
					s.exdates[v.Unix()] = true
				}
			}
		default:
			return nil, fmt.Errorf("unsupported recurrence line %q (want RRULE, EXRULE, RDATE or EXDATE)", line)
		}
	}
	if len(s.rules) == 0 && len(s.rdates) == 0 {
		return nil, errors.New("recurrence has no RRULE or RDATE line")
	}
	return s, nil
}

// split breaks "EXDATE;TZID=Europe/Oslo:20240513T090000" into its name, parameters and value.
func split(line string) (name string, params []string, value string, err error) {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 {
		return "", nil, "", fmt.Errorf("bad recurrence line %q", line)
	}
	head, value := line[:colon], line[colon+1:]
	parts := strings.Split(head, ";")
	name = strings.ToUpper(parts[0])
	if value == "" {
		return "", nil, "", fmt.Errorf("recurrence line %q has no value", line)
	}
	return name, parts[1:], value, nil
}

// parseDates reads the comma-separated values of an RDATE/EXDATE line.
func parseDates(params []string, value string, loc *time.Location) ([]time.Time, bool, error) {
	dateOnly := false
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToUpper(k) {
		case "TZID":
			l, err := time.LoadLocation(v)
			if err != nil {
				return nil, false, fmt.Errorf("unknown TZID %q", v)
			}
			loc = l
		case "VALUE":
			switch strings.ToUpper(v) {
			case "DATE":
				dateOnly = true
			case "DATE-TIME":
			default:
				return nil, false, fmt.Errorf("unsupported VALUE=%s", v)
			}
		default:
			return nil, false, fmt.Errorf("unsupported parameter %q", p)
		}
	}
	var out []time.Time
	for _, v := range strings.Split(value, ",") {
		v = strings.TrimSpace(v)
		var t time.Time
		var err error
		switch {
		case len(v) == 8:
			t, err = time.ParseInLocation("20060102", v, loc)
			dateOnly = true
		case strings.HasSuffix(v, "Z"):
			t, err = time.Parse("20060102T150405Z", v)
		default:
			t, err = time.ParseInLocation("20060102T150405", v, loc)
		}
		if err != nil {
			return nil, false, fmt.Errorf("bad date %q", v)
		}
		out = append(out, t)
	}
	return out, dateOnly, nil
}

// Start is the series' first start as given to Parse.
func (s *Set) Start() time.Time { return s.start }

// AllDay reports whether the series is all-day.
func (s *Set) AllDay() bool { return s.allDay }

// excluded reports whether an occurrence starting at t is removed by EXDATE/EXRULE.
func (s *Set) excluded(t time.Time) bool {
	if s.exdates[t.Unix()] {
		return true
	}
	if len(s.exdays) > 0 {
		if s.exdays[t.Format("20060102")] {
			return true
		}
	}
	for _, r := range s.exrules {
		if r.After(t.Add(-time.Second), false).Equal(t) {
			return true
		}
	}
	return false
}

// Between returns the occurrence starts t with from <= t < to, in order, at most max
// of them (max <= 0 means 10000). Occurrences are in the series' zone.
func (s *Set) Between(from, to time.Time, max int) []time.Time {
	if max <= 0 {
		max = 10000
	}
	var out []time.Time
	s.Each(func(t time.Time) bool {
		if !t.Before(to) {
			return false
		}
		if !t.Before(from) {
			out = append(out, t)
		}
		return len(out) < max
	}, to)
	return out
}

// Each calls fn with every occurrence start in order until fn returns false or the
// next occurrence is at or after limit. It looks at no more than 100000 rule
// occurrences, so a pathological rule cannot spin for ever.
func (s *Set) Each(fn func(time.Time) bool, limit time.Time) {
	const hardCap = 100000
	type stream struct {
		next func() (time.Time, bool)
		cur  time.Time
		ok   bool
	}
	var streams []*stream
	for _, r := range s.rules {
		st := &stream{next: r.Iterator()}
		st.cur, st.ok = st.next()
		streams = append(streams, st)
	}
	rd := append([]time.Time(nil), s.rdates...)
	sort.Slice(rd, func(i, j int) bool { return rd[i].Before(rd[j]) })
	ri := 0
	var last time.Time
	seen := false
	for n := 0; n < hardCap; n++ {
		// Pick the earliest pending value among the rule streams and the RDATEs.
		var best *stream
		for _, st := range streams {
			if st.ok && (best == nil || st.cur.Before(best.cur)) {
				best = st
			}
		}
		var t time.Time
		switch {
		case best != nil && (ri >= len(rd) || !rd[ri].Before(best.cur)):
			t = best.cur
			best.cur, best.ok = best.next()
			if ri < len(rd) && rd[ri].Equal(t) {
				ri++
			}
		case ri < len(rd):
			t = rd[ri]
			ri++
		default:
			return
		}
		if !t.Before(limit) {
			return
		}
		if seen && t.Equal(last) {
			continue
		}
		seen, last = true, t
		if s.excluded(t) {
			continue
		}
		if !fn(t) {
			return
		}
	}
}

// Overlaps reports whether any occurrence of length dur overlaps [from, to). A
// zero-length occurrence counts at its instant.
func (s *Set) Overlaps(from, to time.Time, dur time.Duration) bool {
	found := false
	s.Each(func(t time.Time) bool {
		end := t.Add(dur)
		if dur <= 0 {
			if !t.Before(from) {
				found = true
				return false
			}
			return true
		}
		if end.After(from) {
			found = true
			return false
		}
		return true
	}, to)
	return found
}

// Contains reports whether t is an occurrence start of the series.
func (s *Set) Contains(t time.Time) bool {
	found := false
	s.Each(func(o time.Time) bool {
		if o.Equal(t) {
			found = true
			return false
		}
		return o.Before(t)
	}, t.Add(time.Second))
	return found
}

// FormatExdate renders an EXDATE line for one cancelled occurrence the way the
// provider contract wants it: UTC for timed series, VALUE=DATE for all-day ones.
func FormatExdate(t time.Time, allDay bool) string {
	if allDay {
		return "EXDATE;VALUE=DATE:" + t.UTC().Format("20060102")
	}
	return "EXDATE:" + t.UTC().Format("20060102T150405Z")
}

// Normalize rewrites recurrence lines into the contract's canonical form: RRULE and
// EXRULE lines as given (upper-cased names), every RDATE/EXDATE value on a line of its
// own in UTC (or VALUE=DATE for all-day series), sorted and without duplicates, so two
// readings of the same series compare equal. loc is the series' zone, used for
// floating values.
func Normalize(lines []string, loc *time.Location, allDay bool) ([]string, error) {
	if loc == nil {
		loc = time.UTC
	}
	var rules, dates []string
	seen := map[string]bool{}
	for _, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		name, params, value, err := split(line)
		if err != nil {
			return nil, err
		}
		switch name {
		case "RRULE", "EXRULE":
			l := name + ":" + value
			if !seen[l] {
				seen[l] = true
				rules = append(rules, l)
			}
		case "RDATE", "EXDATE":
			vals, dateOnly, err := parseDates(params, value, loc)
			if err != nil {
				return nil, fmt.Errorf("bad %s %q: %w", name, line, err)
			}
			for _, v := range vals {
				var l string
				if allDay || dateOnly {
					l = name + ";VALUE=DATE:" + v.Format("20060102")
				} else {
					l = name + ":" + v.UTC().Format("20060102T150405Z")
				}
				if !seen[l] {
					seen[l] = true
					dates = append(dates, l)
				}
			}
		default:
			return nil, fmt.Errorf("unsupported recurrence line %q", line)
		}
	}
	sort.Strings(dates)
	return append(rules, dates...), nil
}
