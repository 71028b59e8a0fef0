package gcaltest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// An event's answer is what json.Marshal writes for it, other members and
// characters HTML escapes included.
func TestEventAnswerIsWhatMarshalWrites(t *testing.T) {
	events := []*Event{
		{ID: "a1", Summary: "plain", Start: &EventDateTime{DateTime: "2025-03-20T09:00:00+01:00", TimeZone: "Europe/Oslo"}},
		{ID: "a2", Summary: "<b>&amp;</b> \u2028 \"quoted\"", Description: "line\nbreak"},
		{ID: "a3", Summary: "other", Other: map[string]json.RawMessage{"conferenceData": json.RawMessage(`{"a": [1, 2],  "b":"<x>"}`)}},
	}
	for _, e := range events {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got := jsonResponse(200, e)
		if !bytes.Equal(got.body, want) {
			t.Errorf("%s:\n got %s\nwant %s", e.ID, got.body, want)
		}
	}
}

// An event read from its body at once is the event read through the member
// map: nulls, verbatim members, nested values.
func TestEventFromBodyAsFromMap(t *testing.T) {
	bodies := []string{
		`{"summary":"Lunch","start":{"dateTime":"2025-03-20T12:00:00+01:00","timeZone":"Europe/Oslo"},"end":{"date":"2025-03-21"}}`,
		`{"summary":null,"description":"x","attendees":[{"email":"a@b.test","responseStatus":"accepted"}],"reminders":{"useDefault":false,"overrides":[{"method":"popup","minutes":10}]}}`,
		`{"id":"abc123","conferenceData":{"a":[1,2]},"attachments":null,"extendedProperties":{"private":{"k":"v"}},"recurrence":["RRULE:FREQ=DAILY"]}`,
		`{"guestsCanModify":true,"transparency":"transparent","visibility":null,"start":null}`,
		`{}`,
		`{"summary":5}`,
	}
	for _, b := range bodies {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatal(err)
		}
		want, wantErr := eventFromMap(m)
		got, gotErr := eventFromBody([]byte(b), m)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("%s: error %v, from the map %v", b, gotErr, wantErr)
		}
		if wantErr != nil {
			continue
		}
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		if !bytes.Equal(wb, gb) {
			t.Errorf("%s:\n got %s\nwant %s", b, gb, wb)
		}
	}
}
