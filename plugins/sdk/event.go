package sdk

import "time"

// EventKind says what an Event is within a recurring series.
type EventKind string

const (
	KindSingle    EventKind = "single"    // not part of a series
	KindMaster    EventKind = "master"    // a series: Recurrence holds its rule
	KindException EventKind = "exception" // one occurrence of a series that differs from the rule
)

// ShowAs is the free/busy status the event gives its owner.
type ShowAs string

const (
	ShowBusy      ShowAs = "busy"
	ShowFree      ShowAs = "free"
	ShowTentative ShowAs = "tentative"
	ShowOOF       ShowAs = "oof"
)

// Privacy of an event. Providers with finer grades (Graph's personal/confidential)
// map them to the nearest of these two.
type Privacy string

const (
	PrivacyPublic  Privacy = "public"
	PrivacyPrivate Privacy = "private"
)

// AttendeeType says how an attendee takes part.
type AttendeeType string

const (
	AttendeeRequired AttendeeType = "required"
	AttendeeOptional AttendeeType = "optional"
	AttendeeResource AttendeeType = "resource" // a room or piece of equipment
)

// Response is an attendee's answer to a meeting.
type Response string

const (
	ResponseNone      Response = "none"
	ResponseOrganizer Response = "organizer"
	ResponseAccepted  Response = "accepted"
	ResponseTentative Response = "tentative"
	ResponseDeclined  Response = "declined"
)

// Attendee is a participant of a meeting, or its organizer.
type Attendee struct {
	Email string
	Name  string
	Type  AttendeeType
	// Response is the attendee's answer as the calendar system knows it.
	Response Response
	// AccountID is the provider's own id of the attendee when it is one of the
	// system's accounts (a SuperOffice associate id, a Graph user id); empty otherwise.
	AccountID string
}

// Event is one calendar item in provider-neutral form: a single event, a series
// master, or an exception of a series. Plain expanded occurrences never travel.
//
// Times: a timed event has Start and End as instants plus the IANA zone it was
// created in (TimeZone, "" when unknown; the instants are authoritative). An all-day
// event has AllDay set and Start/End at midnight UTC of its first day and of the day
// after its last day (end exclusive); TimeZone is ignored.
type Event struct {
	// ID is the provider's id of the item in the target's calendar.
	ID string
	// Version is an opaque precondition token: Graph's changeKey/etag, Google's etag,
	// SuperOffice's updated time. Update and Delete take it back.
	Version string
	// ICalUID is the RFC 5545 UID where the system has one.
	ICalUID string
	// CorrelationID is the synchronizer's tag, stamped on items it creates (Graph
	// extended property, Google private extended property, SuperOffice foreign key).
	CorrelationID string

	Kind EventKind
	// SeriesID is the provider id of the master, on exceptions.
	SeriesID string
	// OriginalStart is the start the occurrence had in the series, on exceptions
	// (midnight UTC of the original day for all-day series).
	OriginalStart time.Time
	// Recurrence holds RFC 5545 lines (RRULE:, EXDATE:, RDATE:) on masters only. The
	// series starts at Start (in TimeZone). A cancelled occurrence is an EXDATE.
	// EXDATE/RDATE values are written in UTC (20240506T070000Z) or, for all-day
	// series, as VALUE=DATE; readers also accept the TZID= form.
	Recurrence []string
	// Cancelled marks a meeting its organizer cancelled that still shows in this
	// calendar (Graph isCancelled, SuperOffice BookingDeleted).
	Cancelled bool

	Title           string
	Description     string // plain text
	DescriptionHTML string // HTML, when the source has it; "" otherwise
	Location        string

	Start    time.Time
	End      time.Time
	TimeZone string
	AllDay   bool

	ShowAs          ShowAs
	Privacy         Privacy
	HasReminder     bool
	ReminderMinutes int
	// Category is the event's type or first category (SuperOffice task type).
	Category string

	// Meetings. Organizer is zero for an event without attendees.
	Organizer Attendee
	Attendees []Attendee
	// IsOrganizer tells whether the calendar's owner organizes this meeting.
	IsOrganizer bool
	// MeetingKey identifies one meeting across every participant's calendar in the same
	// system: SuperOffice mother id, Graph iCalUId of the organizer's event, Google
	// event id. Empty for events without attendees.
	MeetingKey string
	// Response is the calendar owner's own answer when it is an attendee.
	Response Response

	Created time.Time
	Updated time.Time

	// Extras carries provider-specific values a provider wants back on a later write
	// (never secrets). The engine does not look inside and does not hash them.
	Extras map[string]string
}

// Window is the span of time a sync looks at: events that overlap [Start, End).
type Window struct {
	Start time.Time
	End   time.Time
}

// Contains reports whether an event overlapping [start, end) touches the window.
func (w Window) Contains(start, end time.Time) bool {
	if end.Before(start) {
		end = start
	}
	if end.Equal(start) { // zero-length events still count at their instant
		return !start.Before(w.Start) && start.Before(w.End)
	}
	return start.Before(w.End) && end.After(w.Start)
}
