package superoffice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// Writes. Plain appointments use REST (PUT and DELETE carry If-Unmodified-Since,
// the only precondition SuperOffice has). Meetings and series go through the
// Appointment agent with SendEmailToParticipants false, because the plain entity
// saves may notify participants; the agents have no precondition, so the
// provider reads the row first and compares its last change with the version.

// Get implements sdk.Provider.
func (p *Provider) Get(ctx context.Context, t sdk.Target, id string) (sdk.Event, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Event{}, err
	}
	ev, err := p.get(ctx, in, t, id)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("get %s from %s: %w", id, t.Account, err)
	}
	return ev, nil
}

// parseID splits an event id: "R12" is series 12, "345" is appointment 345.
func parseID(id string) (rule, row int, err error) {
	if strings.HasPrefix(id, masterIDPre) {
		n, err := strconv.Atoi(id[len(masterIDPre):])
		if err != nil || n <= 0 {
			return 0, 0, fmt.Errorf("id %q is not a SuperOffice id: %w", id, sdk.ErrInvalidArgument)
		}
		return n, 0, nil
	}
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("id %q is not a SuperOffice id: %w", id, sdk.ErrInvalidArgument)
	}
	return 0, n, nil
}

func (p *Provider) get(ctx context.Context, in *instance, t sdk.Target, id string) (sdk.Event, error) {
	owner, err := accountID(t)
	if err != nil {
		return sdk.Event{}, err
	}
	ruleID, rowID, err := parseID(id)
	if err != nil {
		return sdk.Event{}, err
	}
	loc, zone, err := in.location(ctx, t)
	if err != nil {
		return sdk.Event{}, err
	}
	if ruleID != 0 {
		v, found, err := in.fold(ctx, t, ruleID, owner)
		if err != nil {
			return sdk.Event{}, err
		}
		if !found || v.singles != nil {
			return sdk.Event{}, fmt.Errorf("series %d: %w", ruleID, sdk.ErrNotFound)
		}
		return v.master, nil
	}
	e, err := in.entity(ctx, t, rowID)
	if err != nil {
		return sdk.Event{}, err
	}
	r, err := rowFromEntity(e, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	if r.assoc != owner || !r.inDiary() {
		return sdk.Event{}, fmt.Errorf("appointment %d is not in diary %d: %w", rowID, owner, sdk.ErrNotFound)
	}
	if r.rule != 0 {
		v, found, err := in.fold(ctx, t, r.rule, owner)
		if err != nil {
			return sdk.Event{}, err
		}
		if found {
			for _, ev := range v.events() {
				if ev.ID == id {
					return ev, nil
				}
			}
			// An occurrence that follows the rule: not listed, but it exists.
			ev := in.toEvent(ctx, t, &r, loc, zone)
			ev.Kind, ev.SeriesID = sdk.KindException, v.master.ID
			ev.OriginalStart = v.occur[rowID].UTC()
			if ev.MeetingKey != "" {
				ev.MeetingKey = v.master.ID
			}
			return ev, nil
		}
	}
	ev := in.toEvent(ctx, t, &r, loc, zone)
	if ev.CorrelationID, err = in.rowCorrelation(ctx, t, rowID); err != nil {
		return sdk.Event{}, err
	}
	return ev, nil
}

// Create implements sdk.Provider.
func (p *Provider) Create(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Event{}, err
	}
	owner, err := accountID(t)
	if err != nil {
		return sdk.Event{}, err
	}
	var out sdk.Event
	switch {
	case ev.SeriesID != "":
		out, err = p.createException(ctx, in, t, owner, ev)
	case len(ev.Recurrence) > 0:
		out, err = p.createSeries(ctx, in, t, owner, ev)
	default:
		out, err = p.createSingle(ctx, in, t, owner, ev)
	}
	if err != nil {
		return sdk.Event{}, fmt.Errorf("create in %s: %w", t.Account, err)
	}
	return out, nil
}

