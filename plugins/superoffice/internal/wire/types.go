// Package wire holds the JSON carriers of the SuperOffice WebAPI that both the
// provider and its emulator speak, named exactly as on the wire (PascalCase, as
// in SuperOffice's Swagger descriptions), plus the codecs for its date, time
// span and enum conventions.
//
// Decoding is lenient the way the real server is: encoding/json matches names
// case-insensitively, and the flexible types below accept what SuperOffice's own
// JavaScript client sends (numbers where a string is declared, ISO 8601
// durations, dates with milliseconds and Z). Encoding always produces the
// server's own form. Date fields are kept as strings here; ParseDate and
// FormatDate convert them, because their meaning (local wall clock or UTC,
// with or without an offset) depends on the request's SO-TimeZone header.
package wire

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Error is the error envelope of the WebAPI.
type Error struct {
	Error        bool   `json:"Error"`
	ErrorType    string `json:"ErrorType"`
	ErrorMessage string `json:"ErrorMessage"`
	ErrorSource  string `json:"ErrorSource"`
}

// FlexString decodes a JSON string, number or boolean into its text (the JS client
// sends TableRight.Mask as a number); it encodes as a string.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if s, ok := plainString(b); ok {
			*f = FlexString(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
		return nil
	}
	*f = FlexString(string(b))
	return nil
}

