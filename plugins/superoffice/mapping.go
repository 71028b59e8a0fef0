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

// row is one appointment row in a shape both carriers fill: the full
// AppointmentEntity (REST, Agents) and the flat Appointment of the diary agents
// plus the scan's timestamps. Mapping from a row only uses fields both carry, so a
// Get and a listing give the same event.
type row struct {
	id, assoc   int
	start, end  time.Time // instants
	allDay      bool
	title, text string
	location    string
	private     bool
	free        bool
	alarm       bool
	lead        time.Duration
	taskID      int
	taskName    string
	typ         int
	invitation  string // InvitationStatus enum
	mother      int
	motherAssoc int
	rule        int
	personID    int
	created     time.Time
	updated     time.Time
	regBy       int

	full         bool // filled from an entity: participants and recurrence are known
	participants []wire.ParticipantInfo
	recurrence   *wire.RecurrenceInfo
}

func (r *row) lastModified() time.Time {
	if r.updated.After(r.created) {
		return r.updated
	}
	return r.created
}

// isBooking says the row belongs to a meeting.
func (r *row) isBooking() bool { return r.mother != 0 }

// isOrganizer says the row is the meeting's mother.
func (r *row) isOrganizer() bool { return r.mother != 0 && r.mother == r.id }

// isPersonCopy says the row is an external person's participant row, which lives
// in the organizer's diary [unconfirmed]: it is not a second appointment.
func (r *row) isPersonCopy() bool {
	return r.mother != 0 && r.mother != r.id && r.personID != 0 && (r.motherAssoc == 0 || r.motherAssoc == r.assoc)
}

// inDiary says the row is a calendar item: diary appointments and bookings,
// not tasks, notes, documents or hidden rows.
func (r *row) inDiary() bool {
	if r.typ != wire.TypeInDiary && r.typ != wire.TypeBookingForDiary {
		return false
	}
	return r.invitation != "Hidden" && !r.isPersonCopy()
}

func parseLocal(s string, loc *time.Location, field string) (time.Time, error) {
	t, _, err := wire.ParseDate(s, loc)
	if err != nil {
		return t, fmt.Errorf("%s: %w", field, err)
	}
	return t, nil
}

// rowFromEntity reads an AppointmentEntity; dates without an offset are wall
// clock in loc (the tenant's base zone), UTC fields are UTC.
func rowFromEntity(e *wire.AppointmentEntity, loc *time.Location) (row, error) {
	r := row{id: int(e.AppointmentId), title: e.Title, text: e.Description, location: e.Location,
		private: e.Private != "" && !strings.EqualFold(e.Private, "Public"), free: e.IsFree, alarm: e.HasAlarm,
		allDay: e.IsAlldayEvent, invitation: e.InvitationStatus, mother: int(e.MotherId), full: true,
		participants: e.Participants, recurrence: e.Recurrence}
	var err error
	if e.Associate != nil {
		r.assoc = e.Associate.AssociateId
	}
	if e.MotherAssociate != nil {
		r.motherAssoc = e.MotherAssociate.AssociateId
	}
	if e.Person != nil {
		r.personID = e.Person.PersonId
	}
	if e.CreatedBy != nil {
		r.regBy = e.CreatedBy.AssociateId
	}
	if e.Task != nil {
		r.taskID, r.taskName = e.Task.TaskListItemId, e.Task.Value
	}
	if t, ok := wire.TypeFromName(e.Type); ok {
		r.typ = t
	}
	if e.Recurrence != nil && e.Recurrence.IsRecurrence {
		r.rule = e.Recurrence.RecurrenceId
	}
	if r.lead, err = wire.ParseTimeSpan(e.AlarmLeadTime); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.start, err = parseLocal(e.StartDate, loc, "StartDate"); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.end, err = parseLocal(e.EndDate, loc, "EndDate"); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.created, err = parseLocal(e.CreatedDate, time.UTC, "CreatedDate"); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.updated, err = parseLocal(e.UpdatedDate, time.UTC, "UpdatedDate"); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.start.IsZero() {
		return r, fmt.Errorf("appointment %d has no StartDate", r.id)
	}
	if r.end.Before(r.start) {
		r.end = r.start
	}
	return r, nil
}

