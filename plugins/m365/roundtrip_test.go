package m365

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"synchronizer/plugins/m365/graphtest"
	"synchronizer/plugins/sdk"
)

// synced compares what a write should read back as (ids, versions and stamps aside).
var synced = cmpopts.IgnoreFields(sdk.Event{}, "ID", "Version", "ICalUID", "Created", "Updated", "SeriesID", "Extras")

// graphDo sends a raw Graph request as the admin (an out-of-band change by a user).
func (e *env) graphDo(method, path string, body any, headers ...string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.ts.URL+"/v1.0"+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.srv.AdminToken())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", `IdType="ImmutableId"`)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSingleRoundTrip(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	day := t0.AddDate(0, 0, 3).Truncate(24 * time.Hour)
	tests := []sdk.Event{
		{Title: "Timed in an IANA alias zone", Description: "line 1\nline 2", Location: "Room 1", Start: t0.Add(26 * time.Hour), End: t0.Add(27 * time.Hour), TimeZone: "Europe/Oslo", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic, HasReminder: true, ReminderMinutes: 10, Category: "Customer"},
		{Title: "All day, two days", Start: day, End: day.AddDate(0, 0, 2), AllDay: true, ShowAs: sdk.ShowFree, Privacy: sdk.PrivacyPublic},
		{Title: "Private", Start: t0.Add(48 * time.Hour), End: t0.Add(49 * time.Hour), TimeZone: "America/New_York", ShowAs: sdk.ShowTentative, Privacy: sdk.PrivacyPrivate},
		{Title: "UTC and out of office", Start: t0.Add(50 * time.Hour), End: t0.Add(52 * time.Hour), TimeZone: "UTC", ShowAs: sdk.ShowOOF, Privacy: sdk.PrivacyPublic},
		{Title: "Zero length", Start: t0.Add(53 * time.Hour), End: t0.Add(53 * time.Hour), TimeZone: "Asia/Kolkata", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic},
		{Title: "Meeting carried, not sent", Start: t0.Add(54 * time.Hour), End: t0.Add(55 * time.Hour), TimeZone: "Europe/Berlin", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPublic,
			Organizer:   sdk.Attendee{Email: "boss@example.com", Name: "Boss", Type: sdk.AttendeeRequired, Response: sdk.ResponseOrganizer},
			Attendees:   []sdk.Attendee{{Email: "user2@m365.test", Name: "User 2", Type: sdk.AttendeeRequired, Response: sdk.ResponseAccepted}, {Email: "room1@m365.test", Type: sdk.AttendeeResource, Response: sdk.ResponseNone, AccountID: "42"}},
			IsOrganizer: false, MeetingKey: "so-mother-17", Response: sdk.ResponseAccepted},
	}
	var made []sdk.Event
	for i, want := range tests {
		want.Kind = sdk.KindSingle
		want.CorrelationID = fmt.Sprintf("corr-%d", i)
		got, err := e.p.Create(e.ctx, tg, want)
		if err != nil {
			t.Fatalf("%s: %v", want.Title, err)
		}
		if diff := cmp.Diff(want, got, synced, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Create answer (-want +got):\n%s", want.Title, diff)
		}
		read, err := e.p.Get(e.ctx, tg, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, read, synced, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Get (-want +got):\n%s", want.Title, diff)
		}
		if read.Version != got.Version {
			t.Errorf("%s: version %q after create, %q on read", want.Title, got.Version, read.Version)
		}
		made = append(made, read)
	}
	// The full read of the window gives the same items, correlation ids included.
	evs, _, full, _ := e.round(tg, "", e.window(), 0)
	if !full {
		t.Error("first round not marked Full")
	}
	listed := byID(evs)
	for _, want := range made {
		if diff := cmp.Diff(want, listed[want.ID], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: ListChanges (-Get +listed):\n%s", want.Title, diff)
		}
	}
	if n := e.srv.Stats().MailsSent; n != 0 {
		t.Errorf("writes made Exchange send %d mails", n)
	}
	// Graph itself keeps the zone by its Windows name.
	_, raw := e.graphDo("GET", "/users/user1@m365.test/events/"+made[0].ID, nil)
	if raw["originalStartTimeZone"] != "W. Europe Standard Time" {
		t.Errorf("originalStartTimeZone = %v", raw["originalStartTimeZone"])
	}
	if atts, _ := raw["attendees"].([]any); len(atts) != 0 {
		t.Errorf("Graph attendees were written: %v", atts)
	}
}

// Items made in Outlook (not by us) map from Graph's own fields: Windows zone names,
// HTML bodies, real attendees.
func TestForeignItems(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tg := e.target("user1@m365.test")
	st, out := e.graphDo("POST", "/users/user1@m365.test/calendar/events", map[string]any{
		"subject":     "From Outlook",
		"body":        map[string]string{"contentType": "html", "content": "<p>Hello <b>there</b></p><p>Second &amp; last</p>"},
		"start":       map[string]string{"dateTime": "2026-03-20T09:00:00", "timeZone": "Pacific Standard Time"},
		"end":         map[string]string{"dateTime": "2026-03-20T09:30:00", "timeZone": "Pacific Standard Time"},
		"attendees":   []any{map[string]any{"type": "required", "emailAddress": map[string]string{"address": "user2@m365.test", "name": "User 2"}}, map[string]any{"type": "resource", "emailAddress": map[string]string{"address": "room1@m365.test"}}},
		"sensitivity": "confidential",
		"showAs":      "workingElsewhere",
	})
	if st != 201 {
		t.Fatalf("create: %d %v", st, out)
	}
	ev, err := e.p.Get(e.ctx, tg, out["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Event{
		Kind: sdk.KindSingle, Title: "From Outlook", Description: "Hello there\nSecond & last",
		Start: time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 20, 16, 30, 0, 0, time.UTC),
		TimeZone: "America/Los_Angeles", ShowAs: sdk.ShowBusy, Privacy: sdk.PrivacyPrivate, HasReminder: true, ReminderMinutes: 15,
		Organizer:   sdk.Attendee{Email: "user1@m365.test", Name: "User 1", Type: sdk.AttendeeRequired, Response: sdk.ResponseOrganizer},
		Attendees:   []sdk.Attendee{{Email: "user2@m365.test", Name: "User 2", Type: sdk.AttendeeRequired, Response: sdk.ResponseNone}, {Email: "room1@m365.test", Type: sdk.AttendeeResource, Response: sdk.ResponseAccepted}},
		IsOrganizer: true, Response: sdk.ResponseOrganizer,
	}
	if diff := cmp.Diff(want, ev, synced, cmpopts.IgnoreFields(sdk.Event{}, "MeetingKey"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if ev.MeetingKey == "" || ev.MeetingKey != ev.ICalUID {
		t.Errorf("MeetingKey %q, want the iCalUId %q", ev.MeetingKey, ev.ICalUID)
	}
	// The attendee's copy has the same meeting key and knows it is not the organizer.
	copies, _, _, _ := e.round(e.target("user2@m365.test"), "", e.window(), 0)
	if len(copies) != 1 || copies[0].MeetingKey != ev.MeetingKey || copies[0].IsOrganizer || copies[0].Response != sdk.ResponseNone {
		t.Fatalf("attendee copy: %+v", copies)
	}
}
