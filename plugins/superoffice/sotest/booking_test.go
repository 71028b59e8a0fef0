package sotest_test

import (
	"fmt"
	"strconv"
	"testing"

	"synchronizer/plugins/superoffice/internal/wire"
)

func (f *fixture) records(motherID, ruleID int) []wire.Appointment {
	f.t.Helper()
	var rows []wire.Appointment
	f.post("/v1/Agents/Appointment/GetAppointmentRecords", map[string]int{"MotherId": motherID, "RecurrenceRuleId": ruleID}).json(f.t, &rows)
	return rows
}

func TestBookingRows(t *testing.T) {
	f := newFixture(t, nil)
	person := f.so.AddPerson("Guest", "guest@example.com")
	save := func(send bool) wire.AppointmentEntity {
		body := fmt.Sprintf(`{"AppointmentEntity":{"Associate":{"AssociateId":%d},"Description":"Meeting","StartDate":"2025-04-01T09:00:00","EndDate":"2025-04-01T10:00:00",
			"Participants":[{"AssociateId":%d},{"AssociateId":%d},{"AssociateId":%d},{"PersonId":%d}]},"UpdateMode":"OnlyThis","SendEmailToParticipants":%v}`,
			f.user1, f.user1, f.user2, f.room, person, send)
		a := f.do("POST", "/v1/Agents/Appointment/Save", body)
		if a.status != 200 {
			t.Fatalf("save: %d %s", a.status, a.body)
		}
		var e wire.AppointmentEntity
		a.json(t, &e)
		return e
	}
	m := save(false)
	if f.so.MailsSent() != 0 {
		t.Errorf("mails without SendEmailToParticipants: %d", f.so.MailsSent())
	}
	if m.MotherId != m.AppointmentId || m.BookingType != "Owner" || len(m.Participants) != 4 {
		t.Fatalf("mother = id %d mother %d type %s participants %d", m.AppointmentId, m.MotherId, m.BookingType, len(m.Participants))
	}
	rows := f.records(int(m.AppointmentId), 0)
	if len(rows) != 4 {
		t.Fatalf("rows = %d", len(rows))
	}
	by := map[int]wire.Appointment{}
	for _, r := range rows {
		if r.PersonId != 0 && r.AssociateId == f.user1 && r.AppointmentId != int(m.AppointmentId) {
			by[-1] = r
			continue
		}
		by[r.AssociateId] = r
	}
	if r := by[f.user2]; r.Type != "BookingForDiary" || r.InvitationStatus != "Invitation" || r.MotherId != int(m.AppointmentId) || r.BookingType != "Participant" {
		t.Errorf("colleague row = %+v", r)
	}
	if r := by[f.room]; r.Type != "inDiary" || r.InvitationStatus != "Accepted" {
		t.Errorf("resource row = %+v", r)
	}
	if r, ok := by[-1]; !ok || r.PersonId != person {
		t.Errorf("person row missing: %+v", rows)
	}
	// Accept, then decline.
	child := by[f.user2].AppointmentId
	if a := f.post("/v1/Agents/Appointment/Accept", map[string]any{"AppointmentId": child, "UpdateMode": "OnlyThis"}); a.status != 204 {
		t.Fatalf("accept: %d", a.status)
	}
	var e wire.AppointmentEntity
	f.do("GET", "/v1/Appointment/"+strconv.Itoa(child), "").json(t, &e)
	if e.Type != "inDiary" || e.InvitationStatus != "Accepted" || e.Completed != "NotStarted" {
		t.Errorf("accepted = %s %s %s", e.Type, e.InvitationStatus, e.Completed)
	}
	f.post("/v1/Agents/Appointment/Reject", map[string]any{"AppointmentId": child, "RejectReason": "busy"})
	f.do("GET", "/v1/Appointment/"+strconv.Itoa(child), "").json(t, &e)
	if e.InvitationStatus != "Declined" || e.RejectReason != "busy" {
		t.Errorf("declined = %s %q", e.InvitationStatus, e.RejectReason)
	}
	// Deleting the mother cancels the booking.
	if a := f.post("/v1/Agents/Appointment/Delete", map[string]any{"AppointmentId": m.AppointmentId, "UpdateMode": "OnlyThis", "SendEmailToParticipants": false}); a.status != 204 {
		t.Fatalf("delete: %d", a.status)
	}
	f.do("GET", "/v1/Appointment/"+strconv.Itoa(child), "").json(t, &e)
	if e.InvitationStatus != "Cancelled" {
		t.Errorf("after the mother was deleted: %s", e.InvitationStatus)
	}
	// A cancelled booking takes no answer: it stays cancelled.
	for _, agent := range []string{"Accept", "Reject"} {
		f.post("/v1/Agents/Appointment/"+agent, map[string]any{"AppointmentId": child, "UpdateMode": "OnlyThis"})
		f.do("GET", "/v1/Appointment/"+strconv.Itoa(child), "").json(t, &e)
		if e.InvitationStatus != "Cancelled" {
			t.Errorf("a cancelled booking after %s: %s", agent, e.InvitationStatus)
		}
	}
	if a := f.do("GET", "/v1/Appointment/"+strconv.Itoa(by[f.room].AppointmentId), ""); a.status != 404 {
		t.Errorf("resource row after delete: %d", a.status)
	}
	if f.so.MailsSent() != 0 {
		t.Errorf("mails: %d", f.so.MailsSent())
	}
	// With SendEmailToParticipants, and through REST, the system notifies.
	save(true)
	if n := f.so.MailsSent(); n != 2 {
		t.Errorf("mails with SendEmailToParticipants = %d, want 2 (colleague and guest)", n)
	}
}

