package m365

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"synchronizer/plugins/m365/internal/wintz"
)

// The extended properties the provider stamps on items it writes. One GUID namespace,
// always spelled the same way (Graph matches ids case-insensitively, but a lookup by
// $filter must name the property exactly as it was written).
const (
	propNamespace   = "{a7c3f1e2-5b4d-4c8a-9e61-2f0d8b3c7a95}"
	propCorrelation = "String " + propNamespace + " Name SyncCorrelationId"
	propMeta        = "String " + propNamespace + " Name SyncMeta"
)

// expandProps asks Graph to include both properties with an item.
const expandProps = "singleValueExtendedProperties($filter=id eq '" + propCorrelation + "' or id eq '" + propMeta + "')"

// gEvent is an event as Graph answers it (full item, occurrence stub or removal).
type gEvent struct {
	ODataType             string       `json:"@odata.type"`
	ETag                  string       `json:"@odata.etag"`
	Removed               *gRemoved    `json:"@removed"`
	ID                    string       `json:"id"`
	ChangeKey             string       `json:"changeKey"`
	ICalUID               string       `json:"iCalUId"`
	Type                  string       `json:"type"`
	SeriesMasterID        string       `json:"seriesMasterId"`
	OriginalStart         string       `json:"originalStart"`
	OriginalStartTimeZone string       `json:"originalStartTimeZone"`
	CreatedDateTime       string       `json:"createdDateTime"`
	LastModifiedDateTime  string       `json:"lastModifiedDateTime"`
	Subject               string       `json:"subject"`
	Body                  *gBody       `json:"body"`
	Start                 *gDTZ        `json:"start"`
	End                   *gDTZ        `json:"end"`
	IsAllDay              bool         `json:"isAllDay"`
	IsCancelled           bool         `json:"isCancelled"`
	IsOrganizer           bool         `json:"isOrganizer"`
	Location              *gLocation   `json:"location"`
	ShowAs                string       `json:"showAs"`
	Sensitivity           string       `json:"sensitivity"`
	IsReminderOn          bool         `json:"isReminderOn"`
	ReminderMinutes       int          `json:"reminderMinutesBeforeStart"`
	Categories            []string     `json:"categories"`
	Attendees             []gAttendee  `json:"attendees"`
	Organizer             *gRecipient  `json:"organizer"`
	ResponseStatus        *gStatus     `json:"responseStatus"`
	Recurrence            *gRecurrence `json:"recurrence"`
	Props                 []gProp      `json:"singleValueExtendedProperties"`
}

type gRemoved struct {
	Reason string `json:"reason"`
}

type gBody struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

type gDTZ struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type gLocation struct {
	DisplayName string `json:"displayName"`
}

type gEmail struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type gRecipient struct {
	EmailAddress gEmail `json:"emailAddress"`
}

type gStatus struct {
	Response string `json:"response"`
}

type gAttendee struct {
	Type         string   `json:"type"`
	Status       *gStatus `json:"status"`
	EmailAddress gEmail   `json:"emailAddress"`
}

type gProp struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

type gRecurrence struct {
	Pattern gPattern `json:"pattern"`
	Range   gRange   `json:"range"`
}

type gPattern struct {
	Type           string   `json:"type"`
	Interval       int      `json:"interval"`
	Month          int      `json:"month,omitempty"`
	DayOfMonth     int      `json:"dayOfMonth,omitempty"`
	DaysOfWeek     []string `json:"daysOfWeek,omitempty"`
	FirstDayOfWeek string   `json:"firstDayOfWeek,omitempty"`
	Index          string   `json:"index,omitempty"`
}

type gRange struct {
	Type                string `json:"type"`
	StartDate           string `json:"startDate"`
	EndDate             string `json:"endDate,omitempty"`
	RecurrenceTimeZone  string `json:"recurrenceTimeZone,omitempty"`
	NumberOfOccurrences int    `json:"numberOfOccurrences,omitempty"`
}

// gPage is a collection answer.
type gPage struct {
	Value     []json.RawMessage `json:"value"`
	NextLink  string            `json:"@odata.nextLink"`
	DeltaLink string            `json:"@odata.deltaLink"`
}

