package superoffice_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/sotest"
)

// A meeting is one row per participant: the organizer's diary holds the mother,
// each colleague and resource a child row.
func TestBookingSeenFromOrganizerAndParticipants(t *testing.T) {
	e := newEnv(t)
	start := e.clk.Now().Add(72 * time.Hour).Truncate(time.Hour)
	in := sdk.Event{Title: "Design review", Start: start, End: start.Add(time.Hour), CorrelationID: "m-1",
		Attendees: []sdk.Attendee{
			{Email: "user2@so.test", Type: sdk.AttendeeRequired},
			{AccountID: strconv.Itoa(e.room1), Type: sdk.AttendeeResource},
			{Email: "guest@example.com", Name: "Guest", Type: sdk.AttendeeOptional},
		}}
	created, err := e.p.Create(e.ctx(), e.target(e.user1), in)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.so.MailsSent(); n != 0 {
		t.Fatalf("creating a meeting sent %d mails", n)
	}
	if !created.IsOrganizer || created.MeetingKey != created.ID || created.Response != sdk.ResponseOrganizer {
		t.Errorf("organizer's copy: organizer=%v key=%q id=%s response=%s", created.IsOrganizer, created.MeetingKey, created.ID, created.Response)
	}
	byAccount := map[string]sdk.Attendee{}
	for _, a := range created.Attendees {
		byAccount[a.AccountID+"|"+a.Email] = a
	}
	if len(created.Attendees) != 3 {
		t.Fatalf("attendees = %+v", created.Attendees)
	}
	if a := byAccount[strconv.Itoa(e.user2)+"|user2@so.test"]; a.Type != sdk.AttendeeRequired || a.Response != sdk.ResponseNone {
		t.Errorf("user2 attendee = %+v", a)
	}
	if a := byAccount[strconv.Itoa(e.room1)+"|"]; a.Type != sdk.AttendeeResource || a.Response != sdk.ResponseAccepted {
		t.Errorf("room attendee = %+v (all %+v)", a, created.Attendees)
	}
	if created.Organizer.AccountID != strconv.Itoa(e.user1) || created.Organizer.Email != "user1@so.test" {
		t.Errorf("organizer = %+v", created.Organizer)
	}

	// The organizer's diary lists one item for the meeting (the guest's row in it
	// is not a second appointment).
	org, _, _, _ := e.listAll(e.target(e.user1), "", 0)
	if len(org) != 1 {
		t.Fatalf("organizer's diary lists %d items: %v", len(org), org)
	}
	part, _, pcur, _ := e.listAll(e.target(e.user2), "", 0)
	if len(part) != 1 {
		t.Fatalf("participant's diary lists %d items", len(part))
	}
	for _, ev := range part {
		if ev.IsOrganizer || ev.MeetingKey != created.ID || ev.Response != sdk.ResponseNone || ev.ShowAs != sdk.ShowTentative {
			t.Errorf("participant's copy = organizer %v key %q response %s showAs %s", ev.IsOrganizer, ev.MeetingKey, ev.Response, ev.ShowAs)
		}
		if ev.Title != "Design review" || !ev.Start.Equal(start) {
			t.Errorf("participant's copy = %+v", ev)
		}
	}
	room, _, _, _ := e.listAll(e.target(e.room1), "", 0)
	if len(room) != 1 {
		t.Fatalf("room's diary lists %d items", len(room))
	}
	for _, ev := range room {
		if ev.Response != sdk.ResponseAccepted || ev.MeetingKey != created.ID {
			t.Errorf("room's copy = %+v", ev)
		}
	}

	// The organizer moves the meeting: the participant's row follows.
	e.clk.Add(time.Second)
	moved := created
	moved.Start, moved.End = start.Add(time.Hour), start.Add(2*time.Hour)
	if _, err := e.p.Update(e.ctx(), e.target(e.user1), moved); err != nil {
		t.Fatal(err)
	}
	part2, _, _, _ := e.listAll(e.target(e.user2), pcur, 0)
	if len(part2) != 1 {
		t.Fatalf("participant's round after the move: %v", part2)
	}
	for _, ev := range part2 {
		if !ev.Start.Equal(moved.Start) {
			t.Errorf("participant's copy starts %s, want %s", ev.Start, moved.Start)
		}
	}

	// Deleting the mother cancels the participant's copy.
	e.clk.Add(time.Second)
	if err := e.p.Delete(e.ctx(), e.target(e.user1), created.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, ev := range part2 {
		got, err := e.p.Get(e.ctx(), e.target(e.user2), ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Cancelled {
			t.Errorf("participant's copy after the organizer deleted it: %+v", got)
		}
	}
	if n := e.so.MailsSent(); n != 0 {
		t.Errorf("meeting writes sent %d mails", n)
	}
}

func TestMeetingWithGuestsATenantRefuses(t *testing.T) {
	e := newEnv(t, func(o *sotest.Options, _ map[string]string) { o.RejectAddressOnlyParticipants = true })
	start := e.clk.Now().Add(24 * time.Hour).Truncate(time.Hour)
	ev, err := e.p.Create(e.ctx(), e.target(e.user1), sdk.Event{Title: "With a guest", Start: start, End: start.Add(time.Hour),
		Attendees: []sdk.Attendee{{Email: "guest@example.com"}, {Email: "user2@so.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Attendees) != 1 || ev.Attendees[0].AccountID != strconv.Itoa(e.user2) {
		t.Errorf("attendees = %+v", ev.Attendees)
	}
}

// On a participant's row only the answer is written (Accept and Reject, which
// notify nobody); the meeting's content is its organizer's.
func TestParticipantAnswers(t *testing.T) {
	e := newEnv(t)
	start := e.clk.Now().Add(48 * time.Hour).Truncate(time.Hour)
	created, err := e.p.Create(e.ctx(), e.target(e.user1), sdk.Event{Title: "Review", Start: start, End: start.Add(time.Hour),
		Attendees: []sdk.Attendee{{AccountID: strconv.Itoa(e.user2)}}})
	if err != nil {
		t.Fatal(err)
	}
	part, _, _, _ := e.listAll(e.target(e.user2), "", 0)
	if len(part) != 1 {
		t.Fatalf("participant's diary: %v", part)
	}
	var cp sdk.Event
	for _, ev := range part {
		cp = ev
	}
	for _, tc := range []struct{ want, got sdk.Response }{
		{sdk.ResponseDeclined, sdk.ResponseDeclined},
		{sdk.ResponseNone, sdk.ResponseDeclined},
		{sdk.ResponseAccepted, sdk.ResponseAccepted},
		{sdk.ResponseTentative, sdk.ResponseAccepted}, // SuperOffice has no tentative answer
	} {
		e.clk.Add(time.Second)
		edit := cp
		edit.Title, edit.Start, edit.End = "hijacked", start.Add(time.Hour), start.Add(2*time.Hour)
		edit.Response = tc.want
		out, err := e.p.Update(e.ctx(), e.target(e.user2), edit)
		if err != nil {
			t.Fatalf("answer %s: %v", tc.want, err)
		}
		if out.Response != tc.got || out.Title != "Review" || !out.Start.Equal(start) {
			t.Fatalf("answer %s: row %q at %s answered %s, want %s", tc.want, out.Title, out.Start, out.Response, tc.got)
		}
		cp = out
	}
	org, err := e.p.Get(e.ctx(), e.target(e.user1), created.ID)
	if err != nil || org.Title != "Review" || !org.Start.Equal(start) {
		t.Fatalf("organizer's row changed: %v %+v", err, org)
	}
	if n := e.so.MailsSent(); n != 0 {
		t.Errorf("answers sent %d mails", n)
	}
}

// A participant's rows of a series: occurrences the organizer deleted are
// cancelled occurrences of the participant's series, and the organizer's mark on
// the shared rule is not the participant's.
func TestParticipantSeries(t *testing.T) {
	e := newEnv(t)
	start := time.Date(2025, 4, 7, 9, 0, 0, 0, time.UTC) // Mondays clear of daylight saving changes
	master, err := e.p.Create(e.ctx(), e.target(e.user1), sdk.Event{Kind: sdk.KindMaster, Title: "Weekly", Start: start, End: start.Add(time.Hour),
		TimeZone: "UTC", Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4"}, CorrelationID: "series-1",
		Attendees: []sdk.Attendee{{AccountID: strconv.Itoa(e.user2)}}})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Second)
	third := start.Add(14 * 24 * time.Hour)
	master.Recurrence = append(master.Recurrence, "EXDATE:"+third.UTC().Format("20060102T150405Z"))
	if _, err := e.p.Update(e.ctx(), e.target(e.user1), master); err != nil {
		t.Fatal(err)
	}
	part, _, _, _ := e.listAll(e.target(e.user2), "", 0)
	var pm sdk.Event
	for _, ev := range part {
		if ev.Kind == sdk.KindException {
			t.Errorf("participant's series lists exception %s (cancelled %v) at %s", ev.ID, ev.Cancelled, ev.Start)
		}
		if ev.Kind == sdk.KindMaster {
			pm = ev
		}
	}
	if pm.ID == "" || pm.IsOrganizer || pm.CorrelationID != "" {
		t.Fatalf("participant's series: %+v", pm)
	}
	exdate := false
	for _, l := range pm.Recurrence {
		if strings.HasPrefix(l, "EXDATE") && strings.Contains(l, third.UTC().Format("20060102T150405Z")) {
			exdate = true
		}
	}
	if !exdate {
		t.Errorf("participant's series %v lacks the cancelled occurrence", pm.Recurrence)
	}
	found, err := e.p.FindByCorrelation(e.ctx(), e.target(e.user2), "series-1")
	if err != nil || len(found) != 0 {
		t.Errorf("the organizer's mark found in the participant's diary: %v %+v", err, found)
	}
	found, err = e.p.FindByCorrelation(e.ctx(), e.target(e.user1), "series-1")
	if err != nil || len(found) != 1 {
		t.Errorf("the organizer's series by its mark: %v %d", err, len(found))
	}
}
