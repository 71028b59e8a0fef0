package m365

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"

	"synchronizer/plugins/m365/internal/wintz"
	"synchronizer/plugins/sdk"
)

var (
	tagRe   = regexp.MustCompile(`(?s)<[^>]*>`)
	breakRe = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>`)
	headRe  = regexp.MustCompile(`(?is)<head>.*?</head>|<style.*?</style>`)
)

func htmlToText(h string) string {
	h = headRe.ReplaceAllString(h, "")
	h = breakRe.ReplaceAllString(h, "\n")
	h = tagRe.ReplaceAllString(h, "")
	h = html.UnescapeString(h)
	return strings.Trim(strings.ReplaceAll(h, "\r\n", "\n"), "\n")
}

func fromGraphShowAs(s string) sdk.ShowAs {
	switch s {
	case "free":
		return sdk.ShowFree
	case "tentative":
		return sdk.ShowTentative
	case "oof":
		return sdk.ShowOOF
	}
	return sdk.ShowBusy // busy, workingElsewhere, unknown
}

func toGraphShowAs(s sdk.ShowAs) string {
	switch s {
	case sdk.ShowFree:
		return "free"
	case sdk.ShowTentative:
		return "tentative"
	case sdk.ShowOOF:
		return "oof"
	}
	return "busy"
}

func fromGraphResponse(r string) sdk.Response {
	switch r {
	case "organizer":
		return sdk.ResponseOrganizer
	case "accepted":
		return sdk.ResponseAccepted
	case "tentativelyAccepted":
		return sdk.ResponseTentative
	case "declined":
		return sdk.ResponseDeclined
	}
	return sdk.ResponseNone
}

func fromGraphAttendeeType(t string) sdk.AttendeeType {
	switch t {
	case "optional":
		return sdk.AttendeeOptional
	case "resource":
		return sdk.AttendeeResource
	}
	return sdk.AttendeeRequired
}

func parseStamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// toEvent maps a full Graph item (single, master or exception) to the neutral model.
// masterCorrelation is the master's correlation id when g is an exception: an
// exception inherits the master's properties in Exchange, so it only has its own
// correlation id when it carries a different one. The master's Recurrence is filled
// by the caller (it needs the series' instances).
func toEvent(g *gEvent, masterCorrelation string) (sdk.Event, error) {
	ev := sdk.Event{
		ID:        g.ID,
		Version:   g.version(),
		ICalUID:   g.ICalUID,
		Cancelled: g.IsCancelled,
		Title:     g.Subject,
		ShowAs:    fromGraphShowAs(g.ShowAs),
		Privacy:   sdk.PrivacyPublic,
		AllDay:    g.IsAllDay,
		Created:   parseStamp(g.CreatedDateTime),
		Updated:   parseStamp(g.LastModifiedDateTime),
	}
	switch g.Type {
	case "singleInstance", "":
		ev.Kind = sdk.KindSingle
	case "seriesMaster":
		ev.Kind = sdk.KindMaster
	case "exception":
		ev.Kind = sdk.KindException
		ev.SeriesID = g.SeriesMasterID
	default:
		return sdk.Event{}, fmt.Errorf("item %s is a plain %s, not a single, master or exception", g.ID, g.Type)
	}
	if c, ok := g.prop(propCorrelation); ok && (ev.Kind != sdk.KindException || c != masterCorrelation) {
		ev.CorrelationID = c
	}
	meta := g.meta()
	if g.Sensitivity != "" && g.Sensitivity != "normal" {
		ev.Privacy = sdk.PrivacyPrivate
	}
	if g.IsReminderOn {
		ev.HasReminder, ev.ReminderMinutes = true, g.ReminderMinutes
	}
	if len(g.Categories) > 0 {
		ev.Category = g.Categories[0]
	}
	if g.Location != nil {
		ev.Location = g.Location.DisplayName
	}
	if g.Body != nil {
		if strings.EqualFold(g.Body.ContentType, "html") {
			ev.DescriptionHTML = g.Body.Content
			ev.Description = htmlToText(g.Body.Content)
		} else {
			ev.Description = strings.ReplaceAll(g.Body.Content, "\r\n", "\n")
		}
	}
	start, err := parseDTZ(g.Start)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("item %s: start: %w", g.ID, err)
	}
	end, err := parseDTZ(g.End)
	if err != nil {
		return sdk.Event{}, fmt.Errorf("item %s: end: %w", g.ID, err)
	}
	if g.IsAllDay {
		start, end = dateOf(start), dateOf(end)
	} else {
		ev.TimeZone = ianaZone(g.OriginalStartTimeZone)
		if meta != nil && meta.TZ != "" && sameZone(meta.TZ, g.OriginalStartTimeZone) {
			ev.TimeZone = meta.TZ // the zone as written, while Graph still has it
		}
	}
	ev.Start, ev.End = start.UTC(), end.UTC()
	if ev.Kind == sdk.KindException {
		os, err := time.Parse(time.RFC3339Nano, g.OriginalStart)
		if err != nil {
			return sdk.Event{}, fmt.Errorf("item %s: originalStart %q: %w", g.ID, g.OriginalStart, err)
		}
		ev.OriginalStart = os.UTC()
		if g.IsAllDay {
			ev.OriginalStart = dateOf(os)
		}
	}
	mapParticipants(&ev, g, meta)
	return ev, nil
}

// sameZone: the zone we wrote (IANA) is still the zone Graph keeps (by its Windows
// name, or spelled as written).
func sameZone(iana, graph string) bool {
	if strings.EqualFold(iana, graph) || isUTCZone(iana) && isUTCZone(graph) {
		return true
	}
	w, ok := wintz.Windows(iana)
	return ok && strings.EqualFold(w, graph)
}

// mapParticipants fills the meeting fields: from Graph's attendees for meetings Graph
// knows, else from what the provider wrote into SyncMeta.
func mapParticipants(ev *sdk.Event, g *gEvent, meta *syncMeta) {
	if len(g.Attendees) > 0 {
		if g.Organizer != nil {
			ev.Organizer = sdk.Attendee{Email: g.Organizer.EmailAddress.Address, Name: g.Organizer.EmailAddress.Name, Type: sdk.AttendeeRequired, Response: sdk.ResponseOrganizer}
		}
		for _, a := range g.Attendees {
			at := sdk.Attendee{Email: a.EmailAddress.Address, Name: a.EmailAddress.Name, Type: fromGraphAttendeeType(a.Type), Response: sdk.ResponseNone}
			if a.Status != nil {
				at.Response = fromGraphResponse(a.Status.Response)
			}
			ev.Attendees = append(ev.Attendees, at)
		}
		ev.IsOrganizer = g.IsOrganizer
		ev.MeetingKey = g.ICalUID
		ev.Response = sdk.ResponseOrganizer
		if !g.IsOrganizer {
			ev.Response = sdk.ResponseNone
			if g.ResponseStatus != nil {
				ev.Response = fromGraphResponse(g.ResponseStatus.Response)
			}
		}
		return
	}
	if meta == nil {
		ev.IsOrganizer = g.IsOrganizer
		return
	}
	if meta.Organizer != nil {
		ev.Organizer = meta.Organizer.attendee()
	}
	for _, a := range meta.Attendees {
		ev.Attendees = append(ev.Attendees, a.attendee())
	}
	ev.IsOrganizer = meta.IsOrganizer
	ev.Response = sdk.Response(meta.Response)
	ev.MeetingKey = meta.MeetingKey
}

func (m metaPerson) attendee() sdk.Attendee {
	return sdk.Attendee{Email: m.Email, Name: m.Name, Type: sdk.AttendeeType(m.Type), Response: sdk.Response(m.Response), AccountID: m.AccountID}
}

func person(a sdk.Attendee) metaPerson {
	return metaPerson{Email: a.Email, Name: a.Name, Type: string(a.Type), Response: string(a.Response), AccountID: a.AccountID}
}

// writeBody is the JSON the provider sends for ev (POST or PATCH). rrule is the
// RRULE line for masters ("" otherwise); rec its Graph form, nil to leave the
// item's recurrence alone.
func writeBody(z *wintz.Zones, ev sdk.Event, rec *gRecurrence, rrule string) (map[string]any, error) {
	if ev.End.Before(ev.Start) {
		return nil, fmt.Errorf("%w: the event ends (%s) before it starts (%s)", sdk.ErrInvalidArgument, ev.End, ev.Start)
	}
	b := map[string]any{
		"subject":     ev.Title,
		"showAs":      toGraphShowAs(ev.ShowAs),
		"sensitivity": "normal",
		"isAllDay":    ev.AllDay,
		"location":    map[string]any{"displayName": ev.Location},
		"categories":  []string{},
	}
	if ev.Privacy == sdk.PrivacyPrivate {
		b["sensitivity"] = "private"
	}
	if ev.DescriptionHTML != "" {
		b["body"] = map[string]string{"contentType": "html", "content": ev.DescriptionHTML}
	} else {
		b["body"] = map[string]string{"contentType": "text", "content": ev.Description}
	}
	b["isReminderOn"] = ev.HasReminder
	if ev.HasReminder {
		b["reminderMinutesBeforeStart"] = ev.ReminderMinutes
	}
	if ev.Category != "" {
		b["categories"] = []string{ev.Category}
	}
	tzName, loc := graphZone(z, ev.TimeZone)
	if ev.AllDay {
		s, e := ev.Start.UTC(), ev.End.UTC()
		for _, t := range []time.Time{s, e} {
			if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
				return nil, fmt.Errorf("%w: an all-day event must start and end at midnight UTC (got %s)", sdk.ErrInvalidArgument, t.Format(time.RFC3339))
			}
		}
		if !e.After(s) {
			return nil, fmt.Errorf("%w: an all-day event must last at least one day", sdk.ErrInvalidArgument)
		}
		b["start"] = map[string]string{"dateTime": s.Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
		b["end"] = map[string]string{"dateTime": e.Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
	} else {
		b["start"] = map[string]string{"dateTime": ev.Start.In(loc).Format("2006-01-02T15:04:05"), "timeZone": tzName}
		b["end"] = map[string]string{"dateTime": ev.End.In(loc).Format("2006-01-02T15:04:05"), "timeZone": tzName}
	}
	if rec != nil {
		b["recurrence"] = rec
	}
	meta := syncMeta{TZ: ev.TimeZone, RRule: rrule, IsOrganizer: ev.IsOrganizer, Response: string(ev.Response), MeetingKey: ev.MeetingKey}
	if ev.AllDay {
		meta.TZ = ""
	}
	if ev.Organizer.Email != "" || ev.Organizer.Name != "" {
		o := person(ev.Organizer)
		meta.Organizer = &o
	}
	for _, a := range ev.Attendees {
		meta.Attendees = append(meta.Attendees, person(a))
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode sync metadata: %w", err)
	}
	props := []gProp{{ID: propMeta, Value: string(mb)}}
	if ev.CorrelationID != "" {
		props = append(props, gProp{ID: propCorrelation, Value: ev.CorrelationID})
	}
	b["singleValueExtendedProperties"] = props
	return b, nil
}
