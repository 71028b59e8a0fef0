package gcaltest

import (
	"encoding/json"
	"fmt"
	"time"
)

// The JSON shapes of the Calendar API v3 resources the emulator serves. Field names
// follow the discovery document (testdata/calendar-v3.json); a test checks that every
// key the emulator writes exists there.

// Event is the calendar#event resource.
type Event struct {
	Kind                    string              `json:"kind"`
	Etag                    string              `json:"etag,omitempty"`
	ID                      string              `json:"id"`
	Status                  string              `json:"status,omitempty"`
	HTMLLink                string              `json:"htmlLink,omitempty"`
	Created                 string              `json:"created,omitempty"`
	Updated                 string              `json:"updated,omitempty"`
	Summary                 string              `json:"summary,omitempty"`
	Description             string              `json:"description,omitempty"`
	Location                string              `json:"location,omitempty"`
	ColorID                 string              `json:"colorId,omitempty"`
	Creator                 *Person             `json:"creator,omitempty"`
	Organizer               *Person             `json:"organizer,omitempty"`
	Start                   *EventDateTime      `json:"start,omitempty"`
	End                     *EventDateTime      `json:"end,omitempty"`
	EndTimeUnspecified      bool                `json:"endTimeUnspecified,omitempty"`
	Recurrence              []string            `json:"recurrence,omitempty"`
	RecurringEventID        string              `json:"recurringEventId,omitempty"`
	OriginalStartTime       *EventDateTime      `json:"originalStartTime,omitempty"`
	Transparency            string              `json:"transparency,omitempty"`
	Visibility              string              `json:"visibility,omitempty"`
	ICalUID                 string              `json:"iCalUID,omitempty"`
	Sequence                *int64              `json:"sequence,omitempty"`
	Attendees               []Attendee          `json:"attendees,omitempty"`
	AttendeesOmitted        bool                `json:"attendeesOmitted,omitempty"`
	ExtendedProperties      *ExtendedProperties `json:"extendedProperties,omitempty"`
	HangoutLink             string              `json:"hangoutLink,omitempty"`
	Reminders               *Reminders          `json:"reminders,omitempty"`
	EventType               string              `json:"eventType,omitempty"`
	GuestsCanInviteOthers   *bool               `json:"guestsCanInviteOthers,omitempty"`
	GuestsCanModify         *bool               `json:"guestsCanModify,omitempty"`
	GuestsCanSeeOtherGuests *bool               `json:"guestsCanSeeOtherGuests,omitempty"`
	AnyoneCanAddSelf        *bool               `json:"anyoneCanAddSelf,omitempty"`
	PrivateCopy             bool                `json:"privateCopy,omitempty"`
	Locked                  bool                `json:"locked,omitempty"`
	Source                  *Source             `json:"source,omitempty"`
	// Fields the emulator keeps but does not interpret (conferenceData, attachments,
	// gadget, *Properties ...). Only names the discovery document lists get here.
	Other map[string]json.RawMessage `json:"-"`
}

// eventOtherFields are Event fields stored and echoed verbatim.
var eventOtherFields = map[string]bool{
	"conferenceData": true, "attachments": true, "gadget": true, "birthdayProperties": true,
	"focusTimeProperties": true, "outOfOfficeProperties": true, "workingLocationProperties": true,
	"eventLabelId": true,
}

// MarshalJSON writes the modelled fields plus the verbatim ones.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	b, err := json.Marshal(plain(e))
	if err != nil || len(e.Other) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range e.Other {
		m[k] = v
	}
	return json.Marshal(m)
}

// Person is an organizer or creator.
type Person struct {
	ID          string `json:"id,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Self        bool   `json:"self,omitempty"`
}

// EventDateTime is a start, end or original start.
type EventDateTime struct {
	Date     string `json:"date,omitempty"`
	DateTime string `json:"dateTime,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
}

