package superoffice

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// SuperOffice stores a series expanded: one row per occurrence, all sharing a
// recurrence rule id. A fold turns the rows of one diary back into a master (the
// rule, with EXDATE lines for occurrences that are gone) and exceptions (rows that
// differ from the rule). Rows are matched to the rule's occurrences by date:
//
//  1. a row on an occurrence's date takes that occurrence;
//  2. a row on no occurrence date (a moved occurrence) takes the nearest
//     occurrence still free, the earlier one on a tie;
//  3. a row left over becomes an RDATE;
//  4. an occurrence left over becomes an EXDATE.
//
// A row that took an occurrence but differs from the series' usual time,
// duration or content is an exception with that occurrence as OriginalStart.
// The "usual" values are the most common ones among the rows. SuperOffice does
// not record which occurrence a moved row came from, so the matching is a
// heuristic; it is deterministic, so the same rows always fold the same way.

// maxExpand bounds the occurrences a fold looks at.
const maxExpand = 5000

// seriesView is a folded series.
type seriesView struct {
	rule       int
	rows       []row // the diary's rows of the series, by start
	master     sdk.Event
	exceptions []sdk.Event
	singles    []sdk.Event // a pattern the neutral model cannot hold (Custom): rows as singles
	meta       seriesMeta
	info       *wire.RecurrenceInfo
	plain      *wire.AppointmentEntity // entity of a row that follows the rule
	endDate    time.Time               // local midnight of the stored end (zero for a counter)
	occur      map[int]time.Time       // row id -> original start, for every matched row
}

// events lists the view's events: master and exceptions, or the singles.
func (v *seriesView) events() []sdk.Event {
	if v.singles != nil {
		return v.singles
	}
	return append([]sdk.Event{v.master}, v.exceptions...)
}

type baseKey struct {
	clock    time.Duration
	dur      time.Duration
	allDay   bool
	title    string
	text     string
	location string
	private  bool
	free     bool
	alarm    bool
	lead     time.Duration
	task     int
}

func keyOf(r *row, loc *time.Location) baseKey {
	ls := r.start.In(loc)
	k := baseKey{clock: time.Duration(ls.Hour())*time.Hour + time.Duration(ls.Minute())*time.Minute + time.Duration(ls.Second())*time.Second,
		dur: r.end.Sub(r.start), allDay: r.allDay, title: r.title, text: r.text, location: r.location,
		private: r.private, free: r.free, alarm: r.alarm, lead: r.lead, task: r.taskID}
	if r.allDay {
		// All-day rows are whole local days: on a DST day the same day is 23 or 25
		// hours long, which is no exception.
		first, end := allDayDates(r.start, r.end, loc)
		k.clock, k.dur = 0, time.Duration(end.Sub(first)/(24*time.Hour))
	}
	return k
}

func localDate(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// seriesRows reads every row of a rule in the diary of owner: timestamps from the
// archive, content from GetAppointmentRecords.
func (in *instance) seriesRows(ctx context.Context, t sdk.Target, ruleID, owner int, loc *time.Location) ([]row, error) {
	scan, err := in.scan(ctx, t, owner, "recurrenceRuleId eq "+strconv.Itoa(ruleID), nil)
	if err != nil {
		return nil, err
	}
	if len(scan) == 0 {
		return nil, nil
	}
	byID := map[int]scanRow{}
	for _, s := range scan {
		byID[s.id] = s
	}
	var list appointmentList
	if _, err := in.agent(ctx, t, "Appointment/GetAppointmentRecords", nil,
		wire.GetAppointmentRecordsRequest{RecurrenceRuleId: wire.FlexInt(ruleID)}, &list); err != nil {
		return nil, fmt.Errorf("read the rows of series %d: %w", ruleID, err)
	}
	recs := list.rows
	var rows []row
	for i := range recs {
		sc, ok := byID[recs[i].AppointmentId]
		if !ok || recs[i].AssociateId != owner {
			continue
		}
		r, err := rowFromSimple(&recs[i], sc, loc)
		if err != nil {
			return nil, err
		}
		if !r.inDiary() {
			continue
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].start.Equal(rows[j].start) {
			return rows[i].start.Before(rows[j].start)
		}
		return rows[i].id < rows[j].id
	})
	return rows, nil
}