// rowFromSimple reads the flat Appointment carrier, completed by the scan (which
// has the update time and rule id the carrier lacks).
func rowFromSimple(a *wire.Appointment, sc scanRow, loc *time.Location) (row, error) {
	r := row{id: a.AppointmentId, assoc: a.AssociateId, title: a.Title, text: a.Description, location: a.Location,
		private: a.Private != "" && !strings.EqualFold(a.Private, "Public"), free: a.IsFree, alarm: a.HasAlarm,
		allDay: a.IsAlldayEvent, invitation: a.InvitationStatus, mother: a.MotherId, motherAssoc: a.MotherAssociateId,
		personID: a.PersonId, taskID: a.TaskId, taskName: a.Task, rule: sc.rule, regBy: a.CreatedByAssociateId,
		created: sc.registered, updated: sc.updated}
	if t, ok := wire.TypeFromName(a.Type); ok {
		r.typ = t
	}
	var err error
	if r.lead, err = wire.ParseTimeSpan(a.AlarmLeadTime); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.start, err = parseLocal(a.StartDate, loc, "StartDate"); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.end, err = parseLocal(a.EndDate, loc, "EndDate"); err != nil {
		return r, fmt.Errorf("appointment %d: %w", r.id, err)
	}
	if r.created.IsZero() {
		if r.created, err = parseLocal(a.CreatedDate, time.UTC, "CreatedDate"); err != nil {
			return r, fmt.Errorf("appointment %d: %w", r.id, err)
		}
	}
	if r.start.IsZero() {
		return r, fmt.Errorf("appointment %d has no StartDate", r.id)
	}
	if r.end.Before(r.start) {
		r.end = r.start
	}
	return r, nil
}

// version is the precondition token of a row: its last change, to the second
// (the resolution of If-Unmodified-Since).
func version(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func parseVersion(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("version %q is not a SuperOffice version: %w", v, sdk.ErrInvalidArgument)
	}
	return t, nil
}

// allDayDates returns an all-day row's first day and the day after its last, as
// midnight UTC. The end is accepted both as 23:59 of the last day and as the
// next midnight [unconfirmed which one SuperOffice stores].
func allDayDates(start, end time.Time, loc *time.Location) (time.Time, time.Time) {
	ls, le := start.In(loc), end.In(loc)
	first := time.Date(ls.Year(), ls.Month(), ls.Day(), 0, 0, 0, 0, time.UTC)
	last := time.Date(le.Year(), le.Month(), le.Day(), 0, 0, 0, 0, time.UTC)
	if le.Hour() == 0 && le.Minute() == 0 && le.Second() == 0 && last.After(first) {
		return first, last
	}
	if last.Before(first) {
		last = first
	}
	return first, last.AddDate(0, 0, 1)
}

func responseOf(invitation string) sdk.Response {
	switch invitation {
	case "Accepted":
		return sdk.ResponseAccepted
	case "Declined":
		return sdk.ResponseDeclined
	default:
		return sdk.ResponseNone
	}
}

// title is the row's heading: its Title, or else the first line of its text, as
// the diary shows it.
func (r *row) heading() string {
	if strings.TrimSpace(r.title) != "" {
		return r.title
	}
	first, _, _ := strings.Cut(r.text, "\n")
	return strings.TrimSpace(strings.TrimRight(first, "\r"))
}

