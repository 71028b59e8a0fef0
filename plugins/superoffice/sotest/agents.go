package sotest

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"synchronizer/plugins/superoffice/internal/wire"
)

// Agents answer 200 with null for an entity that does not exist; they never
// answer 404.
func (c *call) null() { c.json(http.StatusOK, nil) }

func (c *call) agentSaveEntity() {
	var e wire.AppointmentEntity
	if !c.body(&e, true) {
		return
	}
	c.save(&e, "OnlyThis", true)
}

func (c *call) save(e *wire.AppointmentEntity, mode string, mail bool) {
	c.s.mu.Lock()
	var log changeLog
	var a *appt
	var err error
	w := c.writeCtx(mail)
	if e.AppointmentId != 0 {
		old := c.s.st.appts[int(e.AppointmentId)]
		if old == nil {
			c.s.mu.Unlock()
			c.null()
			return
		}
		a, err = c.s.updateAppointment(old, e, mode, c.z, w, &log)
	} else {
		a, err = c.s.createAppointment(e, c.z, w, &log)
	}
	var out *wire.AppointmentEntity
	if err == nil {
		out = c.s.entity(a, c.z)
	}
	c.s.notifyLocked(log)
	c.s.mu.Unlock()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentGetEntity() {
	id, ok := c.argInt("appointmentEntityId", c.bodyArgs())
	if !ok {
		c.err(http.StatusBadRequest, "ArgumentException", "appointmentEntityId is required")
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.appts[id]
	if a == nil {
		c.null()
		return
	}
	c.json(http.StatusOK, c.s.entity(a, c.z))
}

func (c *call) agentDeleteEntity() {
	id, ok := c.argInt("appointmentEntityId", c.bodyArgs())
	if !ok {
		c.err(http.StatusBadRequest, "ArgumentException", "appointmentEntityId is required")
		return
	}
	c.s.mu.Lock()
	if a := c.s.st.appts[id]; a != nil {
		var log changeLog
		c.s.deleteAppointment(a, "OnlyThis", c.writeCtx(true), &log)
		c.s.notifyLocked(log)
	}
	c.s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
}

func (c *call) agentGetAppointment() {
	id, ok := c.argInt("appointmentId", c.bodyArgs())
	if !ok {
		c.err(http.StatusBadRequest, "ArgumentException", "appointmentId is required")
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.appts[id]
	if a == nil {
		c.null()
		return
	}
	c.json(http.StatusOK, c.s.simple(a, c.z))
}

func (c *call) agentSave() {
	var req wire.SaveRequest
	if !c.body(&req, true) {
		return
	}
	if req.AppointmentEntity == nil {
		c.err(http.StatusBadRequest, "ArgumentNullException", "AppointmentEntity is required")
		return
	}
	c.save(req.AppointmentEntity, req.UpdateMode, req.SendEmailToParticipants)
}

func (c *call) agentDelete() {
	var req wire.DeleteRequest
	if !c.body(&req, true) {
		return
	}
	c.s.mu.Lock()
	if a := c.s.st.appts[int(req.AppointmentId)]; a != nil {
		var log changeLog
		c.s.deleteAppointment(a, req.UpdateMode, c.writeCtx(req.SendEmailToParticipants), &log)
		c.s.notifyLocked(log)
	}
	c.s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
}

func (c *call) span(startText, endText string) (time.Time, time.Time, bool) {
	from, _, err := wire.ParseDate(startText, c.z.loc)
	if err != nil {
		c.err(http.StatusBadRequest, "BadRequest", "StartTime: "+err.Error())
		return from, from, false
	}
	to, _, err := wire.ParseDate(endText, c.z.loc)
	if err != nil {
		c.err(http.StatusBadRequest, "BadRequest", "EndTime: "+err.Error())
		return from, to, false
	}
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return from, to, true
}

func (c *call) agentAssociateDiary() {
	var req wire.GetAssociateDiaryRequest
	if !c.body(&req, true) {
		return
	}
	from, to, ok := c.span(req.StartTime, req.EndTime)
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := []wire.Appointment{}
	for _, a := range c.s.diary(int(req.AssociateId), from, to) {
		if req.Count > 0 && len(out) >= int(req.Count) {
			break
		}
		out = append(out, c.s.simple(a, c.z))
	}
	c.json(http.StatusOK, out)
}

// agentAppointmentList is GetAppointmentList: the flat carriers of the
// appointments whose ids the body lists (a JSON array, as the Swagger
// description has it, or an object with AppointmentIds). Ids that name no
// appointment are left out.
func (c *call) agentAppointmentList() {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 16<<20))
	if err != nil {
		writeError(c.w, http.StatusBadRequest, "BadRequest", "read body: "+err.Error())
		return
	}
	var ids []wire.FlexInt
	if err := json.Unmarshal(b, &ids); err != nil {
		var obj struct {
			AppointmentIds []wire.FlexInt `json:"AppointmentIds"`
		}
		if err2 := json.Unmarshal(b, &obj); err2 != nil || obj.AppointmentIds == nil {
			writeError(c.w, http.StatusBadRequest, "ArgumentNullException", "appointmentIds: want an array of appointment ids")
			return
		}
		ids = obj.AppointmentIds
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := make([]wire.Appointment, 0, len(ids))
	for _, id := range ids {
		if a := c.s.st.appts[int(id)]; a != nil {
			out = append(out, c.s.simple(a, c.z))
		}
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentAssociatesDiary() {
	var req struct {
		AssociateIds []wire.FlexInt `json:"AssociateIds"`
		StartTime    string         `json:"StartTime"`
		EndTime      string         `json:"EndTime"`
	}
	if !c.body(&req, true) {
		return
	}
	from, to, ok := c.span(req.StartTime, req.EndTime)
	if !ok {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := []wire.Appointment{}
	for _, id := range req.AssociateIds {
		for _, a := range c.s.diary(int(id), from, to) {
			out = append(out, c.s.simple(a, c.z))
		}
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentRecords() {
	var req wire.GetAppointmentRecordsRequest
	if !c.body(&req, true) {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var rows []*appt
	switch {
	case req.RecurrenceRuleId != 0:
		for _, a := range c.s.st.ruleRows(int(req.RecurrenceRuleId)) {
			if req.MotherId == 0 || a.mother == int(req.MotherId) {
				rows = append(rows, a)
			}
		}
	case req.MotherId != 0:
		rows = c.s.st.bookingRows(int(req.MotherId))
	}
	out := []wire.Appointment{}
	for _, a := range rows {
		out = append(out, c.s.simple(a, c.z))
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentUpdateWithMode() {
	var req wire.UpdateAppointmentWithModeRequest
	if !c.body(&req, true) {
		return
	}
	c.s.mu.Lock()
	a := c.s.st.appts[int(req.Id)]
	if a == nil {
		c.s.mu.Unlock()
		c.null()
		return
	}
	e := c.s.entity(a, c.z)
	e.Participants = nil
	e.Recurrence = nil
	if req.StartTime != "" {
		e.StartDate = req.StartTime
	}
	if req.EndTime != "" {
		e.EndDate = req.EndTime
	}
	if req.Type != "" {
		e.Type = req.Type
	}
	var log changeLog
	w := c.writeCtx(false)
	u, err := c.s.updateAppointment(a, e, req.UpdateMode, c.z, w, &log)
	if err == nil && req.Status != "" {
		if st, ok := wire.StatusFromName(req.Status); ok {
			c.s.setStatus(u, st, u.typ, u.reject, w, &log)
		}
	}
	var out wire.Appointment
	if err == nil {
		out = c.s.simple(u, c.z)
	}
	c.s.notifyLocked(log)
	c.s.mu.Unlock()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentAccept() { c.respond(true) }
func (c *call) agentReject() { c.respond(false) }

func (c *call) respond(accept bool) {
	var req wire.AcceptRejectRequest
	if !c.body(&req, true) {
		return
	}
	c.s.mu.Lock()
	a := c.s.st.appts[int(req.AppointmentId)]
	if a != nil && a.mother != 0 && a.mother != a.id {
		var log changeLog
		w := c.writeCtx(false)
		rows := []*appt{a}
		if canonical(req.UpdateMode, "ThisAndForward") != "" && a.rule != 0 {
			rows = nil
			for _, r := range c.s.st.ruleRows(a.rule) {
				if r.assoc == a.assoc && r.personID == a.personID && !r.start.Before(a.start) && r.mother != r.id {
					rows = append(rows, r)
				}
			}
		}
		for _, r := range rows {
			if r.status == wire.StatusBookingDeleted {
				continue // a cancelled booking takes no answer [inferred]
			}
			if accept {
				c.s.setStatus(r, wire.StatusNotStarted, wire.TypeInDiary, "", w, &log)
			} else {
				c.s.setStatus(r, wire.StatusBookingDeclined, r.typ, req.RejectReason, w, &log)
			}
		}
		c.s.notifyLocked(log)
	}
	c.s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
}

func (c *call) agentCalculateDays() {
	var req wire.CalculateDaysRequest
	if !c.body(&req, true) {
		return
	}
	if req.AppointmentEntity == nil || req.AppointmentEntity.Recurrence == nil {
		c.err(http.StatusBadRequest, "ArgumentNullException", "AppointmentEntity.Recurrence is required")
		return
	}
	first, _, _ := wire.ParseDate(req.AppointmentEntity.StartDate, c.z.loc)
	p, err := parsePattern(req.AppointmentEntity.Recurrence, c.z, c.s.loc, first)
	if err != nil {
		c.err(http.StatusBadRequest, "SoValidationException", err.Error())
		return
	}
	dates, err := p.expand()
	if err != nil {
		c.err(http.StatusBadRequest, "SoValidationException", err.Error())
		return
	}
	c.json(http.StatusOK, p.toWire(req.AppointmentEntity.Recurrence.RecurrenceId, c.z, c.s.loc, dates))
}

func (c *call) agentCreateForUID() {
	var req wire.CreateAppointmentForUIDRequest
	if !c.body(&req, true) {
		return
	}
	if req.AppointmentEntity == nil || req.UID == "" {
		c.err(http.StatusBadRequest, "ArgumentNullException", "AppointmentEntity and UID are required")
		return
	}
	c.s.mu.Lock()
	if id, ok := c.s.st.uids[req.UID]; ok {
		a := c.s.st.appts[id]
		out := c.s.entity(a, c.z)
		c.s.mu.Unlock()
		c.json(http.StatusOK, out)
		return
	}
	var log changeLog
	// [unconfirmed] whether this notifies participants; the emulator assumes not,
	// as it stores an invitation that came from elsewhere.
	a, err := c.s.createAppointment(req.AppointmentEntity, c.z, c.writeCtx(false), &log)
	var out *wire.AppointmentEntity
	if err == nil {
		m := a.id
		if a.mother != 0 {
			m = a.mother
		}
		c.s.st.uids[req.UID] = m
		c.s.st.uidOf[m] = req.UID
		out = c.s.entity(a, c.z)
	}
	c.s.notifyLocked(log)
	c.s.mu.Unlock()
	if err != nil {
		c.writeErr(err)
		return
	}
	c.json(http.StatusOK, out)
}

func (c *call) agentGetFromUID() {
	var req wire.GetAppointmentFromUIDRequest
	if !c.body(&req, true) {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	id, ok := c.s.st.uids[req.UID]
	if !ok || c.s.st.appts[id] == nil {
		c.null()
		return
	}
	c.json(http.StatusOK, c.s.entity(c.s.st.appts[id], c.z))
}

func (c *call) agentGetUID() {
	var req wire.GetUIDFromAppointmentIdRequest
	if !c.body(&req, true) {
		return
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	a := c.s.st.appts[int(req.AppointmentId)]
	if a == nil {
		c.null()
		return
	}
	id := a.id
	if req.UseMotherId && a.mother != 0 {
		id = a.mother
	}
	c.json(http.StatusOK, c.s.st.uidOf[id])
}

func (c *call) agentTaskListItems() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out := []wire.TaskListItem{}
	for _, t := range c.s.st.tasks {
		out = append(out, *c.s.taskCarrier(t.id))
	}
	c.json(http.StatusOK, out)
}
