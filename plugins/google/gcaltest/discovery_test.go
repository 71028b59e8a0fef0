package gcaltest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	gcal "google.golang.org/api/calendar/v3"
)

// The emulator's surface is pinned to Google's discovery document
// (testdata/calendar-v3.json, the file Google's Go client is generated from): every
// query parameter a route accepts, every scope it takes, and every key of every
// Calendar resource it returns must exist there.

type discovery struct {
	Parameters map[string]json.RawMessage    `json:"parameters"`
	Schemas    map[string]*schema            `json:"schemas"`
	Resources  map[string]*discoveryResource `json:"resources"`
	Methods    map[string]*discoveryMethod   `json:"methods"`
	_          map[string]json.RawMessage
}

type discoveryResource struct {
	Methods   map[string]*discoveryMethod   `json:"methods"`
	Resources map[string]*discoveryResource `json:"resources"`
}

type discoveryMethod struct {
	HTTPMethod string                     `json:"httpMethod"`
	Path       string                     `json:"path"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Scopes     []string                   `json:"scopes"`
	Response   *schema                    `json:"response"`
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *schema            `json:"additionalProperties"`
}

func loadDiscovery(t *testing.T) *discovery {
	t.Helper()
	b, err := os.ReadFile("testdata/calendar-v3.json")
	if err != nil {
		t.Fatal(err)
	}
	var d discovery
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func (d *discovery) methods() []*discoveryMethod {
	var out []*discoveryMethod
	var walk func(r *discoveryResource)
	walk = func(r *discoveryResource) {
		for _, m := range r.Methods {
			out = append(out, m)
		}
		for _, sub := range r.Resources {
			walk(sub)
		}
	}
	for _, r := range d.Resources {
		walk(r)
	}
	return out
}

// method finds the discovery method of a route ("calendars/{calendarId}/events").
func (d *discovery) method(httpMethod, path string) *discoveryMethod {
	for _, m := range d.methods() {
		if m.HTTPMethod == httpMethod && m.Path == path {
			return m
		}
	}
	return nil
}

func TestRoutesMatchDiscovery(t *testing.T) {
	d := loadDiscovery(t)
	for k := range standardParams {
		if _, ok := d.Parameters[k]; !ok {
			t.Errorf("standard parameter %q is not in the discovery document", k)
		}
	}
	for _, rt := range routes {
		if rt.prefix != "/calendar/v3/" {
			continue // the Directory API has its own discovery document
		}
		m := d.method(rt.method, strings.Join(rt.pattern, "/"))
		if m == nil {
			t.Errorf("route %s has no method in the discovery document", rt.name)
			continue
		}
		for _, p := range rt.params {
			if _, ok := m.Parameters[p]; !ok {
				t.Errorf("route %s accepts %q, which the discovery document does not define", rt.name, p)
			}
		}
		for _, sc := range rt.scopes {
			if !slices.Contains(m.Scopes, sc) {
				t.Errorf("route %s takes scope %s, which the discovery document does not list", rt.name, sc)
			}
		}
		// Every query parameter the discovery document defines is accepted.
		for p, raw := range m.Parameters {
			var def struct {
				Location string `json:"location"`
			}
			_ = json.Unmarshal(raw, &def)
			if def.Location == "query" && !slices.Contains(rt.params, p) {
				t.Errorf("route %s refuses discovery parameter %q", rt.name, p)
			}
		}
	}
}

// checkShape walks a JSON value against a schema and reports unknown keys.
func (d *discovery) checkShape(v any, s *schema, path string, errs *[]string) {
	if s == nil {
		return
	}
	if s.Ref != "" {
		s = d.Schemas[s.Ref]
	}
	switch x := v.(type) {
	case map[string]any:
		if s.Properties == nil && s.AdditionalProperties != nil {
			for k, val := range x {
				d.checkShape(val, s.AdditionalProperties, path+"."+k, errs)
			}
			return
		}
		for k, val := range x {
			p, ok := s.Properties[k]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s.%s is not in the discovery document", path, k))
				continue
			}
			d.checkShape(val, p, path+"."+k, errs)
		}
	case []any:
		for i, val := range x {
			d.checkShape(val, s.Items, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

// TestResponsesMatchDiscovery drives the emulator through every kind of event and
// answer and checks each response body's keys against the schemas.
func TestResponsesMatchDiscovery(t *testing.T) {
	d := loadDiscovery(t)
	f := newFixture(t, Options{})
	if err := f.s.SeedEvents(UserEmail(1), 40, 3); err != nil {
		t.Fatal(err)
	}
	tok, err := f.s.TokenFor(UserEmail(1), scopePrefix+"calendar")
	if err != nil {
		t.Fatal(err)
	}
	svc := f.svc(tok)
	ev := timed("Meeting", "2024-05-07T09:00:00+02:00", "2024-05-07T10:00:00+02:00")
	ev.Attendees = []*gcal.EventAttendee{{Email: UserEmail(2)}, {Email: ResourceEmail(1), Resource: true}}
	ev.ExtendedProperties = &gcal.EventExtendedProperties{Private: map[string]string{"a": "b"}, Shared: map[string]string{"c": "d"}}
	ev.Reminders = &gcal.EventReminders{Overrides: []*gcal.EventReminder{{Method: "popup", Minutes: 5}}, ForceSendFields: []string{"UseDefault"}}
	ev.Recurrence = []string{"RRULE:FREQ=DAILY;COUNT=3"}
	ev, err = svc.Events.Insert(UserEmail(1), ev).Do()
	if err != nil {
		t.Fatal(err)
	}
	first := ev.Id + "_20240507T070000Z"
	if err := svc.Events.Delete(UserEmail(1), first).Do(); err != nil {
		t.Fatal(err)
	}
	list, err := svc.Events.List(UserEmail(1)).Do()
	if err != nil {
		t.Fatal(err)
	}
	cal := "/calendar/v3/calendars/" + url.PathEscape(UserEmail(1))
	checks := []struct {
		path   string
		schema string
	}{
		{cal + "/events", "Events"},
		{cal + "/events?showDeleted=true&maxResults=7", "Events"},
		{cal + "/events?singleEvents=true&orderBy=startTime&timeZone=UTC", "Events"},
		{cal + "/events?syncToken=" + url.QueryEscape(list.NextSyncToken), "Events"},
		{cal + "/events/" + ev.Id, "Event"},
		{cal + "/events/" + first, "Event"},
		{cal + "/events/" + ev.Id + "/instances?showDeleted=true", "Events"},
		{cal, "Calendar"},
		{"/calendar/v3/users/me/calendarList", "CalendarList"},
		{"/calendar/v3/users/me/calendarList/primary", "CalendarListEntry"},
		{cal + "/events?syncToken=expired", "Events"}, // an error envelope: checked for its status only
	}
	for _, c := range checks {
		code, _, m := f.raw(tok, "GET", c.path, nil, nil)
		if code != 200 {
			if c.path == cal+"/events?syncToken=expired" && code == 410 {
				continue
			}
			t.Fatalf("%s: %d %v", c.path, code, m)
		}
		var errs []string
		d.checkShape(map[string]any(m), &schema{Ref: c.schema}, c.path, &errs)
		for _, e := range errs {
			t.Error(e)
		}
	}
	code, _, m := f.raw(tok, "POST", cal+"/events/watch", map[string]any{"id": "ch1", "type": "web_hook",
		"address": "http://127.0.0.1:9/hook"}, nil)
	if code != 200 {
		t.Fatal(code, m)
	}
	var errs []string
	d.checkShape(map[string]any(m), &schema{Ref: "Channel"}, "watch", &errs)
	for _, e := range errs {
		t.Error(e)
	}
}