// plainString is the text of a JSON string literal that has no escapes and
// no control characters and is UTF-8: what decoding it gives, without decoding.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	ascii := true
	for _, c := range in {
		if c < 0x20 || c == '\\' || c == '"' {
			return "", false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// FlexInt decodes a JSON number or a numeric string; it encodes as a number.
type FlexInt int

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		s, ok := plainString(b)
		if !ok {
			if err := json.Unmarshal(b, &s); err != nil {
				return err
			}
		}
		if s == "" {
			*f = 0
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		*f = FlexInt(n)
		return nil
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*f = FlexInt(n) // a plain integer, the usual case
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	i, err := n.Int64()
	if err != nil {
		fl, ferr := n.Float64()
		if ferr != nil {
			return err
		}
		i = int64(fl)
	}
	*f = FlexInt(i)
	return nil
}

// TableRight is the rights mask the server attaches to carriers.
type TableRight struct {
	Mask   FlexString `json:"Mask"`
	Reason string     `json:"Reason"`
}

// Associate is the Associate carrier (owner, creator, participant).
type Associate struct {
	AssociateId int         `json:"AssociateId"`
	Name        string      `json:"Name"`
	PersonId    int         `json:"PersonId"`
	Rank        int         `json:"Rank"`
	Tooltip     string      `json:"Tooltip"`
	Type        string      `json:"Type"`
	GroupIdx    int         `json:"GroupIdx"`
	FullName    string      `json:"FullName"`
	FormalName  string      `json:"FormalName"`
	Deleted     bool        `json:"Deleted"`
	EjUserId    int         `json:"EjUserId"`
	UserName    string      `json:"UserName"`
	TableRight  *TableRight `json:"TableRight"`
}

// TaskListItem is an entry of the activity type list ("Task").
type TaskListItem struct {
	TaskListItemId       int    `json:"TaskListItemId"`
	Value                string `json:"Value"`
	Direction            string `json:"Direction,omitempty"`
	Type                 string `json:"Type,omitempty"`
	Tooltip              string `json:"Tooltip"`
	Deleted              bool   `json:"Deleted"`
	IntentId             int    `json:"IntentId"`
	Rank                 int    `json:"Rank"`
	IsDefaultAlldayEvent bool   `json:"IsDefaultAlldayEvent"`
	IsDefaultFree        bool   `json:"IsDefaultFree"`
	IsDefaultPublished   bool   `json:"IsDefaultPublished"`
}

// Person is the Person carrier (as far as the diary needs it).
type Person struct {
	PersonId  int    `json:"PersonId"`
	Firstname string `json:"Firstname"`
	Lastname  string `json:"Lastname"`
	Email     string `json:"Email"`
	FullName  string `json:"FullName"`
	ContactId int    `json:"ContactId"`
}

// VisibleFor is one visibility grant of a private appointment.
type VisibleFor struct {
	VisibleId    int    `json:"VisibleId"`
	Visibility   string `json:"Visibility"`
	DisplayValue string `json:"DisplayValue"`
}

// ParticipantInfo is one participant of a booking.
type ParticipantInfo struct {
	AssociateId           int    `json:"AssociateId"`
	PersonId              int    `json:"PersonId"`
	ContactId             int    `json:"ContactId"`
	EmailId               int    `json:"EmailId"`
	SendEmail             bool   `json:"SendEmail"`
	InvitationStatus      string `json:"InvitationStatus,omitempty"`
	EmailAddress          string `json:"EmailAddress"`
	Description           string `json:"Description"`
	ExternallyOwnedType   string `json:"ExternallyOwnedType,omitempty"`
	ExternallyOwnedStatus string `json:"ExternallyOwnedStatus,omitempty"`
}

// RecurrenceDate is one date of a recurrence.
type RecurrenceDate struct {
	Date        string `json:"Date"`
	IsConflict  bool   `json:"IsConflict"`
	Description string `json:"Description"`
	Tooltip     string `json:"Tooltip"`
}

// RecurrenceDayPattern is the daily pattern.
type RecurrenceDayPattern struct {
	Pattern string `json:"Pattern"`
	Cycle   int    `json:"Cycle"`
}

// RecurrenceWeekPattern is the weekly pattern. Weekdays is a flags enum written
// as "Monday, Wednesday".
type RecurrenceWeekPattern struct {
	Weekdays string `json:"Weekdays"`
	Cycle    int    `json:"Cycle"`
}

// RecurrenceMonthPattern is the monthly (and, as RecurrenceYearPattern, yearly) pattern.
type RecurrenceMonthPattern struct {
	Pattern     string `json:"Pattern"`
	Cycle       int    `json:"Cycle"`
	Day         int    `json:"Day"`
	Weekday     string `json:"Weekday"`
	WeekOfMonth string `json:"WeekOfMonth"`
}

// RecurrenceInfo describes the rule of a recurring appointment.
type RecurrenceInfo struct {
	RecurrenceId      int                     `json:"RecurrenceId"`
	StartDate         string                  `json:"StartDate"`
	EndDate           string                  `json:"EndDate"`
	RecurrenceCounter int                     `json:"RecurrenceCounter"`
	RecurrenceEndType string                  `json:"RecurrenceEndType"`
	Pattern           string                  `json:"Pattern"`
	DayPattern        *RecurrenceDayPattern   `json:"DayPattern"`
	WeekPattern       *RecurrenceWeekPattern  `json:"WeekPattern"`
	MonthPattern      *RecurrenceMonthPattern `json:"MonthPattern"`
	YearPattern       *RecurrenceMonthPattern `json:"YearPattern"`
	Dates             []RecurrenceDate        `json:"Dates"`
	IsRecurrence      bool                    `json:"IsRecurrence"`
}

// AppointmentEntity is the full appointment carrier of REST and the Agents.
// Fields the diary never uses (Contact, Sale, ...) stay null on the wire.
type AppointmentEntity struct {
	Associate               *Associate        `json:"Associate"`
	Contact                 json.RawMessage   `json:"Contact"`
	CreatedBy               *Associate        `json:"CreatedBy"`
	UpdatedBy               *Associate        `json:"UpdatedBy"`
	CreatedDate             string            `json:"CreatedDate"`
	AppointmentId           FlexInt           `json:"AppointmentId"`
	Description             string            `json:"Description"`
	Title                   string            `json:"Title"`
	Agenda                  string            `json:"Agenda"`
	InternalNotes           string            `json:"InternalNotes"`
	StartDate               string            `json:"StartDate"`
	EndDate                 string            `json:"EndDate"`
	InvitedPerson           *Person           `json:"InvitedPerson"`
	Person                  *Person           `json:"Person"`
	MotherId                FlexInt           `json:"MotherId"`
	Priority                json.RawMessage   `json:"Priority"`
	Private                 string            `json:"Private"`
	Project                 json.RawMessage   `json:"Project"`
	Type                    string            `json:"Type"`
	UpdatedDate             string            `json:"UpdatedDate"`
	Completed               string            `json:"Completed"`
	ActiveLinks             int               `json:"ActiveLinks"`
	Links                   []json.RawMessage `json:"Links"`
	AlarmLeadTime           string            `json:"AlarmLeadTime"`
	HasAlarm                bool              `json:"HasAlarm"`
	ColorIndex              int               `json:"ColorIndex"`
	IsFree                  bool              `json:"IsFree"`
	IsAlldayEvent           bool              `json:"IsAlldayEvent"`
	LagTime                 string            `json:"LagTime"`
	LeadTime                string            `json:"LeadTime"`
	Location                string            `json:"Location"`
	RejectCounter           int               `json:"RejectCounter"`
	RejectReason            string            `json:"RejectReason"`
	Recurrence              *RecurrenceInfo   `json:"Recurrence"`
	Participants            []ParticipantInfo `json:"Participants"`
	AssignmentStatus        string            `json:"AssignmentStatus,omitempty"`
	InvitationStatus        string            `json:"InvitationStatus,omitempty"`
	BookingType             string            `json:"BookingType,omitempty"`
	ActiveDate              string            `json:"ActiveDate"`
	HasConflict             bool              `json:"HasConflict"`
	AssignedBy              *Associate        `json:"AssignedBy"`
	MotherAssociate         *Associate        `json:"MotherAssociate"`
	Task                    *TaskListItem     `json:"Task"`
	PreferredTZLocation     int               `json:"PreferredTZLocation"`
	Sale                    json.RawMessage   `json:"Sale"`
	SuggestedAppointmentId  int               `json:"SuggestedAppointmentId"`
	IsMileStone             bool              `json:"IsMileStone"`
	CautionWarning          string            `json:"CautionWarning,omitempty"`
	OwnedExternally         string            `json:"OwnedExternally,omitempty"`
	JoinVideomeetUrl        string            `json:"JoinVideomeetUrl"`
	CentralserviceVideomeet string            `json:"CentralserviceVideomeetId"`
	CustomFields            map[string]string `json:"CustomFields"`
	ExtraFields             map[string]string `json:"ExtraFields"`
	VisibleFor              []VisibleFor      `json:"VisibleFor"`
	TableRight              *TableRight       `json:"TableRight"`
	Links_                  map[string]string `json:"_Links,omitempty"`
}

// Appointment is the flat read-only carrier the diary agents return.
type Appointment struct {
	AppointmentId        int         `json:"AppointmentId"`
	StartDate            string      `json:"StartDate"`
	EndDate              string      `json:"EndDate"`
	Type                 string      `json:"Type"`
	Task                 string      `json:"Task"`
	AssociateFullName    string      `json:"AssociateFullName"`
	ContactName          string      `json:"ContactName"`
	Description          string      `json:"Description"`
	PersonFullName       string      `json:"PersonFullName"`
	PersonId             int         `json:"PersonId"`
	ContactId            int         `json:"ContactId"`
	ProjectId            int         `json:"ProjectId"`
	ProjectName          string      `json:"ProjectName"`
	IsPublished          bool        `json:"IsPublished"`
	AssociateId          int         `json:"AssociateId"`
	ColorIndex           int         `json:"ColorIndex"`
	IsFree               bool        `json:"IsFree"`
	HasAlarm             bool        `json:"HasAlarm"`
	IsAlldayEvent        bool        `json:"IsAlldayEvent"`
	Private              string      `json:"Private"`
	PriorityId           int         `json:"PriorityId"`
	PriorityName         string      `json:"PriorityName"`
	TaskType             string      `json:"TaskType,omitempty"`
	IsBookingMain        bool        `json:"IsBookingMain"`
	IsRecurrence         bool        `json:"IsRecurrence"`
	IsBooking            bool        `json:"IsBooking"`
	ActiveDate           string      `json:"ActiveDate"`
	AssignmentStatus     string      `json:"AssignmentStatus,omitempty"`
	InvitationStatus     string      `json:"InvitationStatus,omitempty"`
	BookingType          string      `json:"BookingType,omitempty"`
	Completed            string      `json:"Completed,omitempty"`
	RecurringPattern     string      `json:"RecurringPattern,omitempty"`
	RecurringStartDate   string      `json:"RecurringStartDate"`
	RecurringEndDate     string      `json:"RecurringEndDate"`
	MotherId             int         `json:"MotherId"`
	AssignedBy           int         `json:"AssignedBy"`
	AssignedByFullName   string      `json:"AssignedByFullName"`
	RejectReason         string      `json:"RejectReason"`
	Location             string      `json:"Location"`
	AlarmLeadTime        string      `json:"AlarmLeadTime"`
	SaleId               int         `json:"SaleId"`
	SaleName             string      `json:"SaleName"`
	AssociateName        string      `json:"AssociateName"`
	CreatedDate          string      `json:"CreatedDate"`
	CreatedBy            string      `json:"CreatedBy"`
	CreatedByFullName    string      `json:"CreatedByFullName"`
	CreatedByAssociateId int         `json:"CreatedByAssociateId"`
	CautionWarning       string      `json:"CautionWarning,omitempty"`
	OwnedExternally      string      `json:"OwnedExternally,omitempty"`
	MotherAssociateId    int         `json:"MotherAssociateId"`
	JoinVideomeetUrl     string      `json:"JoinVideomeetUrl"`
	PreferredTZLocation  int         `json:"PreferredTZLocation"`
	Title                string      `json:"Title"`
	Agenda               string      `json:"Agenda"`
	InternalNotes        string      `json:"InternalNotes"`
	TaskId               int         `json:"TaskId"`
	TableRight           *TableRight `json:"TableRight"`
}

// SaveRequest is the body of Agents/Appointment/Save.
type SaveRequest struct {
	AppointmentEntity       *AppointmentEntity `json:"AppointmentEntity"`
	UpdateMode              string             `json:"UpdateMode"`
	SendEmailToParticipants bool               `json:"SendEmailToParticipants"`
}

// DeleteRequest is the body of Agents/Appointment/Delete.
type DeleteRequest struct {
	AppointmentId           FlexInt `json:"AppointmentId"`
	UpdateMode              string  `json:"UpdateMode"`
	SendEmailToParticipants bool    `json:"SendEmailToParticipants"`
}

// GetAssociateDiaryRequest is the body of Agents/Appointment/GetAssociateDiary.
type GetAssociateDiaryRequest struct {
	AssociateId FlexInt `json:"AssociateId"`
	StartTime   string  `json:"StartTime"`
	EndTime     string  `json:"EndTime"`
	Count       FlexInt `json:"Count"`
}

// GetAppointmentRecordsRequest is the body of Agents/Appointment/GetAppointmentRecords.
type GetAppointmentRecordsRequest struct {
	MotherId         FlexInt `json:"MotherId"`
	RecurrenceRuleId FlexInt `json:"RecurrenceRuleId"`
}

// UpdateAppointmentWithModeRequest is the body of Agents/Appointment/UpdateAppointmentWithMode.
type UpdateAppointmentWithModeRequest struct {
	Id          FlexInt `json:"Id"`
	StartTime   string  `json:"StartTime"`
	EndTime     string  `json:"EndTime"`
	Status      string  `json:"Status"`
	Type        string  `json:"Type"`
	AssociateId FlexInt `json:"AssociateId"`
	UpdateMode  string  `json:"UpdateMode"`
}

// AcceptRejectRequest is the body of Agents/Appointment/Accept and Reject.
type AcceptRejectRequest struct {
	AppointmentId FlexInt `json:"AppointmentId"`
	UpdateMode    string  `json:"UpdateMode"`
	RejectReason  string  `json:"RejectReason"`
}

// CalculateDaysRequest is the body of Agents/Appointment/CalculateDays.
type CalculateDaysRequest struct {
	AppointmentEntity *AppointmentEntity `json:"AppointmentEntity"`
}

// CreateAppointmentForUIDRequest is the body of Agents/Appointment/CreateAppointmentForUID.
type CreateAppointmentForUIDRequest struct {
	AppointmentEntity *AppointmentEntity `json:"AppointmentEntity"`
	UID               string             `json:"UID"`
}

// GetAppointmentFromUIDRequest is the body of Agents/Appointment/GetAppointmentFromUID.
type GetAppointmentFromUIDRequest struct {
	UID string `json:"UID"`
}

// GetUIDFromAppointmentIdRequest is the body of Agents/Appointment/GetUIDFromAppointmentId.
type GetUIDFromAppointmentIdRequest struct {
	AppointmentId FlexInt `json:"AppointmentId"`
	UseMotherId   bool    `json:"UseMotherId"`
}

// ODataResponse is the answer of an OData archive search.
type ODataResponse struct {
	Metadata string           `json:"odata.metadata"`
	NextLink *string          `json:"odata.nextLink"`
	Value    []map[string]any `json:"value"`
}

// TenantState is the answer of the tenant status API.
type TenantState struct {
	ContextIdentifier string `json:"ContextIdentifier"`
	Endpoint          string `json:"Endpoint"`
	State             string `json:"State"`
	IsRunning         bool   `json:"IsRunning"`
	ValidUntil        string `json:"ValidUntil"`
	Api               string `json:"Api"`
	Version           string `json:"Version"`
}

// SystemUserRequest is the body of Login/api/PartnerSystemUser/Authenticate.
type SystemUserRequest struct {
	SignedSystemToken string `json:"SignedSystemToken"`
	ApplicationToken  string `json:"ApplicationToken"`
	ContextIdentifier string `json:"ContextIdentifier"`
	ReturnTokenType   string `json:"ReturnTokenType"`
}

// SystemUserResponse is its answer.
type SystemUserResponse struct {
	IsSuccessful bool    `json:"IsSuccessful"`
	ErrorMessage *string `json:"ErrorMessage"`
	Token        string  `json:"Token"`
}

// ForeignKey is one foreign key of an integrator's app.
type ForeignKey struct {
	Key         string      `json:"Key"`
	Value       string      `json:"Value"`
	RecordId    FlexInt     `json:"RecordId"`
	CreatedDate string      `json:"CreatedDate"`
	UpdatedDate string      `json:"UpdatedDate"`
	UpdatedBy   string      `json:"UpdatedBy"`
	CreatedBy   string      `json:"CreatedBy"`
	TableName   string      `json:"TableName"`
	TableRight  *TableRight `json:"TableRight"`
}

// ForeignDevice is a device of an integrator's app.
type ForeignDevice struct {
	ForeignDeviceId   int         `json:"ForeignDeviceId"`
	Name              string      `json:"Name"`
	CreatedDate       string      `json:"CreatedDate"`
	UpdatedDate       string      `json:"UpdatedDate"`
	AssociateFullName string      `json:"AssociateFullName"`
	CreatedBy         string      `json:"CreatedBy"`
	UpdatedBy         string      `json:"UpdatedBy"`
	DeviceIdentifier  string      `json:"DeviceIdentifier"`
	ForeignAppId      int         `json:"ForeignAppId"`
	TableRight        *TableRight `json:"TableRight"`
}
