package google

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/api/calendar/v3"

	"synchronizer/plugins/google/internal/recur"
	"synchronizer/plugins/sdk"
)

// CorrelationKey is the private extended property that carries the correlation id.
const CorrelationKey = "syncId"

// defaultReminder is the reminder an event with useDefault gets. [The calendar's own
// default is only visible with the calendar-list scope; Google's default is a popup
// 10 minutes before.]
const defaultReminder = 10

// parseEDT reads an EventDateTime: all-day dates become midnight UTC.
func parseEDT(d *calendar.EventDateTime, what string) (t time.Time, allDay bool, err error) {
	if d == nil {
		return time.Time{}, false, fmt.Errorf("no %s time", what)
	}
	if d.Date != "" {
		t, err := time.Parse("2006-01-02", d.Date)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("bad %s date %q", what, d.Date)
		}
		return t, true, nil
	}
	if d.DateTime == "" {
		return time.Time{}, false, fmt.Errorf("no %s time", what)
	}
	t, err = time.Parse(time.RFC3339Nano, d.DateTime)
	if err != nil {
		if d.TimeZone == "" {
			return time.Time{}, false, fmt.Errorf("bad %s time %q", what, d.DateTime)
		}
		loc, lerr := time.LoadLocation(d.TimeZone)
		if lerr != nil {
			return time.Time{}, false, fmt.Errorf("bad %s time zone %q", what, d.TimeZone)
		}
		t, err = time.ParseInLocation("2006-01-02T15:04:05", d.DateTime, loc)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("bad %s time %q", what, d.DateTime)
		}
	}
	return t.UTC(), false, nil
}

// zoneOf loads an IANA zone name, UTC when empty or unknown.
func zoneOf(z *zones, name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if l, err := z.load(name); err == nil && name != "Local" {
		return l
	}
	return time.UTC
}

// zones remembers loaded locations: loading one reads the zone database, and
// every write and every series read names its zone. A nil *zones loads every
// time.
type zones struct {
	mu sync.Mutex
	m  map[string]*time.Location // nil: no such zone
}

// maxZones bounds the memory: names come from the service and the host.
const maxZones = 1000

func (z *zones) load(name string) (*time.Location, error) {
	if z == nil {
		return time.LoadLocation(name)
	}
	z.mu.Lock()
	l, ok := z.m[name]
	z.mu.Unlock()
	if !ok {
		var err error
		if l, err = time.LoadLocation(name); err != nil {
			l = nil
		}
		z.mu.Lock()
		if z.m == nil || len(z.m) >= maxZones {
			z.m = map[string]*time.Location{}
		}
		z.m[name] = l
		z.mu.Unlock()
	}
	if l == nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return l, nil
}

// toEvent maps a Google event of calendar calID to the neutral model. exdates are
// extra EXDATE lines of a master (its cancelled occurrences).
func toEvent(z *zones, g *calendar.Event, calID string, exdates []string) (sdk.Event, error) {
	start, allDay, err := parseEDT(g.Start, "start")
	if err != nil {
		return sdk.Event{}, fmt.Errorf("event %s: %v: %w", g.Id, err, sdk.ErrInvalidArgument)
	}
	end, _, err := parseEDT(g.End, "end")
	if err != nil {
		return sdk.Event{}, fmt.Errorf("event %s: %v: %w", g.Id, err, sdk.ErrInvalidArgument)
	}
	ev := sdk.Event{ID: g.Id, Version: g.Etag, ICalUID: g.ICalUID, Title: g.Summary, Location: g.Location,
		Start: start, End: end, AllDay: allDay, Kind: sdk.KindSingle}
	if !allDay && g.Start != nil {
		ev.TimeZone = g.Start.TimeZone
	}
	if g.ExtendedProperties != nil {
		ev.CorrelationID = g.ExtendedProperties.Private[CorrelationKey]
	}
	switch {
	case len(g.Recurrence) > 0 && g.RecurringEventId == "":
		ev.Kind = sdk.KindMaster
		lines := append(slices.Clone(g.Recurrence), exdates...)
		norm, err := recur.Normalize(lines, zoneOf(z, ev.TimeZone), allDay)
		if err != nil {
			// Keep what Google holds rather than lose it; the host keeps unknown lines.
			norm = lines
		}
		ev.Recurrence = norm
	case g.RecurringEventId != "":
		ev.Kind = sdk.KindException
		ev.SeriesID = g.RecurringEventId
		if g.OriginalStartTime != nil {
			if o, _, err := parseEDT(g.OriginalStartTime, "original start"); err == nil {
				ev.OriginalStart = o
			}
		}
	}
	ev.Description, ev.DescriptionHTML = splitDescription(g.Description)
	ev.ShowAs = sdk.ShowBusy
	if g.Transparency == "transparent" {
		ev.ShowAs = sdk.ShowFree
	}
	if g.EventType == "outOfOffice" {
		ev.ShowAs = sdk.ShowOOF
	}
	ev.Privacy = sdk.PrivacyPublic
	if g.Visibility == "private" || g.Visibility == "confidential" {
		ev.Privacy = sdk.PrivacyPrivate
	}
	if r := g.Reminders; r == nil || r.UseDefault {
		ev.HasReminder, ev.ReminderMinutes = true, defaultReminder
	} else if len(r.Overrides) > 0 {
		m := r.Overrides[0].Minutes
		for _, o := range r.Overrides[1:] {
			m = max(m, o.Minutes)
		}
		ev.HasReminder, ev.ReminderMinutes = true, int(m)
	}
	ev.Created = parseStamp(g.Created)
	ev.Updated = parseStamp(g.Updated)
	mapMeeting(g, calID, &ev)
	return ev, nil
}

func parseStamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// mapMeeting fills organizer, attendees and the owner's answer.
func mapMeeting(g *calendar.Event, calID string, ev *sdk.Event) {
	owner := strings.ToLower(calID)
	orgEmail := ""
	if g.Organizer != nil {
		orgEmail = strings.ToLower(g.Organizer.Email)
	}
	if len(g.Attendees) == 0 {
		// Not a meeting: Google names the owner organizer of every event, but the
		// contract's organizer fields describe meetings only.
		return
	}
	ev.IsOrganizer = g.Organizer == nil || g.Organizer.Self || orgEmail == owner
	ev.MeetingKey = g.Id
	if g.Organizer != nil {
		ev.Organizer = sdk.Attendee{Email: orgEmail, Name: g.Organizer.DisplayName, Response: sdk.ResponseOrganizer,
			Type: sdk.AttendeeRequired, AccountID: accountID(orgEmail, owner, false)}
	}
	for _, a := range g.Attendees {
		email := strings.ToLower(a.Email)
		at := sdk.Attendee{Email: email, Name: a.DisplayName, Type: sdk.AttendeeRequired, Response: response(a.ResponseStatus),
			AccountID: accountID(email, owner, a.Resource)}
		if a.Optional {
			at.Type = sdk.AttendeeOptional
		}
		if a.Resource {
			at.Type = sdk.AttendeeResource
		}
		if a.Organizer || email == orgEmail {
			at.Response = sdk.ResponseOrganizer
		}
		if a.Self || email == owner {
			ev.Response = at.Response
			if a.ResponseStatus == "tentative" && ev.ShowAs == sdk.ShowBusy {
				ev.ShowAs = sdk.ShowTentative
			}
		}
		ev.Attendees = append(ev.Attendees, at)
	}
	if ev.IsOrganizer {
		ev.Response = sdk.ResponseOrganizer
	}
}

// accountID is the attendee's id in the calendar system when it is one of the
// Workspace's own accounts: resources, and addresses in the owner's domain (or a
// sub-domain of it, such as resource calendars). Google's id of an account is its
// address.
func accountID(email, owner string, resource bool) string {
	if resource {
		return email
	}
	_, od, _ := strings.Cut(owner, "@")
	_, ed, _ := strings.Cut(email, "@")
	if od == "" || ed == "" {
		return ""
	}
	od = strings.TrimPrefix(od, "resource.")
	if ed == od || strings.HasSuffix(ed, "."+od) {
		return email
	}
	return ""
}

func response(s string) sdk.Response {
	switch s {
	case "accepted":
		return sdk.ResponseAccepted
	case "tentative":
		return sdk.ResponseTentative
	case "declined":
		return sdk.ResponseDeclined
	}
	return sdk.ResponseNone
}

func responseStatus(r sdk.Response) string {
	switch r {
	case sdk.ResponseAccepted, sdk.ResponseOrganizer:
		return "accepted"
	case sdk.ResponseTentative:
		return "tentative"
	case sdk.ResponseDeclined:
		return "declined"
	}
	return "needsAction"
}

var htmlTag = regexp.MustCompile(`(?i)<(br|p|div|span|b|i|u|a|ul|ol|li|strong|em|h[1-6]|table|tr|td|img|font)\b[^>]*>|</[a-z0-9]+>`)