func (p *Provider) createSingle(ctx context.Context, in *instance, t sdk.Target, owner int, ev sdk.Event) (sdk.Event, error) {
	loc, zone, err := in.location(ctx, t)
	if err != nil {
		return sdk.Event{}, err
	}
	e, err := in.entityFor(ctx, t, &ev, owner, nil, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	parts := in.participantsFor(ctx, t, &ev, owner)
	var saved wire.AppointmentEntity
	if len(parts) > 0 {
		e.Participants = parts
		err = in.saveMeeting(ctx, t, e, "OnlyThis", &saved)
	} else {
		_, err = in.call(ctx, t, request{method: http.MethodPost, path: "/v1/Appointment", body: e, out: &saved})
	}
	if err != nil {
		return sdk.Event{}, err
	}
	if saved.AppointmentId == 0 {
		return sdk.Event{}, fmt.Errorf("the server saved no appointment")
	}
	id := int(saved.AppointmentId)
	if err := in.mark(ctx, t, id, ev.CorrelationID); err != nil {
		return sdk.Event{}, err
	}
	r, err := rowFromEntity(&saved, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	in.created.add(owner, id, in.now(), r.start, r.end)
	out := in.toEvent(ctx, t, &r, loc, zone)
	out.CorrelationID = ev.CorrelationID
	return out, nil
}

// saveMeeting saves through the Appointment agent without notifying anyone.
// Participants known only by e-mail address may be refused by a tenant (that
// SuperOffice accepts them is [unconfirmed]); the save is then repeated with the
// associates alone, so the meeting is not lost for the sake of a guest.
func (in *instance) saveMeeting(ctx context.Context, t sdk.Target, e *wire.AppointmentEntity, mode string, out *wire.AppointmentEntity) error {
	_, err := in.agent(ctx, t, "Appointment/Save", nil, wire.SaveRequest{AppointmentEntity: e, UpdateMode: mode}, out)
	if err == nil || !errors.Is(err, sdk.ErrInvalidArgument) {
		return err
	}
	var known []wire.ParticipantInfo
	for _, p := range e.Participants {
		if p.AssociateId != 0 {
			known = append(known, p)
		}
	}
	if len(known) == len(e.Participants) {
		return err
	}
	in.logger.Info("the tenant refused participants known only by e-mail; saving with its own users only", "error", err)
	retry := *e
	retry.Participants = known
	if retry.Participants == nil {
		retry.Participants = []wire.ParticipantInfo{}
	}
	_, err = in.agent(ctx, t, "Appointment/Save", nil, wire.SaveRequest{AppointmentEntity: &retry, UpdateMode: mode}, out)
	return err
}

// mark stamps the correlation id on a new row. A row we cannot mark would come
// back as a duplicate after a lost state, so it is deleted again.
func (in *instance) mark(ctx context.Context, t sdk.Target, id int, corr string) error {
	if corr == "" {
		return nil
	}
	err := in.setKey(ctx, t, keyCorr, tableAppt, id, corr)
	if err != nil {
		err = in.setKey(ctx, t, keyCorr, tableAppt, id, corr)
	}
	if err != nil {
		if _, derr := in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: wire.FlexInt(id), UpdateMode: "OnlyThis"}, nil); derr != nil {
			in.logger.Error("a created appointment could not be marked nor removed; it is kept out of the listings until it is", "appointment", id, "error", derr)
			in.addOrphan(rowOrphan(t.Account, id))
		}
		return fmt.Errorf("mark appointment %d: %w", id, err)
	}
	return nil
}

