package graphtest

import (
	"testing"
	"time"
)

func meeting(subject string, attendees ...string) map[string]any {
	ev := timedEvent(subject, time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC), time.Hour, "UTC")
	var as []any
	for _, a := range attendees {
		typ := "required"
		if a[:4] == "room" {
			typ = "resource"
		}
		as = append(as, map[string]any{"type": typ, "emailAddress": map[string]string{"address": a}})
	}
	ev["attendees"] = as
	return ev
}

func TestMeetingCopiesAndMails(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{RoomSubjectRewrite: true})
	a := newAPI(t, ts, s.AdminToken())
	org := a.must(201, "POST", "/v1.0/users/user1@m365.test/events", meeting("Planning", "user2@m365.test", "room1@m365.test", "guest@example.com"))
	oid := str(org.body, "id")
	if st := s.Stats(); st.Mails["invitation"] != 3 || st.Mails["response"] != 1 {
		t.Fatalf("mails %v", st.Mails)
	}
	org = a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+oid, nil)
	for _, at := range org.body["attendees"].([]any) {
		m := at.(map[string]any)
		if str(m, "emailAddress", "address") == "room1@m365.test" && str(m, "status", "response") != "accepted" {
			t.Errorf("room status %v", m["status"])
		}
	}
	copyOf := func(user string) map[string]any {
		vs := values(a.must(200, "GET", "/v1.0/users/"+user+"/events", nil))
		if len(vs) != 1 {
			t.Fatalf("%s has %d items", user, len(vs))
		}
		return vs[0]
	}
	u2 := copyOf("user2@m365.test")
	if str(u2, "iCalUId") != str(org.body, "iCalUId") || str(u2, "id") == oid || u2["isOrganizer"] != false || str(u2, "responseStatus", "response") != "notResponded" || str(u2, "organizer", "emailAddress", "address") != "user1@m365.test" {
		t.Fatalf("user copy %v", u2)
	}
	room := copyOf("room1@m365.test")
	if str(room, "subject") != "User 1" || str(room, "responseStatus", "response") != "accepted" {
		t.Fatalf("room copy subject %q response %v", str(room, "subject"), room["responseStatus"])
	}
	// A change of time updates every attendee; a category does not.
	a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+oid, map[string]any{"categories": []string{"Red"}})
	if n := s.Stats().Mails["update"]; n != 0 {
		t.Fatalf("a category change mailed %d updates", n)
	}
	a.must(200, "PATCH", "/v1.0/users/user1@m365.test/events/"+oid, map[string]any{"subject": "Planning (moved)"})
	if n := s.Stats().Mails["update"]; n != 3 {
		t.Fatalf("updates %d", n)
	}
	if str(copyOf("user2@m365.test"), "subject") != "Planning (moved)" {
		t.Error("copy not updated")
	}
	// The attendee answers without telling the organizer.
	a.must(202, "POST", "/v1.0/users/user2@m365.test/events/"+str(u2, "id")+"/accept", map[string]any{"sendResponse": false})
	if n := s.Stats().Mails["response"]; n != 1 {
		t.Fatalf("responses %d", n)
	}
	if str(copyOf("user2@m365.test"), "responseStatus", "response") != "accepted" {
		t.Error("the answer was not recorded")
	}
	// The organizer cannot answer; the attendee cannot cancel.
	a.must(400, "POST", "/v1.0/users/user1@m365.test/events/"+oid+"/accept", map[string]any{})
	a.must(400, "POST", "/v1.0/users/user2@m365.test/events/"+str(u2, "id")+"/cancel", map[string]any{})
	// Deleting the organizer's item cancels the meeting for everyone.
	a.must(204, "DELETE", "/v1.0/users/user1@m365.test/events/"+oid, nil)
	if n := s.Stats().Mails["cancellation"]; n != 3 {
		t.Fatalf("cancellations %d", n)
	}
	c := copyOf("user2@m365.test")
	if c["isCancelled"] != true || str(c, "subject") != "Canceled: Planning (moved)" {
		t.Fatalf("cancelled copy %v", c)
	}
	if vs := values(a.must(200, "GET", "/v1.0/users/room1@m365.test/events", nil)); len(vs) != 0 {
		t.Fatal("the room kept a cancelled meeting")
	}
}

