package graphtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"synchronizer/plugins/m365/internal/wintz"
)

// parseGraphTime reads a dateTime as clients send it: with or without fractional
// seconds, with or without an offset. Without one it is wall-clock time in loc.
func parseGraphTime(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	var lastErr error
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		t, err := time.ParseInLocation(layout, s, loc)
		if err == nil {
			return t, nil
		}
		lastErr = err
	}
	return time.Time{}, lastErr
}

// storedZoneName is how Exchange keeps a zone: as a Windows name when there is one.
func storedZoneName(name string) string {
	if w, ok := wintz.CanonicalWindows(name); ok {
		return w
	}
	if w, ok := wintz.Windows(name); ok {
		return w
	}
	if strings.EqualFold(name, "UTC") {
		return "UTC"
	}
	return name
}

func badTimeZone(name string) *apiError {
	return errf(http.StatusBadRequest, "TimeZoneNotSupportedException", "A valid TimeZone value must be specified. The following TimeZone value is not supported: '%s'.", name)
}

// parsedDTZ is a start or end as sent.
type parsedDTZ struct {
	t      time.Time // the instant
	local  time.Time // wall clock in its zone (for the all-day check)
	zone   string    // stored zone name
	loc    *time.Location
	offset bool // the dateTime carried its own offset
}

func parseDTZ(zones *wintz.Zones, raw json.RawMessage, field string) (parsedDTZ, *apiError) {
	var j struct {
		DateTime *string `json:"dateTime"`
		TimeZone *string `json:"timeZone"`
	}
	if err := json.Unmarshal(raw, &j); err != nil || j.DateTime == nil {
		return parsedDTZ{}, errf(http.StatusBadRequest, "ErrorInvalidRequest", "The value of '%s' is not a valid dateTimeTimeZone.", field)
	}
	zone := "UTC"
	if j.TimeZone != nil && *j.TimeZone != "" {
		zone = *j.TimeZone
	}
	loc, _, ok := zones.Resolve(zone)
	if !ok {
		return parsedDTZ{}, badTimeZone(zone)
	}
	t, err := parseGraphTime(*j.DateTime, loc)
	if err != nil {
		return parsedDTZ{}, errf(http.StatusBadRequest, "ErrorInvalidRequest", "Cannot convert the literal '%s' to the expected type 'Edm.DateTime' of '%s'.", *j.DateTime, field)
	}
	return parsedDTZ{t: t, local: t.In(loc), zone: storedZoneName(zone), loc: loc}, nil
}

// writable lists the event properties a POST or PATCH may carry. Read-only ones are
// accepted and ignored (clients echo them back); anything else is a 400 like OData's.
var writableEventProps = map[string]bool{
	"subject": true, "body": true, "start": true, "end": true, "isAllDay": true, "location": true,
	"locations": true, "attendees": true, "showAs": true, "sensitivity": true, "importance": true,
	"categories": true, "isReminderOn": true, "reminderMinutesBeforeStart": true, "recurrence": true,
	"responseRequested": true, "allowNewTimeProposals": true, "isOnlineMeeting": true,
	"onlineMeetingProvider": true, "hideAttendees": true, "transactionId": true,
	"singleValueExtendedProperties": true, "multiValueExtendedProperties": true, "extensions": true,
	"organizer": true, "isDraft": true,
	"originalStartTimeZone": true, "originalEndTimeZone": true,
}

var readOnlyEventProps = map[string]bool{
	"id": true, "changeKey": true, "createdDateTime": true, "lastModifiedDateTime": true, "iCalUId": true,
	"type": true, "seriesMasterId": true, "webLink": true, "bodyPreview": true, "isOrganizer": true,
	"isCancelled": true, "responseStatus": true, "hasAttachments": true, "onlineMeetingUrl": true,
	"onlineMeeting": true, "originalStart": true, "occurrenceId": true, "uid": true, "calendar": true,
	"instances": true, "attachments": true, "cancelledOccurrences": true, "exceptionOccurrences": true,
}

// changeSet says which meeting-relevant properties a write changed.
type changeSet struct {
	time, subject, body, location, recurrence, attendees, other bool
	addedAttendees, removedAttendees                            []string
}

