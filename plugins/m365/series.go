package m365

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"synchronizer/plugins/m365/internal/wintz"
	"synchronizer/plugins/sdk"
)

// query encodes parameters the way Graph documents them ($ kept readable).
func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return strings.ReplaceAll(q.Encode(), "%24", "$")
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func (c *conn) eventPath(id string) string {
	return c.mailbox + "/events/" + url.PathEscape(id)
}

// seriesZone is the zone a master's pattern runs in.
func seriesZone(m *gEvent) *time.Location {
	if m.IsAllDay {
		return time.UTC
	}
	name := m.OriginalStartTimeZone
	if m.Recurrence != nil && m.Recurrence.Range.RecurrenceTimeZone != "" {
		name = m.Recurrence.Range.RecurrenceTimeZone
	}
	if isUTCZone(name) {
		return time.UTC
	}
	if loc, _, ok := wintz.Resolve(name); ok {
		return loc
	}
	return time.UTC
}

// masterRule is a master's pattern as an RRULE with its start in the series zone.
type masterRule struct {
	line    string
	dtstart time.Time
	dur     time.Duration
	rule    *rrule.RRule
}

func ruleOf(m *gEvent) (*masterRule, error) {
	if m.Recurrence == nil {
		return nil, fmt.Errorf("series master %s has no recurrence", m.ID)
	}
	start, err := parseDTZ(m.Start)
	if err != nil {
		return nil, fmt.Errorf("series master %s: start: %w", m.ID, err)
	}
	end, err := parseDTZ(m.End)
	if err != nil {
		return nil, fmt.Errorf("series master %s: end: %w", m.ID, err)
	}
	loc := seriesZone(m)
	dtstart := start.In(loc)
	if m.IsAllDay {
		dtstart, end = dateOf(start), dateOf(end)
	}
	line, err := toRRule(m.Recurrence, dtstart, m.IsAllDay)
	if err != nil {
		return nil, fmt.Errorf("series master %s: %w", m.ID, err)
	}
	opt, err := rrule.StrToROptionInLocation(strings.TrimPrefix(line, "RRULE:"), loc)
	if err != nil {
		return nil, fmt.Errorf("series master %s: rule %s: %w", m.ID, line, err)
	}
	opt.Dtstart = dtstart
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("series master %s: rule %s: %w", m.ID, line, err)
	}
	return &masterRule{line: line, dtstart: dtstart, dur: end.Sub(dtstart), rule: r}, nil
}