// toEvent maps a row to the neutral model (a single event; series.go turns
// series rows into masters and exceptions). attendees is only consulted for
// bookings and must come from the row's entity.
func (in *instance) toEvent(ctx context.Context, t sdk.Target, r *row, loc *time.Location, zone string) sdk.Event {
	ev := sdk.Event{
		ID:          strconv.Itoa(r.id),
		Version:     version(r.lastModified()),
		Kind:        sdk.KindSingle,
		Title:       r.heading(),
		Description: r.text,
		Location:    r.location,
		TimeZone:    zone,
		ShowAs:      sdk.ShowBusy,
		Privacy:     sdk.PrivacyPublic,
		HasReminder: r.alarm,
		Category:    r.taskName,
		Created:     r.created,
		Updated:     r.lastModified(),
	}
	if r.alarm {
		ev.ReminderMinutes = int(r.lead / time.Minute)
	}
	if r.allDay {
		ev.AllDay = true
		ev.Start, ev.End = allDayDates(r.start, r.end, loc)
		ev.TimeZone = ""
	} else {
		ev.Start, ev.End = r.start.UTC(), r.end.UTC()
	}
	if r.free {
		ev.ShowAs = sdk.ShowFree
	}
	if r.private {
		ev.Privacy = sdk.PrivacyPrivate
	}
	if r.isBooking() {
		in.fillMeeting(ctx, t, r, &ev)
	}
	in.mu.Lock()
	ev.CorrelationID = in.cache.corr[r.id]
	in.mu.Unlock()
	return ev
}

// fillMeeting sets the organizer, attendees and the owner's answer of a booking
// row. Participants come from the row's entity: every participant row of the
// meeting, the organizer first.
func (in *instance) fillMeeting(ctx context.Context, t sdk.Target, r *row, ev *sdk.Event) {
	ev.MeetingKey = strconv.Itoa(r.mother)
	ev.IsOrganizer = r.isOrganizer()
	organizer := r.motherAssoc
	if ev.IsOrganizer {
		organizer = r.assoc
		ev.Response = sdk.ResponseOrganizer
	} else {
		ev.Response = responseOf(r.invitation)
		if r.invitation == "Invitation" || r.invitation == "Seen" || r.invitation == "Moved" || r.invitation == "MovedSeen" {
			if !r.free {
				ev.ShowAs = sdk.ShowTentative
			}
		}
	}
	if r.invitation == "Cancelled" {
		ev.Cancelled = true
	}
	if organizer != 0 {
		d := in.associate(ctx, t, organizer)
		ev.Organizer = sdk.Attendee{Email: d.email, Name: firstNonEmpty(d.full, d.name), Type: sdk.AttendeeRequired,
			Response: sdk.ResponseOrganizer, AccountID: strconv.Itoa(organizer)}
	}
	for _, p := range r.participants {
		if p.AssociateId != 0 && p.AssociateId == organizer {
			continue
		}
		a := sdk.Attendee{Email: p.EmailAddress, Name: p.Description, Type: sdk.AttendeeRequired,
			Response: responseOf(p.InvitationStatus)}
		if p.AssociateId != 0 {
			d := in.associate(ctx, t, p.AssociateId)
			a.AccountID = strconv.Itoa(p.AssociateId)
			a.Email = firstNonEmpty(d.email, p.EmailAddress)
			a.Name = firstNonEmpty(d.full, d.name, p.Description)
			if d.kind == sdk.AccountResource {
				a.Type = sdk.AttendeeResource
			}
		}
		if a.Email == "" && a.AccountID == "" {
			continue
		}
		ev.Attendees = append(ev.Attendees, a)
	}
	sort.SliceStable(ev.Attendees, func(i, j int) bool {
		ai, aj := ev.Attendees[i], ev.Attendees[j]
		if ai.AccountID != aj.AccountID {
			ni, _ := strconv.Atoi(ai.AccountID)
			nj, _ := strconv.Atoi(aj.AccountID)
			if ni != nj {
				return ni < nj
			}
			return ai.AccountID < aj.AccountID
		}
		return strings.ToLower(ai.Email) < strings.ToLower(aj.Email)
	})
}