// markUntagged writes the correlation id on a row we created that carries none:
// a create interrupted between the appointment and its mark left it untagged,
// and the sync adopts it with an update carrying the id. A row's existing mark
// is never replaced, and rows others created are left unmarked.
func (in *instance) markUntagged(ctx context.Context, t sdk.Target, r *row, corr string) error {
	if corr == "" {
		return nil
	}
	if ours, err := in.ours(ctx, t, r.regBy); err != nil || !ours {
		return err
	}
	cur, err := in.rowCorrelation(ctx, t, r.id)
	if err != nil {
		return err
	}
	if cur != "" {
		return nil
	}
	if err := in.setKey(ctx, t, keyCorr, tableAppt, r.id, corr); err != nil {
		return fmt.Errorf("mark appointment %d: %w", r.id, err)
	}
	return nil
}

// ours reports whether an appointment registered by associate regBy was
// created by this integration.
func (in *instance) ours(ctx context.Context, t sdk.Target, regBy int) (bool, error) {
	if regBy == 0 {
		return false, nil
	}
	me, err := in.principal(ctx, t)
	if err != nil {
		return false, err
	}
	return regBy == me, nil
}

// seriesPlan is how a master's rule is written to SuperOffice.
type seriesPlan struct {
	info    wire.RecurrenceInfo
	meta    seriesMeta
	exdates []time.Time
}

func (in *instance) planSeries(ev *sdk.Event, loc *time.Location) (seriesPlan, error) {
	var plan seriesPlan
	rrText, exdates, rdates, err := recurrenceLines(ev.Recurrence, loc)
	if err != nil {
		return plan, fmt.Errorf("%v: %w", err, sdk.ErrInvalidArgument)
	}
	if rrText == "" {
		return plan, fmt.Errorf("a series needs an RRULE: %w", sdk.ErrInvalidArgument)
	}
	r, err := parseRule(rrText, loc)
	if err != nil {
		return plan, fmt.Errorf("%v: %w", err, sdk.ErrInvalidArgument)
	}
	start := ev.Start.In(loc)
	if ev.AllDay {
		start = time.Date(ev.Start.Year(), ev.Start.Month(), ev.Start.Day(), 0, 0, 0, 0, loc)
	}
	open := r.count == 0 && r.until.IsZero()
	cut := localDate(in.now().Add(in.horizon), loc)
	if cut.Before(localDate(start, loc)) {
		cut = localDate(start, loc).Add(in.horizon)
		cut = localDate(cut, loc)
	}
	info, ok := r.toPattern(start)
	if ok && len(rdates) == 0 {
		info.StartDate = utcText(localDate(start, loc))
		switch {
		case r.count > 0:
			info.RecurrenceEndType, info.RecurrenceCounter = "Counter", r.count
		case !r.until.IsZero():
			until := r.until
			if r.untilDate {
				until = time.Date(until.Year(), until.Month(), until.Day(), 0, 0, 0, 0, loc)
			}
			info.RecurrenceEndType, info.EndDate = "EndDate", utcText(localDate(until, loc))
		default:
			info.RecurrenceEndType, info.EndDate = "EndDate", utcText(cut)
			plan.meta.Open, plan.meta.Cut = true, cut.Format("2006-01-02")
		}
	} else {
		// SuperOffice cannot express the rule: write its dates (cut at the horizon
		// when it has no end) as a Custom pattern and keep the rule in our mark.
		limit := cut.Add(24*time.Hour - time.Second)
		if !r.until.IsZero() {
			limit = r.until
			if r.untilDate {
				limit = time.Date(r.until.Year(), r.until.Month(), r.until.Day(), 23, 59, 59, 0, loc)
			}
		}
		occ, err := expand(rrText, start, limit, maxExpand)
		if err != nil {
			return plan, fmt.Errorf("%v: %w", err, sdk.ErrInvalidArgument)
		}
		occ = append(occ, rdates...)
		slices.SortFunc(occ, func(a, b time.Time) int { return a.Compare(b) })
		if len(occ) == 0 {
			return plan, fmt.Errorf("the rule has no occurrences: %w", sdk.ErrInvalidArgument)
		}
		info = wire.RecurrenceInfo{IsRecurrence: true, Pattern: "Custom", RecurrenceEndType: "EndDate",
			StartDate: utcText(localDate(occ[0], loc)), EndDate: utcText(localDate(occ[len(occ)-1], loc))}
		for _, o := range occ {
			info.Dates = append(info.Dates, wire.RecurrenceDate{Date: utcText(localDate(o, loc))})
		}
		plan.meta.RRule = rrText
		plan.meta.Open = open
		if open {
			plan.meta.Cut = cut.Format("2006-01-02")
		}
	}
	plan.info = info
	plan.meta.Corr = ev.CorrelationID
	plan.exdates = exdates
	return plan, nil
}