// splitDescription tells an HTML description (Google keeps what the web UI writes,
// which is HTML) from plain text, and gives both forms.
func splitDescription(d string) (plain, htmlText string) {
	if !htmlTag.MatchString(d) {
		return d, ""
	}
	s := regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>|</li>|</h[1-6]>|</tr>`).ReplaceAllString(d, "\n")
	s = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\u00a0")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n"), d
}

// fromEvent maps the synced fields of ev to a Google body. update marks a patch,
// where empty values must be sent to clear what was there.
func fromEvent(z *zones, ev sdk.Event, update bool) (*calendar.Event, error) {
	return fromEventIn(z, ev, update, "")
}

// ownMeeting reports whether ev, written into calendar calID, is a meeting its
// owner organizes: only then are attendees written (Google then puts the meeting
// into their calendars, without mail). A copy of someone else's meeting is
// written without attendees, so nobody is invited by it.
func ownMeeting(ev sdk.Event, calID string) bool {
	if ev.IsOrganizer {
		return true
	}
	org := strings.TrimSpace(ev.Organizer.Email)
	return org == "" || calID != "" && strings.EqualFold(org, calID)
}

// fromEventIn is fromEvent for calendar calID.
func fromEventIn(z *zones, ev sdk.Event, update bool, calID string) (*calendar.Event, error) {
	g := &calendar.Event{Summary: ev.Title, Location: ev.Location}
	g.Description = ev.Description
	if ev.DescriptionHTML != "" {
		g.Description = ev.DescriptionHTML
	}
	if update {
		g.ForceSendFields = append(g.ForceSendFields, "Summary", "Location", "Description")
	}
	if ev.End.Before(ev.Start) {
		return nil, fmt.Errorf("event ends (%s) before it starts (%s): %w", ev.End, ev.Start, sdk.ErrInvalidArgument)
	}
	if ev.AllDay {
		s := ev.Start.UTC().Format("2006-01-02")
		e := ev.End.UTC().Format("2006-01-02")
		if e <= s {
			e = ev.Start.UTC().AddDate(0, 0, 1).Format("2006-01-02")
		}
		g.Start = &calendar.EventDateTime{Date: s, NullFields: []string{"DateTime", "TimeZone"}}
		g.End = &calendar.EventDateTime{Date: e, NullFields: []string{"DateTime", "TimeZone"}}
	} else {
		tz := ev.TimeZone
		if tz == "" || zoneOf(z, tz) == time.UTC && tz != "UTC" && tz != "Etc/UTC" {
			tz = "UTC"
		}
		loc := zoneOf(z, tz)
		g.Start = &calendar.EventDateTime{DateTime: ev.Start.In(loc).Format(time.RFC3339), TimeZone: tz, NullFields: []string{"Date"}}
		g.End = &calendar.EventDateTime{DateTime: ev.End.In(loc).Format(time.RFC3339), TimeZone: tz, NullFields: []string{"Date"}}
	}
	if ev.Kind == sdk.KindMaster {
		if len(ev.Recurrence) == 0 {
			return nil, fmt.Errorf("series without recurrence lines: %w", sdk.ErrInvalidArgument)
		}
		if _, err := recur.Parse(ev.Recurrence, ev.Start, zoneOf(z, ev.TimeZone), ev.AllDay); err != nil {
			return nil, fmt.Errorf("recurrence %q: %v: %w", ev.Recurrence, err, sdk.ErrInvalidArgument)
		}
		g.Recurrence = slices.Clone(ev.Recurrence)
	}
	g.Transparency = "opaque"
	if ev.ShowAs == sdk.ShowFree {
		g.Transparency = "transparent"
	}
	g.Visibility = "default"
	if ev.Privacy == sdk.PrivacyPrivate {
		g.Visibility = "private"
	}
	g.Reminders = &calendar.EventReminders{ForceSendFields: []string{"UseDefault"}}
	if ev.HasReminder {
		minutes := min(max(ev.ReminderMinutes, 0), 40320)
		g.Reminders.Overrides = []*calendar.EventReminder{{Method: "popup", Minutes: int64(minutes), ForceSendFields: []string{"Minutes"}}}
	}
	if ev.CorrelationID != "" {
		g.ExtendedProperties = &calendar.EventExtendedProperties{Private: map[string]string{CorrelationKey: ev.CorrelationID}}
	}
	if len(ev.Attendees) > 0 && (!update && ownMeeting(ev, calID) || ev.IsOrganizer) {
		for _, a := range ev.Attendees {
			if a.Email == "" || a.Response == sdk.ResponseOrganizer && strings.EqualFold(a.Email, ev.Organizer.Email) {
				continue
			}
			// Update keeps the answers Google already holds (see Update).
			ga := &calendar.EventAttendee{Email: a.Email, DisplayName: a.Name, ResponseStatus: responseStatus(a.Response)}
			switch a.Type {
			case sdk.AttendeeOptional:
				ga.Optional = true
			case sdk.AttendeeResource:
				ga.Resource = true
			}
			g.Attendees = append(g.Attendees, ga)
		}
	}
	return g, nil
}

// idFor derives the event id of a create from its correlation id: base32hex, so a
// retried insert collides with its own first attempt (409) instead of duplicating.
func idFor(instance, calendarID, correlation string) string {
	h := sha256.Sum256([]byte(instance + "\x00" + strings.ToLower(calendarID) + "\x00" + correlation))
	return strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:20]))
}

// instanceID names the occurrence of series at its original start, the shape
// Google gives instance ids.
func instanceID(series string, orig time.Time, allDay bool) string {
	if allDay {
		return series + "_" + orig.UTC().Format("20060102")
	}
	return series + "_" + orig.UTC().Format("20060102T150405Z")
}
