package graphtest

import (
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	s, ts, _ := newTestServer(t, Options{})
	a := newAPI(t, ts, s.AdminToken())
	created := a.must(201, "POST", "/v1.0/users/user1@m365.test/calendar/events", timedEvent("Hello", testStart.Add(24*time.Hour), time.Hour, "UTC"))
	id := str(created.body, "id")
	got := a.must(200, "GET", "/v1.0/users/user1%40m365.test/events/"+id, nil)
	if str(got.body, "subject") != "Hello" {
		t.Fatalf("got %s", got.raw)
	}
	d := a.must(200, "GET", "/v1.0/users/user1@m365.test/calendarView/delta()?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-05-01T00:00:00Z", nil)
	t.Logf("%s", d.raw)
	if err := s.SeedEvents("user2@m365.test", 50, 1); err != nil {
		t.Fatal(err)
	}
	v := a.must(200, "GET", "/v1.0/users/user2@m365.test/calendarView?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-05-01T00:00:00Z&$top=5", nil)
	t.Logf("%s", v.raw[:min(len(v.raw), 3000)])
}
