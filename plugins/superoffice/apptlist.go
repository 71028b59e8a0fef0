package superoffice

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"synchronizer/plugins/superoffice/internal/wire"
)

// The flat Appointment carrier comes in arrays of hundreds (GetAppointmentList,
// GetAppointmentRecords), so its answers are read by a decoder of its own
// rather than by encoding/json's reflection. It reads what encoding/json reads
// into []wire.Appointment, as strictly: members in any order, names matched
// exactly or else without regard to case, unknown members skipped, null leaving
// a field as it is, a value of the wrong kind an error.

// appointmentList decodes an array of wire.Appointment.
type appointmentList struct {
	rows []wire.Appointment
}

// decodeJSON implements bodyDecoder.
func (l *appointmentList) decodeJSON(b []byte) error {
	l.rows = l.rows[:0]
	d := jsonReader{b: b}
	if err := l.read(&d); err != nil {
		l.rows = l.rows[:0]
		return err
	}
	return nil
}

func (l *appointmentList) read(d *jsonReader) error {
	if d.null() {
		return d.end()
	}
	if !d.array() {
		return d.fail("the answer is not an array")
	}
	if l.rows == nil {
		l.rows = []wire.Appointment{}
	}
	for d.more(']') {
		l.rows = append(l.rows, wire.Appointment{})
		a := &l.rows[len(l.rows)-1]
		if d.null() {
			continue
		}
		at := d.i
		if !d.object() {
			return d.failAt(at, "an appointment is not an object")
		}
		for d.more('}') {
			key, err := d.key()
			if err != nil {
				return err
			}
			if err := appointmentField(d, a, key); err != nil {
				return err
			}
		}
		if d.err != nil {
			return d.err
		}
	}
	if d.err != nil {
		return d.err
	}
	return d.end()
}

// appointmentField reads the value of member key into a.
func appointmentField(d *jsonReader, a *wire.Appointment, key []byte) error {
	switch string(key) {
	case "AppointmentId":
		return d.intField(&a.AppointmentId)
	case "StartDate":
		return d.strField(&a.StartDate)
	case "EndDate":
		return d.strField(&a.EndDate)
	case "Type":
		return d.strField(&a.Type)
	case "Task":
		return d.strField(&a.Task)
	case "AssociateFullName":
		return d.strField(&a.AssociateFullName)
	case "ContactName":
		return d.strField(&a.ContactName)
	case "Description":
		return d.strField(&a.Description)
	case "PersonFullName":
		return d.strField(&a.PersonFullName)
	case "PersonId":
		return d.intField(&a.PersonId)
	case "ContactId":
		return d.intField(&a.ContactId)
	case "ProjectId":
		return d.intField(&a.ProjectId)
	case "ProjectName":
		return d.strField(&a.ProjectName)
	case "IsPublished":
		return d.boolField(&a.IsPublished)
	case "AssociateId":
		return d.intField(&a.AssociateId)
	case "ColorIndex":
		return d.intField(&a.ColorIndex)
	case "IsFree":
		return d.boolField(&a.IsFree)
	case "HasAlarm":
		return d.boolField(&a.HasAlarm)
	case "IsAlldayEvent":
		return d.boolField(&a.IsAlldayEvent)
	case "Private":
		return d.strField(&a.Private)
	case "PriorityId":
		return d.intField(&a.PriorityId)
	case "PriorityName":
		return d.strField(&a.PriorityName)
	case "TaskType":
		return d.strField(&a.TaskType)
	case "IsBookingMain":
		return d.boolField(&a.IsBookingMain)
	case "IsRecurrence":
		return d.boolField(&a.IsRecurrence)
	case "IsBooking":
		return d.boolField(&a.IsBooking)
	case "ActiveDate":
		return d.strField(&a.ActiveDate)
	case "AssignmentStatus":
		return d.strField(&a.AssignmentStatus)
	case "InvitationStatus":
		return d.strField(&a.InvitationStatus)
	case "BookingType":
		return d.strField(&a.BookingType)
	case "Completed":
		return d.strField(&a.Completed)
	case "RecurringPattern":
		return d.strField(&a.RecurringPattern)
	case "RecurringStartDate":
		return d.strField(&a.RecurringStartDate)
	case "RecurringEndDate":
		return d.strField(&a.RecurringEndDate)
	case "MotherId":
		return d.intField(&a.MotherId)
	case "AssignedBy":
		return d.intField(&a.AssignedBy)
	case "AssignedByFullName":
		return d.strField(&a.AssignedByFullName)
	case "RejectReason":
		return d.strField(&a.RejectReason)
	case "Location":
		return d.strField(&a.Location)
	case "AlarmLeadTime":
		return d.strField(&a.AlarmLeadTime)
	case "SaleId":
		return d.intField(&a.SaleId)
	case "SaleName":
		return d.strField(&a.SaleName)
	case "AssociateName":
		return d.strField(&a.AssociateName)
	case "CreatedDate":
		return d.strField(&a.CreatedDate)
	case "CreatedBy":
		return d.strField(&a.CreatedBy)
	case "CreatedByFullName":
		return d.strField(&a.CreatedByFullName)
	case "CreatedByAssociateId":
		return d.intField(&a.CreatedByAssociateId)
	case "CautionWarning":
		return d.strField(&a.CautionWarning)
	case "OwnedExternally":
		return d.strField(&a.OwnedExternally)
	case "MotherAssociateId":
		return d.intField(&a.MotherAssociateId)
	case "JoinVideomeetUrl":
		return d.strField(&a.JoinVideomeetUrl)
	case "PreferredTZLocation":
		return d.intField(&a.PreferredTZLocation)
	case "Title":
		return d.strField(&a.Title)
	case "Agenda":
		return d.strField(&a.Agenda)
	case "InternalNotes":
		return d.strField(&a.InternalNotes)
	case "TaskId":
		return d.intField(&a.TaskId)
	case "TableRight":
		return d.jsonField(&a.TableRight)
	}
	for _, name := range appointmentNames {
		if len(name) == len(key) && strings.EqualFold(name, string(key)) {
			return appointmentField(d, a, []byte(name))
		}
	}
	return d.skip()
}