func (p *Provider) createSeries(ctx context.Context, in *instance, t sdk.Target, owner int, ev sdk.Event) (sdk.Event, error) {
	loc, _, err := in.location(ctx, t)
	if err != nil {
		return sdk.Event{}, err
	}
	plan, err := in.planSeries(&ev, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	e, err := in.entityFor(ctx, t, &ev, owner, nil, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	e.Recurrence = &plan.info
	e.Participants = in.participantsFor(ctx, t, &ev, owner)
	var saved wire.AppointmentEntity
	if err := in.saveMeeting(ctx, t, e, "OnlyThis", &saved); err != nil {
		return sdk.Event{}, err
	}
	if saved.Recurrence == nil || saved.Recurrence.RecurrenceId == 0 {
		return sdk.Event{}, fmt.Errorf("the server saved appointment %d but no series", saved.AppointmentId)
	}
	ruleID := saved.Recurrence.RecurrenceId
	if err := in.saveSeriesInfo(ctx, t, ruleID, plan.meta); err != nil {
		// Unmarked, the series would come back as a duplicate after a lost state.
		if _, derr := in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: saved.AppointmentId, UpdateMode: "ThisAndForward"}, nil); derr != nil {
			in.logger.Error("a created series could not be marked nor removed; it is kept out of the listings until it is", "series", ruleID, "error", derr)
			in.addOrphan(orphan{account: t.Account, id: masterIDPre + strconv.Itoa(ruleID), row: int(saved.AppointmentId), mode: "ThisAndForward"})
		}
		return sdk.Event{}, err
	}
	if err := in.cancelOccurrences(ctx, t, ruleID, owner, plan.exdates, ev.AllDay, loc); err != nil {
		// Marked but with occurrences the source cancelled, the series would be
		// taken for the complete copy when the host looks for it after this
		// error: remove it, so that the create is simply made again.
		if _, derr := in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: saved.AppointmentId, UpdateMode: "ThisAndForward"}, nil); derr != nil {
			in.logger.Error("a created series could not be completed nor removed; it is kept out of the listings until it is", "series", ruleID, "error", derr)
			in.addOrphan(orphan{account: t.Account, id: masterIDPre + strconv.Itoa(ruleID), row: int(saved.AppointmentId), mode: "ThisAndForward"})
		}
		return sdk.Event{}, err
	}
	return p.get(ctx, in, t, masterIDPre+strconv.Itoa(ruleID))
}

// cancelOccurrences deletes the rows of a series at the given occurrences.
func (in *instance) cancelOccurrences(ctx context.Context, t sdk.Target, ruleID, owner int, at []time.Time, allDay bool, loc *time.Location) error {
	if len(at) == 0 {
		return nil
	}
	v, found, err := in.fold(ctx, t, ruleID, owner)
	if err != nil || !found {
		return err
	}
	for _, x := range at {
		for id, orig := range v.occur {
			if sameOccurrence(orig, x, allDay, loc) {
				if _, err := in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: wire.FlexInt(id), UpdateMode: "OnlyThis"}, nil); err != nil {
					return fmt.Errorf("cancel the occurrence of %s: %w", x.UTC().Format(time.RFC3339), err)
				}
				delete(v.occur, id)
				break
			}
		}
	}
	return nil
}