// sameRecurrence compares two patterns by what they mean.
func sameRecurrence(a, b *gRecurrence) bool {
	if a == nil || b == nil {
		return a == b
	}
	pa, pb := a.Pattern, b.Pattern
	if pa.Type != pb.Type || max(pa.Interval, 1) != max(pb.Interval, 1) {
		return false
	}
	days := func(p gPattern) []string {
		var d []string
		for _, x := range p.DaysOfWeek {
			d = append(d, strings.ToLower(x))
		}
		slices.Sort(d)
		return d
	}
	idx := func(p gPattern) string {
		if p.Index == "" {
			return "first"
		}
		return strings.ToLower(p.Index)
	}
	switch pa.Type {
	case "weekly":
		if !slices.Equal(days(pa), days(pb)) {
			return false
		}
		if max(pa.Interval, 1) > 1 && !strings.EqualFold(orDefault(pa.FirstDayOfWeek, "sunday"), orDefault(pb.FirstDayOfWeek, "sunday")) {
			return false
		}
	case "absoluteMonthly":
		if pa.DayOfMonth != pb.DayOfMonth {
			return false
		}
	case "relativeMonthly":
		if !slices.Equal(days(pa), days(pb)) || idx(pa) != idx(pb) {
			return false
		}
	case "absoluteYearly":
		if pa.Month != pb.Month || pa.DayOfMonth != pb.DayOfMonth {
			return false
		}
	case "relativeYearly":
		if pa.Month != pb.Month || !slices.Equal(days(pa), days(pb)) || idx(pa) != idx(pb) {
			return false
		}
	}
	ra, rb := a.Range, b.Range
	if ra.Type != rb.Type || ra.StartDate != rb.StartDate {
		return false
	}
	switch ra.Type {
	case "endDate":
		return ra.EndDate == rb.EndDate
	case "numbered":
		return ra.NumberOfOccurrences == rb.NumberOfOccurrences
	}
	return true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// historyYears bounds how far before the window a series' cancelled occurrences are
// looked for.
const historyYears = 5

// series is one resolved series: its master and the instances read around a window.
type series struct {
	master    *gEvent
	instances []*gEvent
	from, to  time.Time // the span cancellations are judged in
}

// readSeries reads the masters named by ids and their instances around win, all
// through $batch. Ids that no longer exist come back in gone; ids that turn out to
// be singles come back as such in singles.
func (c *conn) readSeries(ctx context.Context, ids []string, win sdk.Window) (found []*series, singles []*gEvent, gone []string, err error) {
	if len(ids) == 0 {
		return nil, nil, nil, nil
	}
	items := make([]batchItem, len(ids))
	for i, id := range ids {
		items[i] = batchItem{method: http.MethodGet, path: c.eventPath(id) + "?" + query("$expand", expandProps)}
	}
	res, err := c.batch(ctx, "read series masters", items)
	if err != nil {
		return nil, nil, nil, err
	}
	var masters []*gEvent
	var rules []*masterRule
	for i, r := range res {
		if r.err != nil {
			if errors.Is(r.err, sdk.ErrNotFound) {
				gone = append(gone, ids[i])
				continue
			}
			return nil, nil, nil, fmt.Errorf("read series master %s: %w", ids[i], r.err)
		}
		var m gEvent
		if err := json.Unmarshal(r.body, &m); err != nil {
			return nil, nil, nil, fmt.Errorf("read series master %s: decode: %w", ids[i], err)
		}
		if m.Type != "seriesMaster" {
			singles = append(singles, &m)
			continue
		}
		rule, err := ruleOf(&m)
		if err != nil {
			return nil, nil, nil, err
		}
		masters = append(masters, &m)
		rules = append(rules, rule)
	}
	// Instances from the series' start (so every cancelled occurrence is known, and
	// the EXDATE list does not shrink as the window slides past them) to a year past
	// the window (so cancellations do not appear as the window grows into them, and
	// an exception moved across the window's end is still found by its original
	// start). An endless series is read again whenever an occurrence of it enters
	// the window, which keeps that year ahead of it.
	inst := make([]batchItem, len(masters))
	spans := make([][2]time.Time, len(masters))
	for i, m := range masters {
		// Cancellations are looked for in [from, last); the read starts a year
		// earlier and ends a whole occurrence later, so an exception moved out of
		// that span (a first occurrence may move anywhere before, the last one past
		// its successor's start) is still seen.
		from := maxTime(rules[i].dtstart, win.Start.AddDate(-historyYears, 0, 0))
		to := win.End.AddDate(1, 0, 7)
		if !to.After(from) {
			to = from.Add(time.Minute)
		}
		spans[i] = [2]time.Time{from, to}
		from = from.AddDate(-1, 0, -1)
		inst[i] = batchItem{method: http.MethodGet, page: 1000, path: c.eventPath(m.ID) + "/instances?" + query("startDateTime", graphTime(from), "endDateTime", graphTime(to), "$expand", expandProps)}
	}
	ires, err := c.batch(ctx, "read series instances", inst)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, r := range ires {
		if r.err != nil {
			if errors.Is(r.err, sdk.ErrNotFound) {
				gone = append(gone, masters[i].ID)
				continue
			}
			return nil, nil, nil, fmt.Errorf("read instances of %s: %w", masters[i].ID, r.err)
		}
		s := &series{master: masters[i], from: spans[i][0], to: spans[i][1]}
		body := r.body
		for pages := 0; ; pages++ {
			var page struct {
				Value    []*gEvent `json:"value"`
				NextLink string    `json:"@odata.nextLink"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return nil, nil, nil, fmt.Errorf("read instances of %s: decode: %w", masters[i].ID, err)
			}
			s.instances = append(s.instances, page.Value...)
			if page.NextLink == "" || pages > 100 {
				break
			}
			next, err := c.rel(page.NextLink)
			if err != nil {
				return nil, nil, nil, err
			}
			var raw json.RawMessage
			if _, err := c.do(ctx, request{method: http.MethodGet, path: next, page: 1000, op: "read instances of " + masters[i].ID}, &raw); err != nil {
				return nil, nil, nil, err
			}
			body = raw
		}
		found = append(found, s)
	}
	return found, singles, gone, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// events turns a series into the master (with an EXDATE for every occurrence missing
// in the span its instances were read in) and its exceptions that touch win. inWindow is false when nothing of
// the series touches win.
func (s *series) events(win sdk.Window) (out []sdk.Event, inWindow bool, err error) {
	m := s.master
	rule, err := ruleOf(m)
	if err != nil {
		return nil, false, err
	}
	master, err := toEvent(m, "")
	if err != nil {
		return nil, false, err
	}
	present := map[int64]bool{}
	var exceptions []sdk.Event
	for _, g := range s.instances {
		os, err := time.Parse(time.RFC3339Nano, g.OriginalStart)
		if err != nil {
			// An answer without originalStart: fall back to the start of a plain occurrence.
			if g.Type != "occurrence" {
				return nil, false, fmt.Errorf("instance %s of %s: originalStart %q: %w", g.ID, m.ID, g.OriginalStart, err)
			}
			if os, err = parseDTZ(g.Start); err != nil {
				return nil, false, fmt.Errorf("instance %s of %s: %w", g.ID, m.ID, err)
			}
		}
		if m.IsAllDay {
			os = dateOf(os)
		}
		present[os.Unix()] = true
		start, err1 := parseDTZ(g.Start)
		end, err2 := parseDTZ(g.End)
		if err1 != nil || err2 != nil {
			return nil, false, fmt.Errorf("instance %s of %s: bad start or end", g.ID, m.ID)
		}
		if g.IsAllDay {
			start, end = dateOf(start), dateOf(end)
		}
		touches := win.Contains(start, end) || !os.Before(win.Start) && os.Before(win.End)
		if touches {
			inWindow = true
		}
		if g.Type == "exception" && touches {
			x, err := toEvent(g, master.CorrelationID)
			if err != nil {
				return nil, false, err
			}
			x.SeriesID = m.ID
			exceptions = append(exceptions, x)
		}
	}
	var exdates []time.Time
	last := rule.rule.Before(s.to, false) // may have moved past s.to: not judged
	for _, st := range rule.rule.Between(s.from, s.to, true) {
		if st.Before(s.from) || !st.Before(last) {
			continue
		}
		if !present[st.Unix()] {
			exdates = append(exdates, st)
		}
	}
	line := rule.line
	if meta := m.meta(); meta != nil && meta.RRule != "" && meta.RRule != line {
		// Give back the rule as it was written while Graph still holds that rule.
		// Compare from the range's own start date: Exchange moves the master's start
		// to the first occurrence when the two differ.
		from := rule.dtstart
		if d, err := time.Parse("2006-01-02", m.Recurrence.Range.StartDate); err == nil {
			from = time.Date(d.Year(), d.Month(), d.Day(), from.Hour(), from.Minute(), from.Second(), 0, from.Location())
		}
		if back, err := fromRRule(meta.RRule, from, from.Location(), m.IsAllDay, ""); err == nil && sameRecurrence(back, m.Recurrence) {
			line = meta.RRule
		}
	}
	master.Recurrence = append([]string{line}, exdateLines(exdates, m.IsAllDay)...)
	return append([]sdk.Event{master}, exceptions...), inWindow, nil
}