// appointmentNames are the member names of wire.Appointment.
var appointmentNames = [...]string{"AppointmentId", "StartDate", "EndDate", "Type", "Task", "AssociateFullName", "ContactName", "Description", "PersonFullName", "PersonId", "ContactId", "ProjectId", "ProjectName", "IsPublished", "AssociateId", "ColorIndex", "IsFree", "HasAlarm", "IsAlldayEvent", "Private", "PriorityId", "PriorityName", "TaskType", "IsBookingMain", "IsRecurrence", "IsBooking", "ActiveDate", "AssignmentStatus", "InvitationStatus", "BookingType", "Completed", "RecurringPattern", "RecurringStartDate", "RecurringEndDate", "MotherId", "AssignedBy", "AssignedByFullName", "RejectReason", "Location", "AlarmLeadTime", "SaleId", "SaleName", "AssociateName", "CreatedDate", "CreatedBy", "CreatedByFullName", "CreatedByAssociateId", "CautionWarning", "OwnedExternally", "MotherAssociateId", "JoinVideomeetUrl", "PreferredTZLocation", "Title", "Agenda", "InternalNotes", "TaskId", "TableRight"}

// intField reads an integer into v; null leaves it.
func (d *jsonReader) intField(v *int) error {
	if d.null() {
		return nil
	}
	at := d.i
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return d.failAt(at, "want a number, found %q", c)
	}
	num, err := d.number()
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(num), 10, strconv.IntSize)
	if err != nil {
		return d.failAt(at, "%s is not an integer", num)
	}
	*v = int(n)
	return nil
}

// strField reads a string into v; null leaves it. Bytes that are not UTF-8
// become U+FFFD, as encoding/json has them.
func (d *jsonReader) strField(v *string) error {
	if d.null() {
		return nil
	}
	if d.peek() != '"' {
		return d.fail("want a string, found %q", d.peek())
	}
	s, err := d.text()
	if err != nil {
		return err
	}
	*v = validUTF8(s)
	return nil
}

// boolField reads true or false into v; null leaves it.
func (d *jsonReader) boolField(v *bool) error {
	switch d.peek() {
	case 't':
		if err := d.literal("true"); err != nil {
			return err
		}
		*v = true
		return nil
	case 'f':
		if err := d.literal("false"); err != nil {
			return err
		}
		*v = false
		return nil
	case 'n':
		return d.literal("null")
	}
	return d.fail("want true or false, found %q", d.peek())
}

// jsonField reads an object member of any other type with encoding/json; null
// sets it to nil.
func (d *jsonReader) jsonField(v **wire.TableRight) error {
	if d.null() {
		*v = nil
		return nil
	}
	d.ws()
	start := d.i
	if err := d.skip(); err != nil {
		return err
	}
	if *v == nil {
		*v = new(wire.TableRight)
	}
	if err := json.Unmarshal(d.b[start:d.i], *v); err != nil {
		return d.failAt(start, "%v", err)
	}
	return nil
}

// validUTF8 is s as a string, each byte that is not part of valid UTF-8
// replaced by U+FFFD.
func validUTF8(s []byte) string {
	if utf8.Valid(s) {
		return string(s)
	}
	out := make([]byte, 0, len(s)+8)
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[:size]...)
		}
		s = s[size:]
	}
	return string(out)
}