// Attendee is one entry of attendees[].
type Attendee struct {
	ID               string `json:"id,omitempty"`
	Email            string `json:"email,omitempty"`
	DisplayName      string `json:"displayName,omitempty"`
	Organizer        bool   `json:"organizer,omitempty"`
	Self             bool   `json:"self,omitempty"`
	Resource         bool   `json:"resource,omitempty"`
	Optional         bool   `json:"optional,omitempty"`
	ResponseStatus   string `json:"responseStatus,omitempty"`
	Comment          string `json:"comment,omitempty"`
	AdditionalGuests int64  `json:"additionalGuests,omitempty"`
}

// ExtendedProperties holds the private and shared string maps.
type ExtendedProperties struct {
	Private map[string]string `json:"private,omitempty"`
	Shared  map[string]string `json:"shared,omitempty"`
}

// Reminders is the reminders object.
type Reminders struct {
	UseDefault bool       `json:"useDefault"`
	Overrides  []Reminder `json:"overrides,omitempty"`
}

// Reminder is one override.
type Reminder struct {
	Method  string `json:"method"`
	Minutes int64  `json:"minutes"`
}

// Source is the source object.
type Source struct {
	Title string `json:"title,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Events is the calendar#events list answer.
type Events struct {
	Kind             string     `json:"kind"`
	Etag             string     `json:"etag"`
	Summary          string     `json:"summary"`
	Description      string     `json:"description,omitempty"`
	Updated          string     `json:"updated"`
	TimeZone         string     `json:"timeZone"`
	AccessRole       string     `json:"accessRole"`
	DefaultReminders []Reminder `json:"defaultReminders"`
	NextPageToken    string     `json:"nextPageToken,omitempty"`
	NextSyncToken    string     `json:"nextSyncToken,omitempty"`
	Items            []*Event   `json:"items"`
}

// Calendar is the calendar#calendar resource.
type Calendar struct {
	Kind        string `json:"kind"`
	Etag        string `json:"etag"`
	ID          string `json:"id"`
	Summary     string `json:"summary"`
	Description string `json:"description,omitempty"`
	TimeZone    string `json:"timeZone"`
}

// CalendarListEntry is a calendar#calendarListEntry.
type CalendarListEntry struct {
	Kind             string     `json:"kind"`
	Etag             string     `json:"etag"`
	ID               string     `json:"id"`
	Summary          string     `json:"summary"`
	TimeZone         string     `json:"timeZone"`
	AccessRole       string     `json:"accessRole"`
	Primary          bool       `json:"primary,omitempty"`
	Selected         bool       `json:"selected,omitempty"`
	DefaultReminders []Reminder `json:"defaultReminders"`
}

// CalendarList is the calendar#calendarList answer.
type CalendarList struct {
	Kind          string               `json:"kind"`
	Etag          string               `json:"etag"`
	NextPageToken string               `json:"nextPageToken,omitempty"`
	NextSyncToken string               `json:"nextSyncToken,omitempty"`
	Items         []*CalendarListEntry `json:"items"`
}

// Channel is the api#channel resource of events.watch and channels.stop.
type Channel struct {
	Kind        string            `json:"kind,omitempty"`
	ID          string            `json:"id,omitempty"`
	ResourceID  string            `json:"resourceId,omitempty"`
	ResourceURI string            `json:"resourceUri,omitempty"`
	Token       string            `json:"token,omitempty"`
	Expiration  string            `json:"expiration,omitempty"`
	Type        string            `json:"type,omitempty"`
	Address     string            `json:"address,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Payload     bool              `json:"payload,omitempty"`
}

// CalendarResource is the Admin SDK Directory resource calendar.
type CalendarResource struct {
	Kind                  string `json:"kind"`
	Etags                 string `json:"etags"`
	ResourceID            string `json:"resourceId"`
	ResourceName          string `json:"resourceName"`
	GeneratedResourceName string `json:"generatedResourceName,omitempty"`
	ResourceType          string `json:"resourceType,omitempty"`
	ResourceDescription   string `json:"resourceDescription,omitempty"`
	ResourceEmail         string `json:"resourceEmail"`
	Capacity              int64  `json:"capacity,omitempty"`
	BuildingID            string `json:"buildingId,omitempty"`
	ResourceCategory      string `json:"resourceCategory,omitempty"`
}