func (g *gEvent) prop(id string) (string, bool) {
	for _, p := range g.Props {
		if strings.EqualFold(p.ID, id) {
			return p.Value, true
		}
	}
	return "", false
}

// version is the item's changeKey (or its etag without the W/"..." wrapper).
func (g *gEvent) version() string {
	if g.ChangeKey != "" {
		return g.ChangeKey
	}
	return strings.Trim(strings.TrimPrefix(g.ETag, "W/"), `"`)
}

// parseDTZ reads a dateTimeTimeZone: wall-clock time in the named zone (Graph answers
// in UTC because we ask for it, but the zone is honoured whatever it is).
func parseDTZ(d *gDTZ) (time.Time, error) {
	if d == nil || d.DateTime == "" {
		return time.Time{}, fmt.Errorf("missing dateTime")
	}
	loc := time.UTC
	if d.TimeZone != "" {
		l, _, ok := wintz.Resolve(d.TimeZone)
		if !ok {
			return time.Time{}, fmt.Errorf("unknown time zone %q", d.TimeZone)
		}
		loc = l
	}
	for _, layout := range []string{time.RFC3339Nano} {
		if t, err := time.Parse(layout, d.DateTime); err == nil {
			return t, nil
		}
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", d.DateTime, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("dateTime %q: %w", d.DateTime, err)
	}
	return t, nil
}

// dateOf is the calendar date a floating all-day value names, as midnight UTC.
// Values from Graph are midnight in some zone; the nearest midnight UTC is the date.
func dateOf(t time.Time) time.Time {
	u := t.UTC().Add(12 * time.Hour)
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

func isUTCZone(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "utc", "etc/utc", "tzone://microsoft/utc", "coordinated universal time", "etc/gmt", "gmt", "z":
		return true
	}
	return false
}

// ianaZone turns a zone name from Graph into an IANA name ("" when unknown).
func ianaZone(name string) string {
	if name == "" {
		return ""
	}
	if isUTCZone(name) {
		return "UTC"
	}
	if z, ok := wintz.IANA(name); ok {
		return z
	}
	if _, z, ok := wintz.Resolve(name); ok {
		return z
	}
	return ""
}

// graphZone is the zone name the provider writes for an IANA zone: its Windows name
// when there is one (every Exchange version knows those), else the IANA name, else
// UTC. It returns the location as well.
func graphZone(z *wintz.Zones, iana string) (string, *time.Location) {
	if iana == "" || isUTCZone(iana) {
		return "UTC", time.UTC
	}
	loc, canonical, ok := z.Resolve(iana)
	if !ok {
		return "UTC", time.UTC
	}
	if w, ok := wintz.Windows(iana); ok {
		return w, loc
	}
	if w, ok := wintz.Windows(canonical); ok {
		return w, loc
	}
	return iana, loc
}

// syncMeta travels in the SyncMeta extended property of items the provider wrote.
// It keeps what Graph cannot hold exactly — the IANA zone, the written RRULE, and
// meeting participants, which are never written as Graph attendees because Exchange
// would mail them — so a read gives back what was written.
type syncMeta struct {
	TZ          string       `json:"tz,omitempty"`
	RRule       string       `json:"rrule,omitempty"`
	Organizer   *metaPerson  `json:"org,omitempty"`
	Attendees   []metaPerson `json:"att,omitempty"`
	IsOrganizer bool         `json:"isOrg,omitempty"`
	Response    string       `json:"resp,omitempty"`
	MeetingKey  string       `json:"key,omitempty"`
}

type metaPerson struct {
	Email     string `json:"e,omitempty"`
	Name      string `json:"n,omitempty"`
	Type      string `json:"t,omitempty"`
	Response  string `json:"r,omitempty"`
	AccountID string `json:"id,omitempty"`
}

func (g *gEvent) meta() *syncMeta {
	v, ok := g.prop(propMeta)
	if !ok || v == "" {
		return nil
	}
	var m syncMeta
	if json.Unmarshal([]byte(v), &m) != nil {
		return nil
	}
	return &m
}