func TestRecurrenceStoredExpanded(t *testing.T) {
	f := newFixture(t, nil)
	noEnd := fmt.Sprintf(`{"AppointmentEntity":{"Associate":{"AssociateId":%d},"StartDate":"2025-04-01T09:00:00","EndDate":"2025-04-01T10:00:00",
		"Recurrence":{"IsRecurrence":true,"Pattern":"Weekly","WeekPattern":{"Weekdays":"Tuesday","Cycle":1}}},"UpdateMode":"OnlyThis"}`, f.user1)
	if a := f.do("POST", "/v1/Agents/Appointment/Save", noEnd); a.status != 400 {
		t.Errorf("series without end: %d %s", a.status, a.body)
	}
	body := fmt.Sprintf(`{"AppointmentEntity":{"Associate":{"AssociateId":%d},"Description":"Weekly","StartDate":"2025-04-01T09:00:00","EndDate":"2025-04-01T10:00:00",
		"Recurrence":{"IsRecurrence":true,"Pattern":"Weekly","WeekPattern":{"Weekdays":"Tuesday, Thursday","Cycle":2},"RecurrenceEndType":"Counter","RecurrenceCounter":6}},"UpdateMode":"OnlyThis"}`, f.user1)
	a := f.do("POST", "/v1/Agents/Appointment/Save", body)
	if a.status != 200 {
		t.Fatalf("save: %d %s", a.status, a.body)
	}
	var e wire.AppointmentEntity
	a.json(t, &e)
	rule := e.Recurrence.RecurrenceId
	rows := f.records(0, rule)
	var dates []string
	for _, r := range rows {
		dates = append(dates, r.StartDate[:10])
	}
	want := []string{"2025-04-01", "2025-04-03", "2025-04-15", "2025-04-17", "2025-04-29", "2025-05-01"}
	if fmt.Sprint(dates) != fmt.Sprint(want) {
		t.Errorf("occurrences = %v, want %v", dates, want)
	}
	if len(e.Recurrence.Dates) != 6 || e.Recurrence.WeekPattern.Weekdays != "Tuesday, Thursday" {
		t.Errorf("recurrence info = %+v", e.Recurrence)
	}
	// OnlyThis changes one row; it keeps the rule.
	third := rows[2].AppointmentId
	f.post("/v1/Agents/Appointment/Save", map[string]any{"AppointmentEntity": map[string]any{"AppointmentId": third, "Description": "Moved",
		"StartDate": "2025-04-16T09:00:00", "EndDate": "2025-04-16T10:00:00"}, "UpdateMode": "OnlyThis"})
	rows = f.records(0, rule)
	if len(rows) != 6 || rows[2].StartDate != "2025-04-16T09:00:00" || rows[2].Description != "Moved" || rows[3].Description != "Weekly" {
		t.Errorf("after OnlyThis: %+v", rows)
	}
	// ThisAndForward deletes from the fourth on.
	f.post("/v1/Agents/Appointment/Delete", map[string]any{"AppointmentId": rows[3].AppointmentId, "UpdateMode": "ThisAndForward"})
	if rows = f.records(0, rule); len(rows) != 3 {
		t.Errorf("after deleting this and forward: %d rows", len(rows))
	}
	var calc wire.RecurrenceInfo
	f.post("/v1/Agents/Appointment/CalculateDays", map[string]any{"AppointmentEntity": map[string]any{"StartDate": "2025-01-31T09:00:00",
		"Recurrence": map[string]any{"IsRecurrence": true, "Pattern": "Monthly", "MonthPattern": map[string]any{"Pattern": "DayOfMonth", "Day": 31, "Cycle": 1},
			"RecurrenceEndType": "Counter", "RecurrenceCounter": 3}}}).json(t, &calc)
	var got []string
	for _, d := range calc.Dates {
		got = append(got, d.Date[:10])
	}
	if fmt.Sprint(got) != "[2025-01-31 2025-03-31 2025-05-31]" {
		t.Errorf("CalculateDays = %v", got)
	}
}