func sameOccurrence(a, b time.Time, allDay bool, loc *time.Location) bool {
	if allDay {
		// Neutral all-day dates are midnight UTC; series dates are local.
		da := a.In(loc)
		if a.Location() == time.UTC && a.Hour() == 0 && a.Minute() == 0 {
			da = a
		}
		db := b
		if b.Location() != time.UTC || b.Hour() != 0 {
			db = b.In(loc)
		}
		return da.Year() == db.Year() && da.YearDay() == db.YearDay()
	}
	return a.Equal(b)
}

func (p *Provider) occurrenceRow(ctx context.Context, in *instance, t sdk.Target, owner int, seriesID string, orig time.Time, allDay bool) (int, *seriesView, error) {
	ruleID, _, err := parseID(seriesID)
	if err != nil || ruleID == 0 {
		return 0, nil, fmt.Errorf("series id %q: %w", seriesID, sdk.ErrInvalidArgument)
	}
	loc, _, err := in.location(ctx, t)
	if err != nil {
		return 0, nil, err
	}
	v, found, err := in.fold(ctx, t, ruleID, owner)
	if err != nil {
		return 0, nil, err
	}
	if !found {
		return 0, nil, fmt.Errorf("series %s: %w", seriesID, sdk.ErrNotFound)
	}
	for id, o := range v.occur {
		if sameOccurrence(o, orig, allDay, loc) {
			return id, v, nil
		}
	}
	return 0, nil, fmt.Errorf("series %s has no occurrence at %s: %w", seriesID, orig.UTC().Format(time.RFC3339), sdk.ErrNotFound)
}

// createException turns one occurrence of a series into the given exception.
func (p *Provider) createException(ctx context.Context, in *instance, t sdk.Target, owner int, ev sdk.Event) (sdk.Event, error) {
	id, _, err := p.occurrenceRow(ctx, in, t, owner, ev.SeriesID, ev.OriginalStart, ev.AllDay)
	if err != nil {
		return sdk.Event{}, err
	}
	ev.ID, ev.Version = strconv.Itoa(id), ""
	if _, err := p.update(ctx, in, t, owner, ev); err != nil {
		return sdk.Event{}, err
	}
	if ev.CorrelationID != "" {
		if err := in.setKey(ctx, t, keyCorr, tableAppt, id, ev.CorrelationID); err != nil {
			return sdk.Event{}, err
		}
	}
	return p.get(ctx, in, t, strconv.Itoa(id))
}

// Update implements sdk.Provider.
func (p *Provider) Update(ctx context.Context, t sdk.Target, ev sdk.Event) (sdk.Event, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return sdk.Event{}, err
	}
	owner, err := accountID(t)
	if err != nil {
		return sdk.Event{}, err
	}
	out, err := p.update(ctx, in, t, owner, ev)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("update %s in %s: %w", ev.ID, t.Account, err)
	}
	return out, nil
}

func checkVersion(current time.Time, v string) error {
	if v == "" {
		return nil
	}
	want, err := parseVersion(v)
	if err != nil {
		return err
	}
	if current.Truncate(time.Second).After(want) {
		return fmt.Errorf("changed at %s, after version %s: %w", current.UTC().Format(time.RFC3339), v, sdk.ErrPreconditionFailed)
	}
	return nil
}

