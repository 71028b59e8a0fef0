package engine

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"synchronizer/plugins/sdk"
)

func TestPickResponse(t *testing.T) {
	const (
		none     = sdk.ResponseNone
		accepted = sdk.ResponseAccepted
		tent     = sdk.ResponseTentative
		declined = sdk.ResponseDeclined
	)
	for _, tc := range []struct {
		name       string
		rs, rc     sdk.Response
		chS, chC   bool
		wantSide   Side
		wantAnswer sdk.Response
	}{
		{"same answer", accepted, accepted, true, true, "", ""},
		{"answered in the calendar", none, accepted, false, true, SuperOffice, accepted},
		{"answered in superoffice", declined, accepted, true, false, Calendar, declined},
		{"reset to none is not carried", none, accepted, true, false, "", ""},
		{"reset in the calendar is not carried", accepted, none, false, true, "", ""},
		{"both changed: a decline wins", accepted, declined, true, true, SuperOffice, declined},
		{"both changed: decline in superoffice wins", declined, tent, true, true, Calendar, declined},
		{"both changed: the calendar's answer", accepted, tent, true, true, SuperOffice, tent},
		{"both changed: calendar says none", accepted, none, true, true, Calendar, accepted},
		{"nothing changed", accepted, declined, false, false, "", ""},
		{"organizer is no answer", sdk.ResponseOrganizer, accepted, true, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			side, answer := pickResponse(tc.rs, tc.rc, tc.chS, tc.chC)
			if side != tc.wantSide || answer != tc.wantAnswer {
				t.Fatalf("pickResponse(%s, %s, %v, %v) = %q %q, want %q %q", tc.rs, tc.rc, tc.chS, tc.chC, side, answer, tc.wantSide, tc.wantAnswer)
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	members := []Member{
		{Link: "p/alice", Kind: sdk.AccountUser, SuperOffice: sdk.Account{ID: "5", Email: "alice@crm.example"}, Calendar: sdk.Account{ID: "alice@cal.example", Email: "alice@cal.example"}},
		{Link: "p/room", Kind: sdk.AccountResource, SuperOffice: sdk.Account{ID: "9", Name: "Room 1"}, Calendar: sdk.Account{ID: "room1@cal.example"}},
	}
	r := &run{mt: &meetingRun{dir: newDirectory(members)}}
	soMeeting := sdk.Event{
		Organizer: sdk.Attendee{AccountID: "5", Email: "alice@crm.example", Response: sdk.ResponseOrganizer},
		Attendees: []sdk.Attendee{
			{AccountID: "9", Type: sdk.AttendeeResource, Response: sdk.ResponseAccepted},
			{AccountID: "7", Email: "carol@crm.example", Name: "Carol"},
			{AccountID: "8"}, // an associate without an address: nothing to name it by over there
		},
		IsOrganizer: true,
		Response:    sdk.ResponseOrganizer,
	}
	for _, tc := range []struct {
		name string
		ev   sdk.Event
		from Side
		role Role
		want sdk.Event
	}{
		{"superoffice to calendar", soMeeting, SuperOffice, RoleOrganizer, sdk.Event{
			Organizer: sdk.Attendee{AccountID: "alice@cal.example", Email: "alice@cal.example", Response: sdk.ResponseOrganizer},
			Attendees: []sdk.Attendee{
				{AccountID: "room1@cal.example", Email: "room1@cal.example", Name: "Room 1", Type: sdk.AttendeeResource, Response: sdk.ResponseNone},
				{Email: "carol@crm.example", Name: "Carol", Response: sdk.ResponseNone},
			},
			IsOrganizer: true, Response: sdk.ResponseOrganizer}},
		{"calendar to superoffice, a room that declined is not booked", sdk.Event{
			Organizer: sdk.Attendee{Email: "ALICE@cal.example"},
			Attendees: []sdk.Attendee{{Email: "room1@cal.example", Type: sdk.AttendeeResource, Response: sdk.ResponseDeclined},
				{Email: "guest@elsewhere.example", AccountID: "graph-id"}},
		}, Calendar, RoleOrganizer, sdk.Event{
			Organizer: sdk.Attendee{AccountID: "5", Email: "alice@crm.example"},
			Attendees: []sdk.Attendee{{Email: "guest@elsewhere.example", Response: sdk.ResponseNone}},
		}},
		{"a declined room stays on a participant's copy", sdk.Event{
			Attendees: []sdk.Attendee{{Email: "room1@cal.example", Type: sdk.AttendeeResource, Response: sdk.ResponseDeclined}},
		}, Calendar, RoleCopy, sdk.Event{
			Attendees: []sdk.Attendee{{AccountID: "9", Name: "Room 1", Type: sdk.AttendeeResource, Response: sdk.ResponseDeclined}},
		}},
		{"a private copy has no participants", soMeeting, SuperOffice, RolePrivate, sdk.Event{Attendees: nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.Attendees = append([]sdk.Attendee(nil), tc.ev.Attendees...)
			r.translate(&ev, tc.from, tc.role)
			if len(ev.Attendees) == 0 {
				ev.Attendees = nil
			}
			if diff := cmp.Diff(tc.want, ev); diff != "" {
				t.Fatalf("translate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDirectoryFind(t *testing.T) {
	d := newDirectory([]Member{{Link: "p/a", SuperOffice: sdk.Account{ID: "5", Email: "a@crm"}, Calendar: sdk.Account{ID: "id-a", Email: "A@Cal"}}})
	for _, tc := range []struct {
		side Side
		a    sdk.Attendee
		want bool
	}{
		{SuperOffice, sdk.Attendee{AccountID: "5"}, true},
		{SuperOffice, sdk.Attendee{Email: "A@CRM"}, true},
		{SuperOffice, sdk.Attendee{AccountID: "6", Email: "x@crm"}, false},
		{SuperOffice, sdk.Attendee{Email: "a@cal"}, false}, // a calendar address is not a SuperOffice one
		{Calendar, sdk.Attendee{Email: "a@cal"}, true},
		{Calendar, sdk.Attendee{AccountID: "id-a"}, true},
		{Calendar, sdk.Attendee{AccountID: "5"}, false},
		{Calendar, sdk.Attendee{}, false},
	} {
		if got := d.find(tc.side, tc.a) != nil; got != tc.want {
			t.Errorf("find(%s, %+v) = %v, want %v", tc.side, tc.a, got, tc.want)
		}
	}
}

// The directory of a profile's members is built once for the members the runs
// are handed, and again when they change.
func TestDirectoryCachedPerMembers(t *testing.T) {
	e, err := New(Config{Store: NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	members := []Member{
		{Link: "p/a", SuperOffice: sdk.Account{ID: "5", Email: "a@crm"}, Calendar: sdk.Account{ID: "id-a", Email: "a@cal"}},
		{Link: "p/b", SuperOffice: sdk.Account{ID: "6", Email: "b@crm"}, Calendar: sdk.Account{ID: "id-b", Email: "b@cal"}},
	}
	m := &Meetings{Profile: "p", Members: members}
	d := e.directory(m)
	if e.directory(m) != d || e.directory(&Meetings{Profile: "q", Members: members}) == d {
		t.Fatal("the same members' directory was built again, or another profile's reused")
	}
	if got := d.find(Calendar, sdk.Attendee{Email: "B@Cal"}); got == nil || got.Link != "p/b" {
		t.Fatalf("find b: %+v", got)
	}
	m.Members = members[:1] // the runs are handed other members
	d2 := e.directory(m)
	if d2 == d || d2.find(Calendar, sdk.Attendee{Email: "b@cal"}) != nil {
		t.Fatal("a member who left is still in the directory")
	}
	if err := e.DropMeetings(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if e.directory(m) == d2 {
		t.Fatal("a dropped profile's directory was kept")
	}
}