func TestUIDAndUpdateWithMode(t *testing.T) {
	f := newFixture(t, nil)
	a := f.post("/v1/Agents/Appointment/CreateAppointmentForUID", map[string]any{"UID": "abc@example.com",
		"AppointmentEntity": map[string]any{"Associate": map[string]int{"AssociateId": f.user1}, "Description": "Imported",
			"StartDate": "2025-05-05T10:00:00", "EndDate": "2025-05-05T11:00:00"}})
	if a.status != 200 {
		t.Fatalf("create for UID: %d %s", a.status, a.body)
	}
	var e wire.AppointmentEntity
	a.json(t, &e)
	var again wire.AppointmentEntity
	f.post("/v1/Agents/Appointment/CreateAppointmentForUID", map[string]any{"UID": "abc@example.com",
		"AppointmentEntity": map[string]any{"Associate": map[string]int{"AssociateId": f.user1}}}).json(t, &again)
	if again.AppointmentId != e.AppointmentId {
		t.Errorf("the same UID made a second appointment: %d vs %d", again.AppointmentId, e.AppointmentId)
	}
	var found wire.AppointmentEntity
	f.post("/v1/Agents/Appointment/GetAppointmentFromUID", map[string]string{"UID": "abc@example.com"}).json(t, &found)
	var uid string
	f.post("/v1/Agents/Appointment/GetUIDFromAppointmentId", map[string]any{"AppointmentId": e.AppointmentId, "UseMotherId": true}).json(t, &uid)
	if found.AppointmentId != e.AppointmentId || uid != "abc@example.com" {
		t.Errorf("UID lookups: %d %q", found.AppointmentId, uid)
	}
	if a := f.post("/v1/Agents/Appointment/GetAppointmentFromUID", map[string]string{"UID": "nope"}); string(a.body) != "null" {
		t.Errorf("unknown UID: %s", a.body)
	}
	var moved wire.Appointment
	f.post("/v1/Agents/Appointment/UpdateAppointmentWithMode", map[string]any{"Id": e.AppointmentId, "StartTime": "2025-05-06T10:00:00",
		"EndTime": "2025-05-06T12:00:00", "Status": "Completed", "UpdateMode": "OnlyThis"}).json(t, &moved)
	if moved.StartDate != "2025-05-06T10:00:00" || moved.EndDate != "2025-05-06T12:00:00" || moved.Completed != "Completed" {
		t.Errorf("update with mode = %+v", moved)
	}
	var parts wire.ODataResponse
	f.do("GET", fmt.Sprintf("/v1/Appointment/%d/Participants", e.AppointmentId), "").json(t, &parts)
	if len(parts.Value) != 0 {
		t.Errorf("participants of a plain appointment: %v", parts.Value)
	}
}