func (p *Provider) update(ctx context.Context, in *instance, t sdk.Target, owner int, ev sdk.Event) (sdk.Event, error) {
	ruleID, rowID, err := parseID(ev.ID)
	if err != nil {
		return sdk.Event{}, err
	}
	if ruleID != 0 {
		return p.updateSeries(ctx, in, t, owner, ruleID, ev)
	}
	loc, zone, err := in.location(ctx, t)
	if err != nil {
		return sdk.Event{}, err
	}
	cur, err := in.entity(ctx, t, rowID)
	if err != nil {
		return sdk.Event{}, err
	}
	r, err := rowFromEntity(cur, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	if r.assoc != owner {
		return sdk.Event{}, fmt.Errorf("appointment %d is not in diary %d: %w", rowID, owner, sdk.ErrNotFound)
	}
	if err := checkVersion(r.lastModified(), ev.Version); err != nil {
		return sdk.Event{}, err
	}
	if r.isBooking() && !r.isOrganizer() {
		// A participant's row of someone else's meeting: the meeting is its
		// organizer's to change; only the answer travels.
		if err := in.answer(ctx, t, &r, ev.Response, "OnlyThis"); err != nil {
			return sdk.Event{}, err
		}
		return p.get(ctx, in, t, ev.ID)
	}
	e, err := in.entityFor(ctx, t, &ev, owner, cur, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	var saved wire.AppointmentEntity
	if r.isBooking() || len(ev.Attendees) > 0 {
		if !r.isBooking() || r.isOrganizer() {
			e.Participants = in.participantsFor(ctx, t, &ev, owner)
			if e.Participants == nil {
				e.Participants = []wire.ParticipantInfo{}
			}
		}
		err = in.saveMeeting(ctx, t, e, "OnlyThis", &saved)
	} else {
		h := http.Header{}
		if ev.Version != "" {
			v, _ := parseVersion(ev.Version)
			h.Set("If-Unmodified-Since", v.UTC().Format(http.TimeFormat))
		}
		_, err = in.call(ctx, t, request{method: http.MethodPut, path: "/v1/Appointment/" + strconv.Itoa(rowID), body: e, header: h, out: &saved})
	}
	if err != nil {
		return sdk.Event{}, err
	}
	if err := in.markUntagged(ctx, t, &r, ev.CorrelationID); err != nil {
		return sdk.Event{}, err
	}
	if r.rule != 0 {
		return p.get(ctx, in, t, ev.ID)
	}
	nr, err := rowFromEntity(&saved, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	out := in.toEvent(ctx, t, &nr, loc, zone)
	if out.CorrelationID, err = in.rowCorrelation(ctx, t, rowID); err != nil {
		return sdk.Event{}, err
	}
	return out, nil
}

// updateSeries rewrites a series from its master: a new time or rule regenerates
// the occurrences (their exceptions go, as in other calendars), a new end extends
// or trims the series, and other changes are carried to every occurrence while
// exceptions keep their own content.
func (p *Provider) updateSeries(ctx context.Context, in *instance, t sdk.Target, owner, ruleID int, ev sdk.Event) (sdk.Event, error) {
	loc, _, err := in.location(ctx, t)
	if err != nil {
		return sdk.Event{}, err
	}
	v, found, err := in.fold(ctx, t, ruleID, owner)
	if err != nil {
		return sdk.Event{}, err
	}
	if !found || v.singles != nil {
		return sdk.Event{}, fmt.Errorf("series %d: %w", ruleID, sdk.ErrNotFound)
	}
	if err := checkVersion(v.master.Updated, ev.Version); err != nil {
		return sdk.Event{}, err
	}
	if first := v.rows[0]; first.isBooking() && !first.isOrganizer() {
		// A participant's rows of someone else's series: only the answer, for the
		// whole series.
		if err := in.answer(ctx, t, &first, ev.Response, "ThisAndForward"); err != nil {
			return sdk.Event{}, err
		}
		return p.get(ctx, in, t, v.master.ID)
	}
	plan, err := in.planSeries(&ev, loc)
	if err != nil {
		return sdk.Event{}, err
	}
	old := v.master
	newRule, _, _, _ := recurrenceLines(ev.Recurrence, loc)
	oldRule, _, _, _ := recurrenceLines(old.Recurrence, loc)
	timeChanged := !ev.Start.Equal(old.Start) || !ev.End.Equal(old.End) || ev.AllDay != old.AllDay
	ruleChanged := stripEnd(newRule) != stripEnd(oldRule) || plan.meta.RRule != v.meta.RRule
	endChanged := newRule != oldRule
	first := v.rows[0].id
	base, err := in.entity(ctx, t, first)
	if err != nil {
		return sdk.Event{}, err
	}
	if ev.CorrelationID != "" && v.meta.Corr == "" && base.CreatedBy != nil {
		ours, err := in.ours(ctx, t, base.CreatedBy.AssociateId)
		if err != nil {
			return sdk.Event{}, err
		}
		if ours {
			// A series whose create was interrupted before its mark: adopted now.
			if err := in.setKey(ctx, t, keyCorr, tableRule, ruleID, ev.CorrelationID); err != nil {
				return sdk.Event{}, fmt.Errorf("mark series %d: %w", ruleID, err)
			}
			meta := v.meta
			meta.Corr = ev.CorrelationID
			in.cacheSeries(ruleID, meta)
		}
	}
	save := func(e *wire.AppointmentEntity) error {
		_, err := in.agent(ctx, t, "Appointment/Save", nil, wire.SaveRequest{AppointmentEntity: e, UpdateMode: "ThisAndForward"}, nil)
		return err
	}
	switch {
	case timeChanged || ruleChanged:
		e, err := in.entityFor(ctx, t, &ev, owner, base, loc)
		if err != nil {
			return sdk.Event{}, err
		}
		e.Recurrence = &plan.info
		e.Participants = in.participantsFor(ctx, t, &ev, owner)
		if err := save(e); err != nil {
			return sdk.Event{}, err
		}
		if err := in.saveSeriesInfo(ctx, t, ruleID, plan.meta); err != nil {
			return sdk.Event{}, err
		}
		if err := in.cancelOccurrences(ctx, t, ruleID, owner, plan.exdates, ev.AllDay, loc); err != nil {
			return sdk.Event{}, err
		}
		return p.get(ctx, in, t, old.ID)
	case endChanged:
		e := *base
		info := plan.info
		info.StartDate = v.info.StartDate
		e.Recurrence = &info
		if err := save(&e); err != nil {
			return sdk.Event{}, err
		}
		if err := in.saveSeriesInfo(ctx, t, ruleID, plan.meta); err != nil {
			return sdk.Event{}, err
		}
	}
	if !sameContent(&ev, &old) {
		// Carry the content to every occurrence (each keeps its time) ...
		shadow := ev
		rowStart, rowEnd := v.rows[0].start, v.rows[0].end
		if v.rows[0].allDay {
			shadow.Start, shadow.End = allDayDates(rowStart, rowEnd, loc)
		} else {
			shadow.Start, shadow.End = rowStart, rowEnd
		}
		shadow.AllDay = v.rows[0].allDay
		e, err := in.entityFor(ctx, t, &shadow, owner, base, loc)
		if err != nil {
			return sdk.Event{}, err
		}
		e.Participants = in.participantsFor(ctx, t, &ev, owner)
		if err := save(e); err != nil {
			return sdk.Event{}, err
		}
		// ... and give the exceptions their own content back.
		for _, x := range v.exceptions {
			x.Version = ""
			if _, err := p.update(ctx, in, t, owner, x); err != nil && !errors.Is(err, sdk.ErrNotFound) {
				return sdk.Event{}, fmt.Errorf("restore exception %s: %w", x.ID, err)
			}
		}
	}
	// Occurrences newly cancelled on the other side.
	var gone []time.Time
	for _, x := range plan.exdates {
		if !slices.ContainsFunc(old.Recurrence, func(l string) bool {
			return strings.HasPrefix(l, "EXDATE") && strings.Contains(l, icalValue(x, ev.AllDay, loc))
		}) {
			gone = append(gone, x)
		}
	}
	if err := in.cancelOccurrences(ctx, t, ruleID, owner, gone, ev.AllDay, loc); err != nil {
		return sdk.Event{}, err
	}
	return p.get(ctx, in, t, old.ID)
}

func icalValue(at time.Time, allDay bool, loc *time.Location) string {
	l := icalLine("X", at, allDay, loc)
	return l[strings.IndexByte(l, ':')+1:]
}

// sameContent compares what a carry-forward writes.
func sameContent(a, b *sdk.Event) bool {
	return a.Title == b.Title && a.Description == b.Description && a.Location == b.Location &&
		a.ShowAs == b.ShowAs && a.Privacy == b.Privacy && a.HasReminder == b.HasReminder &&
		a.ReminderMinutes == b.ReminderMinutes && strings.EqualFold(a.Category, b.Category) &&
		sameAttendees(a.Attendees, b.Attendees)
}

func sameAttendees(a, b []sdk.Attendee) bool {
	key := func(x sdk.Attendee) string {
		if x.AccountID != "" {
			return "#" + x.AccountID
		}
		return strings.ToLower(x.Email)
	}
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, x := range a {
		set[key(x)] = true
	}
	for _, x := range b {
		if !set[key(x)] {
			return false
		}
	}
	return true
}

// Delete implements sdk.Provider.
func (p *Provider) Delete(ctx context.Context, t sdk.Target, id, ver string) error {
	in, err := p.instance(t.Instance)
	if err != nil {
		return err
	}
	owner, err := accountID(t)
	if err != nil {
		return err
	}
	if err := p.delete(ctx, in, t, owner, id, ver); err != nil {
		return fmt.Errorf("delete %s from %s: %w", id, t.Account, err)
	}
	return nil
}

func (p *Provider) delete(ctx context.Context, in *instance, t sdk.Target, owner int, id, ver string) error {
	ruleID, rowID, err := parseID(id)
	if err != nil {
		return err
	}
	if ruleID != 0 {
		v, found, err := in.fold(ctx, t, ruleID, owner)
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		if err := checkVersion(v.master.Updated, ver); err != nil {
			return err
		}
		_, err = in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: wire.FlexInt(v.rows[0].id), UpdateMode: "ThisAndForward"}, nil)
		return err
	}
	loc, _, err := in.location(ctx, t)
	if err != nil {
		return err
	}
	cur, err := in.entity(ctx, t, rowID)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r, err := rowFromEntity(cur, loc)
	if err != nil {
		return err
	}
	if r.assoc != owner {
		return nil // not in this diary: gone from it
	}
	if err := checkVersion(r.lastModified(), ver); err != nil {
		return err
	}
	if r.isBooking() || r.rule != 0 {
		_, err = in.agent(ctx, t, "Appointment/Delete", nil, wire.DeleteRequest{AppointmentId: wire.FlexInt(rowID), UpdateMode: "OnlyThis"}, nil)
		return err
	}
	h := http.Header{}
	if ver != "" {
		v, _ := parseVersion(ver)
		h.Set("If-Unmodified-Since", v.UTC().Format(http.TimeFormat))
	}
	_, err = in.call(ctx, t, request{method: http.MethodDelete, path: "/v1/Appointment/" + strconv.Itoa(rowID), header: h})
	if errors.Is(err, sdk.ErrNotFound) {
		return nil
	}
	return err
}

// answer records the diary owner's answer to an invitation (a participant's row)
// with the Accept or Reject agent, which notify nobody. "none" is not an answer;
// an answer the row already has and a cancelled booking are left alone.
func (in *instance) answer(ctx context.Context, t sdk.Target, r *row, want sdk.Response, mode string) error {
	have := responseOf(r.invitation)
	method := ""
	switch want {
	case sdk.ResponseAccepted, sdk.ResponseTentative:
		if have != sdk.ResponseAccepted {
			method = "Appointment/Accept"
		}
	case sdk.ResponseDeclined:
		if have != sdk.ResponseDeclined {
			method = "Appointment/Reject"
		}
	}
	if method == "" || r.invitation == "Cancelled" {
		return nil
	}
	if _, err := in.agent(ctx, t, method, nil, wire.AcceptRejectRequest{AppointmentId: wire.FlexInt(r.id), UpdateMode: mode}, nil); err != nil {
		return fmt.Errorf("answer appointment %d: %w", r.id, err)
	}
	return nil
}