// entity reads one appointment entity; ErrNotFound when it is gone.
func (in *instance) entity(ctx context.Context, t sdk.Target, id int) (*wire.AppointmentEntity, error) {
	var e wire.AppointmentEntity
	resp, err := in.get(ctx, t, "/v1/Appointment/"+strconv.Itoa(id), nil, &e)
	if err != nil {
		return nil, fmt.Errorf("read appointment %d: %w", id, err)
	}
	if resp.null || e.AppointmentId == 0 {
		return nil, fmt.Errorf("read appointment %d: %w", id, sdk.ErrNotFound)
	}
	return &e, nil
}

// fold reads and folds series ruleID of t's diary. found is false when the diary
// has no row of it.
func (in *instance) fold(ctx context.Context, t sdk.Target, ruleID, owner int) (*seriesView, bool, error) {
	loc, zone, err := in.location(ctx, t)
	if err != nil {
		return nil, false, err
	}
	rows, err := in.seriesRows(ctx, t, ruleID, owner, loc)
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	// A participant's rows of occurrences their organizer deleted stay behind as
	// cancelled bookings: they are cancelled occurrences (EXDATEs) of the series,
	// unless the whole series was cancelled.
	live := rows[:0:0]
	for _, r := range rows {
		if r.invitation != "Cancelled" {
			live = append(live, r)
		}
	}
	if len(live) > 0 {
		rows = live
	}
	participant := rows[0].isBooking() && !rows[0].isOrganizer()
	v := &seriesView{rule: ruleID, rows: rows, occur: map[int]time.Time{}}
	first, err := in.entity(ctx, t, rows[0].id)
	if err != nil {
		return nil, false, err
	}
	v.info = first.Recurrence
	if v.meta, err = in.seriesInfo(ctx, t, ruleID); err != nil {
		return nil, false, err
	}
	asSingles := func() (*seriesView, bool, error) {
		v.singles = []sdk.Event{}
		for i := range rows {
			r := &rows[i]
			if r.isBooking() {
				e, err := in.entity(ctx, t, r.id)
				if err != nil {
					continue
				}
				full, err := rowFromEntity(e, loc)
				if err != nil {
					return nil, false, err
				}
				full.rule = ruleID
				r = &full
			}
			v.singles = append(v.singles, in.toEvent(ctx, t, r, loc, zone))
		}
		return v, true, nil
	}
	if v.info == nil || !v.info.IsRecurrence {
		return asSingles()
	}

	// The usual values of the series.
	counts := map[baseKey]int{}
	var order []baseKey
	for i := range rows {
		k := keyOf(&rows[i], loc)
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	base := order[0]
	for _, k := range order {
		if counts[k] > counts[base] {
			base = k
		}
	}

	startDay := localDate(rows[0].start, loc)
	if d, _, err := wire.ParseDate(v.info.StartDate, loc); err == nil && !d.IsZero() {
		startDay = localDate(d, loc)
	}
	dtstart := startDay.Add(base.clock)
	if base.allDay {
		dtstart = startDay
	}
	rr := ""
	if v.meta.RRule != "" {
		rr = stripEnd(v.meta.RRule)
	} else if p, ok := patternRule(v.info, dtstart); ok {
		rr = p
	} else {
		return asSingles()
	}

	// The stored end bounds the expansion.
	limit := rows[len(rows)-1].start.Add(366 * 24 * time.Hour)
	expandRule := rr
	count := 0
	if strings.EqualFold(v.info.RecurrenceEndType, "Counter") && v.info.RecurrenceCounter > 0 && v.meta.RRule == "" {
		count = v.info.RecurrenceCounter
		expandRule += ";COUNT=" + strconv.Itoa(count)
	} else if d, _, err := wire.ParseDate(v.info.EndDate, loc); err == nil && !d.IsZero() {
		v.endDate = localDate(d, loc)
		limit = v.endDate.Add(24*time.Hour - time.Second)
	}
	if v.meta.RRule != "" {
		if r, err := parseRule(v.meta.RRule, loc); err == nil && r.count > 0 {
			expandRule, count = rr+";COUNT="+strconv.Itoa(r.count), r.count
		}
	}
	occ, err := expand(expandRule, dtstart, limit, maxExpand)
	if err != nil {
		return nil, false, fmt.Errorf("series %d: %w", ruleID, err)
	}

	// Match rows to occurrences.
	type occurrence struct {
		at    time.Time
		taken bool
	}
	occs := make([]occurrence, len(occ))
	byDay := map[time.Time]int{}
	for i, o := range occ {
		occs[i] = occurrence{at: o}
		byDay[localDate(o, loc)] = i
	}
	matched := make([]int, len(rows)) // occurrence index or -1
	for i := range rows {
		matched[i] = -1
		if j, ok := byDay[localDate(rows[i].start, loc)]; ok && !occs[j].taken {
			occs[j].taken, matched[i] = true, j
		}
	}
	for i := range rows {
		if matched[i] >= 0 {
			continue
		}
		best := -1
		var bestGap time.Duration
		for j := range occs {
			if occs[j].taken {
				continue
			}
			gap := rows[i].start.Sub(occs[j].at)
			if gap < 0 {
				gap = -gap
			}
			if best < 0 || gap < bestGap {
				best, bestGap = j, gap
			}
		}
		if best >= 0 {
			occs[best].taken, matched[i] = true, best
		}
	}

	// The master, from a row that follows the rule.
	plainIdx := -1
	for i := range rows {
		if matched[i] >= 0 && keyOf(&rows[i], loc) == base && localDate(rows[i].start, loc).Equal(localDate(occs[matched[i]].at, loc)) {
			plainIdx = i
			break
		}
	}
	repr := &rows[0]
	v.plain = first
	if plainIdx > 0 {
		repr = &rows[plainIdx]
		if repr.isBooking() || v.plain == nil {
			if v.plain, err = in.entity(ctx, t, repr.id); err != nil {
				return nil, false, err
			}
		}
	} else if plainIdx < 0 {
		v.plain = nil
	}
	mrow := *repr
	if v.plain != nil {
		if full, err := rowFromEntity(v.plain, loc); err == nil {
			full.rule, full.created, full.updated = ruleID, repr.created, repr.updated
			mrow = full
		}
	}
	mrow.allDay = base.allDay
	mrow.start = dtstart
	mrow.end = dtstart.Add(base.dur)
	if base.allDay {
		mrow.end = time.Date(dtstart.Year(), dtstart.Month(), dtstart.Day()+int(base.dur), 0, 0, 0, 0, loc)
	}
	mrow.title, mrow.text, mrow.location = base.title, base.text, base.location
	mrow.private, mrow.free, mrow.alarm, mrow.lead = base.private, base.free, base.alarm, base.lead
	master := in.toEvent(ctx, t, &mrow, loc, zone)
	master.ID = masterIDPre + strconv.Itoa(ruleID)
	master.Kind = sdk.KindMaster
	if !participant {
		// The mark of a series is on its rule, which a participant's rows share
		// with the organizer's: it belongs to the organizer's series only.
		master.CorrelationID = v.meta.Corr
	}
	if master.MeetingKey != "" {
		master.MeetingKey = master.ID
	}
	var latest, created time.Time
	for i := range rows {
		if m := rows[i].lastModified(); m.After(latest) {
			latest = m
		}
		if created.IsZero() || rows[i].created.Before(created) {
			created = rows[i].created
		}
	}
	master.Version, master.Updated, master.Created = version(latest), latest, created

	// The rule's end as the other side should see it.
	ruleText := rr
	switch {
	case v.meta.Open && (v.meta.Cut == "" || v.endDate.IsZero() || v.endDate.Format("2006-01-02") == v.meta.Cut):
		// Cut at our horizon: the rule has no end.
	case v.meta.RRule != "":
		ruleText = v.meta.RRule
	case count > 0:
		ruleText = withEnd(rr, count, time.Time{}, false)
	case !v.endDate.IsZero():
		until := v.endDate.Add(base.clock)
		if base.allDay {
			until = time.Date(v.endDate.Year(), v.endDate.Month(), v.endDate.Day(), 0, 0, 0, 0, time.UTC)
		}
		ruleText = withEnd(rr, 0, until, base.allDay)
	}
	master.Recurrence = []string{"RRULE:" + ruleText}
	for j := range occs {
		if !occs[j].taken {
			master.Recurrence = append(master.Recurrence, icalLine("EXDATE", occs[j].at, base.allDay, loc))
		}
	}

	// Exceptions.
	for i := range rows {
		r := &rows[i]
		var orig time.Time
		if matched[i] >= 0 {
			orig = occs[matched[i]].at
			v.occur[r.id] = orig
			if keyOf(r, loc) == base && localDate(r.start, loc).Equal(localDate(orig, loc)) && r.invitation != "Cancelled" {
				continue
			}
		} else {
			orig = r.start
			v.occur[r.id] = orig
			master.Recurrence = append(master.Recurrence, icalLine("RDATE", r.start, base.allDay, loc))
			if keyOf(r, loc) == base {
				continue
			}
		}
		ex, err := in.exceptionEvent(ctx, t, r, loc, zone)
		if err != nil {
			return nil, false, err
		}
		ex.Kind, ex.SeriesID = sdk.KindException, master.ID
		ex.OriginalStart = orig.UTC()
		if base.allDay {
			d := orig.In(loc)
			ex.OriginalStart = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
		}
		if ex.MeetingKey != "" {
			ex.MeetingKey = master.ID
		}
		v.exceptions = append(v.exceptions, ex)
	}
	v.master = master
	return v, true, nil
}

func (in *instance) exceptionEvent(ctx context.Context, t sdk.Target, r *row, loc *time.Location, zone string) (sdk.Event, error) {
	if r.isBooking() && !r.full {
		e, err := in.entity(ctx, t, r.id)
		if err != nil {
			return sdk.Event{}, err
		}
		full, err := rowFromEntity(e, loc)
		if err != nil {
			return sdk.Event{}, err
		}
		full.rule, full.created, full.updated = r.rule, r.created, r.updated
		r = &full
	}
	corr, err := in.rowCorrelation(ctx, t, r.id)
	if err != nil {
		return sdk.Event{}, err
	}
	ev := in.toEvent(ctx, t, r, loc, zone)
	ev.CorrelationID = corr
	return ev, nil
}

// icalLine writes one EXDATE or RDATE value: UTC for timed series, a DATE for
// all-day ones.
func icalLine(name string, at time.Time, allDay bool, loc *time.Location) string {
	if allDay {
		d := at.In(loc)
		return name + ";VALUE=DATE:" + time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Format("20060102")
	}
	return name + ":" + at.UTC().Format("20060102T150405Z")
}

// extendIfDue moves the cut of a series written without an end forward once less
// than three quarters of the horizon are left, so the cut stays well ahead of any
// sync window (full reads, at least daily, fold every series). The master does
// not change (its rule has no end), so this is not an edit; the new rows simply
// appear.
func (in *instance) extendIfDue(ctx context.Context, t sdk.Target, v *seriesView) error {
	if !v.meta.Open || v.plain == nil || v.endDate.IsZero() || v.meta.RRule != "" {
		return nil
	}
	if v.meta.Cut != "" && v.endDate.Format("2006-01-02") != v.meta.Cut {
		return nil // someone changed the end in SuperOffice: it is no longer ours
	}
	now := in.now()
	if v.endDate.Sub(now) > in.horizon*3/4 {
		return nil
	}
	loc := v.endDate.Location()
	cut := localDate(now.Add(in.horizon), loc)
	e := *v.plain
	info := *v.info
	info.EndDate = utcText(cut)
	info.RecurrenceEndType = "EndDate"
	info.RecurrenceCounter = 0
	info.Dates = nil
	e.Recurrence = &info
	var saved wire.AppointmentEntity
	if _, err := in.agent(ctx, t, "Appointment/Save", nil, wire.SaveRequest{AppointmentEntity: &e, UpdateMode: "ThisAndForward",
		SendEmailToParticipants: false}, &saved); err != nil {
		return fmt.Errorf("extend series %d: %w", v.rule, err)
	}
	meta := v.meta
	meta.Cut = cut.Format("2006-01-02")
	if err := in.saveSeriesInfo(ctx, t, v.rule, meta); err != nil {
		return fmt.Errorf("extend series %d: %w", v.rule, err)
	}
	in.logger.Debug("series extended", "rule", v.rule, "until", meta.Cut)
	return nil
}

// scanFilter builds the OData filter of one diary and extra terms.
func scanFilter(owner int, extra string) string {
	f := "associateId associateIsOneOf (" + strconv.Itoa(owner) + ")"
	if extra != "" {
		f += " and " + extra
	}
	return f
}
