package sotest

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

const tableRightMask = "Select, Insert, Update, Delete"

func rights() *wire.TableRight { return &wire.TableRight{Mask: tableRightMask} }

func (s *Server) assocCarrier(id int) *wire.Associate {
	a := s.st.assocs[id]
	if a == nil {
		return nil
	}
	return &wire.Associate{AssociateId: a.id, Name: a.name, PersonId: a.personID, Type: a.typeName(),
		FullName: a.fullName, FormalName: a.fullName, Deleted: a.deleted, UserName: a.name, TableRight: rights()}
}

func (s *Server) taskCarrier(id int) *wire.TaskListItem {
	name := s.st.taskName(id)
	if name == "" {
		return nil
	}
	return &wire.TaskListItem{TaskListItemId: id, Value: name, Direction: "Unknown", Type: "Appointment"}
}

func bookingType(a *appt) string {
	switch {
	case a.mother == 0:
		return "None"
	case a.mother == a.id:
		return "Owner"
	default:
		return "Participant"
	}
}

// participants lists a booking's participants as ParticipantInfo, the
// organizer first.
func (s *Server) participants(a *appt) []wire.ParticipantInfo {
	if a.mother == 0 {
		return []wire.ParticipantInfo{}
	}
	var out []wire.ParticipantInfo
	for _, r := range s.st.bookingRows(a.mother) {
		p := wire.ParticipantInfo{InvitationStatus: wire.InvitationStatus(r.status, true)}
		if r.personID != 0 {
			if pp := s.st.persons[r.personID]; pp != nil {
				p.PersonId, p.EmailAddress, p.Description = pp.id, pp.email, pp.name
			}
		} else {
			as := s.st.assocs[r.assoc]
			p.AssociateId, p.PersonId, p.EmailAddress, p.Description = as.id, as.personID, as.email, as.fullName
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) recurrenceOf(a *appt, z zone) *wire.RecurrenceInfo {
	rule := s.st.rules[a.rule]
	if a.rule == 0 || rule == nil {
		return &wire.RecurrenceInfo{StartDate: wire.ZeroDate, EndDate: wire.ZeroDate, RecurrenceEndType: "Unknown", Pattern: "Unknown",
			DayPattern:   &wire.RecurrenceDayPattern{Pattern: "Unknown"},
			WeekPattern:  &wire.RecurrenceWeekPattern{Weekdays: "Unknown"},
			MonthPattern: &wire.RecurrenceMonthPattern{Pattern: "Unknown", Weekday: "Unknown", WeekOfMonth: "Unknown"},
			YearPattern:  &wire.RecurrenceMonthPattern{Pattern: "Unknown", Weekday: "Unknown", WeekOfMonth: "Unknown"},
			Dates:        []wire.RecurrenceDate{}}
	}
	dates, _ := rule.info.expand()
	return rule.info.toWire(rule.id, z, s.loc, dates)
}

// entity renders a row as an AppointmentEntity in zone z.
func (s *Server) entity(a *appt, z zone) *wire.AppointmentEntity {
	e := &wire.AppointmentEntity{
		Associate:        s.assocCarrier(a.assoc),
		CreatedBy:        s.assocCarrier(a.regBy),
		UpdatedBy:        s.assocCarrier(a.updBy),
		CreatedDate:      fmtUTC(a.registered, z),
		AppointmentId:    wire.FlexInt(a.id),
		Description:      a.text,
		Title:            a.title,
		Agenda:           a.agenda,
		InternalNotes:    a.notes,
		StartDate:        fmtLocal(a.start, z),
		EndDate:          fmtLocal(a.end, z),
		ActiveDate:       fmtLocal(a.start, z),
		MotherId:         wire.FlexInt(a.mother),
		Private:          wire.PrivateName(a.private),
		Type:             wire.TypeName(a.typ),
		UpdatedDate:      fmtUTC(a.updated, z),
		Completed:        wire.CompletedName(a.status),
		Links:            nil,
		AlarmLeadTime:    wire.FormatTimeSpan(a.lead),
		HasAlarm:         a.alarm,
		IsFree:           a.free,
		IsAlldayEvent:    a.allDay,
		LagTime:          "00:00:00",
		LeadTime:         "00:00:00",
		Location:         a.location,
		RejectReason:     a.reject,
		Recurrence:       s.recurrenceOf(a, z),
		Participants:     s.participants(a),
		AssignmentStatus: "None",
		InvitationStatus: wire.InvitationStatus(a.status, a.mother != 0),
		BookingType:      bookingType(a),
		Task:             s.taskCarrier(a.task),
		CautionWarning:   "OK",
		OwnedExternally:  "None",
		CustomFields:     map[string]string{},
		ExtraFields:      map[string]string{},
		TableRight:       rights(),
	}
	if a.mother != 0 {
		if m := s.st.appts[a.mother]; m != nil {
			e.MotherAssociate = s.assocCarrier(m.assoc)
		}
	}
	if a.personID != 0 {
		if p := s.st.persons[a.personID]; p != nil {
			e.Person = &wire.Person{PersonId: p.id, FullName: p.name, Email: p.email}
		}
	}
	if a.private == 0 {
		e.VisibleFor = []wire.VisibleFor{{VisibleId: 0, Visibility: "All", DisplayValue: "All"}}
	} else {
		e.VisibleFor = []wire.VisibleFor{{VisibleId: a.assoc, Visibility: "Associate", DisplayValue: s.st.assocs[a.assoc].fullName}}
	}
	return e
}

// simple renders a row as the flat Appointment carrier.
func (s *Server) simple(a *appt, z zone) wire.Appointment {
	as := s.st.assocs[a.assoc]
	out := wire.Appointment{
		AppointmentId: a.id, StartDate: fmtLocal(a.start, z), EndDate: fmtLocal(a.end, z),
		Type: wire.TypeName(a.typ), Task: s.st.taskName(a.task), TaskId: a.task,
		AssociateFullName: as.fullName, AssociateName: as.name, AssociateId: a.assoc,
		Description: a.text, Title: a.title, Agenda: a.agenda, InternalNotes: a.notes, Location: a.location,
		IsFree: a.free, HasAlarm: a.alarm, IsAlldayEvent: a.allDay, Private: wire.PrivateName(a.private),
		TaskType: "Appointment", IsBookingMain: a.mother != 0 && a.mother == a.id, IsRecurrence: a.rule != 0,
		IsBooking: a.mother != 0, ActiveDate: fmtLocal(a.start, z), AssignmentStatus: "None",
		InvitationStatus: wire.InvitationStatus(a.status, a.mother != 0), BookingType: bookingType(a),
		Completed: wire.CompletedName(a.status), RecurringPattern: "Unknown",
		RecurringStartDate: wire.ZeroDate, RecurringEndDate: wire.ZeroDate,
		MotherId: a.mother, RejectReason: a.reject, AlarmLeadTime: wire.FormatTimeSpan(a.lead),
		CreatedDate: fmtUTC(a.registered, z), CautionWarning: "OK", OwnedExternally: "None",
		PersonId: a.personID, TableRight: rights(),
	}
	if c := s.st.assocs[a.regBy]; c != nil {
		out.CreatedBy, out.CreatedByFullName, out.CreatedByAssociateId = c.name, c.fullName, c.id
	}
	if a.mother != 0 {
		if m := s.st.appts[a.mother]; m != nil {
			out.MotherAssociateId = m.assoc
		}
	}
	if a.personID != 0 {
		if p := s.st.persons[a.personID]; p != nil {
			out.PersonFullName = p.name
		}
	}
	if rule := s.st.rules[a.rule]; a.rule != 0 && rule != nil {
		out.RecurringPattern = rule.info.kind
		out.RecurringStartDate = fmtLocal(rule.info.start.at(s.loc, 0), z)
		if dates, _ := rule.info.expand(); len(dates) > 0 {
			out.RecurringEndDate = fmtLocal(dates[len(dates)-1].at(s.loc, 0), z)
		}
	}
	return out
}

func (s *Server) defaultEntity(me *associate, z zone) *wire.AppointmentEntity {
	now := s.now().Truncate(time.Hour).Add(time.Hour)
	a := &appt{assoc: me.id, start: now, end: now.Add(time.Hour), typ: wire.TypeInDiary,
		status: wire.StatusNotStarted, task: s.st.tasks[0].id, regBy: me.id}
	if me.kind == kindSystem {
		a.assoc = 0
	}
	e := s.entity(a, z)
	if a.assoc == 0 {
		e.Associate = nil
	}
	e.CreatedDate = wire.ZeroDate
	return e
}

func lastModified(a *appt) time.Time {
	t := a.registered
	if a.updated.After(t) {
		t = a.updated
	}
	return t.Truncate(time.Second)
}

// --- REST -------------------------------------------------------------------

// appointmentDefault answers both GET v1/Appointment/default and the
// agent's CreateDefaultAppointmentEntity.
func (c *call) appointmentDefault() {
	c.s.mu.Lock()
	e := c.s.defaultEntity(c.me, c.z)
	c.s.mu.Unlock()
	c.json(http.StatusOK, e)
}

func (c *call) appointmentValidate() {
	var e wire.AppointmentEntity
	if !c.body(&e, true) {
		return
	}
	c.s.mu.Lock()
	_, err := c.s.parseEntity(&e, c.z, nil)
	c.s.mu.Unlock()
	out := map[string]string{}
	if err != nil {
		out["Appointment"] = err.Error()
	}
	c.json(http.StatusOK, out)
}

func (c *call) withLinks(e *wire.AppointmentEntity) *wire.AppointmentEntity {
	e.Links_ = map[string]string{"Self": c.base + "/v1/Appointment/" + strconv.Itoa(int(e.AppointmentId))}
	return e
}

func (c *call) writeCtx(mail bool) writeCtx {
	return writeCtx{by: c.me.id, mail: mail, now: c.s.now().Truncate(time.Second)}
}

func (c *call) writeErr(err error) {
	var br errBadRequest
	switch {
	case errors.As(err, &br):
		c.err(http.StatusBadRequest, "SoValidationException", br.msg)
	case errors.Is(err, errNotFound):
		c.err(http.StatusNotFound, "SoNotFoundException", err.Error())
	default:
		c.err(http.StatusInternalServerError, "SoException", err.Error())
	}
}

func (c *call) appointmentPost() {
	var e wire.AppointmentEntity
	if !c.body(&e, true) {
		return
	}
	if e.AppointmentId != 0 {
		c.appointmentPutID(int(e.AppointmentId), &e)
		return
	}
	c.s.mu.Lock()
	var log changeLog
	// A plain entity save notifies participants [unconfirmed]; the Agents' Save
	// takes SendEmailToParticipants.
	a, err := c.s.createAppointment(&e, c.z, c.writeCtx(true), &log)
	var out *wire.AppointmentEntity
	if err == nil {
		out = c.withLinks(c.s.entity(a, c.z))
	}
	c.s.notifyLocked(log)
	c.s.mu.Unlock()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.json(http.StatusOK, out)
}

func (c *call) appointmentGet() {
	id, ok := c.pathInt("id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.appts[id]
	if a == nil {
		c.notFound("Appointment", id)
		return
	}
	if ims := c.r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !lastModified(a).After(t) {
			c.w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	e := c.withLinks(c.s.entity(a, c.z))
	if strings.EqualFold(c.q.Get("fk"), "true") {
		for _, k := range c.s.st.recordKeys("appointment", a.id) {
			// [unconfirmed] how the server names foreign keys in ExtraFields.
			e.ExtraFields["fk:"+k.app+":"+k.device+":"+k.key] = k.value
		}
	}
	c.w.Header().Set("Last-Modified", lastModified(a).UTC().Format(http.TimeFormat))
	c.json(http.StatusOK, e)
}

func (c *call) appointmentPut() {
	id, ok := c.pathInt("id")
	if !ok {
		return
	}
	var e wire.AppointmentEntity
	if !c.body(&e, true) {
		return
	}
	c.appointmentPutID(id, &e)
}

func (c *call) precondition(a *appt) bool {
	ius := c.r.Header.Get("If-Unmodified-Since")
	if ius == "" {
		return true
	}
	t, err := http.ParseTime(ius)
	if err != nil {
		c.err(http.StatusBadRequest, "BadRequest", "If-Unmodified-Since is not an HTTP date")
		return false
	}
	if lastModified(a).After(t) {
		c.w.WriteHeader(http.StatusPreconditionFailed)
		return false
	}
	return true
}

func (c *call) appointmentPutID(id int, e *wire.AppointmentEntity) {
	c.s.mu.Lock()
	a := c.s.st.appts[id]
	if a == nil {
		c.s.mu.Unlock()
		c.notFound("Appointment", id)
		return
	}
	if !c.precondition(a) {
		c.s.mu.Unlock()
		return
	}
	var log changeLog
	// REST has no update mode: a recurring row changes alone [inferred].
	u, err := c.s.updateAppointment(a, e, "OnlyThis", c.z, c.writeCtx(true), &log)
	var out *wire.AppointmentEntity
	if err == nil {
		out = c.withLinks(c.s.entity(u, c.z))
	}
	c.s.notifyLocked(log)
	c.s.mu.Unlock()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.json(http.StatusOK, out)
}

func (c *call) appointmentDelete() {
	id, ok := c.pathInt("id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	a := c.s.st.appts[id]
	if a == nil {
		c.s.mu.Unlock()
		c.notFound("Appointment", id)
		return
	}
	if !c.precondition(a) {
		c.s.mu.Unlock()
		return
	}
	var log changeLog
	c.s.deleteAppointment(a, "OnlyThis", c.writeCtx(true), &log)
	c.s.notifyLocked(log)
	c.s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
}

func (c *call) appointmentSimple() {
	id, ok := c.pathInt("id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.appts[id]
	if a == nil {
		c.notFound("Appointment", id)
		return
	}
	c.json(http.StatusOK, c.s.simple(a, c.z))
}

func (c *call) appointmentParticipants() {
	id, ok := c.pathInt("id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.appts[id]
	if a == nil {
		c.notFound("Appointment", id)
		return
	}
	var rows []map[string]any
	for _, p := range c.s.participants(a) {
		rows = append(rows, map[string]any{"PrimaryKey": strconv.Itoa(p.AssociateId), "EntityName": "participant",
			"associateId": p.AssociateId, "personId": p.PersonId, "emailAddress": p.EmailAddress,
			"invitationStatus": p.InvitationStatus, "name": p.Description})
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	c.json(http.StatusOK, wire.ODataResponse{Metadata: c.base + "/v1/Archive/$metadata", Value: rows})
}

func (c *call) appointmentForeignKeys() {
	id, ok := c.pathInt("id")
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.st.appts[id] == nil {
		c.notFound("Appointment", id)
		return
	}
	out := map[string]string{}
	for _, k := range c.s.st.recordKeys("appointment", id) {
		out[k.key] = k.value
	}
	c.json(http.StatusOK, out)
}

// sortRows orders rows by id.
func sortRows(rows []*appt) {
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
}