// CalendarResources is the Directory list answer.
type CalendarResources struct {
	Kind          string              `json:"kind"`
	Etag          string              `json:"etag"`
	Items         []*CalendarResource `json:"items,omitempty"`
	NextPageToken string              `json:"nextPageToken,omitempty"`
}

// DirectoryUser is the subset of the Directory user resource the emulator serves.
type DirectoryUser struct {
	Kind         string        `json:"kind"`
	ID           string        `json:"id"`
	Etag         string        `json:"etag"`
	PrimaryEmail string        `json:"primaryEmail"`
	Name         DirectoryName `json:"name"`
	IsAdmin      bool          `json:"isAdmin"`
	Suspended    bool          `json:"suspended"`
	CustomerID   string        `json:"customerId"`
}

// DirectoryName is a Directory user's name.
type DirectoryName struct {
	FullName   string `json:"fullName"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// apiError is Google's error envelope.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Errors  []apiErrorItem `json:"errors"`
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Status  string         `json:"status,omitempty"`
}

type apiErrorItem struct {
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Message      string `json:"message"`
	LocationType string `json:"locationType,omitempty"`
	Location     string `json:"location,omitempty"`
}

// Times on the wire.
const (
	rfc3339Milli = "2006-01-02T15:04:05.000Z07:00"
	dateLayout   = "2006-01-02"
)

func formatUpdated(t time.Time) string { return t.UTC().Format(rfc3339Milli) }

// statusText names the canonical status of an HTTP code for the error envelope.
func statusText(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ALREADY_EXISTS"
	case 410:
		return ""
	case 412:
		return "FAILED_PRECONDITION"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 500:
		return "INTERNAL"
	case 503:
		return "UNAVAILABLE"
	}
	return ""
}

// gerr is an API error the handlers return; render writes the envelope.
type gerr struct {
	code     int
	domain   string
	reason   string
	message  string
	locType  string
	location string
	header   map[string]string
}

func (e *gerr) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message) }

func errBadRequest(msg string) *gerr {
	return &gerr{code: 400, domain: "global", reason: "badRequest", message: msg}
}

func errInvalid(param, msg string) *gerr {
	return &gerr{code: 400, domain: "global", reason: "invalid", message: msg, locType: "parameter", location: param}
}

func errRequired(field string) *gerr {
	return &gerr{code: 400, domain: "global", reason: "required", message: "Required", locType: "parameter", location: field}
}

func errNotFound() *gerr {
	return &gerr{code: 404, domain: "global", reason: "notFound", message: "Not Found"}
}

func errDeleted() *gerr {
	return &gerr{code: 410, domain: "global", reason: "deleted", message: "Resource has been deleted"}
}

func errFullSync() *gerr {
	return &gerr{code: 410, domain: "calendar", reason: "fullSyncRequired",
		message: "Sync token is no longer valid, a full sync is required.", locType: "parameter", location: "syncToken"}
}

func errConditionNotMet() *gerr {
	return &gerr{code: 412, domain: "global", reason: "conditionNotMet", message: "Precondition Failed",
		locType: "header", location: "If-Match"}
}

func errDuplicate() *gerr {
	return &gerr{code: 409, domain: "global", reason: "duplicate", message: "The requested identifier already exists."}
}

func errAuth() *gerr {
	return &gerr{code: 401, domain: "global", reason: "authError", message: "Invalid Credentials",
		locType: "header", location: "Authorization"}
}

func errForbidden(msg string) *gerr {
	return &gerr{code: 403, domain: "global", reason: "forbidden", message: msg}
}