// entityFor builds the entity to save for ev in the diary of owner, on top of
// base (nil for a new appointment).
func (in *instance) entityFor(ctx context.Context, t sdk.Target, ev *sdk.Event, owner int, base *wire.AppointmentEntity, loc *time.Location) (*wire.AppointmentEntity, error) {
	e := &wire.AppointmentEntity{}
	if base != nil {
		cp := *base
		e = &cp
		e.Participants = nil
		e.Recurrence = nil
	}
	e.Associate = &wire.Associate{AssociateId: owner}
	if ev.End.Before(ev.Start) {
		return nil, fmt.Errorf("event ends before it starts: %w", sdk.ErrInvalidArgument)
	}
	if ev.AllDay {
		first := time.Date(ev.Start.Year(), ev.Start.Month(), ev.Start.Day(), 0, 0, 0, 0, loc)
		endDay := ev.End
		if !endDay.After(ev.Start) {
			endDay = ev.Start.AddDate(0, 0, 1)
		}
		last := time.Date(endDay.Year(), endDay.Month(), endDay.Day(), 0, 0, 0, 0, loc)
		e.StartDate, e.EndDate = utcText(first), utcText(last)
		e.IsAlldayEvent = true
	} else {
		e.StartDate, e.EndDate = utcText(ev.Start), utcText(ev.End)
		e.IsAlldayEvent = false
	}
	e.Title = ev.Title
	desc := ev.Description
	if desc == "" && ev.DescriptionHTML != "" {
		desc = htmlToText(ev.DescriptionHTML)
	}
	e.Description = desc
	e.Location = ev.Location
	e.IsFree = ev.ShowAs == sdk.ShowFree
	e.Private = "Public"
	if ev.Privacy == sdk.PrivacyPrivate {
		e.Private = "PrivateUser"
	}
	e.VisibleFor = nil
	e.HasAlarm = ev.HasReminder
	e.AlarmLeadTime = wire.FormatTimeSpan(time.Duration(ev.ReminderMinutes) * time.Minute)
	if base == nil {
		e.Type = "inDiary"
	}
	if ev.Category != "" {
		if tasks, err := in.tasks(ctx, t); err == nil {
			for _, tk := range tasks {
				if strings.EqualFold(tk.name, ev.Category) {
					e.Task = &wire.TaskListItem{TaskListItemId: tk.id, Value: tk.name}
				}
			}
		}
	}
	return e, nil
}

// utcText writes an instant as the WebAPI's UTC form with Z: requests carry
// SO-TimeZone UTC, so the server converts it to the tenant's zone.
func utcText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// participantsFor lists the participants to save for ev's attendees, leaving out
// the owner: associates by account id or e-mail, others by e-mail address.
func (in *instance) participantsFor(ctx context.Context, t sdk.Target, ev *sdk.Event, owner int) []wire.ParticipantInfo {
	var out []wire.ParticipantInfo
	seen := map[string]bool{}
	var dir []dirEntry
	loaded := false
	for _, a := range ev.Attendees {
		p := wire.ParticipantInfo{EmailAddress: a.Email, Description: a.Name}
		if id, err := strconv.Atoi(a.AccountID); err == nil && id > 0 {
			p.AssociateId = id
		} else if a.Email != "" {
			if !loaded {
				dir, _ = in.directory(ctx, t)
				loaded = true
			}
			for _, d := range dir {
				if strings.EqualFold(d.email, a.Email) {
					p.AssociateId = d.id
					break
				}
			}
		}
		if p.AssociateId == owner && owner != 0 {
			continue
		}
		key := strings.ToLower(a.Email)
		if p.AssociateId != 0 {
			key = "#" + strconv.Itoa(p.AssociateId)
			p.EmailAddress = ""
		}
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// htmlToText keeps the text of a simple HTML description.
func htmlToText(h string) string {
	var b strings.Builder
	in := false
	for _, r := range h {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	s := strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'").Replace(b.String())
	return strings.TrimSpace(s)
}
