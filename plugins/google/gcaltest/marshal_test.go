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