func (c changeSet) meetingUpdate() bool {
	return c.time || c.subject || c.body || c.location || c.recurrence
}

// applyEvent applies a POST/PATCH body to e. isCreate fills defaults; onException
// forbids series-level properties.
func (s *Server) applyEvent(e *event, body map[string]json.RawMessage, isCreate bool) (changeSet, *apiError) {
	var cs changeSet
	for k := range body {
		if strings.HasPrefix(k, "@odata.") || strings.Contains(k, "@odata.") {
			continue
		}
		if !writableEventProps[k] && !readOnlyEventProps[k] {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The property '%s' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type.", k)
		}
	}
	str := func(k string, dst *string) *apiError {
		raw, ok := body[k]
		if !ok {
			return nil
		}
		var v *string
		if err := json.Unmarshal(raw, &v); err != nil {
			return errf(http.StatusBadRequest, "RequestBodyRead", "Cannot convert the literal to the expected type 'Edm.String' of '%s'.", k)
		}
		if v == nil {
			*dst = ""
		} else {
			*dst = *v
		}
		return nil
	}
	boolean := func(k string, dst *bool) *apiError {
		raw, ok := body[k]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return errf(http.StatusBadRequest, "RequestBodyRead", "Cannot convert the literal to the expected type 'Edm.Boolean' of '%s'.", k)
		}
		return nil
	}
	enum := func(k string, dst *string, allowed ...string) *apiError {
		var v string
		if _, ok := body[k]; !ok {
			return nil
		}
		if err := str(k, &v); err != nil {
			return err
		}
		for _, a := range allowed {
			if strings.EqualFold(a, v) {
				*dst = a
				return nil
			}
		}
		return errf(http.StatusBadRequest, "RequestBodyRead", "The value '%s' is not valid for '%s'.", v, k)
	}

	oldSubject := e.subject
	if err := str("subject", &e.subject); err != nil {
		return cs, err
	}
	cs.subject = e.subject != oldSubject
	if raw, ok := body["body"]; ok {
		var b *struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'body' is not a valid itemBody.")
		}
		oldType, old := e.bodyType, e.body
		if b == nil {
			e.bodyType, e.body = "text", ""
		} else {
			switch strings.ToLower(b.ContentType) {
			case "html":
				e.bodyType = "html"
			case "text", "":
				e.bodyType = "text"
			default:
				return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value '%s' is not valid for 'contentType'.", b.ContentType)
			}
			e.body = b.Content
		}
		cs.body = oldType != e.bodyType || old != e.body
	}
	if raw, ok := body["location"]; ok {
		var l *struct {
			DisplayName string `json:"displayName"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'location' is not a valid location.")
		}
		old := e.location
		e.location = ""
		if l != nil {
			e.location = l.DisplayName
		}
		cs.location = old != e.location
	} else if raw, ok := body["locations"]; ok {
		var ls []struct {
			DisplayName string `json:"displayName"`
		}
		if err := json.Unmarshal(raw, &ls); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'locations' is not a valid collection of location.")
		}
		old := e.location
		var names []string
		for _, l := range ls {
			names = append(names, l.DisplayName)
		}
		e.location = strings.Join(names, "; ")
		cs.location = old != e.location
	}
	if err := enum("showAs", &e.showAs, "free", "tentative", "busy", "oof", "workingElsewhere", "unknown"); err != nil {
		return cs, err
	}
	if err := enum("sensitivity", &e.sensitivity, "normal", "personal", "private", "confidential"); err != nil {
		return cs, err
	}
	if err := enum("importance", &e.importance, "low", "normal", "high"); err != nil {
		return cs, err
	}
	if raw, ok := body["categories"]; ok {
		var c []string
		if err := json.Unmarshal(raw, &c); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'categories' is not a collection of strings.")
		}
		e.categories = c
	}
	if err := boolean("isReminderOn", &e.reminderOn); err != nil {
		return cs, err
	}
	if raw, ok := body["reminderMinutesBeforeStart"]; ok {
		if err := json.Unmarshal(raw, &e.reminderMin); err != nil || e.reminderMin < 0 {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'reminderMinutesBeforeStart' is not valid.")
		}
	}
	for k, dst := range map[string]*bool{"responseRequested": &e.responseRequested, "allowNewTimeProposals": &e.allowNewTimeProposals, "isOnlineMeeting": &e.isOnlineMeeting, "hideAttendees": &e.hideAttendees} {
		if err := boolean(k, dst); err != nil {
			return cs, err
		}
	}
	if isCreate {
		if err := str("transactionId", &e.transactionID); err != nil {
			return cs, err
		}
	}
	if err := boolean("isAllDay", &e.allDay); err != nil {
		return cs, err
	}

	// Times.
	oldStart, oldEnd := e.start, e.end
	var ps, pe *parsedDTZ
	if raw, ok := body["start"]; ok {
		p, err := parseDTZ(&s.zones, raw, "start")
		if err != nil {
			return cs, err
		}
		ps = &p
	}
	if raw, ok := body["end"]; ok {
		p, err := parseDTZ(&s.zones, raw, "end")
		if err != nil {
			return cs, err
		}
		pe = &p
	}
	if isCreate && (ps == nil || pe == nil) {
		return cs, errf(http.StatusBadRequest, "ErrorPropertyValidationFailure", "At least one property failed validation: an event needs both start and end.")
	}
	if e.allDay {
		for _, p := range []*parsedDTZ{ps, pe} {
			if p == nil {
				continue
			}
			l := p.local
			if l.Hour() != 0 || l.Minute() != 0 || l.Second() != 0 || l.Nanosecond() != 0 {
				return cs, errf(http.StatusBadRequest, "ErrorPropertyValidationFailure", "Your request can't be completed. If the event is an all-day event, the start and end times must be at midnight, and the end must be at least one day after the start.")
			}
		}
		if ps != nil {
			e.start = time.Date(ps.local.Year(), ps.local.Month(), ps.local.Day(), 0, 0, 0, 0, time.UTC)
			e.startTZ = ps.zone
		}
		if pe != nil {
			e.end = time.Date(pe.local.Year(), pe.local.Month(), pe.local.Day(), 0, 0, 0, 0, time.UTC)
			e.endTZ = pe.zone
		}
		if ps == nil && pe == nil && !isCreate && (e.start.UTC().Hour() != 0 || e.end.UTC().Hour() != 0) {
			return cs, errf(http.StatusBadRequest, "ErrorPropertyValidationFailure", "Your request can't be completed. If the event is an all-day event, the start and end times must be at midnight, and the end must be at least one day after the start.")
		}
		if e.end.Sub(e.start) < 24*time.Hour {
			return cs, errf(http.StatusBadRequest, "ErrorPropertyValidationFailure", "Your request can't be completed. If the event is an all-day event, the start and end times must be at midnight, and the end must be at least one day after the start.")
		}
	} else {
		if ps != nil {
			e.start, e.startTZ = ps.t, ps.zone
		}
		if pe != nil {
			e.end, e.endTZ = pe.t, pe.zone
		}
	}
	if e.end.Before(e.start) {
		return cs, errf(http.StatusBadRequest, "ErrorInvalidRequest", "The end time of the event must be after its start time.")
	}
	cs.time = !oldStart.Equal(e.start) || !oldEnd.Equal(e.end)

	if raw, ok := body["attendees"]; ok {
		var as []struct {
			Type         string `json:"type"`
			EmailAddress struct {
				Name    string `json:"name"`
				Address string `json:"address"`
			} `json:"emailAddress"`
			Status *struct {
				Response string `json:"response"`
			} `json:"status"`
		}
		if err := json.Unmarshal(raw, &as); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'attendees' is not a valid collection of attendee.")
		}
		if len(as) > 500 {
			return cs, errf(http.StatusBadRequest, "ErrorInvalidRequest", "An event can have at most 500 attendees.")
		}
		old := map[string]attendee{}
		for _, a := range e.attendees {
			old[strings.ToLower(a.address)] = a
		}
		var next []attendee
		seen := map[string]bool{}
		for _, a := range as {
			addr := strings.TrimSpace(a.EmailAddress.Address)
			if addr == "" || !strings.Contains(addr, "@") {
				return cs, errf(http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient is not valid: '%s'.", a.EmailAddress.Address)
			}
			typ := strings.ToLower(a.Type)
			if typ == "" {
				typ = "required"
			}
			if typ != "required" && typ != "optional" && typ != "resource" {
				return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value '%s' is not valid for 'type'.", a.Type)
			}
			k := strings.ToLower(addr)
			if seen[k] {
				continue
			}
			seen[k] = true
			na := attendee{typ: typ, name: a.EmailAddress.Name, address: addr, response: "none"}
			if prev, ok := old[k]; ok {
				na.response, na.time = prev.response, prev.time
			} else {
				cs.addedAttendees = append(cs.addedAttendees, addr)
			}
			next = append(next, na)
		}
		for k, a := range old {
			if !seen[k] {
				cs.removedAttendees = append(cs.removedAttendees, a.address)
			}
		}
		e.attendees = next
		cs.attendees = len(cs.addedAttendees) > 0 || len(cs.removedAttendees) > 0
	}

	if raw, ok := body["recurrence"]; ok {
		if e.typ == "exception" {
			return cs, errf(http.StatusBadRequest, "ErrorInvalidRequest", "An occurrence or exception of a series cannot have a recurrence.")
		}
		var j *jsonRecurrence
		if err := json.Unmarshal(raw, &j); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'recurrence' is not a valid patternedRecurrence.")
		}
		var r *recurrence
		if j != nil {
			var err *apiError
			if r, err = parseRecurrence(&s.zones, j, e.startTZ); err != nil {
				return cs, err
			}
		}
		cs.recurrence = !r.equal(e.rec)
		e.rec = r
		if r == nil {
			e.typ = "singleInstance"
		} else {
			e.typ = "seriesMaster"
		}
	}

	if raw, ok := body["singleValueExtendedProperties"]; ok {
		var ps []jsonProp
		if err := json.Unmarshal(raw, &ps); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'singleValueExtendedProperties' is not valid.")
		}
		for _, p := range ps {
			if err := validatePropID(p.ID); err != nil {
				return cs, err
			}
			cid := canonicalPropID(p.ID)
			i := slices.IndexFunc(e.props, func(x prop) bool { return canonicalPropID(x.id) == cid })
			if i >= 0 {
				e.props[i].value = p.Value
			} else {
				e.props = append(e.props, prop{id: p.ID, value: p.Value})
			}
		}
	}
	if raw, ok := body["extensions"]; ok && isCreate {
		var xs []map[string]any
		if err := json.Unmarshal(raw, &xs); err != nil {
			return cs, errf(http.StatusBadRequest, "RequestBodyRead", "The value of 'extensions' is not valid.")
		}
		for _, x := range xs {
			ext, err := parseExtension(x)
			if err != nil {
				return cs, err
			}
			e.exts = append(e.exts, ext)
		}
	}
	cs.other = true
	return cs, nil
}

// validatePropID checks "{type} {guid} Name {name}" / "{type} {guid} Id {0xNNNN}".
func validatePropID(id string) *apiError {
	f := strings.Fields(id)
	bad := errf(http.StatusBadRequest, "ErrorInvalidExtendedPropertyValue", "The extended property id '%s' is not valid.", id)
	if len(f) < 4 {
		return bad
	}
	switch strings.ToLower(f[0]) {
	case "string", "integer", "boolean", "systemtime", "binary", "guid", "double", "float", "long", "short", "currency", "apptime", "object", "clsid", "null", "error":
	default:
		return bad
	}
	g := f[1]
	if len(g) != 38 || g[0] != '{' || g[37] != '}' {
		return bad
	}
	if !strings.EqualFold(f[2], "Name") && !strings.EqualFold(f[2], "Id") {
		return bad
	}
	return nil
}

func parseExtension(x map[string]any) (extension, *apiError) {
	name, _ := x["extensionName"].(string)
	if name == "" {
		return extension{}, errf(http.StatusBadRequest, "ErrorInvalidRequest", "An open extension needs an extensionName.")
	}
	data := map[string]any{}
	for k, v := range x {
		if k == "extensionName" || k == "id" || strings.HasPrefix(k, "@odata.") {
			continue
		}
		data[k] = v
	}
	return extension{name: name, data: data}, nil
}