func TestRoomsDecline(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{RoomsDecline: true})
	a := newAPI(t, ts, s.AdminToken())
	org := a.must(201, "POST", "/v1.0/users/user1@m365.test/events", meeting("Booked", "room2@m365.test"))
	org = a.must(200, "GET", "/v1.0/users/user1@m365.test/events/"+str(org.body, "id"), nil)
	at := org.body["attendees"].([]any)[0].(map[string]any)
	if str(at, "status", "response") != "declined" {
		t.Fatalf("room answer %v", at["status"])
	}
	if vs := values(a.must(200, "GET", "/v1.0/users/room2@m365.test/events", nil)); len(vs) != 0 {
		t.Fatal("a declining room holds the meeting")
	}
}

func TestAccessRules(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	if _, err := s.AddUser(User{UserPrincipalName: "hybrid", NoMailbox: true}); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, ts, s.AdminToken())
	ans := a.do("GET", "/v1.0/users/hybrid@m365.test/calendar", nil)
	if ans.status != 404 || errCode(ans) != "MailboxNotEnabledForRESTAPI" {
		t.Fatalf("no mailbox: %d %s", ans.status, ans.raw)
	}
	a.must(200, "GET", "/v1.0/users/hybrid@m365.test", nil)
	rooms := a.must(200, "GET", "/v1.0/places/microsoft.graph.room?$top=1", nil)
	if len(values(rooms)) != 1 || rooms.body["@odata.nextLink"] == nil || str(values(rooms)[0], "emailAddress") != "room1@m365.test" {
		t.Fatalf("rooms %s", rooms.raw)
	}
	lists := values(a.must(200, "GET", "/v1.0/places/microsoft.graph.roomlist", nil))
	if len(lists) != 1 {
		t.Fatalf("room lists %v", lists)
	}
	inList := values(a.must(200, "GET", "/v1.0/places/"+str(lists[0], "emailAddress")+"/microsoft.graph.roomlist/rooms", nil))
	if len(inList) != 2 {
		t.Fatalf("rooms of the list: %v", inList)
	}
}

func TestRoomsDeclineConflicts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		on     bool
		offset time.Duration
		want   string
	}{
		{"overlap declined", true, 30 * time.Minute, "declined"},
		{"adjacent accepted", true, time.Hour, "accepted"},
		{"switch off: double booked", false, 30 * time.Minute, "accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ts, _ := newTestServer(t, Options{RoomsDeclineConflicts: tc.on})
			a := newAPI(t, ts, s.AdminToken())
			a.must(201, "POST", "/v1.0/users/user1@m365.test/events", meeting("First", "room1@m365.test"))
			second := meeting("Second", "room1@m365.test")
			second["start"] = map[string]string{"dateTime": time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC).Add(tc.offset).Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
			second["end"] = map[string]string{"dateTime": time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC).Add(tc.offset).Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
			org := a.must(201, "POST", "/v1.0/users/user2@m365.test/events", second)
			org = a.must(200, "GET", "/v1.0/users/user2@m365.test/events/"+str(org.body, "id"), nil)
			got := ""
			for _, at := range org.body["attendees"].([]any) {
				m := at.(map[string]any)
				if str(m, "emailAddress", "address") == "room1@m365.test" {
					got = str(m, "status", "response")
				}
			}
			if got != tc.want {
				t.Fatalf("room answered %q, want %q", got, tc.want)
			}
			rooms := values(a.must(200, "GET", "/v1.0/users/room1@m365.test/events", nil))
			want := 2
			if tc.want == "declined" {
				want = 1
			}
			if len(rooms) != want {
				t.Fatalf("room holds %d items, want %d", len(rooms), want)
			}
		})
	}
}
